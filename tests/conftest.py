"""Shared fixtures: simulated training runs from known parameters, and mocked sampling."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from pymc.testing import mock_sample, mock_sample_setup_and_teardown

from bayescale.errors import ConvergenceWarning

#: Known chinchilla parameters per family (conventional scale), used to simulate data.
TRUE = {
    "E": {"fam_a": 1.7, "fam_b": 1.9, "fam_c": 1.8},
    "A": {"fam_a": 400.0, "fam_b": 500.0, "fam_c": 450.0},
    "alpha": {"fam_a": 0.34, "fam_b": 0.32, "fam_c": 0.36},
    "B": {"fam_a": 410.0, "fam_b": 380.0, "fam_c": 450.0},
    "beta": {"fam_a": 0.28, "fam_b": 0.29, "fam_c": 0.27},
}
SIGMA = 0.01  # run-to-run (seed) noise, relative
CONFIG_SIGMA = 0.005  # misfit shared by the repeated runs of one configuration


def chinchilla_loss(family: str, params: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    t = {k: v[family] for k, v in TRUE.items()}
    return t["E"] + t["A"] * params ** -t["alpha"] + t["B"] * tokens ** -t["beta"]


def simulate_runs(
    *,
    families: tuple[str, ...] = ("fam_a", "fam_b", "fam_c"),
    sizes: tuple[float, ...] = (2e7, 5e7, 1e8, 2e8, 4e8),
    ratios: tuple[float, ...] = (5.0, 20.0, 80.0),
    seeds: int = 1,
    rng_seed: int = 1,
) -> pd.DataFrame:
    """Training runs from :data:`TRUE` with log-normal noise.

    With ``seeds > 1`` every configuration is run ``seeds`` times: the runs share a
    configuration offset (scale :data:`CONFIG_SIGMA`) and differ by seed noise
    (:data:`SIGMA`).
    """
    rng = np.random.default_rng(rng_seed)
    rows = []
    for fam in families:
        for n in sizes:
            for m in ratios:
                d = n * m
                true = chinchilla_loss(fam, np.array(n), np.array(d))
                shared = rng.normal(0, CONFIG_SIGMA) if seeds > 1 else 0.0
                for s in range(seeds):
                    value = true * np.exp(shared + rng.normal(0, SIGMA))
                    rows.append(
                        {
                            "family": fam,
                            "seed": s if seeds > 1 else None,
                            "params": n,
                            "tokens": d,
                            "metric": "loss",
                            "value": float(value),
                        }
                    )
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def runs() -> pd.DataFrame:
    return simulate_runs()


def fit_mocked(data, **kwargs):
    """``bayescale.fit`` with ``pm.sample`` replaced by prior draws (for module fixtures).

    Defaults: ``draws=100, chains=2``, no progress bar, no second run; convergence
    warnings (meaningless for prior draws) are silenced.
    """
    import bayescale

    options = {"draws": 100, "chains": 2, "progressbar": False, "extend_if_slow": False}
    options.update(kwargs)
    original = pm.sample
    pm.sample = mock_sample
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            # mock_sample draws the prior predictive; run effects draw it in NumPy
            warnings.filterwarnings("ignore", message="Numba will use object mode")
            return bayescale.fit(data, **options)
    finally:
        pm.sample = original


@pytest.fixture
def mock_pymc_sample():
    """Replace ``pm.sample`` by prior draws (PyMC's own test helper)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield from mock_sample_setup_and_teardown()
