"""The oracle of ``benchmarks/passk_oracle.py`` against closed forms."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from passk_oracle import oracle_coverage


def _counts() -> pd.DataFrame:
    rows = [
        {"model": m, "problem": j, "n_samples": 20, "n_correct": c}
        for m, cs in (("small", [0, 1, 5, 0]), ("large", [2, 7, 15, 0]))
        for j, c in enumerate(cs)
    ]
    return pd.DataFrame(rows)


def _population(sigma: float, logit_pi: float) -> dict[str, np.ndarray]:
    return {
        "models": np.array(["small", "large"]),
        "log_a": np.log([0.5, 0.8]),
        "log_b": np.log([30.0, 10.0]),
        "sigma_d": np.asarray(sigma),
        "mu_pi": np.asarray(logit_pi),
    }


def test_without_difficulties_the_oracle_is_the_beta_binomial_posterior() -> None:
    """sigma_d -> 0 and pi -> 0: each problem's success rate has the conjugate posterior
    Beta(a + c, b + n - c), so P(solved in k) = 1 - B(a + c, b + n - c + k) / B(a + c, b + n - c),
    and the coin-flip floor is sqrt(2 / pi) sqrt(sum q (1 - q)) / P."""
    counts = _counts()
    table = oracle_coverage(counts, _population(1e-9, -40.0), [10.0, 100.0])
    for model, a, b in (("small", 0.5, 30.0), ("large", 0.8, 10.0)):
        c = counts.loc[counts["model"] == model, "n_correct"].to_numpy(float)
        for k in (10.0, 100.0):
            q = -np.expm1(betaln(a + c, b + 20 - c + k) - betaln(a + c, b + 20 - c))
            row = table[(table["model"] == model) & (table["k"] == k)].iloc[0]
            assert row["oracle"] == pytest.approx(q.mean(), rel=1e-9)
            assert row["floor"] == pytest.approx(0.798 * np.sqrt((q * (1 - q)).sum()) / 4)


def test_a_problem_no_size_solved_may_be_never_solvable() -> None:
    """Problem 3 is unsolved by both sizes: with a share pi of never-solvable problems its
    chance of being solved falls, and so does every size's forecast; solved ones keep theirs."""
    counts = _counts()
    free = oracle_coverage(counts, _population(1.0, -40.0), [1000.0])
    capped = oracle_coverage(counts, _population(1.0, 0.0), [1000.0])
    assert (capped["oracle"].to_numpy() < free["oracle"].to_numpy() - 0.01).all()


def test_the_skewed_population_without_skew_is_the_normal_one() -> None:
    """The skewed family is the sinh-arcsinh one with delta = 1: at skew 0 it is the normal,
    so the oracle's forecasts agree; a skew towards hard problems lowers them."""
    counts = _counts()
    normal = oracle_coverage(counts, _population(1.5, -3.0), [100.0])
    flat = oracle_coverage(counts, _population(1.5, -3.0) | {"skew": np.asarray(0.0)}, [100.0])
    np.testing.assert_allclose(flat["oracle"], normal["oracle"], rtol=1e-9)
    hard = oracle_coverage(counts, _population(1.5, -3.0) | {"skew": np.asarray(-0.8)}, [100.0])
    assert not np.allclose(hard["oracle"], normal["oracle"], rtol=1e-3)


def test_the_error_figure_is_drawn_from_the_grid_and_the_oracle(tmp_path: Path) -> None:
    import passk_oracle

    keys = [("pythia", 10, 0), ("math", 10, 0), ("gsm8k", 100, 1)]
    oracle = pd.DataFrame(
        [
            {
                "dataset": d,
                "n_keep": n,
                "rep": r,
                "multiple": m,
                "abs_error": 0.02,
                "floor": 0.02,
                "successes": 50 * (i + 1),
            }
            for i, (d, n, r) in enumerate(keys)
            for m in (10, 100)
        ]
    )
    grid = pd.DataFrame(
        [
            {
                "dataset": d,
                "n_keep": n,
                "rep": r,
                "multiple": m,
                "method": method,
                "error": 0.05,
                "lower": 0.3,
                "upper": 0.6,
            }
            for d, n, r in keys
            for m in (10, 100)
            for method in ("beta", "shared_skew", "mle")
        ]
    )
    path = passk_oracle.error_floor_figure(oracle, grid, tmp_path / "figures")
    assert path.name == "passk_error_floor.png" and path.stat().st_size > 10_000


def test_mean_error_per_width_is_the_normal_ones() -> None:
    """A calibrated normal forecast: E|x - median| = sqrt(2/pi) sd, 90% width 2 z_0.95 sd."""
    import passk_oracle
    from scipy import stats

    sd = 0.7
    width = stats.norm.ppf(0.95, scale=sd) - stats.norm.ppf(0.05, scale=sd)
    mean_abs = stats.halfnorm(scale=sd).mean()
    assert passk_oracle.MAE_PER_WIDTH * width == pytest.approx(mean_abs, rel=1e-6)


def test_the_error_figure_needs_the_default_at_100x(tmp_path: Path) -> None:
    import passk_oracle

    grid = pd.DataFrame(
        [
            {
                "dataset": "pythia",
                "n_keep": 10,
                "rep": 0,
                "multiple": 100,
                "method": "beta",
                "error": 0.1,
                "lower": 0.2,
                "upper": 0.5,
            }
        ]
    )
    with pytest.raises(ValueError, match=r"no 'shared_skew' forecasts at 100x.*--methods"):
        passk_oracle.error_floor_figure(pd.DataFrame(), grid, tmp_path)
