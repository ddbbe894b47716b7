r"""Coverage as it will be measured: the unbiased estimate once more attempts are made.

A coverage forecast :math:`\frac1P \sum_j 1 - (1 - p_j)^k` is the *expected* share of
problems solved within :math:`k` attempts: what an endless repetition of the evaluation
averages to. What a user reads off a benchmark is one realisation: the unbiased estimate
of Chen et al. (2021) from the :math:`n_j` attempts that each problem ends up with,

.. math::

    \widehat{C}_k = \frac1P \sum_j 1 - \binom{n_j - c_j}{k} \Big/ \binom{n_j}{k},
    \qquad c_j = c^{\text{made}}_j + c^{\text{new}}_j,\quad
    c^{\text{new}}_j \mid p_j \sim \mathrm{Binomial}(n_j - n^{\text{made}}_j,\ p_j),

whose spread around the expectation is largest at :math:`k = n_j` (then each problem is
solved or not: a coin of probability :math:`1 - (1 - p_j)^{n_j}`) and vanishes as
:math:`n_j / k` grows. :func:`measured_coverage` draws :math:`\widehat C_k` from the
posterior draws of :math:`p_j`, with the attempts already made (the fitted counts) kept:
the posterior predictive of the number the user will compute, the pass@k analogue of the
new-run interval of a loss forecast. ``PassKFit.coverage(k, attempts=...)`` uses it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import gammaln

from bayescale.core.errors import SpecificationError

__all__ = ["measured_coverage", "measured_for_model", "total_attempts"]


def measured_for_model(
    p: np.ndarray,
    k: np.ndarray,
    attempts: int | pd.DataFrame,
    ds: xr.Dataset,
    models: Sequence[str],
    label: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """:func:`measured_coverage` of one model of a fit: its fitted problems with their
    made attempts (validated counts ``ds``, fitted ``models``), or, for a size that was
    not fitted, every problem of the fit with none made yet. ``p`` is ``S x P`` in the
    order of the model's rows of ``ds`` (of the problems' first appearance for a new size).
    """
    labels = ds["problem_label"].values.astype(str)
    if label in models:
        rows = ds["model_idx"].values == list(models).index(label)
        problems = labels[rows]
        n_made = ds["n_samples"].values[rows].astype(float)
        c_made = ds["n_correct"].values[rows].astype(float)
    else:
        problems, first = np.unique(labels, return_index=True)
        problems = problems[np.argsort(first)]
        n_made = c_made = np.zeros(problems.size)
    n_total = total_attempts(attempts, label, problems, n_made, k)
    return measured_coverage(p, k, n_made=n_made, c_made=c_made, n_total=n_total, rng=rng)


def measured_coverage(
    p: np.ndarray,
    k: np.ndarray,
    *,
    n_made: np.ndarray,
    c_made: np.ndarray,
    n_total: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    r"""Draws of the unbiased coverage estimate once each problem has ``n_total`` attempts.

    Parameters
    ----------
    p
        Draws ``S x P`` of the problems' success probabilities.
    k
        Attempts at which coverage is estimated, each at most ``min(n_total)``.
    n_made, c_made
        Attempts already made and correct attempts among them, per problem (``P``).
    n_total
        Attempts per problem once the evaluation is complete, the made ones included
        (``P``, each at least ``n_made``).
    rng
        Draws the outcomes of the attempts not yet made.

    Returns
    -------
    numpy.ndarray
        ``S x K``: per draw, :math:`\frac1P \sum_j 1 - \binom{n_j - c_j}{k}/\binom{n_j}{k}`
        with :math:`c_j = c^{\text{made}}_j + \mathrm{Binomial}(n_j - n^{\text{made}}_j,
        p_j)`.
    """
    kk = np.asarray(k, dtype=float).ravel()
    n = np.asarray(n_total, dtype=float)[None, :]
    c = np.asarray(c_made, dtype=float)[None, :] + rng.binomial(
        (np.asarray(n_total) - np.asarray(n_made)).astype(np.int64)[None, :], p
    )
    out = np.empty((p.shape[0], kk.size))
    for i, kv in enumerate(kk):
        # log C(n - c, k) - log C(n, k); -inf (solved surely) where n - c < k
        left = np.maximum(n - c - kv + 1.0, 1.0)
        log_fail = gammaln(n - c + 1) - gammaln(left) - gammaln(n + 1) + gammaln(n - kv + 1)
        fail = np.where(n - c < kv, 0.0, np.exp(np.minimum(log_fail, 0.0)))
        out[:, i] = 1.0 - fail.mean(axis=1)
    return out


def total_attempts(
    attempts: int | pd.DataFrame,
    model: str,
    problems: np.ndarray,
    n_made: np.ndarray,
    k: np.ndarray,
) -> np.ndarray:
    """Attempts per problem of ``model`` once the evaluation is complete, checked.

    ``attempts`` is one number for every problem, or a table with ``model``, ``problem``
    and ``n_samples`` (the counts to come). Raises
    :class:`~bayescale.core.errors.SpecificationError` naming what is missing or too small.
    """
    if isinstance(attempts, pd.DataFrame):
        missing = [c for c in ("model", "problem", "n_samples") if c not in attempts.columns]
        if missing:
            raise SpecificationError(
                f"attempts= table lacks column(s) {missing}; it needs model, problem and "
                "n_samples (the attempts each problem will have, the made ones included)"
            )
        rows = attempts[attempts["model"].astype(str) == model]
        per = pd.Series(rows["n_samples"].to_numpy(), index=rows["problem"].astype(str).to_numpy())
        if per.index.has_duplicates:
            twice = per.index[per.index.duplicated()][:3].tolist()
            raise SpecificationError(
                f"attempts= table has more than one row for model {model!r} and problem(s) "
                f"{twice}; give each (model, problem) one n_samples"
            )
        keys = pd.Index(np.asarray(problems).astype(str))
        absent = keys[~keys.isin(per.index)]
        if len(absent):
            raise SpecificationError(
                f"attempts= table has no row for model {model!r} and problem(s) "
                f"{absent[:3].tolist()} ({len(absent)} in all); give every fitted problem of "
                "the model its attempts"
            )
        n_total = per.loc[keys].to_numpy(dtype=float)
    else:
        try:
            n_total = np.full(np.asarray(problems).size, float(attempts))
        except (TypeError, ValueError):
            raise SpecificationError(
                f"attempts must be a whole number or a table with model, problem and "
                f"n_samples, not {attempts!r}"
            ) from None
    if np.any(~np.isfinite(n_total)) or np.any(n_total != np.round(n_total)):
        raise SpecificationError(f"attempts must be whole numbers (model {model!r})")
    short = n_total < n_made
    if short.any():
        j = int(np.flatnonzero(short)[0])
        raise SpecificationError(
            f"attempts= gives problem {np.asarray(problems)[j]!r} of model {model!r} "
            f"{n_total[j]:.0f} attempts, fewer than the {n_made[j]:.0f} already made; it "
            "counts every attempt, the made ones included"
        )
    if np.max(k) > n_total.min():
        raise SpecificationError(
            f"k = {np.max(k):g} exceeds the {n_total.min():.0f} attempts of some problem of "
            f"model {model!r}: the unbiased estimate needs k <= attempts"
        )
    return n_total
