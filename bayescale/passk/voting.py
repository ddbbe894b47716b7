r"""Majority voting, best-of-n and reward-weighted voting at :math:`n` samples.

Inference-time scaling by aggregating several sampled answers (Wu et al. 2024, "Inference
Scaling Laws: An Empirical Analysis of Compute-Optimal Inference", arXiv 2408.00724;
Brown et al. 2024, "Large Language Monkeys", arXiv 2407.21787). The input is a per-problem
*answer distribution*: one row per (model, problem, distinct final answer) with how often
that answer was sampled.

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

Samples are modelled as i.i.d. draws from the empirical distribution of each problem,
:math:`p_a = \text{count}_a / \sum_b \text{count}_b`, so that :math:`n` samples have
answer counts :math:`X \sim \text{Multinomial}(n, p)`. Write :math:`c` for the correct
answer of a problem (problems whose correct answer was never sampled have accuracy 0).

Majority vote (plurality, ties broken uniformly at random):

.. math::

    \text{acc}_{\text{maj}}(n) = \sum_{k=1}^{n} \text{Bin}(k; n, p_c)\,
        \mathbb E\Bigl[\frac{\mathbf 1\{Y_j \le k\ \forall j\}}{1 + \#\{j : Y_j = k\}}\Bigr],
    \qquad Y \sim \text{Multinomial}\bigl(n - k, p_{-c} / (1 - p_c)\bigr).

The expectation is computed exactly (:func:`majority_vote_accuracy` with
``method="exact"``): Poissonisation turns the multinomial into independent
:math:`Z_j \sim \text{Poisson}(m q_j)`, :math:`m = n - k`, conditioned on
:math:`\sum_j Z_j = m`, so the expectation is the coefficient of :math:`t^m` in
:math:`\prod_j \bigl(\sum_{x<k} \text{Pois}(x; m q_j)\,t^x + u\,\text{Pois}(k; m q_j)\,t^k\bigr)`
divided by :math:`\text{Pois}(m; m)`, integrated over :math:`u \in [0, 1]`
(:math:`\int_0^1 u^T du = 1/(1+T)` is the tie share). The :math:`u` integral is done exactly
by Gauss-Legendre quadrature (the polynomial has degree :math:`\le \min(J, \lfloor m/k
\rfloor)`). Answers whose chance of reaching :math:`k` votes is below
:data:`LUMP_TOL` (binomial tail) are lumped into one unconstrained factor
:math:`\text{Pois}(x; m\,q_{\text{free}})` (exact up to that tail, by a union bound), and
values of :math:`k` with :math:`\text{Bin}(k; n, p_c) < 10^{-17}` are skipped, so the error
is below :math:`10^{-12}`. Work grows with the number of answers that can compete at each
:math:`k`; ``method="auto"`` falls back to Monte Carlo for a problem whose exact cost
exceeds :data:`EXACT_BUDGET`.

Best-of-n (pick the sampled answer with the highest reward): sort the answers with
:math:`p_a > 0` by reward, descending. With :math:`Q_{>}` the mass of answers with a
reward strictly above the correct answer's and :math:`p_G` the mass of the answers whose
reward equals it (the correct one included),

.. math::

    \text{acc}_{\text{bon}}(n) = \frac{p_c}{p_G}\Bigl[(1 - Q_{>})^n - (1 - Q_{>} - p_G)^n\Bigr].

Without ties (:math:`p_G = p_c`) this is :math:`(1 - Q_{<i})^n - (1 - Q_{\le i})^n`. Ties in
reward are broken by picking one of the tied *samples* uniformly at random (what
``argmax`` over exchangeable samples does), so a tied answer wins in proportion to its mass.

Reward-weighted vote: answer :math:`a` scores :math:`X_a r_a` (the sum of the rewards of its
samples); the highest score among sampled answers wins, ties broken uniformly at random.
Computed by Monte Carlo.

Limits :math:`n \to \infty` (:func:`voting_limit`): majority is 1 when :math:`p_c` is
strictly the largest, :math:`1/m` when :math:`m` answers tie for the largest (:math:`c`
among them) and 0 otherwise; best-of-n is :math:`p_c / p_G` when the correct answer has
the top reward among answers with :math:`p_a > 0` and 0 otherwise; weighted voting is the
majority rule applied to :math:`p_a r_a`.

Results are tidy DataFrames with one row per (model, n, strategy): columns ``model``,
``n``, ``strategy``, ``accuracy`` (mean over the model's problems), ``mc_se`` (Monte Carlo
standard error of ``accuracy``; 0 when exact), ``method`` (``"exact"``,
``"monte_carlo"`` or ``"mixed"``) and ``n_problems``. ``frame.set_index(["model",
"n"]).to_xarray()`` gives an ``xarray.Dataset`` with dims ``("model", "n")``.

:func:`fit_voting_curve` fits the saturating curve

.. math::

    \operatorname{logit}\text{acc}(n) = \ell_\infty - (\ell_\infty - \ell_1)\,n^{-\gamma}

to accuracies at several :math:`n` with a binomial likelihood on problems correct; see
``docs/voting.md`` for the priors and a real-data comparison.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from bayescale.core.diagnostics import Diagnostics, check_convergence
from bayescale.core.errors import DataError, SpecificationError
from bayescale.core.sampling import sample_posterior
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

__all__ = [
    "ANSWER_COLUMNS",
    "DEFAULT_PRIORS",
    "EXACT_BUDGET",
    "LUMP_TOL",
    "MIN_POOLED_MODELS",
    "VotingCurveFit",
    "best_of_n_accuracy",
    "fit_voting_curve",
    "majority_vote_accuracy",
    "validate_answers",
    "voting_limit",
    "weighted_vote_accuracy",
]

#: Required columns of an answer-distribution table.
ANSWER_COLUMNS = ("model", "problem", "answer", "count", "is_correct")
#: Largest estimated number of multiply-adds of the exact majority-vote computation of
#: one problem at one ``n`` before ``method="auto"`` uses Monte Carlo for that problem.
EXACT_BUDGET = 1e8
#: Total binomial tail mass of answers lumped into the unconstrained factor (per vote count).
LUMP_TOL = 1e-13
#: Vote counts ``k`` of the correct answer with ``Bin(k; n, p_c)`` below this are skipped.
_SKIP_PMF = 1e-17
_TRUE = {"true", "t", "yes", "1", "1.0"}
_FALSE = {"false", "f", "no", "0", "0.0"}
_VALIDATED = "bayescale_validated_answers"
_METHODS = ("auto", "exact", "monte_carlo")

type Source = str | os.PathLike[str] | pd.DataFrame
type Method = Literal["auto", "exact", "monte_carlo"]
type Seed = int | np.random.Generator | None


# -- validation -------------------------------------------------------------------------
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
        DataFrame or CSV path with the columns in the module docstring (one row per
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


def _answers(data: Source) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame) and data.attrs.get(_VALIDATED):
        return data
    return validate_answers(data)


@dataclass
class _Problem:
    model: str
    problem: str
    p: np.ndarray  # probabilities of the sampled answers (count > 0)
    correct: int  # index into p, -1 when the correct answer was never sampled
    reward: np.ndarray | None


def _problems(frame: pd.DataFrame) -> dict[str, list[_Problem]]:
    out: dict[str, list[_Problem]] = {}
    has_reward = "reward" in frame.columns
    for (model, problem), g in frame.groupby(["model", "problem"], sort=False):
        g = g[g["count"] > 0]
        counts = g["count"].to_numpy(dtype=float)
        right = np.flatnonzero(g["is_correct"].to_numpy())
        out.setdefault(str(model), []).append(
            _Problem(
                model=str(model),
                problem=str(problem),
                p=counts / counts.sum(),
                correct=int(right[0]) if right.size else -1,
                reward=g["reward"].to_numpy(dtype=float) if has_reward else None,
            )
        )
    return out


def _sample_sizes(n: int | Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(n, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise SpecificationError(f"n must be a whole number >= 1 or a 1-d list of them, not {n!r}")
    bad = ~np.isfinite(arr) | (arr < 1) | (arr != np.round(arr))
    if bad.any():
        raise SpecificationError(
            f"n must hold whole numbers >= 1 (samples per problem), not {arr[bad][:5].tolist()}; "
            "use voting_limit() for n -> infinity"
        )
    return arr.astype(np.int64)


def _rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_draws(draws: int) -> None:
    if not isinstance(draws, int | np.integer) or draws < 2:
        raise SpecificationError(f"draws must be an integer >= 2, not {draws!r}")


# -- majority vote: exact ---------------------------------------------------------------
def _gauss_legendre01(order: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(order)
    return (x + 1.0) / 2.0, w / 2.0


def _others(p: np.ndarray, ci: int) -> np.ndarray:
    """Probabilities of the other answers given that a sample is not ``ci`` (sum 1)."""
    rest = np.delete(p, ci)
    return np.clip(rest / rest.sum(), 0.0, 1.0) if rest.size else rest


def _majority_plan(p: np.ndarray, ci: int, n: int) -> tuple[list[tuple[int, float, Any]], float]:
    """Vote counts ``k`` to evaluate, their binomial weights, competing answers and the cost.

    Returns a list of ``(k, Bin(k; n, p_c), mask of constrained answers or None)`` (None:
    no answer can reach ``k``, so the conditional win probability is 1) and the estimated
    number of multiply-adds.
    """
    pc = float(p[ci])
    q = _others(p, ci)
    ks = np.arange(1, n + 1)
    w = stats.binom.pmf(ks, n, pc)
    keep = w >= _SKIP_PMF
    ks, w = ks[keep], w[keep]
    if q.size == 0:
        return [(int(k), float(wk), None) for k, wk in zip(ks, w, strict=True)], 0.0
    m = n - ks
    # P(Bin(m, q_j) >= k): chance that answer j reaches the correct answer's vote count
    sf = stats.binom.sf(ks[:, None] - 1, m[:, None], q[None, :])
    constrained = ~(sf <= LUMP_TOL / q.size)  # NaN counts as constrained
    plan: list[tuple[int, float, Any]] = []
    cost = 0.0
    for k, wk, mk, row in zip(ks, w, m, constrained, strict=True):
        if mk == 0 or not row.any():
            plan.append((int(k), float(wk), None))
            continue
        n_j = int(row.sum())
        order = min(n_j, int(mk) // int(k)) // 2 + 1
        cost += order * n_j * (mk + 1) * min(int(k), int(mk) + 1)
        plan.append((int(k), float(wk), row))
    return plan, cost


def _majority_exact(p: np.ndarray, ci: int, n: int, plan: Any = None) -> float:
    """Exact probability that answer ``ci`` wins the plurality vote of ``n`` samples."""
    if ci < 0:
        return 0.0
    pc = float(p[ci])
    if pc >= 1.0:
        return 1.0
    if plan is None:
        plan, _ = _majority_plan(p, ci, n)
    q = _others(p, ci)
    total = 0.0
    for k, wk, row in plan:
        if row is None:
            total += wk
            continue
        m = n - k
        lam = m * q[row]
        lam_free = m * float(q[~row].sum())
        n_ties = min(int(row.sum()), m // k)
        nodes, weights = _gauss_legendre01(n_ties // 2 + 1)
        state = np.zeros((nodes.size, m + 1))
        state[:, 0] = 1.0
        x = np.arange(min(k - 1, m) + 1)
        for lj in lam:
            below = stats.poisson.pmf(x, lj)
            new = np.empty_like(state)
            for r in range(nodes.size):
                new[r] = np.convolve(state[r], below)[: m + 1]
            if k <= m:
                new[:, k:] += (
                    np.outer(nodes * stats.poisson.pmf(k, lj), np.ones(m + 1 - k))
                    * (state[:, : m + 1 - k])
                )
            state = new
        free = stats.poisson.pmf(np.arange(m + 1), lam_free)
        at_m = state @ free[::-1]
        total += wk * float(weights @ at_m) / float(stats.poisson.pmf(m, m))
    return float(min(max(total, 0.0), 1.0))


# -- Monte Carlo ------------------------------------------------------------------------
def _vote_mc(
    p: np.ndarray, score: np.ndarray | None, ci: int, n: int, draws: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Mean and squared standard error of the win probability of ``ci`` (Monte Carlo).

    ``score=None`` is a plain majority vote; otherwise answer ``a`` scores ``X_a * score_a``.
    Ties are averaged over (the 1/#ties share), which is unbiased and has lower variance
    than drawing the tie-break.
    """
    if ci < 0:
        return 0.0, 0.0
    x = rng.multinomial(n, p / p.sum(), size=draws)
    if score is None:
        s = x.astype(float)
    else:
        s = np.where(x > 0, x * score[None, :], -np.inf)
    top = s.max(axis=1, keepdims=True)
    at_top = s == top
    win = at_top[:, ci] & (x[:, ci] > 0)
    value = win / at_top.sum(axis=1)
    return float(value.mean()), float(value.var(ddof=1) / draws)


