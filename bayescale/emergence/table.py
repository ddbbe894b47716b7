"""The accuracy table of the sigmoidal emergence law: one accuracy per task and model.

:func:`emergence_table` checks a table of accuracies (or the overall rows of a slice table,
:mod:`bayescale.emergence.slice_table`) and gives every task its chance level and number of
questions, as :func:`bayescale.emergence.sigmoid.fit_sigmoid` needs them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bayescale.core.errors import DataError, SpecificationError
from bayescale.emergence.known_tasks import OBSSCALING_EMERGENT, WU_LO_CHANCE

__all__ = ["KNOWN_CHANCE", "emergence_table"]

#: Chance levels used when a table gives none for a task with one of these names.
KNOWN_CHANCE: dict[str, float] = {
    **WU_LO_CHANCE,
    **{k: v[0] for k, v in OBSSCALING_EMERGENT.items()},
}


def emergence_table(
    table: pd.DataFrame,
    *,
    chance: float | Mapping[str, float] | None = None,
    n_questions: float | Mapping[str, float] | None = None,
    tasks: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Validate and normalise an accuracy table for the sigmoidal law.

    The table :func:`~bayescale.emergence.sigmoid.fit_sigmoid` fits.

    Parameters
    ----------
    table
        One row per (task, model): ``task``, ``model``, ``compute`` (training FLOPs, > 0),
        ``value`` (accuracy in [0, 1]), optional ``n_questions``, ``chance`` and ``family``.
        A slice table of :mod:`bayescale.emergence.slicing` is accepted: its overall accuracy
        rows (``slice == -1``, ``metric == "acc"``) are used.
    chance
        Chance accuracy, one number or per task; overrides a ``chance`` column. Tasks without
        either fall back to :data:`KNOWN_CHANCE`.
    n_questions
        Questions per task, one number or per task; overrides an ``n_questions`` column.
        Without it the task gets a Beta likelihood on the accuracy.
    tasks
        Tasks to keep, in this order (default: all, in order of appearance).

    Returns
    -------
    pandas.DataFrame
        Columns ``task``, ``model``, ``family``, ``compute``, ``value``, ``n_questions``
        (NaN when unknown), ``chance``, sorted by task (in ``tasks`` order), compute, model.

    Raises
    ------
    DataError
        Missing columns, non-positive compute, accuracies outside [0, 1], duplicate
        (task, model) rows, unknown tasks.
    SpecificationError
        A task without a chance level, or a chance level outside [0, 1).
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"pass a pandas DataFrame, not {type(table).__name__}")
    frame = table
    if "slice" in frame.columns and "metric" in frame.columns:
        frame = frame[(frame["slice"] == -1) & (frame["metric"] == "acc")]
        if frame.empty:
            raise DataError(
                "the slice table has no overall accuracy rows (slice == -1, metric == 'acc'); "
                "build it with bayescale.emergence.wu_lo.slice_table_from_wu_lo()."
            )
    need = ["task", "model", "compute", "value"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing column(s) {missing}; the table has {[str(c) for c in frame.columns]}. "
            "Give one row per (task, model) with task, model, compute (FLOPs) and value "
            "(accuracy in [0, 1])."
        )
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame(
        {
            "task": frame["task"].astype(str).to_numpy(),
            "model": frame["model"].astype(str).to_numpy(),
            "family": (
                frame["family"].fillna("").astype(str).to_numpy()
                if "family" in frame.columns
                else np.full(len(frame), "", dtype=object)
            ),
            "compute": pd.to_numeric(frame["compute"], errors="coerce").to_numpy(float),
            "value": pd.to_numeric(frame["value"], errors="coerce").to_numpy(float),
        }
    )
    present = list(pd.unique(out["task"]))
    if tasks is not None:
        unknown = [t for t in tasks if t not in present]
        if unknown:
            raise DataError(f"task(s) {unknown} not in the table; it holds {present}")
        keep = out["task"].isin(list(tasks)).to_numpy()
        out, frame = out[keep].reset_index(drop=True), frame[keep].reset_index(drop=True)
        order = list(tasks)
    else:
        order = present
    if out.empty:
        raise DataError("the table has no rows")
    bad = np.flatnonzero(~(np.isfinite(out["compute"]) & (out["compute"] > 0)))
    if bad.size:
        raise DataError(
            f"column 'compute': not a positive number in rows {bad[:8].tolist()} (values "
            f"{frame['compute'].iloc[bad[:4]].tolist()}). Give training FLOPs > 0 or drop them."
        )
    bad = np.flatnonzero(~(np.isfinite(out["value"]) & (out["value"] >= 0) & (out["value"] <= 1)))
    if bad.size:
        raise DataError(
            f"column 'value': not an accuracy in [0, 1] in rows {bad[:8].tolist()} (values "
            f"{frame['value'].iloc[bad[:4]].tolist()}). Convert percentages to proportions; "
            "drop rows without a score."
        )
    dup = out.duplicated(["task", "model"], keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        raise DataError(
            f"duplicate (task, model) rows {rows[:8].tolist()} (e.g. "
            f"{out.loc[rows[0], 'task']!r}, {out.loc[rows[0], 'model']!r}): keep one score per "
            "model and task (average seeds first)."
        )
    out["n_questions"] = _per_task(out, frame, "n_questions", n_questions)
    bad = np.flatnonzero(out["n_questions"].notna() & ~(out["n_questions"] >= 1))
    if bad.size:
        raise DataError(
            f"column 'n_questions': not a count >= 1 in rows {bad[:8].tolist()}; leave it "
            "empty when unknown."
        )
    out["n_questions"] = np.round(out["n_questions"].to_numpy(float))
    out["chance"] = _per_task(out, frame, "chance", chance)
    lacking = [t for t in order if out.loc[out["task"] == t, "chance"].isna().any()]
    fallback = {t: KNOWN_CHANCE[t] for t in lacking if t in KNOWN_CHANCE}
    if fallback:
        fill = out["task"].map(fallback).astype(float)
        out["chance"] = out["chance"].fillna(fill)
    still = [t for t in lacking if t not in fallback]
    if still:
        raise SpecificationError(
            f"no chance level for task(s) {still}: pass chance={{task: 1 / n_choices}} (0 for "
            "generative exact-match tasks) or add a 'chance' column."
        )
    if ((out["chance"] < 0) | (out["chance"] >= 1)).any():
        raise SpecificationError("chance levels must lie in [0, 1)")
    for t in order:
        c = out.loc[out["task"] == t, "chance"]
        if c.nunique() > 1:
            raise DataError(f"task {t!r}: the 'chance' column must be constant within a task")
    unknown_n = out["n_questions"].isna() & ((out["value"] <= 0) | (out["value"] >= 1))
    if unknown_n.any():
        rows = np.flatnonzero(unknown_n)
        raise DataError(
            f"accuracy exactly 0 or 1 in rows {rows[:8].tolist()} of task(s) "
            f"{sorted(set(out.loc[unknown_n, 'task']))} without n_questions: the Beta "
            "likelihood needs values inside (0, 1). Give n_questions (beta-binomial)."
        )
    out["_t"] = out["task"].map({t: i for i, t in enumerate(order)})
    out = out.sort_values(["_t", "compute", "model"], kind="stable").drop(columns="_t")
    return out.reset_index(drop=True)


def _per_task(
    out: pd.DataFrame,
    frame: pd.DataFrame,
    col: str,
    arg: float | Mapping[str, float] | None,
) -> pd.Series:
    values = (
        pd.to_numeric(frame[col], errors="coerce").astype(float)
        if col in frame.columns
        else pd.Series(np.nan, index=out.index)
    )
    if arg is None:
        return values
    if isinstance(arg, Mapping):
        mapped = out["task"].map({str(k): float(v) for k, v in arg.items()}).astype(float)
        return mapped.fillna(values)
    return pd.Series(float(arg), index=out.index)
