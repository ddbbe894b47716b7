"""Reading and checking user tables: the helpers every validator of bayescale shares.

Each validator (training runs, pass@k counts, voting answers, difficulty slices) reports a
bad cell the same way: the column, the rows (0-based positions in the input table, plus the
CSV line numbers when the table came from a file), the offending values and the fix, in a
:class:`~bayescale.core.errors.DataError`. These functions build those messages.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayescale.core.errors import DataError

__all__ = [
    "CSV_LINES",
    "MAX_LISTED",
    "SKIPPED_LINES",
    "Rows",
    "Where",
    "blank_mask",
    "cell_values",
    "count_column",
    "describe_rows",
    "fail_rows",
    "fmt_cell",
    "is_blank",
    "label_text",
    "numeric_column",
    "read_table",
    "to_float",
]

#: Most rows or values listed in one error message.
MAX_LISTED = 8
#: ``DataFrame.attrs`` key in which :func:`read_table` stores the CSV line of each row.
CSV_LINES = "bayescale_csv_lines"
SKIPPED_LINES = "bayescale_skipped_csv_lines"

#: Row positions of a table.
Rows = Sequence[int] | np.ndarray
#: A function that describes row positions (:func:`describe_rows` with the CSV lines bound).
Where = Callable[[Rows], str]


def describe_rows(rows: Rows, csv_lines: np.ndarray | None) -> str:
    """Describe input row positions, e.g. ``rows 3, 4 (0-based; CSV lines 5, 6)``."""
    rows = [int(r) for r in rows]
    shown = ", ".join(str(r) for r in rows[:MAX_LISTED])
    more = f" and {len(rows) - MAX_LISTED} more" if len(rows) > MAX_LISTED else ""
    noun = "row" if len(rows) == 1 else "rows"
    text = f"{noun} {shown}{more} (0-based"
    if csv_lines is not None:
        lines = ", ".join(str(int(csv_lines[r])) for r in rows[:MAX_LISTED])
        text += f"; CSV line {lines}" if len(rows) == 1 else f"; CSV lines {lines}{more}"
    return text + ")"


def fmt_cell(v: Any) -> str:
    """Show one cell: strings quoted, numbers plain, missing entries as ``<empty>``."""
    if isinstance(v, np.generic):
        v = v.item()
    try:
        if pd.isna(v):
            return "<empty>"
    except (TypeError, ValueError):
        pass
    return repr(v)


def cell_values(cells: Sequence[Any] | pd.Series | np.ndarray, rows: Rows) -> str:
    """The cells at ``rows`` (positions), at most ``MAX_LISTED`` of them."""
    rows = list(rows)
    get = cells.iloc.__getitem__ if isinstance(cells, pd.Series) else cells.__getitem__
    text = ", ".join(fmt_cell(get(int(r))) for r in rows[:MAX_LISTED])
    return text + (", ..." if len(rows) > MAX_LISTED else "")


def blank_mask(series: pd.Series) -> np.ndarray:
    """Entries that are missing or hold only whitespace."""
    return np.fromiter(
        (is_blank(v) for v in series.to_numpy(dtype=object)), dtype=bool, count=len(series)
    )


def is_blank(v: Any) -> bool:
    if isinstance(v, str):
        return not v.strip()
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def label_text(v: Any) -> str:
    """A family or seed label: integer-valued floats lose their ``.0`` (CSV reads 1 as 1.0)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def read_table(
    source: str | os.PathLike[str] | pd.DataFrame, *, required: Sequence[str] = ()
) -> tuple[pd.DataFrame, bool]:
    """Read a CSV path or copy a DataFrame; return it and whether it came from a CSV file.

    The rows of a DataFrame are renumbered 0, 1, ... (positions, not index labels). For a
    CSV file the line of each row is kept in ``frame.attrs`` so errors can cite it; lines
    with no data at all (blank lines, lines of bare commas) are skipped and recorded there.

    A file that is not a comma-separated table at all (binary bytes, a line of prose, a
    table separated by ``;``, tabs or ``|``) is refused with a :class:`DataError` that says
    what the file looks like and lists the ``required`` columns.
    """
    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True).copy()
        frame.attrs.pop(CSV_LINES, None)
        frame.attrs.pop(SKIPPED_LINES, None)
        return frame, False
    if not isinstance(source, str | os.PathLike):
        raise DataError(
            f"data must be a pandas DataFrame or the path of a CSV file, not "
            f"{type(source).__name__}. Load the table with pandas.read_csv() or pass its path."
        )
    path = Path(source)
    if not path.exists():
        raise DataError(
            f"data file {str(path)!r} does not exist (resolved to {str(path.resolve())!r}). "
            "Check the path and the working directory, or pass a pandas DataFrame."
        )
    if path.is_dir():
        raise DataError(
            f"{str(path)!r} is a directory, not a CSV file. Pass the path of the CSV file itself."
        )
    needs = (
        f" It needs a header line naming the columns {', '.join(map(repr, required))}."
        if required
        else ""
    )
    head = path.read_bytes()[:4096]
    if b"\x00" in head or _undecodable(head):
        raise DataError(
            f"{str(path)!r} is not a text table: it holds binary bytes (a spreadsheet, a "
            f"NetCDF, Parquet or pickle file?). Save the table as comma-separated UTF-8 text "
            f"(CSV), one row per line.{needs}"
        )
    try:
        frame = pd.read_csv(path, skip_blank_lines=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, OSError) as exc:
        raise DataError(
            f"could not read {str(path)!r} as CSV: {exc}. Save the table as comma-separated "
            f"UTF-8 text with one header line (see docs/data_format.md).{needs}"
        ) from exc
    if frame.shape[1] == 1 and len(required) > 1:
        header = str(frame.columns[0])
        sep = next((c for c in (";", "\t", "|") if c in header), None)
        if sep is not None:
            shown = {"\t": "tabs"}.get(sep, repr(sep))
            raise DataError(
                f"{str(path)!r} is separated by {shown}, not commas: its header "
                f"{header[:80]!r} was read as one column. Save it with commas, or read it with "
                f"pandas.read_csv(path, sep={sep!r}) and pass the DataFrame.{needs}"
            )
        raise DataError(
            f"{str(path)!r} is not a table: its first line {header[:80]!r} is a single field "
            f"with no commas, followed by {len(frame)} line(s).{needs}"
        )
    lines = np.arange(len(frame)) + 2  # line 1 is the header
    empty = frame.isna().all(axis=1).to_numpy()
    if empty.any():
        frame = frame.loc[~empty].reset_index(drop=True)
    frame.attrs[CSV_LINES] = lines[~empty]
    frame.attrs[SKIPPED_LINES] = lines[empty]
    return frame, True


