"""Compute-optimal inference: frontier, budgets, probability of best, plot, real counts."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from tests.helpers import SHARED_DATA

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayescale.core.errors import DataError, SpecificationError
from bayescale.core.intervals import FORECAST_COLUMNS
from bayescale.passk.allocation import best_allocation, optimal_model_by_budget
from bayescale.passk.compute import (
    DEFAULT_STRATEGY,
    accuracy_vs_compute,
    inference_flops,
    pareto_frontier,
    plot_compute_frontier,
)
from bayescale.passk.estimator import coverage_curve

PYTHIA = SHARED_DATA / "monkeys_pythia_math"
#: Tokens per sample implied by the parquet's "Inference Compute" (see the docs).
PYTHIA_TOKENS = 1200


def point_curves() -> xr.DataArray:
    """Two models on k = 1, 2, 4, 8; 'big' costs 4x per sample."""
    acc = np.array([[0.10, 0.18, 0.30, 0.40], [0.25, 0.35, 0.45, 0.50]])
    return xr.DataArray(
        acc, dims=("model", "k"), coords={"model": ["small", "big"], "k": [1, 2, 4, 8]}
    )


FLOPS = {"small": 1.0, "big": 4.0}


def test_inference_flops_default_and_override() -> None:
    assert inference_flops(1e9, 500) == pytest.approx(1e12)
    assert inference_flops(1e9, 500, flops_per_token=3e9) == pytest.approx(1.5e12)
    arr = inference_flops(np.array([1e8, 1e9]), 100)
    np.testing.assert_allclose(arr, [2e10, 2e11])
    da = inference_flops(xr.DataArray([1e8, 1e9], dims="model"), 10)
    assert isinstance(da, xr.DataArray) and da.dims == ("model",)
    with pytest.raises(SpecificationError, match="params"):
        inference_flops(-1.0, 10)
    with pytest.raises(SpecificationError, match="tokens_per_sample"):
        inference_flops(1e9, 0)


def test_accuracy_vs_compute_point_estimates() -> None:
    table = accuracy_vs_compute(point_curves(), FLOPS)
    assert list(table.columns) == [
        "model",
        "strategy",
        "k",
        "flops_per_sample",
        "compute",
        "quantity",
        "mean",
        "median",
        "lower",
        "upper",
        "ci_prob",
    ]
    assert set(table["quantity"]) == {"accuracy"}
    assert len(table) == 8
    assert set(table["strategy"]) == {DEFAULT_STRATEGY}
    big = table[table["model"] == "big"]
    np.testing.assert_allclose(big["compute"], [4, 8, 16, 32])
    np.testing.assert_allclose(big["lower"], big["upper"])


def test_accuracy_vs_compute_from_params_coord_and_draws() -> None:
    rng = np.random.default_rng(0)
    base = point_curves().values
    draws = base[None, None] + rng.normal(0, 0.01, size=(2, 50, *base.shape))
    acc = xr.DataArray(
        draws,
        dims=("chain", "draw", "model", "k"),
        coords={"model": ["small", "big"], "k": [1, 2, 4, 8], "params": ("model", [1e8, 4e8])},
    )
    table = accuracy_vs_compute(acc, tokens_per_sample=100, ci_prob=0.8)
    small = table[table["model"] == "small"]
    np.testing.assert_allclose(small["flops_per_sample"], 2e10)
    assert np.all(small["lower"] < small["mean"]) and np.all(small["mean"] < small["upper"])
    at_4 = draws[..., 0, 2].ravel()
    np.testing.assert_allclose(
        small.loc[small["k"] == 4, ["lower", "median", "upper"]].to_numpy().ravel(),
        np.quantile(at_4, [0.1, 0.5, 0.9]),
    )
    np.testing.assert_allclose(small["mean"], base[0], atol=0.01)


def test_pareto_frontier_hand_made_case() -> None:
    # compute: small 1,2,4,8; big 4,8,16,32.
    # small@1 .10, small@2 .18, big@4 .25 beats small@4 .30? no: small@4 = .30 > .25 so
    # big@4 is dominated (same compute, lower accuracy); small@8 .40 vs big@8 .35 -> big@8
    # dominated; big@16 .45 and big@32 .50 extend the frontier.
    frontier = pareto_frontier(point_curves(), FLOPS)
    got = list(zip(frontier["model"], frontier["k"], strict=True))
    assert got == [("small", 1), ("small", 2), ("small", 4), ("small", 8), ("big", 4), ("big", 8)]
    assert np.all(np.diff(frontier["compute"]) > 0)
    assert np.all(np.diff(frontier["mean"]) > 0)


def test_pareto_frontier_drops_dominated_and_ties() -> None:
    table = pd.DataFrame(
        {
            "model": ["a", "b", "c", "d", "e"],
            "compute": [1.0, 1.0, 2.0, 3.0, 3.0],
            "mean": [0.2, 0.3, 0.25, 0.5, 0.5],
        }
    )
    frontier = pareto_frontier(table)
    assert list(frontier["model"]) == ["b", "d"]  # a same compute lower; c worse; e tie
    lower = pareto_frontier(table.assign(lower=[0.1, 0.0, 0.2, 0.1, 0.3]), on="lower")
    assert list(lower["model"]) == ["a", "c", "e"]
    with pytest.raises(SpecificationError, match="lacks columns"):
        pareto_frontier(table.drop(columns="mean"))


def test_best_allocation_interpolates_in_log_k() -> None:
    # budget 3 -> small gets k = 3 (between 2 and 4), big is infeasible (needs 4).
    table = best_allocation(point_curves(), FLOPS, 3.0)
    assert tuple(table.columns[-len(FORECAST_COLUMNS) :]) == FORECAST_COLUMNS
    small = table[table["model"] == "small"].iloc[0]
    w = np.log(3 / 2) / np.log(2)
    assert small["k"] == 3
    assert small["mean"] == pytest.approx((1 - w) * 0.18 + w * 0.30)
    big = table[table["model"] == "big"].iloc[0]
    assert big["status"] == "infeasible" and big["k"] == 0 and np.isnan(big["mean"])
    assert big["prob_best"] == 0.0 and not big["best"]
    assert bool(small["best"]) and small["prob_best"] == 1.0


def test_best_allocation_exact_at_grid_and_floor() -> None:
    table = best_allocation(point_curves(), FLOPS, 8.0).set_index("model")
    assert table.loc["small", "k"] == 8 and table.loc["small", "mean"] == pytest.approx(0.40)
    assert table.loc["big", "k"] == 2 and table.loc["big", "mean"] == pytest.approx(0.35)
    assert table.loc["big", "compute"] == 8.0
    # 0.3 / 0.1 is 2.9999999999999996 in floating point: still 3 samples.
    tenth = best_allocation(point_curves(), {"small": 0.1, "big": 0.4}, 0.3)
    assert tenth.set_index("model").loc["small", "k"] == 3
    # 7.99 buys big only 1 sample (floor), not 2.
    floor = best_allocation(point_curves(), FLOPS, 7.99).set_index("model")
    assert floor.loc["big", "k"] == 1 and floor.loc["small", "k"] == 7


def test_beyond_grid_raises_with_model_and_range() -> None:
    with pytest.raises(SpecificationError, match=r"'small'.*k=16.*\[1, 8\]"):
        best_allocation(point_curves(), FLOPS, 16.0)
    table = best_allocation(point_curves(), FLOPS, [16.0, 19.0], beyond_grid="exclude")
    for budget in (16.0, 19.0):
        rows = table[table["budget"] == budget].set_index("model")
        assert rows.loc["small", "status"] == "beyond grid"
        assert rows.loc["big", "k"] == 4 and rows.loc["big", "mean"] == pytest.approx(0.45)
        assert bool(rows.loc["big", "best"])


def test_all_infeasible_budget() -> None:
    table = best_allocation(point_curves(), FLOPS, 0.5)
    assert set(table["status"]) == {"infeasible"}
    assert not table["best"].any()
    sweep = optimal_model_by_budget(point_curves(), FLOPS, [0.5, 2.0])
    assert pd.isna(sweep.loc[0, "model"]) and sweep.loc[0, "n_feasible"] == 0
    assert sweep.loc[1, "model"] == "small" and sweep.loc[1, "k"] == 2


def test_probability_of_best_on_constructed_draws() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    wins = rng.random(n) < 0.7  # model "a" beats "b" in 70% of draws
    a = np.where(wins, 0.6, 0.4)
    b = np.full(n, 0.5)
    draws = np.stack([a, b], axis=-1)[:, :, None] * np.ones((1, 1, 2))
    acc = xr.DataArray(
        draws.reshape(4, n // 4, 2, 2),
        dims=("chain", "draw", "model", "k"),
        coords={"model": ["a", "b"], "k": [1, 10]},
    )
    table = best_allocation(acc, {"a": 1.0, "b": 1.0}, 5.0).set_index("model")
    assert table.loc["a", "prob_best"] == pytest.approx(wins.mean())
    assert table.loc["a", "prob_best"] == pytest.approx(0.7, abs=0.03)
    assert table.loc["a", "prob_best"] + table.loc["b", "prob_best"] == pytest.approx(1.0)
    assert bool(table.loc["a", "best"])  # mean 0.54 > 0.5
    # ties are shared
    tied = best_allocation(acc.where(acc.model == "b", 0.5), {"a": 1.0, "b": 1.0}, 5.0)
    np.testing.assert_allclose(tied["prob_best"], [0.5, 0.5])


def test_strategies_and_strategy_specific_cost() -> None:
    acc = xr.concat(
        [point_curves(), point_curves() * 0.9], dim=pd.Index(["pass@k", "vote"], name="strategy")
    )
    fps = xr.DataArray(
        [[1.0, 1.0], [4.0, 2.0]],
        dims=("model", "strategy"),
        coords={"model": ["small", "big"], "strategy": ["pass@k", "vote"]},
    )
    table = best_allocation(acc, fps, 4.0).set_index(["model", "strategy"])
    assert table.loc[("big", "vote"), "k"] == 2
    assert table.loc[("big", "vote"), "mean"] == pytest.approx(0.9 * 0.35)
    assert table.loc[("big", "pass@k"), "k"] == 1
    # big voting with 2 samples (0.315) beats small pass@k with 4 (0.30)
    assert bool(table.loc[("big", "vote"), "best"])
    assert table["best"].sum() == 1


def test_callable_accuracy_at_is_evaluated_at_exact_k() -> None:
    calls: dict[str, np.ndarray] = {}

    def accuracy_at(model: str, k: np.ndarray) -> xr.DataArray:
        calls[model] = k
        scale = {"small": 0.05, "big": 0.2}[model]
        return xr.DataArray(1 - (1 - scale) ** k, dims="k")

    table = best_allocation(accuracy_at, {"small": 1.0, "big": 4.0}, [3.0, 100.0])
    rows = table[table["budget"] == 100.0].set_index("model")
    assert rows.loc["small", "k"] == 100
    assert rows.loc["small", "mean"] == pytest.approx(1 - 0.95**100)
    assert rows.loc["big", "mean"] == pytest.approx(1 - 0.8**25)
    assert {3, 100, 25} <= set(calls["small"].tolist())


def test_errors_name_the_problem() -> None:
    acc = point_curves()
    with pytest.raises(SpecificationError, match="no entry for models \\['big'\\]"):
        accuracy_vs_compute(acc, {"small": 1.0})
    with pytest.raises(SpecificationError, match="tokens_per_sample"):
        accuracy_vs_compute(acc.assign_coords(params=("model", [1e8, 4e8])))
    with pytest.raises(SpecificationError, match="cannot tell the inference cost"):
        accuracy_vs_compute(acc)
    with pytest.raises(SpecificationError, match="needs 'k'"):
        accuracy_vs_compute(acc.rename(k="samples"), FLOPS)
    with pytest.raises(SpecificationError, match="stack them into 'sample'"):
        accuracy_vs_compute(acc.expand_dims(problem=[0, 1]), FLOPS)
    with pytest.raises(SpecificationError, match="whole numbers"):
        accuracy_vs_compute(acc.assign_coords(k=[0.5, 2, 4, 8]), FLOPS)
    with pytest.raises(DataError, match="not finite"):
        accuracy_vs_compute(acc.where(acc < 0.45), FLOPS)
    with pytest.raises(SpecificationError, match="ci_prob"):
        accuracy_vs_compute(acc, FLOPS, ci_prob=1.5)
    with pytest.raises(SpecificationError, match="budget"):
        best_allocation(acc, FLOPS, [-1.0])
    with pytest.raises(SpecificationError, match="> 0"):
        accuracy_vs_compute(acc, {"small": 0.0, "big": 1.0})


def test_plot_compute_frontier_lines(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    base = point_curves().values
    acc = xr.DataArray(
        base[None, None] + rng.normal(0, 0.01, size=(2, 30, *base.shape)),
        dims=("chain", "draw", "model", "k"),
        coords={"model": ["small", "big"], "k": [1, 2, 4, 8]},
    )
    observed = pd.DataFrame({"model": ["small", "big"], "k": [2, 4], "accuracy": [0.2, 0.44]})
    out = tmp_path / "frontier.png"
    fig = plot_compute_frontier(acc, FLOPS, observed=observed, path=out)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["small", "big"]
    assert "Pareto frontier" in labels and "observed" in labels
    assert len(ax.collections) == 2  # one band per model
    assert ax.get_xscale() == "log"
    assert out.exists() and out.stat().st_size > 0


def _pythia_coverage() -> xr.DataArray:
    counts = pd.read_csv(PYTHIA / "pythia_math_per_problem_counts.csv")
    params = counts.groupby("model", sort=False)["params"].first().sort_values()
    curves = []
    k = np.array([])
    for m in params.index:
        rows = counts[counts["model"] == m]
        k, cov = coverage_curve(rows["n_samples"], rows["n_correct"])
        curves.append(cov)
    return xr.DataArray(
        np.array(curves),
        dims=("model", "k"),
        coords={"model": list(params.index), "k": k, "params": ("model", params.to_numpy(float))},
    )


@pytest.mark.skipif(not PYTHIA.exists(), reason="../shared/data/monkeys_pythia_math absent")
def test_real_pythia_math_smaller_model_with_more_samples_wins() -> None:
    acc = _pythia_coverage()
    assert acc.sizes == {"model": 7, "k": 15}
    frontier = pareto_frontier(acc, tokens_per_sample=PYTHIA_TOKENS)
    assert frontier.iloc[0]["model"] == "Pythia 70M" and frontier.iloc[0]["k"] == 1
    assert frontier.iloc[-1]["model"] == "Pythia 12B" and frontier.iloc[-1]["k"] == 10_000
    # Budgets where every size fits in 1..10,000 samples: 2 N_12B T to 2e4 N_70M T.
    budgets = np.geomspace(3e13, 1.6e15, 12)
    sweep = optimal_model_by_budget(acc, None, budgets, tokens_per_sample=PYTHIA_TOKENS)
    assert (sweep["n_feasible"] == 7).all()
    # Pythia 160M with hundreds of samples beats every larger Pythia up to ~1e15 FLOPs.
    small = sweep[sweep["budget"] < 9e14]
    assert (small["model"] == "Pythia 160M").all()
    assert sweep.iloc[-1]["model"] == "Pythia 2.8B"
    at_1e14 = best_allocation(acc, None, 1e14, tokens_per_sample=PYTHIA_TOKENS)
    rows = at_1e14.set_index("model")
    assert rows.loc["Pythia 160M", "mean"] > 2 * rows.loc["Pythia 12B", "mean"]


def test_tokens_per_sample_per_model_and_stacked_draws() -> None:
    rng = np.random.default_rng(3)
    acc = xr.DataArray(
        rng.random((40, 2, 3)),
        dims=("sample", "model", "k"),
        coords={"model": ["x", "y"], "k": [1, 4, 16], "params": ("model", [1e8, 1e9])},
    )
    table = accuracy_vs_compute(acc, tokens_per_sample={"x": 100, "y": 50})
    fps = table.groupby("model")["flops_per_sample"].first()
    assert fps["x"] == pytest.approx(2e10) and fps["y"] == pytest.approx(1e11)
    with pytest.raises(SpecificationError, match="not both"):
        accuracy_vs_compute(acc, {"x": 1.0, "y": 2.0}, tokens_per_sample=10)
