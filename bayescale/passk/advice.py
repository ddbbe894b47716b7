r"""Where to sample next: the attempts that shrink a chosen coverage forecast most.

Given a fitted :class:`~bayescale.passk.PassKFit` and a budget of further attempts,
:func:`sampling_advice` says how many to spend on each (model, problem) pair so that the
posterior variance of one forecast, the coverage :math:`F = \frac1P \sum_j f_j` of a
chosen model at :math:`k` attempts with :math:`f_j = 1 - (1 - p_j)^k`, is expected to
fall most. It is the Bayesian counterpart of Kazdan et al.'s (2025) dynamic sampling
(more attempts for the hardest problems): the value of an attempt is measured on the
forecast itself, so a problem already solved often (whose :math:`f_j` is surely 1 at
large :math:`k`) gets none, and neither does one the posterior already places firmly.

**Value of a set of further attempts.** Attempts :math:`e_r` at pairs :math:`r` give
outcomes :math:`y_r \sim \mathrm{Binomial}(e_r, p_r)`; the expected fall of the
forecast's variance is the preposterior

.. math::

    \operatorname{Var}(F) - \mathbb E_y\bigl[\operatorname{Var}(F \mid y)\bigr]
    = \operatorname{Var}_y\bigl(\mathbb E[F \mid y]\bigr).

It is estimated by regression on simulated data (Strong, Oakley, Brennan and Breeze
2015): for every joint posterior draw :math:`s`, outcomes :math:`y^{(s)}` are simulated
from its :math:`p^{(s)}`, and :math:`F^{(s)}` is regressed on summaries of them; the
variance the regression explains is the expected fall (less the :math:`q/S` of
:math:`\operatorname{Var}(F)` that :math:`q` regressors explain by chance in :math:`S`
draws). Two summaries per batch of attempts: the share solved :math:`y_r / e_r`, which
carries what the attempts say about the model-level parameters (the share of problems out
of reach, the tail, the trend: most of the variance of a coverage at large :math:`k`), and
:math:`\mathbb E[f_j \mid y_r]`, the problem's own term given the outcome (the draws
reweighted by the binomial likelihood of :math:`y_r`, :func:`expected_variance_reduction`),
which carries the strongly non-linear dependence of :math:`f_j` on :math:`p_j` near
:math:`p_j = 1/k`. The joint regression counts what many batches say about the same
model-level parameters once, where summing per-pair gains would count it once per pair.
With ``model="shared_difficulty"`` the draws of :math:`p_{m'j}` and :math:`p_{mj}` share
the problem's difficulty, so attempts by another model at the same problem count through
both summaries; with ``model="beta"`` another model's attempts count through the trend
in size only.

**Allocation.** Greedy in batches of ``step`` attempts: each batch goes to the pair whose
next batch adds most to the explained variance, given the batches chosen before (a further
batch at a pair already chosen is scored by the summaries of all its attempts together).
``sample_models=`` limits the candidates to the models whose attempts can be had. The
same calculation, on fresh
simulations, gives the expected standard deviation and width of the forecast after the
advised attempts and after the budget spread evenly over the chosen model's problems
(:attr:`SamplingAdvice.expected`). On the Pythia x MATH counts these predictions were
within 0.003 of the mean widths measured after refitting with attempts drawn from the
ones Brown et al. made, but for one (0.156 expected, 0.171 measured; ``docs/passk.md``,
"The joint advice").

``benchmarks/passk_backtest.py`` checks the advice on real counts: it draws the advised
attempts from the attempts Brown et al. made but the fit did not see, refits, and compares
the interval with the one after spreading the same budget evenly (``docs/passk.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

#: Largest number of (draw, row) pairs of the simulated outcomes (``max_draws`` is cut
#: to ``MAX_CELLS // rows``, but not below ``MIN_DRAWS``).
MAX_CELLS = 4_000_000
MIN_DRAWS = 1000


@dataclass
class SamplingAdvice:
    """The outcome of :func:`sampling_advice`.

    Attributes
    ----------
    allocation : pandas.DataFrame
        One row per (model, problem) pair that gets attempts: ``model``, ``problem``,
        ``n_samples`` and ``n_correct`` so far, ``extra_attempts`` (advised),
        ``expected_gain`` (the fall of the forecast's variance credited to the pair's
        batches when they were chosen: it depends on what was chosen before).
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