# -- public accuracy functions ----------------------------------------------------------
def _aggregate(
    model: str,
    n: float,
    strategy: str,
    values: np.ndarray,
    variances: np.ndarray,
    methods: list[str],
) -> dict[str, Any]:
    kinds = set(methods)
    return {
        "model": model,
        "n": n,
        "strategy": strategy,
        "accuracy": float(values.mean()),
        "mc_se": float(np.sqrt(variances.sum()) / values.size),
        "method": kinds.pop() if len(kinds) == 1 else "mixed",
        "n_problems": int(values.size),
    }


def _run(
    answers: Source,
    n: int | Sequence[int] | np.ndarray,
    strategy: str,
    one: Any,
    per_problem: bool,
) -> pd.DataFrame:
    frame = _answers(answers)
    sizes = _sample_sizes(n)
    rows: list[dict[str, Any]] = []
    for model, probs in _problems(frame).items():
        for size in sizes:
            results = [one(pr, int(size)) for pr in probs]
            values = np.array([r[0] for r in results])
            variances = np.array([r[1] for r in results])
            methods = [r[2] for r in results]
            if per_problem:
                rows.extend(
                    {
                        "model": model,
                        "problem": pr.problem,
                        "n": int(size),
                        "strategy": strategy,
                        "accuracy": v,
                        "mc_se": float(np.sqrt(s2)),
                        "method": meth,
                    }
                    for pr, v, s2, meth in zip(probs, values, variances, methods, strict=True)
                )
            else:
                rows.append(_aggregate(model, int(size), strategy, values, variances, methods))
    out = pd.DataFrame(rows)
    out.attrs["notes"] = frame.attrs.get("notes", "")
    return out


