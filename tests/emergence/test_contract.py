"""The emergence fits follow bayescale's one contract: save, load, summarise, forecast, compare.

Prior draws (:func:`tests.helpers.prior_sampler`) stand in for MCMC except in the one test
marked ``nuts``; the log-likelihoods are the fits' real ones, so :func:`bayescale.compare`
runs on real numbers. Each model is built (and compiled) once per module.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import bayescale
from bayescale.core.errors import FitFileError, SpecificationError
from bayescale.core.intervals import FORECAST_COLUMNS
from bayescale.core.results import FitResult
from bayescale.emergence import (
    QuantaFit,
    SandwichFit,
    SigmoidFit,
    fit_sandwich,
    fit_sigmoid,
    fit_token_losses,
    fit_zipf_counts,
    simulate_quanta_counts,
    simulate_token_losses,
)
from bayescale.emergence.criteria import MARGIN, THRESHOLD_COLUMNS
from bayescale.emergence.summaries import HELD_OUT_COLUMNS
from tests.emergence.simulate import CUTOFF, simulate, simulated_table
from tests.helpers import prior_sampler

MOCK = {
    "draws": 100,
    "chains": 2,
    "sampler": prior_sampler,
    "warn": False,
    "extend_if_slow": False,
}
SANDWICH_CUTOFF = 10**22.9


@pytest.fixture(scope="module")
def slices() -> pd.DataFrame:
    return simulated_table()


@pytest.fixture(scope="module")
def sandwich(slices: pd.DataFrame) -> SandwichFit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fit_sandwich(slices, cutoff=SANDWICH_CUTOFF, degree=3, chance=0.25, **MOCK)


@pytest.fixture(scope="module")
def sigmoid_one(slices: pd.DataFrame) -> SigmoidFit:
    """The sigmoid on the same task's overall accuracies (the slice table's rows)."""
    return fit_sigmoid(slices, cutoff=SANDWICH_CUTOFF, chance=0.25, **MOCK)


@pytest.fixture(scope="module")
def sigmoid_many() -> SigmoidFit:
    return fit_sigmoid(simulate(n_models=20), cutoff=CUTOFF, **MOCK)


@pytest.fixture(scope="module")
def quanta_counts() -> QuantaFit:
    counts = simulate_quanta_counts(0.5, n_quanta=200, n_samples=5000, seed=1)
    return fit_zipf_counts(counts, **MOCK)


@pytest.fixture(scope="module")
def quanta_tokens() -> QuantaFit:
    data = simulate_token_losses(
        0.5, [1e4, 1e5, 1e6], params_per_quantum=1e4, n_tokens=200, shared_tokens=False, seed=2
    )
    return fit_token_losses(data, **MOCK)


def forecasts(fit: FitResult) -> pd.DataFrame:
    """The fit's forecast table (for quanta, which forecasts nothing: its exponents)."""
    if isinstance(fit, SandwichFit):
        return fit.forecast([1e21, 1e22, 1e24], ci_prob=0.8)
    if isinstance(fit, SigmoidFit):
        return fit.forecast([1e21, 1e22, 1e24], ci_prob=0.8)
    assert isinstance(fit, QuantaFit)
    return fit.exponents(ci_prob=0.8)


