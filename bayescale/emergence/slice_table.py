r"""The slice table: a task's models scored on slices of its questions, by difficulty.

Every part of :mod:`bayescale.emergence` that works on difficulty slices reads this table
(one row per task, model, metric and slice): :mod:`~bayescale.emergence.slicing` builds it
from per-question results, :mod:`~bayescale.emergence.wu_lo` from Wu & Lo's data, and
:func:`~bayescale.emergence.sandwich.fit_sandwich` and
:func:`~bayescale.emergence.sigmoid.fit_sigmoid` fit it.

================  ======  ===============================================================
column            type    meaning
================  ======  ===============================================================
``task``          str     task (benchmark) name
``model``         str     model name
``family``        str     model family ("" when unknown)
``compute``       float   training FLOPs C (> 0), one value per model
``slice``         int     0 = easiest, increasing = harder; -1 = the whole task
``n_slices``      int     number of slices K of this (task, metric)
``slice_label``   str     source label of the slice (e.g. ``"0_1404"``); ``"overall"``
``metric``        str     ``"brier"`` (TC Brier, lower is better) or ``"acc"``
``value``         float   mean TC Brier score or accuracy over the slice
``n_questions``   float   questions in the slice (NaN when unknown)
================  ======  ===============================================================

This module checks such a table (:func:`validate_slice_table`), merges adjacent slices
(:func:`merge_slices`) and arranges it as an :class:`xarray.Dataset`
(:func:`slice_table_to_dataset`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.errors import DataError
from bayescale.core.tables import (
    CSV_LINES,
    blank_mask,
    cell_values,
    describe_rows,
    fail_rows,
    label_text,
    numeric_column,
    read_table,
)

__all__ = [
    "METRICS",
    "OVERALL_LABEL",
    "OVERALL_SLICE",
    "SLICE_COLUMNS",
    "merge_slices",
    "slice_table_to_dataset",
    "validate_slice_table",
]

#: Columns of a slice table, in order.
SLICE_COLUMNS: tuple[str, ...] = (
    "task",
    "model",
    "family",
    "compute",
    "slice",
    "n_slices",
    "slice_label",
    "metric",
    "value",
    "n_questions",
)
#: Metric names of a slice table.
METRICS: tuple[str, ...] = ("brier", "acc")
#: ``slice`` and ``slice_label`` of the rows holding a task's overall score.
OVERALL_SLICE = -1
OVERALL_LABEL = "overall"

#: Most items an error message lists.
MAX_LISTED = 8
#: A source slice label ``"a_b"``: questions ``a`` to ``b`` of the ranked order.
LABEL_RANGE = re.compile(r"^(\d+)_(\d+)$")


# --------------------------------------------------------------------------- helpers
# Shared by the modules of bayescale.emergence that read or build slice tables.
def joined(items: Iterable[Any]) -> str:
    """``items`` as ``"a, b, c"``, at most :data:`MAX_LISTED` of them."""
    items = [str(i) for i in items]
    more = f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return ", ".join(items[:MAX_LISTED]) + more


def where_fn(frame: pd.DataFrame, from_csv: bool) -> Any:
    """A function describing row positions of ``frame`` (CSV lines for a file)."""
    lines = frame.attrs.get(CSV_LINES) if from_csv else None

    def where(rows: Sequence[int] | np.ndarray) -> str:
        return describe_rows(rows, lines)

    return where


def where_rows(rows: Sequence[int] | np.ndarray) -> str:
    """Describe input row positions (0-based) for an error message."""
    return describe_rows(rows, None)


def require_columns(frame: pd.DataFrame, cols: Sequence[str], what: str, fix: str) -> None:
    """Raise a :class:`DataError` naming the columns of ``cols`` that ``frame`` lacks."""
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DataError(
            f"{what}: missing required column(s) {missing}; the table has columns "
            f"{[str(c) for c in frame.columns]}. {fix}"
        )


def label_column(
    frame: pd.DataFrame, col: str, where: Any, *, allow_blank: bool = False
) -> pd.Series:
    """Column ``col`` as string labels; blank entries are an error unless allowed ("")."""
    blank = blank_mask(frame[col])
    if blank.any() and not allow_blank:
        rows = np.flatnonzero(blank)
        raise DataError(
            f"column {col!r}: empty in {where(rows)}. Give every row a {col} label, or remove "
            "those rows."
        )
    return pd.Series(
        ["" if b else label_text(v) for v, b in zip(frame[col], blank, strict=True)],
        dtype=object,
        index=frame.index,
    )


def table_notes(frame: pd.DataFrame) -> list[str]:
    """The notes a table carries in ``attrs["notes"]``."""
    notes = frame.attrs.get("notes", [])
    return [notes] if isinstance(notes, str) else list(notes)


def label_count(label: str) -> float:
    """Questions in a source slice label ``"a_b"`` (``b - a``); NaN for other labels."""
    match = LABEL_RANGE.match(label)
    return float(int(match.group(2)) - int(match.group(1))) if match else np.nan


def finish_table(rows: list[dict[str, Any]] | pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Put a slice table in canonical column order and dtypes, sorted, with notes."""
    out = pd.DataFrame(rows, columns=list(SLICE_COLUMNS))
    for col in ("task", "model", "family", "slice_label", "metric"):
        out[col] = out[col].astype(object)
    out["compute"] = out["compute"].astype(float)
    out["slice"] = out["slice"].astype(np.int64)
    out["n_slices"] = out["n_slices"].astype(np.int64)
    out["value"] = out["value"].astype(float)
    out["n_questions"] = out["n_questions"].astype(float)
    out = out.sort_values(
        ["task", "metric", "compute", "model", "slice"], kind="stable", ignore_index=True
    )
    out.attrs["notes"] = list(notes)
    return out