def majority_vote_accuracy(
    answers: Source,
    n: int | Sequence[int] | np.ndarray,
    *,
    method: Method = "auto",
    draws: int = 4000,
    seed: Seed = 0,
    per_problem: bool = False,
) -> pd.DataFrame:
    r"""Probability that the plurality vote of ``n`` samples is correct, per model.

    Parameters
    ----------
    answers
        Answer-distribution table (DataFrame or CSV path; see :func:`validate_answers`).
    n
        Samples per problem: a whole number >= 1 or a 1-d sequence of them.
    method
        ``"exact"`` (Poissonised dynamic programme, module docstring), ``"monte_carlo"``
        (``draws`` multinomial draws per problem and ``n``) or ``"auto"``: exact unless its
        estimated cost for a problem exceeds :data:`EXACT_BUDGET`, then Monte Carlo for
        that problem.
    draws
        Monte Carlo draws per problem and ``n``.
    seed
        Seed or generator of the Monte Carlo draws (default 0: reproducible tables).
    per_problem
        Return one row per (model, problem, n) instead of the mean over problems.

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``n``, ``strategy`` (``"majority"``), ``accuracy``, ``mc_se``
        (standard error of the Monte Carlo part; 0 when every problem is exact),
        ``method`` and ``n_problems`` (``problem`` instead with ``per_problem=True``).

    Notes
    -----
    .. math::

        \text{acc}(n) = \frac1P\sum_{i=1}^P \Pr\bigl(c_i \text{ wins the vote of }
        X \sim \text{Multinomial}(n, p_i)\bigr),

    ties among the answers with the most votes broken uniformly at random.
    """
    if method not in _METHODS:
        raise SpecificationError(f"method must be one of {_METHODS}, not {method!r}")
    _check_draws(draws)
    rng = _rng(seed)

    def one(pr: _Problem, size: int) -> tuple[float, float, str]:
        if pr.correct < 0:  # exactly 0 whichever method
            return 0.0, 0.0, "monte_carlo" if method == "monte_carlo" else "exact"
        if method != "monte_carlo":
            plan, cost = _majority_plan(pr.p, pr.correct, size)
            if method == "exact" or cost <= EXACT_BUDGET:
                return _majority_exact(pr.p, pr.correct, size, plan), 0.0, "exact"
        mean, var = _vote_mc(pr.p, None, pr.correct, size, draws, rng)
        return mean, var, "monte_carlo"

    return _run(answers, n, "majority", one, per_problem)