# -- every kind: save, load, same class, same numbers ---------------------------------------
@pytest.mark.parametrize(
    ("name", "cls", "kind"),
    [
        ("sandwich", SandwichFit, "sandwich"),
        ("sigmoid_one", SigmoidFit, "sigmoid"),
        ("sigmoid_many", SigmoidFit, "sigmoid"),
        ("quanta_counts", QuantaFit, "quanta"),
        ("quanta_tokens", QuantaFit, "quanta"),
    ],
)
def test_round_trip_gives_the_same_fit(
    name: str, cls: type, kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    fit = request.getfixturevalue(name)
    assert isinstance(fit, FitResult) and fit.kind == kind
    path = fit.save(tmp_path / f"{name}.nc")
    back = bayescale.load(path)
    assert type(back) is cls
    summary = fit.summary(ci_prob=0.9)
    assert isinstance(summary, pd.DataFrame) and {"mean", "sd", "eti90_lb", "r_hat"} <= set(
        summary.columns
    )
    pd.testing.assert_frame_equal(back.summary(ci_prob=0.9), summary)
    pd.testing.assert_frame_equal(forecasts(back), forecasts(fit))
    assert str(back.diagnostics) == str(fit.diagnostics)
    assert back.notes == fit.notes
    assert back.report() == fit.report()
    if isinstance(fit, (SandwichFit, SigmoidFit)):
        pd.testing.assert_frame_equal(back.threshold(ci_prob=0.9), fit.threshold(ci_prob=0.9))
        pd.testing.assert_series_equal(back.p_emergent(), fit.p_emergent())
        pd.testing.assert_frame_equal(back.held_out_check(), fit.held_out_check())


def test_a_file_of_another_kind_is_refused(sandwich: SandwichFit, tmp_path: Path) -> None:
    from bayescale.scaling.fitting import load

    path = sandwich.save(tmp_path / "sandwich.nc")
    with pytest.raises(FitFileError, match="'sandwich' fit"):
        load(path)


# -- one shape for one name ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["sandwich", "sigmoid_one", "sigmoid_many"])
def test_threshold_p_emergent_and_forecast_have_one_shape(
    name: str, request: pytest.FixtureRequest
) -> None:
    fit = request.getfixturevalue(name)
    tasks = [fit.task] if isinstance(fit, SandwichFit) else fit.tasks
    th = fit.threshold(ci_prob=0.8)
    assert th.index.name == "task" and list(th.index) == tasks
    shared = ["log10_threshold", "log10_lower", "log10_upper", "threshold", "lower", "upper"]
    assert list(th.columns[:6]) == shared
    assert list(th.columns[: len(THRESHOLD_COLUMNS)]) == list(THRESHOLD_COLUMNS)
    assert (th["ci_prob"] == 0.8).all() and (th["margin"] == MARGIN).all()
    assert set(th["view"]) == {fit.kind}  # which view the answer came from
    own = {"sandwich": "turn_log10", "sigmoid": "midpoint_log10"}[fit.kind]
    assert own in th.columns  # the view's alternative reading, reported beside it
    ok = np.isfinite(th["log10_threshold"])
    np.testing.assert_allclose(th.loc[ok, "threshold"], 10 ** th.loc[ok, "log10_threshold"])
    assert (th.loc[ok, "log10_lower"] <= th.loc[ok, "log10_upper"]).all()
    pe = fit.p_emergent()
    assert isinstance(pe, pd.Series) and pe.index.name == "task" and list(pe.index) == tasks
    assert ((pe >= 0) & (pe <= 1)).all()
    np.testing.assert_allclose(th["p_emergent"], pe)
    fc = fit.forecast([1e21, 3e23], ci_prob=0.8)
    assert list(fc.columns) == ["task", "compute", *FORECAST_COLUMNS]
    assert {"accuracy", "new_model_accuracy"} <= set(fc["quantity"])
    assert set(fc["compute"]) == {1e21, 3e23} and set(fc["task"]) == set(tasks)
    assert (fc["lower"] <= fc["median"]).all() and (fc["median"] <= fc["upper"]).all()
    assert (fc["ci_prob"] == 0.8).all()
    held = fit.held_out_check(ci_prob=0.8)
    assert list(held.columns[: len(HELD_OUT_COLUMNS)]) == list(HELD_OUT_COLUMNS)
    assert len(held) > 0 and (held["beyond"] > 0).all()
    scores = fit.forecast_scores(ci_prob=0.8)
    assert list(scores.columns) == ["n_held_out", "mae", "coverage"]
    with pytest.raises(SpecificationError, match="ci_prob"):
        fit.forecast([1e22], ci_prob=1.5)
    with pytest.raises(SpecificationError, match="ci_prob"):
        fit.threshold(ci_prob=0.0)
    with pytest.raises(TypeError):
        fit.threshold(0.9)  # keyword-only


def test_summaries_report_the_emergence_quantities(
    sandwich: SandwichFit, sigmoid_many: SigmoidFit
) -> None:
    s = sandwich.summary(ci_prob=0.8)
    assert {"alpha", "gamma", "sigma_acc", "log10_threshold", "p_turn", "p_emergent"} <= set(
        s.index
    )
    assert {"eti80_lb", "eti80_ub"} <= set(s.columns)
    assert s.loc["p_emergent", "mean"] == pytest.approx(float(sandwich.p_emergent().iloc[0]))
    assert s.loc["p_turn", "mean"] == pytest.approx(float(sandwich.emergence()["p_turn"].iloc[0]))
    th = sandwich.threshold(ci_prob=0.8).iloc[0]
    assert s.loc["log10_turn", "eti80_lb"] == pytest.approx(th["turn_lower"])
    xe = sandwich.threshold_draws()
    inside = xe[np.isfinite(xe)]  # the summary row is over the draws that leave chance
    assert s.loc["log10_threshold", "mean"] == pytest.approx(inside.mean())
    g = sigmoid_many.summary(ci_prob=0.9)
    for task in sigmoid_many.tasks:
        assert g.loc[f"p_emergent[{task}]", "mean"] == pytest.approx(
            float(sigmoid_many.p_emergent()[task])
        )
        assert f"log10_threshold[{task}]" in g.index
    assert "mu_o" in g.index
    for fit in (sandwich, sigmoid_many):
        text = str(fit)
        assert text == fit.report() and "P(emerg" in text and str(fit.diagnostics) in text


def test_plots_return_figures(
    sandwich: SandwichFit,
    sigmoid_many: SigmoidFit,
    quanta_counts: QuantaFit,
    quanta_tokens: QuantaFit,
    tmp_path: Path,
) -> None:
    for name, fit in (
        ("sandwich", sandwich),
        ("sigmoid", sigmoid_many),
        ("counts", quanta_counts),
        ("tokens", quanta_tokens),
    ):
        path = tmp_path / f"{name}.png"
        fig = fit.plot(path, ci_prob=0.8)
        assert isinstance(fig, Figure) and path.stat().st_size > 5_000


# -- comparison ----------------------------------------------------------------------------
def test_sandwich_and_sigmoid_of_one_task_compare(
    sandwich: SandwichFit, sigmoid_one: SigmoidFit
) -> None:
    assert sandwich.observation_info() == sigmoid_one.observation_info()
    assert sandwich.observation_info() == {"metric": "accuracy", "space": "linear", "task": "sim"}
    a, b = sandwich.idata["log_likelihood"].dataset["y"], sigmoid_one.idata["log_likelihood"]
    assert a.dims == b.dataset["y"].dims == ("chain", "draw", "obs")
    np.testing.assert_array_equal(a["model"].values, b.dataset["model"].values)
    np.testing.assert_allclose(sandwich.observed().values, sigmoid_one.observed().values)
    cmp = bayescale.compare({"sandwich": sandwich, "sigmoid": sigmoid_one}, warn=False)
    assert set(cmp.table.index) == {"sandwich", "sigmoid"}
    assert cmp.metric == "accuracy" and cmp.unit == "obs"
    assert np.isfinite(cmp.table["elpd"]).all()
    np.testing.assert_allclose(cmp.weights.sum(), 1.0)
    for name, fit in (("sandwich", sandwich), ("sigmoid", sigmoid_one)):
        assert float(cmp.loo[name].elpd) == pytest.approx(float(fit.loo().elpd))


def test_one_task_of_a_joint_fit_has_the_one_task_layout(
    sigmoid_many: SigmoidFit, tmp_path: Path
) -> None:
    task = "sharp_mc"
    one = sigmoid_many.for_task(task)
    assert one.tasks == [task] and one.observation_info()["task"] == task
    y = one.idata["log_likelihood"].dataset["y"]
    np.testing.assert_array_equal(y["obs"].values, np.arange(y.sizes["obs"]))
    assert set(y["task"].values) == {task}
    full = sigmoid_many.idata["log_likelihood"].dataset["y"]
    np.testing.assert_array_equal(
        y.values, full.isel(obs=np.flatnonzero(full["task"].values == task)).values
    )
    pd.testing.assert_frame_equal(one.threshold(), sigmoid_many.threshold().loc[[task]])
    pd.testing.assert_frame_equal(
        one.forecast([1e22, 1e24]),
        sigmoid_many.forecast([1e22, 1e24], task=task),
    )
    assert float(one.loo().elpd) == pytest.approx(float(sigmoid_many.loo(task).elpd))
    assert type(bayescale.load(one.save(tmp_path / "one.nc"))) is SigmoidFit
    # the joint fit is of other observations than a one-task sandwich: compare refuses it
    with pytest.raises(SpecificationError, match="task"):
        bayescale.compare({"a": sigmoid_many, "b": one}, warn=False)


def test_fit_functions_share_the_defaults() -> None:
    import inspect

    for fn in (fit_sandwich, fit_sigmoid, fit_zipf_counts, fit_token_losses):
        params = inspect.signature(fn).parameters
        assert params["seed"].default == 0, fn.__name__
        assert params["sampler"].default is None, fn.__name__
        assert params["sampler"].kind is inspect.Parameter.KEYWORD_ONLY


def test_quanta_exponents_and_intervals(quanta_counts: QuantaFit) -> None:
    ex = quanta_counts.exponents(ci_prob=0.8)
    assert list(ex.index) == ["alpha", "alpha_N", "alpha_D"]
    assert list(ex.columns) == ["mean", "median", "lower", "upper", "ci_prob"]
    alpha = quanta_counts.posterior["alpha"].values.ravel()
    assert ex.loc["alpha", "lower"] == pytest.approx(np.quantile(alpha, 0.1))
    assert quanta_counts.alpha_interval(ci_prob=0.8) == pytest.approx(
        (ex.loc["alpha", "lower"], ex.loc["alpha", "upper"])
    )
    assert quanta_counts.data_kind == "counts" and quanta_counts.kind == "quanta"
    with pytest.raises(SpecificationError, match="no pointwise log-likelihood"):
        quanta_counts.loo()


# -- one real NUTS run ---------------------------------------------------------------------
@pytest.mark.nuts
def test_real_quanta_fit_round_trips(tmp_path: Path) -> None:
    counts = simulate_quanta_counts(0.5, n_quanta=1000, n_samples=20_000, seed=1)
    fit = fit_zipf_counts(counts, draws=300, tune=300, chains=2)
    assert fit.diagnostics is not None and fit.diagnostics.ok, str(fit.diagnostics)
    assert fit.sampler["nuts_sampler"] == "nutpie" and fit.sampler["seed"] == 0
    back = bayescale.load(fit.save(tmp_path / "quanta.nc"))
    assert type(back) is QuantaFit
    pd.testing.assert_frame_equal(back.summary(ci_prob=0.9), fit.summary(ci_prob=0.9))
    pd.testing.assert_frame_equal(back.exponents(ci_prob=0.9), fit.exponents(ci_prob=0.9))
    assert str(back.diagnostics) == str(fit.diagnostics)
    lo, hi = back.alpha_interval(ci_prob=0.9)
    assert lo < 0.5 < hi
