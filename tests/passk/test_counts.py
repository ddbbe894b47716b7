"""Validation of per-problem attempt counts (``bayescale.passk.counts``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayescale.core.errors import DataError
from bayescale.passk.counts import VALIDATED_COUNTS, to_counts_frame, validate_counts
from tests.helpers import SHARED_DATA

PYTHIA_CSV = SHARED_DATA / "monkeys_pythia_math/pythia_math_per_problem_counts.csv"


def counts_frame(**changes) -> pd.DataFrame:
    """Two models x three problems; ``changes`` replace (or, with None, drop) columns."""
    cols = {
        "model": ["m1", "m1", "m1", "m2", "m2", "m2"],
        "problem": ["p1", "p2", "p3", "p1", "p2", "p3"],
        "n_samples": [10, 10, 10, 100, 100, 100],
        "n_correct": [0, 3, 10, 1, 50, 100],
    }
    cols.update(changes)
    return pd.DataFrame({k: v for k, v in cols.items() if v is not None})


def write_csv(tmp_path: Path, frame: pd.DataFrame, blank_line_after: int | None = None) -> Path:
    """Write ``frame`` as CSV; optionally an empty line after data row ``blank_line_after``."""
    lines = frame.to_csv(index=False).splitlines()
    if blank_line_after is not None:
        lines.insert(blank_line_after + 2, "")
    path = tmp_path / "counts.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


# --- valid input --------------------------------------------------------------------------


def test_valid_frame_structure_and_round_trip():
    frame = counts_frame(
        params=[7e7, 7e7, 7e7, 1.2e10, 1.2e10, 1.2e10],
        family=["pythia"] * 6,
        compute_per_sample=[1e9, 1e9, 1e9, 2e11, 2e11, 2e11],
    )
    ds = validate_counts(frame)
    assert ds.attrs[VALIDATED_COUNTS] and ds.attrs["notes"] == ""
    assert dict(ds.sizes) == {"obs": 6, "model": 2}
    assert ds["model"].values.tolist() == ["m1", "m2"]
    np.testing.assert_array_equal(ds["obs"], np.arange(6))
    np.testing.assert_array_equal(ds["model_idx"], [0, 0, 0, 1, 1, 1])
    assert ds["n_samples"].dtype == np.int64 and ds["n_correct"].dtype == np.int64
    assert ds["problem_label"].values.tolist() == ["p1", "p2", "p3"] * 2
    # model-level columns live on the model dimension
    for col in ("params", "tokens", "compute_per_sample", "family"):
        assert ds[col].dims == ("model",)
    np.testing.assert_array_equal(ds["params"], [7e7, 1.2e10])
    np.testing.assert_array_equal(ds["compute_per_sample"], [1e9, 2e11])
    assert np.isnan(ds["tokens"]).all()
    assert ds["family"].values.tolist() == ["pythia", "pythia"]

    back = to_counts_frame(ds)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False, check_like=True)
    xr.testing.assert_identical(validate_counts(back), ds)


def test_minimal_frame_round_trip_drops_absent_model_columns():
    frame = counts_frame()
    ds = validate_counts(frame)
    assert np.isnan(ds["params"]).all() and ds["family"].values.tolist() == ["", ""]
    back = to_counts_frame(ds)
    assert list(back.columns) == ["model", "problem", "n_samples", "n_correct"]
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_index_labels_are_ignored_and_input_not_modified():
    frame = counts_frame().set_axis([10, 11, 12, 30, 31, 32])
    before = frame.copy()
    ds = validate_counts(frame)
    np.testing.assert_array_equal(ds["obs"], np.arange(6))
    pd.testing.assert_frame_equal(frame, before)


def test_whole_floats_and_numeric_labels_are_accepted():
    frame = counts_frame(
        problem=[82, 142, 188, 82, 142, 188],
        n_samples=[10.0, 10.0, 10.0, 100.0, 100.0, 100.0],
        model=[1, 1, 1, 2.0, 2.0, 2.0],
    )
    ds = validate_counts(frame)
    assert ds["model"].values.tolist() == ["1", "2"]  # 2.0 loses its ".0"
    assert ds["problem_label"].values.tolist()[:3] == ["82", "142", "188"]
    assert ds["n_samples"].dtype == np.int64


def test_model_columns_filled_from_other_rows_are_noted():
    frame = counts_frame(
        params=[1e6, np.nan, 1e6, np.nan, np.nan, np.nan],
        family=["a", "", "a", "b", None, "b"],
    )
    ds = validate_counts(frame)
    np.testing.assert_array_equal(ds["params"], [1e6, np.nan])
    assert ds["family"].values.tolist() == ["a", "b"]
    assert "filled 'params' of model 'm1'" in ds.attrs["notes"]
    assert "filled 'family' of model 'm1'" in ds.attrs["notes"]
    assert "filled 'family' of model 'm2'" in ds.attrs["notes"]


@pytest.mark.parametrize(
    ("alias", "target"),
    [
        ("problem_idx", "problem"),
        ("Problem Idx", "problem"),
        ("prompt_idx", "problem"),
        ("Num. Samples", "n_samples"),
        ("Num. Samples Correct", "n_correct"),
    ],
)
def test_column_aliases_are_renamed_and_noted(alias, target):
    frame = counts_frame().rename(columns={target: alias})
    ds = validate_counts(frame)
    assert f"renamed column(s) {alias!r} -> {target!r}" in ds.attrs["notes"]
    pd.testing.assert_frame_equal(to_counts_frame(ds), counts_frame(), check_dtype=False)


def test_alias_is_not_used_when_the_real_column_exists():
    frame = counts_frame(problem_idx=[9, 9, 9, 9, 9, 9])
    ds = validate_counts(frame)
    assert ds.attrs["notes"] == ""
    assert ds["problem_label"].values.tolist() == ["p1", "p2", "p3"] * 2


def test_validated_dataset_passes_through_unchanged():
    ds = validate_counts(counts_frame(params=[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]))
    assert validate_counts(ds) is ds


def test_non_validated_dataset_is_rejected():
    ds = validate_counts(counts_frame())
    raw = ds.copy()
    raw.attrs = {}
    with pytest.raises(DataError, match=r"Dataset input must come from .*validate_counts\(\)"):
        validate_counts(raw)
    with pytest.raises(DataError, match="pass the original table"):
        validate_counts(xr.Dataset({"n_samples": ("obs", [1, 2])}))


def test_csv_path_input(tmp_path):
    frame = counts_frame(params=[7e7] * 3 + [1.2e10] * 3)
    path = write_csv(tmp_path, frame, blank_line_after=2)
    for source in (path, str(path)):
        ds = validate_counts(source)
        pd.testing.assert_frame_equal(to_counts_frame(ds), frame, check_dtype=False)


def test_unreadable_inputs(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        validate_counts(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="pandas DataFrame or the path of a CSV file"):
        validate_counts([{"model": "a"}])
    with pytest.raises(DataError, match="has no rows"):
        validate_counts(counts_frame().iloc[:0])


# --- errors: each names the column, the rows and the fix -----------------------------------


def test_missing_required_column():
    with pytest.raises(
        DataError,
        match=r"missing required column\(s\) \['n_correct'\]; the table has columns "
        r"\['model', 'problem', 'n_samples'\]\. A counts table needs model, problem, n_samples",
    ):
        validate_counts(counts_frame(n_correct=None))
    with pytest.raises(DataError, match=r"missing required column\(s\) \['model', 'problem'\]"):
        validate_counts(counts_frame(model=None, problem=None))


@pytest.mark.parametrize("col", ["model", "problem"])
def test_blank_labels(col):
    values = list(counts_frame()[col])
    values[1], values[4] = "  ", None
    with pytest.raises(
        DataError,
        match=rf"column '{col}': empty in rows 1, 4 \(0-based\)\. Give every row a {col} label, "
        "or remove those rows",
    ):
        validate_counts(counts_frame(**{col: values}))


def test_non_numeric_counts():
    with pytest.raises(
        DataError,
        match=r"column 'n_samples': not a number in rows 2, 5 \(0-based\): 'ten', '1,000'\. "
        r"Write plain numbers",
    ):
        validate_counts(counts_frame(n_samples=[10, 10, "ten", 100, 100, "1,000"]))
    with pytest.raises(
        DataError, match=r"column 'n_correct': missing \(empty or NaN\) in row 0 \(0-based\)"
    ):
        validate_counts(counts_frame(n_correct=[np.nan, 3, 10, 1, 50, 100]))
    with pytest.raises(DataError, match=r"column 'n_samples': not finite in row 3"):
        validate_counts(counts_frame(n_samples=[10, 10, 10, np.inf, 100, 100]))


def test_non_integer_counts():
    with pytest.raises(
        DataError,
        match=r"column 'n_correct': not a whole number in rows 1, 4 \(0-based\): 2\.5, 0\.1\. "
        r"n_correct counts correct attempts, a whole number: fix or remove those rows",
    ):
        validate_counts(counts_frame(n_correct=[0, 2.5, 10, 1, 0.1, 100]))


def test_n_samples_below_one():
    with pytest.raises(
        DataError,
        match=r"column 'n_samples': must be >= 1 but is not in rows 0, 3 \(0-based\): 0, -5\. "
        r"A problem needs at least one attempt",
    ):
        validate_counts(counts_frame(n_samples=[0, 10, 10, -5, 100, 100], n_correct=[0] * 6))


def test_negative_n_correct():
    with pytest.raises(
        DataError,
        match=r"column 'n_correct': must be >= 0 but is not in row 2 \(0-based\): -1\. "
        r"n_correct counts correct attempts",
    ):
        validate_counts(counts_frame(n_correct=[0, 3, -1, 1, 50, 100]))


def test_n_correct_above_n_samples_shows_pairs():
    with pytest.raises(
        DataError,
        match=r"column 'n_correct': larger than n_samples in rows 1, 5 \(0-based\) "
        r"\(11 > 10, 101 > 100\)\. Check that the two columns are not swapped",
    ):
        validate_counts(counts_frame(n_correct=[0, 11, 10, 1, 50, 101]))


def test_duplicated_model_problem_pair_says_to_add_counts():
    with pytest.raises(
        DataError,
        match=r"columns 'model', 'problem': pairs \('m1', 'p1'\), \('m2', 'p3'\) appear in more "
        r"than one row \(rows 0, 1, 4, 5 \(0-based\)\)\. Give each \(model, problem\) one row; "
        r"to merge several sampling runs, add their n_samples and n_correct",
    ):
        validate_counts(counts_frame(problem=["p1", "p1", "p3", "p1", "p3", "p3"]))


def test_params_differing_within_a_model():
    with pytest.raises(
        DataError,
        match=r"column 'params': model 'm2' has 2 different values \(100\.0, 200\.0\) in rows "
        r"3, 4, 5 \(0-based\)\. A model has one params: make them equal, or give the variants "
        r"different model labels",
    ):
        validate_counts(counts_frame(params=[1.0, 1.0, 1.0, 100.0, 200.0, 100.0]))
    with pytest.raises(
        DataError, match=r"column 'family': model 'm1' has 2 different values \('a', 'b'\)"
    ):
        validate_counts(counts_frame(family=["a", "b", "a", "c", "c", "c"]))


@pytest.mark.parametrize("col", ["params", "tokens", "compute_per_sample"])
def test_model_columns_must_be_positive(col):
    with pytest.raises(
        DataError,
        match=rf"column '{col}': must be > 0 but is not in rows 3, 4, 5 \(0-based\): 0\.0, 0\.0, "
        rf"0\.0\. {col} is a positive count \(not its log\)",
    ):
        validate_counts(counts_frame(**{col: [5.0, 5.0, 5.0, 0.0, 0.0, 0.0]}))
    with pytest.raises(
        DataError, match=rf"column '{col}': not a number in row 0 \(0-based\): '7B'"
    ):
        validate_counts(counts_frame(**{col: ["7B", 5.0, 5.0, 1.0, 1.0, 1.0]}))


# --- CSV line numbers in errors -------------------------------------------------------------


def test_csv_errors_cite_csv_lines(tmp_path):
    frame = counts_frame(n_correct=[0, 11, 10, 1, 50, 101])
    path = write_csv(tmp_path, frame)  # header is line 1, so row r is line r + 2
    with pytest.raises(
        DataError, match=r"rows 1, 5 \(0-based; CSV lines 3, 7\) \(11 > 10, 101 > 100\)"
    ):
        validate_counts(path)


def test_csv_lines_stay_right_after_a_blank_line(tmp_path):
    frame = counts_frame(n_correct=[0, 3, 10, 1, 50, 2.5])
    path = write_csv(tmp_path, frame, blank_line_after=1)  # rows 2..5 move down one line
    with pytest.raises(
        DataError,
        match=r"column 'n_correct': not a whole number in row 5 \(0-based; CSV line 8\): 2\.5",
    ):
        validate_counts(path)
    frame = counts_frame(model=["m1", "m1", "m1", "m2", "m2", " "])
    with pytest.raises(DataError, match=r"column 'model': empty in row 5 \(0-based; CSV line 8\)"):
        validate_counts(write_csv(tmp_path, frame, blank_line_after=0))


# --- real data ------------------------------------------------------------------------------


@pytest.mark.skipif(not PYTHIA_CSV.exists(), reason=f"Pythia MATH counts not present: {PYTHIA_CSV}")
def test_pythia_math_counts_validate():
    ds = validate_counts(PYTHIA_CSV)
    assert dict(ds.sizes) == {"obs": 7 * 128, "model": 7}
    assert "renamed column(s) 'problem_idx' -> 'problem'" in ds.attrs["notes"]
    assert set(ds["model"].values) == {
        f"Pythia {s}" for s in ("70M", "160M", "410M", "1B", "2.8B", "6.9B", "12B")
    }
    per_model = pd.Series(ds["model_idx"].values).value_counts()
    assert (per_model == 128).all()
    assert (ds["n_samples"] == 10_000).all()
    assert np.all(np.isfinite(ds["params"])) and np.all(np.diff(np.sort(ds["params"])) > 0)
    frame = to_counts_frame(ds)
    assert len(frame.groupby("problem")) == 128