# --------------------------------------------------------------------------- validation


def validate_slice_table(frame: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Check a slice table and return it in canonical form (column order, dtypes, sort order).

    Rules: the columns of :data:`SLICE_COLUMNS` (more are dropped, with a note); labels not
    empty (``family`` may be ""); ``compute`` finite and > 0 and one value (and one family)
    per model; ``metric`` is ``"brier"`` or ``"acc"``; ``slice`` an integer, -1 (overall,
    label ``"overall"``) or 0 <= slice < ``n_slices``; ``n_slices`` the same within a
    (task, metric); ``value`` finite, in [0, 1] for accuracy and [0, 2] for Brier scores;
    ``n_questions`` empty or a positive integer; one row per (task, model, metric, slice); and
    every (task, metric, model) with slice rows has all slices 0 .. n_slices - 1.

    Parameters
    ----------
    frame
        A DataFrame or CSV path.

    Returns
    -------
    pandas.DataFrame
        The table, sorted by task, metric, compute, model and slice; ``attrs["notes"]`` kept.

    Raises
    ------
    DataError
        Naming the column, the rows (0-based; CSV lines for a file) and the fix.
    """
    table, from_csv = read_table(frame)
    notes = table_notes(frame) if isinstance(frame, pd.DataFrame) else []
    where = where_fn(table, from_csv)
    require_columns(
        table,
        list(SLICE_COLUMNS),
        "slice table",
        "See bayescale.emergence.slice_table (module docstring) for the format.",
    )
    if len(table) == 0:
        raise DataError("slice table: no rows")
    extra = [str(c) for c in table.columns if c not in SLICE_COLUMNS]
    if extra:
        notes.append(f"slice table: dropped extra column(s) {extra}")
    out = pd.DataFrame(index=table.index)
    for col in ("task", "model", "metric", "slice_label"):
        out[col] = label_column(table, col, where)
    out["family"] = label_column(table, "family", where, allow_blank=True)
    bad = np.flatnonzero(~out["metric"].isin(METRICS).to_numpy())
    if bad.size:
        fail_rows(
            "metric",
            bad,
            table["metric"],
            "not 'brier' or 'acc'",
            "Use 'brier' (TC Brier score) or 'acc' (accuracy).",
            where,
        )
    comp = numeric_column(table, "compute", where, required=True)
    bad = np.flatnonzero(comp <= 0)
    if bad.size:
        fail_rows(
            "compute",
            bad,
            table["compute"],
            "must be > 0 but is not",
            "Compute is the training cost in FLOPs (not its log).",
            where,
        )
    out["compute"] = comp
    for col in ("slice", "n_slices"):
        v = numeric_column(table, col, where, required=True)
        bad = np.flatnonzero(v != np.round(v))
        if bad.size:
            fail_rows(col, bad, table[col], "not an integer", "Fix those rows.", where)
        out[col] = v.astype(np.int64)
    bad = np.flatnonzero(out["n_slices"].to_numpy() < 1)
    if bad.size:
        fail_rows("n_slices", bad, table["n_slices"], "must be >= 1", "Fix those rows.", where)
    s, k = out["slice"].to_numpy(), out["n_slices"].to_numpy()
    bad = np.flatnonzero((s < OVERALL_SLICE) | (s >= k))
    if bad.size:
        fail_rows(
            "slice",
            bad,
            table["slice"],
            "outside -1 .. n_slices - 1",
            "Number slices 0 (easiest) to n_slices - 1; use -1 for overall rows.",
            where,
        )
    overall = s == OVERALL_SLICE
    bad = np.flatnonzero(overall != (out["slice_label"] == OVERALL_LABEL).to_numpy())
    if bad.size:
        fail_rows(
            "slice_label",
            bad,
            table["slice_label"],
            "does not match 'slice' (-1 goes with 'overall' and only with it)",
            "Give overall rows slice = -1 and slice_label = 'overall'.",
            where,
        )
    val = numeric_column(table, "value", where, required=True)
    hi = np.where(out["metric"].to_numpy() == "acc", 1.0, 2.0)
    bad = np.flatnonzero((val < 0) | (val > hi))
    if bad.size:
        fail_rows(
            "value",
            bad,
            table["value"],
            "out of range (accuracy in [0, 1], Brier score in [0, 2])",
            "Check the metric of those rows.",
            where,
        )
    out["value"] = val
    nq = numeric_column(table, "n_questions", where, required=False)
    bad = np.flatnonzero(~np.isnan(nq) & ((nq < 1) | (nq != np.round(nq))))
    if bad.size:
        fail_rows(
            "n_questions",
            bad,
            table["n_questions"],
            "not a positive integer",
            "Give the number of questions of the slice, or leave it empty.",
            where,
        )
    out["n_questions"] = nq
    for col in ("compute", "family"):
        n_per = out.groupby("model", sort=False)[col].nunique()
        if (n_per > 1).any():
            m = str(n_per[n_per > 1].index[0])
            rows = np.flatnonzero((out["model"] == m).to_numpy())
            raise DataError(
                f"column {col!r}: model {m!r} has different values in {where(rows)}: "
                f"{cell_values(table[col], rows)}. Each model has one {col}."
            )
    n_per = out.groupby(["task", "metric"], sort=False)["n_slices"].nunique()
    if (n_per > 1).any():
        t, m = n_per[n_per > 1].index[0]
        rows = np.flatnonzero(((out["task"] == t) & (out["metric"] == m)).to_numpy())
        raise DataError(
            f"column 'n_slices': task {t!r}, metric {m!r} has different values in {where(rows)}: "
            f"{cell_values(table['n_slices'], rows)}. Use one slicing per task and metric."
        )
    dup = out.duplicated(["task", "model", "metric", "slice"], keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        raise DataError(
            f"columns task, model, metric, slice: {where(rows)} repeat the same slice. Keep "
            "one row per (task, model, metric, slice)."
        )
    parts = out[~overall].groupby(["task", "metric", "model"], sort=False)
    for (t, m, mod), g in parts:
        n = int(g["n_slices"].iloc[0])
        if g["slice"].nunique() != n:
            lack = sorted(set(range(n)) - set(g["slice"]))
            raise DataError(
                f"column 'slice': task {t!r}, metric {m!r}, model {mod!r} lacks slice(s) "
                f"{joined(lack)} of 0..{n - 1} (its rows: {where(g.index.to_numpy())}). Give "
                "every slice, or drop the model from this task and metric."
            )
    return finish_table(out[list(SLICE_COLUMNS)], notes)


# --------------------------------------------------------------------------- merging


def merge_slices(table: pd.DataFrame, n_slices: int = 3) -> pd.DataFrame:
    r"""Merge adjacent slices of a slice table into ``n_slices`` coarser slices.

    Slice :math:`s` (of :math:`K`) joins new slice
    :math:`\lfloor n\,(c_{s-1} + c_s)/(2Q) \rfloor`, where :math:`c_s` is the cumulative
    question count up to slice :math:`s` and :math:`Q` the total: each old slice goes to the
    new slice holding its middle question. Values are means weighted by ``n_questions``
    (equal weights when unknown, with a note), so a merged Brier score or accuracy is the
    exact mean over the merged questions. With 10 equal slices and ``n_slices=3`` the groups
    are slices 0-2, 3-6 and 7-9 (30/40/30 % of the questions), which differ from Wu & Lo's
    3-group files (thirds of the ranked questions;
    :func:`~bayescale.emergence.wu_lo.slice_table_from_wu_lo_source`
    reads those). Labels ``"a_b"`` merge to ``"a_c"``; others are joined with ``"+"``.
    Overall rows are kept as they are.

    Parameters
    ----------
    table
        A slice table.
    n_slices
        Number of slices after merging (<= the current number of every task and metric).

    Returns
    -------
    pandas.DataFrame
        The merged slice table.
    """
    tab = validate_slice_table(table)
    if isinstance(n_slices, bool) or not isinstance(n_slices, int | np.integer) or n_slices < 1:
        raise DataError(f"n_slices must be a positive integer, not {n_slices!r}")
    notes = table_notes(tab)
    overall = tab[tab["slice"] == OVERALL_SLICE]
    parts = [overall]
    for (task, metric), g in tab[tab["slice"] != OVERALL_SLICE].groupby(["task", "metric"]):
        k = int(g["n_slices"].iloc[0])
        if n_slices > k:
            raise DataError(
                f"task {task!r}, metric {metric!r} has {k} slices; cannot merge into {n_slices}"
            )
        counts = g.groupby("slice")["n_questions"].first().reindex(range(k))
        if counts.isna().any():
            notes.append(f"{task}/{metric}: n_questions unknown, slices merged with equal weights")
            counts = pd.Series(1.0, index=range(k))
        c = counts.to_numpy(dtype=float)
        cum = np.cumsum(c)
        mid = (cum - c / 2) / cum[-1]
        new = np.minimum(np.floor(mid * n_slices).astype(np.int64), n_slices - 1)
        if len(np.unique(new)) < n_slices:
            raise DataError(f"{task}/{metric}: slice sizes too uneven to merge into {n_slices}")
        labels = g.groupby("slice")["slice_label"].first().reindex(range(k)).tolist()
        new_labels = []
        for j in range(n_slices):
            members = [labels[s] for s in range(k) if new[s] == j]
            first, last = LABEL_RANGE.match(members[0]), LABEL_RANGE.match(members[-1])
            if first and last:
                new_labels.append(f"{first.group(1)}_{last.group(2)}")
            else:
                new_labels.append("+".join(members))
        gg = g.assign(
            new=new[g["slice"].to_numpy()],
            w=(c / c.sum())[g["slice"].to_numpy()],
            wv=lambda x: x["w"] * x["value"],
        )
        agg = (
            gg.groupby(["model", "new"], sort=False)
            .agg(
                wv=("wv", "sum"),
                w=("w", "sum"),
                n_questions=("n_questions", "sum"),
                family=("family", "first"),
                compute=("compute", "first"),
            )
            .reset_index()
        )
        agg["value"] = agg["wv"] / agg["w"]
        agg["slice"] = agg["new"]
        agg["slice_label"] = [new_labels[j] for j in agg["new"]]
        agg["task"], agg["metric"], agg["n_slices"] = task, metric, n_slices
        if counts.eq(1.0).all() and g["n_questions"].isna().all():
            agg["n_questions"] = np.nan
        parts.append(agg[list(SLICE_COLUMNS)])
        groups = ", ".join(
            f"{j}<-{{{','.join(str(s) for s in range(k) if new[s] == j)}}}" for j in range(n_slices)
        )
        notes.append(f"{task}/{metric}: merged {k} slices into {n_slices} ({groups})")
    out = pd.concat(parts, ignore_index=True)
    overall_rows = out["slice"] == OVERALL_SLICE
    nmap = out[~overall_rows].groupby(["task", "metric"])["n_slices"].first()
    out.loc[overall_rows, "n_slices"] = [
        nmap.get((t, m), n)
        for t, m, n in zip(
            out.loc[overall_rows, "task"],
            out.loc[overall_rows, "metric"],
            out.loc[overall_rows, "n_slices"],
            strict=True,
        )
    ]
    return finish_table(out, notes)


# --------------------------------------------------------------------------- xarray


def slice_table_to_dataset(table: pd.DataFrame, task: str | None = None) -> xr.Dataset:
    """Arrange a slice table as an ``xarray.Dataset`` for fitting.

    Parameters
    ----------
    table
        A slice table.
    task
        One task: dimensions ``(model, slice)``. None: all tasks, dimensions
        ``(task, model, slice)`` (a model missing from a task gives NaN there).

    Returns
    -------
    xarray.Dataset
        For each metric ``M`` in the table: ``M`` (mean per slice; dims ``[task,] model,
        slice``), ``M_overall`` (``[task,] model``), ``M_n_questions`` and ``M_slice_label``
        (``[task,] slice``); coordinates ``model`` (sorted by compute), ``slice`` (0 = easiest
        .. max n_slices - 1; NaN past a task's own n_slices), ``compute``, ``log10_compute``
        and ``family`` per model, and ``task``. ``attrs`` hold ``n_slices_<M>`` (per task
        when several) and the notes.
    """
    tab = validate_slice_table(table)
    if task is not None:
        if task not in set(tab["task"]):
            raise DataError(f"task {task!r} not in the table; it has {sorted(set(tab['task']))}")
        tab = tab[tab["task"] == task]
    info = tab.groupby("model")[["compute", "family"]].first().sort_values("compute", kind="stable")
    models = info.index.tolist()
    tasks = list(pd.unique(tab["task"]))
    n_max = int(tab["n_slices"].max())
    slices = np.arange(n_max)
    data: dict[str, Any] = {}
    attrs: dict[str, Any] = {"notes": "; ".join(table_notes(tab))}
    for metric in [m for m in METRICS if m in set(tab["metric"])]:
        g = tab[tab["metric"] == metric]
        part = g[g["slice"] >= 0]
        val = np.full((len(tasks), len(models), n_max), np.nan)
        nq = np.full((len(tasks), n_max), np.nan)
        lab = np.full((len(tasks), n_max), "", dtype=object)
        ovr = np.full((len(tasks), len(models)), np.nan)
        ti = {t: i for i, t in enumerate(tasks)}
        mi = {m: i for i, m in enumerate(models)}
        it = part["task"].map(ti).to_numpy()
        im = part["model"].map(mi).to_numpy()
        isl = part["slice"].to_numpy()
        val[it, im, isl] = part["value"].to_numpy()
        first = part.drop_duplicates(["task", "slice"])
        nq[first["task"].map(ti).to_numpy(), first["slice"].to_numpy()] = first["n_questions"]
        lab[first["task"].map(ti).to_numpy(), first["slice"].to_numpy()] = first["slice_label"]
        o = g[g["slice"] == OVERALL_SLICE]
        ovr[o["task"].map(ti).to_numpy(), o["model"].map(mi).to_numpy()] = o["value"].to_numpy()
        data[metric] = (("task", "model", "slice"), val)
        data[f"{metric}_overall"] = (("task", "model"), ovr)
        data[f"{metric}_n_questions"] = (("task", "slice"), nq)
        data[f"{metric}_slice_label"] = (("task", "slice"), lab.astype(str))
        n_by_task = g.groupby("task")["n_slices"].first()
        attrs[f"n_slices_{metric}"] = (
            int(n_by_task.iloc[0]) if len(tasks) == 1 else [int(n_by_task.get(t, 0)) for t in tasks]
        )
    ds = xr.Dataset(
        data,
        coords={
            "task": tasks,
            "model": models,
            "slice": slices,
            "compute": ("model", info["compute"].to_numpy(dtype=float)),
            "log10_compute": ("model", np.log10(info["compute"].to_numpy(dtype=float))),
            "family": ("model", np.asarray(info["family"].astype(str).tolist(), dtype=str)),
        },
        attrs=attrs,
    )
    if task is not None:
        ds = ds.squeeze("task", drop=False)
    return ds
