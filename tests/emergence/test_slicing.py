"""Difficulty slicing (bayescale.emergence.slicing): simulated per-question data and wu_lo2024."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayescale import emergence as sl
from bayescale.core.errors import DataError
from bayescale.emergence.slice_table import SLICE_COLUMNS
from tests.helpers import SHARED_DATA

RAW = SHARED_DATA / "wu_lo2024_emergence/data"


def simulate(n_q: int = 200, n_models: int = 12, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-question results with known difficulty d_j: P(correct) = sigmoid(theta_m - d_j)."""
    rng = np.random.default_rng(seed)
    d = rng.normal(0.0, 1.5, n_q)
    log_c = np.linspace(20, 24, n_models)
    theta = 1.2 * (log_c - 22.0)
    p = 1.0 / (1.0 + np.exp(-(theta[:, None] - d[None, :] + rng.normal(0, 0.1, (n_models, n_q)))))
    correct = rng.random((n_models, n_q)) < p
    frame = pd.DataFrame(
        {
            "task": "sim",
            "model": np.repeat([f"m{i:02d}" for i in range(n_models)], n_q),
            "family": "fam",
            "compute": np.repeat(10.0**log_c, n_q),
            "question": np.tile(np.arange(n_q), n_models),
            "prob": p.ravel(),
            "correct": correct.ravel().astype(int),
        }
    )
    return frame, d


@pytest.fixture(scope="module")
def sim() -> tuple[pd.DataFrame, np.ndarray]:
    return simulate()


@pytest.fixture(scope="module")
def wu_lo() -> pd.DataFrame:
    return sl.slice_table_from_wu_lo()


# --------------------------------------------------------------------------- TC Brier


def test_tc_brier_hand_computed() -> None:
    assert sl.target_conditioned_brier([1.0, 0.5, 0.0, 0.25]).tolist() == [0.0, 0.25, 1.0, 0.5625]
    # Choice probabilities are renormalised over the choice set (Wu & Lo "redist").
    out = sl.target_conditioned_brier([[0.1, 0.1, 0.2], [0.5, 0.3, 0.2]], target=[2, 0])
    np.testing.assert_allclose(out, [(1 - 0.5) ** 2, (1 - 0.5) ** 2])
    raw = sl.target_conditioned_brier([[0.1, 0.1, 0.2]], target=[2], renormalize=False)
    np.testing.assert_allclose(raw, [0.64])
    ragged = sl.target_conditioned_brier([[0.5, 0.5], [0.2, 0.2, 0.6]], target=[1, 2])
    np.testing.assert_allclose(ragged, [0.25, 0.16])


def test_tc_brier_errors_name_rows() -> None:
    with pytest.raises(DataError, match=r"row 1 \(0-based\).*1\.5"):
        sl.target_conditioned_brier([0.2, 1.5])
    with pytest.raises(DataError, match="target: not a valid choice index in row 0"):
        sl.target_conditioned_brier([[0.2, 0.8]], target=[2])
    with pytest.raises(DataError, match="log values"):
        sl.target_conditioned_brier([[-1.2, -0.3]], target=[0])


# --------------------------------------------------------------------------- per-question path


def test_difficulty_recovers_true_order(sim) -> None:
    frame, d = sim
    scores = sl.difficulty_scores(frame)
    assert scores.attrs["by"] == "brier"
    assert list(scores.columns) == ["task", "question", "difficulty", "n_models"]
    # question labels are strings ("0", "1", ...), in input order
    truth = d[scores["question"].astype(int).to_numpy()]
    rho = pd.Series(scores["difficulty"].to_numpy()).corr(pd.Series(truth), method="spearman")
    assert rho > 0.95
    acc = sl.difficulty_scores(frame, by="acc")
    truth = d[acc["question"].astype(int).to_numpy()]
    rho_acc = pd.Series(acc["difficulty"].to_numpy()).corr(pd.Series(truth), method="spearman")
    assert rho_acc > 0.8


def test_max_compute_and_exclusions_are_reported(sim) -> None:
    frame, _ = sim
    scores = sl.difficulty_scores(frame, max_compute=1e22, exclude_models=["m00"])
    assert (scores["n_models"] == 5).all()  # m01..m05 have compute <= 1e22
    notes = " ".join(scores.attrs["notes"])
    assert "m00" in notes and "compute > 1e+22" in notes
    with pytest.raises(DataError, match="no model is left"):
        sl.difficulty_scores(frame, max_compute=1.0)


def test_equal_slices_follow_difficulty(sim) -> None:
    frame, d = sim
    slices = sl.slice_questions(sl.difficulty_scores(frame), n_slices=10)
    sizes = slices.groupby("slice").size()
    assert sizes.tolist() == [20] * 10
    assert slices.loc[slices["slice"] == 0, "slice_label"].iloc[0] == "0_20"
    true_mean = (
        slices.assign(d=d[slices["question"].astype(int).to_numpy()]).groupby("slice")["d"].mean()
    )
    assert true_mean.is_monotonic_increasing
    # floor(k Q / K) boundaries, as in the source: 103 questions in 10 slices
    small = sl.slice_questions(sl.difficulty_scores(frame[frame["question"] < 103]), 10)
    assert small.groupby("slice").size().tolist() == [10, 10, 10, 11, 10, 10, 11, 10, 10, 11]


