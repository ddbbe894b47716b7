"""Sigmoidal emergence law: recovery, chance floor, LOO interface, extrapolation drift,
errors, loaders."""

from __future__ import annotations

import dataclasses
import inspect
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayescale.core.diagnostics import Diagnostics
from bayescale.core.errors import DataError, SpecificationError
from bayescale.emergence.obsscaling import OBSSCALING_EMERGENT, load_obsscaling_emergence
from bayescale.emergence.sigmoid import COMPUTE_DRIFT, SigmoidFit, fit_sigmoid
from bayescale.emergence.sigmoid_model import sigmoid_law
from bayescale.emergence.table import emergence_table
from bayescale.emergence.wu_lo import WU_LO_CHANCE, load_wu_lo_emergence
from tests.emergence.simulate import CUTOFF, TRUTH, simulate


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return simulate()


@pytest.fixture(scope="module")
def fit(table: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return fit_sigmoid(table, cutoff=CUTOFF, draws=1500, tune=1000, chains=2, seed=11)


# --------------------------------------------------------------------------- the law
def test_law_midpoint_floor_and_ceiling() -> None:
    c = np.array([1e10, 1e22, 1e40])
    a = sigmoid_law(c, 22.0, 0.3, 0.25, 0.9)
    assert a[0] == pytest.approx(0.25, abs=1e-9)
    assert a[1] == pytest.approx(0.575)
    assert a[2] == pytest.approx(0.9, abs=1e-9)
    assert np.all(np.diff(sigmoid_law(np.logspace(18, 26, 50), 22.0, 0.3, 0.25, 0.9)) >= 0)


# --------------------------------------------------------------------------- NUTS
def law(fc: pd.DataFrame) -> pd.DataFrame:
    """The law's rows of a forecast table (quantity "accuracy"), renumbered."""
    return fc[fc["quantity"] == "accuracy"].reset_index(drop=True)


def new_model(fc: pd.DataFrame) -> pd.DataFrame:
    """A new model's rows of a forecast table (quantity "new_model_accuracy"), renumbered."""
    return fc[fc["quantity"] == "new_model_accuracy"].reset_index(drop=True)


@pytest.mark.nuts
def test_converges(fit) -> None:
    assert fit.diagnostics.ok, str(fit.diagnostics)


@pytest.mark.nuts
def test_recovers_known_thresholds(fit) -> None:
    th = fit.threshold(ci_prob=0.9)
    for task, (lt, w, c, h, _n) in TRUTH.items():
        if task == "late":
            continue  # only its flat side is fitted: test_flat_side_*
        r = th.loc[task]
        # the threshold: where the true law is 5% of the range above chance (to 0.05 decade,
        # half the spacing of the simulated models: seed 11 puts sharp_gen's 0.016 beyond)
        f = (h - c) / (1 - c)
        x_e = lt + w * np.log(0.05 / f / (1 - 0.05 / f))
        lo, hi = r.log10_lower - 0.05, r.log10_upper + 0.05
        assert lo <= x_e <= hi, (task, x_e, r.log10_lower, r.log10_upper)
        assert r.midpoint_lower <= lt <= r.midpoint_upper, (task, r.midpoint_lower)
        assert r.width_lower <= w <= r.width_upper, (task, r.width_lower, r.width_upper)
        assert r.threshold == pytest.approx(10**r.log10_threshold)
    # sharp tasks are pinned to a fraction of a decade
    assert th.loc["sharp_mc", "log10_upper"] - th.loc["sharp_mc", "log10_lower"] < 0.5


@pytest.mark.nuts
def test_absolute_onset_parameterisation(fit) -> None:
    """The sampled onset x_a is where the law is 0.05 (1 - c) above chance, whatever h."""
    post = fit.idata["posterior"].dataset
    assert "o_task" in post
    chance = np.array([TRUTH[t][2] for t in fit.tasks])
    c = xr_like(post["ceiling"], chance)
    frac = (post["ceiling"] - c) / (1 - c)
    alpha = 0.05
    np.testing.assert_allclose(
        post["midpoint"].values,
        (post["o_task"] + fit.x_ref - post["width"] * np.log(alpha / (frac - alpha))).values,
        rtol=1e-10,
    )
    # the law at 10**x_a is alpha (1 - c) above chance; "onset" is the 10% point of the rise
    d = post.isel(chain=0, draw=slice(0, 50))
    for j, ch in enumerate(chance):
        a = sigmoid_law(
            10 ** (d["o_task"][:, j].values + fit.x_ref),
            d["midpoint"][:, j].values,
            d["width"][:, j].values,
            ch,
            d["ceiling"][:, j].values,
        )
        np.testing.assert_allclose(a, ch + alpha * (1 - ch), rtol=1e-8)
    np.testing.assert_allclose(
        post["onset"].values,
        (post["midpoint"] - post["width"] * np.log(9.0)).values,
        rtol=1e-10,
    )
    # floors: widths >= 0.1 decade, jumps >= a tenth of the range above chance
    assert float(post["width"].min()) >= 0.1
    assert float(frac.min()) >= 0.1 - 1e-12


def xr_like(template, values: np.ndarray):
    """``values`` along ``template``'s task dim, broadcastable against it."""
    return xr.DataArray(values, dims=["task"], coords={"task": template["task"].values})


@pytest.mark.nuts
def test_emergence_probability(fit) -> None:
    p = fit.p_emergent()
    assert p["sharp_mc"] > 0.9
    assert p["sharp_gen"] > 0.9
    assert p["smooth"] < 0.1
    assert p["late"] < 0.1  # nothing has jumped in its fitted range
    # a stricter width criterion can only lower the probability
    assert np.all(fit.p_emergent(max_decades=0.5) <= p + 1e-12)


@pytest.mark.nuts
def test_flat_side_only_places_the_threshold_past_the_data(fit) -> None:
    lt, w, c, h, _n = TRUTH["late"]
    f = (h - c) / (1 - c)
    truth = lt + w * np.log(0.05 / f / (1 - 0.05 / f))  # 24.08, past the cut-off 23.5
    r = fit.threshold(ci_prob=0.9).loc["late"]
    assert truth > r["data_hi"]
    assert r["p_beyond"] >= 0.9  # not yet left chance by the largest fitted model
    assert r["log10_lower"] <= truth <= r["log10_upper"], (truth, r["log10_lower"])


@pytest.mark.nuts
def test_chance_floor_respected(fit) -> None:
    fc = fit.forecast(np.logspace(12, 27, 40), ci_prob=0.9)
    for task, (_lt, _w, c, _h, _n) in TRUTH.items():
        f, new = law(fc[fc["task"] == task]), new_model(fc[fc["task"] == task])
        assert (f["lower"] >= c - 1e-9).all()
        assert (new["lower"] >= 0).all() and (new["upper"] <= 1).all()
        assert f["median"].iloc[0] == pytest.approx(c, abs=1e-3)
        assert np.all(np.diff(f["median"].to_numpy()) >= -1e-9)


@pytest.mark.nuts
def test_held_out_forecasts(fit, table: pd.DataFrame) -> None:
    h = fit.held_out_check(ci_prob=0.9)
    assert len(h) == int((table["compute"] >= CUTOFF).sum())
    assert (h["pred_lower"] <= h["pred_median"]).all()
    assert (h["pred_median"] <= h["pred_upper"]).all()
    assert h["covered"].mean() >= 0.6
    sc = fit.forecast_scores(ci_prob=0.9)
    assert set(sc.index) == set(TRUTH)
    assert "held-out forecasts" in str(fit)


@pytest.mark.nuts
def test_loo_interface_shape_and_order(fit, table: pd.DataFrame) -> None:
    from scipy import stats

    for task in TRUTH:
        sub = table[(table["task"] == task) & (table["compute"] < CUTOFF)]
        sub = sub.sort_values(["compute", "model"])
        tree = fit.task_log_likelihood(task)
        y = tree["log_likelihood"].dataset["y"]
        assert y.dims == ("chain", "draw", "obs")
        assert y.sizes["obs"] == len(sub)
        np.testing.assert_array_equal(y["obs"].values, np.arange(len(sub)))
        np.testing.assert_array_equal(y["model"].values, sub["model"].to_numpy())
        np.testing.assert_allclose(y["compute"].values, sub["compute"].to_numpy())
        assert np.all(np.diff(y["compute"].values) >= 0)
        obs = tree["observed_data"].dataset["y"]
        np.testing.assert_allclose(obs.values, sub["value"].to_numpy())
        loo = fit.loo(task)
        assert np.isfinite(float(loo.elpd))
    # the stored values are beta-binomial log masses plus log n (accuracy-scale density)
    post = fit.idata["posterior"].dataset.isel(chain=0, draw=0)
    task = "sharp_mc"
    j = fit.tasks.index(task)
    sub = table[(table["task"] == task) & (table["compute"] < CUTOFF)].sort_values("compute")
    n = TRUTH[task][4]
    p = sigmoid_law(
        sub["compute"],
        float(post["midpoint"][j]),
        float(post["width"][j]),
        0.25,
        float(post["ceiling"][j]),
    )
    kap = float(post["kappa"][j])
    want = stats.betabinom.logpmf(np.round(sub["value"] * n), n, p * kap, (1 - p) * kap)
    got = fit.task_log_likelihood(task)["log_likelihood"].dataset["y"].isel(chain=0, draw=0)
    np.testing.assert_allclose(got.values, want + np.log(n), rtol=1e-6)
    # the whole fit: obs in task, compute, model order
    ll = fit.idata["log_likelihood"].dataset["y"]
    assert ll.sizes["obs"] == int((table["compute"] < CUTOFF).sum())


@pytest.mark.nuts
def test_plot_writes_file(fit, tmp_path) -> None:
    path = tmp_path / "sigmoid.png"
    fit.plot(path)
    assert path.stat().st_size > 10_000


# --------------------------------------------------------------------------- errors
def test_errors_name_the_problem(table: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="missing column"):
        emergence_table(table.drop(columns="compute"))
    bad = table.copy()
    bad.loc[3, "compute"] = -1.0
    with pytest.raises(DataError, match=r"compute.*rows \[3\]"):
        emergence_table(bad)
    bad = table.copy()
    bad.loc[5, "value"] = 55.0
    with pytest.raises(DataError, match="proportions"):
        emergence_table(bad)
    with pytest.raises(DataError, match="duplicate"):
        emergence_table(pd.concat([table, table.iloc[:1]]))
    with pytest.raises(SpecificationError, match="no chance level"):
        emergence_table(table.drop(columns="chance"))
    zero = table.drop(columns="n_questions")
    zero = zero[zero["task"] == "sharp_gen"].copy()
    zero.loc[zero.index[0], "value"] = 0.0
    with pytest.raises(DataError, match="n_questions"):
        emergence_table(zero)
    with pytest.raises(DataError, match="not in the table"):
        emergence_table(table, tasks=["nope"])
    with pytest.raises(DataError, match="below the cut-off"):
        fit_sigmoid(table, cutoff=1e20)
    with pytest.raises(SpecificationError, match="no value for task"):
        fit_sigmoid(table, cutoff={"smooth": 1e24})


def test_table_normalisation(table: pd.DataFrame) -> None:
    out = emergence_table(table.sample(frac=1.0, random_state=0), chance={"smooth": 0.2})
    assert list(pd.unique(out["task"])) == list(
        pd.unique(table.sample(frac=1.0, random_state=0)["task"])
    )
    for _, g in out.groupby("task"):
        assert g["compute"].is_monotonic_increasing
    assert (out.loc[out["task"] == "smooth", "chance"] == 0.2).all()
    assert (out.loc[out["task"] == "sharp_gen", "chance"] == 0.0).all()


def test_slice_table_overall_rows_accepted(table: pd.DataFrame) -> None:
    sl = table.drop(columns="chance").assign(slice=-1, metric="acc", family="f")
    other = sl.assign(slice=0, metric="brier", value=0.3)
    out = emergence_table(pd.concat([sl, other]), chance=0.25)
    assert len(out) == len(table)
    np.testing.assert_allclose(np.sort(out["value"]), np.sort(table["value"]))


def test_bad_ci_prob_is_an_error() -> None:
    fit = fake_fit(draws=20)
    for call in (fit.threshold, fit.held_out_check, fit.forecast_scores):
        with pytest.raises(SpecificationError, match="ci_prob"):
            call(ci_prob=1.5)
    with pytest.raises(SpecificationError, match="ci_prob"):
        fit.forecast([1e22], ci_prob=0.0)


# --------------------------------------------------------------------------- loaders
def test_wu_lo_loader() -> None:
    tab = load_wu_lo_emergence()
    assert set(tab["task"]) == set(WU_LO_CHANCE)
    assert tab["n_questions"].notna().all()
    k = tab["value"] * tab["n_questions"]
    np.testing.assert_allclose(k, np.round(k), atol=1e-6)
    assert tab.groupby("task")["model"].size().min() >= 56


def test_obsscaling_loader() -> None:
    tab = load_obsscaling_emergence()
    assert set(tab["task"]) == set(OBSSCALING_EMERGENT)
    assert ((tab["value"] >= 0) & (tab["value"] <= 1)).all()
    assert (tab.loc[tab["task"] == "parsinlu_qa_2_acc", "chance"] == 0.25).all()
    with pytest.raises(DataError, match="not accuracies"):
        load_obsscaling_emergence(["ipa_transliterate_2_bleu"])


# --------------------------------------------------------------------------- extrapolation drift
def fake_fit(compute_drift: float = COMPUTE_DRIFT, draws: int = 300) -> SigmoidFit:
    """A SigmoidFit with a made-up posterior (no sampling): task ``late`` is at chance
    over its fitted range (20 to 22.4) with its jump ahead (C* ~ 23.5), ``plateau`` sits
    at its ceiling; each has 6 held-out models up to 24.4."""
    rng = np.random.default_rng(5)
    truth = {"late": (23.5, 0.4, 0.25, 0.8), "plateau": (20.5, 0.3, 0.25, 0.85)}
    rows = []
    for t, (lt, w, c, h) in truth.items():
        for i, lc in enumerate(np.linspace(20.0, 24.4, 23)):
            p = float(sigmoid_law(10**lc, lt, w, c, h))
            rows.append(
                {
                    "task": t,
                    "model": f"m{i:02d}",
                    "compute": 10**lc,
                    "value": rng.binomial(500, p) / 500,
                    "n_questions": 500,
                    "chance": c,
                }
            )
    data = emergence_table(pd.DataFrame(rows))
    data["held_out"] = data["compute"] >= 10**22.5
    shape = (2, draws)

    def per_task(f):  # (chain, draw, task)
        return (("chain", "draw", "task"), np.stack([f(*v) for v in truth.values()], axis=-1))

    post = xr_dataset(
        {
            "midpoint": per_task(lambda lt, *_: rng.normal(lt + 0.5, 0.4, shape)),
            "width": per_task(lambda _lt, w, *_: w * np.exp(rng.normal(0, 0.2, shape))),
            "ceiling": per_task(lambda *v: rng.uniform(v[3] - 0.05, v[3] + 0.05, shape)),
            "kappa": per_task(lambda *_: rng.uniform(200, 400, shape)),
        },
        list(truth),
    )
    return SigmoidFit(
        idata=xr.DataTree.from_dict({"/posterior": post}),
        tasks=list(truth),
        data=data,
        cutoff={t: 10**22.5 for t in truth},
        diagnostics=Diagnostics(0, 2 * draws, 1.0, 1000.0),
        x_ref=21.0,
        chance={t: v[2] for t, v in truth.items()},
        compute_drift=compute_drift,
    )


def xr_dataset(variables: dict, tasks: list[str]) -> xr.Dataset:
    n_chain, n_draw = next(iter(variables.values()))[1].shape[:2]
    return xr.Dataset(
        variables,
        coords={"chain": np.arange(n_chain), "draw": np.arange(n_draw), "task": tasks},
    )


def test_drift_leaves_the_fitted_range_alone_and_widens_beyond() -> None:
    fit = fake_fit(compute_drift=1.0)  # the default 4 saturates this toy's bands at once
    off = dataclasses.replace(fit, compute_drift=0.0)
    lo, hi = fit.fitted_range("late")
    assert (lo, hi) == pytest.approx((20.0, 22.4))
    x = np.array([20.0, 21.0, 22.0, hi, hi + 0.25, hi + 0.5, hi + 1.0, hi + 2.0])
    on_all, off_all = fit.forecast(10**x, task="late"), off.forecast(10**x, task="late")
    on_fc, off_fc = law(on_all), law(off_all)
    inside = x <= hi
    # inside the fitted range: the law's and a new model's bands are exactly unchanged
    pd.testing.assert_frame_equal(on_fc[inside], off_fc[inside])
    pd.testing.assert_frame_equal(new_model(on_all)[inside], new_model(off_all)[inside])
    np.testing.assert_allclose(fit.beyond("late", 10**x), np.maximum(x - hi, 0), atol=1e-12)
    # beyond it: wider, and the more so the farther (the jump ahead comes sooner or later)
    width_on = (on_fc["upper"] - on_fc["lower"]).to_numpy()[~inside]
    width_off = (off_fc["upper"] - off_fc["lower"]).to_numpy()[~inside]
    extra = width_on - width_off
    assert np.all(extra[:3] > 0.01), extra
    assert extra[1] > extra[0], extra
    # each draw's curve stays monotone in compute, so every quantile of the law does
    assert np.all(np.diff(on_fc["upper"].to_numpy()) >= 0)
    assert np.all(np.diff(on_fc["lower"].to_numpy()) >= 0)
    assert np.all(
        new_model(on_all)["upper"].to_numpy()[~inside]
        >= new_model(off_all)["upper"].to_numpy()[~inside]
    )
    # every draw stays between chance and its ceiling; larger s, wider bands
    assert (on_fc["lower"] >= 0.25 - 1e-12).all() and (on_fc["upper"] <= 0.85 + 1e-12).all()
    wide = law(
        dataclasses.replace(fit, compute_drift=2 * fit.compute_drift).forecast(
            10 ** x[~inside], task="late"
        )
    )
    assert np.all((wide["upper"] - wide["lower"]).to_numpy()[:3] > width_on[:3])
    # a task on its plateau hardly moves: the drift is in compute, not in accuracy
    p_on = law(fit.forecast(10 ** x[~inside], task="plateau"))
    p_off = law(off.forecast(10 ** x[~inside], task="plateau"))
    np.testing.assert_allclose(
        p_on["upper"] - p_on["lower"], p_off["upper"] - p_off["lower"], atol=0.02
    )
    # held-out rows carry their distance from the range, coverage can only gain here
    h_on, h_off = fit.held_out_check(ci_prob=0.9), off.held_out_check(ci_prob=0.9)
    assert (h_on["beyond"] > 0).all()
    assert h_on["covered"].mean() >= h_off["covered"].mean()
    assert "compute_drift = 1" in fit.report()
    assert f"compute_drift = {COMPUTE_DRIFT:g}" in str(fake_fit(draws=20))


def test_log_score_is_the_posterior_predictive_density() -> None:
    from scipy import special, stats

    fit = fake_fit(compute_drift=1.0, draws=100)
    post = fit.idata["posterior"].dataset.stack(sample=("chain", "draw"))
    j = fit.tasks.index("late")

    def direct(log_c: float, value: float, n: int = 500) -> float:
        p = sigmoid_law(
            10**log_c,
            post["midpoint"][j].values,
            post["width"][j].values,
            0.25,
            post["ceiling"][j].values,
        )
        kap = post["kappa"][j].values
        lp = stats.betabinom.logpmf(round(value * n), n, p * kap, (1 - p) * kap) + np.log(n)
        return float(special.logsumexp(lp) - np.log(lp.size))

    x, a = np.array([20.5, 22.0, 23.5]), np.array([0.26, 0.3, 0.6])
    got = fit.log_score("late", 10**x, a)
    # inside the fitted range: the law's predictive density, whatever the drift
    for i in range(2):
        assert got[i] == pytest.approx(direct(x[i], a[i]), rel=1e-9)
    assert dataclasses.replace(fit, compute_drift=3.0).log_score("late", 10 ** x[:2], a[:2]) == (
        pytest.approx(got[:2], rel=1e-12)
    )
    # beyond: without drift the same formula; with it, an accuracy the law calls late and
    # high is less surprising
    off = dataclasses.replace(fit, compute_drift=0.0).log_score("late", 10 ** x[2:], a[2:])
    assert off[0] == pytest.approx(direct(x[2], a[2]), rel=1e-9)
    assert got[2] > off[0]
    # Beta density without question counts
    beta = fit.log_score("late", [10**21], [0.3], n_questions=np.nan)
    p = sigmoid_law(
        1e21,
        post["midpoint"][j].values,
        post["width"][j].values,
        0.25,
        post["ceiling"][j].values,
    )
    kap = post["kappa"][j].values
    want = special.logsumexp(stats.beta.logpdf(0.3, p * kap, (1 - p) * kap)) - np.log(p.size)
    assert beta[0] == pytest.approx(want, rel=1e-9)


def test_drift_errors_name_the_problem(table: pd.DataFrame) -> None:
    fit = fake_fit(draws=20)
    for bad in (-0.5, float("nan"), "big"):
        with pytest.raises(SpecificationError, match="compute_drift must be a number >= 0"):
            dataclasses.replace(fit, compute_drift=bad)
    with pytest.raises(SpecificationError, match="compute_drift must be a number >= 0"):
        fit_sigmoid(table, cutoff=CUTOFF, compute_drift=-1.0)
    with pytest.raises(SpecificationError, match=r"accuracies must lie in \[0, 1\]"):
        fit.log_score("late", [1e22], [1.5])
    with pytest.raises(SpecificationError, match="equally long"):
        fit.log_score("late", [1e22, 1e23], [0.3])
    with pytest.raises(SpecificationError, match="no Beta density"):
        fit.log_score("late", [1e22], [0.0], n_questions=np.nan)
    with pytest.raises(DataError, match="was not fitted"):
        fit.log_score("nope", [1e22], [0.3])


def test_default_drift_is_the_documented_estimate() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "emergence_sigmoid.md").read_text()
    found = re.search(r"Pooled estimate[^`]*the default:\s*`compute_drift = ([0-9.]+)`", doc)
    assert found, "docs/emergence_sigmoid.md states the pooled estimate as `compute_drift = s`"
    assert float(found.group(1)) == COMPUTE_DRIFT
    assert inspect.signature(fit_sigmoid).parameters["compute_drift"].default == COMPUTE_DRIFT
    assert fake_fit(draws=5).compute_drift == COMPUTE_DRIFT


