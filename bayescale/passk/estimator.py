r"""The unbiased pass@k estimator and empirical coverage curves.

A problem attempted :math:`n` times with :math:`c` correct attempts has the unbiased
estimate of its probability of being solved within :math:`k \le n` attempts (Chen et al.
2021, "Evaluating Large Language Models Trained on Code", eq. 1)

.. math::

    \widehat{\text{pass@}k} = 1 - \binom{n-c}{k} \Big/ \binom{n}{k}
    = 1 - \prod_{i=0}^{m-1} \Bigl(1 - \frac{M}{n - i}\Bigr),
    \qquad m = \min(c, k),\ M = \max(c, k),

the product form following from :math:`\binom{n-c}{k}\binom{n}{c} =
\binom{n-k}{c}\binom{n}{k}`. The *coverage* of a set of problems is the mean over problems
and the *inference loss* is :math:`1 - \text{coverage}`.

Numerics: the ratio of binomials is computed in log space. When :math:`m` is at most
:data:`EXACT_TERMS` the log ratio is a sum of :math:`m` ``log1p`` terms (relative error
below :math:`10^{-12}`); beyond that it uses ``gammaln`` differences, whose absolute error
(:math:`\sim 10^{-16} \log n!`, about :math:`10^{-9}` at :math:`n = 10^6`) is small next
to the log ratio, which is then below :math:`-m^2/n`. For :math:`n` up to :math:`10^6`,
pass@k has relative error below :math:`10^{-12}` and :math:`1 - \text{pass@}k` below
:math:`10^{-8}` (``tests/test_passk_estimator.py`` compares both with exact rational
arithmetic).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import gammaln

__all__ = [
    "EXACT_TERMS",
    "coverage_curve",
    "log_fail_at_k",
    "pass_at_k",
    "subsample_counts",
]

#: Largest min(c, k) for which the log ratio is summed term by term.
EXACT_TERMS = 4096

ArrayLike = int | float | Sequence[int] | Sequence[float] | np.ndarray


def _int_array(name: str, value: ArrayLike) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold whole numbers, got {arr!r}")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def log_fail_at_k(n_samples: ArrayLike, n_correct: ArrayLike, k: ArrayLike) -> np.ndarray:
    r"""Log of the unbiased estimate of :math:`1 - \text{pass@}k`, broadcast over inputs.

    .. math:: \log \binom{n-c}{k} - \log \binom{n}{k}

    which is :math:`-\infty` when :math:`n - c < k` (some correct attempt is certain to be
    among any :math:`k`). Requires :math:`0 \le c \le n` and :math:`1 \le k \le n`.
    """
    n = _int_array("n_samples", n_samples)
    c = _int_array("n_correct", n_correct)
    kk = _int_array("k", k)
    n, c, kk = np.broadcast_arrays(n, c, kk)
    if np.any(c < 0) or np.any(c > n):
        raise ValueError("need 0 <= n_correct <= n_samples")
    if np.any(kk < 1):
        raise ValueError("k must be at least 1")
    if np.any(kk > n):
        bad = np.flatnonzero((kk > n).ravel())[:3]
        raise ValueError(
            f"k larger than n_samples (e.g. k={kk.ravel()[bad].tolist()} with "
            f"n_samples={n.ravel()[bad].tolist()}): pass@k cannot be estimated without bias "
            "from fewer than k attempts. Use a model fit (bayescale.passk.fit) to forecast it."
        )
    out = np.zeros(n.shape, dtype=float)
    certain = n - c < kk
    out[certain] = -np.inf
    m = np.minimum(c, kk)
    big = np.maximum(c, kk)
    todo = ~certain & (m > 0)
    small = todo & (m <= EXACT_TERMS)
    if small.any():
        ns, ms, bs = n[small], m[small], big[small]
        acc = np.zeros(ns.shape, dtype=float)
        for i in range(int(ms.max())):
            live = i < ms
            acc[live] += np.log1p(-bs[live] / (ns[live] - i))
        out[small] = acc
    large = todo & (m > EXACT_TERMS)
    if large.any():
        nl, cl, kl = n[large], c[large], kk[large]
        out[large] = (
            gammaln(nl - cl + 1)
            - gammaln(nl - cl - kl + 1)
            - gammaln(nl + 1)
            + gammaln(nl - kl + 1)
        )
    return out


def pass_at_k(
    n_samples: ArrayLike, n_correct: ArrayLike, k: ArrayLike, *, complement: bool = False
) -> np.ndarray:
    r"""Unbiased estimate of pass@k per problem (Chen et al. 2021), broadcast over inputs.

    Parameters
    ----------
    n_samples, n_correct
        Attempts :math:`n` and correct attempts :math:`c` of each problem (integers,
        :math:`0 \le c \le n`).
    k
        Number of attempts, :math:`1 \le k \le n`.
    complement
        Return :math:`1 - \text{pass@}k` (the per-problem inference loss) instead, computed
        directly so that it keeps its relative precision when pass@k is close to 1.

    Returns
    -------
    numpy.ndarray
        :math:`1 - \binom{n-c}{k}/\binom{n}{k}` (or its complement), a float array of the
        broadcast shape.

    Examples
    --------
    >>> float(pass_at_k(10, 1, 1))
    0.1
    >>> float(pass_at_k(1_000_000, 3, 1000))  # doctest: +ELLIPSIS
    0.00299...
    """
    log_fail = log_fail_at_k(n_samples, n_correct, k)
    if complement:
        return np.exp(log_fail)
    return -np.expm1(log_fail) + 0.0  # + 0.0 turns -0.0 into 0.0


def coverage_curve(
    n_samples: ArrayLike, n_correct: ArrayLike, k: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Empirical coverage :math:`\frac1P \sum_j \widehat{\text{pass@}k}_j` of a set of problems.

    Parameters
    ----------
    n_samples, n_correct
        Per-problem attempts and correct attempts (1-d, one entry per problem).
    k
        Attempts at which to evaluate; default: 1, 2, 4, ... up to the smallest
        ``n_samples`` (which is included).

    Returns
    -------
    k, coverage
        The attempts and the mean unbiased pass@k over problems at each.
    """
    n = _int_array("n_samples", n_samples).ravel()
    c = _int_array("n_correct", n_correct).ravel()
    if n.shape != c.shape or n.size == 0:
        raise ValueError("n_samples and n_correct must be 1-d arrays of the same, nonzero length")
    if k is None:
        top = int(n.min())
        grid = 2 ** np.arange(int(np.floor(np.log2(top))) + 1)
        kk = np.unique(np.append(grid, top))
    else:
        kk = _int_array("k", k).ravel()
    cov = pass_at_k(n[:, None], c[:, None], kk[None, :]).mean(axis=0)
    return kk, cov


def subsample_counts(
    n_samples: ArrayLike,
    n_correct: ArrayLike,
    n_keep: int,
    *,
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    r"""Correct counts among ``n_keep`` attempts drawn without replacement from each problem's.

    Keeping a random subset of :math:`n'` of a problem's :math:`n` attempts, of which
    :math:`c` were correct, leaves a hypergeometric number of correct ones,
    :math:`c' \sim \text{Hypergeometric}(c, n - c, n')`. This is how back-tests emulate a
    small sampling budget from a large one.
    """
    n = _int_array("n_samples", n_samples)
    c = _int_array("n_correct", n_correct)
    if np.any(n < n_keep):
        raise ValueError(f"n_keep={n_keep} exceeds some n_samples (smallest {int(n.min())})")
    rng = np.random.default_rng(seed)
    return rng.hypergeometric(c, n - c, n_keep)
