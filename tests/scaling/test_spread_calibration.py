"""Calibration of a fit's own new-run spread on its own largest runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayescale as bs
from bayescale.core.errors import ConvergenceWarning, DataError
from bayescale.scaling import fitting
from bayescale.scaling.laws import get_law
from bayescale.scaling.spread_calibration import (
    SPREAD_GROUP,
    holdout_split,
    scale_spread,
    spread_factor_draws,
)
from tests.helpers import fit_mocked, prior_sampler, simulate_runs


def _population(mu: float, sigma: float, kappa: float, n: int = 4000) -> xr.Dataset:
    """A population with no spread between sources: every new source has these values."""
    return xr.Dataset(
        {
            "mu0": ("sample", np.full(n, mu)),
            "tau_mu": ("sample", np.zeros(n)),
            "lam0": ("sample", np.full(n, np.log(sigma))),
            "tau_sigma": ("sample", np.zeros(n)),
            "kappa": ("sample", np.full(n, kappa)),
        }
    )


@pytest.mark.parametrize("factor", [0.5, 1.6])
def test_a_known_spread_factor_is_recovered(factor: float) -> None:
    rng = np.random.default_rng(3)
    n, mu, sigma, kappa = 40, 0.002, 0.004, 0.003
    d = rng.uniform(0.3, 1.5, n)
    v = rng.uniform(0.01, 0.03, n)
    scale = np.sqrt((factor * v) ** 2 + (sigma * d) ** 2 + kappa**2)
    cases = pd.DataFrame({"err": mu * d + scale * rng.standard_normal(n), "sd": v, "d": d})
    draws, info = spread_factor_draws(cases, _population(mu, sigma, kappa), seed=0)
    lo, hi = np.quantile(draws, [0.05, 0.95])
    assert lo < factor < hi
    assert not lo < 1.0 < hi  # 40 runs tell 0.5 and 1.6 from 1
    assert info["cases"] == n and info["mc_ess"] > 100


def test_without_cases_the_factor_keeps_its_prior() -> None:
    empty = pd.DataFrame({"err": [], "sd": [], "d": []})
    draws, _ = spread_factor_draws(empty, None, rate=0.02, prior_sd=0.5, n_draws=20000, seed=1)
    assert np.median(draws) == pytest.approx(1.0, abs=0.03)
    assert np.log(draws).std() == pytest.approx(0.5, abs=0.02)


def test_holdout_split_holds_out_the_largest_sizes_and_last_checkpoints() -> None:
    law = get_law("chinchilla")
    sizes = [1e7, 2e7, 4e7, 1e8, 3e8, 1e9]
    frame = pd.DataFrame(
        [
            {"family": f, "params": n, "tokens": t, "checkpoint_step": t / 1e6, "value": 3.0}
            for f in ("a", "b")
            for n in sizes
            for t in (1e9, 2e9, 4e9)
        ]
    )
    frame = frame[~((frame["family"] == "b") & (frame["params"] < 1e9))]  # b: one size only
    inner, held = holdout_split(frame, law)
    # log range 1e7..1e9: the top third lies above 10**(9 - 2/3) = 2.15e8
    assert inner["params"].max() == 1e8 and sorted(held["params"].unique()) == [3e8, 1e9]
    assert (held["tokens"] == 4e9).all()  # only the last checkpoint of each held-out run
    assert set(held["family"]) == {"a"}  # b has no run below the cut
    with pytest.raises(DataError, match=r"'params'.*3 distinct sizes"):
        holdout_split(frame[frame["params"] <= 4e7], law)


def test_scale_spread_scales_about_the_median() -> None:
    rng = np.random.default_rng(0)
    draws = np.exp(1.0 + 0.2 * rng.standard_normal((2, 5000, 3)))
    out = scale_spread(draws, np.full(100, 0.5), "log", rng)
    np.testing.assert_allclose(np.median(np.log(out), axis=(0, 1)), 1.0, atol=0.01)
    np.testing.assert_allclose(np.log(out).std(axis=(0, 1)), 0.1, rtol=0.03)


def test_calibration_refits_only_the_runs_below_the_cut_and_is_kept_by_save(
    tmp_path, monkeypatch
) -> None:
    runs = simulate_runs(sizes=(2e7, 5e7, 1e8, 2e8, 4e8, 8e8))
    result = fit_mocked(runs)
    seen: list[pd.DataFrame] = []
    real_fit = fitting.fit

    def spy(data, **kwargs):
        seen.append(data)
        return real_fit(data, **kwargs)

    monkeypatch.setattr(fitting, "fit", spy)
    with pytest.warns(ConvergenceWarning, match="inner fit"):  # prior draws never converge
        calibrated = result.calibrate_spread(sampler=prior_sampler)
    group = calibrated.idata[SPREAD_GROUP].dataset
    cut = group.attrs["cut"]
    assert len(seen) == 1 and seen[0]["params"].max() == cut < runs["params"].max()
    assert (group["params"].values > cut).all()  # the inner cases are the runs it never saw
    assert SPREAD_GROUP not in result.idata.children  # the original fit is unchanged
    assert any("spread calibrated" in note for note in calibrated.notes)
    far = {"params": [3e10], "tokens": [6e11]}
    a = calibrated.forecast(far, family="fam_a")
    back = bs.load(calibrated.save(tmp_path / "calibrated.nc"))
    pd.testing.assert_frame_equal(back.forecast(far, family="fam_a"), a)
    np.testing.assert_array_equal(
        back.idata[SPREAD_GROUP].dataset["factor"].values, group["factor"].values
    )


def test_leave_one_source_out_scores_the_own_spread_from_each_case_inner_cases() -> None:
    from bayescale.scaling.discrepancy import fit_discrepancy
    from bayescale.scaling.discrepancy_backtest import leave_one_source_out

    rng = np.random.default_rng(0)
    rows, inner_rows = [], []
    for s in range(3):
        for _ in range(6):
            d = rng.uniform(0.2, 1.0)
            rows.append({"source": f"s{s}", "case": f"c{s}", "d": d, "sd": 0.1, "err": 0.0})
            inner_rows.append({"source": f"s{s}", "case": f"c{s}", "d": d / 2, "sd": 0.1})
    cases = pd.DataFrame(rows)
    inner = pd.DataFrame(inner_rows)
    # Source s0's own errors are tiny against its spread (a factor well below 1); s1's are
    # large (above 1); s2 has no inner cases and is not scored with its own spread.
    inner["err"] = np.where(inner["source"] == "s0", 0.005, 0.3) * rng.choice([-1, 1], len(inner))
    inner = inner[inner["source"] != "s2"]

    def quick(frame: pd.DataFrame, **kwargs: object):
        return fit_discrepancy(frame, draws=50, tune=10, chains=1, sampler=prior_sampler)

    scores = leave_one_source_out(cases, fit=quick, verbose=False, inner=inner)
    own = scores[scores["method"] == "learned (LOSO), own spread"]
    plain = scores[scores["method"] == "learned (LOSO)"]
    assert set(own["source"]) == {"s0", "s1"}
    width = own.groupby("source")["halfwidth90_%"].mean()
    base = plain.groupby("source")["halfwidth90_%"].mean()
    assert width["s0"] < base["s0"] and width["s1"] > base["s1"]


def test_bad_input_is_a_clear_error_before_any_fit(monkeypatch) -> None:
    from bayescale.core.errors import SpecificationError

    good = pd.DataFrame({"err": [0.01, -0.02], "sd": [0.02, 0.02], "d": [0.5, 0.7]})
    with pytest.raises(DataError, match=r"column 'sd'.*rows \[1\]"):
        spread_factor_draws(good.assign(sd=[0.02, -1.0]), None, rate=0.02)
    with pytest.raises(DataError, match=r"column 'err'.*rows \[0\]"):
        spread_factor_draws(good.assign(err=[np.nan, 0.0]), None, rate=0.02)
    with pytest.raises(DataError, match="lack column 'd'"):
        spread_factor_draws(good.drop(columns="d"), None, rate=0.02)
    with pytest.raises(DataError, match="lack column 'params'"):
        holdout_split(good, get_law("chinchilla"))
    result = fit_mocked(simulate_runs())

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before checking the options")

    monkeypatch.setattr(fitting, "fit", no_fit)
    for bad in (0.0, float("nan")):
        with pytest.raises(SpecificationError, match="prior_sd"):
            result.calibrate_spread(prior_sd=bad)
    with pytest.raises(SpecificationError, match="share"):
        result.calibrate_spread(share=1.5)
