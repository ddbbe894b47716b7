r"""The per-model Beta-binomial by maximum likelihood: the fast baseline of the literature.

Schaeffer et al. (2025, "How do large language monkeys get their power (laws)?"), Kazdan
et al. (2025) and SABER fit, for each model separately, a Beta distribution of the
per-problem success probability to the counts by maximum likelihood,

.. math::

    (\hat a, \hat b) = \arg\max_{a, b} \sum_j \log \mathrm{BB}(c_j \mid n_j, a, b),
    \qquad \log \mathrm{BB}(c \mid n, a, b) = \log\binom{n}{c} + \log B(c + a, n - c + b)
    - \log B(a, b),

and forecast coverage from it. For the problems that were attempted, coverage after
:math:`k` attempts is estimated by its empirical-Bayes expectation,

.. math::

    \widehat{\text{pass@}k} = \frac1P \sum_j \Bigl(1 - \frac{B(\hat a + c_j,
    \hat b + n_j - c_j + k)}{B(\hat a + c_j, \hat b + n_j - c_j)}\Bigr),

and its interval (SABER's) comes from the Fisher information: :math:`(\log \hat a,
\log \hat b)` is taken as normal with the inverse of the observed information as
covariance, and the forecast is evaluated on draws from it. No MCMC: a fit takes
milliseconds. Nothing is pooled across models, and the intervals carry no uncertainty
about the shape of the distribution near :math:`p = 0` (the Beta is assumed). It is
the baseline of ``benchmarks/passk_backtest.py`` (``docs/passk.md``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, polygamma

from bayescale.core import dims
from bayescale.core.intervals import FORECAST_COLUMNS, check_ci_prob, quantiles
from bayescale.passk.counts import validate_counts

__all__ = ["beta_binomial_mle", "mle_coverage"]

#: Bounds of :math:`\log a` and :math:`\log b` in the optimisation.
_LOG_BOUNDS = (-12.0, 16.0)


def _negloglik(theta: np.ndarray, n: np.ndarray, c: np.ndarray) -> tuple[float, np.ndarray]:
    a, b = np.exp(theta)
    ll = betaln(c + a, n - c + b) - betaln(a, b)
    psi_ab, psi_nab = digamma(a + b), digamma(n + a + b)
    da = digamma(c + a) - psi_nab - digamma(a) + psi_ab
    db = digamma(n - c + b) - psi_nab - digamma(b) + psi_ab
    return float(-ll.sum()), -np.array([a * da.sum(), b * db.sum()])


def _hessian(theta: np.ndarray, n: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Hessian of the negative log-likelihood in :math:`(\\log a, \\log b)` (analytic)."""
    a, b = np.exp(theta)
    t_ab, t_nab = polygamma(1, a + b), polygamma(1, n + a + b)
    psi_ab, psi_nab = digamma(a + b), digamma(n + a + b)
    ga = (digamma(c + a) - psi_nab - digamma(a) + psi_ab).sum()
    gb = (digamma(n - c + b) - psi_nab - digamma(b) + psi_ab).sum()
    haa = (polygamma(1, c + a) - t_nab - polygamma(1, a) + t_ab).sum()
    hbb = (polygamma(1, n - c + b) - t_nab - polygamma(1, b) + t_ab).sum()
    hab = (t_ab - t_nab).sum()
    h = np.array([[a * ga + a * a * haa, a * b * hab], [a * b * hab, b * gb + b * b * hbb]])
    return -h


