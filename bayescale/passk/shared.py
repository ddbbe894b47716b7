r"""Problem difficulty shared across model sizes: the ``"shared_difficulty"`` pass@k model.

The same problem is hard for every size of a family. Model :math:`m` (with :math:`N_m`
parameters, :math:`x_m = \log N_m - \overline{\log N}`) solves problem :math:`j` with
probability :math:`p_{mj}`, and

.. math::

    p_{mj} \mid d_j &\sim \mathrm{Beta}\bigl(a_m,\; b_m\, e^{d_j}\bigr)
        \quad\text{(a solvable problem)}, \qquad
    p_{mj} = 0 \text{ for every } m \quad\text{with probability } \pi, \\
    c_{mj} \mid p_{mj} &\sim \mathrm{Binomial}(n_{mj}, p_{mj}), \\
    \log a_m &= \mu_a + \beta_a x_m + \tau_a z_{a,m}, \qquad
    \log b_m = \mu_b + \beta_b x_m + \tau_b z_{b,m}, \\
    d_j &= \sigma_d\, h(u_j), \quad u_j \sim \mathcal N(0, 1).

:math:`d_j` is the problem's difficulty, shared by every model of the fit and crossed with
each model's Beta parameters, in the spirit of item response theory: for small
:math:`p`, :math:`\log \mathbb E[p_{mj}] \approx \log(a_m / b_m) - d_j`, an ability minus a
difficulty. Counts of the larger models therefore say which of a small model's
never-solved problems are within reach, and a problem solved 0 times in 100 by one size
is not exchangeable with one that no size solves. :math:`\pi` is the share of problems
that no model of the family can solve at any :math:`k` (zero inflation at the level of
the problem, not of the model). With :math:`\sigma_d = 0` the model is the per-model
Beta-binomial of :mod:`bayescale.passk.model` without its zero inflation.

**What is integrated out.** The per-(model, problem) success probability
:math:`p_{mj}` exactly (the Beta-binomial), and the never-solvable indicator of each
problem exactly (a two-term mixture), so NUTS samples only the model-level parameters
and one standardised difficulty :math:`u_j` per problem that some model solved. The
difficulty of a problem that no model solved is integrated out too (without problem
slopes), by a trapezoid rule over :math:`u` (:data:`UNSOLVED_NODES`),

.. math::

    \log p(c_{\cdot j} = 0 \mid \theta) = \log\Bigl(\pi + (1 - \pi)
    \int \phi(u) \textstyle\prod_m \mathrm{BB}(0 \mid n_{mj}, a_m, b_m e^{\sigma_d h(u)})
    \, du\Bigr),

because such a problem's :math:`u_j` is known only through the tail of the difficulty
distribution, where it and :math:`(\pi, \epsilon, \delta)` explain the same zeros:
sampled, it made the share :math:`\pi` mix slowly against the tail's shape. After
sampling, each draw's :math:`u_j` is drawn from its exact conditional
(:func:`draw_unsolved_difficulties`), so the posterior holds a difficulty for every
problem. For :func:`problem_log_lik` (PSIS-LOO that leaves out a whole problem)
:math:`u_j` is integrated out for every problem, by quadrature.

**The shape of the tail near** :math:`p = 0`. Forecasts far beyond the attempts made
depend on how many problems are very hard, which the counts barely show. Two families
of difficulty distribution (``difficulty=``; :data:`DEFAULT_DIFFICULTY`, ``"skewed"``, by
default), both of the sinh-arcsinh transforms of Jones and Pewsey (2009),

.. math::

    h(u) = \delta \Bigl[\sinh\Bigl(\frac{\operatorname{asinh}(u) + \epsilon}{\delta}\Bigr)
    - \sinh\Bigl(\frac{\epsilon}{\delta}\Bigr)\Bigr],

with skewness :math:`\epsilon` and tail weight :math:`\delta` (:math:`\epsilon = 0,
\delta = 1` is the normal; :math:`h(0) = 0` and :math:`h'(0) = \cosh(\epsilon/\delta)`):

* ``"normal"``: :math:`h(u) = u`.
* ``"skewed"``: :math:`\delta = 1` (``log_tail`` a Deterministic 0) and :math:`\epsilon`
  learnt, :math:`h(u) = u\cosh\epsilon + (\sqrt{1 + u^2} - 1)\sinh\epsilon`, whose tails
  are straight lines of slopes :math:`e^{\epsilon}` (hard side) and :math:`e^{-\epsilon}`:
  more (or fewer) hard problems than the normal puts there. The difficulty is
  :math:`d = \sigma_d h(u) / \cosh\epsilon`, so :math:`\sigma_d` is its slope at the
  median problem, the scale of the bulk (the scale of :math:`h` is kept as ``sigma_h``).
  The posterior spread of :math:`\epsilon` is the uncertainty about the tail's shape, and
  it widens the forecasts at large :math:`k` where the counts cannot tell shapes apart.

``"flexible"``, :math:`\delta` learnt as well (experimental in bayescale 0.2), is
withdrawn (:data:`WITHDRAWN_DIFFICULTIES`): the heavy tails whose weight the counts of few
successes cannot pin left divergences in some of its fits of real counts, and PSIS-LOO
could not tell it from ``"skewed"``. Files saved with it load and forecast as they did
(fits saved before December 2026 had :math:`d = \sigma_d h(u)`, :func:`difficulty_scale_name`).

**Geometry.** A problem's difficulty is sampled centred (as an offset from a rough
estimate from its counts) when the counts pin it, at least
:data:`CENTRED_FROM` correct attempts over all models, and non-centred (:math:`u_j`)
otherwise (:func:`centred_problems`); the model-level deviations are Student-t with their
component along :math:`x` removed (:func:`effect_basis`). The likelihood is evaluated
once per (model, problem) cell with :math:`\log\Gamma(c + a_m) - \log\Gamma(a_m)`
computed once per distinct (model, :math:`c`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from scipy.special import betaln, gammaln

from bayescale.core import dims
from bayescale.core.errors import SpecificationError
from bayescale.passk.shared_priors import SHARED_PRIORS, check_sigma_d_prior, sigma_d_prior

if TYPE_CHECKING:
    import pymc as pm

    from bayescale.passk.model import PassKSpec

__all__ = [
    "CENTRED_FROM",
    "DEFAULT_DIFFICULTY",
    "DIFFICULTIES",
    "MIN_CENTRED",
    "SCALE_OF_H",
    "SHARED_PRIORS",
    "WITHDRAWN_DIFFICULTIES",
    "ProblemCells",
    "UnsolvedPatterns",
    "build_shared_model",
    "centred_problems",
    "check_sigma_d_prior",
    "difficulty_nodes",
    "difficulty_scale_name",
    "difficulty_transform",
    "draw_unsolved_difficulties",
    "never_solvable_weight",
    "new_problem_shift",
    "problem_cells",
    "problem_log_lik",
    "problem_shift",
    "shift_nodes",
    "sigma_d_prior",
    "unsolved_patterns",
]

#: Families of the difficulty distribution of a new fit (``difficulty=``).
DIFFICULTIES = ("normal", "skewed")
#: Families that files saved by an earlier bayescale may hold: they load, forecast and
#: score (PSIS-LOO) as they did, and a new fit refuses them with this reason.
WITHDRAWN_DIFFICULTIES = {
    "flexible": (
        "difficulty='flexible' (skewness and tail weight both learnt; experimental in "
        "bayescale 0.2) was withdrawn: on the real counts of docs/passk.md its fits did "
        "not converge in every case (divergences left after the reruns, slow mixing) where "
        "'skewed' and 'normal' converge in all 54, and PSIS-LOO cannot tell it from "
        "'skewed' (0 +- 0.6 on all 10,000 Pythia attempts). Use difficulty='skewed' (the "
        "default); fits saved with 'flexible' still load and forecast."
    ),
}
#: The default family (since bayescale 0.2; ``"normal"`` before): in the back-test of
#: ``docs/passk.md`` its 90% intervals cover 85.4% to 93.8% in every row from 10 to
#: 1,000 attempts per problem (8 subsamples from 10 attempts, 4 from 300), where the
#: normal's cover 81% from 300 and 67% from 1,000, and all 54 of its fits there converge
#: (0 divergences, R-hat <= 1.01, bulk ESS >= 400).
DEFAULT_DIFFICULTY = "skewed"


#: Gauss-Hermite nodes (probabilists') for expectations over a new problem's difficulty.
_GH_NODES = 48
#: Largest |difficulty| in NumPy forecasts (:func:`difficulty_transform`).
_D_MAX = 60.0
#: Dimension of the model-level effects (the models' space less the trend's).
EFFECT = "model_effect"
#: Dimensions of the problems some model solved, and of those no model solved.
SOLVED = "solved_problem"
UNSOLVED = "unsolved_problem"


def difficulty_logpdf(
    d: Any, mu: Any, sigma: Any, skew: Any = None, log_tail: Any = None, *, lib: Any = np
) -> Any:
    r"""Log-density of a difficulty :math:`D = \mu + \sigma_d h(u)`, :math:`u` standard normal.

    For the sinh-arcsinh :math:`h` (module docstring), with :math:`y = (D - \mu)/(\sigma_d
    \delta) + \sinh(\epsilon/\delta)` and :math:`u = \sinh(\delta \operatorname{asinh}(y)
    - \epsilon)`,

    .. math::

        \log p(D) = \log\phi(u) + \log\cosh(\delta\operatorname{asinh}(y) - \epsilon)
        - \tfrac12 \log(1 + y^2) - \log\sigma_d.
    """
    half_log_2pi = 0.5 * np.log(2.0 * np.pi)
    if skew is None:
        z = (d - mu) / sigma
        return -0.5 * z**2 - half_log_2pi - lib.log(sigma)
    delta = lib.exp(log_tail)
    y = (d - mu) / (sigma * delta) + lib.sinh(skew / delta)
    w = delta * lib.arcsinh(y) - skew
    u = lib.sinh(w)
    log_cosh = lib.abs(w) + lib.log1p(lib.exp(-2.0 * lib.abs(w))) - np.log(2.0)
    return -0.5 * u**2 - half_log_2pi + log_cosh - 0.5 * lib.log1p(y**2) - lib.log(sigma)


def difficulty_guess(cells: ProblemCells) -> np.ndarray:
    r"""A rough difficulty of each problem from its counts, where NUTS starts.

    The mean over models of :math:`\log((1 - \hat p)/\hat p)` with :math:`\hat p = (c +
    1/2)/(n + 1)`: the :math:`\log(b\,e^{d})` of a Beta with :math:`a = 1` and mean
    :math:`\hat p`. Only the starting point and the offset of the sampled variable depend
    on it, not the model.
    """
    p_hat = (cells.c + 0.5) / (cells.n + 1.0)
    value = np.log1p(-p_hat) - np.log(p_hat)
    total = np.bincount(cells.problem_idx, weights=value, minlength=cells.problems.size)
    count = np.bincount(cells.problem_idx, minlength=cells.problems.size)
    return np.asarray(total / np.maximum(count, 1), dtype=float)


_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)

#: Name of the scale of :math:`h` in the posterior of a flexible fit,
#: :math:`\sigma_d / \cosh(\epsilon/\delta)` (:func:`difficulty_scale_name`).
SCALE_OF_H = "sigma_h"

#: A problem's difficulty is sampled centred when all models together answered it
#: correctly at least this often (:func:`centred_problems`).
CENTRED_FROM = 10
#: ... but only when at least this many problems qualify; with fewer, none is centred.
MIN_CENTRED = 3


def centred_problems(cells: ProblemCells, threshold: int = CENTRED_FROM) -> np.ndarray:
    r"""1.0 for the problems whose difficulty NUTS samples centred, else 0.0.

    A problem's counts pin its difficulty when all models together answered it correctly
    :math:`C_j \ge` ``threshold`` times: the log of a rate seen :math:`C_j` times is known
    to about :math:`1/\sqrt{C_j}` (0.3 at 10), well inside the spread :math:`\sigma_d` of
    difficulties, and the centred form has no funnel. With fewer, the counts only bound
    the difficulty and its prior dominates: the non-centred form avoids the funnel
    between :math:`\sigma_d` and the difficulties. When fewer than :data:`MIN_CENTRED`
    problems qualify, none is centred: the other problems then leave :math:`\sigma_d`
    free to approach 0, where a lone centred difficulty makes the funnel itself (a GSM8K
    subsample of 300 attempts with one such problem diverged at :math:`\sigma_d` 0.05 even
    at ``target_accept=0.97``; ``docs/passk.md``). The choice changes the geometry only,
    not the model.
    """
    total = np.bincount(cells.problem_idx, weights=cells.c, minlength=cells.problems.size)
    centred = total >= threshold
    if centred.sum() < MIN_CENTRED:
        centred[:] = False
    return centred.astype(float)


def _difficulty_v_logp(
    value: Any, centred: Any, guess: Any, mu: Any, sigma: Any, *shape: Any
) -> Any:
    """Log-density of the free value of each problem's difficulty (centred where pinned:
    the density of ``D = guess + v``; standard normal where not: ``D = mu + sigma h(v)``)."""
    import pytensor.tensor as pt

    pinned = difficulty_logpdf(guess + value, mu, sigma, *shape, lib=pt)
    return pt.switch(centred > 0.5, pinned, -0.5 * value**2 - _HALF_LOG_2PI)


def _difficulty_v_random(
    centred: np.ndarray,
    guess: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    *shape_and_rng: Any,
    rng: np.random.Generator | None = None,
    size: tuple[int, ...] | None = None,
) -> np.ndarray:
    rng = rng or np.random.default_rng()
    u = rng.standard_normal(size if size is not None else np.shape(guess))
    d = mu + difficulty_transform(u, sigma, *shape_and_rng)
    return np.asarray(np.where(np.asarray(centred) > 0.5, d - guess, u))


def _slope_w_logp(value: Any, centred: Any, sigma_g: Any) -> Any:
    import pytensor.tensor as pt

    pinned = -0.5 * (value / sigma_g) ** 2 - _HALF_LOG_2PI - pt.log(sigma_g)
    return pt.switch(centred > 0.5, pinned, -0.5 * value**2 - _HALF_LOG_2PI)


def _slope_w_random(
    centred: np.ndarray,
    sigma_g: np.ndarray,
    rng: np.random.Generator | None = None,
    size: tuple[int, ...] | None = None,
) -> np.ndarray:
    rng = rng or np.random.default_rng()
    u = rng.standard_normal(size if size is not None else np.shape(centred))
    return np.asarray(np.where(np.asarray(centred) > 0.5, sigma_g * u, u))


def effect_basis(x: np.ndarray, trend: bool) -> np.ndarray:
    r"""Orthonormal basis (``M x (M - r)``) of the model effects the trend cannot absorb.

    The complement of :math:`\operatorname{span}\{1, x\}` (``trend``) or of
    :math:`\operatorname{span}\{1\}`: effects :math:`e = B w` with :math:`w \sim
    \mathcal N(0, \tau^2 I)` have the law of i.i.d. :math:`\mathcal N(0, \tau^2)` effects
    with their component along the trend removed, as :mod:`bayescale.passk.model`'s.
    """
    x = np.asarray(x, dtype=float)
    span = np.stack([np.ones_like(x), x], axis=1) if trend else np.ones((x.size, 1))
    q, _ = np.linalg.qr(span, mode="complete")
    return np.ascontiguousarray(q[:, span.shape[1] :])


@dataclass(frozen=True)
class ProblemCells:
    """The counts as (model, problem) cells, and the problems of the fit.

    Attributes
    ----------
    problems : numpy.ndarray
        Problem labels, in order of first appearance.
    model_idx, problem_idx, n, c : numpy.ndarray
        Per row of the counts (one cell each): model index, problem index, attempts,
        correct attempts.
    all_zero : numpy.ndarray
        Per problem: no model solved it in any attempt.
    """

    problems: np.ndarray
    model_idx: np.ndarray
    problem_idx: np.ndarray
    n: np.ndarray
    c: np.ndarray
    all_zero: np.ndarray


def problem_cells(ds: xr.Dataset) -> ProblemCells:
    """The (model, problem) cells of validated counts ``ds`` and the per-problem index."""
    labels = ds["problem_label"].values.astype(str)
    problems, first = np.unique(labels, return_index=True)
    problems = problems[np.argsort(first)]
    index = {p: i for i, p in enumerate(problems)}
    pidx = np.fromiter((index[p] for p in labels), dtype=np.int64, count=labels.size)
    c = ds["n_correct"].values.astype(np.int64)
    solved = np.zeros(problems.size, dtype=bool)
    np.logical_or.at(solved, pidx, c > 0)
    return ProblemCells(
        problems=problems,
        model_idx=ds["model_idx"].values.astype(np.int64),
        problem_idx=pidx,
        n=ds["n_samples"].values.astype(np.int64),
        c=c,
        all_zero=~solved,
    )


@dataclass(frozen=True)
class UnsolvedPatterns:
    """The problems no model solved, grouped by their attempts per model.

    Problems with the same (model, attempts) cells have the same likelihood given the
    model-level parameters (their difficulty integrated out), so it is computed once per
    pattern (usually one: every model made the same attempts at every problem).

    Attributes
    ----------
    mn : numpy.ndarray
        ``T x 2``: the distinct (model index, attempts) of their cells.
    cell_mn, cell_pattern : numpy.ndarray
        Per cell of a pattern: its row of ``mn`` and its pattern.
    count : numpy.ndarray
        Problems per pattern.
    problem_pattern : numpy.ndarray
        Per problem of the fit: its pattern, -1 for a problem some model solved.
    """

    mn: np.ndarray
    cell_mn: np.ndarray
    cell_pattern: np.ndarray
    count: np.ndarray
    problem_pattern: np.ndarray


def unsolved_patterns(cells: ProblemCells) -> UnsolvedPatterns:
    """Group the problems no model solved by their (model, attempts) cells."""
    rows = np.flatnonzero(cells.all_zero[cells.problem_idx])
    order = rows[np.lexsort((cells.model_idx[rows], cells.problem_idx[rows]))]
    problem = cells.problem_idx[order]
    starts = np.flatnonzero(np.r_[True, problem[1:] != problem[:-1]])
    patterns: dict[tuple[tuple[int, int], ...], int] = {}
    problem_pattern = np.full(cells.problems.size, -1, dtype=np.int64)
    for chunk in np.split(order, starts[1:]) if order.size else []:
        key = tuple(zip(cells.model_idx[chunk].tolist(), cells.n[chunk].tolist(), strict=True))
        problem_pattern[cells.problem_idx[chunk[0]]] = patterns.setdefault(key, len(patterns))
    pairs = sorted({pair for key in patterns for pair in key})
    row = {pair: i for i, pair in enumerate(pairs)}
    cell_mn = [row[pair] for key in patterns for pair in key]
    cell_pattern = [p for key, p in patterns.items() for _ in key]
    return UnsolvedPatterns(
        mn=np.asarray(pairs, dtype=np.int64).reshape(-1, 2),
        cell_mn=np.asarray(cell_mn, dtype=np.int64),
        cell_pattern=np.asarray(cell_pattern, dtype=np.int64),
        count=np.bincount(problem_pattern[problem_pattern >= 0], minlength=len(patterns)),
        problem_pattern=problem_pattern,
    )


def difficulty_transform(
    u: Any, sigma: Any, skew: Any = None, log_tail: Any = None, *, lib: Any = np
) -> Any:
    r"""Difficulty :math:`d = \sigma_d h(u)` of standardised difficulties ``u``.

    ``skew`` and ``log_tail`` (:math:`\epsilon`, :math:`\log\delta`) select the
    sinh-arcsinh family (module docstring); ``None`` is the normal. ``lib`` is
    :mod:`numpy` or :mod:`pytensor.tensor`; arguments broadcast. With NumPy the result is
    clipped to :math:`\pm 60` (a problem :math:`e^{60}` times harder or easier than the
    median one is never or always solved at any practical :math:`k`), which keeps far
    quadrature nodes of heavy-tailed draws finite.
    """
    if skew is None:
        d = sigma * u
    else:
        delta = lib.exp(log_tail)
        d = sigma * delta * (lib.sinh((lib.arcsinh(u) + skew) / delta) - lib.sinh(skew / delta))
    return np.clip(d, -_D_MAX, _D_MAX) if lib is np else d


#: log b e^d in the PyMC model (:func:`build_shared_model`): the identity up to +-200,
#: then bounded smoothly (once differentiable) at +-300.
_LOG_B_LINEAR, _LOG_B_SOFT = 200.0, 100.0

#: Nodes of the trapezoid rule over the standardised difficulty :math:`u` of a problem no
#: model solved (:func:`build_shared_model`, :func:`draw_unsolved_difficulties`), per
#: family of the difficulty distribution: on [-8, 8] (the normal density beyond is below
#: 1e-14), 0.2 apart for the normal, 0.1 apart for the flexible family, whose heavy tails
#: make the integrand steeper, and 0.133 apart for the skewed one (slopes up to
#: :math:`e^{|\epsilon|}/\cosh\epsilon < 2` times the normal's). The integrand is smooth
#: in :math:`u`, so the rule's error falls exponentially with the nodes' density. Against
#: adaptive quadrature, over 300 random draws each (``sigma_d`` in [0.5, 6], 7 models with
#: random ``a`` and ``b``, 10 to 10,000 attempts): normal, error of the log integral at
#: most 1.4e-5 (median 3e-10); flexible (``skew`` ~ N(0, 0.7), ``log_tail`` ~ N(0, 0.6)),
#: median 1e-10, 90th percentile 1e-7, 99th 2e-3, at most 8e-3 (the heaviest tails with
#: the largest ``sigma_d``); skewed (``skew`` ~ N(0, 0.7)), at most 2.2e-6 with 121 nodes
#: (2.3e-4 with 81, 1.5e-8 with 161). The quadrature is most of the extra cost of a
#: gradient: 7 models x 121 nodes against 896 cells of the 7 x 128 Pythia counts.
UNSOLVED_NODES: dict[str, np.ndarray] = {
    "normal": np.linspace(-8.0, 8.0, 81),
    "flexible": np.linspace(-8.0, 8.0, 161),
    "skewed": np.linspace(-8.0, 8.0, 121),
}


def _unsolved_log_weights(nodes: np.ndarray) -> np.ndarray:
    """Log trapezoid weights of ``nodes`` (evenly spaced) against the standard normal."""
    log_phi = -0.5 * nodes**2
    return np.asarray(log_phi - np.logaddexp.reduce(log_phi), dtype=float)


def _soft_log_b(raw: Any, *, lib: Any) -> Any:
    """Bound a log-scale ``b e^d`` smoothly (:data:`_LOG_B_LINEAR`, :data:`_LOG_B_SOFT`)."""
    excess = lib.abs(raw) - _LOG_B_LINEAR
    soft = lib.sign(raw) * (_LOG_B_LINEAR + _LOG_B_SOFT * lib.tanh(excess / _LOG_B_SOFT))
    return lib.where(excess > 0, soft, raw)


#: Above this, :func:`log_rising` uses Stirling's series (exact to double precision).
_STIRLING_FROM = 1e6


def log_rising(x: Any, k: Any, *, lib: Any = np) -> Any:
    r""":math:`\log\Gamma(x + k) - \log\Gamma(x)`, accurate for any :math:`x > 0`.

    The difference of two ``gammaln`` loses every digit once :math:`x` is large (at
    :math:`x = 10^{16}` both terms are near :math:`4 \times 10^{17}`, whose spacing in double
    precision is 64), which a problem's :math:`b e^{d}` reaches in the tails. Above
    :math:`10^6` it is evaluated by Stirling's series without cancellation,

    .. math::

        (x - \tfrac12)\log(1 + k/x) + k \log(x + k) - k + \frac{1}{12(x + k)} -
        \frac{1}{12 x},

    whose next term is below :math:`10^{-20}` there. ``lib`` is :mod:`numpy` (with
    :mod:`scipy.special`) or :mod:`pytensor.tensor`.
    """
    if lib is np:
        x, k = np.asarray(x, dtype=float), np.asarray(k, dtype=float)
        direct = gammaln(np.minimum(x, _STIRLING_FROM) + k) - gammaln(np.minimum(x, _STIRLING_FROM))
        big = np.maximum(x, _STIRLING_FROM)
    else:
        direct = lib.gammaln(lib.minimum(x, _STIRLING_FROM) + k) - lib.gammaln(
            lib.minimum(x, _STIRLING_FROM)
        )
        big = lib.maximum(x, _STIRLING_FROM)
    stirling = (
        (big - 0.5) * lib.log1p(k / big)
        + k * lib.log(big + k)
        - k
        + 1.0 / (12.0 * (big + k))
        - 1.0 / (12.0 * big)
    )
    return lib.where(x > _STIRLING_FROM, stirling, direct)


def build_shared_model(ds: xr.Dataset, spec: PassKSpec) -> pm.Model:
    """Build the PyMC model of this module for validated counts ``ds``."""
    import pymc as pm
    import pytensor.tensor as pt

    if spec.difficulty not in DIFFICULTIES:
        reason = WITHDRAWN_DIFFICULTIES.get(spec.difficulty, f"one of {DIFFICULTIES}")
        raise SpecificationError(f"no model for difficulty={spec.difficulty!r}: {reason}")
    cells = problem_cells(ds)
    n_models = ds.sizes[dims.MODEL]
    n_effects = max(n_models - (2 if spec.trend else 1), 0) if spec.model_effects else 0
    pr = spec.priors
    # the cells of the problems no model solved go to the quadrature over their
    # difficulty (integrate_unsolved); the others are evaluated at the sampled difficulty
    integrate_unsolved = not spec.problem_slopes
    summed = ~cells.all_zero[cells.problem_idx] if integrate_unsolved else np.ones_like(cells.c > 0)
    idx_m, idx_p = cells.model_idx[summed], cells.problem_idx[summed]
    n_s, c_s = cells.n[summed], cells.c[summed]
    mc = np.stack([idx_m, c_s], axis=1)
    mc_unique, mc_index = np.unique(mc, axis=0, return_inverse=True)
    pat = unsolved_patterns(cells)
    coords = {
        dims.MODEL: [str(m) for m in ds[dims.MODEL].values],
        dims.PROBLEM: [str(p) for p in cells.problems],
        EFFECT: np.arange(n_effects),
    }
    log_binom = gammaln(n_s + 1.0) - gammaln(c_s + 1.0) - gammaln(n_s - c_s + 1.0)
    with pm.Model(coords=coords) as model:
        # data without dims: their lengths depend on the counts (which problems were
        # solved), and a compiled model serves new counts of another split
        midx = pm.Data("cell_model_idx", idx_m)
        pidx = pm.Data("cell_problem_idx", idx_p)
        n = pm.Data("cell_n_samples", n_s.astype(float))
        c = pm.Data("cell_n_correct", c_s.astype(float))
        lbin = pm.Data("cell_log_binom", log_binom)
        mc_model = pm.Data("mc_model_idx", mc_unique[:, 0])
        mc_c = pm.Data("mc_n_correct", mc_unique[:, 1].astype(float))
        mc_idx = pm.Data("cell_mc_idx", mc_index.ravel())
        mn_model = pm.Data("unsolved_mn_model_idx", pat.mn[:, 0])
        mn_n = pm.Data("unsolved_mn_n_samples", pat.mn[:, 1].astype(float))
        pc_mn = pm.Data("unsolved_pattern_cell_mn_idx", pat.cell_mn)
        pc_pattern = pm.Data("unsolved_pattern_cell_idx", pat.cell_pattern)
        pattern_count = pm.Data("unsolved_pattern_count", pat.count.astype(float))
        x_val = (
            np.log(ds["params"].values.astype(float)) - spec.log_params_center
            if spec.trend
            else np.zeros(n_models)
        )
        x = pm.Data("log_params_centered", x_val, dims=dims.MODEL)

        if n_effects:
            basis = pm.Data(
                "effect_basis", effect_basis(x_val, spec.trend), dims=(dims.MODEL, EFFECT)
            )

        def linear(name: str, intercept: bool = True, effects: bool = True) -> Any:
            out = 0.0 * x
            if intercept:
                out = out + pm.Normal(f"mu_{name}", *pr[f"mu_{name}"])
            if spec.trend:
                out = out + pm.Normal(f"slope_{name}", *pr[f"slope_{name}"]) * x
            if effects and spec.model_effects and n_effects:
                # centred, with their scale integrated out (a multivariate Student-t):
                # every model's a and b are pinned by its many problems, and both the
                # centred and the non-centred form with a sampled scale made a funnel
                # standardised (unit scale), so that NUTS's random start (+-1 on every
                # coordinate) stays in the bulk of the prior
                nu, scale = pr[f"effects_{name}"]
                w = pm.MvStudentT(
                    f"e_{name}", nu=nu, mu=np.zeros(n_effects), scale=np.eye(n_effects), dims=EFFECT
                )
                out = out + scale * pt.dot(basis, w)
            return out

        log_a = pm.Deterministic("log_a", linear("a"), dims=dims.MODEL)
        a = pm.Deterministic("a", pt.exp(log_a), dims=dims.MODEL)
        # mu_b is the location of the difficulties D_j (centred parameterisation); the
        # models' b is reported at the median difficulty, d_j = D_j - mu_b
        rel_b = linear("b", intercept=False)
        mu_b = pm.Normal("mu_b", *pr["mu_b"])
        log_b = pm.Deterministic("log_b", mu_b + rel_b, dims=dims.MODEL)
        pm.Deterministic("b", pt.exp(log_b), dims=dims.MODEL)
        sigma = sigma_d_prior(*pr["sigma_d"])
        shape: tuple[Any, ...] = ()
        if spec.difficulty == "skewed":
            skew = pm.Normal("skew", *pr["skew"])
            # delta = 1: the tails' weight stays the normal's, only their balance moves
            log_tail = pm.Deterministic("log_tail", pt.zeros_like(skew))
            shape = (skew, log_tail)
            # sigma_d is the slope of d at the median problem, h's own slope there being
            # cosh(skew / delta): sampled as the scale of h, it traded off against the
            # skewness (44 divergences on a Pythia subsample, 1 this way)
            sigma = pm.Deterministic(SCALE_OF_H, sigma / pt.cosh(shape[0] / pt.exp(shape[1])))
        # One free value per problem, parameterised by what the counts say: centred
        # (offset from a rough estimate from the counts) for a problem whose counts pin
        # its difficulty (at least CENTRED_FROM correct attempts over all models);
        # non-centred (standardised) for one they only bound. Centring every problem
        # solved at all made a funnel in sigma_d where few attempts succeed (GSM8K and
        # MATH checkpoints at 10 to 100 attempts: up to 150 divergences, R-hat 1.09).
        # The split is data (pm.Data), so the compiled model serves any counts of the
        # same shape.
        solved = pm.Data("problem_solved", (~cells.all_zero).astype(float), dims=dims.PROBLEM)
        centred = pm.Data("problem_centred", centred_problems(cells), dims=dims.PROBLEM)
        guess = pm.Data("difficulty_guess", difficulty_guess(cells), dims=dims.PROBLEM)
        v = pm.CustomDist(
            "v",
            centred,
            guess,
            mu_b,
            sigma,
            *shape,
            logp=_difficulty_v_logp,
            random=_difficulty_v_random,
            dims=dims.PROBLEM,
            initval=np.zeros(cells.problems.size),
        )
        big_d = pt.switch(
            centred > 0.5, guess + v, mu_b + difficulty_transform(v, sigma, *shape, lib=pt)
        )
        pm.Deterministic("d", big_d - mu_b, dims=dims.PROBLEM)
        shift = big_d[pidx]
        if spec.problem_slopes:
            # a problem's own change of difficulty with model size (some problems are
            # solved only by the largest models, some by every size alike)
            sigma_g = pm.HalfNormal("sigma_g", pr["sigma_g"][0])
            w = pm.CustomDist(
                "w",
                centred,
                sigma_g,
                logp=_slope_w_logp,
                random=_slope_w_random,
                dims=dims.PROBLEM,
                initval=np.zeros(cells.problems.size),
            )
            g = pm.Deterministic("g", pt.switch(centred > 0.5, w, sigma_g * w), dims=dims.PROBLEM)
            shift = shift - g[pidx] * x[midx]

        # log BB(c | n, a, b e^d) per cell; log Gamma(c + a) - log Gamma(a) once per
        # distinct (model, c)
        a_mc = a[mc_model]
        g_ca = pt.gammaln(mc_c + a_mc) - pt.gammaln(a_mc)
        a_cell = a[midx]
        # log b is the identity up to +-200 and bounded smoothly at +-300 beyond: a
        # heavy-tailed difficulty can send it past exp's range while NUTS explores
        b_cell = pt.exp(_soft_log_b(rel_b[midx] + shift, lib=pt))
        ll = (
            lbin
            + g_ca[mc_idx]
            + log_rising(b_cell, n - c, lib=pt)
            - log_rising(a_cell + b_cell, n, lib=pt)
        )
        per_problem = pt.inc_subtensor(pt.zeros(len(cells.problems))[pidx], ll)
        unsolved = pt.zeros(0)
        if integrate_unsolved:
            # log BB(0 | n, a_m, b_m e^{d(u_q)}) at every node u_q, once per distinct
            # (model, attempts); summed per pattern of cells (the unsolved problems with
            # the same attempts per model); trapezoid rule over u
            u_q = UNSOLVED_NODES[spec.difficulty]
            d_q = difficulty_transform(pt.constant(u_q), sigma, *shape, lib=pt)
            a_mn = a[mn_model][:, None]
            b_mn = pt.exp(_soft_log_b(log_b[mn_model][:, None] + d_q[None, :], lib=pt))
            n_mn = mn_n[:, None]
            log_fail = log_rising(b_mn, n_mn, lib=pt) - log_rising(a_mn + b_mn, n_mn, lib=pt)
            nodes = pt.zeros((pattern_count.shape[0], u_q.size))
            nodes = pt.inc_subtensor(nodes[pc_pattern], log_fail[pc_mn])
            unsolved = pt.logsumexp(nodes + _unsolved_log_weights(u_q)[None, :], axis=1)
        if spec.zero_inflation:
            # a share pi of problems that no model of the family can solve, at any k (a
            # wrong answer key, a question beyond the family): counts all zero
            logit_pi = pm.Normal("mu_pi", *pr["mu_pi"])
            pm.Deterministic("pi", pt.sigmoid(logit_pi))
            log_pi, log_1m = -pt.softplus(-logit_pi), -pt.softplus(logit_pi)
            per_problem = pt.switch(
                solved > 0.5, log_1m + per_problem, pt.logaddexp(log_pi, log_1m + per_problem)
            )
            unsolved = pt.logaddexp(log_pi, log_1m + unsolved)
        if integrate_unsolved:  # the unsolved problems' entries of per_problem are unused
            total = pt.switch(solved > 0.5, per_problem, 0.0).sum()
            total = total + (pattern_count * unsolved).sum()
        else:
            total = per_problem.sum()
        pm.Potential("log_lik_problems", total)
    return model


def draw_unsolved_difficulties(
    posterior: xr.Dataset, ds: xr.Dataset, spec: PassKSpec, rng: np.random.Generator
) -> xr.Dataset:
    r"""The posterior with each unsolved problem's difficulty drawn from its conditional.

    :func:`build_shared_model` integrates out the standardised difficulty :math:`u_j` of
    a problem that no model solved (module docstring), so NUTS's values of it are draws
    of its prior. Given each posterior draw :math:`\theta`, its conditional is

    .. math::

        p(u_j \mid \theta, c_{\cdot j} = 0) \propto \phi(u_j) \Bigl(\pi + (1 - \pi)
            \textstyle\prod_m \mathrm{BB}(0 \mid n_{mj}, a_m, b_m e^{\sigma_d h(u_j)})\Bigr)

    (without zero inflation :math:`\pi = 0`): one draw per (posterior draw, problem),
    by inverting its distribution function on the nodes :data:`UNSOLVED_NODES` (the density
    linear between nodes). Problems with the same attempts per model share the density.
    ``v`` and ``d`` of those problems are replaced; nothing else changes. With problem
    slopes (whose model samples every difficulty) the posterior is returned as it is.
    """
    cells = problem_cells(ds)
    if spec.problem_slopes or not cells.all_zero.any():
        return posterior
    stacked = posterior.stack(sample=("chain", "draw"))

    def flat(name: str) -> np.ndarray | None:
        if name not in stacked:
            return None
        return np.asarray(stacked[name].transpose("sample", ...).values, dtype=float)

    log_a, log_b, sigma = flat("log_a"), flat("log_b"), flat(difficulty_scale_name(posterior))
    skew, tail, logit_pi = flat("skew"), flat("log_tail"), flat("mu_pi")
    assert log_a is not None and log_b is not None and sigma is not None
    n_draws = sigma.size
    shape = () if skew is None or tail is None else (skew[:, None], tail[:, None])
    u_q = UNSOLVED_NODES[spec.difficulty]
    d_q = difficulty_transform(u_q[None, :], sigma[:, None], *shape)  # S x G
    unsolved = np.flatnonzero(cells.all_zero)
    pat = unsolved_patterns(cells)  # one density per pattern of (model, attempts)
    step = u_q[1] - u_q[0]
    u_new = np.empty((n_draws, unsolved.size))
    offset = np.arange(n_draws)[:, None]
    for p in range(pat.count.size):
        members = np.flatnonzero(pat.problem_pattern[unsolved] == p)
        log_fail = np.zeros_like(d_q)
        for m, n_mj in pat.mn[pat.cell_mn[pat.cell_pattern == p]]:
            a = np.exp(log_a[:, m])[:, None]
            b = np.exp(_soft_log_b(log_b[:, m][:, None] + d_q, lib=np))
            log_fail += log_rising(b, n_mj) - log_rising(a + b, n_mj)
        log_dens = -0.5 * u_q[None, :] ** 2 + log_fail
        if logit_pi is not None:
            lp = logit_pi[:, None]
            log_dens = -0.5 * u_q[None, :] ** 2 + np.logaddexp(
                -np.logaddexp(0.0, -lp), -np.logaddexp(0.0, lp) + log_fail
            )
        dens = np.exp(log_dens - log_dens.max(axis=1, keepdims=True))
        mass = 0.5 * (dens[:, 1:] + dens[:, :-1])
        cdf = np.concatenate([np.zeros((n_draws, 1)), np.cumsum(mass, axis=1)], axis=1)
        cdf /= cdf[:, -1:]
        target = rng.uniform(size=(n_draws, len(members)))
        # one sorted search over all draws: draw s's cdf shifted by s
        pos = np.searchsorted((cdf + offset).ravel(), (target + offset).ravel(), side="right")
        i = np.clip(pos.reshape(target.shape) - 1 - offset * cdf.shape[1], 0, cdf.shape[1] - 2)
        lo = np.take_along_axis(cdf, i, axis=1)
        hi = np.take_along_axis(cdf, i + 1, axis=1)
        frac = np.clip((target - lo) / np.maximum(hi - lo, 1e-300), 0.0, 1.0)
        u_new[:, members] = u_q[i] + frac * step
    d_new = difficulty_transform(u_new, sigma[:, None], *shape)
    out = posterior.copy()
    for name, values in (("v", u_new), ("d", d_new)):
        da = stacked[name].transpose("sample", dims.PROBLEM).copy()
        da.values[:, unsolved] = values
        out[name] = da.unstack("sample").transpose("chain", "draw", dims.PROBLEM)
    return out


def difficulty_scale_name(posterior: xr.Dataset) -> str:
    """The posterior's scale of :math:`h`: :data:`SCALE_OF_H` in flexible fits, where
    ``sigma_d`` is the slope at the median; ``sigma_d`` in normal fits and in flexible fits
    saved before December 2026 (which therefore forecast as they did)."""
    return SCALE_OF_H if SCALE_OF_H in posterior else "sigma_d"


def shared_sampled_names(spec: PassKSpec) -> list[str]:
    """Free parameters of the shared-difficulty model (for convergence checks)."""
    names = ["mu_a", "mu_b", "sigma_d", "v"]
    if spec.problem_slopes:
        names += ["sigma_g", "w"]
    if spec.trend:
        names += ["slope_a", "slope_b"]
    if spec.model_effects:
        names += ["e_a", "e_b"]
    if spec.zero_inflation:
        names += ["mu_pi"]
    if spec.difficulty in ("flexible", "skewed"):
        # a flexible fit (files of bayescale 0.2) sampled log_tail too
        names += ["skew"] + (["log_tail"] if spec.difficulty == "flexible" else [])
    return names


def difficulty_nodes(
    sigma: np.ndarray,
    skew: np.ndarray | None = None,
    log_tail: np.ndarray | None = None,
    n_nodes: int = _GH_NODES,
    *,
    slope_sd: np.ndarray | None = None,
    x: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Quadrature over a new problem's log-scale shift of :math:`b`: nodes per draw, weights.

    The shift is :math:`d - \gamma x` for a model at centred log size :math:`x`, with
    :math:`d = \sigma_d h(u)` and, with problem slopes, :math:`\gamma \sim \mathcal N(0,
    \sigma_\gamma^2)`. Gauss-Hermite nodes :math:`u_q` (probabilists', weights summing to
    1) are mapped by :func:`difficulty_transform`, so :math:`\mathbb E[g(d)] \approx
    \sum_q w_q\, g(d_q)`; a normal :math:`d` and a slope add up to one normal, and a
    sinh-arcsinh :math:`d` and a slope take a product rule (``n_nodes x 12`` nodes).

    Returns
    -------
    (nodes, weights)
        ``nodes`` of shape ``S x Q`` (``S`` draws), ``weights`` of shape ``Q``.
    """
    u, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / w.sum()
    s = np.asarray(sigma, dtype=float)[:, None]
    g = None if slope_sd is None or x == 0.0 else np.asarray(slope_sd, dtype=float)[:, None]
    if skew is None:
        scale = s if g is None else np.sqrt(s**2 + (g * x) ** 2)
        return difficulty_transform(u[None, :], scale), w
    e = np.asarray(skew, dtype=float)[:, None]
    t = np.asarray(log_tail, dtype=float)[:, None]
    d = difficulty_transform(u[None, :], s, e, t)
    if g is None:
        return d, w
    v, wv = np.polynomial.hermite_e.hermegauss(12)
    wv = wv / wv.sum()
    nodes = d[:, :, None] - (g * x)[:, :, None] * v[None, None, :]
    return nodes.reshape(d.shape[0], -1), np.outer(w, wv).ravel()


