"""Real NUTS on data simulated from known parameters: recovery, forecast coverage,
convergence. Each model is fitted once per module."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from tests.helpers import CONFIG_SIGMA, SIGMA, TRUE, chinchilla_loss, simulate_runs

pytestmark = pytest.mark.nuts


@pytest.fixture(scope="module")
def chinchilla_fit() -> bs.ScalingFit:
    # A sweep shaped like real ones: 7 sizes x 4 tokens-per-parameter ratios x 3 families,
    # every configuration run with 2 seeds.
    runs = simulate_runs(
        seeds=2, sizes=(2e7, 5e7, 1e8, 2e8, 5e8, 1e9, 2e9), ratios=(5.0, 20.0, 80.0, 320.0)
    )
    return bs.fit(runs, law="chinchilla", seed=0, progressbar=False)


def _interval(fit: bs.ScalingFit, name: str, prob: float) -> pd.DataFrame:
    post = fit.posterior[name]
    q = post.quantile([(1 - prob) / 2, (1 + prob) / 2], dim=("chain", "draw"))
    return q.to_pandas().T if "family" in post.dims else q.to_pandas()


def test_chinchilla_fit_converges(chinchilla_fit) -> None:
    d = chinchilla_fit.diagnostics
    assert d.divergences == 0, d
    assert d.max_rhat <= 1.01, d
    assert d.min_ess_bulk >= 400, d


@pytest.mark.parametrize("name", ["E", "A", "alpha", "B", "beta"])
def test_chinchilla_parameters_recovered_in_90_intervals(chinchilla_fit, name) -> None:
    bounds = _interval(chinchilla_fit, name, 0.9)
    for fam, truth in TRUE[name].items():
        lo, hi = bounds.loc[fam]
        assert lo <= truth <= hi, f"{name}[{fam}] = {truth} outside 90% interval [{lo}, {hi}]"


def test_noise_scales_recovered(chinchilla_fit) -> None:
    for name, truth in [("sigma", SIGMA), ("config_sigma", CONFIG_SIGMA)]:
        lo, hi = _interval(chinchilla_fit, name, 0.9)
        assert lo <= truth <= hi, f"{name} = {truth} outside [{lo}, {hi}]"


def test_extrapolated_forecast_covers_the_truth(chinchilla_fit) -> None:
    # 10x the largest training model, 20 tokens per parameter. Three nominal-90% intervals
    # miss at least once for 27% of data sets even when calibrated, and on this one the
    # truth of fam_c sits at the upper end (margin ~1e-4, which sampler noise can flip):
    # require 2 of 3 inside the 90% interval and all inside the 99% interval.
    points = pd.DataFrame({"family": list(TRUE["E"]), "params": 2e10, "tokens": 4e11})
    inside = 0
    for ci in (0.9, 0.99):
        fc = chinchilla_fit.forecast(points, ci_prob=ci)
        curve = fc[fc.quantity == "curve"].set_index("family")
        for fam in TRUE["E"]:
            truth = float(chinchilla_loss(fam, np.array(2e10), np.array(4e11)))
            lo, hi = curve.loc[fam, ["lower", "upper"]]
            if ci == 0.9:
                inside += lo <= truth <= hi
            else:
                assert lo <= truth <= hi, f"{fam}: truth {truth} outside 99% [{lo}, {hi}]"
            assert abs(curve.loc[fam, "median"] / truth - 1) < 0.02
    assert inside >= 2


def test_new_run_intervals_contain_the_curve_intervals(chinchilla_fit) -> None:
    fc = chinchilla_fit.forecast({"params": [1e9, 2e10], "tokens": [2e10, 4e11]}, family="fam_a")
    curve, new = fc[fc.quantity == "curve"], fc[fc.quantity == "new_run"]
    assert np.all(new["lower"].to_numpy() < curve["lower"].to_numpy())
    assert np.all(new["upper"].to_numpy() > curve["upper"].to_numpy())


def test_extrapolation_error_widens_new_runs_far_beyond_the_data(chinchilla_fit) -> None:
    import dataclasses

    points = {"params": [5e8, 2e11], "tokens": [1e10, 4e12]}  # inside; 100x beyond
    with_term = chinchilla_fit.forecast(points, family="fam_a")
    plain = bs.ScalingFit(
        chinchilla_fit.idata,
        dataclasses.replace(chinchilla_fit.spec, extrapolation_rate=0.0),
        chinchilla_fit.data,
    ).forecast(points, family="fam_a")
    new, new0 = (t[t.quantity == "new_run"].reset_index() for t in (with_term, plain))
    width, width0 = new.upper - new.lower, new0.upper - new0.lower
    # Inside the data only the spread of a separately trained run (kappa) is added.
    assert width[0] == pytest.approx(width0[0], rel=0.1)
    assert width[1] > 1.5 * width0[1]  # ln(100) = 4.6 e-folds beyond
    curve, curve0 = (t[t.quantity == "curve"].reset_index() for t in (with_term, plain))
    pd.testing.assert_frame_equal(curve, curve0)  # the law's own band is unchanged


def test_new_family_forecasts_are_wider_than_known_ones(chinchilla_fit) -> None:
    points = {"params": [2e10], "tokens": [4e11]}
    known = chinchilla_fit.forecast(points, family="fam_a")
    new = chinchilla_fit.forecast(points, family=None)
    w_known = (known.upper - known.lower).to_numpy()
    w_new = (new.upper - new.lower).to_numpy()
    assert np.all(w_new > 1.5 * w_known)


def test_saved_fit_forecasts_identically(chinchilla_fit, tmp_path) -> None:
    loaded = bs.load(chinchilla_fit.save(tmp_path / "fit.nc"))
    points = {"params": [5e9, 2e10], "tokens": [1e11, 4e11]}
    pd.testing.assert_frame_equal(
        loaded.forecast(points, family="fam_b"), chinchilla_fit.forecast(points, family="fam_b")
    )
    assert loaded.diagnostics.ok


def test_broken_power_law_recovers_the_break() -> None:
    rng = np.random.default_rng(4)
    law = bs.get_law("broken_power_law:compute")
    x = np.geomspace(1e16, 1e23, 40)
    log_ref = {"compute": float(np.mean(np.log(x)))}
    truth = {
        "E": 1.0,
        "A_ref": 1.5,
        "alpha": 0.15,
        "delta": 0.3,
        "log_break": 0.0,
        "sharpness": 0.3,
    }
    y = law.predict(truth, {"compute": x}, log_ref) * np.exp(rng.normal(0, 0.005, x.size))
    df = pd.DataFrame(
        {
            "family": "f",
            "params": 1e8,
            "tokens": x / 6e8,
            "compute": x,
            "metric": "loss",
            "value": y,
        }
    )
    fit = bs.fit(df, law="broken_power_law:compute", seed=1, progressbar=False)
    assert fit.diagnostics.ok, fit.diagnostics
    for name in ["alpha", "delta", "log_break"]:
        lo, hi = np.asarray(_interval(fit, name, 0.9)).ravel()
        assert lo <= truth[name] <= hi, f"{name} = {truth[name]} outside [{lo}, {hi}]"


def test_chinchilla_tied_recovers_its_one_exponent() -> None:
    rng = np.random.default_rng(5)
    law = bs.get_law("chinchilla_tied")
    n = np.repeat([2e7, 5e7, 1e8, 2e8, 5e8, 1e9], 4)
    d = n * np.tile([5.0, 20.0, 80.0, 320.0], 6)
    log_ref = {"params": float(np.mean(np.log(n))), "tokens": float(np.mean(np.log(d)))}
    truth = {"E": 1.8, "A_ref": 0.6, "alpha": 0.3, "B_ref": 0.5}
    y = law.predict(truth, {"params": n, "tokens": d}, log_ref) * np.exp(
        rng.normal(0, 0.005, n.size)
    )
    df = pd.DataFrame({"family": "f", "params": n, "tokens": d, "metric": "loss", "value": y})
    fit = bs.fit(df, law="chinchilla_tied", seed=1, progressbar=False)
    assert fit.diagnostics.ok, fit.diagnostics
    assert "beta" not in fit.posterior
    for name in ["E", "alpha"]:
        lo, hi = np.asarray(_interval(fit, name, 0.9)).ravel()
        assert lo <= truth[name] <= hi, f"{name} = {truth[name]} outside [{lo}, {hi}]"