def _undecodable(head: bytes) -> bool:
    """Whether the first bytes of a file are not UTF-8 text (allowing a cut last char)."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 3
    return False


def to_float(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float values of ``raw`` (NaN where empty) and a mask of present non-numbers."""
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return raw.to_numpy(dtype=float, na_value=np.nan), np.zeros(len(raw), dtype=bool)
    out = np.full(len(raw), np.nan)
    bad = np.zeros(len(raw), dtype=bool)
    for i, v in enumerate(raw.to_numpy(dtype=object)):
        if isinstance(v, bool | np.bool_):
            bad[i] = True
        elif is_blank(v):
            continue
        else:
            try:
                out[i] = float(v.strip() if isinstance(v, str) else v)
            except (TypeError, ValueError, OverflowError):
                bad[i] = True
    return out, bad


def numeric_column(frame: pd.DataFrame, col: str, where: Where, *, required: bool) -> np.ndarray:
    """Column ``col`` as floats; raise on non-numbers, infinities and (if required) gaps."""
    raw = frame[col]
    num, bad_mask = to_float(raw)
    bad = np.flatnonzero(bad_mask)
    if bad.size:
        raise DataError(
            f"column {col!r}: not a number in {where(bad)}: {cell_values(raw, bad)}. Write plain "
            "numbers (e.g. 2.5e9; no units, thousands separators or text), or remove those rows."
        )
    if required:
        missing = np.flatnonzero(np.isnan(num))
        if missing.size:
            raise DataError(
                f"column {col!r}: missing (empty or NaN) in {where(missing)}. Every row needs "
                f"a finite {col!r}: fill it in or remove those rows."
            )
    nonfinite = np.flatnonzero(np.isinf(num))
    if nonfinite.size:
        raise DataError(
            f"column {col!r}: not finite in {where(nonfinite)}: {cell_values(raw, nonfinite)}. "
            "Replace them with finite numbers or remove those rows."
        )
    return num


def count_column(
    frame: pd.DataFrame, col: str, where: Where, *, minimum: int, meaning: str
) -> np.ndarray:
    """Column ``col`` as int64 counts: numbers, whole, at least ``minimum``, no gaps.

    ``meaning`` completes the fix of the error message, e.g. ``"A count is how many
    samples gave that answer"``.
    """
    num = numeric_column(frame, col, where, required=True)
    frac = np.flatnonzero(num != np.round(num))
    if frac.size:
        fail_rows(
            col,
            frac,
            frame[col],
            "not a whole number",
            f"{meaning}, a whole number: fix or remove those rows.",
            where,
        )
    low = np.flatnonzero(num < minimum)
    if low.size:
        fail_rows(
            col,
            low,
            frame[col],
            f"must be >= {minimum} but is not",
            f"{meaning}: fix or remove those rows.",
            where,
        )
    return num.astype(np.int64)


def fail_rows(col: str, rows: np.ndarray, cells: Any, problem: str, fix: str, where: Where) -> None:
    raise DataError(
        f"column {col!r}: {problem} in {where(rows)}: {cell_values(cells, rows)}. {fix}"
    )