def test_quantile_slices_keep_ties_together() -> None:
    scores = pd.DataFrame(
        {"task": "t", "question": range(8), "difficulty": [0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.4, 0.5]}
    )
    eq = sl.slice_questions(scores, n_slices=4, method="equal")
    assert eq.groupby("slice").size().tolist() == [2, 2, 2, 2]  # ties split, by question label
    assert eq.loc[eq["question"] == 0, "slice"].item() == 0
    with pytest.warns(UserWarning, match="non-empty quantile"):
        q = sl.slice_questions(scores, n_slices=4, method="quantile")
    assert q.loc[q["difficulty"] == 0.1, "slice"].nunique() == 1
    assert q["n_slices"].iloc[0] == q["slice"].nunique() == 3
    assert "renumbered" in " ".join(q.attrs["notes"])


def test_slice_performance_table(sim) -> None:
    frame, _ = sim
    slices = sl.slice_questions(sl.difficulty_scores(frame), n_slices=5)
    table = sl.slice_performance(frame, slices)
    assert list(table.columns) == list(SLICE_COLUMNS)
    assert set(table["metric"]) == {"brier", "acc"}
    assert len(table) == 2 * 12 * (5 + 1)
    sl.validate_slice_table(table)
    big = table[(table["model"] == "m11") & (table["metric"] == "brier") & (table["slice"] >= 0)]
    assert big.sort_values("slice")["value"].is_monotonic_increasing  # harder slices: worse
    overall = table[(table["slice"] == -1) & (table["metric"] == "acc")]
    expect = frame.groupby("model")["correct"].mean()
    np.testing.assert_allclose(overall.set_index("model")["value"].sort_index(), expect)
    assert (overall["slice_label"] == "overall").all() and (overall["n_questions"] == 200).all()
    only = sl.slice_performance(frame, slices, metric="acc")
    assert set(only["metric"]) == {"acc"}


def test_params_tokens_give_6nd(sim) -> None:
    frame, _ = sim
    f = frame.drop(columns="compute").assign(params=1e9, tokens=2e10)
    scores = sl.difficulty_scores(f)
    table = sl.slice_performance(f, sl.slice_questions(scores, 4), metric="brier")
    assert np.allclose(table["compute"], 6 * 1e9 * 2e10)
    assert any("6*params*tokens" in n for n in table.attrs["notes"])


def test_results_errors_name_column_and_rows(sim) -> None:
    frame, _ = sim
    bad = frame.copy()
    bad.loc[5, "prob"] = 1.2
    with pytest.raises(DataError, match=r"column 'prob': not a probability.* row 5 \(0-based\)"):
        sl.difficulty_scores(bad)
    bad = frame.copy()
    bad.loc[[3, 7], "correct"] = 2
    with pytest.raises(DataError, match=r"column 'correct': not 0 or 1 in rows 3, 7"):
        sl.difficulty_scores(bad)
    with pytest.raises(DataError, match="repeat the same"):
        sl.difficulty_scores(pd.concat([frame, frame.iloc[[0]]], ignore_index=True))
    with pytest.raises(DataError, match="model 'm00' has results for 199 of the task's 200"):
        sl.difficulty_scores(frame.drop(index=3))
    bad = frame.copy()
    bad.loc[0, "compute"] = 5.0
    with pytest.raises(DataError, match="model 'm00' has different compute"):
        sl.difficulty_scores(bad)
    with pytest.raises(DataError, match=r"'prob'.*'correct'"):
        sl.difficulty_scores(frame.drop(columns=["prob", "correct"]))
    with pytest.raises(DataError, match="needs column 'prob'"):
        sl.difficulty_scores(frame.drop(columns="prob"), by="brier")


def test_csv_errors_cite_lines(tmp_path, sim) -> None:
    frame, _ = sim
    bad = frame.copy()
    bad.loc[2, "prob"] = -0.1
    path = tmp_path / "results.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"row 2 \(0-based; CSV line 4\)"):
        sl.difficulty_scores(path)


# --------------------------------------------------------------------------- slice tables