@pytest.mark.nuts
def test_drift_on_the_real_fit(fit, table: pd.DataFrame) -> None:
    # the log score of a fitted observation is the log mean of its stored likelihood
    from scipy import special

    task = "sharp_mc"
    tree = fit.task_log_likelihood(task)
    ll = tree["log_likelihood"].dataset["y"].stack(sample=("chain", "draw"))
    want = special.logsumexp(ll.values, axis=-1) - np.log(ll.sizes["sample"])
    obs = tree["observed_data"].dataset["y"]
    got = fit.log_score(task, obs["compute"].values, obs.values)
    np.testing.assert_allclose(got, want, rtol=1e-8)
    # bands inside unchanged; held-out models beyond the range get wider bands
    off = dataclasses.replace(fit, compute_drift=0.0)
    lo, hi = fit.fitted_range(task)
    grid = 10 ** np.linspace(lo, hi, 7)
    pd.testing.assert_frame_equal(fit.forecast(grid, task=task), off.forecast(grid, task=task))
    h_on, h_off = fit.held_out_check(ci_prob=0.9), off.held_out_check(ci_prob=0.9)
    assert (h_on["beyond"] > 0).all()
    w_on = (h_on["pred_upper"] - h_on["pred_lower"]).mean()
    assert w_on >= (h_off["pred_upper"] - h_off["pred_lower"]).mean()


