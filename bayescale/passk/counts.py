"""Validate per-problem attempt counts and turn them into an ``xarray.Dataset``.

One row per (model, problem): how many attempts were sampled and how many were correct.

=======================  ========  ===========================================================
column                   required  meaning
=======================  ========  ===========================================================
``model``                yes       label of the language model that made the attempts
``problem``              yes       label of the problem (question)
``n_samples``            yes       number of attempts, a whole number >= 1
``n_correct``            yes       number of correct attempts, whole, 0 <= n_correct <= n_samples
``params``               no [#]_   parameters N of the model (> 0), one value per model
``tokens``               no        training tokens D of the model (> 0), one value per model
``family``               no        model family, one value per model
``compute_per_sample``   no        inference FLOPs of one attempt (> 0), one value per model
=======================  ========  ===========================================================

.. [#] needed to let the Beta parameters vary with model scale and to forecast a model
   size that was not run.

:func:`validate_counts` checks every rule and raises :class:`~bayescale.core.errors.DataError`
naming the column, the rows (0-based positions, plus CSV lines for a CSV file) and the fix.
Nothing is dropped silently; what is filled in is recorded in ``ds.attrs["notes"]``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core import dims
from bayescale.core.errors import DataError
from bayescale.core.tables import (
    CSV_LINES,
    blank_mask,
    count_column,
    describe_rows,
    fail_rows,
    fmt_cell,
    label_text,
    numeric_column,
    read_table,
)

__all__ = [
    "COUNT_COLUMNS",
    "MODEL_COLUMNS",
    "VALIDATED_COUNTS",
    "to_counts_frame",
    "validate_counts",
]

#: Required columns of a counts table.
COUNT_COLUMNS = ("model", "problem", "n_samples", "n_correct")
#: Optional columns that describe a model (one value per model).
MODEL_COLUMNS = ("params", "tokens", "family", "compute_per_sample")
#: Marker attribute of a Dataset produced by :func:`validate_counts`.
VALIDATED_COUNTS = "bayescale_validated_counts"
_ALIASES = {
    "problem_idx": "problem",
    "problem idx": "problem",
    "prompt_idx": "problem",
    "num. samples": "n_samples",
    "num. samples correct": "n_correct",
}


def validate_counts(
    data: str | os.PathLike[str] | pd.DataFrame | xr.Dataset,
) -> xr.Dataset:
    """Check a table of per-problem attempt counts and return it as an ``xarray.Dataset``.

    Parameters
    ----------
    data
        DataFrame or CSV path with the columns in the module docstring, or a Dataset
        already returned by this function (returned unchanged).

    Returns
    -------
    xarray.Dataset
        Dimension ``obs`` (one per row; coordinate = row position in the input) with
        ``n_samples``, ``n_correct`` (int64), ``problem`` labels and ``model_idx``
        (index into ``model``); dimension ``model`` (labels in order of first
        appearance) with ``params``, ``tokens``, ``compute_per_sample`` (NaN where not
        given) and ``family`` labels.

    Raises
    ------
    DataError
        For a missing column, blank labels, non-integer or negative counts,
        ``n_correct > n_samples``, a (model, problem) pair given twice, or a model
        column that changes within one model. The message names column, rows and fix.
    """
    if isinstance(data, xr.Dataset):
        if not data.attrs.get(VALIDATED_COUNTS):
            raise DataError(
                "an xarray.Dataset input must come from bayescale.passk.validate_counts(); "
                "pass the original table (DataFrame or CSV path) instead"
            )
        return data
    frame, from_csv = read_table(data)
    csv_lines = frame.attrs.get(CSV_LINES) if from_csv else None
    notes: list[str] = []
    renames = {
        c: _ALIASES[str(c).strip().lower()]
        for c in frame.columns
        if str(c).strip().lower() in _ALIASES and _ALIASES[str(c).strip().lower()] not in frame
    }
    if renames:
        frame = frame.rename(columns=renames)
        notes.append(
            "renamed column(s) " + ", ".join(f"{a!r} -> {b!r}" for a, b in renames.items())
        )
    if len(frame) == 0:
        raise DataError(
            "the counts table has no rows. Add one row per (model, problem) with n_samples and "
            "n_correct; see docs/passk.md."
        )
    missing = [c for c in COUNT_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing required column(s) {missing}; the table has columns "
            f"{[str(c) for c in frame.columns]}. A counts table needs model, problem, "
            "n_samples and n_correct (one row per model and problem; see docs/passk.md)."
        )

    def where(rows: Sequence[int] | np.ndarray) -> str:
        return describe_rows(rows, csv_lines)

    for col in ("model", "problem"):
        blank = np.flatnonzero(blank_mask(frame[col]))
        if blank.size:
            raise DataError(
                f"column {col!r}: empty in {where(blank)}. Give every row a {col} label, or "
                "remove those rows."
            )
    model = pd.Series([label_text(v) for v in frame["model"]], dtype=object)
    problem = pd.Series([label_text(v) for v in frame["problem"]], dtype=object)

    n = count_column(
        frame, "n_samples", where, minimum=1, meaning="A problem needs at least one attempt"
    )
    c = count_column(
        frame, "n_correct", where, minimum=0, meaning="n_correct counts correct attempts"
    )
    bad = np.flatnonzero(c > n)
    if bad.size:
        pairs = ", ".join(f"{int(c[r])} > {int(n[r])}" for r in bad[:8])
        raise DataError(
            f"column 'n_correct': larger than n_samples in {where(bad)} ({pairs}). Check "
            "that the two columns are not swapped and that n_samples counts every attempt."
        )
    key = model + "\x00" + problem
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        first = np.flatnonzero(dup)
        shown = sorted({f"({model[r]!r}, {problem[r]!r})" for r in first[:8]})
        raise DataError(
            f"columns 'model', 'problem': pairs {', '.join(shown)} appear in more than one row "
            f"({where(first)}). Give each (model, problem) one row; to merge several "
            "sampling runs, add their n_samples and n_correct."
        )

    labels = list(pd.unique(model))
    idx = pd.Index(labels).get_indexer(model)
    per_model: dict[str, np.ndarray] = {}
    for col in MODEL_COLUMNS:
        if col not in frame.columns:
            continue
        if col == "family":
            blank = blank_mask(frame[col])
            values = pd.Series(
                ["" if b else label_text(v) for v, b in zip(frame[col], blank, strict=True)],
                dtype=object,
            )
        else:
            values = pd.Series(numeric_column(frame, col, where, required=False))
            nonpos = np.flatnonzero(values.to_numpy() <= 0)
            if nonpos.size:
                fail_rows(
                    col,
                    nonpos,
                    frame[col],
                    "must be > 0 but is not",
                    f"{col} is a positive count (not its log): fix or remove those rows.",
                    where,
                )
        out = []
        for m_i, label in enumerate(labels):
            rows = np.flatnonzero(idx == m_i)
            vals = values.iloc[rows]
            present = vals[~(vals.isna() | (vals == ""))]
            distinct = pd.unique(present)
            if len(distinct) > 1:
                raise DataError(
                    f"column {col!r}: model {label!r} has {len(distinct)} different values "
                    f"({', '.join(fmt_cell(v) for v in distinct[:4])}) in {where(rows)}. A model "
                    f"has one {col}: make them equal, or give the variants different model "
                    "labels."
                )
            if len(present) < len(rows) and len(present):
                notes.append(f"filled {col!r} of model {label!r} from its other rows")
            out.append(distinct[0] if len(distinct) else (np.nan if col != "family" else ""))
        per_model[col] = np.asarray(out, dtype=object if col == "family" else float)
    for col in ("params", "tokens", "compute_per_sample"):
        per_model.setdefault(col, np.full(len(labels), np.nan))
    if "family" not in per_model:
        per_model["family"] = np.asarray(["" for _ in labels], dtype=object)

    ds = xr.Dataset(
        {
            "n_samples": (dims.OBS, n),
            "n_correct": (dims.OBS, c),
            "problem_label": (dims.OBS, problem.to_numpy(dtype=str)),
            "model_idx": (dims.OBS, idx.astype(np.int64)),
            "params": (dims.MODEL, per_model["params"]),
            "tokens": (dims.MODEL, per_model["tokens"]),
            "compute_per_sample": (dims.MODEL, per_model["compute_per_sample"]),
            "family": (dims.MODEL, per_model["family"].astype(str)),
        },
        coords={dims.OBS: np.arange(len(frame)), dims.MODEL: np.asarray(labels, dtype=str)},
        attrs={VALIDATED_COUNTS: 1, "notes": "; ".join(notes)},
    )
    return ds


def to_counts_frame(ds: xr.Dataset) -> pd.DataFrame:
    """The validated counts as a DataFrame (one row per model and problem)."""
    models = ds[dims.MODEL].values[ds["model_idx"].values]
    frame = pd.DataFrame(
        {
            "model": models,
            "problem": ds["problem_label"].values,
            "n_samples": ds["n_samples"].values,
            "n_correct": ds["n_correct"].values,
        }
    )
    for col in ("params", "tokens", "compute_per_sample", "family"):
        values = ds[col].values[ds["model_idx"].values]
        if col == "family" and not any(values):
            continue
        if col != "family" and np.all(np.isnan(values.astype(float))):
            continue
        frame[col] = values
    return frame
