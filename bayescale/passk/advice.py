r"""Where to sample next: the attempts that shrink a chosen coverage forecast most.

Given a fitted :class:`~bayescale.passk.PassKFit` and a budget of further attempts,
:func:`sampling_advice` says how many to spend on each (model, problem) pair so that the
posterior variance of one forecast, the coverage :math:`F = \frac1P \sum_j f_j` of a
chosen model at :math:`k` attempts with :math:`f_j = 1 - (1 - p_j)^k`, is expected to
fall most. It is the Bayesian counterpart of Kazdan et al.'s (2025) dynamic sampling
(more attempts for the hardest problems): the value of an attempt is measured on the
forecast itself, so a problem already solved often (whose :math:`f_j` is surely 1 at
large :math:`k`) gets none, and neither does one the posterior already places firmly.

**Value of** :math:`e` **more attempts at pair** :math:`r = (m', j)`. Their outcome is
:math:`y \sim \mathrm{Binomial}(e, p_r)`; the expected reduction of the forecast's
variance is

.. math::

    G_r(e) = \operatorname{Var}(f_j) - \mathbb E_y\bigl[\operatorname{Var}(f_j \mid y)\bigr]
    = \operatorname{Var}_y\bigl(\mathbb E[f_j \mid y]\bigr), \qquad
    \Delta\operatorname{Var}(F) \approx G_r(e) / P^2,

estimated from the joint posterior draws of :math:`(p_r, f_j)` by reweighting them with
the binomial likelihood of each simulated :math:`y` (preposterior analysis with
importance weights). Only the term :math:`f_j` of the same problem is scored: given the
model-level parameters the problems are independent, and a few more attempts on one
problem barely move those parameters. With ``model="shared_difficulty"`` the draws of
:math:`p_{m'j}` and :math:`p_{mj}` share the problem's difficulty, so attempts by
another model at the same problem count too; with ``model="beta"`` only the chosen
model's own pairs can help.

**Allocation.** Greedy in steps of ``step`` attempts: each step goes to the pair with the
largest expected gain for its next ``step`` attempts (diminishing returns come from
:math:`G_r(e)` being concave in :math:`e`). The same calculation for the budget spread
evenly over the chosen model's problems gives the comparison in
:attr:`SamplingAdvice.expected`. The part of the variance that comes from the model-level
parameters (how many problems are never solvable, the shape of the tail) is not reduced
by more attempts at the same problems; more problems reduce it.

``benchmarks/passk_backtest.py`` checks the advice on real counts: it draws the advised
attempts from the attempts Brown et al. made but the fit did not see, refits, and compares
the interval with the one after spreading the same budget evenly (``docs/passk.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import xlog1py, xlogy

from bayescale.core import dims
from bayescale.core.errors import SpecificationError
from bayescale.core.intervals import check_ci_prob, quantiles

if TYPE_CHECKING:
    from bayescale.passk.fitting import PassKFit

__all__ = ["SamplingAdvice", "expected_variance_reduction", "sampling_advice"]


@dataclass
class SamplingAdvice:
    """The outcome of :func:`sampling_advice`.

    Attributes
    ----------
    allocation : pandas.DataFrame
        One row per (model, problem) pair that gets attempts: ``model``, ``problem``,
        ``n_samples`` and ``n_correct`` so far, ``extra_attempts`` (advised),
        ``expected_gain`` (expected fall of the forecast's variance from them).
    expected : pandas.DataFrame
        One row per strategy (``"now"``, ``"advised"``, ``"even"``: the budget spread over
        the chosen model's problems): ``attempts``, ``sd`` (expected posterior standard
        deviation of the forecast) and ``width`` (the current interval width scaled by
        the ratio of standard deviations).
    target : dict
        The forecast: ``model``, ``k``, ``ci_prob``, ``median``, ``lower``, ``upper``.
    """

    allocation: pd.DataFrame
    expected: pd.DataFrame
    target: dict[str, float | str]

    def __str__(self) -> str:
        t = self.target
        lines = [
            f"coverage of {t['model']} at k={t['k']:g}: {t['median']:.3f} "
            f"[{t['lower']:.3f}, {t['upper']:.3f}] ({t['ci_prob']:.0%})",
            self.expected.to_string(index=False, float_format=lambda x: f"{x:.4g}"),
            "",
            self.allocation.head(20).to_string(index=False, float_format=lambda x: f"{x:.3g}"),
        ]
        if len(self.allocation) > 20:
            lines.append(f"... {len(self.allocation) - 20} more pairs")
        return "\n".join(lines)


def expected_variance_reduction(
    p: np.ndarray, f: np.ndarray, extra: np.ndarray | list[int], *, seed: int = 0
) -> np.ndarray:
    r"""Expected fall of :math:`\operatorname{Var}(f)` after ``extra`` more attempts at ``p``.

    :math:`\operatorname{Var}_y(\mathbb E[f \mid y])` with :math:`y \sim
    \mathrm{Binomial}(e, p)`, from joint posterior draws of :math:`(p, f)` (module
    docstring): one :math:`y` is simulated per draw (the same uniform numbers for every
    :math:`e`, so the estimate varies smoothly with :math:`e`), and :math:`\mathbb E[f
    \mid y]` is the mean of ``f`` over the draws weighted by the binomial likelihood of
    :math:`y`.

    Parameters
    ----------
    p
        Draws of the success probability of the pair to sample (``S``).
    f
        Joint draws of the quantity to pin down (``S``).
    extra
        Numbers of further attempts :math:`e` (each >= 0).

    Returns
    -------
    numpy.ndarray
        The expected reduction for each :math:`e` (0 for :math:`e = 0`).
    """
    from scipy.stats import binom  # on first use: scipy.stats takes 0.8 s to import

    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    f = np.asarray(f, dtype=float)
    f = f - f.mean()
    uniform = np.random.default_rng(seed).random(p.size)
    out = np.zeros(len(extra))
    for i, e in enumerate(np.asarray(extra, dtype=int)):
        if e <= 0:
            continue
        y = binom.ppf(uniform, e, p)
        values, counts = np.unique(y, return_counts=True)
        log_w = xlogy(values[:, None], p[None, :]) + xlog1py(e - values[:, None], -p[None, :])
        log_w -= log_w.max(axis=1, keepdims=True)
        w = np.exp(log_w)
        cond_mean = (w @ f) / w.sum(axis=1)
        out[i] = float(counts @ cond_mean**2) / p.size
    return out


def sampling_advice(
    fit: PassKFit,
    budget: int,
    *,
    k: float,
    model: str | None = None,
    params: Mapping[str, float] | None = None,
    step: int | None = None,
    ci_prob: float = 0.9,
    max_draws: int = 1000,
    seed: int = 0,
) -> SamplingAdvice:
    r"""Which (model, problem) pairs to spend ``budget`` further attempts on.

    Parameters
    ----------
    fit
        A fitted :class:`~bayescale.passk.PassKFit`.
    budget
        Further attempts to allocate (a whole number >= 1).
    k
        The forecast is the coverage of the fitted problems at ``k`` attempts.
    model
        Its model (a fitted one), or
    params
        ``{"label": N}``: a model size that was not run, forecast on the fitted problems
        (``model="shared_difficulty"`` only).
    step
        Attempts per greedy step (default ``budget // 50``, at least 1).
    ci_prob
        Probability of the interval reported in :attr:`SamplingAdvice.target`.
    max_draws, seed
        Posterior draws used, and the seed of the draws of problem probabilities.

    Returns
    -------
    SamplingAdvice
    """
    p_ci = check_ci_prob(ci_prob)
    if int(budget) != budget or budget < 1:
        raise SpecificationError(f"budget must be a whole number of attempts >= 1, not {budget!r}")
    if (model is None) == (params is None):
        raise SpecificationError(
            "name the forecast: model='a fitted model' or params={'label': N} (a new size)"
        )
    if params is not None and not fit.spec.shared:
        raise SpecificationError(
            "advice for a model size that was not run needs model='shared_difficulty' (its "
            "problems have difficulties the new size shares)"
        )
    if not k >= 1:
        raise SpecificationError(f"k must be >= 1, got {k!r}")
    budget = int(budget)
    step = int(step or max(1, budget // 50))
    if step < 1:
        raise SpecificationError(f"step must be >= 1, not {step!r}")

    rng = np.random.default_rng(seed)
    draws = fit.beta_draws(models=fit.models, params=params, seed=seed, max_draws=max_draws)
    stacked = draws.stack(sample=("chain", "draw")).transpose(dims.MODEL, "sample")
    p_by_model = fit._problem_p(stacked, rng, max_draws, fit._new_sizes(params))
    data = fit.data
    model_idx = data["model_idx"].values
    from bayescale.passk.shared import problem_cells

    cells = problem_cells(data)
    n_draws = stacked.sizes["sample"]
    p_rows = np.empty((n_draws, model_idx.size))
    for i, label in enumerate(fit.models):
        p_rows[:, model_idx == i] = p_by_model[label]
    if params is not None:
        label = next(iter(params))
        target_p = p_by_model[str(label)]
        target_problems = np.arange(cells.problems.size)
    else:
        if model not in fit.models:
            raise SpecificationError(f"unknown model {model!r}; the fit has {fit.models}")
        label = str(model)
        rows = np.flatnonzero(model_idx == fit.models.index(label))
        target_p = p_rows[:, rows]
        target_problems = cells.problem_idx[rows]
    with np.errstate(divide="ignore"):  # p = 1: log1p(-1) = -inf, and f = 1 exactly
        f_terms = -np.expm1(k * np.log1p(-np.minimum(target_p, 1.0)))  # S x P_target
    coverage = f_terms.mean(axis=1)
    n_target = f_terms.shape[1]
    term_of = {int(j): t for t, j in enumerate(target_problems)}

    # candidate pairs: every row at one of the forecast's problems (with the per-model
    # model, only the chosen model's own rows share anything with its terms)
    candidates = [
        r
        for r in range(model_idx.size)
        if int(cells.problem_idx[r]) in term_of
        and (fit.spec.shared or (params is None and fit.models[model_idx[r]] == label))
    ]

    def gain(r: int, e_from: int, e_to: int) -> float:
        f = f_terms[:, term_of[int(cells.problem_idx[r])]]
        g = expected_variance_reduction(p_rows[:, r], f, [e_from, e_to], seed=seed + r)
        return float(g[1] - g[0]) / n_target**2

    extra = dict.fromkeys(candidates, 0)
    marginal = {r: gain(r, 0, step) for r in candidates}
    spent = 0
    while spent < budget and marginal:
        r = max(marginal, key=marginal.__getitem__)
        size = min(step, budget - spent)
        extra[r] += size
        spent += size
        marginal[r] = gain(r, extra[r], extra[r] + step)
    total_gain = {r: gain(r, 0, e) if e else 0.0 for r, e in extra.items()}

    var_now = float(coverage.var())
    lo, med, hi = quantiles(coverage, p_ci)
    width_now = float(hi - lo)
    # the even spread: over the chosen model's problems (over every fitted row for a new
    # size, which has none)
    even_rows = (
        [r for r in candidates if fit.models[model_idx[r]] == label]
        if params is None
        else candidates
    )
    per_row = budget // max(len(even_rows), 1)
    even_gain = sum(gain(r, 0, per_row) for r in even_rows) if per_row else 0.0

    def expected_row(name: str, attempts: int, g: float) -> dict[str, float | str]:
        v = max(var_now - g, 0.0)
        ratio = np.sqrt(v / var_now) if var_now > 0 else 1.0
        return {
            "strategy": name,
            "attempts": attempts,
            "sd": np.sqrt(v),
            "width": width_now * ratio,
        }

    expected = pd.DataFrame(
        [
            expected_row("now", 0, 0.0),
            expected_row("advised", spent, sum(total_gain.values())),
            expected_row("even", per_row * len(even_rows), even_gain),
        ]
    )
    rows_out = [
        {
            "model": fit.models[model_idx[r]],
            "problem": str(data["problem_label"].values[r]),
            "n_samples": int(data["n_samples"].values[r]),
            "n_correct": int(data["n_correct"].values[r]),
            "extra_attempts": e,
            "expected_gain": total_gain[r],
        }
        for r, e in extra.items()
        if e > 0
    ]
    allocation = pd.DataFrame(
        rows_out,
        columns=["model", "problem", "n_samples", "n_correct", "extra_attempts", "expected_gain"],
    ).sort_values("extra_attempts", ascending=False, ignore_index=True)
    target: dict[str, float | str] = {
        "model": label,
        "k": float(k),
        "ci_prob": p_ci,
        "median": float(med),
        "lower": float(lo),
        "upper": float(hi),
    }
    return SamplingAdvice(allocation=allocation, expected=expected, target=target)