def conditional_mean(p: np.ndarray, f: np.ndarray, e: int, y: np.ndarray) -> np.ndarray:
    r""":math:`\mathbb E[f \mid y]` for each outcome ``y`` of ``e`` attempts at success
    probability ``p``: the mean of the joint draws ``f`` weighted by the binomial
    likelihood :math:`p^y (1 - p)^{e - y}` of the outcome (``p``, ``f``: ``S`` draws;
    ``y``: any shape)."""
    values, inverse = np.unique(y, return_inverse=True)
    log_w = xlogy(values[:, None], p[None, :]) + xlog1py(e - values[:, None], -p[None, :])
    w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
    return ((w @ f) / w.sum(axis=1))[inverse].reshape(np.shape(y))


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
        out[i] = float(np.mean(conditional_mean(p, f, e, binom.ppf(uniform, e, p)) ** 2))
    return out


class _Preposterior:
    """Regression of the forecast's draws on simulated outcomes (module docstring).

    ``p_rows`` (``S x R``) are the joint draws of every row's success probability,
    ``f_terms`` (``S x P``) those of the forecast's terms, ``term_of_row`` the term each
    row's outcome informs directly (-1: none).
    """

    def __init__(
        self,
        p_rows: np.ndarray,
        f_terms: np.ndarray,
        term_of_row: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        self.p_rows, self.f_terms, self.term_of_row, self.rng = p_rows, f_terms, term_of_row, rng
        forecast = f_terms.mean(axis=1)
        self.n = forecast.size
        self.var = float(forecast.var())
        self.centred = forecast - forecast.mean()

    def simulate(self, r: int, e: int) -> np.ndarray:
        """One outcome of ``e`` more attempts at row ``r`` per draw."""
        return self.rng.binomial(e, np.clip(self.p_rows[:, r], 0.0, 1.0))

    def summaries(self, r: int, e: int, y: np.ndarray) -> np.ndarray:
        """``S x 2``, centred: ``y/e`` and ``E[f_j | y]`` (0 where row ``r``'s outcome says
        nothing of a term of its own) for outcomes ``y`` of ``e`` attempts at row ``r``."""
        p = np.clip(self.p_rows[:, r], 0.0, 1.0)
        cols = [y / e, np.zeros(y.size)]
        t = self.term_of_row[r]
        if t >= 0:
            cols[1] = conditional_mean(p, self.f_terms[:, t], e, y)
        x = np.stack(cols, axis=1)
        return x - x.mean(axis=0)

    @staticmethod
    def basis(columns: list[np.ndarray], n: int) -> np.ndarray:
        """Orthonormal basis (over draws) of the summaries in ``columns``."""
        if not columns:
            return np.zeros((n, 0))
        q, r = np.linalg.qr(np.concatenate(columns, axis=1))
        scale = max(float(np.abs(r).max()), 1e-300)
        return q[:, np.abs(np.diag(r)) > 1e-9 * scale]

    def allocate(
        self, budget: int, step: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Greedy batches of ``step`` attempts (module docstring) over the rows where
        ``allowed`` (default: all): the attempts per row and the gain credited to each row.

        A row not chosen yet is scored by what its batch's summaries add to the regression
        on the chosen rows' summaries, less the share ``rank / S`` of the residual variance
        that its regressors would explain by chance; a row already chosen by replacing its
        summaries with those of all its attempts, the further ones simulated on top of
        the outcome it has (common random numbers, so that the small difference is not
        lost in the simulation's noise). Everything is computed from inner products over
        the draws: ``A`` the chosen rows' summaries, ``X`` every row's proposal.
        """
        rows, n = self.p_rows.shape[1], self.n
        extra, credited = np.zeros(rows, dtype=int), np.zeros(rows)
        outcome = np.zeros((rows, n), dtype=int)
        order: list[int] = []  # the chosen rows, in the order of their blocks in A
        spent = 0
        props = np.empty((n, rows, 2))  # every row's proposal: summaries of its next batch
        pending = np.empty((rows, n), dtype=int)
        xtx = np.empty((rows, 2, 2))  # X_r' X_r
        xtf = np.empty((rows, 2))  # X_r' F
        design = np.zeros((n, 0))  # A
        f = self.centred
        fitted = 0.0

        def propose(r: int, size: int) -> None:
            y = outcome[r] + self.simulate(r, size)
            props[:, r] = x = self.summaries(r, int(extra[r]) + size, y)
            pending[r], xtx[r], xtf[r] = y, x.T @ x, x.T @ f

        def solve(gram: np.ndarray, cov: np.ndarray) -> float:
            return float(cov @ np.linalg.pinv(gram, rcond=1e-9, hermitian=True) @ cov) / n

        last = -1
        while spent < budget:
            size = min(step, budget - spent)
            if size != last:  # the first batch, and the last, smaller one
                for r in range(rows):
                    propose(r, size)
                last = size
            gram, cov = design.T @ design, design.T @ f  # A'A, A'F
            inv = np.linalg.pinv(gram, rcond=1e-9, hermitian=True)
            cross = (design.T @ props.reshape(n, 2 * rows)).reshape(-1, rows, 2)  # A'X
            weighted = np.einsum("kl,lri->kri", inv, cross)
            # what X adds beyond A: the Schur complements of X'X and X'F
            x_res = xtx - np.einsum("kri,krj->rij", cross, weighted)
            f_res = xtf - np.einsum("kri,k->ri", weighted, cov)
            residual = (f @ f) / n - fitted
            pinv = np.linalg.pinv(x_res, rcond=1e-9, hermitian=True)
            g = np.einsum("ri,rij,rj->r", f_res, pinv, f_res) / n
            g -= np.linalg.matrix_rank(x_res, rtol=1e-9, hermitian=True) / n * residual
            for b, r in enumerate(order):  # a further batch at a chosen row: swap its block
                swapped, swapped_cov = gram.copy(), cov.copy()
                swapped[:, 2 * b : 2 * b + 2] = cross[:, r]
                swapped[2 * b : 2 * b + 2, :] = cross[:, r].T
                swapped[2 * b : 2 * b + 2, 2 * b : 2 * b + 2] = xtx[r]
                swapped_cov[2 * b : 2 * b + 2] = xtf[r]
                g[r] = solve(swapped, swapped_cov) - fitted
            if allowed is not None:
                g[~allowed] = -np.inf
            best = int(np.argmax(g))
            extra[best] += size
            credited[best] += g[best]
            outcome[best] = pending[best]
            if best in order:
                b = order.index(best)
                design[:, 2 * b : 2 * b + 2] = props[:, best]
            else:
                order.append(best)
                design = np.concatenate([design, props[:, best]], axis=1)
            fitted = solve(design.T @ design, design.T @ f)
            spent += size
            if spent < budget:
                propose(best, min(step, budget - spent))
        return extra, credited

    def explained(self, alloc: Mapping[int, int]) -> float:
        """Expected fall of ``Var(F)`` from ``alloc`` (row: attempts), on fresh simulations,
        less what its regressors explain by chance."""
        columns = [self.summaries(r, e, self.simulate(r, e)) for r, e in alloc.items() if e > 0]
        basis = self.basis(columns, self.n)
        fitted = float(np.sum((basis.T @ self.centred) ** 2)) / self.n
        return max(fitted - basis.shape[1] / self.n * self.var, 0.0)


def sampling_advice(
    fit: PassKFit,
    budget: int,
    *,
    k: float,
    model: str | None = None,
    params: Mapping[str, float] | None = None,
    sample_models: Sequence[str] | None = None,
    step: int | None = None,
    ci_prob: float = 0.9,
    max_draws: int = 4000,
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
    sample_models
        The fitted models (or one model's name) whose further attempts can be had
        (default: every one). The
        advice may spend the budget on another size's attempts at the same problems
        (with the shared difficulty they place the problems for the chosen model too);
        name only the chosen model where its own attempts are all that can be run, or
        where the models' attempts differ much in cost.
    step
        Attempts per greedy batch (default ``budget // 50``, at least 1).
    ci_prob
        Probability of the interval reported in :attr:`SamplingAdvice.target`.
    max_draws, seed
        Posterior draws used (more draws: less of the regression's chance fit; memory
        grows as draws x pairs, so at most ``MAX_CELLS // pairs`` of them are used, and
        at least ``MIN_DRAWS``), and the seed of the simulations.

    Returns
    -------
    SamplingAdvice
        ``allocation`` (every pair that gets attempts, with the fall of the forecast's
        variance credited to its batches when they were chosen), ``expected`` (now,
        advised, even) and the ``target`` forecast.
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
    # memory grows as draws x rows (the proposals of every row): at most about 64 MB
    max_draws = min(int(max_draws), max(MIN_DRAWS, MAX_CELLS // fit.data.sizes[dims.OBS]))
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
        label = str(next(iter(params)))
        target_p = p_by_model[label]
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
    term_of = {int(j): t for t, j in enumerate(target_problems)}
    own = np.array([fit.models[m] == label for m in model_idx])
    # a row's outcome says something of the forecast's term of its problem where the
    # problem's difficulty is shared, or where the row is the chosen model's own
    term_of_row = np.array(
        [
            term_of.get(int(j), -1) if fit.spec.shared or own[r] else -1
            for r, j in enumerate(cells.problem_idx)
        ]
    )
    pre = _Preposterior(p_rows, f_terms, term_of_row, np.random.default_rng(seed + 1))

    # every row of sample_models is a candidate: another model's attempts inform the
    # trend and, with the shared model, the problem's difficulty
    if sample_models is None:
        allowed = np.ones(model_idx.size, dtype=bool)
    else:
        if isinstance(sample_models, str):  # one model's name
            sample_models = [sample_models]
        unknown = sorted(set(map(str, sample_models)) - set(fit.models))
        if unknown or not len(sample_models):
            raise SpecificationError(
                f"sample_models must name fitted models; {unknown or 'none given'} not in "
                f"{fit.models}"
            )
        allowed = np.isin(np.asarray(fit.models)[model_idx], [str(m) for m in sample_models])
    if pre.var > 0:
        extra, credited = pre.allocate(budget, step, allowed)
    else:  # the forecast is certain (every draw the same): nothing to learn
        extra, credited = np.zeros(model_idx.size, dtype=int), np.zeros(model_idx.size)
        first = np.flatnonzero(own & allowed)
        extra[first[0] if first.size else np.flatnonzero(allowed)[0]] = budget
    spent = int(extra.sum())

    var_now = float(coverage.var())
    lo, med, hi = quantiles(coverage, p_ci)
    width_now = float(hi - lo)
    # the even spread: over the chosen model's problems (over every fitted row for a new
    # size, which has none)
    even_rows = np.flatnonzero(own & allowed) if params is None else np.flatnonzero(allowed)
    if even_rows.size == 0:  # the chosen model's attempts cannot be had
        even_rows = np.flatnonzero(allowed)
    per_row = budget // max(even_rows.size, 1)
    advised_gain = pre.explained({int(r): int(e) for r, e in enumerate(extra) if e})
    even_gain = pre.explained(dict.fromkeys(map(int, even_rows), per_row)) if per_row else 0.0

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
            expected_row("advised", spent, advised_gain),
            expected_row("even", per_row * even_rows.size, even_gain),
        ]
    )
    rows_out = [
        {
            "model": fit.models[model_idx[r]],
            "problem": str(data["problem_label"].values[r]),
            "n_samples": int(data["n_samples"].values[r]),
            "n_correct": int(data["n_correct"].values[r]),
            "extra_attempts": int(e),
            "expected_gain": float(credited[r]),
        }
        for r, e in enumerate(extra)
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