# --------------------------------------------------------------------------- borrowing
def test_population_prior_is_the_moment_matched_predictive() -> None:
    from bayescale.emergence.sigmoid_model import W_TAU, population_prior

    rng = np.random.default_rng(0)
    n = 4000
    post = xr.Dataset(
        {
            "mu_o": (("chain", "draw"), rng.normal(0.5, 0.2, (1, n))),
            "tau_o": (("chain", "draw"), np.full((1, n), 1.2)),
            "mu_w": (("chain", "draw"), rng.normal(-1.0, 0.1, (1, n))),
            "mu_h": (("chain", "draw"), np.full((1, n), 1.5)),
            "tau_h": (("chain", "draw"), np.full((1, n), 0.6)),
            "mu_k": (("chain", "draw"), np.full((1, n), 4.0)),
            "tau_k": (("chain", "draw"), np.full((1, n), 0.3)),
        }
    )
    prior = population_prior(post, x_ref=22.0)
    # onset: absolute, mean mu_o + x_ref, sd sqrt(tau^2 + var(mu))
    mu_o = post["mu_o"].values
    assert prior["o"][0] == pytest.approx(22.0 + mu_o.mean())
    assert prior["o"][1] == pytest.approx(np.sqrt(1.2**2 + mu_o.var()))
    assert prior["w"][1] == pytest.approx(np.sqrt(W_TAU**2 + post["mu_w"].values.var()))
    assert prior["h"] == pytest.approx((1.5, 0.6))
    assert prior["k"] == pytest.approx((4.0, 0.3))
    with pytest.raises(SpecificationError, match="two or more tasks"):
        population_prior(post.drop_vars("tau_o"), x_ref=22.0)


