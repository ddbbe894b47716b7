"""The three pass@k fit kinds follow the one contract (:mod:`bayescale.core.results`).

PassKFit (``"passk"``), CoverageLawFit (``"coverage_law"``) and VotingCurveFit
(``"voting_curve"``), each fitted once per module with prior draws instead of MCMC
(:func:`tests.helpers.prior_sampler`): save, :func:`bayescale.load` gives the same class
with the same summary and forecasts; forecasts are long tables with
:data:`~bayescale.core.intervals.FORECAST_COLUMNS`; reports, plots, LOO; files of
bayescale 0.1 still load; ``bayescale passk fit --out`` saves. The real-NUTS round trip is
``tests/passk/test_fit.py::test_save_load_round_trip``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.special import logit

import bayescale
from bayescale import passk
from bayescale.cli.main import main
from bayescale.core.errors import FitFileError, SpecificationError
from bayescale.core.intervals import FORECAST_COLUMNS
from bayescale.core.results import FitResult
from bayescale.core.sampling import use_sampler
from tests.helpers import prior_sampler
from tests.passk.test_coverage_laws import simulated_points
from tests.passk.test_voting import simulate_curve

matplotlib.use("Agg")

#: Prior draws, no second run, no convergence warnings (meaningless for prior draws).
MOCK = {
    "draws": 60,
    "chains": 2,
    "sampler": prior_sampler,
    "extend_if_slow": False,
    "warn_convergence": False,
}


@pytest.fixture(scope="module")
def passk_fit() -> passk.PassKFit:
    return passk.fit(passk.example_counts(), progressbar=False, **MOCK)


@pytest.fixture(scope="module")
def law_fit() -> passk.CoverageLawFit:
    return passk.fit_coverage_law(simulated_points("beta_zi"), "beta_zi", **MOCK)


@pytest.fixture(scope="module")
def curve_fit() -> passk.VotingCurveFit:
    return passk.fit_voting_curve(simulate_curve(), **MOCK)


@pytest.fixture(scope="module")
def fits(
    passk_fit: passk.PassKFit, law_fit: passk.CoverageLawFit, curve_fit: passk.VotingCurveFit
) -> dict[str, FitResult]:
    return {"passk": passk_fit, "coverage_law": law_fit, "voting_curve": curve_fit}


def forecast(fit: FitResult) -> pd.DataFrame:
    """A forecast of each kind, at values far beyond the data."""
    if isinstance(fit, passk.PassKFit):
        return pd.concat(
            [
                fit.coverage([10.0, 1e5]),
                fit.coverage([1e3], params={"N=3e10": 3e10}, problems="population"),
            ],
            ignore_index=True,
        )
    if isinstance(fit, passk.CoverageLawFit):
        return fit.coverage([10.0, 1e6], predictive=True, seed=2)
    assert isinstance(fit, passk.VotingCurveFit)
    return fit.predict([1, 1000])


KINDS = ["passk", "coverage_law", "voting_curve"]


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_gives_the_same_fit(
    fits: dict[str, FitResult], kind: str, tmp_path: Path
) -> None:
    fit = fits[kind]
    assert fit.kind == kind
    path = fit.save(tmp_path / f"{kind}.nc")
    loaded = bayescale.load(path)
    assert type(loaded) is type(fit)
    summary = fit.summary(ci_prob=0.9)
    assert isinstance(summary, pd.DataFrame) and len(summary) > 0
    pd.testing.assert_frame_equal(loaded.summary(ci_prob=0.9), summary)
    pd.testing.assert_frame_equal(forecast(loaded), forecast(fit))
    assert loaded.notes == fit.notes
    assert str(loaded.diagnostics) == str(fit.diagnostics)


@pytest.mark.parametrize("kind", KINDS)
def test_summary_is_arviz_with_the_asked_interval(fits: dict[str, FitResult], kind: str) -> None:
    summary = fits[kind].summary(ci_prob=0.8)
    assert {"mean", "sd", "eti80_lb", "eti80_ub", "r_hat", "ess_bulk"} <= set(summary.columns)
    assert (summary["eti80_lb"] <= summary["eti80_ub"]).all()
    with pytest.raises(SpecificationError, match="ci_prob"):
        fits[kind].summary(ci_prob=90)


@pytest.mark.parametrize("kind", KINDS)
def test_forecasts_are_long_tables(fits: dict[str, FitResult], kind: str) -> None:
    table = forecast(fits[kind])
    assert tuple(table.columns[-len(FORECAST_COLUMNS) :]) == FORECAST_COLUMNS
    assert table.columns[0] == "model"
    assert (table["ci_prob"] == 0.9).all()
    assert ((table["lower"] <= table["median"]) & (table["median"] <= table["upper"])).all()
    assert table[["lower", "upper"]].stack().between(0, 1).all()


@pytest.mark.parametrize("kind", KINDS)
def test_report_plot_and_loo(fits: dict[str, FitResult], kind: str, tmp_path: Path) -> None:
    fit = fits[kind]
    text = str(fit)
    assert text.startswith(type(fit).__name__) and "diagnostics:" in text
    fig = fit.plot(tmp_path / "fit.png")
    assert (tmp_path / "fit.png").stat().st_size > 10_000
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.collections) >= 2  # bands
    loo = fit.loo()
    assert np.isfinite(float(loo.elpd))
    assert fit.observed().size == fit.idata["log_likelihood"].dataset["y"].sizes["obs"]


def test_passk_exponent_and_attempts_tables(passk_fit: passk.PassKFit) -> None:
    exp = passk_fit.exponent(ci_prob=0.8)
    assert list(exp.columns) == ["model", *FORECAST_COLUMNS]
    assert list(exp["model"]) == passk_fit.models and set(exp["quantity"]) == {"exponent"}
    a = passk_fit.posterior["a"].sel(model="sim-1e9").values.ravel()
    row = exp.set_index("model").loc["sim-1e9"]
    np.testing.assert_allclose(
        [row["lower"], row["median"], row["upper"]], np.quantile(a, [0.1, 0.5, 0.9])
    )
    table = passk_fit.attempts_for(0.3, cost_per_attempt=2.0, ci_prob=0.9)
    cols = ["model", "target", "cost_per_attempt", "p_reachable", *FORECAST_COLUMNS]
    assert list(table.columns) == cols
    by = table.set_index(["model", "quantity"])
    k = by.loc[("sim-1e10", "attempts")]
    cost = by.loc[("sim-1e10", "cost")]
    assert cost["median"] == pytest.approx(2.0 * k["median"])
    assert 0 <= k["p_reachable"] <= 1
    with pytest.raises(SpecificationError, match="target coverage"):
        passk_fit.attempts_for(1.5)


def test_unreachable_targets_give_infinite_ends(passk_fit: passk.PassKFit) -> None:
    """A target above the ceiling 1 - pi in some draws: the upper end is infinite, not NaN."""
    table = passk_fit.attempts_for(0.97).query("quantity == 'attempts'")
    some = table[(table["p_reachable"] > 0.05) & (table["p_reachable"] < 0.95)]
    assert len(some) > 0
    assert np.isinf(some["upper"]).all() and np.isinf(some["mean"]).all()
    assert not table[["lower", "median", "upper"]].isna().any().any()


def test_coverage_law_tables(law_fit: passk.CoverageLawFit) -> None:
    curve = law_fit.coverage([10, 1e6], ci_prob=0.9, models="m2")
    assert list(curve.columns) == ["model", "k", *FORECAST_COLUMNS]
    assert set(curve["quantity"]) == {"coverage"} and set(curve["model"]) == {"m2"}
    noisy = law_fit.coverage([10, 1e6], ci_prob=0.9, models="m2", predictive=True)
    assert set(noisy["quantity"]) == {"new_point"}
    # a new point is the curve plus sigma_m * N(0, 1) on the logit scale
    law = law_fit.coverage_draws([10.0], models="m2").values.ravel()
    new = law_fit.coverage_draws([10.0], models="m2", predictive=True).values.ravel()
    z = (logit(new) - logit(law)) / law_fit.draws("sigma")[:, 1]
    assert abs(z.mean()) < 0.3 and 0.8 < z.std() < 1.2
    exp = law_fit.exponent(ci_prob=0.9)
    assert list(exp["model"]) == ["m1", "m2"] and set(exp["quantity"]) == {"exponent"}
    assert law_fit.observation_info() == {"metric": "coverage", "space": "logit"}


def test_loading_the_wrong_kind_says_which(law_fit: passk.CoverageLawFit, tmp_path: Path) -> None:
    path = law_fit.save(tmp_path / "law.nc")
    with pytest.raises(FitFileError, match=r"'coverage_law' fit .*not a pass@k fit"):
        passk.load(path)
    text = tmp_path / "counts.csv"
    text.write_text("model,problem\n")
    with pytest.raises(FitFileError, match="text file"):
        passk.load(text)


def test_pass_at_k_files_of_format_1_still_load(passk_fit: passk.PassKFit, tmp_path: Path) -> None:
    """bayescale 0.1 wrote the DataTree with the specification in the root's attributes."""
    tree = passk_fit.idata.copy()
    tree.attrs = {
        "bayescale_kind": "passk",
        "bayescale_format": 1,
        "bayescale_spec": passk_fit.spec.to_json(),
        "bayescale_sampler": json.dumps(passk_fit.sampler),
    }
    path = tmp_path / "old.nc"
    tree.to_netcdf(path, engine="h5netcdf")
    assert "bayescale_state" not in xr.open_datatree(path, engine="h5netcdf").attrs
    loaded = bayescale.load(path)
    assert isinstance(loaded, passk.PassKFit)
    assert passk.load(path).spec == passk_fit.spec
    assert loaded.sampler == passk_fit.sampler
    pd.testing.assert_frame_equal(loaded.summary(), passk_fit.summary())
    pd.testing.assert_frame_equal(forecast(loaded), forecast(passk_fit))


