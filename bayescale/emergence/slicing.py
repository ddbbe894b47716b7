r"""Difficulty slicing: group a task's questions by difficulty and score models per group.

Wu & Lo (2024, arXiv:2410.01692, ICLR 2025) explain emergent abilities by slicing a task's
questions into groups of increasing difficulty: easy questions show inverted-U then steadily
improving scaling, hard questions U-shaped scaling, and the two offset each other until the
emergence threshold. This module builds the tidy **slice table** that the other parts of
:mod:`bayescale.emergence` consume, from per-question results or from the shipped data set
``wu_lo2024``.

Definitions (Wu & Lo; code: ``tony10101105/ExpEmergence``,
``evaluation/<task>/<task>_question_grouping.py``). For question :math:`j` with choice
likelihoods :math:`\ell_{mjc}` under model :math:`m` and target choice :math:`t_j`, the
probability conditioned on the choice set and the **target-conditioned (TC) Brier score** are

.. math::

    p_{mj} = \frac{\ell_{mjt_j}}{\sum_c \ell_{mjc}}, \qquad
    \mathrm{TCB}_{mj} = (1 - p_{mj})^2 \in [0, 1],

i.e. the target term of the classical multi-class Brier score
:math:`\sum_c (p_{mjc} - \mathbb{1}[c = t_j])^2` (the non-target terms are left out). The
**difficulty** of question :math:`j` is the mean TC Brier score over the models
:math:`\mathcal{M}` at or below a compute cut-off (Wu & Lo use the emergence threshold, so
difficulty is defined by pre-emergence models only),

.. math::

    d_j = \frac{1}{|\mathcal{M}|} \sum_{m \in \mathcal{M}} \mathrm{TCB}_{mj},

or, in their accuracy variant, the error rate :math:`1 - \frac{1}{|\mathcal{M}|}\sum_m
a_{mj}`. The :math:`Q` questions, sorted by increasing :math:`d_j` (rank :math:`r_j = 0, \dots,
Q-1`), are cut into :math:`K` slices at :math:`b_k = \lfloor kQ/K \rfloor`; slice :math:`k`
holds the ranks :math:`b_k \le r_j < b_{k+1}`. The slice score of model :math:`m` is the mean
over the slice's questions :math:`S_k`:

.. math::

    y_{mk} = \frac{1}{|S_k|} \sum_{j \in S_k} \mathrm{TCB}_{mj}
    \quad\text{or}\quad \frac{1}{|S_k|} \sum_{j \in S_k} a_{mj}.

Slice table (one row per task, model, metric and slice; see :func:`validate_slice_table`):

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
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

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
    "SLICE_COLUMNS",
    "WU_LO_FILTERED_MODELS",
    "WU_LO_TASKS",
    "WU_LO_THRESHOLD",
    "difficulty_scores",
    "merge_slices",
    "slice_performance",
    "slice_questions",
    "slice_table_from_wu_lo",
    "slice_table_from_wu_lo_source",
    "slice_table_to_dataset",
    "target_conditioned_brier",
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

#: The nine tasks of Wu & Lo (2024), in the order of the source's ``utils.py``.
WU_LO_TASKS: tuple[str, ...] = (
    "mmlu",
    "arithmetic",
    "parsinlu_qa_mc",
    "hindu_knowledge",
    "analogical_similarity",
    "conceptual_combinations",
    "hellaswag",
    "arc",
    "abstract_narrative_understanding",
)
#: Wu & Lo's threshold per task in training FLOPs (``utils.py``: ``10**threshold`` in units of
#: 1e21 FLOPs). It is both the emergence threshold of the six "Emergence" tasks and the compute
#: cut-off of the models that define question difficulty (the ``<max>`` in the file names);
#: hellaswag, arc and abstract_narrative_understanding are their "No Emergence" controls.
WU_LO_THRESHOLD: dict[str, float] = {
    "mmlu": 10**1.5 * 1e21,
    "arithmetic": 10**1.8 * 1e21,
    "parsinlu_qa_mc": 10**2.3 * 1e21,
    "hindu_knowledge": 10**1.0 * 1e21,
    "analogical_similarity": 10**2.0 * 1e21,
    "conceptual_combinations": 10**1.5 * 1e21,
    "hellaswag": 10**2.3 * 1e21,
    "arc": 10**2.3 * 1e21,
    "abstract_narrative_understanding": 10**2.3 * 1e21,
}
#: Models Wu & Lo leave out of their plots and fits as "probably over-trained small models"
#: (``utils.model_filter``). Not removed by default; pass them as ``exclude_models``.
WU_LO_FILTERED_MODELS: tuple[str, ...] = (
    "microsoft/phi-1_5",
    "microsoft/phi-2",
    "Qwen/Qwen1.5-0.5B",
    "Qwen/Qwen1.5-1.8B",
    "Qwen/Qwen1.5-4B",
    "stabilityai/stablelm-2-1_6b",
    "meta-llama/Meta-Llama-3-8B",
)

MAX_LISTED = 8
_LABEL_RANGE = re.compile(r"^(\d+)_(\d+)$")


# --------------------------------------------------------------------------- helpers


def _joined(items: Iterable[Any]) -> str:
    items = [str(i) for i in items]
    more = f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return ", ".join(items[:MAX_LISTED]) + more


def _where_fn(frame: pd.DataFrame, from_csv: bool) -> Any:
    lines = frame.attrs.get(CSV_LINES) if from_csv else None

    def where(rows: Sequence[int] | np.ndarray) -> str:
        return describe_rows(rows, lines)

    return where


def _require(frame: pd.DataFrame, cols: Sequence[str], what: str, fix: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DataError(
            f"{what}: missing required column(s) {missing}; the table has columns "
            f"{[str(c) for c in frame.columns]}. {fix}"
        )


def _labels(frame: pd.DataFrame, col: str, where: Any, *, allow_blank: bool = False) -> pd.Series:
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


def _notes(frame: pd.DataFrame) -> list[str]:
    notes = frame.attrs.get("notes", [])
    return [notes] if isinstance(notes, str) else list(notes)


def _finish(rows: list[dict[str, Any]] | pd.DataFrame, notes: list[str]) -> pd.DataFrame:
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


# --------------------------------------------------------------------------- TC Brier


def target_conditioned_brier(
    prob: ArrayLike, target: ArrayLike | None = None, *, renormalize: bool = True
) -> np.ndarray:
    r"""Target-conditioned Brier score of Wu & Lo (2024), one per question.

    .. math::

        \mathrm{TCB} = (1 - p_t)^2, \qquad p_t = \ell_t \Big/ \sum_c \ell_c ,

    where :math:`\ell_c` is the model's probability (likelihood) of choice :math:`c` and
    :math:`t` the target. It is the target term of the classical Brier score
    :math:`\sum_c (p_c - \mathbb{1}[c=t])^2`; the squared probabilities of the wrong choices
    are not added. Wu & Lo's "redist" files divide by :math:`\sum_c \ell_c` (the probability
    conditioned on the choice set); their "undist" files use :math:`\ell_t` as is.

    Parameters
    ----------
    prob
        Without ``target``: the probability of the correct answer, shape ``(n,)``, each in
        [0, 1]. With ``target``: the choice probabilities or likelihoods, shape ``(n, k)``
        (a ragged list of lists may be padded with NaN), each >= 0.
    target
        Index of the correct choice per row (0-based), shape ``(n,)``.
    renormalize
        With ``target``: divide by the row sum first (Wu & Lo's default "redist").

    Returns
    -------
    numpy.ndarray
        The TC Brier scores, in [0, 1].

    Raises
    ------
    DataError
        For probabilities outside [0, 1] (or negative likelihoods), NaN, a target index out of
        range or an all-zero row, naming the rows.

    Examples
    --------
    >>> target_conditioned_brier([1.0, 0.5, 0.0]).tolist()
    [0.0, 0.25, 1.0]
    >>> target_conditioned_brier([[0.2, 0.2, 0.4]], target=[2]).tolist()
    [0.25]
    """
    if target is None:
        p = np.asarray(prob, dtype=float)
        if p.ndim != 1:
            raise DataError(
                f"prob must be one probability per question (1-D) without target, not shape "
                f"{p.shape}; pass the choice probabilities with target=INDEXES instead"
            )
        bad = np.flatnonzero(~np.isfinite(p) | (p < 0) | (p > 1))
        if bad.size:
            raise DataError(
                f"prob: not a probability in [0, 1] in {describe_rows(bad, None)}: "
                f"{cell_values(p, bad)}. "
                "Give the probability of the correct answer (exponentiate log-probabilities, "
                "and renormalise over the choices)."
            )
        return np.asarray((1.0 - p) ** 2, dtype=float)
    if isinstance(prob, list | tuple) and prob and isinstance(prob[0], list | tuple | np.ndarray):
        width = max(len(r) for r in prob)
        probs = np.full((len(prob), width), np.nan)
        for i, r in enumerate(prob):
            probs[i, : len(r)] = np.asarray(r, dtype=float)
    else:
        probs = np.asarray(prob, dtype=float)
    if probs.ndim != 2:
        raise DataError(f"with target, prob must be 2-D (questions x choices), not {probs.shape}")
    t = np.asarray(target)
    if t.shape != (probs.shape[0],):
        raise DataError(
            f"target must hold one index per row of prob ({probs.shape[0]}), not {t.shape}"
        )
    tf = t.astype(float)
    bad = np.flatnonzero(
        ~np.isfinite(tf) | (tf != np.round(tf)) | (tf < 0) | (tf >= probs.shape[1])
    )
    if not bad.size:
        ti = tf.astype(np.int64)
        bad = np.flatnonzero(np.isnan(probs[np.arange(len(ti)), ti]))
    if bad.size:
        raise DataError(
            f"target: not a valid choice index in {describe_rows(bad, None)}: "
            f"{cell_values(t, bad)}. Give "
            f"the 0-based index of the correct choice (0 to {probs.shape[1] - 1}) of each row."
        )
    neg = np.flatnonzero(
        (np.nan_to_num(probs, nan=0.0) < 0).any(axis=1) | np.isinf(probs).any(axis=1)
    )
    if neg.size:
        raise DataError(
            f"prob: negative or infinite choice probabilities in {describe_rows(neg, None)}. Give "
            "probabilities or likelihoods (exponentiated log-probabilities), not log values."
        )
    pt = probs[np.arange(len(ti)), ti]
    if renormalize:
        total = np.nansum(probs, axis=1)
        zero = np.flatnonzero(total <= 0)
        if zero.size:
            raise DataError(
                f"prob: the choice probabilities sum to 0 in {describe_rows(zero, None)}; "
                "they cannot "
                "be renormalised. Check those rows."
            )
        pt = pt / total
    elif (over := np.flatnonzero(pt > 1)).size:
        raise DataError(
            f"prob: target probability above 1 in {describe_rows(over, None)}; "
            "use renormalize=True."
        )
    return np.asarray((1.0 - pt) ** 2, dtype=float)


# --------------------------------------------------------------------------- per-question data


def _check_results(
    results: str | os.PathLike[str] | pd.DataFrame,
) -> tuple[pd.DataFrame, list[str]]:
    """Validate per-question results; return a clean frame (one row per input row) and notes.

    Clean columns: task, model, question (labels), family, compute, and ``brier`` / ``acc``
    where the input has ``prob`` / ``correct``; ``row`` is the input row position.
    """
    frame, from_csv = read_table(results)
    where = _where_fn(frame, from_csv)
    what = "per-question results"
    if len(frame) == 0:
        raise DataError(f"{what}: the table has no rows; give one row per (task, model, question)")
    _require(
        frame,
        ["task", "model", "question"],
        what,
        "Give one row per (task, model, question) with columns task, model, question, "
        "correct (0/1) and/or prob (probability of the correct answer), and compute "
        "(or params and tokens).",
    )
    if "prob" not in frame.columns and "correct" not in frame.columns:
        raise DataError(
            f"{what}: needs a column 'prob' (probability the model gives the correct answer, "
            "for the TC Brier score) and/or 'correct' (1 if answered correctly, else 0); the "
            f"table has columns {[str(c) for c in frame.columns]}."
        )
    notes: list[str] = []
    out = pd.DataFrame({"row": np.arange(len(frame))})
    for col in ("task", "model", "question"):
        out[col] = _labels(frame, col, where).to_numpy()
    out["family"] = (
        _labels(frame, "family", where, allow_blank=True).to_numpy()
        if "family" in frame.columns
        else ""
    )
    if "prob" in frame.columns:
        p = numeric_column(frame, "prob", where, required=True)
        bad = np.flatnonzero((p < 0) | (p > 1))
        if bad.size:
            fail_rows(
                "prob",
                bad,
                frame["prob"],
                "not a probability in [0, 1]",
                "Give the probability of the correct answer, renormalised over the choices "
                "(exponentiate log-probabilities; see target_conditioned_brier).",
                where,
            )
        out["brier"] = target_conditioned_brier(p)
    if "correct" in frame.columns:
        raw = frame["correct"]
        if pd.api.types.is_bool_dtype(raw.dtype):
            a = raw.to_numpy(dtype=float)
        else:
            a = numeric_column(frame, "correct", where, required=True)
        bad = np.flatnonzero((a != 0) & (a != 1))
        if bad.size:
            fail_rows(
                "correct",
                bad,
                raw,
                "not 0 or 1",
                "Write 1 (or True) for a correct answer and 0 (or False) otherwise.",
                where,
            )
        out["acc"] = a
    # Compute per model.
    if "compute" in frame.columns:
        comp = numeric_column(frame, "compute", where, required=True)
    else:
        _require(
            frame,
            ["params", "tokens"],
            what,
            "Give the training FLOPs per model in 'compute', or 'params' and 'tokens' to use "
            "6*params*tokens.",
        )
        n_ = numeric_column(frame, "params", where, required=True)
        d_ = numeric_column(frame, "tokens", where, required=True)
        for col, arr in (("params", n_), ("tokens", d_)):
            bad = np.flatnonzero(arr <= 0)
            if bad.size:
                fail_rows(col, bad, frame[col], "must be > 0 but is not", "Fix those rows.", where)
        comp = 6.0 * n_ * d_
        notes.append("no 'compute' column: set compute = 6*params*tokens for every model")
    bad = np.flatnonzero(comp <= 0)
    if bad.size:
        fail_rows(
            "compute",
            bad,
            frame["compute"],
            "must be > 0 but is not",
            "Compute is the training cost in FLOPs (not its log): fix those rows.",
            where,
        )
    out["compute"] = comp
    for col in ("compute", "family"):
        n_per = out.groupby("model", sort=False)[col].nunique()
        if (n_per > 1).any():
            m = str(n_per[n_per > 1].index[0])
            rows = out.loc[out["model"] == m, "row"].to_numpy()
            vals = out.loc[out["model"] == m, col]
            raise DataError(
                f"column {col!r}: model {m!r} has different {col} values "
                f"{_joined(pd.unique(vals))} in {where(rows)}. Each model has one {col}: fix "
                "those rows or give differently trained models different names."
            )
    dup = out.duplicated(["task", "model", "question"], keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        raise DataError(
            f"columns task, model, question: {where(rows)} repeat the same (task, model, "
            f"question) ({cell_values(out['question'], rows)}), so a question would count twice. "
            "Keep one row per model and question (e.g. DataFrame.drop_duplicates())."
        )
    # Every model answers every question of its task: otherwise slice means would mix
    # different question sets.
    for task, g in out.groupby("task", sort=False):
        n_q = g["question"].nunique()
        per_model = g.groupby("model", sort=False)["question"].nunique()
        short = per_model[per_model < n_q]
        if len(short):
            m = str(short.index[0])
            have = set(g.loc[g["model"] == m, "question"])
            lack = [q for q in pd.unique(g["question"]) if q not in have]
            raise DataError(
                f"column 'question': in task {task!r} model {m!r} has results for "
                f"{int(short.iloc[0])} of the task's {n_q} questions; missing: {_joined(lack)}"
                f" ({len(short)} model(s) incomplete). Every model needs a result for every "
                "question of the task: add the missing rows or remove those questions for all "
                "models."
            )
    return out, notes


def difficulty_scores(
    results: str | os.PathLike[str] | pd.DataFrame,
    *,
    by: Literal["brier", "acc"] | None = None,
    max_compute: float | None = None,
    exclude_models: Sequence[str] = (),
) -> pd.DataFrame:
    r"""Difficulty of every question: mean TC Brier score or error rate across models.

    Following Wu & Lo (2024) the default (``by="brier"``) is

    .. math:: d_j = \frac{1}{|\mathcal{M}|}\sum_{m\in\mathcal{M}} (1 - p_{mj})^2 ,

    the mean target-conditioned Brier score over the reference models :math:`\mathcal{M}`;
    ``by="acc"`` gives their accuracy variant, the error rate
    :math:`d_j = 1 - \frac{1}{|\mathcal{M}|}\sum_m a_{mj}`. Higher means harder in both.
    Wu & Lo use only the models with compute at or below the emergence threshold
    (``max_compute``; :data:`WU_LO_THRESHOLD`), so difficulty is known before emergence.

    Parameters
    ----------
    results
        Per-question results (DataFrame or CSV path): columns ``task``, ``model``,
        ``question``, ``prob`` (probability of the correct answer, renormalised over the
        choices) and/or ``correct`` (0/1), ``compute`` or ``params`` and ``tokens`` (then
        compute = 6ND), optional ``family``. One row per (task, model, question); every model
        must answer every question of its task.
    by
        ``"brier"`` (needs ``prob``) or ``"acc"`` (needs ``correct``); default ``"brier"``
        when ``prob`` is given, else ``"acc"``.
    max_compute
        Only models with compute <= this define difficulty (all models when None).
    exclude_models
        Models left out of the difficulty (e.g. :data:`WU_LO_FILTERED_MODELS`).

    Returns
    -------
    pandas.DataFrame
        One row per (task, question): ``task``, ``question``, ``difficulty`` and
        ``n_models`` (the reference models), in input order. ``attrs["notes"]`` lists which
        models were used and what was excluded; ``attrs["by"]`` the score.

    Raises
    ------
    DataError
        For invalid results (naming column and rows), a missing score column, or when no
        model of a task passes ``max_compute`` / ``exclude_models``.
    """
    clean, notes = _check_results(results)
    if by is None:
        by = "brier" if "brier" in clean.columns else "acc"
        notes.append(
            f"difficulty by {by!r} (mean TC Brier)"
            if by == "brier"
            else "difficulty by 'acc' (error rate): the results have no 'prob' column"
        )
    if by not in METRICS:
        raise DataError(f"by must be 'brier' or 'acc', not {by!r}")
    if by not in clean.columns:
        need = "prob" if by == "brier" else "correct"
        raise DataError(
            f"difficulty by {by!r} needs column {need!r}, which the results lack; pass "
            f"by={'acc' if by == 'brier' else 'brier'!r} or add the column"
        )
    keep = np.ones(len(clean), dtype=bool)
    excluded = [m for m in exclude_models if m in set(clean["model"])]
    if excluded:
        keep &= ~clean["model"].isin(excluded).to_numpy()
        notes.append(f"left out of the difficulty: model(s) {_joined(excluded)} (exclude_models)")
    if max_compute is not None:
        if not np.isfinite(max_compute) or max_compute <= 0:
            raise DataError(f"max_compute must be a positive number of FLOPs, not {max_compute!r}")
        above = keep & (clean["compute"].to_numpy() > max_compute)
        if above.any():
            ms = pd.unique(clean.loc[above, "model"])
            notes.append(
                f"left out of the difficulty: {len(ms)} model(s) with compute > {max_compute:.3g} "
                f"FLOPs ({_joined(ms)})"
            )
        keep &= ~above
    used = clean.loc[keep]
    rows = []
    for task, g in clean.groupby("task", sort=False):
        gu = used[used["task"] == task]
        if gu.empty:
            raise DataError(
                f"task {task!r}: no model is left to define question difficulty (compute "
                f"<= {max_compute!r}, excluding {list(exclude_models)}); the task has models "
                f"{_joined(pd.unique(g['model']))}. Raise max_compute or exclude fewer models."
            )
        mean = gu.groupby("question", sort=False)[by].mean()
        score = 1.0 - mean if by == "acc" else mean
        n_models = gu["model"].nunique()
        questions = pd.unique(g["question"])
        rows.append(
            pd.DataFrame(
                {
                    "task": task,
                    "question": questions,
                    "difficulty": score.reindex(questions).to_numpy(dtype=float),
                    "n_models": n_models,
                }
            )
        )
        notes.append(f"task {task!r}: difficulty from {n_models} model(s)")
    out = pd.concat(rows, ignore_index=True)
    out.attrs["notes"] = notes
    out.attrs["by"] = by
    return out


def _question_order(questions: pd.Series) -> np.ndarray:
    """Ascending order key of question labels: numerically when all are numbers."""
    num = pd.to_numeric(questions, errors="coerce")
    if not num.isna().any():
        return np.asarray(num.to_numpy(dtype=float).argsort(kind="stable").argsort())
    return np.asarray(questions.astype(str).to_numpy().argsort(kind="stable").argsort())


def slice_questions(
    scores: pd.DataFrame,
    n_slices: int = 10,
    method: Literal["equal", "quantile"] = "equal",
) -> pd.DataFrame:
    r"""Cut each task's questions into ``n_slices`` slices of increasing difficulty.

    ``method="equal"`` (Wu & Lo): sort the :math:`Q` questions by difficulty (ties broken by
    the question label, ascending: numerically if all labels are numbers, else as text) and
    cut the ranks at :math:`b_k = \lfloor kQ/K \rfloor`; slices differ in size by at most one
    question and tied questions may fall in adjacent slices. Labels are ``"b_k_b_{k+1}"``
    (e.g. ``"0_1404"``), as in the source files.

    ``method="quantile"``: cut the difficulty values at their :math:`k/K` quantiles
    :math:`q_k` (linear interpolation); slice :math:`k` holds :math:`q_k < d \le q_{k+1}`
    (the first also :math:`d = q_0`). Tied questions always share a slice, so sizes vary; when
    ties make quantiles coincide, empty slices are dropped and the rest renumbered (a warning
    and a note say so, and ``n_slices`` is the number kept). Labels give the difficulty range,
    e.g. ``"0.1_0.25"``.

    Parameters
    ----------
    scores
        Output of :func:`difficulty_scores` (columns ``task``, ``question``, ``difficulty``).
    n_slices
        Number of slices K per task (>= 1; at most the number of questions for ``"equal"``).
    method
        ``"equal"`` or ``"quantile"``.

    Returns
    -------
    pandas.DataFrame
        ``scores`` with columns ``rank`` (0 = easiest), ``slice`` (0 = easiest),
        ``n_slices`` and ``slice_label`` added; ``attrs["notes"]`` extended.
    """
    if isinstance(n_slices, bool) or not isinstance(n_slices, int | np.integer) or n_slices < 1:
        raise DataError(f"n_slices must be a positive integer, not {n_slices!r}")
    if method not in ("equal", "quantile"):
        raise DataError(f"method must be 'equal' or 'quantile', not {method!r}")
    frame, _ = read_table(scores)
    _require(
        frame,
        ["task", "question", "difficulty"],
        "difficulty scores",
        "Pass the output of difficulty_scores().",
    )
    where = _where_fn(frame, False)
    d_all = numeric_column(frame, "difficulty", where, required=True)
    notes = _notes(scores)
    out = frame.copy()
    out["rank"] = -1
    out["slice"] = -1
    out["n_slices"] = n_slices
    out["slice_label"] = ""
    for task, idx in frame.groupby("task", sort=False).indices.items():
        d = d_all[idx]
        q = len(idx)
        tie = _question_order(frame["question"].iloc[idx].reset_index(drop=True))
        order = np.lexsort((tie, d))
        rank = np.empty(q, dtype=np.int64)
        rank[order] = np.arange(q)
        out.loc[out.index[idx], "rank"] = rank
        if method == "equal":
            if q < n_slices:
                raise DataError(
                    f"task {task!r} has {q} question(s), fewer than n_slices={n_slices}; "
                    "choose fewer slices"
                )
            bounds = np.floor(np.linspace(0, q, n_slices + 1)).astype(np.int64)
            sl = np.searchsorted(bounds, rank, side="right") - 1
            labels = np.array([f"{bounds[k]}_{bounds[k + 1]}" for k in range(n_slices)])
            out.loc[out.index[idx], "slice"] = sl
            out.loc[out.index[idx], "slice_label"] = labels[sl]
            continue
        edges = np.quantile(d, np.linspace(0, 1, n_slices + 1))
        raw = np.clip(np.searchsorted(edges[1:-1], d, side="left"), 0, n_slices - 1)
        used = np.unique(raw)
        renum = np.searchsorted(used, raw)
        if len(used) < n_slices:
            msg = (
                f"task {task!r}: tied difficulties leave only {len(used)} non-empty quantile "
                f"slice(s) of {n_slices}; empty slices dropped and the rest renumbered 0.."
                f"{len(used) - 1}"
            )
            warnings.warn(msg, UserWarning, stacklevel=2)
            notes.append(msg)
        lo = [edges[k] for k in used]
        hi = [edges[k + 1] for k in used]
        labels = np.array([f"{a:.4g}_{b:.4g}" for a, b in zip(lo, hi, strict=True)])
        out.loc[out.index[idx], "slice"] = renum
        out.loc[out.index[idx], "n_slices"] = len(used)
        out.loc[out.index[idx], "slice_label"] = labels[renum]
    for col in ("rank", "slice", "n_slices"):
        out[col] = out[col].astype(np.int64)
    out.attrs["notes"] = [*notes, f"slices by {method!r} difficulty ({n_slices} requested)"]
    out.attrs["by"] = scores.attrs.get("by")
    return out


def slice_performance(
    results: str | os.PathLike[str] | pd.DataFrame,
    slices: pd.DataFrame,
    metric: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    r"""Score every model on every slice: the slice table.

    For model :math:`m` and slice :math:`S_k`, ``value`` is
    :math:`\frac{1}{|S_k|}\sum_{j\in S_k} (1-p_{mj})^2` (``"brier"``) or
    :math:`\frac{1}{|S_k|}\sum_{j\in S_k} a_{mj}` (``"acc"``); rows with ``slice = -1`` and
    ``slice_label = "overall"`` hold the mean over all the task's questions.

    Parameters
    ----------
    results
        Per-question results, as for :func:`difficulty_scores`.
    slices
        Output of :func:`slice_questions` for the same tasks and questions.
    metric
        ``"brier"``, ``"acc"`` or both (a sequence); default: every metric the results
        support (``prob`` -> ``"brier"``, ``correct`` -> ``"acc"``).

    Returns
    -------
    pandas.DataFrame
        The slice table (see the module docstring), sorted by task, metric, compute, model,
        slice; ``attrs["notes"]`` collects the notes of every step.

    Raises
    ------
    DataError
        For invalid results, a metric the results cannot give, or questions that are in the
        results but not in ``slices`` (or the reverse).
    """
    clean, notes = _check_results(results)
    available = [m for m in METRICS if m in clean.columns]
    if metric is None:
        metrics = available
    else:
        metrics = [metric] if isinstance(metric, str) else list(metric)
    for m in metrics:
        if m not in METRICS:
            raise DataError(f"metric must be 'brier' or 'acc' (or both), not {m!r}")
        if m not in clean.columns:
            need = "prob" if m == "brier" else "correct"
            raise DataError(f"metric {m!r} needs column {need!r}, which the results lack")
    sl, _ = read_table(slices)
    _require(
        sl,
        ["task", "question", "slice", "n_slices", "slice_label"],
        "slices",
        "Pass the output of slice_questions().",
    )
    sl = sl.assign(
        task=[label_text(v) for v in sl["task"]], question=[label_text(v) for v in sl["question"]]
    )
    if sl.duplicated(["task", "question"]).any():
        rows = np.flatnonzero(sl.duplicated(["task", "question"], keep=False).to_numpy())
        raise DataError(f"slices: (task, question) repeated in {describe_rows(rows, None)}")
    merged = clean.merge(
        sl[["task", "question", "slice", "n_slices", "slice_label"]],
        on=["task", "question"],
        how="left",
        validate="many_to_one",
    )
    lost = np.flatnonzero(merged["slice"].isna().to_numpy())
    if lost.size:
        rows = merged["row"].to_numpy()[lost]
        raise DataError(
            f"column 'question': {where_rows(rows)} hold questions that have no slice "
            f"({cell_values(merged['question'], lost)}). Slice the same results: "
            "slice_questions(difficulty_scores(results))."
        )
    have = set(zip(clean["task"], clean["question"], strict=True))
    extra = [
        f"{t}/{q}" for t, q in zip(sl["task"], sl["question"], strict=True) if (t, q) not in have
    ]
    if extra:
        raise DataError(
            f"slices: {len(extra)} question(s) have a slice but no results ({_joined(extra)}); "
            "slice the same results you score."
        )
    merged["slice"] = merged["slice"].astype(np.int64)
    notes = notes + [n for n in _notes(slices) if n not in notes]
    model_info = clean.groupby("model", sort=False)[["family", "compute"]].first()
    out: list[pd.DataFrame] = []
    for m in metrics:
        per = (
            merged.groupby(["task", "model", "slice"], sort=False)
            .agg(
                value=(m, "mean"),
                n_questions=(m, "size"),
                n_slices=("n_slices", "first"),
                slice_label=("slice_label", "first"),
            )
            .reset_index()
        )
        overall = (
            merged.groupby(["task", "model"], sort=False)
            .agg(value=(m, "mean"), n_questions=(m, "size"))
            .reset_index()
        )
        overall["slice"] = OVERALL_SLICE
        overall["slice_label"] = OVERALL_LABEL
        overall["n_slices"] = overall["task"].map(per.groupby("task")["n_slices"].first())
        both = pd.concat([per, overall], ignore_index=True)
        both["metric"] = m
        out.append(both)
    table = pd.concat(out, ignore_index=True)
    table["family"] = table["model"].map(model_info["family"])
    table["compute"] = table["model"].map(model_info["compute"])
    return _finish(table, notes)


def where_rows(rows: Sequence[int] | np.ndarray) -> str:
    """Describe input row positions (0-based) for an error message."""
    return describe_rows(rows, None)


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
    notes = _notes(frame) if isinstance(frame, pd.DataFrame) else []
    where = _where_fn(table, from_csv)
    _require(
        table,
        list(SLICE_COLUMNS),
        "slice table",
        "See bayescale.emergence.slicing (module docstring) for the format.",
    )
    if len(table) == 0:
        raise DataError("slice table: no rows")
    extra = [str(c) for c in table.columns if c not in SLICE_COLUMNS]
    if extra:
        notes.append(f"slice table: dropped extra column(s) {extra}")
    out = pd.DataFrame(index=table.index)
    for col in ("task", "model", "metric", "slice_label"):
        out[col] = _labels(table, col, where)
    out["family"] = _labels(table, "family", where, allow_blank=True)
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
                f"{_joined(lack)} of 0..{n - 1} (its rows: {where(g.index.to_numpy())}). Give "
                "every slice, or drop the model from this task and metric."
            )
    return _finish(out[list(SLICE_COLUMNS)], notes)


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
    3-group files (thirds of the ranked questions; :func:`slice_table_from_wu_lo_source`
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
    notes = _notes(tab)
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
            first, last = _LABEL_RANGE.match(members[0]), _LABEL_RANGE.match(members[-1])
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
    return _finish(out, notes)


# --------------------------------------------------------------------------- Wu & Lo data


def _label_count(label: str) -> float:
    match = _LABEL_RANGE.match(label)
    return float(int(match.group(2)) - int(match.group(1))) if match else np.nan


def slice_table_from_wu_lo(
    frame: pd.DataFrame | None = None,
    tasks: Sequence[str] | None = None,
    *,
    n_slices: int = 10,
    exclude_models: Sequence[str] = (),
) -> pd.DataFrame:
    """Turn the shipped data set ``wu_lo2024`` into a slice table, slice 0 = easiest.

    The source orders questions differently in its two kinds of file (checked in its code,
    ``evaluation/<task>/<task>_question_grouping*.py``, and in the data):

    * ``g<k>_brier``: questions sorted by *increasing* mean TC Brier score of the models
      below the threshold, so **g0 is the easiest** group: ``slice = k``.
    * ``g<k>_acc`` (mmlu, arithmetic, parsinlu_qa_mc): questions sorted by *increasing* mean
      accuracy, so **g0 is the hardest** group: ``slice = 9 - k``. These accuracy slices are a
      different partition of the questions (by accuracy, not TC Brier difficulty);
      ``slice_label`` keeps the source label (its index range in the source's accuracy order).

    ``n_questions`` is read from the label (``"0_1404"`` holds 1404 questions); overall rows
    (``slice=-1``) have all the task's questions. Compute is the data set's 6ND, which equals
    the source's ``FLOPs (1E21)`` x 1e21.

    Parameters
    ----------
    frame
        The long table of ``bayescale.datasets.load("wu_lo2024")`` (loaded when None).
    tasks
        Tasks to keep (default all nine, :data:`WU_LO_TASKS`).
    n_slices
        10 (the shipped groups) or fewer: adjacent groups merged with :func:`merge_slices`
        (for 3 this approximates Wu & Lo's 3-group files; the exact ones are read by
        :func:`slice_table_from_wu_lo_source`).
    exclude_models
        Models to leave out (e.g. :data:`WU_LO_FILTERED_MODELS`); reported in the notes.

    Returns
    -------
    pandas.DataFrame
        The slice table; ``attrs["notes"]`` says what was done.
    """
    from bayescale import datasets

    if frame is None:
        frame = datasets.load("wu_lo2024")
    groups: dict[str, dict[str, str]] = datasets.provenance("wu_lo2024")["groups"]
    _require(
        frame,
        ["model", "family", "compute", "metric", "value"],
        "wu_lo2024 table",
        "Pass bayescale.datasets.load('wu_lo2024').",
    )
    parts = frame["metric"].astype(str).str.extract(r"^([^/]+)/(g\d+|overall)_(brier|acc)$")
    bad = np.flatnonzero(parts[0].isna().to_numpy())
    if bad.size:
        fail_rows(
            "metric",
            bad,
            frame["metric"],
            "not of the form <task>/<g<k>|overall>_<brier|acc>",
            "Pass the wu_lo2024 data set unchanged.",
            where_rows,
        )
    all_tasks = list(pd.unique(parts[0]))
    if tasks is None:
        tasks = all_tasks
    unknown = [t for t in tasks if t not in all_tasks]
    if unknown:
        raise DataError(f"task(s) {unknown} not in the data; it has {all_tasks}")
    notes: list[str] = []
    keep = parts[0].isin(list(tasks)).to_numpy()
    drop = frame["model"].isin(list(exclude_models)).to_numpy()
    if (keep & drop).any():
        ms = pd.unique(frame.loc[keep & drop, "model"])
        notes.append(f"left out model(s) {_joined(ms)} (exclude_models)")
    keep = keep & ~drop
    sub = frame.loc[keep]
    p = parts.loc[keep]
    n_groups = {t: len(groups[t]) for t in tasks}
    label = [
        OVERALL_LABEL if g == "overall" else groups[t][g] for t, g in zip(p[0], p[1], strict=True)
    ]
    k = np.array([-1 if g == "overall" else int(g[1:]) for g in p[1]])
    ng = np.array([n_groups[t] for t in p[0]])
    is_acc = (p[2] == "acc").to_numpy()
    slice_ = np.where(k < 0, OVERALL_SLICE, np.where(is_acc, ng - 1 - k, k))
    total = {
        t: max(_label_count(v) + int(v.split("_")[0]) for v in groups[t].values()) for t in tasks
    }
    n_q = [
        total[t] if lab == OVERALL_LABEL else _label_count(lab)
        for t, lab in zip(p[0], label, strict=True)
    ]
    fam = sub["family"].astype(object).where(sub["family"].notna(), "")
    table = pd.DataFrame(
        {
            "task": p[0].to_numpy(),
            "model": sub["model"].astype(str).to_numpy(),
            "family": fam.astype(str).to_numpy(),
            "compute": sub["compute"].to_numpy(dtype=float),
            "slice": slice_,
            "n_slices": ng,
            "slice_label": label,
            "metric": p[2].to_numpy(),
            "value": sub["value"].to_numpy(dtype=float),
            "n_questions": n_q,
        }
    )
    notes.append(
        "wu_lo2024: brier groups g0..g9 -> slices 0..9 (g0 easiest: lowest mean TC Brier); "
        "acc groups g0..g9 -> slices 9..0 (source sorts by increasing accuracy, g0 hardest); "
        "acc slices partition the questions by accuracy, brier slices by TC Brier"
    )
    out = validate_slice_table(_finish(table, notes))
    if n_slices != 10:
        out = merge_slices(out, n_slices)
    return out


def slice_table_from_wu_lo_source(
    directory: str | os.PathLike[str],
    n_slices: Literal[3, 10] = 10,
    tasks: Sequence[str] | None = None,
    *,
    cutoff: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Read Wu & Lo's source CSV files (``data/<task>/`` of ExpEmergence) into a slice table.

    Reads ``<task>_instance_brier_-1000_<max>_<n>_redist.csv`` (TC Brier per group, overall
    ``brier`` and ``acc``) and, for 10 groups, ``acc_<task>_..._10_redist.csv`` (accuracy per
    accuracy-ordered group), with the same ordering rules as :func:`slice_table_from_wu_lo`.
    Rows without model name, model size or data size (Mistral-7B, DeciLM-7B; duplicated GPT-2
    rows) and missing values are left out and listed in the notes; compute is
    ``FLOPs (1E21)`` x 1e21.

    Parameters
    ----------
    directory
        The folder holding one sub-folder per task (e.g.
        ``/work/shared/data/wu_lo2024_emergence/data``).
    n_slices
        3 or 10 (the files the source has).
    tasks
        Tasks to read (default: :data:`WU_LO_TASKS` present in ``directory``).
    cutoff
        Difficulty cut-off per task in FLOPs, choosing among files with several ``<max>``
        (default :data:`WU_LO_THRESHOLD`).

    Returns
    -------
    pandas.DataFrame
        The slice table.
    """
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"{str(root)!r} is not a directory of Wu & Lo task folders")
    if n_slices not in (3, 10):
        raise DataError(f"the source has 3- and 10-group files only, not n_slices={n_slices!r}")
    tasks = [t for t in WU_LO_TASKS if (root / t).is_dir()] if tasks is None else list(tasks)
    cut = dict(WU_LO_THRESHOLD) | (cutoff or {})
    rows: list[pd.DataFrame] = []
    notes: list[str] = []
    for task in tasks:
        files = sorted((root / task).glob(f"{task}_instance_brier_-1000_*_{n_slices}_redist.csv"))
        if not files:
            raise DataError(f"no {n_slices}-group 'redist' file for task {task!r} in {root / task}")
        target = cut.get(task)
        path = min(files, key=lambda f: abs(np.log(_file_cutoff(f) / target)) if target else 0.0)
        kinds = [(path, "brier")]
        acc = sorted((root / task).glob(f"acc_{task}_instance_brier_-1000_*_{n_slices}_redist.csv"))
        if acc:
            kinds.append((acc[0], "acc"))
        notes.append(f"{task}: read {', '.join(f.name for f, _ in kinds)}")
        for file, kind in kinds:
            rows.extend(_read_wu_lo_file(file, task, kind, notes))
    table = pd.concat(rows, ignore_index=True)
    return validate_slice_table(_finish(table, notes))


def _file_cutoff(path: Path) -> float:
    """Difficulty cut-off (FLOPs) in a source file name ``..._-1000_<max>_<n>_redist.csv``."""
    return float(path.name.split("_-1000_")[1].split("_")[0]) * 1e21


def _read_wu_lo_file(file: Path, task: str, kind: str, notes: list[str]) -> list[pd.DataFrame]:
    """Slice-table rows of one source file (``kind`` "brier": also the overall accuracy)."""
    src = pd.read_csv(file)
    cols = [c for c in src.columns if re.match(rf"^\d+_\d+_{kind}$", c)]
    ok = (
        src["Model"].notna()
        & src["Model Size (B)"].notna()
        & src["Pretraining Data Size (T)"].notna()
        & src["FLOPs (1E21)"].notna()
    )
    gone = src.loc[~ok & src[cols].notna().any(axis=1), "Model"].dropna().unique()
    if len(gone):
        notes.append(f"{file.name}: left out {_joined(gone)} (no model size or data size)")
    src = src.loc[ok]
    labels = {c: c.removesuffix(f"_{kind}") for c in cols}
    n = len(cols)
    total = max(_label_count(v) + int(v.split("_")[0]) for v in labels.values())
    ids = ["Model", "Model Family", "FLOPs (1E21)"]
    wanted: list[tuple[str, list[str]]] = [(kind, [*cols, "brier"] if kind == "brier" else cols)]
    if kind == "brier":
        wanted.append(("acc", ["acc"]))
    out = []
    for metric, value_vars in wanted:
        lg = src.melt(id_vars=ids, value_vars=value_vars, var_name="col", value_name="value")
        missing = lg["value"].isna()
        if missing.any():
            notes.append(f"{file.name}: {int(missing.sum())} empty {metric} value(s) left out")
        lg = lg.loc[~missing]
        lab = [labels.get(c, OVERALL_LABEL) for c in lg["col"]]
        grp = np.array([cols.index(c) if c in labels else -1 for c in lg["col"]])
        sl = np.where(grp < 0, OVERALL_SLICE, (n - 1 - grp) if kind == "acc" else grp)
        out.append(
            pd.DataFrame(
                {
                    "task": task,
                    "model": lg["Model"].astype(str).to_numpy(),
                    "family": lg["Model Family"].fillna("").astype(str).to_numpy(),
                    "compute": lg["FLOPs (1E21)"].to_numpy(dtype=float) * 1e21,
                    "slice": sl,
                    "n_slices": n,
                    "slice_label": lab,
                    "metric": metric,
                    "value": lg["value"].to_numpy(dtype=float),
                    "n_questions": [total if x == OVERALL_LABEL else _label_count(x) for x in lab],
                }
            )
        )
    return out


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
    attrs: dict[str, Any] = {"notes": "; ".join(_notes(tab))}
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
