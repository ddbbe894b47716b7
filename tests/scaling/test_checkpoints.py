"""Intermediate checkpoints: the early-checkpoint filter, run labels, the run-level effect
(its exact marginal likelihood, leave-one-run-out log-likelihood) and the seed-noise share
of forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayescale as bs
from bayescale.core import dims
from bayescale.core.errors import DataError, SpecificationError
from bayescale.scaling.checkpoints import drop_early_checkpoints, thin_checkpoints
from bayescale.scaling.data import has_run_effects, run_labels, validate
from bayescale.scaling.fitting import make_spec
from bayescale.scaling.forecast import seed_share
from bayescale.scaling.laws import get_law
from bayescale.scaling.model import build_model, run_marginal_logp
from tests.helpers import fit_mocked

TRUE_RUN_SIGMA = 0.03
TRUE_SIGMA = 0.004


def simulate_checkpoints(
    *,
    families: tuple[str, ...] = ("fam_a", "fam_b"),
    sizes: tuple[float, ...] = (3e7, 1e8, 3e8, 1e9),
    fractions: tuple[float, ...] = (0.1, 0.2, 0.35, 0.5, 0.7, 1.0),
    ratio: float = 40.0,
    rng_seed: int = 3,
) -> pd.DataFrame:
    """Runs with checkpoints: every run's curve is shifted by one run offset."""
    rng = np.random.default_rng(rng_seed)
    truth = {"fam_a": (1.8, 400.0, 0.34, 400.0, 0.28), "fam_b": (1.9, 450.0, 0.32, 380.0, 0.3)}
    rows = []
    for fam in families:
        e, a, alpha, b, beta = truth[fam]
        for n in sizes:
            offset = rng.normal(0, TRUE_RUN_SIGMA)
            final = n * ratio
            for step, frac in enumerate(fractions):
                d = frac * final
                loss = e + a * n**-alpha + b * d**-beta
                rows.append(
                    {
                        "family": fam,
                        "model": f"{fam}-{n:.0e}",
                        "params": n,
                        "tokens": d,
                        "checkpoint_step": 1000 * (step + 1),
                        "metric": "loss",
                        "value": loss * np.exp(offset + rng.normal(0, TRUE_SIGMA)),
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def checkpoints() -> pd.DataFrame:
    return simulate_checkpoints()


# -- the filter --------------------------------------------------------------------------
def test_filter_drops_early_checkpoints_and_reports_them(checkpoints) -> None:
    kept = drop_early_checkpoints(checkpoints, min_fraction=0.3)
    rec = kept.attrs["checkpoint_filter"]
    assert rec["removed"] == 2 * 4 * 2  # fractions 0.1 and 0.2 of 8 runs
    assert rec["rows_after"] == len(kept) == len(checkpoints) - rec["removed"]
    assert rec["removed_per_family"] == {"fam_a": 8, "fam_b": 8}
    assert rec["runs_after"] == rec["runs_before"] == 8
    assert (kept.index.isin(checkpoints.index)).all()


def test_filter_by_tokens_keeps_each_runs_final_checkpoint(checkpoints) -> None:
    kept = drop_early_checkpoints(checkpoints, min_tokens=1e10)
    # the 3e7 and 1e8 runs end below 1e10 tokens: only their final checkpoint stays
    small = kept[kept["params"] < 2e8]
    assert small.groupby("model").size().eq(1).all()
    assert kept.attrs["checkpoint_filter"]["runs_after"] == 8
    strict = drop_early_checkpoints(checkpoints, min_tokens=1e10, keep_final=False)
    assert strict["params"].min() > 2e8


def test_filter_errors_name_the_problem(checkpoints) -> None:
    with pytest.raises(SpecificationError, match="at least one of"):
        drop_early_checkpoints(checkpoints)
    with pytest.raises(SpecificationError, match="min_fraction"):
        drop_early_checkpoints(checkpoints, min_fraction=1.5)
    with pytest.raises(DataError, match="no intermediate checkpoints"):
        drop_early_checkpoints(checkpoints.drop(columns="checkpoint_step"), min_tokens=1e9)
    with pytest.raises(DataError, match=r"needs column\(s\) \['tokens'\]"):
        thin_checkpoints(checkpoints.drop(columns="tokens"), per_run=3)
    bad = checkpoints.copy()
    bad.loc[4, "tokens"] = -1.0
    with pytest.raises(DataError, match=r"'tokens'.*rows \[4\]"):
        thin_checkpoints(bad, per_run=3)
    with pytest.raises(SpecificationError, match="per_run"):
        thin_checkpoints(checkpoints, per_run=1)
    with pytest.raises(DataError, match="remove every row"):
        drop_early_checkpoints(checkpoints, min_tokens=1e15, keep_final=False)


def test_thinning_keeps_log_spaced_checkpoints_with_both_ends(checkpoints) -> None:
    thin = thin_checkpoints(checkpoints, per_run=3)
    assert thin.groupby("model").size().eq(3).all()
    rec = thin.attrs["checkpoint_thinning"]
    assert rec["rows_after"] == len(thin) == 24 and rec["removed"] == len(checkpoints) - 24
    for _, run in checkpoints.groupby("model"):
        kept = thin[thin["model"] == run["model"].iloc[0]]["tokens"]
        assert kept.min() == run["tokens"].min() and kept.max() == run["tokens"].max()
    # fractions 0.1..1.0: the log-midpoint of [0.1, 1] is 0.316, nearest kept fraction 0.35
    mid = sorted(thin[thin["model"] == "fam_a-3e+07"]["tokens"])[1] / (3e7 * 40)
    assert mid == pytest.approx(0.35)


# -- run labels --------------------------------------------------------------------------
def test_runs_are_identified_by_model_label_or_size(checkpoints) -> None:
    ds = validate(checkpoints)
    assert ds.sizes[dims.RUN] == 8
    assert has_run_effects(ds)
    without_model = validate(checkpoints.drop(columns="model"))
    assert without_model.sizes[dims.RUN] == 8  # grouped by (family, seed, params)
    # without checkpoint steps a model label names a size, not a run: rows are runs
    no_steps = validate(checkpoints.drop(columns="checkpoint_step").drop_duplicates("tokens"))
    assert not has_run_effects(no_steps)
    np.testing.assert_array_equal(pd.factorize(run_labels(checkpoints))[0], ds["run_idx"].values)
    final_only = checkpoints.groupby("model").tail(1).drop(columns="checkpoint_step")
    assert not has_run_effects(validate(final_only))


# -- the marginal likelihood ---------------------------------------------------------------
def test_run_marginal_logp_is_the_exact_joint_density_per_run() -> None:
    rng = np.random.default_rng(0)
    run_idx = rng.permutation(np.repeat([0, 1, 2, 3], [1, 3, 5, 2]))
    n = run_idx.size
    mu = rng.normal(size=n)
    var = rng.uniform(0.01, 0.2, size=n)
    value = mu + rng.normal(size=n) * 0.3
    tau = 0.4
    lp = run_marginal_logp(np, value, mu, var, tau, run_idx)
    for r in range(4):
        rows = run_idx == r
        cov = np.diag(var[rows]) + tau**2
        exact = stats.multivariate_normal(mu[rows], cov).logpdf(value[rows])
        np.testing.assert_allclose(lp[rows].sum(), exact, rtol=1e-10)
    # one scale per run's family: tau given per observation
    tau_run = np.array([0.1, 0.5, 0.3, 0.0])
    lp_f = run_marginal_logp(np, value, mu, var, tau_run[run_idx], run_idx)
    for r in range(4):
        rows = run_idx == r
        cov = np.diag(var[rows]) + tau_run[r] ** 2
        exact = stats.multivariate_normal(mu[rows], cov).logpdf(value[rows])
        np.testing.assert_allclose(lp_f[rows].sum(), exact, rtol=1e-10)
    # tau -> 0 gives independent normals
    lp0 = run_marginal_logp(np, value, mu, var, 0.0, run_idx)
    np.testing.assert_allclose(lp0, stats.norm(mu, np.sqrt(var)).logpdf(value))


def test_model_integrates_run_offsets_out_with_normal_and_samples_them_with_t(
    checkpoints,
) -> None:
    ds = validate(checkpoints)
    law = get_law("chinchilla")
    normal = build_model(ds, make_spec(ds, law))
    assert normal.named_vars_to_dims["run_sigma"] == (dims.FAMILY,)  # one scale per family
    assert "run_offset" not in normal.named_vars
    robust = build_model(ds, make_spec(ds, law, likelihood="studentt"))
    assert robust.named_vars_to_dims["run_offset"] == (dims.RUN,)
    off = build_model(ds, make_spec(ds, law, run_effects=False))
    assert "run_sigma" not in off.named_vars
    # the model's log density equals the exact multivariate normal one, run by run
    from bayescale.scaling.model import observed_y
    from bayescale.scaling.predictive import NUMPY_OPS

    spec = make_spec(ds, law)
    point = normal.initial_point()
    names = [p.name for p in law.parameters] + ["sigma", "run_sigma"]
    outputs = normal.replace_rvs_by_values([normal[n] for n in names])
    evaluate = normal.compile_fn(outputs, inputs=normal.value_vars, on_unused_input="ignore")
    values = {n: np.asarray(v) for n, v in zip(names, evaluate(point), strict=True)}
    fam = ds["family_idx"].values
    theta = {
        p.name: values[p.name][fam] if values[p.name].ndim else values[p.name]
        for p in law.parameters
    }
    u = {x: np.log(ds[x].values) - spec.summary.log_ref[x] for x in law.inputs}
    mu = law.log_mean(NUMPY_OPS, theta, u) * np.ones(ds.sizes[dims.OBS])
    sigma = values["sigma"][fam] if values["sigma"].ndim else values["sigma"]
    var = np.broadcast_to(sigma**2, mu.shape)
    tau = values["run_sigma"][fam]
    y = observed_y(ds, "log")
    logp = normal.compile_logp(vars=[normal["y"]], sum=False)(point)[0]
    run_idx = ds["run_idx"].values
    for r in np.unique(run_idx):
        rows = np.flatnonzero(run_idx == r)
        cov = np.diag(var[rows]) + tau[rows][0] ** 2 * np.ones((rows.size, rows.size))
        exact = stats.multivariate_normal(mu[rows], cov).logpdf(y[rows])
        np.testing.assert_allclose(logp[rows].sum(), exact, rtol=1e-8)


def test_one_family_run_marginal_density_is_the_exact_one() -> None:
    """One family: scalar parameters, and the run scale still per observation (a scalar
    reordered with the rows read out of bounds and crashed the compiled model)."""
    from bayescale.scaling.model import observed_y
    from bayescale.scaling.predictive import NUMPY_OPS

    ds = validate(simulate_checkpoints(families=("fam_a",)))
    law = get_law("chinchilla")
    spec = make_spec(ds, law)
    model = build_model(ds, spec)
    assert "family_idx" not in model.named_vars
    point = model.initial_point()
    names = [p.name for p in law.parameters] + ["sigma", "run_sigma"]
    outputs = model.replace_rvs_by_values([model[n] for n in names])
    evaluate = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")
    values = dict(zip(names, evaluate(point), strict=True))
    theta = {p.name: np.asarray(values[p.name]).reshape(-1)[0] for p in law.parameters}
    u = {x: np.log(ds[x].values) - spec.summary.log_ref[x] for x in law.inputs}
    mu = law.log_mean(NUMPY_OPS, theta, u) * np.ones(ds.sizes[dims.OBS])
    expected = run_marginal_logp(
        np,
        observed_y(ds, "log"),
        mu,
        np.full_like(mu, float(values["sigma"]) ** 2),
        float(np.asarray(values["run_sigma"]).reshape(-1)[0]),
        ds["run_idx"].values,
    )
    logp = model.compile_logp(vars=[model["y"]], sum=False)(point)[0]
    np.testing.assert_allclose(logp, expected, rtol=1e-10)


@pytest.fixture(scope="module")
def mocked_checkpoint_fit(checkpoints) -> bs.ScalingFit:
    return fit_mocked(checkpoints, draws=50)


def test_log_likelihood_is_per_run_for_leave_one_run_out(mocked_checkpoint_fit) -> None:
    ll = mocked_checkpoint_fit.idata["log_likelihood"].dataset["y"]
    assert ll.dims == ("chain", "draw", dims.RUN)
    assert ll.sizes[dims.RUN] == 8
    assert "run_sigma" in mocked_checkpoint_fit.parameter_names()
    pp = mocked_checkpoint_fit.idata["posterior_predictive"].dataset["y"]
    assert pp.sizes[dims.OBS] == 48


def test_forecast_reports_the_seed_noise_share(mocked_checkpoint_fit) -> None:
    fc = mocked_checkpoint_fit.forecast({"params": [2e9], "tokens": [8e10]}, family="fam_a")
    new = fc[fc["quantity"] == "new_run"]
    share = float(new["seed_share"].iloc[0])
    assert 0 <= share <= 1
    assert fc.loc[fc["quantity"] == "curve", "seed_share"].isna().all()


def test_seed_share_is_the_variance_fraction_of_run_noise(mocked_checkpoint_fit) -> None:
    fit = mocked_checkpoint_fit
    draws = fit.forecast_draws({"params": [2e9], "tokens": [8e10]}, family="fam_a")
    run_sigma = fit.posterior["run_sigma"].sel(family="fam_a")
    expected = float(
        (fit.posterior["sigma"] ** 2 + run_sigma**2).mean() / np.log(draws["new_run"].values).var()
    )
    np.testing.assert_allclose(seed_share(draws), min(expected, 1.0), rtol=1e-10)
    assert draws.attrs["seed_noise_identified"] == 1


# -- real NUTS ---------------------------------------------------------------------------
@pytest.mark.nuts
def test_run_effect_recovers_run_and_checkpoint_noise() -> None:
    data = simulate_checkpoints(sizes=(2e7, 6e7, 2e8, 6e8, 2e9, 6e9), rng_seed=5)
    fit = bs.fit(
        data,
        pooling={"exponent": "shared"},
        draws=500,
        tune=700,
        chains=2,
        progressbar=False,
        seed=1,
        extend_if_slow=False,
        warn_convergence=False,
    )
    # E and A share a ridge (ESS ~200 here); the noise scales, tested here, mix well
    assert fit.diagnostics.divergences == 0
    post = fit.posterior
    lo, hi = np.quantile(post["run_sigma"].values, [0.02, 0.98])
    assert lo < TRUE_RUN_SIGMA < hi
    lo, hi = np.quantile(post["sigma"].values, [0.02, 0.98])
    assert lo < TRUE_SIGMA < hi