def test_a_new_task_gets_the_population_as_prior(table: pd.DataFrame) -> None:
    """The prior draws of a task fitted with ``population=`` are the population's."""
    from tests.helpers import prior_sampler

    population = {"o": (23.0, 0.3), "w": (-1.5, 0.2), "h": (2.0, 0.4), "k": (5.0, 0.2)}
    one = table[table["task"] == "sharp_mc"]
    options = {"draws": 2000, "chains": 1, "sampler": prior_sampler, "warn": False}
    fit = fit_sigmoid(one, cutoff=CUTOFF, population=population, **options)
    post = fit.idata["posterior"].dataset
    onset = post["o_task"].values.ravel() + fit.x_ref  # absolute log10 FLOPs
    assert onset.mean() == pytest.approx(23.0, abs=0.03)
    assert onset.std() == pytest.approx(0.3, abs=0.02)
    log_w = np.log(post["width"].values.ravel() - 0.1)
    assert log_w.mean() == pytest.approx(-1.5, abs=0.02)
    assert fit.population == population
    assert "mu_o" not in post  # no population of its own
    with pytest.raises(SpecificationError, match="two or more tasks"):
        fit.population_prior()
    with pytest.raises(SpecificationError, match=r"population\['w'\]"):
        fit_sigmoid(one, cutoff=CUTOFF, population={**population, "w": (1.0,)}, **options)


