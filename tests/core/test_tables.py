"""Inputs that are not tables at all: each says what it found and the columns it needs."""

from __future__ import annotations

import pytest

import bayescale as bs
from bayescale.core.errors import DataError
from bayescale.core.tables import read_table

NEEDS = "needs a header line naming the columns 'family', 'params'"


def test_binary_bytes_are_not_a_table(tmp_path) -> None:
    path = tmp_path / "runs.csv"
    path.write_bytes(b"PK\x03\x04\x00\x00binary spreadsheet")
    with pytest.raises(DataError, match="binary bytes") as info:
        bs.validate(path)
    assert NEEDS in str(info.value)


def test_a_line_of_prose_is_not_a_table(tmp_path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("these are my runs from last week\n")
    with pytest.raises(
        DataError, match="is not a table: its first line 'these are my runs"
    ) as info:
        bs.validate(path)
    assert NEEDS in str(info.value)


@pytest.mark.parametrize(("sep", "shown"), [(";", "';'"), ("\t", "tabs"), ("|", "'|'")])
def test_a_wrong_delimiter_is_named(tmp_path, sep, shown) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(sep.join(["family", "params", "tokens", "metric", "value"]) + "\n")
    with pytest.raises(DataError, match=f"separated by {shown}, not commas") as info:
        bs.validate(path)
    assert NEEDS in str(info.value)


def test_a_one_column_table_is_fine_when_one_column_is_needed(tmp_path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("value\n1\n2\n")
    frame, from_csv = read_table(path, required=("value",))
    assert from_csv and list(frame.columns) == ["value"] and len(frame) == 2
