r"""Difficulty slicing: group a task's questions by difficulty and score models per group.

Wu & Lo (2024, arXiv:2410.01692, ICLR 2025) explain emergent abilities by slicing a task's
questions into groups of increasing difficulty: easy questions show inverted-U then steadily
improving scaling, hard questions U-shaped scaling, and the two offset each other until the
emergence threshold. This module builds the tidy **slice table** that the other parts of
:mod:`bayescale.emergence` consume (its format: :mod:`bayescale.emergence.slice_table`)
from per-question results; :mod:`bayescale.emergence.wu_lo` builds it from the shipped data
set ``wu_lo2024``.

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
The result is a slice table (one row per task, model, metric and slice; columns
:data:`~bayescale.emergence.slice_table.SLICE_COLUMNS`, checked by
:func:`~bayescale.emergence.slice_table.validate_slice_table`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bayescale.core.errors import DataError
from bayescale.core.tables import (
    cell_values,
    describe_rows,
    fail_rows,
    label_text,
    numeric_column,
    read_table,
)
from bayescale.emergence.slice_table import (
    METRICS,
    OVERALL_LABEL,
    OVERALL_SLICE,
    finish_table,
    joined,
    label_column,
    require_columns,
    table_notes,
    where_fn,
    where_rows,
)

__all__ = [
    "difficulty_scores",
    "slice_performance",
    "slice_questions",
    "target_conditioned_brier",
]


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
    where = where_fn(frame, from_csv)
    what = "per-question results"
    if len(frame) == 0:
        raise DataError(f"{what}: the table has no rows; give one row per (task, model, question)")
    require_columns(
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
        out[col] = label_column(frame, col, where).to_numpy()
    out["family"] = (
        label_column(frame, "family", where, allow_blank=True).to_numpy()
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
        require_columns(
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
                f"{joined(pd.unique(vals))} in {where(rows)}. Each model has one {col}: fix "
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
                f"{int(short.iloc[0])} of the task's {n_q} questions; missing: {joined(lack)}"
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
    (``max_compute``; :data:`~bayescale.emergence.wu_lo.WU_LO_THRESHOLD`), so difficulty
    is known before emergence.

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
        Models left out of the difficulty (e.g.
        :data:`~bayescale.emergence.wu_lo.WU_LO_FILTERED_MODELS`).

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
        notes.append(f"left out of the difficulty: model(s) {joined(excluded)} (exclude_models)")
    if max_compute is not None:
        if not np.isfinite(max_compute) or max_compute <= 0:
            raise DataError(f"max_compute must be a positive number of FLOPs, not {max_compute!r}")
        above = keep & (clean["compute"].to_numpy() > max_compute)
        if above.any():
            ms = pd.unique(clean.loc[above, "model"])
            notes.append(
                f"left out of the difficulty: {len(ms)} model(s) with compute > {max_compute:.3g} "
                f"FLOPs ({joined(ms)})"
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
                f"{joined(pd.unique(g['model']))}. Raise max_compute or exclude fewer models."
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
    require_columns(
        frame,
        ["task", "question", "difficulty"],
        "difficulty scores",
        "Pass the output of difficulty_scores().",
    )
    where = where_fn(frame, False)
    d_all = numeric_column(frame, "difficulty", where, required=True)
    notes = table_notes(scores)
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
        The slice table (:mod:`bayescale.emergence.slice_table`), sorted by task, metric,
        compute, model, slice; ``attrs["notes"]`` collects the notes of every step.

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
    require_columns(
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
            f"slices: {len(extra)} question(s) have a slice but no results ({joined(extra)}); "
            "slice the same results you score."
        )
    merged["slice"] = merged["slice"].astype(np.int64)
    notes = notes + [n for n in table_notes(slices) if n not in notes]
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
    return finish_table(table, notes)
