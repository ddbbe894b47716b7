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