Draws = Mapping[str, "np.ndarray | None"]


def problem_shift(diff: Draws, problem: np.ndarray, x: np.ndarray | float) -> np.ndarray:
    """``S x R`` log-scale shift of ``b`` for problems ``problem`` at centred log sizes
    ``x``: the difficulty :math:`d_j`, less the problem's slope times ``x``.

    ``diff`` holds flattened posterior draws: ``d`` and ``g`` (``S x P``, ``g`` ``None``
    without problem slopes), ``sigma``, ``skew``, ``log_tail``, ``sigma_g`` (``S``).
    """
    d, g = diff["d"], diff["g"]
    assert d is not None
    out = d[:, problem]
    if g is not None:
        out = out - g[:, problem] * np.asarray(x)
    return np.asarray(out)


def new_problem_shift(
    diff: Draws, shape: tuple[int, int], x: float, rng: np.random.Generator
) -> np.ndarray:
    """Log-scale shifts of ``b`` for ``shape = (S, P)`` new problems at centred log size
    ``x``: a difficulty from each draw's distribution, less a slope times ``x``."""
    sigma, skew, tail = diff["sigma"], diff["skew"], diff["log_tail"]
    assert sigma is not None
    u = rng.standard_normal(shape)
    if skew is None or tail is None:
        out = np.asarray(difficulty_transform(u, sigma[:, None]))
    else:
        out = np.asarray(difficulty_transform(u, sigma[:, None], skew[:, None], tail[:, None]))
    slope_sd = diff["sigma_g"]
    if slope_sd is not None:
        out = out - slope_sd[:, None] * rng.standard_normal(shape) * x
    return out


