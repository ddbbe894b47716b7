r"""Compute-optimal allocation of parameters and tokens for the Chinchilla law.

With :math:`L(N, D) = E + A N^{-\alpha} + B D^{-\beta}` and a budget
:math:`C = k N D` (:math:`k = 6` FLOPs per parameter per token by default), the loss is
smallest at

.. math::

    N^*(C) = G \left(\frac{C}{k}\right)^{\beta / (\alpha + \beta)}, \quad
    D^*(C) = \frac{C / k}{N^*(C)}, \quad
    G = \left(\frac{\alpha A}{\beta B}\right)^{1 / (\alpha + \beta)}

(Hoffmann et al. 2022, eq. 4). For ``chinchilla_tied`` (:math:`\beta = \alpha`)
:math:`N^* = G \sqrt{C / k}` and the optimal tokens per parameter
:math:`D^*/N^* = (B / A)^{1/\alpha}` do not depend on the budget. Every posterior
draw gives one :math:`(N^*, D^*)`; the intervals below are equal-tailed intervals over
draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayescale.core import dims
from bayescale.core.errors import SpecificationError
from bayescale.core.intervals import check_ci_prob, quantiles
from bayescale.scaling.forecast import NEW_FAMILY, parameter_draws, resolve_families

if TYPE_CHECKING:
    from bayescale.scaling.fitting import ScalingFit

__all__ = ["compute_optimal"]

QUANTITIES = ("params", "tokens", "tokens_per_param", "loss")
#: Laws whose compute-optimal allocation this module computes.
OPTIMAL_LAWS = ("chinchilla", "chinchilla_tied")


def compute_optimal(
    fit: ScalingFit,
    compute: float | Sequence[float],
    *,
    ci_prob: float = 0.9,
    family: str | Sequence[str | None] | None = "all",
    flops_per_param_token: float = 6.0,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Compute-optimal N, D, tokens per parameter and loss for budgets ``compute``.

    Parameters
    ----------
    fit
        A fit of the ``chinchilla`` or ``chinchilla_tied`` law.
    compute
        Training budget(s) in FLOPs.
    ci_prob
        Probability of the equal-tailed intervals.
    family
        ``"all"`` (every fitted family), a label, a list of labels, or ``None`` for a new
        family drawn from the population.
    flops_per_param_token
        :math:`k` in :math:`C = k N D`.
    seed
        Seed for the population draws of a new family.

    Returns
    -------
    pandas.DataFrame
        One row per (compute, family, quantity) with ``quantity`` in ``params`` (N*),
        ``tokens`` (D*), ``tokens_per_param`` (D*/N*) and ``loss`` (the law at the
        optimum), and columns ``mean``, ``median``, ``lower``, ``upper``, ``ci_prob``.
    """
    if fit.law.name not in OPTIMAL_LAWS:
        raise SpecificationError(
            f"compute_optimal needs a law in N and D ({', '.join(OPTIMAL_LAWS)}), "
            f"not {fit.law.name!r}"
        )
    check_ci_prob(ci_prob)
    budgets = np.atleast_1d(np.asarray(compute, dtype=float))
    if not np.all(np.isfinite(budgets) & (budgets > 0)):
        raise SpecificationError(f"compute must be finite and > 0, got {budgets.tolist()}")
    if not flops_per_param_token > 0:
        raise SpecificationError("flops_per_param_token must be > 0")
    if isinstance(family, str) and family == "all":
        requested: list[Any] = list(fit.families)
    elif family is None or isinstance(family, str):
        requested = [family]
    else:
        requested = list(family)
    fams = resolve_families(requested, fit.families)
    theta = parameter_draws(
        fit.posterior, fit.spec, fams, fitted=fit.families, rng=np.random.default_rng(seed)
    )
    conv = fit.law.conventional(theta, fit.spec.summary.log_ref)
    a = theta["alpha"]
    b = theta.get("beta", a)  # chinchilla_tied: one exponent for N and D
    log_a_coef = np.log(a) + np.log(conv["A"])
    log_b_coef = np.log(b) + np.log(conv["B"])
    log_g = (log_a_coef - log_b_coef) / (a + b)
    rows = []
    for c in budgets:
        log_nd = np.log(c / flops_per_param_token)
        log_n = log_g + b / (a + b) * log_nd
        log_d = log_nd - log_n
        n_opt, d_opt = np.exp(log_n), np.exp(log_d)
        loss = fit.law.predict(
            theta, {dims.COL_PARAMS: n_opt, dims.COL_TOKENS: d_opt}, fit.spec.summary.log_ref
        )
        values = {
            "params": n_opt,
            "tokens": d_opt,
            "tokens_per_param": d_opt / n_opt,
            "loss": loss,
        }
        for k, fam in enumerate(fams):
            for name in QUANTITIES:
                draws = values[name][..., k].ravel()
                lo, med, hi = quantiles(draws, ci_prob)
                rows.append(
                    {
                        "compute": c,
                        "family": fam if fam is not None else NEW_FAMILY,
                        "quantity": name,
                        "mean": float(draws.mean()),
                        "median": float(med),
                        "lower": float(lo),
                        "upper": float(hi),
                        "ci_prob": ci_prob,
                    }
                )
    return pd.DataFrame(rows)