def _require_reward(frame: pd.DataFrame, what: str) -> None:
    if "reward" not in frame.columns:
        raise DataError(
            f"{what} needs a 'reward' column (a score of each answer, higher is better, e.g. "
            f"the mean reward-model score of its samples); the table has columns "
            f"{[str(c) for c in frame.columns]}. Add it, or use majority_vote_accuracy()."
        )


def _best_of_n_one(p: np.ndarray, reward: np.ndarray, ci: int, n: float) -> float:
    if ci < 0:
        return 0.0
    rc = reward[ci]
    above = float(p[reward > rc].sum())
    group = float(p[reward == rc].sum())
    if np.isinf(n):
        return float(p[ci] / group) if above == 0.0 else 0.0
    hi = np.exp(n * np.log1p(-above)) if above < 1 else 0.0
    rest = 1.0 - above - group
    lo = np.exp(n * np.log1p(-(above + group))) if rest > 1e-15 else 0.0
    return float(max(p[ci] / group * (hi - lo), 0.0))


def best_of_n_accuracy(
    answers: Source,
    n: int | Sequence[int] | np.ndarray,
    *,
    per_problem: bool = False,
) -> pd.DataFrame:
    r"""Probability that the highest-reward answer among ``n`` samples is correct (exact).

    Parameters
    ----------
    answers
        Answer-distribution table with a ``reward`` column (see :func:`validate_answers`).
    n
        Samples per problem: a whole number >= 1 or a 1-d sequence of them.
    per_problem
        Return one row per (model, problem, n) instead of the mean over problems.

    Returns
    -------
    pandas.DataFrame
        As :func:`majority_vote_accuracy` with ``strategy="best_of_n"``, ``mc_se = 0`` and
        ``method="exact"``.

    Notes
    -----
    With :math:`Q_>` the mass of answers rewarded above the correct one and :math:`p_G` the
    mass of the answers with exactly its reward,

    .. math::

        \text{acc}(n) = \frac{p_c}{p_G}\bigl[(1 - Q_>)^n - (1 - Q_> - p_G)^n\bigr]:

    the top reward among the samples is the correct answer's when no sample is rewarded
    higher and at least one has that reward; ties in reward are broken by a uniformly
    random tied sample, so the correct answer then wins with probability :math:`p_c/p_G`.
    Rewards are compared exactly (as floats).

    Raises
    ------
    DataError
        When the table has no ``reward`` column.
    """
    frame = _answers(answers)
    _require_reward(frame, "best_of_n_accuracy()")

    def one(pr: _Problem, size: int) -> tuple[float, float, str]:
        assert pr.reward is not None
        return _best_of_n_one(pr.p, pr.reward, pr.correct, size), 0.0, "exact"

    return _run(frame, n, "best_of_n", one, per_problem)


def weighted_vote_accuracy(
    answers: Source,
    n: int | Sequence[int] | np.ndarray,
    *,
    draws: int = 4000,
    seed: Seed = 0,
    per_problem: bool = False,
) -> pd.DataFrame:
    r"""Probability that the reward-weighted vote of ``n`` samples is correct (Monte Carlo).

    Answer :math:`a` scores :math:`X_a r_a`, the sum of the rewards of its samples; the
    sampled answer with the highest score wins, ties broken uniformly at random. With
    equal rewards this is the majority vote. Rewards may be negative (a sampled answer
    with a negative reward can still win when every sampled answer scores below 0).

    Parameters
    ----------
    answers
        Answer-distribution table with a ``reward`` column (see :func:`validate_answers`).
    n
        Samples per problem: a whole number >= 1 or a 1-d sequence of them.
    draws
        Monte Carlo draws per problem and ``n``.
    seed
        Seed or generator of the draws (default 0).
    per_problem
        Return one row per (model, problem, n) instead of the mean over problems.

    Returns
    -------
    pandas.DataFrame
        As :func:`majority_vote_accuracy` with ``strategy="weighted"`` and
        ``method="monte_carlo"`` (problems without a sampled correct answer count as 0
        with no Monte Carlo error).

    Raises
    ------
    DataError
        When the table has no ``reward`` column.
    """
    frame = _answers(answers)
    _require_reward(frame, "weighted_vote_accuracy()")
    _check_draws(draws)
    rng = _rng(seed)

    def one(pr: _Problem, size: int) -> tuple[float, float, str]:
        if pr.correct < 0:  # exactly 0
            return 0.0, 0.0, "monte_carlo"
        mean, var = _vote_mc(pr.p, pr.reward, pr.correct, size, draws, rng)
        return mean, var, "monte_carlo"

    return _run(frame, n, "weighted", one, per_problem)


def _plurality_limit(score: np.ndarray, ci: int) -> float:
    if ci < 0:
        return 0.0
    top = score.max()
    if score[ci] < top:
        return 0.0
    return 1.0 / float((score == top).sum())


