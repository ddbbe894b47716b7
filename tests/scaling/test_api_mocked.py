"""API tests with mocked sampling (prior draws instead of NUTS): structure, forecasts,
persistence, compute-optimal maths, diagnostics warnings and error messages."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr
from pymc.testing import mock_sample

import bayescale as bs
from bayescale.core.errors import ConvergenceWarning, DataError, FitFileError, SpecificationError
from bayescale.scaling.fitting import make_spec
from bayescale.scaling.forecast import NEW_FAMILY
from tests.helpers import fit_mocked, prior_sampler

POINTS = pd.DataFrame({"params": [1e9, 7e9], "tokens": [2e10, 1.4e11]})


@pytest.fixture(scope="module")
def mocked_fit(runs) -> bs.ScalingFit:
    """One mocked fit shared by the module (the model compiles once)."""
    return fit_mocked(runs)


def test_fit_returns_the_documented_groups(mocked_fit) -> None:
    groups = set(mocked_fit.idata.children)
    assert {
        "posterior",
        "observed_data",
        "constant_data",
        "log_likelihood",
        "posterior_predictive",
        "fit_data",
    } <= groups
    post = mocked_fit.posterior
    for name in ["E", "A_ref", "alpha", "B_ref", "beta", "A", "B"]:
        assert post[name].dims == ("chain", "draw", "family")
    assert list(post["family"].values) == ["fam_a", "fam_b", "fam_c"]
    assert mocked_fit.metric == "loss"


def test_conventional_parameters_match_reference_ones(mocked_fit) -> None:
    post = mocked_fit.posterior
    log_ref = mocked_fit.spec.summary.log_ref
    expected = post["A_ref"] * np.exp(post["alpha"] * log_ref["params"])
    xr.testing.assert_allclose(post["A"], expected)


def test_summary_reports_the_requested_interval(mocked_fit) -> None:
    table = mocked_fit.summary(ci_prob=0.8)
    assert any("80" in str(c) for c in table.columns)
    assert "alpha[fam_a]" in table.index
    assert "log_alpha_tau" in table.index


def test_forecast_table_has_curve_and_new_run_rows(mocked_fit) -> None:
    fc = mocked_fit.forecast(POINTS, family="fam_a", ci_prob=0.9)
    assert list(fc.quantity) == ["curve", "new_run"] * 2
    assert {"median", "mean", "lower", "upper", "ci_prob", "params", "tokens"} <= set(fc)
    assert (fc.lower <= fc["median"]).all() and (fc["median"] <= fc.upper).all()


def test_forecast_reads_a_family_column_and_is_reproducible(mocked_fit) -> None:
    pts = POINTS.assign(family=["fam_b", None])
    a = mocked_fit.forecast(pts, seed=3)
    b = mocked_fit.forecast(pts, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.family) == ["fam_b", "fam_b", NEW_FAMILY, NEW_FAMILY]
    with pytest.raises(DataError, match=r"\['fam_z'\] is not in the fit.*family=None"):
        mocked_fit.forecast(POINTS, family="fam_z")


def test_forecast_rejects_bad_points(mocked_fit) -> None:
    with pytest.raises(DataError, match="'tokens'"):
        mocked_fit.forecast({"params": [1e9]})
    with pytest.raises(DataError, match=r"'params' must be a finite number > 0; rows \[1\]"):
        mocked_fit.forecast({"params": [1e9, -1.0], "tokens": [1e10, 1e10]})
    with pytest.raises(SpecificationError, match="ci"):
        mocked_fit.forecast(POINTS, ci_prob=90)


def test_save_and_load_round_trip(mocked_fit, tmp_path) -> None:
    path = mocked_fit.save(tmp_path / "sub" / "fit.nc")
    loaded = bs.load(path)
    assert loaded.spec == mocked_fit.spec
    assert loaded.families == mocked_fit.families
    xr.testing.assert_equal(loaded.data, mocked_fit.data)
    xr.testing.assert_allclose(loaded.posterior, mocked_fit.posterior)
    pd.testing.assert_frame_equal(
        loaded.forecast(POINTS, family=None), mocked_fit.forecast(POINTS, family=None)
    )
    pd.testing.assert_frame_equal(
        bs.compute_optimal(loaded, 1e21), bs.compute_optimal(mocked_fit, 1e21)
    )


def test_load_refuses_files_that_are_not_fits(tmp_path) -> None:
    with pytest.raises(FitFileError, match="no fit file"):
        bs.load(tmp_path / "missing.nc")
    other = tmp_path / "other.nc"
    xr.Dataset({"x": ("a", [1.0, 2.0])}).to_netcdf(other, engine="h5netcdf")
    with pytest.raises(FitFileError, match=r"not a bayescale fit.*variables: x"):
        bs.load(other)
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    with pytest.raises(FitFileError, match="a text file"):
        bs.load(junk)


def test_compute_optimal_is_the_minimum_on_the_isoflop_curve(mocked_fit) -> None:
    table = bs.compute_optimal(mocked_fit, [1e20, 1e22], ci_prob=0.9, family="fam_a")
    assert len(table) == 2 * 4
    assert set(table.quantity) == {"params", "tokens", "tokens_per_param", "loss"}
    # Per draw: N* minimises L(N, C / 6N) — check against a grid for the posterior mean.
    post = mocked_fit.posterior.sel(family="fam_a").mean(("chain", "draw"))
    theta = {k: float(post[k]) for k in ["E", "A_ref", "alpha", "B_ref", "beta"]}
    single = xr.DataTree.from_dict(
        {
            "posterior": mocked_fit.posterior.sel(family=["fam_a"])
            .mean(("chain", "draw"))
            .expand_dims(chain=1, draw=1)
        }
    )
    one = bs.ScalingFit(single, mocked_fit.spec, mocked_fit.data.isel(family=[0]))
    one_tab = bs.compute_optimal(one, 1e22, family="fam_a").set_index("quantity")
    n_grid = np.geomspace(1e6, 1e14, 20001)
    loss = mocked_fit.law.predict(
        theta, {"params": n_grid, "tokens": 1e22 / (6 * n_grid)}, mocked_fit.spec.summary.log_ref
    )
    assert one_tab.loc["params", "median"] == pytest.approx(n_grid[np.argmin(loss)], rel=2e-3)
    assert one_tab.loc["loss", "median"] == pytest.approx(loss.min(), rel=1e-6)
    ratio = one_tab.loc["tokens", "median"] / one_tab.loc["params", "median"]
    assert one_tab.loc["tokens_per_param", "median"] == pytest.approx(ratio)


def test_compute_optimal_needs_chinchilla(runs, mock_pymc_sample) -> None:
    fit = bs.fit(runs, law="power_law:compute", draws=20, chains=1, progressbar=False)
    with pytest.raises(SpecificationError, match="chinchilla, chinchilla_tied"):
        bs.compute_optimal(fit, 1e21)


def test_compute_optimal_of_the_tied_law_keeps_tokens_per_param(runs, mock_pymc_sample) -> None:
    fit = bs.fit(runs, law="chinchilla_tied", draws=20, chains=1, progressbar=False)
    table = bs.compute_optimal(fit, [1e19, 1e23], family="fam_a")
    ratio = table[table.quantity == "tokens_per_param"]["median"].to_numpy()
    assert ratio[0] == pytest.approx(ratio[1], rel=1e-9)  # D*/N* = (B/A)^(1/alpha)
    post = fit.posterior.sel(family="fam_a")
    conv = fit.law.conventional(
        {k: post[k].values for k in fit.law.parameter_names}, fit.spec.summary.log_ref
    )
    expected = (conv["B"] / conv["A"]) ** (1 / post["alpha"].values)
    assert ratio[0] == pytest.approx(float(np.median(expected)), rel=1e-6)
    params = table[table.quantity == "params"]["median"].to_numpy()
    assert params[1] / params[0] == pytest.approx(100.0, rel=1e-6)  # N* grows as sqrt(C)


def test_predictive_checks(mocked_fit) -> None:
    ppc = mocked_fit.predictive_check(ci_prob=0.9)
    assert len(ppc) == mocked_fit.data.sizes["obs"]
    assert 0.0 <= ppc.attrs["coverage"] <= 1.0
    prior = mocked_fit.predictive_check(group="prior", ci_prob=0.9)
    assert "prior_predictive" in mocked_fit.idata.children
    assert len(prior) == len(ppc)


def test_fit_passes_sampler_options_to_pymc(runs, monkeypatch) -> None:
    calls: list[dict] = []

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return mock_sample(draws=kwargs.get("draws", 10))

    monkeypatch.setattr(pm, "sample", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bs.fit(
            runs,
            nuts_sampler="pymc",
            target_accept=0.95,
            draws=30,
            tune=20,
            chains=3,
            progressbar=False,
            posterior_predictive=False,
        )
    seen = calls[0]
    assert seen["nuts_sampler"] == "pymc"
    assert seen["target_accept"] == 0.95
    assert (seen["draws"], seen["tune"], seen["chains"]) == (30, 20, 3)
    # Prior draws mix "slowly" (low ESS, no divergences): one longer run follows.
    assert len(calls) == 2
    assert (calls[1]["draws"], calls[1]["tune"]) == (60, 40)
    with pytest.raises(SpecificationError, match="nuts_sampler"):
        bs.fit(runs, nuts_sampler="stan")


def test_poor_diagnostics_warn_and_name_the_parameters(runs) -> None:
    with pytest.warns(ConvergenceWarning, match=r"bulk ESS below 400 for .*log_"):
        fit = bs.fit(
            runs,
            draws=20,
            chains=2,
            progressbar=False,
            posterior_predictive=False,
            sampler=prior_sampler,
        )
    assert not fit.diagnostics.ok
    assert fit.diagnostics.low_ess
    assert fit.sampler["draws"] == 40 and "extended_after" in fit.sampler
    assert any("sampled again" in note for note in fit.spec.notes)


def test_no_extension_when_asked_or_when_it_diverged(runs) -> None:
    calls: list[dict] = []

    def spy(model, **kwargs):
        calls.append(kwargs)
        return prior_sampler(model, **kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = bs.fit(
            runs,
            draws=20,
            chains=2,
            progressbar=False,
            extend_if_slow=False,
            posterior_predictive=False,
            sampler=spy,
        )
    assert len(calls) == 1 and "extended_after" not in fit.sampler


def test_shared_pooling_forecasts(runs, mock_pymc_sample) -> None:
    fit = bs.fit(runs, pooling="shared", draws=20, chains=1, progressbar=False)
    assert fit.posterior["alpha"].dims == ("chain", "draw")
    known = fit.forecast(POINTS, family="fam_a")
    new = fit.forecast(POINTS, family=None)
    np.testing.assert_allclose(known["median"], new["median"])  # one law for all families


def test_extrapolation_distance_is_zero_inside_the_data(mocked_fit) -> None:
    from bayescale.scaling.forecast import extrapolation_distance

    n_max = float(mocked_fit.data["params"].max())
    d_max = float(mocked_fit.data["tokens"].max())
    x = {
        "params": np.array([n_max / 2, n_max * np.e, n_max]),
        "tokens": np.array([d_max / 2, d_max, d_max * np.e**2]),
    }
    np.testing.assert_allclose(extrapolation_distance(mocked_fit.spec, x), [0.0, 1.0, 2.0])
    fc = mocked_fit.forecast({"params": [n_max * np.e], "tokens": [d_max]}, family="fam_a")
    np.testing.assert_allclose(fc["extrapolation"], 1.0)


def test_extrapolation_distance_is_measured_from_the_familys_own_runs(mocked_fit) -> None:
    from dataclasses import replace

    from bayescale.scaling.forecast import extrapolation_distance

    summary = mocked_fit.spec.summary
    n_max = float(np.exp(summary.log_max["params"]))
    small = {**summary.family_log_max, "fam_b": {**summary.family_log_max["fam_b"]}}
    small["fam_b"]["params"] = float(np.log(n_max / np.e))  # fam_b stops one e-fold lower
    spec = replace(mocked_fit.spec, summary=replace(summary, family_log_max=small))
    x = {"params": np.array([n_max] * 3), "tokens": np.array([1e6] * 3)}
    d = extrapolation_distance(spec, x, ["fam_a", "fam_b", None])
    np.testing.assert_allclose(d, [0.0, 1.0, 0.0])


def test_extrapolation_rate_is_validated(runs) -> None:
    ds = bs.validate(runs)
    with pytest.raises(SpecificationError, match="extrapolation_rate"):
        make_spec(ds, bs.get_law("chinchilla"), extrapolation_rate=-0.1)


def test_rhat_just_above_the_threshold_is_not_printed_as_the_threshold() -> None:
    from bayescale.core.diagnostics import _fmt_rhat

    assert _fmt_rhat(1.0104) == "1.0104"
    assert _fmt_rhat(1.0096) == "1.010"
    assert _fmt_rhat(1.05) == "1.050"


def test_refit_keeps_the_options_and_recomputes_the_default_priors(runs) -> None:
    original = fit_mocked(
        runs,
        pooling={"alpha": "shared"},
        priors={"E": {"mu": 0.3}},
        likelihood="studentt",
        extrapolation_rate=0.01,
    )
    small = runs[runs["params"] <= runs["params"].median()]
    again = original.refit(
        small, sampler=prior_sampler, warn_convergence=False, extend_if_slow=False
    )
    assert again.data.sizes["obs"] == len(small)
    assert again.spec.pooling == original.spec.pooling
    assert again.spec.likelihood == "studentt" and again.spec.extrapolation_rate == 0.01
    assert again.spec.priors["E"].mu == 0.3  # the user's prior is kept
    assert again.spec.priors["A_ref"] != original.spec.priors["A_ref"]  # a default follows the data
    assert again.sampler["draws"] == original.sampler["draws"]
    assert original.refit(small, sampler=prior_sampler, likelihood="normal").spec.likelihood == (
        "normal"
    )


def test_forecasts_far_outside_the_training_tokens_per_param_warn(mocked_fit) -> None:
    """The runs hold 5 to 80 tokens per parameter: 20 is inside, 80 e^0.9 within the
    1 e-fold allowed, 80 e^1.5 and 5 e^-2 beyond it."""
    import warnings

    inside = pd.DataFrame({"params": [3e9, 3e9], "tokens": [6e10, 80 * np.e**0.9 * 3e9]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", bs.ExtrapolationWarning)
        mocked_fit.forecast(inside, family="fam_a")
    far = pd.DataFrame(
        {"params": [3e9, 3e9, 3e9], "tokens": [6e10, 80 * np.e**1.5 * 3e9, 5 * np.e**-2 * 3e9]}
    )
    with pytest.warns(
        bs.ExtrapolationWarning, match=r"2 of 3 forecast points.*points 1 \(D/N"
    ) as rec:
        table = mocked_fit.forecast(far, family="fam_a")
    assert len(table) == 2 * len(far)  # the forecast is still made
    assert rec[0].filename == __file__  # the warning points at the caller's line
    with pytest.warns(bs.ExtrapolationWarning) as rec:
        mocked_fit.forecast_draws(far, family="fam_a")
    assert rec[0].filename == __file__


def test_ratio_distance_is_nan_for_a_law_in_compute(runs, mock_pymc_sample) -> None:
    from bayescale.scaling.forecast import ratio_distance

    fit = bs.fit(runs, law="power_law:compute", draws=20, chains=1, progressbar=False)
    assert np.isnan(ratio_distance(fit.data, pd.DataFrame({"compute": [1e21]}))).all()
