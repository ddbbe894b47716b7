r"""Priors of the shared-difficulty pass@k model (:mod:`bayescale.passk.shared`).

:data:`SHARED_PRIORS` holds the defaults (``passk.fit(..., priors=...)`` overrides them
one by one); :func:`sigma_d_prior` builds the prior of the difficulties' scale
:math:`\sigma_d`, a HalfNormal by default or a Gamma that keeps it from 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bayescale.core.errors import SpecificationError

__all__ = ["SHARED_PRIORS", "check_sigma_d_prior", "sigma_d_prior"]

#: Default priors of the shared-difficulty model: (mean, sd) of Normals, (scale, 0) of
#: the HalfNormal of ``sigma_d`` ((shape, rate > 0): a Gamma, :func:`sigma_d_prior`),
#: and (degrees of freedom :math:`\nu`, scale :math:`s`) of the model effects
#: ``effects_*``. ``a`` and ``b`` on the log scale (``b`` of a problem of median difficulty),
#: ``pi`` (the share of problems no model solves) on the logit
#: scale, slopes per e-fold of N; ``skew`` is :math:`\epsilon` of the ``"skewed"``
#: difficulty distribution. Model effects are
#: i.i.d. :math:`\mathcal N(0, \tau^2)` with :math:`\tau^2 \sim
#: \mathrm{InvGamma}(\nu/2, \nu s^2/2)` integrated out (a Student-t of :math:`\nu`
#: degrees of freedom and scale :math:`s`: :math:`\nu = 4, s = 0.25` puts the typical
#: :math:`\tau` near 0.25, like the per-model model's HalfNormal(0.3)). ``effects_a``
#: has scale 0.5 since December 2026: fitted to 300 attempts per problem, the sizes of
#: early training checkpoints (Schaeffer et al.'s MATH and GSM8K tables) depart from a
#: straight trend in :math:`\log a` by 0.4 to 0.9 (root mean square of the effects;
#: 0.3 to 0.4 in :math:`\log b`, 0.24 to 0.36 and 0.2 for the Pythia counts), and with
#: 0.25 a fit of 10 attempts shrank them to the trend: the 90% intervals from 10 attempts
#: covered 83.5% of the back-test's forecasts, 85.6% with 0.5 (``docs/passk.md``).
SHARED_PRIORS: dict[str, tuple[float, float]] = {
    "mu_a": (float(np.log(0.5)), 1.0),
    "mu_b": (float(np.log(100.0)), 2.5),
    "mu_pi": (-2.0, 1.5),
    "slope_a": (0.0, 0.5),
    "slope_b": (0.0, 0.5),
    "effects_a": (4.0, 0.5),
    "effects_b": (4.0, 0.25),
    "sigma_d": (2.0, 0.0),
    "sigma_g": (0.5, 0.0),
    "skew": (0.0, 0.5),
}


def sigma_d_prior(shape: float, rate: float) -> Any:
    r"""Add the prior of :math:`\sigma_d` to the model in context and return the variable.

    .. math::

        \sigma_d \sim \mathrm{Gamma}(\alpha, \beta) \quad (\beta > 0), \qquad
        \sigma_d \sim \mathrm{HalfNormal}(\alpha) \quad (\beta = 0).

    The default, ``SHARED_PRIORS["sigma_d"] = (2, 0)``, is :math:`\mathrm{HalfNormal}(2)`.
    ``(2, 1)``, :math:`\mathrm{Gamma}(2, 1)` (mean 2, mode 1, density 0 at 0), keeps
    :math:`\sigma_d` from 0, where the few successes of a table with a handful per size
    pin :math:`\sigma_d u_j` and the sampler can diverge: in the back-test of
    ``docs/passk.md`` all 54 fits converge with it (51 with the default: three GSM8K
    fits with one divergence each), but its 90% intervals cover 83.5% of the forecasts
    from 10 attempts per problem and 84.4% from 300 (85.6% and 86% with the default).
    Try it where a fit's divergences sit at small :math:`\sigma_d`.

    Parameters
    ----------
    shape, rate
        :math:`\alpha > 0` and :math:`\beta \ge 0` (``priors={"sigma_d": (shape, rate)}``;
        a rate of 0 makes :math:`\alpha` the scale of a HalfNormal).

    Returns
    -------
    pytensor.tensor.TensorVariable
        The free variable ``sigma_d``.
    """
    import pymc as pm

    check_sigma_d_prior(shape, rate)
    if rate > 0:
        return pm.Gamma("sigma_d", alpha=shape, beta=rate)
    return pm.HalfNormal("sigma_d", shape)


def check_sigma_d_prior(shape: float, rate: float) -> None:
    """Raise :class:`~bayescale.core.errors.SpecificationError` unless the prior of
    ``sigma_d`` is valid (:func:`sigma_d_prior`): ``shape > 0`` and ``rate >= 0``."""
    if not (np.isfinite(shape) and shape > 0 and np.isfinite(rate) and rate >= 0):
        raise SpecificationError(
            f"priors['sigma_d'] = ({shape}, {rate}) is not a prior of sigma_d: give "
            "(shape, rate) of a Gamma with shape > 0 and rate > 0 (the default is (2, 1)), "
            "or (scale, 0) for a HalfNormal of that scale"
        )
