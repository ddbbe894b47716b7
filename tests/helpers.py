"""Helpers shared by the tests: simulated runs, a mocked fit, where the shared data lie.

Imported as ``from tests.helpers import ...`` (``tests`` is a package, so plain ``pytest``
and ``python -m pytest`` both find it).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pymc.testing import mock_sample

from bayescale.core.errors import ConvergenceWarning

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


#: The real data of published studies used by tests that may not ship them
#: (``../shared/data`` beside the repository, or ``$BAYESCALE_SHARED_DATA``). Tests that
#: need it carry the ``shared_data`` marker and are skipped, with a reason, when it is absent.
SHARED_DATA = Path(
    os.environ.get(
        "BAYESCALE_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
)


def fit_mocked(data, **kwargs):
    """``bayescale.fit`` with prior draws instead of MCMC (:func:`prior_sampler`).

    Defaults: ``draws=100, chains=2``, no progress bar, no second run; convergence
    warnings (meaningless for prior draws) are silenced.
    """
    import bayescale

    options = {"draws": 100, "chains": 2, "progressbar": False, "extend_if_slow": False}
    options.update(kwargs)
    options.setdefault("sampler", prior_sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # prior draws come from the prior predictive; run effects draw it in NumPy
        warnings.filterwarnings("ignore", message="Numba will use object mode")
        return bayescale.fit(data, **options)


def prior_sampler(
    model: Any,
    *,
    key: Any = None,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float,
    progressbar: bool,
    **options: Any,
) -> xr.DataTree:
    """A :class:`bayescale.core.sampling.Sampler` that returns prior draws shaped as a
    posterior (PyMC's :func:`pymc.testing.mock_sample`): for tests of the API, not of MCMC."""
    return mock_sample(model=model, draws=draws, chains=chains, random_seed=seed)
