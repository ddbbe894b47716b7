"""Bayesian Slice-and-Sandwich: data checks, the LOO interface, threshold and forecasts."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from bayescale.core.errors import DataError, SpecificationError
from bayescale.emergence.sandwich import SandwichFit, fit_sandwich
from bayescale.emergence.sandwich_model import (
    ACCURACY_DRIFT,
    EXTRAPOLATION_SD,
    difficulty_basis,
    easy_hard_slices,
    merge_degenerate_slices,
)
from bayescale.emergence.sigmoid import fit_sigmoid
from bayescale.emergence.wu_lo import WU_LO_EMERGENT, load_wu_lo_slices
from tests.emergence.simulate import (
    QUIZ,
    quiz_threshold,
    simulate_questions,
    simulated_table,
)
from tests.helpers import prior_sampler


# -- fast checks (no sampling) -------------------------------------------------------------
def test_groups_take_thirds_of_the_questions() -> None:
    easy, hard = easy_hard_slices(np.full(10, 0.1), 1 / 3)
    assert easy.tolist() == [0, 1, 2]
    assert hard.tolist() == [7, 8, 9]


def test_difficulty_basis_leaves_room_for_slice_scatter() -> None:
    basis = difficulty_basis(np.full(10, 0.1))
    assert basis.shape == (10, 3)  # constant, linear, quadratic in difficulty
    np.testing.assert_allclose(basis[:, 0], 1.0)
    assert np.all(np.diff(basis[:, 1]) > 0)  # easy -> hard
    # with 3 slices a full-rank factor part would be confounded with the slices' own sds
    assert difficulty_basis(np.full(3, 1 / 3)).shape == (3, 2)


def test_degenerate_slices_are_merged_with_a_note() -> None:
    rng = np.random.default_rng(0)
    low, mid, high = rng.uniform(0, 0.3, 20), rng.uniform(0.3, 0.6, 20), rng.uniform(0.5, 0.9, 20)
    b = np.column_stack([np.zeros(20), low, mid, np.ones(20), high])
    groups, notes = merge_degenerate_slices(b, np.full(5, 0.2), 0.01)
    assert groups == [[0, 1], [2], [3, 4]]
    assert len(notes) == 2 and all("merged" in n for n in notes)
    assert merge_degenerate_slices(b, np.full(5, 0.2), 0.0)[0] == [[j] for j in range(5)]


def test_missing_columns_and_tasks_are_data_errors() -> None:
    table = simulated_table()
    with pytest.raises(DataError, match="lacks column"):
        fit_sandwich(table.drop(columns="slice"), cutoff=1e23)
    with pytest.raises(DataError, match="not in the slice table"):
        fit_sandwich(table, "nope", cutoff=1e23)
    with pytest.raises(DataError, match="accuracy"):
        fit_sandwich(table[table["metric"] == "brier"], cutoff=1e23)


def test_too_few_models_below_cutoff() -> None:
    with pytest.raises(DataError, match="below the cut-off"):
        fit_sandwich(simulated_table(), cutoff=10**20.3)


def test_bad_options_are_specification_errors() -> None:
    table = simulated_table()
    with pytest.raises(SpecificationError, match="degree"):
        fit_sandwich(table, cutoff=1e23, degree=0)
    with pytest.raises(SpecificationError, match="cutoff"):
        fit_sandwich(table, cutoff=-1.0)
    with pytest.raises(SpecificationError, match="extrapolation_sd"):
        fit_sandwich(table, cutoff=1e23, extrapolation_sd=-1.0)
    with pytest.raises(SpecificationError, match="accuracy_drift"):
        fit_sandwich(table, cutoff=1e23, accuracy_drift=-0.1)


def test_accuracy_of_exactly_one_needs_the_number_of_questions() -> None:
    table = simulated_table()
    acc = table["metric"] == "acc"
    top = acc & (table["compute"] == table.loc[acc, "compute"].max())
    table.loc[top, "value"] = 1.0
    unknown = table.copy()
    unknown.loc[acc, "n_questions"] = np.nan
    with pytest.raises(DataError, match=r"strictly between 0 and 1.*n_questions"):
        fit_sandwich(unknown, cutoff=1e25)
    # with 600 questions, 1.0 is read as half a question from it: 1 - 1/1200, with a note
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_sandwich(
            table,
            cutoff=1e25,
            chance=0.25,
            draws=20,
            chains=1,
            sampler=prior_sampler,
            warn=False,
            extend_if_slow=False,
        )
    assert fit.data["acc"].values.max() == pytest.approx(1 - 1 / 1200)
    assert any("half a question" in n for n in fit.notes)
    assert any("half a question" in str(w.message) for w in caught)


def test_wu_lo_slices_have_easy_slice_zero() -> None:
    try:
        table = load_wu_lo_slices(["mmlu"])
    except (FileNotFoundError, KeyError) as exc:  # pragma: no cover - data are shipped
        pytest.skip(f"wu_lo2024 not available: {exc}")
    br = table[(table["metric"] == "brier") & (table["slice"] >= 0)]
    top = br[br["compute"] == br["compute"].max()].set_index("slice")["value"]
    # the strongest model scores best on the easiest slice, worst on the hardest
    assert top[0] < top[9]
    assert set(WU_LO_EMERGENT) >= set(table["task"])


def test_numpy_accuracy_log_likelihood_equals_pymc() -> None:
    """The accuracies' log-likelihood computed in NumPy is what PyMC computes from the
    model (prior draws stand in for a posterior: no sampling)."""
    import inspect

    import pymc as pm
    import xarray as xr

    from bayescale.emergence.sandwich_model import (
        accuracy_log_likelihood,
        build_model,
        prepare_task,
    )

    defaults = {
        k: p.default
        for k, p in inspect.signature(fit_sandwich).parameters.items()
        if k in ("other_degree", "easy_fraction", "horizon", "min_slice_sd")
    }
    prep = prepare_task(
        simulated_table(saturated=True), None, cutoff=10**22.9, degree=3, **defaults
    )
    mask = prep.fit_mask
    model = build_model(
        prep.x, prep.briers[mask], prep.data.acc[mask], prep.weights, 3, prep.slice_degree
    )
    with model:
        prior = pm.sample_prior_predictive(draws=60, random_seed=3)["prior"].dataset
    post = prior.drop_vars([v for v in prior.data_vars if v in ("y", "brier")])
    mine = accuracy_log_likelihood(
        post, prep.x, prep.briers[mask], prep.data.acc[mask], prep.weights
    )
    with model:
        ref = pm.compute_log_likelihood(
            xr.DataTree.from_dict({"posterior": post}), var_names=["y"], progressbar=False
        )
    np.testing.assert_allclose(mine.values, ref["log_likelihood"]["y"].values, rtol=1e-9)


# -- one real NUTS fit on simulated data ----------------------------------------------------
@pytest.fixture(scope="module")
def fit() -> SandwichFit:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fit_sandwich(
            simulated_table(saturated=True),
            cutoff=10**22.9,
            degree=3,
            draws=1000,  # this simulated task mixes slowly (bulk ESS ~100 per 1000 draws
            tune=1000,  # at 500 + 500), so the short run needs the retry and can fall short
            chains=2,
            seed=7,
        )
    out.caught = [str(w.message) for w in caught]  # type: ignore[attr-defined]
    return out


@pytest.mark.nuts
def test_saturated_slice_is_merged_loudly(fit: SandwichFit) -> None:
    assert fit.slice_groups[-1] == [5, 6]
    assert len(fit.weights) == 6 and np.isclose(fit.weights.sum(), 1.0)
    assert any("merged" in m for m in fit.caught)  # type: ignore[attr-defined]
    assert "merged" in str(fit)
    # merging keeps the overall (question-weighted) Brier score
    assert fit.data["brier"].sizes["slice"] == 6


@pytest.mark.nuts
def test_loo_interface(fit: SandwichFit) -> None:
    ll = fit.idata["log_likelihood"].dataset["y"]
    assert ll.dims == ("chain", "draw", "obs")
    compute = ll["compute"].values
    assert np.all(np.diff(compute) >= 0) and np.all(compute < 10**22.9)
    assert ll["model"].values.tolist() == sorted(ll["model"].values.tolist())
    obs = fit.idata["observed_data"].dataset["y"]
    held = fit.data["held_out"].values
    np.testing.assert_allclose(obs.values, fit.data["acc"].values[~held])
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data"} <= set(
        fit.idata.children
    )
    assert fit.observation_info() == {"metric": "accuracy", "space": "linear", "task": "sim"}


@pytest.mark.nuts
def test_pointwise_log_likelihood_is_the_logit_normal_density_of_accuracy(
    fit: SandwichFit,
) -> None:
    from scipy import stats

    post = fit.idata["posterior"].dataset
    held = fit.data["held_out"].values
    acc = fit.data["acc"].values[~held]
    curves = fit.slice_curves(fit.data["log_c"].values[~held])  # (sample, obs, slice)
    overall = curves @ fit.weights
    stacked = post.stack(sample=("chain", "draw"))
    eta = stacked["alpha"].values[:, None] + stacked["gamma"].values[:, None] * fit.dlogit * (
        overall - fit.b_ref
    )
    sig = stacked["sigma_acc"].values[:, None]
    logit = np.log(acc / (1 - acc))
    expected = stats.norm.logpdf(logit, eta, sig) - np.log(acc * (1 - acc))
    ll = fit.idata["log_likelihood"].dataset["y"].stack(sample=("chain", "draw"))
    np.testing.assert_allclose(ll.transpose("sample", "obs").values, expected, rtol=1e-6)


@pytest.mark.nuts
def test_converges_and_finds_the_turn(fit: SandwichFit) -> None:
    assert fit.diagnostics.divergences == 0
    assert fit.diagnostics.max_rhat <= 1.02
    # Wu & Lo's reading: the easy slices turn at 10^22.5 in this simulation
    with pytest.raises(SpecificationError, match="chance"):
        fit.threshold()  # task "sim": no known chance level
    th = dataclasses.replace(fit, chance=0.25).threshold(ci_prob=0.9).loc["sim"]
    assert th["p_turn"] > 0.8
    assert th["turn_lower"] <= 22.5 + 0.3 and th["turn_upper"] >= 22.5 - 0.3
    em = dataclasses.replace(fit, chance=0.25).emergence().loc["sim"]
    assert em["p_turn_soar"] > 0.5
    assert em["p_turn_soar"] <= em["p_offset"] <= em["p_turn"]


def quantity(fc, name: str):  # type: ignore[no-untyped-def]
    """The rows of one quantity of a forecast table, in compute order."""
    return fc[fc["quantity"] == name].reset_index(drop=True)


@pytest.mark.nuts
def test_forecast_and_held_out(fit: SandwichFit) -> None:
    fc = fit.forecast([1e22, 1e23], ci_prob=0.9)
    assert set(fc["quantity"]) >= {"accuracy", "new_model_accuracy", "brier", "slice_0"}
    curve, new = quantity(fc, "accuracy"), quantity(fc, "new_model_accuracy")
    assert (new["lower"] <= curve["lower"]).all() and (curve["upper"] <= new["upper"]).all()
    check = fit.held_out_check(ci_prob=0.9)
    assert len(check) == int(fit.data["held_out"].sum())
    with pytest.raises(SpecificationError):
        fit.forecast([1e22], ci_prob=1.5)


@pytest.mark.nuts
def test_accuracy_bands_are_bounded_and_widen_past_the_cutoff(fit: SandwichFit) -> None:
    far = 10.0 ** np.array([22.0, 23.5, 24.0, 26.0])  # fitted up to 10^22.9
    fc = fit.forecast(far, ci_prob=0.9)
    acc = fc[fc["quantity"].isin(["accuracy", "new_model_accuracy"])]
    assert (acc[["lower", "median", "upper"]] >= 0).all().all()
    assert (acc[["lower", "median", "upper"]] <= 1).all().all()
    brier = quantity(fc, "brier")
    width = (brier["upper"] - brier["lower"]).to_numpy()
    assert width[2] > width[1] > width[0]
    # the extrapolation term only acts past the fitted range
    narrow = dataclasses.replace(fit, extrapolation_sd=0.0, accuracy_drift=0.0)
    narrow_b = quantity(narrow.forecast(far, ci_prob=0.9), "brier")
    assert np.isclose(narrow_b["median"].iloc[0], brier["median"].iloc[0], atol=0.01)
    assert (narrow_b["upper"] - narrow_b["lower"]).iloc[2] < width[2]


def test_calibrated_defaults_are_the_documented_estimates() -> None:
    """The defaults are the pooled maximum-likelihood estimates reported in the docs."""
    import inspect
    from pathlib import Path

    assert (EXTRAPOLATION_SD, ACCURACY_DRIFT) == (10.0, 0.25)
    params = inspect.signature(fit_sandwich).parameters
    assert params["extrapolation_sd"].default == 10.0
    assert params["accuracy_drift"].default == 0.25
    assert SandwichFit.extrapolation_sd == 10.0 and SandwichFit.accuracy_drift == 0.25
    doc = (Path(__file__).resolve().parents[2] / "docs" / "emergence.md").read_text()
    assert "extrapolation_sd=10" in doc and "accuracy_drift=0.25" in doc


@pytest.mark.nuts
def test_calibrated_accuracy_bands_widen_with_the_distance_past_the_cutoff(
    fit: SandwichFit,
) -> None:
    assert fit.extrapolation_sd == 10.0 and fit.accuracy_drift == 0.25
    inside = 10.0 ** np.array([21.0, 22.0])
    far = 10.0 ** np.array([23.2, 23.6, 24.5])  # fitted up to 10^22.9
    grid = np.concatenate([inside, far])
    acc = quantity(fit.forecast(grid, ci_prob=0.9), "new_model_accuracy")
    width = (acc["upper"] - acc["lower"]).to_numpy()
    assert width[4] > width[3] > width[2] > width[1]
    # inside the fitted range the calibrated terms do nothing
    off = dataclasses.replace(fit, extrapolation_sd=0.0, accuracy_drift=0.0)
    acc0 = quantity(off.forecast(grid, ci_prob=0.9), "new_model_accuracy")
    width0 = (acc0["upper"] - acc0["lower"]).to_numpy()
    np.testing.assert_allclose(width[:2], width0[:2], atol=0.02)
    assert (width[2:] > width0[2:]).all()
    # the accuracy drift alone widens the accuracy bands, not the Brier bands
    drift = dataclasses.replace(fit, extrapolation_sd=0.0)
    fc = drift.forecast(far, ci_prob=0.9)
    a = quantity(fc, "new_model_accuracy")
    b = quantity(fc, "brier")
    b0 = quantity(off.forecast(far, ci_prob=0.9), "brier")
    assert ((a["upper"] - a["lower"]).to_numpy() > width0[2:]).all()
    np.testing.assert_allclose(b["upper"].to_numpy(), b0["upper"].to_numpy())


@pytest.mark.nuts
def test_log_score_is_the_predictive_density_of_accuracy(fit: SandwichFit) -> None:
    from scipy import stats
    from scipy.special import logsumexp

    post = fit.idata["posterior"].dataset.stack(sample=("chain", "draw"))
    log_c = np.array([21.5, 22.5])  # inside the fitted range: no extrapolation terms
    acc = np.array([0.3, 0.4])
    overall = fit.slice_curves(log_c) @ fit.weights
    eta = post["alpha"].values[:, None] + post["gamma"].values[:, None] * fit.dlogit * (
        overall - fit.b_ref
    )
    lp = stats.norm.logpdf(np.log(acc / (1 - acc)), eta, post["sigma_acc"].values[:, None])
    expected = logsumexp(lp, axis=0) - np.log(len(eta)) - np.log(acc * (1 - acc))
    np.testing.assert_allclose(fit.log_score(10**log_c, acc), expected, rtol=1e-8)
    # far past the cut-off, a surprising accuracy is less improbable with the drift
    off = dataclasses.replace(fit, extrapolation_sd=0.0, accuracy_drift=0.0)
    surprise = fit.log_score([10**24.5], [0.95])[0]
    assert surprise > off.log_score([10**24.5], [0.95])[0]
    with pytest.raises(SpecificationError):
        fit.log_score([1e23], [1.0])


@pytest.mark.nuts
def test_plot(fit: SandwichFit, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fig = fit.plot(tmp_path / "sandwich.png")
    assert isinstance(fig, Figure)
    assert (tmp_path / "sandwich.png").stat().st_size > 0
    assert "threshold" in fit.report()


# -- one real NUTS fit on Wu & Lo's data (a control task) ------------------------------------
@pytest.fixture(scope="module")
def real_fit() -> SandwichFit:
    from bayescale.emergence.wu_lo import WU_LO_FILTERED_MODELS, WU_LO_THRESHOLD

    try:
        table = load_wu_lo_slices(["hellaswag"], exclude_models=WU_LO_FILTERED_MODELS)
    except (FileNotFoundError, KeyError) as exc:  # pragma: no cover - data are shipped
        pytest.skip(f"wu_lo2024 not available: {exc}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the merge notes (g0-g2, g6-g9)
        return fit_sandwich(
            table,
            "hellaswag",
            cutoff=WU_LO_THRESHOLD["hellaswag"],
            draws=500,
            tune=500,
            chains=4,
            seed=11,
        )


@pytest.mark.nuts
def test_real_control_task_converges_and_is_not_emergent(real_fit: SandwichFit) -> None:
    diag = real_fit.diagnostics
    assert diag.divergences == 0
    assert diag.max_rhat <= 1.01
    assert diag.min_ess_bulk >= 400
    assert real_fit.p_emergent()["hellaswag"] <= 0.02
    check = real_fit.held_out_check(ci_prob=0.9)
    assert len(check) == 3
    assert ((check["pred_lower"] >= 0) & (check["pred_upper"] <= 1)).all()
    assert (check["median"] - check["value"]).abs().mean() < 0.1


# -- recovery of a known threshold from per-question results (NUTS) -------------------------
def quiz_slices(cutoff: float | None) -> tuple[pd.DataFrame, float]:
    """The simulated task's slice table (difficulty from the models below ``cutoff``, as
    Wu & Lo) and its true threshold (where the typical model leaves chance by 5%)."""
    from bayescale.emergence.slicing import difficulty_scores, slice_performance, slice_questions

    results = simulate_questions(n_models=36, n_questions=150, seed=21)
    scores = difficulty_scores(results, max_compute=cutoff)
    table = slice_performance(results, slice_questions(scores, n_slices=6))
    return table, quiz_threshold(results.attrs["q_mid"])


@pytest.fixture(scope="module")
def quiz_fits() -> dict[str, tuple[SandwichFit, float]]:
    out = {}
    for name, cutoff in (("both_sides", None), ("flat_side", 10**21.8)):
        table, truth = quiz_slices(cutoff)
        cut = 1e26 if cutoff is None else cutoff
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fit = fit_sandwich(
                table, cutoff=cut, chance=QUIZ["chance"], draws=500, tune=500, chains=2, seed=3
            )
        out[name] = (fit, truth)
    return out


@pytest.mark.nuts
def test_recognises_a_jump_in_the_data_and_both_views_place_it(quiz_fits) -> None:  # type: ignore[no-untyped-def]
    fit, truth = quiz_fits["both_sides"]
    assert fit.diagnostics.divergences == 0, str(fit.diagnostics)
    assert fit.p_emergent().loc["quiz"] >= 0.9
    th = fit.threshold(ci_prob=0.9).loc["quiz"]
    # the sandwich's curve (polynomial Brier slices through a logit-linear map) leaves
    # chance early on a sharp jump (docs/emergence.md, "Which view answers"): within a decade
    assert truth - 1.0 <= th["log10_lower"] <= th["log10_upper"] <= truth + 0.3, (truth, th)
    # the sigmoid of the same accuracies recovers it: the known threshold in its interval
    table, _ = quiz_slices(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        sig = fit_sigmoid(table, chance=QUIZ["chance"], draws=500, tune=500, chains=2, seed=3)
    assert sig.diagnostics.ok, str(sig.diagnostics)
    row = sig.threshold(ci_prob=0.9).loc["quiz"]
    assert row["log10_lower"] <= truth <= row["log10_upper"], (truth, row)
    assert row["p_emergent"] >= 0.9 and row["view"] == "sigmoid"


@pytest.mark.nuts
def test_only_the_flat_side_is_not_called_emergent(quiz_fits) -> None:  # type: ignore[no-untyped-def]
    fit, truth = quiz_fits["flat_side"]
    assert fit.diagnostics.divergences == 0, str(fit.diagnostics)
    assert truth > fit.x_range[1]  # the jump is past every fitted model
    th = fit.threshold(ci_prob=0.9).loc["quiz"]
    # not yet: the threshold lies beyond the fitted models (where past them is the
    # polynomials' extrapolation: the back-test's question, docs/emergence.md)
    assert th["p_beyond"] >= 0.9
    assert fit.p_emergent().loc["quiz"] <= 0.1
