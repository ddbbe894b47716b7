r"""Majority voting, best-of-n and reward-weighted voting at :math:`n` samples.

Inference-time scaling by aggregating several sampled answers (Wu et al. 2024, "Inference
Scaling Laws: An Empirical Analysis of Compute-Optimal Inference", arXiv 2408.00724;
Brown et al. 2024, "Large Language Monkeys", arXiv 2407.21787). The input is a per-problem
*answer distribution*: one row per (model, problem, distinct final answer) with how often
that answer was sampled.

The table's columns and checks are in :mod:`bayescale.passk.answers`
(:func:`validate_answers`).

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

:func:`bayescale.passk.voting_curve.fit_voting_curve` fits a saturating curve of
accuracy against :math:`n` to such tables (``docs/voting.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from bayescale.core.errors import DataError, SpecificationError
from bayescale.passk.answers import ANSWER_COLUMNS, Source, checked_answers, validate_answers

__all__ = [
    "ANSWER_COLUMNS",
    "EXACT_BUDGET",
    "LUMP_TOL",
    "best_of_n_accuracy",
    "majority_vote_accuracy",
    "validate_answers",
    "voting_limit",
    "weighted_vote_accuracy",
]

#: Largest estimated number of multiply-adds of the exact majority-vote computation of
#: one problem at one ``n`` before ``method="auto"`` uses Monte Carlo for that problem.
EXACT_BUDGET = 1e8
#: Total binomial tail mass of answers lumped into the unconstrained factor (per vote count).
LUMP_TOL = 1e-13
#: Vote counts ``k`` of the correct answer with ``Bin(k; n, p_c)`` below this are skipped.
_SKIP_PMF = 1e-17
_METHODS = ("auto", "exact", "monte_carlo")
#: Names that moved to :mod:`bayescale.passk.voting_curve`:
#: an old import from here says where they went.
_MOVED = ("DEFAULT_PRIORS", "MIN_POOLED_MODELS", "VotingCurveFit", "fit_voting_curve")

type Method = Literal["auto", "exact", "monte_carlo"]
type Seed = int | np.random.Generator | None


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
    from scipy import stats  # on first use: 0.8 s to import

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
    from scipy import stats  # on first use: 0.8 s to import

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
    frame = checked_answers(answers)
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
    frame = checked_answers(answers)
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
    frame = checked_answers(answers)
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
    frame = checked_answers(answers)
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


def __getattr__(name: str) -> Any:
    """Names that moved to :mod:`bayescale.passk.voting_curve` say so (they are also exported by
    :mod:`bayescale.passk`)."""
    if name in _MOVED:
        raise AttributeError(
            f"{name} moved from {__name__} to bayescale.passk.voting_curve in bayescale 0.2: "
            "import it from there or from bayescale.passk"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
