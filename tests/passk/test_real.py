"""The pass@k model on real repeated-sampling counts (Brown et al. 2024, Pythia on MATH).

Reads ``../shared/data/monkeys_pythia_math`` (not shipped: no licence stated) and skips
when it is absent. The model sees 100 attempts per problem (a hypergeometric subsample of
the 10,000); the truth is the unbiased coverage from all 10,000. The full study, with
more seeds and every size held out, is ``benchmarks/passk_forecast.py`` (docs/passk.md).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from bayescale import passk
from tests.helpers import SHARED_DATA

DATA = SHARED_DATA / "monkeys_pythia_math"
CSV = DATA / "pythia_math_per_problem_counts.csv"

pytestmark = [
    pytest.mark.nuts,
    pytest.mark.skipif(not CSV.exists(), reason=f"real pass@k counts not found at {CSV}"),
]


@pytest.fixture(scope="module")
def counts() -> pd.DataFrame:
    return pd.read_csv(CSV)


@pytest.fixture(scope="module")
def small(counts: pd.DataFrame) -> pd.DataFrame:
    out = counts.copy()
    out["n_correct"] = passk.subsample_counts(counts["n_samples"], counts["n_correct"], 100, seed=0)
    out["n_samples"] = 100
    return out


def _real(counts: pd.DataFrame, ks: np.ndarray) -> pd.DataFrame:
    rows = []
    for m, g in counts.groupby("model", sort=False):
        kk, cov = passk.coverage_curve(g["n_samples"], g["n_correct"], ks)
        rows += [
            {"model": m, "k": float(a), "real": float(c)} for a, c in zip(kk, cov, strict=True)
        ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def fit_small(small: pd.DataFrame) -> passk.PassKFit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return passk.fit(small, progressbar=False, seed=0)


def test_fit_of_7_models_x_128_problems_converges(fit_small: passk.PassKFit) -> None:
    diag = fit_small.diagnostics
    assert diag is not None and diag.ok, str(diag)
    assert fit_small.models[0] == "Pythia 70M" and len(fit_small.models) == 7


def test_coverage_at_10x_and_100x_the_attempts(
    fit_small: passk.PassKFit, counts: pd.DataFrame
) -> None:
    ks = np.array([1000.0, 10000.0])
    table = fit_small.coverage(ks, ci_prob=0.9).merge(_real(counts, ks), on=["model", "k"])
    err = (table["median"] - table["real"]).abs()
    covered = (table["lower"] <= table["real"]) & (table["real"] <= table["upper"])
    at_1e3 = table["k"] == 1000.0
    assert err[at_1e3].mean() < 0.07
    assert err[~at_1e3].mean() < 0.09
    # Two sizes sit on the edge of their 1e3 interval: 160M (real 0.410, upper 0.400-0.408
    # over sampler seeds 0-4) and 1B (0.546 against 0.540-0.547), so which of them
    # counts as covered changes with the machine's floating point; 5 or 6 of 7 (11 or 12
    # of 14 in all) on the machines seen so far.
    assert covered[at_1e3].sum() >= 5  # of 7
    assert covered.sum() >= 10  # of 14


def test_brown_exponent_from_100_attempts(fit_small: passk.PassKFit, counts: pd.DataFrame) -> None:
    """Brown et al.'s exponent b (slope of log(-log coverage) on log k, k = 10 ... 10^4),
    empirical from all 10,000 attempts against its posterior from 100 attempts."""
    ks = np.unique(np.round(np.logspace(1, 4, 13)))

    def slope(cov: np.ndarray) -> np.ndarray:
        y = np.log(-np.log(cov))
        x = np.log(ks) - np.log(ks).mean()
        return -(y - y.mean(axis=-1, keepdims=True)) @ x / (x @ x)

    real = _real(counts, ks)
    draws = fit_small.coverage_draws(ks, max_draws=1000).values  # chain, draw, model, k
    implied = slope(draws)
    inside = 0
    for i, m in enumerate(fit_small.models):
        b_emp = float(slope(real.loc[real["model"] == m, "real"].to_numpy()))
        lo, hi = np.quantile(implied[..., i], [0.05, 0.95])
        inside += lo <= b_emp <= hi
        assert abs(np.median(implied[..., i]) - b_emp) < 0.08
    assert inside >= 5


def test_held_out_largest_size(small: pd.DataFrame, counts: pd.DataFrame) -> None:
    """Fit 70M ... 6.9B, forecast Pythia 12B (1.7x beyond the largest fitted size)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = passk.fit(small[small["model"] != "Pythia 12B"], progressbar=False, seed=1)
    assert fit.diagnostics is not None and fit.diagnostics.ok
    size = float(counts.loc[counts["model"] == "Pythia 12B", "params"].iloc[0])
    ks = np.array([10.0, 100.0, 1000.0, 10000.0])
    table = fit.coverage(
        ks, params={"Pythia 12B": size}, problems="population", n_problems=128, ci_prob=0.9
    ).merge(_real(counts, ks), on=["model", "k"])
    assert ((table["lower"] <= table["real"]) & (table["real"] <= table["upper"])).all()
    assert (table["median"] - table["real"]).abs().max() < 0.1