def test_family_offsets_move_a_known_family_and_spread_a_new_one() -> None:
    fit = fake_fit(compute_drift=0.0, draws=200)
    post = fit.idata["posterior"]
    n = post.dataset.sizes["draw"]
    offsets = np.tile([[0.5, 0.0]], (2, n, 1))  # family A half a decade ahead, B typical
    fit.idata["posterior"] = post.dataset.assign(
        family_offset=(("chain", "draw", "family"), offsets),
        sigma_family=(("chain", "draw"), np.full((2, n), 0.5)),
    ).assign_coords(family=["A", "B"])
    assert fit.families == ["A", "B"]
    x = 10.0 ** np.array([23.3, 23.7])  # on the late task's rise (no drift: s = 0)
    fc = {f: fit.forecast(x, task="late", family=f, ci_prob=0.9) for f in ("A", "B", None)}
    typical = [f[f["quantity"] == "accuracy"]["median"].to_numpy() for f in fc.values()]
    np.testing.assert_allclose(typical[0], typical[1])  # the law is the typical family's
    new = {k: f[f["quantity"] == "new_model_accuracy"] for k, f in fc.items()}
    # half a decade ahead on the rise: a higher accuracy
    assert (new["A"]["median"].to_numpy() > new["B"]["median"].to_numpy() + 0.02).all()
    np.testing.assert_allclose(new["B"]["median"], typical[2], atol=0.02)
    width = {k: (v["upper"] - v["lower"]).to_numpy() for k, v in new.items()}
    assert (width[None] > width["B"]).all()  # an unseen family: the families' spread added
    # the log score uses the family's offset
    a = fit.log_score("late", [1e22], [0.3], family="A")
    b = fit.log_score("late", [1e22], [0.3], family="B")
    assert a[0] != pytest.approx(b[0])
