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
and one standardised difficulty :math:`u_j` per problem. For :func:`problem_log_lik`
(PSIS-LOO that leaves out a whole problem) :math:`u_j` is integrated out too, by
quadrature.

**The shape of the tail near** :math:`p = 0`. Forecasts far beyond the attempts made
depend on how many problems are very hard, which the counts barely show. Two families
of difficulty distribution (``difficulty=``):

* ``"normal"``: :math:`h(u) = u`.
* ``"flexible"``: the sinh-arcsinh transform of Jones and Pewsey (2009),

  .. math::

      h(u) = \delta \Bigl[\sinh\Bigl(\frac{\operatorname{asinh}(u) + \epsilon}{\delta}\Bigr)
      - \sinh\Bigl(\frac{\epsilon}{\delta}\Bigr)\Bigr],

  with skewness :math:`\epsilon` and tail weight :math:`\delta` (heavier tails than the
  normal for :math:`\delta < 1`, lighter for :math:`\delta > 1`; :math:`\epsilon = 0,
  \delta = 1` is the normal). :math:`h(0) = 0` and :math:`h'(0) = \cosh(\epsilon/\delta)`,
  so :math:`\sigma_d` stays the scale of the bulk and :math:`(\epsilon, \delta)` the
  shape of the tails. Their posterior spread is the uncertainty about the tail's shape,
  and it widens the forecasts at large :math:`k` where the counts cannot tell shapes
  apart.

