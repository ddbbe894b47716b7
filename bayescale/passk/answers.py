"""The answer-distribution table of voting: its columns, and the checks it must pass.

One row per (model, problem, distinct final answer) with how often that answer was
sampled; :mod:`bayescale.passk.voting` computes the accuracy of majority, best-of-n and
reward-weighted voting from it.

=================  ========  =================================================================
column             required  meaning
=================  ========  =================================================================
``model``          yes       label of the language model
``problem``        yes       label of the problem (question)
``answer``         yes       a distinct final answer (after normalisation) to that problem
``count``          yes       how many samples gave that answer, a whole number >= 0
``is_correct``     yes       whether the answer is correct (True/False, 1/0, "true"/"false")
``reward``         no        a score of that answer (e.g. mean reward-model score); needed by
                             best-of-n and weighted voting
``params``         no        parameters N of the model (> 0), one value per model
``family``         no        model family, one value per model
=================  ========  =================================================================

:func:`validate_answers` checks every rule and raises :class:`~bayescale.core.errors.DataError`
naming the column, the rows (0-based positions, plus CSV lines for a CSV file) and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from bayescale.core.errors import DataError
from bayescale.core.tables import (
    CSV_LINES,
    blank_mask,
    count_column,
    describe_rows,
    fail_rows,
    is_blank,
    label_text,
    numeric_column,
    read_table,
)

__all__ = ["ANSWER_COLUMNS", "Source", "checked_answers", "validate_answers"]

#: Required columns of an answer-distribution table.
ANSWER_COLUMNS = ("model", "problem", "answer", "count", "is_correct")
_TRUE = {"true", "t", "yes", "1", "1.0"}
_FALSE = {"false", "f", "no", "0", "0.0"}
_VALIDATED = "bayescale_validated_answers"

#: What a table can be given as: a DataFrame or the path of a CSV file.
type Source = str | os.PathLike[str] | pd.DataFrame


def _bool_cells(frame: pd.DataFrame, col: str, where: Any) -> np.ndarray:
    raw = frame[col]
    out = np.zeros(len(raw), dtype=bool)
    bad: list[int] = []
    for i, v in enumerate(raw.to_numpy(dtype=object)):
        if isinstance(v, bool | np.bool_):
            out[i] = bool(v)
            continue
        if is_blank(v):
            bad.append(i)
            continue
        if isinstance(v, int | float | np.integer | np.floating) and float(v) in (0.0, 1.0):
            out[i] = float(v) == 1.0
            continue
        text = str(v).strip().lower()
        if text in _TRUE:
            out[i] = True
        elif text in _FALSE:
            out[i] = False
        else:
            bad.append(i)
    if bad:
        fail_rows(
            col,
            np.asarray(bad),
            raw,
            "not a boolean",
            "Write True/False, 1/0 or 'true'/'false' (empty cells are not allowed): fix "
            "or remove those rows.",
            where,
        )
    return out


def validate_answers(data: Source) -> pd.DataFrame:
    """Check an answer-distribution table and return it with clean types.

    Parameters
    ----------
    data
        DataFrame or CSV path with the columns of the module docstring (one row per
        model, problem and distinct answer). A frame already returned by this function is
        checked again (cheap) and returned as a copy.

    Returns
    -------
    pandas.DataFrame
        The same rows in the same order with ``model``, ``problem``, ``answer`` as
        strings, ``count`` as int64, ``is_correct`` as bool, ``reward`` and ``params`` as
        float and ``family`` as strings (when present). ``attrs["notes"]`` lists what is
        worth knowing but legal (e.g. problems whose correct answer was never sampled).

    Raises
    ------
    DataError
        For a missing column, blank labels, counts that are not whole numbers >= 0, a
        problem whose counts are all 0, ``is_correct`` values that are not booleans, two
        correct answers for one (model, problem), a repeated (model, problem, answer), a
        non-finite reward, or a model column that changes within one model. The message
        names the column, the rows (0-based positions, plus CSV lines) and the fix.
    """
    frame, from_csv = read_table(data)
    csv_lines = frame.attrs.get(CSV_LINES) if from_csv else None

    def where(rows: Sequence[int] | np.ndarray) -> str:
        return describe_rows(rows, csv_lines)

    if len(frame) == 0:
        raise DataError(
            "the answers table has no rows. Add one row per (model, problem, answer) with "
            "count and is_correct; see docs/voting.md."
        )
    dup_cols = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if dup_cols:
        raise DataError(f"column(s) {dup_cols} appear more than once; keep one of each.")
    missing = [c for c in ANSWER_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing required column(s) {missing}; the table has columns "
            f"{[str(c) for c in frame.columns]}. An answers table needs model, problem, "
            "answer, count and is_correct (one row per model, problem and distinct answer; "
            "see docs/voting.md)."
        )
    for col in ("model", "problem", "answer"):
        blank = np.flatnonzero(blank_mask(frame[col]))
        if blank.size:
            raise DataError(
                f"column {col!r}: empty in {where(blank)}. Give every row a {col} label, or "
                "remove those rows."
            )
    labels = {
        col: pd.Series([label_text(v) for v in frame[col]], dtype=object)
        for col in ("model", "problem", "answer")
    }
    count = count_column(
        frame, "count", where, minimum=0, meaning="A count is how many samples gave that answer"
    )
    correct = _bool_cells(frame, "is_correct", where)

    key = labels["model"] + "\x00" + labels["problem"]
    triple = key + "\x00" + labels["answer"]
    dup = np.flatnonzero(triple.duplicated(keep=False).to_numpy())
    if dup.size:
        shown = list(
            dict.fromkeys(
                f"({labels['model'][r]!r}, {labels['problem'][r]!r}, {labels['answer'][r]!r})"
                for r in dup
            )
        )
        more = f" and {len(shown) - 4} more" if len(shown) > 4 else ""
        raise DataError(
            f"columns 'model', 'problem', 'answer': {', '.join(shown[:4])}{more} appear in more "
            f"than one row ({where(dup)}). Give each distinct answer one row: sum the counts "
            "of the repeated rows (e.g. df.groupby(['model', 'problem', 'answer'], "
            "as_index=False).agg(count=('count', 'sum'), is_correct=('is_correct', 'first')))."
        )
    groups = pd.Series(np.arange(len(frame))).groupby(key.to_numpy(), sort=False)
    for _, rows_s in groups:
        rows = rows_s.to_numpy()
        n_right = int(correct[rows].sum())
        if n_right > 1:
            right = rows[correct[rows]]
            raise DataError(
                f"column 'is_correct': model {labels['model'][rows[0]]!r}, problem "
                f"{labels['problem'][rows[0]]!r} has {n_right} answers marked correct "
                f"({_values_str(labels['answer'], right)}) in {where(right)}. At most one "
                "distinct answer of a problem is correct: normalise equivalent answers to one "
                "label and sum their counts, or fix the wrong flags."
            )
        if count[rows].sum() == 0:
            raise DataError(
                f"column 'count': model {labels['model'][rows[0]]!r}, problem "
                f"{labels['problem'][rows[0]]!r} has no samples (every count is 0) in "
                f"{where(rows)}. Each problem needs at least one sampled answer: fix the "
                "counts or remove those rows."
            )

    out = pd.DataFrame(
        {
            "model": labels["model"].to_numpy(),
            "problem": labels["problem"].to_numpy(),
            "answer": labels["answer"].to_numpy(),
            "count": count,
            "is_correct": correct,
        }
    )
    notes: list[str] = []
    if "reward" in frame.columns:
        reward = numeric_column(frame, "reward", where, required=False)
        gap = np.flatnonzero(np.isnan(reward))
        if gap.size:
            raise DataError(
                f"column 'reward': missing (empty or NaN) in {where(gap)}. Give every answer "
                "a reward, or drop the 'reward' column to use majority voting only."
            )
        out["reward"] = reward
    per_model = _model_columns(frame, labels["model"], where)
    for col, values in per_model.items():
        out[col] = values
    sampled_right = pd.Series(correct & (count > 0)).groupby(key.to_numpy(), sort=False).any()
    model_of = pd.Series(labels["model"].to_numpy(), index=key.to_numpy())
    model_of = model_of[~model_of.index.duplicated()]
    unsolved = model_of[~sampled_right.reindex(model_of.index).to_numpy()]
    n_probs = model_of.groupby(model_of.to_numpy(), sort=False).size()
    for m, k in unsolved.groupby(unsolved.to_numpy(), sort=False).size().items():
        notes.append(
            f"model {m!r}: {k} of {n_probs[m]} problems have no sampled correct answer "
            "(accuracy 0 at every n)"
        )
    sets = {m: frozenset(out.loc[out["model"] == m, "problem"]) for m in pd.unique(out["model"])}
    if len(set(sets.values())) > 1:
        notes.append(
            "models were evaluated on different problem sets: compare their accuracies with care"
        )
    out.attrs["notes"] = "; ".join(notes)
    out.attrs[_VALIDATED] = True
    return out


def _values_str(labels: pd.Series, rows: np.ndarray) -> str:
    return ", ".join(repr(labels[int(r)]) for r in rows[:8]) + (", ..." if len(rows) > 8 else "")


def _model_columns(frame: pd.DataFrame, model: pd.Series, where: Any) -> dict[str, np.ndarray]:
    """``params`` (> 0) and ``family``: one value per model, filled from the model's rows."""
    out: dict[str, np.ndarray] = {}
    for col in ("params", "family"):
        if col not in frame.columns:
            continue
        if col == "family":
            blank = blank_mask(frame[col])
            values = pd.Series(
                [None if b else label_text(v) for v, b in zip(frame[col], blank, strict=True)],
                dtype=object,
            )
        else:
            num = numeric_column(frame, col, where, required=False)
            nonpos = np.flatnonzero(num <= 0)
            if nonpos.size:
                fail_rows(
                    col,
                    nonpos,
                    frame[col],
                    "must be > 0 but is not",
                    "params is the number of parameters (not its log): fix or remove those rows.",
                    where,
                )
            values = pd.Series(num, dtype=object).where(~np.isnan(num), None)
        filled = values.copy()
        for m in pd.unique(model):
            rows = np.flatnonzero((model == m).to_numpy())
            present = values.iloc[rows].dropna()
            distinct = pd.unique(present)
            if len(distinct) > 1:
                raise DataError(
                    f"column {col!r}: model {m!r} has {len(distinct)} different values "
                    f"({', '.join(repr(v) for v in distinct[:4])}) in {where(rows)}. A model "
                    f"has one {col}: make them equal, or give the variants different model "
                    "labels."
                )
            if len(distinct):
                filled.iloc[rows] = distinct[0]
        if col == "family":
            out[col] = filled.fillna("").to_numpy(dtype=object)
        else:
            out[col] = filled.to_numpy(dtype=float, na_value=np.nan)
    return out


def checked_answers(data: Source) -> pd.DataFrame:
    """``data`` validated: returned as it is when :func:`validate_answers` made it."""
    if isinstance(data, pd.DataFrame) and data.attrs.get(_VALIDATED):
        return data
    return validate_answers(data)