def voting_limit(answers: Source, *, per_problem: bool = False) -> pd.DataFrame:
    r"""Accuracy as :math:`n \to \infty` of majority, best-of-n and weighted voting.

    Parameters
    ----------
    answers
        Answer-distribution table (see :func:`validate_answers`). Best-of-n and weighted
        rows are added only when it has a ``reward`` column.
    per_problem
        Return one row per (model, problem, strategy) instead of the mean over problems.

    Returns
    -------
    pandas.DataFrame
        Columns as :func:`majority_vote_accuracy` with ``n = inf`` and ``method="exact"``.

    Notes
    -----
    Per problem: majority is 1 when :math:`p_c > p_a` for every other answer, :math:`1/m`
    when :math:`m` answers (the correct one included) share the largest probability, else
    0. Best-of-n is :math:`p_c/p_G` when no answer with :math:`p_a > 0` has a higher reward
    than the correct one (:math:`p_G`: mass of the answers with its reward), else 0.
    Weighted voting applies the majority rule to :math:`p_a r_a`.
    """
    frame = _answers(answers)
    has_reward = "reward" in frame.columns
    rules: list[tuple[str, Any]] = [("majority", lambda pr: _plurality_limit(pr.p, pr.correct))]
    if has_reward:
        rules.append(("best_of_n", lambda pr: _best_of_n_one(pr.p, pr.reward, pr.correct, np.inf)))
        rules.append(("weighted", lambda pr: _plurality_limit(pr.p * pr.reward, pr.correct)))
    rows: list[dict[str, Any]] = []
    for model, probs in _problems(frame).items():
        for strategy, rule in rules:
            values = np.array([rule(pr) for pr in probs], dtype=float)
            if per_problem:
                rows.extend(
                    {
                        "model": model,
                        "problem": pr.problem,
                        "n": np.inf,
                        "strategy": strategy,
                        "accuracy": v,
                        "mc_se": 0.0,
                        "method": "exact",
                    }
                    for pr, v in zip(probs, values, strict=True)
                )
            else:
                rows.append(
                    _aggregate(model, np.inf, strategy, values, np.zeros_like(values), ["exact"])
                )
    out = pd.DataFrame(rows)
    out.attrs["notes"] = frame.attrs.get("notes", "")
    return out


# -- Bayesian saturating curve ----------------------------------------------------------
#: Fewest models for which ``pooling="auto"`` pools the gains of :func:`fit_voting_curve`.
MIN_POOLED_MODELS = 5
#: Default priors of :func:`fit_voting_curve` (logit scale for accuracies).
DEFAULT_PRIORS: dict[str, tuple[float, float]] = {
    "logit_first": (0.0, 1.5),  # Normal(mean, sd) of logit acc_1 of every model
    "mu_gain": (0.0, 1.0),  # Normal: mean of logit acc(n_ref) - logit acc_1 at the centre
    "gain_slope": (0.0, 0.5),  # Normal: change of that mean per unit of logit acc_1
    "sigma_gain": (1.0, 0.0),  # HalfNormal(sd)
    "log_gamma": (np.log(0.7), 0.7),  # Normal: log of the exponent gamma
    "sigma_log_gamma": (0.5, 0.0),  # HalfNormal(sd), only with gamma="per_model"
}


def _curve_table(table: Source) -> tuple[pd.DataFrame, list[str]]:
    """Validate a (model, n, problems correct, problems) table; return it and notes."""
    frame, from_csv = read_table(table)
    csv_lines = frame.attrs.get(CSV_LINES) if from_csv else None

    def where(rows: Sequence[int] | np.ndarray) -> str:
        return describe_rows(rows, csv_lines)

    if len(frame) == 0:
        raise DataError("the accuracy table has no rows; add one row per (model, n).")
    notes: list[str] = []
    if "strategy" in frame.columns:
        kinds = list(pd.unique(frame["strategy"].astype(str)))
        if len(kinds) > 1:
            raise DataError(
                f"column 'strategy' holds {kinds}; fit one strategy at a time, e.g. "
                f"table[table['strategy'] == {kinds[0]!r}]."
            )
    needed = ["model", "n", "n_problems"]
    missing = [c for c in needed if c not in frame.columns]
    if "n_correct" not in frame.columns and "accuracy" not in frame.columns:
        missing.append("n_correct (or accuracy)")
    if missing:
        raise DataError(
            f"missing required column(s) {missing}; the table has columns "
            f"{[str(c) for c in frame.columns]}. An accuracy table needs model, n, n_problems "
            "and n_correct or accuracy (the output of majority_vote_accuracy() has them)."
        )
    blank = np.flatnonzero(blank_mask(frame["model"]))
    if blank.size:
        raise DataError(f"column 'model': empty in {where(blank)}. Give every row a model label.")
    model = pd.Series([label_text(v) for v in frame["model"]], dtype=object)
    whole: dict[str, np.ndarray] = {}
    for col in ("n", "n_problems"):
        num = numeric_column(frame, col, where, required=True)
        bad = np.flatnonzero((num != np.round(num)) | (num < 1))
        if bad.size:
            fail_rows(
                col,
                bad,
                frame[col],
                "not a whole number >= 1",
                f"{col} counts samples per problem (n) or problems (n_problems): fix or "
                "remove those rows.",
                where,
            )
        whole[col] = num.astype(np.int64)
    total = whole["n_problems"]
    if "n_correct" in frame.columns:
        num = numeric_column(frame, "n_correct", where, required=True)
        bad = np.flatnonzero((num != np.round(num)) | (num < 0) | (num > total))
        if bad.size:
            fail_rows(
                "n_correct",
                bad,
                frame["n_correct"],
                "not a whole number between 0 and n_problems",
                "n_correct counts the problems answered correctly: fix or remove those rows.",
                where,
            )
        correct = num.astype(np.int64)
    else:
        acc = numeric_column(frame, "accuracy", where, required=True)
        bad = np.flatnonzero((acc < 0) | (acc > 1))
        if bad.size:
            fail_rows(
                "accuracy",
                bad,
                frame["accuracy"],
                "outside [0, 1]",
                "Give accuracies as proportions (0.42, not 42%): fix or remove those rows.",
                where,
            )
        raw = acc * total
        correct = np.round(raw).astype(np.int64)
        shift = float(np.max(np.abs(raw - correct)))
        if shift > 1e-6:
            notes.append(
                f"rounded accuracy * n_problems to whole problems correct (largest change "
                f"{shift:.2f} problems): expected accuracies of a voting rule are means of "
                "per-problem probabilities, so the binomial likelihood uses the nearest count"
            )
    key = model + "\x00" + pd.Series(whole["n"]).astype(str)
    dup = np.flatnonzero(key.duplicated(keep=False).to_numpy())
    if dup.size:
        raise DataError(
            f"columns 'model', 'n': {where(dup)} repeat a (model, n) pair. Give each model "
            "one row per n (pool repeated evaluations by adding n_correct and n_problems)."
        )
    if np.unique(whole["n"]).size < 2:
        raise DataError(
            f"column 'n': every row has n = {int(whole['n'][0])}; the curve needs accuracies "
            "at two or more sample counts."
        )
    out = pd.DataFrame({"model": model, "n": whole["n"], "n_correct": correct, "n_problems": total})
    return out, notes


