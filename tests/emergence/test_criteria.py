"""One definition of the threshold and of P(emergent), checked against hand computations.

No sampling: the curves and the posteriors are made up, so every expected number below is
worked out by hand (the arithmetic is in the comments).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayescale.core.diagnostics import Diagnostics
from bayescale.core.errors import SpecificationError
from bayescale.emergence import SandwichFit, SigmoidFit, thresholds
from bayescale.emergence.criteria import (
    THRESHOLD_COLUMNS,
    emergence_draws,
    leave_point,
    sigmoid_threshold,
)
from bayescale.emergence.sigmoid_model import sigmoid_law

GRID = np.linspace(20.0, 24.0, 401)


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def expit(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


# -- the definition on curves --------------------------------------------------------------
def test_leave_point_is_where_the_curve_leaves_the_level_for_good() -> None:
    line = 0.2 + 0.1 * (GRID - 20.0)  # 0.2 at 10^20, 0.6 at 10^24
    wiggle = np.where(GRID < 21.0, 0.4, line)  # above 0.35 early, then back below it
    above = np.full_like(GRID, 0.9)
    below = np.full_like(GRID, 0.1)
    got = leave_point(np.stack([line, wiggle, above, below]), GRID, 0.35)
    # the line reaches 0.35 at 20 + 0.15 / 0.1 = 21.5; the wiggle leaves for good there too
    np.testing.assert_allclose(got[:2], [21.5, 21.5], atol=1e-9)
    assert got[2] == -np.inf and got[3] == np.inf
    # one level per draw
    np.testing.assert_allclose(leave_point(np.stack([line, line]), GRID, [0.3, 0.5]), [21, 23])


def test_sigmoid_threshold_in_closed_form() -> None:
    # c = 0.25, h = 0.85, C* = 10^22.4, w = 0.3: f = 0.6 / 0.75 = 0.8, delta / f = 0.0625,
    # logit(0.0625) = ln(1 / 15) = -2.70805, x_e = 22.4 - 0.3 * 2.70805 = 21.587585
    x_e = sigmoid_threshold(22.4, 0.3, 0.25, 0.85, 0.05)
    assert float(x_e) == pytest.approx(22.4 + 0.3 * np.log(1 / 15), abs=1e-12)
    assert float(x_e) == pytest.approx(21.587585, abs=1e-6)
    # there the law is 5% of the range above chance: 0.25 + 0.05 * 0.75 = 0.2875
    assert float(sigmoid_law(10**x_e, 22.4, 0.3, 0.25, 0.85)) == pytest.approx(0.2875)
    # a ceiling less than the margin above chance never leaves it
    assert sigmoid_threshold(22.4, 0.3, 0.25, 0.26, 0.05) == np.inf


def test_emergent_needs_flat_start_a_jump_and_a_sharp_rise() -> None:
    c = 0.25
    step = sigmoid_law(10**GRID, 22.5, 0.15, c, 0.85)  # flat, then a rise of 0.6
    slow = 0.25 + 0.1 * (GRID - 20.0)  # leaves 0.2875 at 20.375, rises 0.4 over 4 decades
    early = sigmoid_law(10**GRID, 19.5, 0.15, c, 0.85)  # already up at the smallest model
    small = sigmoid_law(10**GRID, 22.5, 0.15, c, 0.30)  # a rise of 0.05 < min_jump
    em = emergence_draws(np.stack([step, slow, early, small]), GRID, c)
    assert em["emergent"].tolist() == [True, False, False, False]
    assert em["flat"].tolist() == [True, True, False, True]
    assert em["jump"].tolist() == [True, True, True, False]
    assert em["sharp"][:2].tolist() == [True, False]
    # the step's 10%-90% rise: 2 w ln 9 = 0.659 decades; the line's: from 10% to 90% of
    # its rise of 0.4 takes 0.8 * 4 = 3.2 decades
    np.testing.assert_allclose(em["rise_decades"][:2], [0.3 * np.log(9), 3.2], atol=2e-3)
    want = float(sigmoid_threshold(22.5, 0.15, c, 0.85, 0.05))
    assert em["x_e"][0] == pytest.approx(want, abs=1e-3)  # linear between grid points
    # a stricter sharpness can only lower it
    assert not emergence_draws(step[None], GRID, c, max_decades=0.5)["emergent"][0]
    with pytest.raises(SpecificationError, match="margin"):
        emergence_draws(step[None], GRID, c, margin=1.5)


# -- both views give the same answer for the same curve -------------------------------------
def fake_sandwich(alpha: float, slope: float, chance: float | None) -> SandwichFit:
    """A sandwich of one task whose accuracy curve is expit(alpha + slope x) exactly.

    Three slices with the same straight standardised curve 0 - x (x = log10 C mapped from
    [20, 24] onto [-1, 1], slice units 0.1 around 0.5), so the overall Brier curve is
    B(x) = 0.5 - 0.1 x; with b_ref = 0.5, g = 4 and gamma = -slope / 0.4 the map gives
    alpha + gamma g (B - b_ref) = alpha + slope x.
    """
    n = 20
    ones = np.ones((1, n))
    post = xr.Dataset(
        {
            "beta0": (("chain", "draw", "slice"), np.zeros((1, n, 3))),
            "beta": (("chain", "draw", "slice", "power"), -np.ones((1, n, 3, 1))),
            "alpha": (("chain", "draw"), alpha * ones),
            "gamma": (("chain", "draw"), -slope / 0.4 * ones),
            "sigma_acc": (("chain", "draw"), 0.05 * ones),
            "loading": (("chain", "draw", "slice", "factor"), np.zeros((1, n, 3, 2))),
            "sigma_slice": (("chain", "draw", "slice"), np.full((1, n, 3), 0.1)),
        },
        coords={"chain": [0], "draw": np.arange(n), "slice": np.arange(3)},
    )
    log_c = np.linspace(20.0, 24.0, 9)
    data = xr.Dataset(
        {
            "log_c": ("model", log_c),
            "brier": (("model", "slice"), np.full((9, 3), 0.5)),
            "acc": ("model", np.full(9, 0.3)),
            "held_out": ("model", np.zeros(9, bool)),
            "family": ("model", np.array(["f"] * 9)),
        },
        coords={"model": [f"m{i}" for i in range(9)], "slice": np.arange(3)},
    )
    return SandwichFit(
        idata=xr.DataTree.from_dict({"/posterior": post}),
        task="t",
        cutoff=1e25,
        diagnostics=Diagnostics(0, n, 1.0, 1000.0),
        data=data,
        weights=np.full(3, 1 / 3),
        easy=np.array([0]),
        hard=np.array([2]),
        degree=1,
        x_range=(20.0, 24.0),
        b_ref=0.5,
        horizon=24.0,
        slice_loc=np.full(3, 0.5),
        slice_scale=np.full(3, 0.1),
        slice_degree=np.ones(3, int),
        dlogit=4.0,
        chance=chance,
    )


def fake_sigmoid(midpoint: float, width: float, chance: float, ceiling: float) -> SigmoidFit:
    """A one-task sigmoid fit whose every draw is the given law, fitted on [20, 24]."""
    n = 20
    lc = np.linspace(20.0, 24.0, 9)
    data = pd.DataFrame(
        {
            "task": "t",
            "model": [f"m{i}" for i in range(9)],
            "family": "",
            "compute": 10**lc,
            "value": 0.3,
            "n_questions": 1000.0,
            "chance": chance,
            "held_out": False,
        }
    )

    def const(v: float) -> tuple[tuple[str, ...], np.ndarray]:
        return ("chain", "draw", "task"), np.full((1, n, 1), v)

    post = xr.Dataset(
        {
            "midpoint": const(midpoint),
            "width": const(width),
            "ceiling": const(ceiling),
            "kappa": const(300.0),
        },
        coords={"chain": [0], "draw": np.arange(n), "task": ["t"]},
    )
    return SigmoidFit(
        idata=xr.DataTree.from_dict({"/posterior": post}),
        tasks=["t"],
        data=data,
        cutoff={"t": float("inf")},
        diagnostics=Diagnostics(0, n, 1.0, 1000.0),
        x_ref=22.0,
        chance={"t": chance},
    )


def test_sandwich_threshold_against_a_hand_computation() -> None:
    # accuracy expit(-2 + 3x), x = (log10 C - 22) / 2, chance 0.25: the level is
    # 0.25 + 0.05 * 0.75 = 0.2875, logit(0.2875) = -0.907553, so x = (2 - 0.907553) / 3
    # = 0.364148 and log10 C = 22 + 2 * 0.364148 = 22.728295
    fit = fake_sandwich(-2.0, 3.0, 0.25)
    want = 22 + 2 * (2 + logit(0.2875)) / 3
    assert want == pytest.approx(22.728295, abs=1e-6)
    th = fit.threshold(ci_prob=0.9).loc["t"]
    assert th["view"] == "sandwich" and th["margin"] == 0.05
    for col in ("log10_threshold", "log10_lower", "log10_upper"):
        assert th[col] == pytest.approx(want, abs=1e-3)
    assert th["threshold"] == pytest.approx(10 ** th["log10_threshold"])
    assert th["p_below"] == 0.0 and th["p_beyond"] == 0.0
    # emergent: flat at the smallest model (expit(-5) < 0.2875), rise by 10^24
    # R = expit(1) - 0.25 = 0.481 >= 0.1; 10% of it at logit(0.298106) = -0.856265, i.e.
    # x = 0.381245; 90% at logit(0.682995) = 0.767442, x = 0.922481: 2 * 0.541236 decades
    em = fit.emergence().loc["t"]
    assert em["p_emergent"] == 1.0 and em["view"] == "sandwich"
    r = expit(np.array(1.0)) - 0.25
    x10 = (2 + logit(0.25 + 0.1 * r)) / 3
    x90 = (2 + logit(0.25 + 0.9 * r)) / 3
    assert em["rise_decades"] == pytest.approx(2 * (x90 - x10), abs=2e-3)
    assert 2 * (x90 - x10) == pytest.approx(1.082472, abs=1e-5)
    assert fit.p_emergent(max_decades=1.0).loc["t"] == 0.0
    # a slope of 0.4 rises by R = expit(-0.6986) - 0.25 = 0.082 < 0.1 by 10^24: no jump
    shallow = fake_sandwich(logit(0.25), 0.4, 0.25)
    assert shallow.emergence().loc["t", "p_jump"] == 0.0
    # leaves 0.2875 at x = (logit(0.2875) - logit(0.25)) / 0.4 = 0.477639: 22.955278
    assert shallow.threshold().loc["t", "log10_threshold"] == pytest.approx(22.955278, abs=1e-3)


def test_both_views_give_one_answer_for_one_curve() -> None:
    # chance 0: expit(-4 + 6x) with x = (log10 C - 22) / 2 is the sigmoid law with
    # c = 0, h = 1, C* = 22 + 2 * 4 / 6 = 23.3333, w = 2 / 6
    sandwich = fake_sandwich(-4.0, 6.0, 0.0)
    sigmoid = fake_sigmoid(22 + 4 / 3, 1 / 3, 0.0, 1.0)
    both = thresholds(sandwich, sigmoid, ci_prob=0.9)
    assert list(both.columns[: len(THRESHOLD_COLUMNS)]) == list(THRESHOLD_COLUMNS)
    assert both["view"].tolist() == ["sandwich", "sigmoid"]
    # x_e = C* + w logit(0.05) = 23.3333 - 0.3333 * 2.944439 = 22.351854
    np.testing.assert_allclose(both["log10_threshold"], 22.351854, atol=1e-3)
    # R = expit(2) = 0.8808; 10% of it at x = (logit(0.08808) + 4) / 6 = 0.27713, 90% at
    # (logit(0.79272) + 4) / 6 = 0.89055: 2 * 0.61342 = 1.2268 decades <= 2, emergent
    assert both["p_emergent"].tolist() == [1.0, 1.0]
    assert both.loc[both["view"] == "sigmoid", "midpoint_log10"].iloc[0] == pytest.approx(23.333333)
    for fit in (sandwich, sigmoid):
        assert fit.emergence()["rise_decades"].iloc[0] == pytest.approx(1.2268, abs=2e-3)


def test_a_sandwich_without_chance_says_what_to_give() -> None:
    fit = fake_sandwich(-2.0, 3.0, None)
    with pytest.raises(SpecificationError, match="chance"):
        fit.threshold()
    with pytest.raises(SpecificationError, match="chance"):
        fit.p_emergent()
    assert "chance accuracy is unknown" in fit.report()
    assert "p_turn" in fit.summary().index and "p_emergent" not in fit.summary().index
    with pytest.raises(SpecificationError, match="chance"):
        fake_sandwich(-2.0, 3.0, 1.5)
