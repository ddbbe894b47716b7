"""Tests of bayescale.scaling.data: validation of the long format, its error messages and notes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayescale as bs
from bayescale.core import dims
from bayescale.core.errors import BayescaleError, DataError
from bayescale.scaling.data import (
    NO_SEED,
    VALIDATED_ATTR,
    has_seed_effects,
    read_table,
    to_frame,
    validate,
)
from tests.helpers import SHARED_DATA

GADRE = SHARED_DATA / "tidy/gadre_overtraining_loss_tidy.csv"


def good(n_per_family: int = 3, families: tuple[str, ...] = ("a", "b")) -> pd.DataFrame:
    """A valid single-metric table: ``n_per_family`` runs (N, D grid) per family."""
    rows = []
    for k, fam in enumerate(families):
        for i in range(n_per_family):
            n = 1e7 * 2**i
            d = 20 * n
            rows.append(
                {
                    "family": fam,
                    "params": n,
                    "tokens": d,
                    "metric": "loss",
                    "value": 3.0 - 0.2 * i + 0.1 * k,
                }
            )
    return pd.DataFrame(rows)


def two_metrics() -> pd.DataFrame:
    """Metric 'A' in rows 0-5, then metric 'B' in rows 6-11 (same runs)."""
    a = good()
    b = good().assign(metric="B", value=lambda f: f["value"] + 1.0)
    return pd.concat([a.assign(metric="A"), b], ignore_index=True)


def seeds_of(frame: pd.DataFrame) -> list[str | None]:
    return [None if pd.isna(s) else s for s in frame["seed"]]


def raises(data, match: str | None = None, **kwargs) -> str:
    """Validate ``data``, expect a DataError and return its message."""
    with pytest.raises(DataError) as info:
        validate(data, **kwargs)
    msg = str(info.value)
    if match is not None:
        assert re.search(match, msg), msg
    return msg


# --------------------------------------------------------------------------------------
# A good table
# --------------------------------------------------------------------------------------


def test_good_table_gives_dataset() -> None:
    ds = validate(good())
    assert isinstance(ds, xr.Dataset)
    assert ds.sizes[dims.OBS] == 6
    assert list(ds[dims.FAMILY].values) == ["a", "b"]
    assert list(ds["family_idx"].values) == [0, 0, 0, 1, 1, 1]
    assert list(ds[dims.OBS].values) == list(range(6))
    assert ds.attrs[VALIDATED_ATTR] == 1
    assert ds.attrs["metric"] == "loss"
    assert ds.attrs["space"] == "log"
    assert ds.attrs["interval_prob"] == 0.95
    for var in ("params", "tokens", "compute", "value", "family_idx", "seed_idx"):
        assert var in ds
    assert "value_lo" not in ds and "checkpoint_step" not in ds
    # A validated Dataset passes through unchanged.
    assert validate(ds) is ds
    assert validate(ds, metric="loss") is ds


def test_dataset_input_checks() -> None:
    ds = validate(good())
    msg = raises(ds, metric="other")
    assert "'loss'" in msg and "'other'" in msg and "metric='other'" in msg
    raises(xr.Dataset(), "must come from bayescale.validate")


def test_round_trip_validate_to_frame() -> None:
    df = good()
    df["seed"] = [1, 2, 1, None, None, None]
    df["value_lo"] = df["value"] - 0.05
    df["value_hi"] = df["value"] + 0.05
    df["checkpoint_step"] = [100, 200, 300, np.nan, np.nan, np.nan]
    ds = validate(df)
    out = to_frame(ds)
    assert list(out.index) == list(range(6))
    assert out.index.name == dims.OBS
    for col in ("params", "tokens", "value", "value_lo", "value_hi"):
        np.testing.assert_allclose(out[col].to_numpy(), df[col].to_numpy())
    np.testing.assert_allclose(out["checkpoint_step"], df["checkpoint_step"])
    assert list(out["family"]) == list(df["family"])
    assert seeds_of(out) == ["1", "2", "1", None, None, None]
    assert (out["metric"] == "loss").all()
    np.testing.assert_allclose(out["compute"], 6 * df["params"] * df["tokens"])
    ds2 = validate(out)
    xr.testing.assert_equal(ds.drop_attrs(), ds2.drop_attrs())
    assert ds2.attrs["metric"] == "loss"


def test_error_class_hierarchy() -> None:
    assert issubclass(DataError, BayescaleError)
    assert issubclass(DataError, ValueError)


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def test_missing_csv_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    msg = raises(path, "does not exist")
    assert "nope.csv" in msg and "Check the path" in msg
    msg = raises(str(path), "does not exist")


def test_directory_and_unreadable_csv(tmp_path: Path) -> None:
    raises(tmp_path, "is a directory")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    msg = raises(empty, "could not read")
    assert "empty.csv" in msg and "header line" in msg
    with pytest.raises(DataError, match="DataFrame or the path"):
        read_table(123)  # type: ignore[arg-type]


def test_read_table_dataframe_is_copied_and_renumbered() -> None:
    df = good().set_index(pd.Index(list("pqrstu")))
    frame, from_csv = read_table(df)
    assert not from_csv
    assert list(frame.index) == list(range(6))
    frame.loc[0, "value"] = -1.0
    assert df["value"].iloc[0] > 0


def test_csv_input_reports_csv_lines(tmp_path: Path) -> None:
    df = good().astype({"tokens": object})
    df.loc[3, "tokens"] = "lots"
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    msg = raises(path, "column 'tokens'")
    assert "row 3 (0-based; CSV line 5)" in msg
    assert "'lots'" in msg and "plain numbers" in msg


def test_csv_good_table_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    good().to_csv(path, index=False)
    text = path.read_text().splitlines()
    # A blank line after the header and a line of bare commas before the last row.
    lines = [text[0], "", *text[1:-1], ",,,,", text[-1]]
    path.write_text("\n".join(lines) + "\n")
    ds = validate(path)
    assert ds.sizes[dims.OBS] == 6
    assert "skipped 2 CSV line(s) without any data (line(s) 2, 8)" in ds.attrs["notes"]
    # Line numbers still match the file after the skipped lines.
    bad = [*lines]
    bad[8] = bad[8].replace("a,", ",", 1) if bad[8].startswith("a,") else "," + bad[8][2:]
    path.write_text("\n".join(bad) + "\n")
    msg = raises(path, "column 'family': empty")
    assert "row 5 (0-based; CSV line 9)" in msg


# --------------------------------------------------------------------------------------
# Columns and values
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("col", ["params", "tokens", "value"])
def test_missing_column(col: str) -> None:
    msg = raises(good().drop(columns=col), "missing required column")
    assert f"'{col}'" in msg
    assert "docs/data_format.md" in msg and "Add or rename columns" in msg


def test_missing_column_hints_near_match() -> None:
    df = good().rename(columns={"params": "Params "})
    msg = raises(df, "missing required column")
    assert "Column 'Params ' looks like 'params'" in msg


def test_duplicated_column_names() -> None:
    df = good()
    df = pd.concat([df, df[["value"]]], axis=1)
    raises(df, r"\['value'\] appear more than once")


def test_empty_table() -> None:
    raises(good().iloc[:0], "the table has no rows")


@pytest.mark.parametrize("col", ["params", "tokens", "value"])
def test_non_numeric_value(col: str) -> None:
    df = good()
    df[col] = df[col].astype(object)
    df.loc[4, col] = "1,000"
    msg = raises(df, f"column '{col}': not a number")
    assert "row 4 (0-based)" in msg and "'1,000'" in msg
    assert "Write plain numbers" in msg and "remove those rows" in msg


def test_boolean_is_not_a_number() -> None:
    df = good()
    df["params"] = df["params"].astype(object)
    df.loc[1, "params"] = True
    msg = raises(df, "column 'params': not a number")
    assert "row 1 (0-based): True" in msg


def test_numeric_strings_are_accepted() -> None:
    df = good().astype({"params": str, "tokens": str, "value": str})
    df.loc[0, "params"] = " 1e7 "
    ds = validate(df)
    assert ds["params"].dtype == float
    assert ds["params"].values[0] == 1e7


@pytest.mark.parametrize("bad", [np.inf, -np.inf, "inf"])
def test_non_finite_value(bad) -> None:
    df = good()
    df["value"] = df["value"].astype(object)
    df.loc[2, "value"] = bad
    msg = raises(df, "column 'value': not finite")
    assert "row 2 (0-based)" in msg and "inf" in msg
    assert "finite numbers" in msg


@pytest.mark.parametrize("col", ["params", "tokens", "value"])
def test_missing_required_value(col: str) -> None:
    df = good()
    df.loc[[1, 5], col] = np.nan
    msg = raises(df, f"column '{col}': missing \\(empty or NaN\\)")
    assert "rows 1, 5 (0-based)" in msg and "fill it in or remove those rows" in msg


def test_nan_string_counts_as_missing() -> None:
    df = good().astype({"value": object})
    df.loc[0, "value"] = "NaN"
    raises(df, r"column 'value': missing \(empty or NaN\) in row 0 \(0-based\)")


@pytest.mark.parametrize(("col", "name"), [("params", "parameters"), ("tokens", "tokens")])
@pytest.mark.parametrize("bad", [0.0, -5.0])
def test_scale_not_positive(col: str, name: str, bad: float) -> None:
    df = good()
    df.loc[[0, 4], col] = bad
    msg = raises(df, f"column '{col}': must be > 0")
    assert "rows 0, 4 (0-based)" in msg and repr(bad) in msg
    assert name in msg and "fix or remove those rows" in msg


def test_value_not_positive_in_log_space() -> None:
    df = good()
    df.loc[3, "value"] = -0.5
    msg = raises(df, "column 'value': must be > 0 for a law fitted in log space")
    assert "row 3 (0-based): -0.5" in msg
    assert "space='linear'" in msg and "--space linear" in msg
    ds = validate(df, space="linear")
    assert ds.attrs["space"] == "linear"
    assert ds["value"].values[3] == -0.5


def test_options_are_checked() -> None:
    raises(good(), "space must be 'log' or 'linear'", space="Log")
    raises(good(), "interval_prob must lie strictly between 0 and 1", interval_prob=95)
    raises(good(), "unknown scale column 'flops'", inputs=("params", "flops"))
    raises(good(), "inputs must be a sequence", inputs="params")


# --------------------------------------------------------------------------------------
# Metrics and original row positions
# --------------------------------------------------------------------------------------


def test_multiple_metrics_need_metric() -> None:
    msg = raises(two_metrics(), "column 'metric' holds 2 metrics")
    assert "['A', 'B']" in msg and "metric=NAME" in msg and "--metric NAME" in msg


def test_unknown_metric() -> None:
    msg = raises(two_metrics(), metric="C")
    assert "metric 'C' is not in column 'metric'" in msg
    assert "['A', 'B']" in msg and "metric=NAME" in msg


def test_metric_selection_keeps_original_positions() -> None:
    ds = validate(two_metrics(), metric="B")
    assert ds.sizes[dims.OBS] == 6
    assert list(ds[dims.OBS].values) == list(range(6, 12))
    assert ds.attrs["metric"] == "B"
    assert "kept the 6 rows of metric 'B' out of 12" in ds.attrs["notes"]


def test_bad_row_of_second_metric_reports_original_row() -> None:
    df = two_metrics()
    df.loc[10, "value"] = 0.0  # the 5th row of metric B
    validate(df, metric="A")  # metric A is fine
    msg = raises(df, metric="B")
    assert "column 'value'" in msg and "row 10 (0-based)" in msg
    assert "row 4 " not in msg


def test_bad_row_of_second_metric_in_csv(tmp_path: Path) -> None:
    df = two_metrics()
    df["tokens"] = df["tokens"].astype(object)
    df.loc[10, "tokens"] = "n/a?"
    path = tmp_path / "two.csv"
    df.to_csv(path, index=False)
    msg = raises(path, "column 'tokens': not a number", metric="B")
    assert "row 10 (0-based; CSV line 12)" in msg


def test_metric_rows_interleaved() -> None:
    df = two_metrics().iloc[[0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11]].reset_index(drop=True)
    df.loc[9, "params"] = -1.0  # a metric-B row
    msg = raises(df, "column 'params': must be > 0", metric="B")
    assert "row 9 (0-based)" in msg
    ds = validate(df.drop(index=9).reset_index(drop=True), metric="A")
    assert list(ds[dims.OBS].values) == [0, 2, 4, 6, 8, 9]


def test_empty_metric_label() -> None:
    df = two_metrics()
    df.loc[7, "metric"] = None
    msg = raises(df, "column 'metric': empty", metric="A")
    assert "row 7 (0-based)" in msg and "name of its metric" in msg


def test_no_metric_column() -> None:
    ds = validate(good().drop(columns="metric"))
    assert ds.attrs["metric"] == "value"
    ds = validate(good().drop(columns="metric"), metric="loss")
    assert ds.attrs["metric"] == "loss"
    assert "no 'metric' column" in ds.attrs["notes"]


# --------------------------------------------------------------------------------------
# Families
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", [None, np.nan, "", "  "])
def test_empty_family(blank) -> None:
    df = good()
    df.loc[2, "family"] = blank
    msg = raises(df, "column 'family': empty")
    assert "row 2 (0-based)" in msg and "Give every run a family label" in msg


def test_family_with_too_few_rows() -> None:
    df = pd.concat([good(), good(1, families=("lonely",))], ignore_index=True)
    msg = raises(df, "column 'family'")
    assert "at least 2 rows per family" in msg
    assert "family 'lonely' has only 1, in row 6 (0-based)" in msg
    assert "pooling='shared'" in msg and "Add runs" in msg
    assert validate(df, min_rows_per_family=1).sizes[dims.FAMILY] == 3


def test_family_with_too_few_rows_lists_all_families() -> None:
    df = good(2, families=("a", "b", "c"))
    msg = raises(df, min_rows_per_family=3)
    for fam in ("a", "b", "c"):
        assert f"family '{fam}' has only 2" in msg
    assert "rows 4, 5 (0-based)" in msg


def test_numeric_family_labels() -> None:
    df = good()
    df["family"] = [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    ds = validate(df)
    assert list(ds[dims.FAMILY].values) == ["1", "2"]


# --------------------------------------------------------------------------------------
# Measurement intervals
# --------------------------------------------------------------------------------------


def with_interval() -> pd.DataFrame:
    df = good()
    df["value_lo"] = df["value"] - 0.1
    df["value_hi"] = df["value"] + 0.1
    return df


def test_interval_kept() -> None:
    ds = validate(with_interval(), interval_prob=0.9)
    assert "value_lo" in ds and "value_hi" in ds
    assert ds.attrs["interval_prob"] == 0.9


@pytest.mark.parametrize(("have", "lack"), [("value_lo", "value_hi"), ("value_hi", "value_lo")])
def test_one_interval_column(have: str, lack: str) -> None:
    df = with_interval().drop(columns=lack)
    msg = raises(df, f"column '{have}' is given")
    assert f"column '{lack}' is missing or empty" in msg
    assert "rows 0, 1, 2, 3, 4, 5 (0-based)" in msg
    assert f"Fill in '{lack}' or remove '{have}'" in msg


def test_one_interval_end_in_a_row() -> None:
    df = with_interval()
    df.loc[1, "value_hi"] = np.nan
    msg = raises(df, "only one end of the interval is given")
    assert "'value_lo'/'value_hi'" in msg and "row 1 (0-based)" in msg
    assert "<empty>" in msg and "Give both ends or neither" in msg


def test_interval_missing_in_some_rows_is_allowed() -> None:
    df = with_interval()
    df.loc[[1, 2], ["value_lo", "value_hi"]] = np.nan
    ds = validate(df)
    assert np.isnan(ds["value_lo"].values[[1, 2]]).all()


def test_empty_interval_columns_are_ignored() -> None:
    df = good().assign(value_lo=np.nan, value_hi=np.nan)
    ds = validate(df)
    assert "value_lo" not in ds


def test_interval_not_containing_value() -> None:
    df = with_interval()
    df.loc[4, ["value", "value_lo", "value_hi"]] = [2.5, 3.5, 3.0]  # swapped, not around 2.5
    msg = raises(df, "the interval does not contain 'value'")
    assert "row 4 (0-based)" in msg
    assert "(3.5, 2.5, 3.0)" in msg
    assert "value_lo <= value <= value_hi" in msg and "swapped ends" in msg


def test_interval_not_positive_in_log_space() -> None:
    df = with_interval()
    df.loc[0, "value"] = 0.05
    df.loc[0, "value_lo"] = -0.05
    df.loc[0, "value_hi"] = 0.15
    msg = raises(df, "column 'value_lo': must be > 0 for a law fitted in log space")
    assert "row 0 (0-based): -0.05" in msg and "space='linear'" in msg
    assert validate(df, space="linear").sizes[dims.OBS] == 6


def test_interval_non_numeric() -> None:
    df = with_interval().astype({"value_hi": object})
    df.loc[5, "value_hi"] = "high"
    raises(df, r"column 'value_hi': not a number in row 5 \(0-based\): 'high'")


# --------------------------------------------------------------------------------------
# Compute
# --------------------------------------------------------------------------------------


def test_compute_filled_where_missing() -> None:
    df = good()
    df["compute"] = 7 * df["params"] * df["tokens"]
    df.loc[[1, 4], "compute"] = np.nan
    ds = validate(df)
    comp = ds["compute"].values
    six_nd = 6 * df["params"].to_numpy() * df["tokens"].to_numpy()
    seven_nd = 7 * df["params"].to_numpy() * df["tokens"].to_numpy()
    np.testing.assert_allclose(comp[[1, 4]], six_nd[[1, 4]])
    np.testing.assert_allclose(comp[[0, 2, 3, 5]], seven_nd[[0, 2, 3, 5]])
    assert "filled 'compute' = 6*params*tokens in 2 of 6 rows" in ds.attrs["notes"]
    assert "rows 1, 4 (0-based)" in ds.attrs["notes"]


def test_compute_filled_reports_original_rows() -> None:
    df = two_metrics()
    df["compute"] = 6 * df["params"] * df["tokens"]
    df.loc[8, "compute"] = np.nan
    ds = validate(df, metric="B")
    assert "row 8 (0-based)" in ds.attrs["notes"]


def test_compute_absent_or_empty() -> None:
    ds = validate(good())
    assert "no 'compute' column: set compute = 6*params*tokens" in ds.attrs["notes"]
    np.testing.assert_allclose(ds["compute"], 6 * ds["params"] * ds["tokens"])
    ds = validate(good().assign(compute=np.nan))
    assert "column 'compute' is empty" in ds.attrs["notes"]


def test_compute_not_positive() -> None:
    df = good().assign(compute=1e18)
    df.loc[5, "compute"] = 0
    msg = raises(df, "column 'compute': must be > 0")
    assert "row 5 (0-based)" in msg and "FLOPs" in msg


def test_huge_integer_compute_in_csv(tmp_path: Path) -> None:
    df = good()
    df["compute"] = [str(10**25 + i) for i in range(6)]  # beyond int64: read as text
    path = tmp_path / "big.csv"
    df.to_csv(path, index=False)
    ds = validate(path)
    np.testing.assert_allclose(ds["compute"].values, 1e25)


# --------------------------------------------------------------------------------------
# Checkpoints, seeds and duplicates
# --------------------------------------------------------------------------------------


def test_checkpoints_distinguish_rows() -> None:
    df = good().assign(params=1e7, tokens=2e8, checkpoint_step=[100, 200, 300] * 2)
    ds = validate(df)
    assert list(ds["checkpoint_step"].values) == [100, 200, 300] * 2


def test_negative_checkpoint_step() -> None:
    df = good().assign(checkpoint_step=[100, -1, 300] * 2)
    msg = raises(df, "column 'checkpoint_step': must be >= 0")
    assert "rows 1, 4 (0-based)" in msg


def test_seeds() -> None:
    df = good(4)
    df["params"] = [1e7, 1e7, 2e7, 2e7] * 2
    df["seed"] = [1, 2, 1, 2, 7, 7, 7, 7]
    df.loc[5, "params"] = 3e7
    df.loc[6, "params"] = 4e7
    df.loc[7, "params"] = 5e7
    ds = validate(df)
    assert list(ds[dims.SEED].values) == ["a/1", "a/2", "b/7"]
    assert list(ds["seed_idx"].values) == [0, 1, 0, 1, 2, 2, 2, 2]
    assert list(ds["obs_seed"].values) == ["1", "2", "1", "2", "7", "7", "7", "7"]
    assert has_seed_effects(ds)


def test_one_seed_per_family_has_no_seed_effects() -> None:
    df = good().assign(seed=[3, 3, 3, 4, 4, 4])
    ds = validate(df)
    assert list(ds[dims.SEED].values) == ["a/3", "b/4"]
    assert not has_seed_effects(ds)


def test_no_seed_column() -> None:
    ds = validate(good())
    assert list(ds[dims.SEED].values) == [f"a/{NO_SEED}", f"b/{NO_SEED}"]
    assert list(ds["seed_idx"].values) == [0, 0, 0, 1, 1, 1]
    assert not has_seed_effects(ds)


def test_seed_labels_from_csv_and_blanks(tmp_path: Path) -> None:
    df = good().assign(seed=[1, 2, None, None, None, None])  # float column 1.0, 2.0, NaN
    path = tmp_path / "seeds.csv"
    df.to_csv(path, index=False)
    ds = validate(path)
    assert list(ds[dims.SEED].values) == ["a/1", "a/2", f"a/{NO_SEED}", f"b/{NO_SEED}"]
    assert has_seed_effects(ds)
    assert seeds_of(to_frame(ds)) == ["1", "2", None, None, None, None]


def test_seed_with_slash() -> None:
    df = good().assign(seed=["x/1", "x/1", "x/1", "y", "y", "y"])
    ds = validate(df)
    assert not has_seed_effects(ds)


def test_duplicates_with_different_values() -> None:
    df = good()
    df.loc[2, ["params", "tokens"]] = df.loc[0, ["params", "tokens"]].to_numpy()
    msg = raises(df, "describe the same run")
    assert "columns family, seed, params, tokens, checkpoint_step" in msg
    assert "rows 0, 2 (0-based)" in msg
    assert "family 'a'" in msg and "params 10000000.0" in msg
    assert "3.0, 2.6" in msg
    assert "distinct 'seed' labels" in msg and "'checkpoint_step'" in msg


def test_duplicates_report_original_rows_after_metric_filter() -> None:
    df = two_metrics()
    # Rows 9 and 11 (metric B, family b) become the same run with different values.
    df.loc[11, ["params", "tokens"]] = df.loc[9, ["params", "tokens"]].to_numpy()
    msg = raises(df, "describe the same run", metric="B")
    assert "rows 9, 11 (0-based)" in msg
    assert "family 'b'" in msg


def test_duplicates_with_seeds_are_separate_runs() -> None:
    df = good()
    df.loc[2, ["params", "tokens"]] = df.loc[0, ["params", "tokens"]].to_numpy()
    df["seed"] = [0, 0, 1, 0, 0, 0]
    assert validate(df).sizes[dims.OBS] == 6


def test_exact_duplicate_rows() -> None:
    df = pd.concat([good(), good().iloc[[1, 4]]], ignore_index=True)
    msg = raises(df, "exactly repeat earlier rows")
    assert "rows 6, 7 (0-based)" in msg
    assert "row 6 repeats 1, 7 repeats 4" in msg
    assert "drop_duplicates()" in msg and "distinct 'seed' labels" in msg
    assert validate(df.drop_duplicates()).sizes[dims.OBS] == 6


def test_exact_duplicate_rows_in_csv(tmp_path: Path) -> None:
    df = pd.concat([good(), good().iloc[[0]]], ignore_index=True)
    path = tmp_path / "dup.csv"
    df.to_csv(path, index=False)
    msg = raises(path, "exactly repeat")
    assert "row 6 (0-based; CSV line 8)" in msg


# --------------------------------------------------------------------------------------
# Real data
# --------------------------------------------------------------------------------------


@pytest.mark.skipif(not GADRE.exists(), reason=f"shared data file {GADRE} is not available")
def test_gadre_overtraining_table() -> None:
    msg = raises(GADRE)
    assert "holds 8 metrics" in msg and "loss_c4_val" in msg
    ds = validate(GADRE, metric="loss_c4_val")
    assert ds.sizes[dims.OBS] == 104
    assert ds.sizes[dims.FAMILY] == 3
    assert "value_lo" in ds and "value_hi" in ds
    assert "checkpoint_step" not in ds
    assert not has_seed_effects(ds)
    raw = pd.read_csv(GADRE)
    keep = np.flatnonzero((raw["metric"] == "loss_c4_val").to_numpy())
    np.testing.assert_array_equal(ds[dims.OBS].values, keep)
    np.testing.assert_allclose(ds["value"].values, raw["value"].to_numpy()[keep])
    np.testing.assert_allclose(
        ds["compute"].values, raw["compute"].astype(float).to_numpy()[keep], rtol=1e-12
    )
    assert "kept the 104 rows of metric 'loss_c4_val' out of 832" in ds.attrs["notes"]


# -- a user's own column names ------------------------------------------------------------
def test_without_family_the_rows_are_one_family_and_repeats_are_still_caught() -> None:
    one = good()
    one = one[one["family"] == one["family"].iloc[0]].drop(columns="family")
    ds = bs.validate(one)
    assert list(ds["family"].values) == ["all"]
    assert "every row is one family" in ds.attrs["notes"]
    raises(good().drop(columns="family"), "describe the same run")


def test_common_spellings_are_read_and_reported(tmp_path) -> None:
    path = tmp_path / "nd.csv"
    path.write_text("N,D,loss\n1e8,2e9,3.5\n2e8,4e9,3.3\n4e8,8e9,3.1\n")
    ds = bs.validate(path)
    notes = ds.attrs["notes"]
    assert "column 'N' as 'params'" in notes and "column 'loss' as 'value'" in notes
    assert "every row is one family" in notes
    assert ds.attrs["metric"] == "loss"
    np.testing.assert_allclose(ds["params"].values, [1e8, 2e8, 4e8])


def test_ambiguous_spellings_name_the_candidates() -> None:
    frame = pd.DataFrame({"N": [1e8, 2e8], "n_params": [1e8, 2e8], "D": [1e9, 2e9], "loss": [3, 2]})
    with pytest.raises(DataError, match=r"several columns could be it: \['N', 'n_params'\]"):
        bs.validate(frame)


def test_an_explicit_column_map_wins_and_is_checked() -> None:
    frame = pd.DataFrame({"size": [1e8, 2e8, 4e8], "toks": [1e9, 2e9, 4e9], "L": [3.0, 2.9, 2.8]})
    ds = bs.validate(frame, columns={"size": "params", "toks": "tokens", "L": "value"})
    assert "read 'size' as 'params'" in ds.attrs["notes"]
    with pytest.raises(DataError, match="does not have"):
        bs.validate(frame, columns={"nope": "params"})
    with pytest.raises(DataError, match="not columns of the long format"):
        bs.validate(frame, columns={"size": "parameters"})