**Geometry.** :math:`u_j` is non-centred; the model-level deviations :math:`z` are a
``ZeroSumNormal`` with their component along :math:`x` removed, as in the per-model
model. The likelihood is evaluated once per (model, problem) cell with
:math:`\log\Gamma(c + a_m) - \log\Gamma(a_m)` computed once per distinct (model,
:math:`c`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from scipy.special import betaln, gammaln

from bayescale.core import dims

if TYPE_CHECKING:
    import pymc as pm

    from bayescale.passk.model import PassKSpec

__all__ = [
    "DIFFICULTIES",
    "SHARED_PRIORS",
    "ProblemCells",
    "build_shared_model",
    "difficulty_nodes",
    "difficulty_transform",
    "never_solvable_weight",
    "problem_cells",
    "problem_log_lik",
]

#: Families of the difficulty distribution (``difficulty=``).
DIFFICULTIES = ("normal", "flexible")

#: Default priors of the shared-difficulty model: (mean, sd) of Normals, or the scale of
#: a HalfNormal for ``tau_*`` and ``sigma_d``. ``a`` and ``b`` on the log scale (``b`` of
#: a problem of median difficulty), ``pi`` (the share of problems no model solves) on the
#: logit scale, slopes per e-fold of N; ``skew`` is :math:`\epsilon` and ``log_tail`` is
#: :math:`\log\delta` of the ``"flexible"`` difficulty distribution.
SHARED_PRIORS: dict[str, tuple[float, float]] = {
    "mu_a": (float(np.log(0.5)), 1.0),
    "mu_b": (float(np.log(100.0)), 2.5),
    "mu_pi": (-2.0, 1.5),
    "slope_a": (0.0, 0.5),
    "slope_b": (0.0, 0.5),
    "tau_a": (0.3, 0.0),
    "tau_b": (0.3, 0.0),
    "sigma_d": (2.0, 0.0),
    "skew": (0.0, 0.5),
    "log_tail": (0.0, 0.5),
}

#: Gauss-Hermite nodes (probabilists') for expectations over a new problem's difficulty.
_GH_NODES = 48
#: Largest |difficulty| in NumPy forecasts (:func:`difficulty_transform`).
_D_MAX = 60.0
#: Dimension of the model-level effects (the models' space less the trend's).
EFFECT = "model_effect"


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


def build_shared_model(ds: xr.Dataset, spec: PassKSpec) -> pm.Model:
    """Build the PyMC model of this module for validated counts ``ds``."""
    import pymc as pm
    import pytensor.tensor as pt

    cells = problem_cells(ds)
    n_models = ds.sizes[dims.MODEL]
    pr = spec.priors
    mc = np.stack([cells.model_idx, cells.c], axis=1)
    mc_unique, mc_index = np.unique(mc, axis=0, return_inverse=True)
    coords = {
        dims.MODEL: [str(m) for m in ds[dims.MODEL].values],
        dims.PROBLEM: [str(p) for p in cells.problems],
        dims.OBS: ds[dims.OBS].values,
        EFFECT: np.arange(max(n_models - (2 if spec.trend else 1), 0)),
    }
    log_binom = gammaln(cells.n + 1.0) - gammaln(cells.c + 1.0) - gammaln(cells.n - cells.c + 1.0)
    with pm.Model(coords=coords) as model:
        midx = pm.Data("cell_model_idx", cells.model_idx, dims=dims.OBS)
        pidx = pm.Data("cell_problem_idx", cells.problem_idx, dims=dims.OBS)
        n = pm.Data("cell_n_samples", cells.n.astype(float), dims=dims.OBS)
        c = pm.Data("cell_n_correct", cells.c.astype(float), dims=dims.OBS)
        lbin = pm.Data("cell_log_binom", log_binom, dims=dims.OBS)
        mc_model = pm.Data("mc_model_idx", mc_unique[:, 0])
        mc_c = pm.Data("mc_n_correct", mc_unique[:, 1].astype(float))
        mc_idx = pm.Data("cell_mc_idx", mc_index.ravel(), dims=dims.OBS)
        all_zero = pm.Data("problem_all_zero", cells.all_zero.astype(float), dims=dims.PROBLEM)
        x_val = (
            np.log(ds["params"].values.astype(float)) - spec.log_params_center
            if spec.trend
            else np.zeros(n_models)
        )
        x = pm.Data("log_params_centered", x_val, dims=dims.MODEL)

        if spec.model_effects:
            basis = pm.Data(
                "effect_basis", effect_basis(x_val, spec.trend), dims=(dims.MODEL, EFFECT)
            )

        def linear(name: str) -> Any:
            out = pm.Normal(f"mu_{name}", *pr[f"mu_{name}"]) + 0.0 * x
            if spec.trend:
                out = out + pm.Normal(f"slope_{name}", *pr[f"slope_{name}"]) * x
            if spec.model_effects:
                # centred: every model's a and b are pinned by its many problems, so the
                # non-centred form would put tau and the effects in a funnel
                tau = pm.HalfNormal(f"tau_{name}", pr[f"tau_{name}"][0])
                w = pm.Normal(f"e_{name}", 0.0, tau, dims=EFFECT)
                out = out + pt.dot(basis, w)
            return out

        log_a = pm.Deterministic("log_a", linear("a"), dims=dims.MODEL)
        log_b = pm.Deterministic("log_b", linear("b"), dims=dims.MODEL)
        a = pm.Deterministic("a", pt.exp(log_a), dims=dims.MODEL)
        pm.Deterministic("b", pt.exp(log_b), dims=dims.MODEL)
        sigma = pm.HalfNormal("sigma_d", pr["sigma_d"][0])
        u = pm.Normal("u", 0.0, 1.0, dims=dims.PROBLEM)
        if spec.difficulty == "flexible":
            skew = pm.Normal("skew", *pr["skew"])
            log_tail = pm.Normal("log_tail", *pr["log_tail"])
            d = difficulty_transform(u, sigma, skew, log_tail, lib=pt)
        else:
            d = difficulty_transform(u, sigma, lib=pt)
        d = pm.Deterministic("d", d, dims=dims.PROBLEM)

        # log BB(c | n, a, b e^d) per cell; log Gamma(c + a) - log Gamma(a) once per
        # distinct (model, c)
        a_mc = a[mc_model]
        g_ca = pt.gammaln(mc_c + a_mc) - pt.gammaln(a_mc)
        a_cell = a[midx]
        b_cell = pt.exp(log_b[midx] + d[pidx])
        ll = (
            lbin
            + g_ca[mc_idx]
            + pt.gammaln(n - c + b_cell)
            - pt.gammaln(b_cell)
            - pt.gammaln(n + a_cell + b_cell)
            + pt.gammaln(a_cell + b_cell)
        )
        per_problem = pt.inc_subtensor(pt.zeros(len(cells.problems))[pidx], ll)
        if spec.zero_inflation:
            logit_pi = pm.Normal("mu_pi", *pr["mu_pi"])
            pm.Deterministic("pi", pt.sigmoid(logit_pi))
            log_pi = -pt.softplus(-logit_pi)
            log_1m = -pt.softplus(logit_pi)
            per_problem = pt.switch(
                all_zero > 0.5, pt.logaddexp(log_pi, log_1m + per_problem), log_1m + per_problem
            )
        pm.Potential("log_lik_problems", per_problem.sum())
    return model


def shared_sampled_names(spec: PassKSpec) -> list[str]:
    """Free parameters of the shared-difficulty model (for convergence checks)."""
    names = ["mu_a", "mu_b", "sigma_d", "u"]
    if spec.trend:
        names += ["slope_a", "slope_b"]
    if spec.model_effects:
        names += ["tau_a", "tau_b", "e_a", "e_b"]
    if spec.zero_inflation:
        names += ["mu_pi"]
    if spec.difficulty == "flexible":
        names += ["skew", "log_tail"]
    return names


def difficulty_nodes(
    sigma: np.ndarray,
    skew: np.ndarray | None = None,
    log_tail: np.ndarray | None = None,
    n_nodes: int = _GH_NODES,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Quadrature over the difficulty of a new problem: nodes per draw and weights.

    Gauss-Hermite nodes :math:`u_q` (probabilists', weights summing to 1) mapped by
    :func:`difficulty_transform`, so :math:`\mathbb E[g(d)] \approx \sum_q w_q\, g(d_q)`.

    Returns
    -------
    (nodes, weights)
        ``nodes`` of shape ``S x Q`` (``S`` draws), ``weights`` of shape ``Q``.
    """
    u, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / w.sum()
    s = np.asarray(sigma, dtype=float)[:, None]
    if skew is None:
        return difficulty_transform(u[None, :], s), w
    e = np.asarray(skew, dtype=float)[:, None]
    t = np.asarray(log_tail, dtype=float)[:, None]
    return difficulty_transform(u[None, :], s, e, t), w


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
    return np.where(all_zero[None, :], w, 0.0)


def cell_log_lik(
    n: np.ndarray, c: np.ndarray | float, a: np.ndarray, b: np.ndarray, log_binom: bool = True
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
    u_draws: np.ndarray,
    *,
    n_nodes: int = 41,
    width: float = 6.0,
) -> np.ndarray:
    r"""Log-likelihood of each problem's counts with its difficulty integrated out.

    .. math::

        \log p(c_{\cdot j} \mid \theta) = \log \int \phi(u) \bigl[\pi [C_j = 0] + (1 - \pi)
        \textstyle\prod_m \mathrm{BB}(c_{mj} \mid n_{mj}, a_m, b_m e^{\sigma_d h(u)})\bigr]
        \, du,

    per posterior draw :math:`\theta`: the pointwise log-likelihood of PSIS-LOO that leaves
    out one problem (all its models). The integral is a trapezoid rule on ``n_nodes``
    points spanning ``width`` posterior standard deviations of :math:`u_j` either side of
    its posterior mean (adaptive quadrature: the integrand is concentrated there).

    Parameters
    ----------
    cells
        :func:`problem_cells` of the counts.
    log_a, log_b
        ``S x M`` draws.
    logit_pi
        ``S`` draws, or ``None`` without zero inflation.
    sigma, skew, log_tail
        ``S`` draws of the difficulty distribution (``skew`` ``None``: normal).
    u_draws
        ``S x P`` posterior draws of the standardised difficulties (they place the nodes).

    Returns
    -------
    numpy.ndarray
        ``S x P``.
    """
    centre = u_draws.mean(axis=0)
    spread = np.maximum(u_draws.std(axis=0), 0.05)
    grid = np.linspace(-width, width, n_nodes)
    step = grid[1] - grid[0]
    n_draws = log_a.shape[0]
    n_problems = cells.problems.size
    out = np.empty((n_draws, n_problems))
    a = np.exp(log_a)
    for j in range(n_problems):
        rows = cells.problem_idx == j
        m, n, c = cells.model_idx[rows], cells.n[rows], cells.c[rows]
        u = centre[j] + spread[j] * grid  # Q
        log_w = -0.5 * u**2 - 0.5 * np.log(2 * np.pi) + np.log(spread[j] * step)
        d = difficulty_transform(
            u[None, :],
            sigma[:, None],
            None if skew is None else skew[:, None],
            None if log_tail is None else log_tail[:, None],
        )  # S x Q
        b = np.exp(log_b[:, m][:, :, None] + d[:, None, :])  # S x R x Q
        ll = cell_log_lik(n[None, :, None], c[None, :, None], a[:, m][:, :, None], b).sum(axis=1)
        if logit_pi is not None:
            log_1m = -np.logaddexp(0.0, logit_pi)[:, None]
            ll = ll + log_1m
        lse = np.logaddexp.reduce(ll + log_w[None, :], axis=1)
        if logit_pi is not None and cells.all_zero[j]:
            lse = np.logaddexp(-np.logaddexp(0.0, -logit_pi), lse)
        out[:, j] = lse
    return out
