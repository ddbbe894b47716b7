r"""Coverage curves, inference-loss exponents and attempts-to-target from Beta parameters.

Pure NumPy/SciPy functions of posterior draws; :class:`bayescale.passk.PassKFit` calls
them. For a problem population :math:`p \sim \pi\,\delta_0 + (1-\pi)\,\mathrm{Beta}(a, b)`
(Levi 2024, arXiv 2410.16377),

.. math::

    \text{pass@}k = 1 - \mathbb E\bigl[(1-p)^k\bigr]
    = (1 - \pi)\Bigl(1 - \frac{B(a, b + k)}{B(a, b)}\Bigr),

evaluated as :math:`\log B(a, b+k) - \log B(a, b)` with ``gammaln``, so any :math:`k` up
to :math:`10^{12}` is exact to a few ulp of the log. For large :math:`k`,

.. math::

    1 - \text{pass@}k \approx \pi + (1-\pi)\,\frac{\Gamma(a+b)}{\Gamma(b)}\,k^{-a},

so the inference loss of the solvable problems is a power law with exponent :math:`a`.
For problems that were observed (:math:`c` correct of :math:`n`), the posterior of their
own :math:`p` is :math:`\mathrm{Beta}(a + c, b + n - c)` (with, when :math:`c = 0`, the
posterior weight :math:`w = \pi / (\pi + (1-\pi)\,\mathrm{BB}(0 \mid n, a, b))` of never
being solved), which :func:`observed_coverage` uses for the coverage of that problem set.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln

__all__ = [
    "attempts_for_coverage",
    "loss_prefactor",
    "observed_coverage",
    "population_coverage",
    "sample_problem_p",
]


def population_coverage(
    a: np.ndarray,
    b: np.ndarray,
    pi: np.ndarray | float,
    k: np.ndarray,
    *,
    log_shift: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    r"""Expected pass@k of a new problem: :math:`(1-\pi)(1 - B(a, b+k)/B(a, b))`.

    ``a``, ``b``, ``pi`` have shape ``S`` (draws), ``k`` shape ``K``; returns ``S + K``.

    With a difficulty shared across models (:mod:`bayescale.passk.shared`) a new problem
    has :math:`p \sim \mathrm{Beta}(a, b e^{d})` for a random difficulty :math:`d`:
    ``log_shift`` (``S x Q``, the nodes :math:`d_q`) and ``weights`` (``Q``) give the
    quadrature :math:`1 - \text{pass@}k/(1-\pi) = \sum_q w_q B(a, b e^{d_q} + k) /
    B(a, b e^{d_q})`.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    pi = np.asarray(pi, dtype=float)[..., None]
    k = np.asarray(k, dtype=float)
    if log_shift is None:
        log_fail = betaln(a[..., None], b[..., None] + k) - betaln(a[..., None], b[..., None])
        return (1.0 - pi) * -np.expm1(log_fail)
    w = np.asarray(weights, dtype=float)
    bq = b[:, None] * np.exp(np.asarray(log_shift, dtype=float))  # S x Q
    aq = a[:, None]
    fail = np.einsum(
        "sqk,q->sk",
        np.exp(betaln(aq[..., None], bq[..., None] + k) - betaln(aq, bq)[..., None]),
        w,
    )
    return (1.0 - pi) * (1.0 - np.minimum(fail, 1.0))


def loss_prefactor(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r""":math:`\Gamma(a+b)/\Gamma(b)`, the prefactor of the asymptotic loss :math:`C k^{-a}`."""
    return np.exp(gammaln(np.asarray(a) + b) - gammaln(b))


def _never_weight(n: np.ndarray, a: np.ndarray, b: np.ndarray, logit_pi: np.ndarray) -> np.ndarray:
    """Posterior probability that a problem with 0 of ``n`` correct is never solvable."""
    log_bb0 = betaln(a, b + n) - betaln(a, b)
    log_pi = -np.logaddexp(0.0, -logit_pi)
    log_1m = -np.logaddexp(0.0, logit_pi)
    return np.exp(log_pi - np.logaddexp(log_pi, log_1m + log_bb0))


def sample_problem_p(
    n: np.ndarray,
    c: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    logit_pi: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw each observed problem's success probability from its posterior.

    ``n``, ``c`` have shape ``P`` (problems); ``a``, ``logit_pi`` shape ``S`` (draws);
    ``b`` shape ``S``, or ``S x P`` (a problem's own :math:`b e^{d_j}`). Returns ``S x P``
    draws of :math:`p_j`.
    """
    a2 = np.asarray(a)[:, None]
    b2 = np.asarray(b) if np.ndim(b) == 2 else np.asarray(b)[:, None]
    p = rng.beta(a2 + c[None, :], b2 + (n - c)[None, :])
    if logit_pi is not None:
        w = _never_weight(n[None, :], a2, b2, np.asarray(logit_pi)[:, None])
        never = (c[None, :] == 0) & (rng.random(p.shape) < w)
        p = np.where(never, 0.0, p)
    return p


def observed_coverage(p: np.ndarray, k: np.ndarray) -> np.ndarray:
    r"""Coverage :math:`\frac1P\sum_j 1 - (1-p_j)^k` of a problem set, per draw.

    ``p`` has shape ``S x P``; returns ``S x K``. A problem with :math:`p_j = 1` counts
    as solved at every :math:`k \ge 1` (its :math:`\log(1 - p_j)` is taken at the
    largest double below 1, so no division by zero).
    """
    k = np.asarray(k, dtype=float)
    log_q = np.log1p(-np.minimum(p, np.nextafter(1.0, 0.0)))  # S x P
    out = np.empty((p.shape[0], k.size))
    for i, kk in enumerate(k):
        out[:, i] = -np.expm1(kk * log_q).mean(axis=1)
    return out


def attempts_for_coverage(
    target: float,
    a: np.ndarray,
    b: np.ndarray,
    pi: np.ndarray | float = 0.0,
    *,
    k_max: float = 1e15,
    log_shift: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    r"""Attempts :math:`k` (real-valued) at which population pass@k reaches ``target``.

    Solved per draw by bisection on :math:`\log k` (pass@k increases in :math:`k`);
    :math:`+\infty` where the target exceeds the ceiling :math:`1 - \pi` or needs more
    than ``k_max`` attempts, and 1 where a single attempt already reaches it.
    ``log_shift`` and ``weights``: a shared problem difficulty, as in
    :func:`population_coverage`.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target coverage must be in (0, 1), got {target!r}")
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    pi = np.broadcast_to(np.asarray(pi, dtype=float), a.shape).ravel()

    if log_shift is not None:
        bq = b[:, None] * np.exp(np.asarray(log_shift, dtype=float).reshape(a.size, -1))
        w = np.asarray(weights, dtype=float)
        base = betaln(a[:, None], bq)

        def cov(log_k: np.ndarray) -> np.ndarray:
            fail = np.exp(betaln(a[:, None], bq + np.exp(log_k)[:, None]) - base) @ w
            return (1.0 - pi) * (1.0 - np.minimum(fail, 1.0))
    else:

        def cov(log_k: np.ndarray) -> np.ndarray:
            return (1.0 - pi) * -np.expm1(betaln(a, b + np.exp(log_k)) - betaln(a, b))

    lo = np.zeros_like(a)
    hi = np.full_like(a, np.log(k_max))
    reachable = cov(hi) >= target
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        up = cov(mid) >= target
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    out = np.exp(hi)
    out[cov(np.zeros_like(a)) >= target] = 1.0
    out[~reachable] = np.inf
    return out