def _build_curve_model(
    data: pd.DataFrame, gamma: str, pooling: str, priors: dict, n_ref: float, center: float
) -> Any:
    import pymc as pm

    models = list(pd.unique(data["model"]))
    idx = pd.Index(models).get_indexer(data["model"])
    coords = {"model": models, "obs": np.arange(len(data))}
    pr = priors
    with pm.Model(coords=coords) as model:
        n_obs = pm.Data("n", data["n"].to_numpy(dtype=float), dims="obs")
        total = pm.Data("n_problems", data["n_problems"].to_numpy(dtype=np.int64), dims="obs")
        model_idx = pm.Data("model_idx", idx.astype(np.int64), dims="obs")
        # the first-sample accuracy is measured directly on P problems: no pooling needed
        logit_1 = pm.Normal("logit_acc_first", *pr["logit_first"], dims="model")
        if pooling == "partial":
            # population of gains whose mean may change with ability (logit acc_1)
            mu_g = pm.Normal("mu_gain", *pr["mu_gain"])
            slope = pm.Normal("gain_slope", *pr["gain_slope"])
            sd_g = pm.HalfNormal("sigma_gain", pr["sigma_gain"][0])
            mean_g = mu_g + slope * (logit_1 - center)
        else:
            mean_g, sd_g = pr["mu_gain"]
        # Parameters the data pin down: logit accuracy at n = 1 and its change up to n_ref.
        # The limit is derived from them and gamma (sampling it directly couples it to gamma).
        # gains are often similar across models (sigma_gain near 0): non-centred
        z_gain = pm.Normal("z_gain", 0.0, 1.0, dims="model")
        gain = pm.Deterministic("logit_gain", mean_g + sd_g * z_gain, dims="model")
        if gamma == "shared":
            log_gamma = pm.Normal("log_gamma", *pr["log_gamma"])
            gam = pm.Deterministic("gamma", pm.math.exp(log_gamma))
            gam_obs = gam
        else:
            mu_lg = pm.Normal("mu_log_gamma", *pr["log_gamma"])
            sd_lg = pm.HalfNormal("sigma_log_gamma", pr["sigma_log_gamma"][0])
            z_lg = pm.Normal("z_log_gamma", 0.0, 1.0, dims="model")
            gam = pm.Deterministic("gamma", pm.math.exp(mu_lg + sd_lg * z_lg), dims="model")
            gam_obs = gam[model_idx]
        # 1 - n_ref^-gamma > 0 because n_ref > 1 and gamma > 0
        ref_span = -pm.math.expm1(-gam * np.log(n_ref))
        logit_inf = pm.Deterministic("logit_acc_inf", logit_1 + gain / ref_span, dims="model")
        pm.Deterministic("acc_first", pm.math.sigmoid(logit_1), dims="model")
        pm.Deterministic("acc_inf", pm.math.sigmoid(logit_inf), dims="model")
        span = -pm.math.expm1(-gam_obs * pm.math.log(n_obs))
        ref_obs = ref_span if gamma == "shared" else ref_span[model_idx]
        logit_acc = logit_1[model_idx] + gain[model_idx] * span / ref_obs
        pm.Binomial(
            "y",
            n=total,
            logit_p=logit_acc,
            observed=data["n_correct"].to_numpy(np.int64),
            dims="obs",
        )
    return model