def shift_nodes(diff: Draws, x: float) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes (``S x Q``) and weights over a new problem's log-scale shift of
    ``b`` at centred log size ``x`` (:func:`difficulty_nodes` of each draw)."""
    sigma = diff["sigma"]
    assert sigma is not None
    return difficulty_nodes(sigma, diff["skew"], diff["log_tail"], slope_sd=diff["sigma_g"], x=x)


def never_solvable_weight(
    log_fail: np.ndarray, logit_pi: np.ndarray, all_zero: np.ndarray
) -> np.ndarray:
    r"""Posterior probability that a problem is never solvable, given its difficulty.

    .. math::

        w_j = \frac{\pi\, [C_j = 0]}{\pi + (1 - \pi) \prod_m \mathrm{BB}(0 \mid n_{mj}, a_m,
        b_m e^{d_j})},

    with ``log_fail`` :math:`= \sum_m \log \mathrm{BB}(0 \mid \cdot)` (``S x P``),
    ``logit_pi`` (``S``) and ``all_zero`` (``P``): no model solved the problem.
    """
    lp = np.asarray(logit_pi, dtype=float)[:, None]
    log_pi = -np.logaddexp(0.0, -lp)
    log_1m = -np.logaddexp(0.0, lp)
    w = np.exp(log_pi - np.logaddexp(log_pi, log_1m + log_fail))
    return np.where(np.asarray(all_zero)[None, :], w, 0.0)


def cell_log_lik(
    n: np.ndarray, c: np.ndarray, a: np.ndarray, b: np.ndarray, log_binom: bool = True
) -> np.ndarray:
    r""":math:`\log \mathrm{BB}(c \mid n, a, b)` (broadcasting NumPy arrays)."""
    out = betaln(c + a, n - c + b) - betaln(a, b)
    if log_binom:
        out = out + gammaln(n + 1.0) - gammaln(c + 1.0) - gammaln(n - c + 1.0)
    return np.asarray(out)


def problem_log_lik(
    cells: ProblemCells,
    log_a: np.ndarray,
    log_b: np.ndarray,
    logit_pi: np.ndarray | None,
    sigma: np.ndarray,
    skew: np.ndarray | None,
    log_tail: np.ndarray | None,
    d_draws: np.ndarray,
    *,
    x: np.ndarray | None = None,
    sigma_g: np.ndarray | None = None,
    g_draws: np.ndarray | None = None,
    n_nodes: int = 41,
    width: float = 6.0,
) -> np.ndarray:
    r"""Log-likelihood of each problem's counts with its difficulty integrated out.

    .. math::

        \log p(c_{\cdot j} \mid \theta) = \log\Bigl(\pi [C_j = 0] + (1 - \pi) \iint
        g(d)\, \phi_{\sigma_\gamma}(\gamma) \textstyle\prod_m \mathrm{BB}(c_{mj} \mid
        n_{mj}, a_m, b_m e^{d - \gamma x_m}) \, dd\, d\gamma\Bigr),

    per posterior draw :math:`\theta`, with :math:`g` the difficulty distribution
    (:func:`difficulty_logpdf`) and, with problem slopes, :math:`\gamma` the problem's
    slope in size: the pointwise log-likelihood of PSIS-LOO that leaves out one problem
    (all its models). Adaptive quadrature (the integrand is concentrated near the
    problem's posterior): without slopes a trapezoid rule on ``n_nodes`` points spanning
    ``width`` posterior standard deviations of :math:`d_j` either side of its posterior
    mean; with slopes a 15 x 9 Gauss-Hermite product rule centred on the posterior means
    of :math:`(d_j, \gamma_j)` with 1.5 times their posterior standard deviations.

    Parameters
    ----------
    cells
        :func:`problem_cells` of the counts.
    log_a, log_b
        ``S x M`` draws (``b`` at the median difficulty).
    logit_pi
        ``S`` draws, or ``None`` without zero inflation.
    sigma, skew, log_tail
        ``S`` draws of the difficulty distribution (``skew`` ``None``: normal).
    d_draws
        ``S x P`` posterior draws of the difficulties :math:`d_j` (they place the nodes).
    x, sigma_g, g_draws
        With problem slopes: the models' centred log sizes (``M``), ``S`` draws of the
        slopes' scale and ``S x P`` draws of the slopes.

    Returns
    -------
    numpy.ndarray
        ``S x P``.
    """
    a = np.exp(log_a)
    sk = None if skew is None else skew[:, None]
    lt = None if log_tail is None else log_tail[:, None]
    slopes = g_draws is not None and sigma_g is not None and x is not None
    if g_draws is not None and slopes:
        t_d, w_d = np.polynomial.hermite_e.hermegauss(15)
        t_g, w_g = np.polynomial.hermite_e.hermegauss(9)
        td, tg = (v.ravel() for v in np.meshgrid(t_d, t_g, indexing="ij"))
        # hermegauss integrates against exp(-t^2/2): a Lebesgue integral of f is
        # sum w f(t) exp(t^2/2)
        log_node = np.log(np.outer(w_d, w_g).ravel()) + 0.5 * (td**2 + tg**2)
        centre_g, spread_g = g_draws.mean(axis=0), 1.5 * np.maximum(g_draws.std(axis=0), 0.02)
        centre, spread = d_draws.mean(axis=0), 1.5 * np.maximum(d_draws.std(axis=0), 0.02)
    else:
        grid = np.linspace(-width, width, n_nodes)
        step = grid[1] - grid[0]
        centre, spread = d_draws.mean(axis=0), np.maximum(d_draws.std(axis=0), 0.02)
    out = np.empty((log_a.shape[0], cells.problems.size))
    for j in range(cells.problems.size):
        rows = cells.problem_idx == j
        m, n, c = cells.model_idx[rows], cells.n[rows], cells.c[rows]
        if slopes:
            assert x is not None and sigma_g is not None
            d = centre[j] + spread[j] * td
            g = centre_g[j] + spread_g[j] * tg
            log_w = (
                difficulty_logpdf(d[None, :], 0.0, sigma[:, None], sk, lt)
                - 0.5 * (g[None, :] / sigma_g[:, None]) ** 2
                - _HALF_LOG_2PI
                - np.log(sigma_g[:, None])
                + log_node[None, :]
                + np.log(spread[j] * spread_g[j])
            )
            shift = d[None, :] - np.outer(x[m], g)  # R x Q
        else:
            d = centre[j] + spread[j] * grid  # Q
            log_w = difficulty_logpdf(d[None, :], 0.0, sigma[:, None], sk, lt) + np.log(
                spread[j] * step
            )  # S x Q
            shift = np.broadcast_to(d[None, :], (m.size, d.size))
        b = np.exp(log_b[:, m][:, :, None] + shift[None, :, :])  # S x R x Q
        ll = cell_log_lik(n[None, :, None], c[None, :, None], a[:, m][:, :, None], b).sum(axis=1)
        lse = np.logaddexp.reduce(ll + log_w, axis=1)
        if logit_pi is not None:
            lse = lse - np.logaddexp(0.0, logit_pi)
            if cells.all_zero[j]:
                lse = np.logaddexp(-np.logaddexp(0.0, -logit_pi), lse)
        out[:, j] = lse
    return out