def beta_binomial_mle(
    counts: str | os.PathLike[str] | pd.DataFrame | xr.Dataset,
) -> pd.DataFrame:
    r"""Maximum-likelihood Beta-binomial of each model's counts, with its Fisher covariance.

    Parameters
    ----------
    counts
        Per-problem counts (see :func:`~bayescale.passk.validate_counts`).

    Returns
    -------
    pandas.DataFrame
        One row per model: ``model``, ``a``, ``b`` (the maximum-likelihood Beta),
        ``log_lik``, ``cov_log_a``, ``cov_log_b``, ``cov_log_ab`` (inverse observed
        information in :math:`(\log a, \log b)`), ``n_solved`` (problems solved at least
        once) and ``boundary`` (the optimum lies on the bounds :math:`\log a, \log b \in
        [-12, 16]`, e.g. when no problem was solved: the interval is then not meaningful).
    """
    ds = validate_counts(counts)
    rows = []
    for i, label in enumerate(ds[dims.MODEL].values):
        sel = ds["model_idx"].values == i
        n = ds["n_samples"].values[sel].astype(float)
        c = ds["n_correct"].values[sel].astype(float)
        mean = (c.sum() + 0.5) / (n.sum() + 1.0)
        start = np.log([0.5, 0.5 * (1 - mean) / mean])
        res = minimize(
            _negloglik,
            np.clip(start, *_LOG_BOUNDS),
            args=(n, c),
            jac=True,
            method="L-BFGS-B",
            bounds=[_LOG_BOUNDS, _LOG_BOUNDS],
        )
        theta = res.x
        boundary = bool(np.any(np.isclose(theta, _LOG_BOUNDS, atol=1e-3)))
        try:
            cov = np.linalg.inv(_hessian(theta, n, c))
            if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) < 0):
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            cov, boundary = np.zeros((2, 2)), True
        log_binom = gammaln(n + 1) - gammaln(c + 1) - gammaln(n - c + 1)
        rows.append(
            {
                "model": str(label),
                "a": float(np.exp(theta[0])),
                "b": float(np.exp(theta[1])),
                "log_lik": float(-res.fun + log_binom.sum()),
                "cov_log_a": float(cov[0, 0]),
                "cov_log_b": float(cov[1, 1]),
                "cov_log_ab": float(cov[0, 1]),
                "n_solved": int((c > 0).sum()),
                "boundary": boundary,
            }
        )
    return pd.DataFrame(rows)


def mle_coverage(
    counts: str | os.PathLike[str] | pd.DataFrame | xr.Dataset,
    k: Sequence[float] | np.ndarray | float,
    *,
    ci_prob: float = 0.9,
    n_draws: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    r"""Coverage of the attempted problems at ``k`` from the per-model maximum likelihood.

    The empirical-Bayes expectation of the module docstring at the optimum (column
    ``median``: the point forecast), with an equal-tailed interval over ``n_draws`` draws
    of :math:`(\log a, \log b)` from the normal approximation (Fisher information) at the
    optimum (``mean`` is the mean over those draws).

    Returns
    -------
    pandas.DataFrame
        ``model``, ``k``, then :data:`~bayescale.core.intervals.FORECAST_COLUMNS`
        (``quantity == "coverage"``).
    """
    p = check_ci_prob(ci_prob)
    ds = validate_counts(counts)
    kk = np.atleast_1d(np.asarray(k, dtype=float))
    fits = beta_binomial_mle(ds)
    rng = np.random.default_rng(seed)
    rows = []
    for i, fit in fits.iterrows():
        sel = ds["model_idx"].values == i
        n = ds["n_samples"].values[sel].astype(float)
        c = ds["n_correct"].values[sel].astype(float)
        mean = np.log([fit["a"], fit["b"]])
        cov = np.array(
            [[fit["cov_log_a"], fit["cov_log_ab"]], [fit["cov_log_ab"], fit["cov_log_b"]]]
        )
        theta = np.clip(
            rng.multivariate_normal(mean, cov, size=n_draws, method="eigh"), *_LOG_BOUNDS
        )
        a = np.exp(theta[:, 0])[:, None, None]
        b = np.exp(theta[:, 1])[:, None, None]
        c3, n3, k3 = c[None, :, None], n[None, :, None], kk[None, None, :]
        fail = np.exp(betaln(a + c3, b + n3 - c3 + k3) - betaln(a + c3, b + n3 - c3))
        draws = 1.0 - fail.mean(axis=1)  # draws x K
        point = 1.0 - np.exp(
            betaln(fit["a"] + c[:, None], fit["b"] + (n - c)[:, None] + kk[None, :])
            - betaln(fit["a"] + c[:, None], fit["b"] + (n - c)[:, None])
        ).mean(axis=0)
        lo, _, hi = quantiles(draws, p, axis=0)
        for j, kj in enumerate(kk):
            rows.append(
                {
                    "model": fit["model"],
                    "k": float(kj),
                    "quantity": "coverage",
                    "mean": float(draws[:, j].mean()),
                    "median": float(point[j]),
                    "lower": float(min(lo[j], point[j])),
                    "upper": float(max(hi[j], point[j])),
                    "ci_prob": p,
                }
            )
    return pd.DataFrame(rows, columns=["model", "k", *FORECAST_COLUMNS])