def test_validate_slice_table_errors(wu_lo) -> None:
    bad = wu_lo.copy()
    bad.loc[3, "metric"] = "loss"
    with pytest.raises(DataError, match=r"column 'metric': not 'brier' or 'acc' in row 3"):
        sl.validate_slice_table(bad)
    bad = wu_lo.copy()
    bad.loc[[0, 1], "compute"] = -1.0
    with pytest.raises(DataError, match=r"column 'compute': must be > 0.* rows 0, 1"):
        sl.validate_slice_table(bad)
    with pytest.raises(DataError, match="lacks slice"):
        sl.validate_slice_table(
            wu_lo[~((wu_lo["slice"] == 4) & (wu_lo["model"] == "microsoft/phi-2"))]
        )
    with pytest.raises(DataError, match="missing required column"):
        sl.validate_slice_table(wu_lo.drop(columns="n_slices"))
    bad = wu_lo.copy()
    bad.loc[bad.index[bad["slice"] == -1][0], "slice_label"] = "x"
    with pytest.raises(DataError, match="slice_label"):
        sl.validate_slice_table(bad)


def test_wu_lo_conversion(wu_lo) -> None:
    assert list(wu_lo.columns) == list(SLICE_COLUMNS)
    assert sorted(set(wu_lo["task"])) == sorted(sl.WU_LO_TASKS)
    assert len(wu_lo) == 8760  # one row per row of the data set
    assert set(wu_lo["n_slices"]) == {10}
    brier = wu_lo[(wu_lo["metric"] == "brier") & (wu_lo["slice"] >= 0)]
    for task, g in brier.groupby("task"):
        top = g[g["compute"] >= g["compute"].quantile(0.8)]
        low = g[g["compute"] <= g["compute"].quantile(0.2)]
        for part in (top, low):
            means = part.groupby("slice")["value"].mean()
            assert means[0] < means[9], task  # slice 0 easiest
        assert (g.loc[g["slice"] == 0, "slice_label"].str.startswith("0_")).all()
    acc = wu_lo[(wu_lo["metric"] == "acc") & (wu_lo["slice"] >= 0)]
    assert set(acc["task"]) == {"mmlu", "arithmetic", "parsinlu_qa_mc"}
    for task, g in acc.groupby("task"):
        means = g.groupby("slice")["value"].mean()
        assert means[0] > means[9], task  # accuracy: slice 0 (source g9) easiest
        assert (g.loc[g["slice"] == 9, "slice_label"].str.startswith("0_")).all()
    mmlu = wu_lo[(wu_lo["task"] == "mmlu") & (wu_lo["slice"] >= 0) & (wu_lo["metric"] == "brier")]
    assert mmlu.groupby("slice")["n_questions"].first().sum() == 14042
    ov = wu_lo[wu_lo["slice"] == -1]
    assert set(ov["metric"]) == {"brier", "acc"} and (ov["slice_label"] == "overall").all()


def test_wu_lo_merge_to_three(wu_lo) -> None:
    three = sl.slice_table_from_wu_lo(tasks=["mmlu"], n_slices=3)
    b = three[(three["metric"] == "brier") & (three["slice"] >= 0)]
    assert b.groupby("slice")["slice_label"].first().tolist() == [
        "0_4212",
        "4212_9829",
        "9829_14042",
    ]
    one = wu_lo[(wu_lo["task"] == "mmlu") & (wu_lo["metric"] == "brier")]
    m = "meta-llama/Llama-2-7b-hf"
    ten = one[(one["model"] == m) & (one["slice"].between(0, 2))]
    expect = np.average(ten["value"], weights=ten["n_questions"])
    got = b.loc[(b["model"] == m) & (b["slice"] == 0), "value"].item()
    assert got == pytest.approx(expect)
    assert (three[three["slice"] == -1]["n_slices"] == 3).all()
    excl = sl.slice_table_from_wu_lo(tasks=["arc"], exclude_models=sl.WU_LO_FILTERED_MODELS)
    assert "microsoft/phi-2" not in set(excl["model"])
    assert any("exclude_models" in n for n in excl.attrs["notes"])


def test_to_dataset(wu_lo) -> None:
    ds = sl.slice_table_to_dataset(wu_lo, task="mmlu")
    assert ds["brier"].dims == ("model", "slice")
    assert ds.sizes == {"model": 65, "slice": 10}
    assert np.all(np.diff(ds["compute"].values) >= 0)
    assert ds["brier_slice_label"].values[0] == "0_1404"
    full = sl.slice_table_to_dataset(wu_lo)
    assert full["acc"].dims == ("task", "model", "slice")
    assert np.isnan(full["acc"].sel(task="arc")).all()


@pytest.mark.skipif(not RAW.is_dir(), reason="raw Wu & Lo files not on this machine")
def test_source_files_match_shipped(wu_lo) -> None:
    src = sl.slice_table_from_wu_lo_source(RAW)
    key = ["task", "model", "metric", "slice"]
    both = wu_lo.merge(src, on=key, how="outer", indicator=True)
    assert (both["_merge"] == "both").all()
    np.testing.assert_allclose(both["value_x"], both["value_y"])
    three = sl.slice_table_from_wu_lo_source(RAW, n_slices=3, tasks=["mmlu"])
    labels = three[(three["slice"] >= 0)].groupby("slice")["slice_label"].first().tolist()
    assert labels == ["0_4680", "4680_9361", "9361_14042"]
