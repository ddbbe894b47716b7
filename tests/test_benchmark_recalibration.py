"""The bin-wise conformal recalibration of ``benchmarks/recalibration_check.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from recalibration_check import check_inputs, conformity, recalibrate, weighted_quantile


def _scores(source: str, scale: float, d: float, n: int, seed: int) -> pd.DataFrame:
    """Runs whose errors are ``scale`` times as wide as a unit-normal predictive says."""
    z = scale * np.random.default_rng(seed).standard_normal(n)
    return pd.DataFrame(
        {"source": source, "pit": norm.cdf(z), "halfwidth90_%": 2.0, "d": d, "d_compute": d}
    )


def test_conformity_is_the_normal_score() -> None:
    assert conformity(np.array([0.05, 0.5, 0.95])) == pytest.approx([1.645, 0.0, 1.645], abs=1e-3)
    assert np.isfinite(conformity(np.array([0.0, 1.0]))).all()


def test_weighted_quantile() -> None:
    values = np.arange(1.0, 11.0)
    assert weighted_quantile(values, np.ones(10), 0.9) == 9.0
    # all the weight on the first value
    assert weighted_quantile(values, np.r_[1.0, np.zeros(9)], 0.9) == 1.0


def test_a_recalibration_from_like_sources_reaches_nominal() -> None:
    """Errors twice as wide as the model says: the model's 90 % intervals cover about 0.59,
    recalibrated from another source with the same errors about 0.9, the width doubled;
    a bin without calibration runs keeps the model's interval."""
    held = _scores("a", 2.0, 0.5, 4000, 0)
    calibration = _scores("b", 2.0, 0.5, 4000, 1)
    out = recalibrate(held, calibration, "d")
    assert (conformity(held["pit"]) <= 1.645).mean() == pytest.approx(0.59, abs=0.03)
    assert out["covered"].mean() == pytest.approx(0.9, abs=0.02)
    assert out["halfwidth90_%"].mean() == pytest.approx(4.0, rel=0.05)
    far = recalibrate(_scores("a", 2.0, 4.0, 50, 2), calibration, "d")
    assert far["threshold"].to_numpy() == pytest.approx(np.full(50, 1.645), abs=1e-3)


def test_sources_weighting_gives_each_source_one_vote() -> None:
    """One large well-behaved source and one small wide one: weighted by runs, the
    threshold follows the large one; by sources, it lies between them."""
    calibration = pd.concat([_scores("big", 0.5, 0.5, 900, 3), _scores("small", 3.0, 0.5, 100, 4)])
    held = _scores("held", 1.0, 0.5, 10, 5)
    by_runs = recalibrate(held, calibration, "d", "runs")["threshold"].iloc[0]
    by_sources = recalibrate(held, calibration, "d", "sources")["threshold"].iloc[0]
    assert by_runs < 1.645 < by_sources


def test_the_held_out_source_never_calibrates_itself() -> None:
    held = _scores("a", 1.0, 0.5, 10, 6)
    with pytest.raises(ValueError, match="held-out source"):
        recalibrate(held, pd.concat([held, _scores("b", 1.0, 0.5, 10, 7)]), "d")


def test_bad_inputs_are_clear_errors() -> None:
    """An unknown weighting, scores without a column the recalibration needs, and nested
    scores of another set of sources (a stale file) are refused, saying what to do."""
    held = _scores("a", 1.0, 0.5, 10, 8)
    with pytest.raises(ValueError, match="weighting must be"):
        recalibrate(held, _scores("b", 1.0, 0.5, 10, 9), "d", "fits")
    scores = pd.concat([held, _scores("b", 1.0, 0.5, 10, 9)]).assign(method="m", cov90=True)
    with pytest.raises(ValueError, match=r"lack column\(s\) \['d_compute'\]"):
        check_inputs(scores.drop(columns="d_compute"))
    check_inputs(scores, scores.assign(left_out=scores["source"]))  # matching: no error
    with pytest.raises(ValueError, match="delete the --nested file"):
        check_inputs(scores, scores.assign(left_out="a"))