@dataclass
class VotingCurveFit:
    r"""Posterior of the saturating accuracy curve of :func:`fit_voting_curve`.

    Attributes
    ----------
    idata
        ArviZ ``DataTree`` (``posterior``, ``sample_stats``, ``log_likelihood``,
        ``observed_data``).
    data
        The validated table: ``model``, ``n``, ``n_correct``, ``n_problems``.
    diagnostics
        Divergences, R-hat and bulk ESS (:func:`bayescale.core.diagnostics.check_convergence`).
    gamma, pooling, n_ref, center
        The specification used (``center``: the centre of ``logit acc_1`` in the gain
        regression).
    notes
        What was rounded or chosen on the user's behalf.
    """

    idata: xr.DataTree
    data: pd.DataFrame
    diagnostics: Diagnostics
    gamma: str
    pooling: str
    n_ref: float
    center: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        """Model labels in order of first appearance."""
        return [str(m) for m in self.idata["posterior"].dataset["model"].values]

    def _sampled(self) -> list[str]:
        names = ["logit_acc_first", "z_gain"]
        if self.pooling == "partial":
            names += ["mu_gain", "gain_slope", "sigma_gain"]
        if self.gamma == "shared":
            names.append("log_gamma")
        else:
            names += ["mu_log_gamma", "sigma_log_gamma", "z_log_gamma"]
        return names

    def summary(self, ci: float = 0.9) -> pd.DataFrame:
        """ArviZ summary of ``acc_first``, ``acc_inf``, ``gamma`` and the hyperparameters.

        Intervals are equal-tailed with probability ``ci``.
        """
        import arviz as az

        names = ["acc_first", "acc_inf", "logit_gain", "gamma"]
        if self.pooling == "partial":
            names += ["mu_gain", "gain_slope", "sigma_gain"]
        return az.summary(self.idata, var_names=names, ci_prob=ci, ci_kind="eti")

    def curve_draws(self, n: int | Sequence[float] | np.ndarray) -> xr.DataArray:
        r"""Posterior draws of :math:`\text{acc}(n)` with dims (chain, draw, model, n).

        ``n`` may contain ``numpy.inf`` (the saturation limit :math:`\text{acc}_\infty`).
        """
        post = self.idata["posterior"].dataset
        sizes = np.atleast_1d(np.asarray(n, dtype=float))
        if sizes.ndim != 1 or np.any(np.isnan(sizes)) or np.any(sizes < 1):
            raise SpecificationError(f"n must be numbers >= 1 (or inf), not {n!r}")
        nn = xr.DataArray(sizes, dims="n", coords={"n": sizes})
        gam = post["gamma"]
        logit_1, logit_inf = post["logit_acc_first"], post["logit_acc_inf"]
        shrink = np.exp(-gam * np.log(nn))
        logit = logit_inf - (logit_inf - logit_1) * shrink
        return xr.apply_ufunc(lambda v: 1.0 / (1.0 + np.exp(-v)), logit)

    def predict(
        self,
        n: int | Sequence[float] | np.ndarray,
        ci: float = 0.9,
        *,
        include_limit: bool = True,
    ) -> pd.DataFrame:
        r"""Posterior mean, median and equal-tailed interval of the accuracy at ``n``.

        Parameters
        ----------
        n
            Sample counts (>= 1); may be new values.
        ci
            Probability of the equal-tailed credible interval.
        include_limit
            Append the rows ``n = inf`` (the saturation limit :math:`\text{acc}_\infty`).

        Returns
        -------
        pandas.DataFrame
            Columns ``model``, ``n``, ``mean``, ``median``, ``lower``, ``upper``; the
            interval probability is in ``attrs["ci_prob"]``. The band describes the
            population accuracy on problems like the evaluated ones (not a new evaluation's
            binomial noise).
        """
        if not 0 < ci < 1:
            raise SpecificationError(f"ci must lie strictly between 0 and 1, not {ci!r}")
        sizes = list(np.atleast_1d(np.asarray(n, dtype=float)))
        if include_limit and np.inf not in sizes:
            sizes.append(np.inf)
        draws = self.curve_draws(sizes).stack(sample=("chain", "draw"))
        lo, hi = (1 - ci) / 2, 1 - (1 - ci) / 2
        q = draws.quantile([lo, 0.5, hi], dim="sample")
        rows = []
        for m in self.models:
            for s in sizes:
                sel = {"model": m, "n": s}
                rows.append(
                    {
                        "model": m,
                        "n": s,
                        "mean": float(draws.sel(sel).mean()),
                        "median": float(q.sel({**sel, "quantile": 0.5})),
                        "lower": float(q.sel({**sel, "quantile": lo})),
                        "upper": float(q.sel({**sel, "quantile": hi})),
                    }
                )
        out = pd.DataFrame(rows)
        out.attrs["ci_prob"] = ci
        return out

    def loo(self) -> Any:
        """PSIS-LOO of the binomial likelihood (``arviz.loo``); one point per (model, n)."""
        import arviz as az

        return az.loo(self.idata)

    def __repr__(self) -> str:
        return (
            f"<VotingCurveFit models={len(self.models)} rows={len(self.data)} "
            f"gamma={self.gamma!r} pooling={self.pooling!r} diagnostics: {self.diagnostics}>"
        )