def test_cli_fit_saves_the_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "counts.csv"
    passk.example_counts().to_csv(csv, index=False)
    out = tmp_path / "sub" / "f.nc"
    args = ["passk", "fit", str(csv), "--out", str(out), "-q", "--draws", "40", "--chains", "2"]
    with use_sampler(prior_sampler), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(args)
    assert code == 0
    printed = capsys.readouterr().out
    assert "inference-loss exponent" in printed and f"wrote {out}" in printed
    fit = bayescale.load(out)
    assert isinstance(fit, passk.PassKFit) and fit.models[0] == "sim-1e8"
    # 40 draws, or 80 and 160 after the pass@k fit's two longer runs (prior draws mix
    # slowly); each longer run is a note
    assert fit.idata["posterior"].sizes["draw"] == fit.sampler["draws"] in (40, 80, 160)
    assert (
        sum("sampled again with" in n for n in fit.notes)
        == {40: 0, 80: 1, 160: 2}[fit.sampler["draws"]]
    )
    assert main(["passk", "forecast", str(out), "--k", "100", "--target", "0.99", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert {r["quantity"] for r in record["coverage"]} == {"coverage"}
    assert {r["quantity"] for r in record["attempts"]} == {"attempts", "cost"}
    # as it will be measured once each problem has 1,000 attempts (100 made)
    assert main(["passk", "forecast", str(out), "--k", "1000", "--attempts", "1000", "--json"]) == 0
    measured = json.loads(capsys.readouterr().out)["coverage"]
    assert len(measured) == 5 and all(0 <= r["lower"] <= r["upper"] <= 1 for r in measured)


def test_moved_names_say_where_they_went() -> None:
    """voting.py and compute.py were split; an old import path names the new one."""
    from bayescale.passk import allocation, compute, voting, voting_curve

    assert voting_curve.fit_voting_curve is passk.fit_voting_curve
    assert allocation.best_allocation is passk.best_allocation
    with pytest.raises(AttributeError, match=r"moved from .* to bayescale\.passk\.voting_curve"):
        _ = voting.fit_voting_curve
    with pytest.raises(AttributeError, match=r"moved from .* to bayescale\.passk\.allocation"):
        _ = compute.best_allocation
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = voting.no_such_name


@pytest.mark.parametrize("name", ["a", "b"])
def test_effect_scale_is_drawn_from_its_exact_conditional(name: str) -> None:
    """The model effects' scale, integrated out in the fit, is drawn afterwards from its
    conditional: tau = s sqrt(lambda), lambda | w ~ InvGamma((nu + K) / 2, (nu + w'w) / 2)
    (a wrong shape, rate or square root moves the mean or the variance of 1 / lambda)."""
    from types import SimpleNamespace

    from bayescale.passk.model import effect_scale_draws

    rng = np.random.default_rng(0)
    w = np.broadcast_to(rng.normal(0.0, 1.5, size=5), (4, 5000, 5))
    post = xr.Dataset({f"e_{name}": (("chain", "draw", "effect"), w)})
    nu, s = 4.0, 0.25
    spec = SimpleNamespace(priors={f"effects_{name}": (nu, s)})
    tau = effect_scale_draws(post, spec, name, np.random.default_rng(1))  # type: ignore[arg-type]
    assert tau.dims == ("chain", "draw")
    precision = (s / tau.values) ** 2  # 1 / lambda ~ Gamma((nu + K) / 2, rate (nu + w'w) / 2)
    shape, rate = (nu + 5) / 2, (nu + float(np.sum(w[0, 0] ** 2))) / 2
    se = np.sqrt(shape) / rate / np.sqrt(precision.size)
    assert abs(precision.mean() - shape / rate) < 4 * se
    assert abs(precision.var() / (shape / rate**2) - 1) < 0.05