def fit_voting_curve(
    table: Source,
    *,
    gamma: Literal["shared", "per_model"] = "shared",
    pooling: Literal["auto", "partial", "none"] = "auto",
    priors: dict[str, tuple[float, float]] | None = None,
    n_ref: float | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int = 0,
    nuts_sampler: str = "nutpie",
    target_accept: float = 0.8,
    progressbar: bool = False,
    warn_convergence: bool = True,
) -> VotingCurveFit:
    r"""Fit a saturating curve of accuracy against the number of samples ``n`` with NUTS.

    .. math::

        \operatorname{logit}\text{acc}(n) = \ell_\infty - (\ell_\infty - \ell_1)\,n^{-\gamma},
        \qquad \text{acc}_\infty = \operatorname{logit}^{-1}\ell_\infty

    Parameters
    ----------
    table
        DataFrame or CSV path with ``model``, ``n``, ``n_problems`` and ``n_correct`` (or
        ``accuracy``, then ``n_correct = round(accuracy * n_problems)``, noted). The output
        of :func:`majority_vote_accuracy` (one strategy) can be passed directly.
    gamma
        ``"shared"``: one exponent for all models (needed when models have few values of
        ``n``); ``"per_model"``: exponents partially pooled on the log scale (non-centred).
    pooling
        ``"partial"``: the logit gains of the models are drawn from a population normal
        whose scale and mean (linear in ``logit acc_1``) are estimated; ``"none"``:
        independent N(0, 1) priors (used automatically for a single model); ``"auto"``
        (default): ``"partial"`` with :data:`MIN_POOLED_MODELS` or more models, else
        ``"none"`` (with two to four groups the population scale is barely identified and
        its funnel slows NUTS down).
    priors
        Overrides of :data:`DEFAULT_PRIORS` (``(mean, sd)`` of a normal, ``(sd, 0)`` of a
        half-normal).
    n_ref
        Reference sample count of the gain parameter (default: the largest ``n`` in the
        table).
    draws, tune, chains, seed, nuts_sampler, target_accept, progressbar
        Passed to ``pymc.sample``.
    warn_convergence
        Warn (:class:`~bayescale.core.errors.ConvergenceWarning`) when diagnostics fall short.

    Returns
    -------
    VotingCurveFit

    Notes
    -----
    Per model :math:`m` and observation :math:`i` (sample count :math:`n_i`, :math:`P_i`
    problems, :math:`y_i` correct), with :math:`s(n) = 1 - n^{-\gamma}`:

    .. math::

        \ell_{1,m} &\sim \mathcal N(0, 1.5), \qquad
        g_m \sim \mathcal N\bigl(\mu_g + \beta_g(\ell_{1,m} - \bar\ell_1), \sigma_g\bigr),
        \qquad
        \ell_{\infty,m} = \ell_{1,m} + \frac{g_m}{s(n_\text{ref})},\\
        \operatorname{logit}\text{acc}_m(n) &= \ell_{1,m} + g_m\,\frac{s(n)}{s(n_\text{ref})},
        \qquad y_i \sim \text{Binomial}\bigl(P_i, \text{acc}_{m_i}(n_i)\bigr),

    so :math:`g_m` is the logit gain from :math:`n = 1` to :math:`n_\text{ref}` (what the
    data measure) and the limit :math:`\text{acc}_\infty` is derived from it and
    :math:`\gamma`; sampling the limit directly couples it to :math:`\gamma` and gave
    divergences. The first-sample accuracy is measured directly on :math:`P` problems, so
    it is not pooled; the gains are (non-centred, as they are often similar across
    models) around a mean that may change with ability (:math:`\bar\ell_1`: mean empirical
    logit accuracy at the smallest ``n``; on GSM8K weak models lose from voting and strong
    ones gain). Priors (:data:`DEFAULT_PRIORS`): :math:`\mu_g \sim \mathcal N(0, 1)`,
    :math:`\beta_g \sim \mathcal N(0, 0.5)`, :math:`\sigma_g \sim \text{HalfNormal}(1)`,
    :math:`\log\gamma \sim \mathcal N(\log 0.7, 0.7)` (with ``gamma="per_model"``:
    :math:`\log\gamma_m = \mu + \tau z_m`, :math:`\tau \sim \text{HalfNormal}(0.5)`).
    With ``pooling="none"`` the population parameters are fixed (:math:`g_m \sim \mathcal
    N(0, 1)`). The curve may fall (voting hurts when a wrong answer is the plurality:
    :math:`g_m < 0`).

    The binomial treats the :math:`P` problems as a sample from a population of problems:
    the variance of a mean of per-problem win probabilities is at most
    :math:`\text{acc}(1-\text{acc})/P`, so it is conservative for one evaluation.
    Accuracies of one model at several :math:`n` on the same problems are positively
    correlated, which the independent binomials ignore (intervals are somewhat narrow when
    many ``n`` share problems). With only two values of ``n`` per model, :math:`\gamma`
    (and hence :math:`\text{acc}_\infty`) is informed by its prior alone.
    """
    data, notes = _curve_table(table)
    if gamma not in ("shared", "per_model"):
        raise SpecificationError(f"gamma must be 'shared' or 'per_model', not {gamma!r}")
    if pooling not in ("auto", "partial", "none"):
        raise SpecificationError(f"pooling must be 'auto', 'partial' or 'none', not {pooling!r}")
    prior = dict(DEFAULT_PRIORS)
    for key, value in (priors or {}).items():
        if key not in DEFAULT_PRIORS:
            raise SpecificationError(
                f"unknown prior {key!r}; the priors are {sorted(DEFAULT_PRIORS)}"
            )
        prior[key] = (float(value[0]), float(value[1]))
    n_models = data["model"].nunique()
    if pooling == "auto":
        pooling = "partial" if n_models >= MIN_POOLED_MODELS else "none"
    elif pooling == "partial" and n_models < 2:
        pooling = "none"
        notes.append("one model: pooling='none' (a population scale needs several models)")
    if gamma == "per_model":
        per = data.groupby("model")["n"].nunique()
        few = per[per < 3]
        if len(few):
            notes.append(
                f"gamma='per_model' with fewer than 3 values of n for {len(few)} model(s): "
                "their exponents follow the population prior"
            )

    observed_n = data["n"].to_numpy(dtype=float)
    ref = float(observed_n.max()) if n_ref is None else float(n_ref)
    if not ref > 1 or not np.isfinite(ref):
        raise SpecificationError(f"n_ref must be a finite number > 1, not {n_ref!r}")
    first = data.loc[data.groupby("model", sort=False)["n"].idxmin()]
    frac = (first["n_correct"] + 0.5) / (first["n_problems"] + 1.0)
    center = float(np.mean(np.log(frac / (1 - frac))))
    model = _build_curve_model(data, gamma, pooling, prior, ref, center)
    idata = sample_posterior(
        model,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        nuts_sampler=nuts_sampler,
        target_accept=target_accept,
        progressbar=progressbar,
        log_likelihood=["y"],
    )
    fit = VotingCurveFit(
        idata=idata,
        data=data,
        diagnostics=Diagnostics(0, 0, float("nan"), float("nan")),
        gamma=gamma,
        pooling=pooling,
        n_ref=ref,
        center=center,
        notes=notes,
    )
    fit.diagnostics = check_convergence(idata, var_names=fit._sampled(), warn=warn_convergence)
    return fit
