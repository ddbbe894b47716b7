r"""Coverage-curve laws fitted as laws with NUTS, compared with PSIS-LOO.

Where :mod:`bayescale.passk.fitting` models every problem's attempts (a Beta-binomial
model of the counts), this module works at the level of the *curve*: the empirical
coverage of each model, :math:`\hat C_m(k)` (mean unbiased pass@k over its problems, see
:func:`~bayescale.passk.estimator.coverage_curve`) at :math:`k = 1, 2, 4, \dots, n`, is
fitted with one of these laws (the inference loss is :math:`1 - C(k)`):

``"beta"`` (Levi 2024, arXiv 2410.16377)
    Per-problem success :math:`p \sim \mathrm{Beta}(a, b)`, so
    :math:`C(k) = 1 - B(a, b + k) / B(a, b)` and :math:`1 - C(k) \approx
    \frac{\Gamma(a+b)}{\Gamma(b)} k^{-a}`: exponent :math:`a`.
``"beta_zi"``
    A share :math:`\pi` of problems is never solved:
    :math:`C(k) = (1 - \pi)\bigl(1 - B(a, b + k)/B(a, b)\bigr)`; the excess loss
    :math:`1 - \pi - C(k)` decays as :math:`k^{-a}`.
``"brown"`` (Brown et al. 2024, "Large Language Monkeys", arXiv 2407.21787)
    :math:`C(k) = \exp(c\,k^{-b})`, :math:`c < 0`, so :math:`1 - C(k) \approx -c\,k^{-b}`:
    exponent :math:`b`.
``"brown_ceiling"``
    :math:`C(k) = C_\infty \exp(c\,k^{-b})` with :math:`C_\infty = 1 - \pi`; the excess
    loss decays as :math:`k^{-b}`.

Observation model (the same for every law, so that their ELPDs compare like with like):

.. math::

    \operatorname{logit} \hat C_m(k_i) \sim
    \mathcal N\bigl(\operatorname{logit} C(k_i; \theta_m),\ \sigma_m\bigr),

one point per model and :math:`k` (dimension ``obs``), with independent parameters
:math:`\theta_m, \sigma_m` per model (no pooling: each curve of 10-15 points over several
decades of :math:`k` identifies its own parameters, and independent models keep one
model's points out of another's leave-one-out predictions). The logit scale makes the
error relative where coverage is small (it is :math:`\approx \log C` there) and keeps
forecasts in :math:`(0, 1)`. Points with :math:`\hat C = 0` or :math:`1` have no logit:
they are dropped with a :class:`CoverageLawWarning` and listed in
:attr:`CoverageLawFit.notes`.

The likelihood's scale is :math:`\sqrt{\sigma_0^2 + \sigma_m^2}` with a floor
:math:`\sigma_0 = 0.01` (``sigma_floor``): a law describes a population of problems,
which a curve of a hundred-odd problems follows to about 1 % at best, and without the
floor a short smooth curve drives :math:`\sigma_m` towards 0 and the posterior into a
ridge NUTS cannot follow.

Parameterisation (chosen for NUTS; see ``docs/coverage_laws.md``): every law has an
exponent :math:`e` (:math:`a` or :math:`b`) with :math:`\log e \sim \mathcal N(-1, 1)`.
The Beta laws use :math:`\operatorname{logit} C(1)`, the coverage at one attempt, which
the small-:math:`k` points fix nearly independently of :math:`a` and :math:`\pi` (the
mean success :math:`\mu = a/(a+b)` follows from :math:`C(1) = (1-\pi)\mu`, and
``beta_zi`` writes :math:`\pi = (1 - C(1))\operatorname{expit}(z)` so that
:math:`\mu < 1`: then :math:`\operatorname{logit}\mu = \operatorname{logit} C(1) +
\operatorname{softplus}(z)`). The Brown laws use :math:`\log r = \log(-c) - b\,
\overline{\log k}`, the log of :math:`-\log C` at the centre of the fitted
:math:`\log k` (raw :math:`\log(-c)` is strongly correlated with :math:`b`). Priors:
:math:`\operatorname{logit} C(1) \sim \mathcal N(-4, 3)`, :math:`\log r \sim \mathcal
N(0, 2)`, :math:`z` or :math:`\operatorname{logit}\pi \sim \mathcal N(-1, 1.5)`,
:math:`\log \sigma_m \sim \mathcal N(\log 0.1, 1)` (:data:`DEFAULT_PRIORS`).

Caveat on LOO: the points of one curve are cumulative (every pass@k is computed from the
same attempts) and strongly correlated, so they are not exchangeable observations and
pointwise PSIS-LOO over :math:`k` is approximate. What it measures is how well each law,
given the other points of the curve, interpolates a left-out point of that curve on the
logit scale (a smoothness-and-shape check), not the error of extrapolating to larger
:math:`k`; for the latter use a forecast back-test (fit on :math:`k \le k_0`, compare at
larger :math:`k`), as ``benchmarks/passk_coverage_laws.py`` does.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import betaln, expit, logit

from bayescale.core import dims
from bayescale.core.diagnostics import Diagnostics, check_convergence
from bayescale.core.errors import DataError, SpecificationError
from bayescale.core.sampling import sample_posterior
from bayescale.passk.counts import validate_counts
from bayescale.passk.estimator import coverage_curve

if TYPE_CHECKING:
    import pymc as pm

    from bayescale.compare import Comparison

__all__ = [
    "DEFAULT_PRIORS",
    "LAWS",
    "CoverageLawFit",
    "CoverageLawSpec",
    "CoverageLawWarning",
    "compare_coverage_laws",
    "coverage_law",
    "coverage_points",
    "empirical_exponent",
    "fit_coverage_law",
]

#: Laws that :func:`fit_coverage_law` knows, and whether each has a ceiling (``pi``).
LAWS: dict[str, bool] = {
    "beta": False,
    "beta_zi": True,
    "brown": False,
    "brown_ceiling": True,
}

#: Normal priors ``(mean, sd)`` of the free parameters (overridable with ``priors=``).
DEFAULT_PRIORS: dict[str, tuple[float, float]] = {
    "log_exponent": (-1.0, 1.0),
    "logit_c1": (-4.0, 3.0),
    "log_rate": (0.0, 2.0),
    "logit_pi": (-1.0, 1.5),
    "log_sigma": (float(np.log(0.1)), 1.0),
}

#: Name of the observed variable (as in the rest of bayescale).
OBSERVED = dims.OBSERVED
_POINT_COLUMNS = ("model", "k", "coverage")


class CoverageLawWarning(UserWarning):
    """Coverage points were dropped (coverage 0 or 1 has no logit)."""


# -- laws in NumPy ---------------------------------------------------------------------------
def coverage_law(law: str, params: Mapping[str, Any], k: Any) -> np.ndarray:
    r"""Coverage :math:`C(k)` of a law at parameter values (broadcast: params ``S``, k ``K``).

    Parameters
    ----------
    law
        One of :data:`LAWS`.
    params
        ``a``, ``b`` (and ``pi``) for the Beta laws; ``b``, ``c`` (and ``pi``) for the
        Brown laws. Arrays of shape ``S`` (e.g. posterior draws) or scalars.
    k
        Attempts (any positive reals), shape ``K``.

    Returns
    -------
    numpy.ndarray
        Shape ``S + K``. The Beta laws use :math:`\log B(a, b+k) - \log B(a, b)` with
        ``betaln``, exact for :math:`k` up to :math:`10^{12}` and beyond.
    """
    _check_law(law)
    kk = np.asarray(k, dtype=float)

    def col(name: str) -> np.ndarray:
        return np.asarray(params[name], dtype=float)[..., None]

    pi = col("pi") if LAWS[law] else 0.0
    if law.startswith("beta"):
        a, b = col("a"), col("b")
        cov = -np.expm1(betaln(a, b + kk) - betaln(a, b))
    else:
        cov = np.exp(col("c") * kk ** -col("b"))
    return np.asarray((1.0 - pi) * cov)


def _check_law(law: str) -> None:
    if law not in LAWS:
        raise SpecificationError(f"unknown coverage law {law!r}; choose one of {sorted(LAWS)}")


# -- data ------------------------------------------------------------------------------------
def coverage_points(
    counts: str | os.PathLike[str] | pd.DataFrame | xr.Dataset,
    *,
    k: Sequence[int] | np.ndarray | None = None,
    k_max: float | None = None,
) -> pd.DataFrame:
    """Empirical coverage of each model at ``k`` from per-problem counts.

    Parameters
    ----------
    counts
        Counts table (DataFrame or CSV path with ``model``, ``problem``, ``n_samples``,
        ``n_correct``; ``problem_idx`` is accepted for ``problem``), or the Dataset of
        :func:`~bayescale.passk.validate_counts`. Or a table of coverage points with
        columns ``model``, ``k``, ``coverage``, returned as it is (sorted).
    k
        Attempts at which to evaluate (default: 1, 2, 4, ... and the smallest
        ``n_samples`` of each model). Each must be at most the model's smallest
        ``n_samples`` (pass@k has no unbiased estimate from fewer than ``k`` attempts).
    k_max
        Keep only points with ``k <= k_max`` (a back-test of extrapolation).

    Returns
    -------
    pandas.DataFrame
        ``model``, ``k``, ``coverage``, ``n_problems`` (one row per model and ``k``).

    Raises
    ------
    DataError
        Invalid counts (see :func:`~bayescale.passk.validate_counts`), a ``k`` larger
        than a model's attempts, or invalid coverage points.
    """
    if isinstance(counts, pd.DataFrame) and set(_POINT_COLUMNS) <= set(counts.columns):
        frame = _check_points(counts)
    else:
        ds = validate_counts(counts)
        rows = []
        models = ds[dims.MODEL].values
        idx = ds["model_idx"].values
        for m_i, model in enumerate(models):
            sel = idx == m_i
            n = ds["n_samples"].values[sel]
            c = ds["n_correct"].values[sel]
            if k is not None and np.max(k) > n.min():
                raise DataError(
                    f"k={int(np.max(k))} exceeds the {int(n.min())} attempts of some problem "
                    f"of model {str(model)!r}: coverage at k cannot be estimated without bias "
                    "from fewer than k attempts. Pass k up to the smallest n_samples."
                )
            kk, cov = coverage_curve(n, c, k)
            rows.append(
                pd.DataFrame(
                    {"model": str(model), "k": kk, "coverage": cov, "n_problems": int(sel.sum())}
                )
            )
        frame = pd.concat(rows, ignore_index=True)
    if k_max is not None:
        frame = frame[frame["k"] <= k_max].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"no coverage points left (k_max={k_max!r} is below every k)")
    return frame


def _check_points(points: pd.DataFrame) -> pd.DataFrame:
    frame = points.copy()
    frame["model"] = frame["model"].astype(str)
    for col in ("k", "coverage"):
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DataError(
                f"column {col!r}: not a finite number in rows {bad[:8].tolist()}; fix or "
                "remove those rows."
            )
        frame[col] = values
    bad = np.flatnonzero(frame["k"].to_numpy() <= 0)
    if bad.size:
        raise DataError(f"column 'k': must be > 0 but is not in rows {bad[:8].tolist()}")
    cov = frame["coverage"].to_numpy()
    bad = np.flatnonzero((cov < 0) | (cov > 1))
    if bad.size:
        raise DataError(
            f"column 'coverage': outside [0, 1] in rows {bad[:8].tolist()} (values "
            f"{cov[bad[:4]].tolist()}). Coverage is a fraction, not a percentage."
        )
    dup = frame.duplicated(["model", "k"], keep=False).to_numpy()
    if dup.any():
        raise DataError(
            f"columns 'model', 'k': rows {np.flatnonzero(dup)[:8].tolist()} repeat a "
            "(model, k) pair; give each pair one coverage value."
        )
    if "n_problems" not in frame:
        frame["n_problems"] = -1
    return frame.sort_values(["model", "k"], kind="stable").reset_index(drop=True)


def empirical_exponent(
    points: pd.DataFrame,
    *,
    k_range: tuple[float, float] | None = None,
) -> pd.Series:
    r"""Least-squares slope of :math:`-\log(1 - \hat C)` against :math:`\log k`, per model.

    .. math::

        \hat e_m = -\frac{\sum_i (x_i - \bar x)(y_i - \bar y)}{\sum_i (x_i - \bar x)^2},
        \quad x_i = \log k_i,\ y_i = \log\bigl(1 - \hat C_m(k_i)\bigr),

    over the points with :math:`k` in ``k_range`` (default: the last decade before the
    largest :math:`k` of each model, :math:`[k_\max/100, k_\max/10]`, which leaves out
    the points near :math:`k = n`, where the estimate of problems with few correct
    attempts reaches its ceiling). This is the *apparent* local exponent of the raw loss:
    with never-solved problems the loss flattens towards :math:`\pi`, so it is smaller
    than the asymptotic exponent of the excess loss of a law with a ceiling.

    Parameters
    ----------
    points
        Output of :func:`coverage_points` (``model``, ``k``, ``coverage``).
    k_range
        ``(k_lo, k_hi)``, inclusive.

    Returns
    -------
    pandas.Series
        Exponent per model (NaN with fewer than two points in the window).
    """
    out = {}
    for model, g in points.groupby("model", sort=False):
        k = g["k"].to_numpy(dtype=float)
        lo, hi = k_range if k_range is not None else (k.max() / 100, k.max() / 10)
        sel = (k >= lo) & (k <= hi) & (g["coverage"].to_numpy() < 1)
        if sel.sum() < 2:
            out[str(model)] = np.nan
            continue
        x = np.log(k[sel])
        y = np.log1p(-g["coverage"].to_numpy(dtype=float)[sel])
        out[str(model)] = -float(np.polyfit(x, y, 1)[0])
    return pd.Series(out, name="empirical_exponent")


# -- specification ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CoverageLawSpec:
    """What was fitted: the law, the scale of the likelihood and the priors.

    ``space`` and ``metric`` let :func:`bayescale.compare` check that fits are of the same
    observations (it compares ``fit.spec.space`` and ``fit.metric``).
    """

    law: str
    priors: dict[str, tuple[float, float]]
    #: Mean of log k over the fitted points (centre of the Brown laws' parameterisation).
    log_k_centre: float
    sigma_floor: float = 0.01
    space: str = "logit"


# -- the PyMC model --------------------------------------------------------------------------
def _build_model(data: xr.Dataset, spec: CoverageLawSpec) -> pm.Model:
    import pymc as pm
    import pytensor.tensor as pt

    law, pri = spec.law, spec.priors
    models = data[dims.MODEL].values
    m_idx = data["model_idx"].values
    log_k = np.log(data["k"].values.astype(float))
    coords = {dims.MODEL: models, dims.OBS: data[dims.OBS].values}
    with pm.Model(coords=coords) as model:
        log_e = pm.Normal("log_exponent", *pri["log_exponent"], dims=dims.MODEL)
        exponent = pm.Deterministic("exponent", pt.exp(log_e), dims=dims.MODEL)
        e = exponent[m_idx]
        if law.startswith("beta"):
            # coverage at k = 1, C(1) = (1 - pi) mu, is what the small-k points fix
            logit_c1 = pm.Normal("logit_c1", *pri["logit_c1"], dims=dims.MODEL)
            if LAWS[law]:
                # pi = (1 - C(1)) expit(z) keeps mu = C(1) / (1 - pi) in (0, 1)
                z = pm.Normal("logit_pi", *pri["logit_pi"], dims=dims.MODEL)
                log_1m_c1 = -pt.softplus(logit_c1)
                log_pi_m = log_1m_c1 - pt.softplus(-z)
                pi_m = pt.exp(log_pi_m)
                log_1m_pi_m = pt.log1p(-pi_m)
                # 1 - pi - C(1) = (1 - C(1)) (1 - expit(z)), so logit mu = logit C(1) + softplus(z)
                logit_mu = logit_c1 + pt.softplus(z)
            else:
                logit_mu = logit_c1
            pm.Deterministic("mean_p", pt.sigmoid(logit_mu), dims=dims.MODEL)
            # b = a (1 - mu) / mu
            b_m = pm.Deterministic("b", pt.exp(log_e - logit_mu), dims=dims.MODEL)
            pm.Deterministic("a", exponent, dims=dims.MODEL)
            a, b = e, b_m[m_idx]
            kk = pt.as_tensor(np.exp(log_k))
            # log(1 - C) of the solvable problems: log B(a, b + k) - log B(a, b)
            log_fail = (
                pt.gammaln(b + kk) - pt.gammaln(a + b + kk) + pt.gammaln(a + b) - pt.gammaln(b)
            )
            log_cov = pt.log(-pt.expm1(log_fail))
        else:
            log_rate = pm.Normal("log_rate", *pri["log_rate"], dims=dims.MODEL)
            pm.Deterministic("b", exponent, dims=dims.MODEL)
            # c = -exp(log_rate + b * centre)
            pm.Deterministic("c", -pt.exp(log_rate + exponent * spec.log_k_centre), dims=dims.MODEL)
            # -log C = exp(log_rate - b (log k - centre))
            neg_log_cov = pt.exp(log_rate[m_idx] - e * (log_k - spec.log_k_centre))
            log_cov = -neg_log_cov
            log_fail = pt.log(-pt.expm1(-neg_log_cov))
        if LAWS[law]:
            if law.startswith("beta"):
                log_pi_all, log_1m_pi_all = log_pi_m, log_1m_pi_m
            else:
                logit_pi = pm.Normal("logit_pi", *pri["logit_pi"], dims=dims.MODEL)
                log_pi_all, log_1m_pi_all = -pt.softplus(-logit_pi), -pt.softplus(logit_pi)
            pm.Deterministic("pi", pt.exp(log_pi_all), dims=dims.MODEL)
            pm.Deterministic("ceiling", pt.exp(log_1m_pi_all), dims=dims.MODEL)
            log_pi, log_1m_pi = log_pi_all[m_idx], log_1m_pi_all[m_idx]
            # C = (1 - pi) C0;  1 - C = pi + (1 - pi)(1 - C0)
            mean = log_1m_pi + log_cov - pt.logaddexp(log_pi, log_1m_pi + log_fail)
        else:
            mean = log_cov - log_fail
        pm.Deterministic("logit_coverage", mean, dims=dims.OBS)
        log_sigma = pm.Normal("log_sigma", *pri["log_sigma"], dims=dims.MODEL)
        floor2 = spec.sigma_floor**2
        sigma = pm.Deterministic("sigma", pt.sqrt(floor2 + pt.exp(2 * log_sigma)), dims=dims.MODEL)
        pm.Normal(OBSERVED, mean, sigma[m_idx], observed=data[OBSERVED].values, dims=dims.OBS)
    return model


# -- the result ------------------------------------------------------------------------------
@dataclass
class CoverageLawFit:
    """A coverage law fitted to the coverage curves of one or more models.

    Attributes
    ----------
    idata : xarray.DataTree
        ``posterior`` (free parameters and ``exponent``, ``a``/``b``/``c``, ``pi``,
        ``ceiling``, ``sigma``, ``logit_coverage``), ``sample_stats``,
        ``log_likelihood`` (``y`` over ``obs``, one entry per model and k),
        ``observed_data`` (``y``, the logit of the empirical coverage).
    spec : CoverageLawSpec
        Law, priors, centre of :math:`\\log k`, likelihood scale (``"logit"``).
    data : xarray.Dataset
        The fitted points along ``obs``: ``model_label``, ``model_idx``, ``k``,
        ``coverage``, ``y``; and ``n_problems`` along ``model``.
    diagnostics : Diagnostics
        Divergences, R-hat and bulk ESS (:func:`~bayescale.core.diagnostics.check_convergence`).
    notes : list of str
        What was dropped or changed on the way (never silently).
    sampler : dict
        NUTS settings.
    metric : str
        ``"coverage"`` (read by :func:`bayescale.compare`).
    """

    idata: xr.DataTree
    spec: CoverageLawSpec
    data: xr.Dataset
    diagnostics: Diagnostics
    notes: list[str] = field(default_factory=list)
    sampler: dict[str, Any] = field(default_factory=dict)
    metric: str = "coverage"

    @property
    def law(self) -> str:
        """Name of the fitted law."""
        return self.spec.law

    @property
    def models(self) -> list[str]:
        """Model labels, in the order of the ``model`` dimension."""
        return [str(m) for m in self.data[dims.MODEL].values]

    def draws(self, name: str) -> np.ndarray:
        """Posterior draws of a per-model variable, shape ``(chain * draw, model)``."""
        post = self.idata["posterior"].dataset
        if name not in post:
            raise SpecificationError(
                f"law {self.law!r} has no parameter {name!r}; it has {sorted(map(str, post))}"
            )
        da = post[name].stack(sample=dims.SAMPLE_DIMS).transpose("sample", ...)
        return np.asarray(da.values, dtype=float)

    def _params(self, m: int) -> dict[str, np.ndarray]:
        names = ["a", "b"] if self.law.startswith("beta") else ["b", "c"]
        if LAWS[self.law]:
            names.append("pi")
        return {n: self.draws(n)[:, m] for n in names}

    def _model_positions(self, models: Sequence[str] | str | None) -> list[int]:
        if models is None:
            return list(range(len(self.models)))
        wanted = [models] if isinstance(models, str) else list(models)
        unknown = [m for m in wanted if m not in self.models]
        if unknown:
            raise SpecificationError(f"unknown model(s) {unknown}; the fit has {self.models}")
        return [self.models.index(m) for m in wanted]

    def coverage(
        self,
        k: float | Sequence[float] | np.ndarray,
        ci: float = 0.9,
        *,
        models: Sequence[str] | str | None = None,
        predictive: bool = False,
        seed: int = 0,
    ) -> pd.DataFrame:
        r"""Forecast coverage at any :math:`k > 0` with an equal-tailed credible interval.

        Parameters
        ----------
        k
            Attempts (reals; :math:`10^6` and beyond are fine).
        ci
            Probability of the interval (equal-tailed).
        models
            Model labels (default: all).
        predictive
            Add the observation noise: draws of
            :math:`\operatorname{expit}(\operatorname{logit} C(k) + \sigma_m \varepsilon)`,
            the distribution of a new empirical coverage point of the same kind as the
            fitted ones, instead of the law's curve :math:`C(k)` itself.
        seed
            Random seed of the noise draws (``predictive=True``).

        Returns
        -------
        pandas.DataFrame
            ``model``, ``k``, ``mean``, ``median``, ``lower``, ``upper``.
        """
        if not 0 < ci < 1:
            raise SpecificationError(f"ci must be in (0, 1), got {ci!r}")
        kk = np.atleast_1d(np.asarray(k, dtype=float))
        if not np.all(np.isfinite(kk) & (kk > 0)):
            raise SpecificationError(f"k must be positive and finite, got {kk.tolist()}")
        rng = np.random.default_rng(seed)
        q = [(1 - ci) / 2, 0.5, (1 + ci) / 2]
        rows = []
        for m in self._model_positions(models):
            cov = coverage_law(self.law, self._params(m), kk)
            if predictive:
                sigma = self.draws("sigma")[:, m][:, None]
                z = logit(np.clip(cov, 1e-300, 1 - 1e-16))
                cov = expit(z + sigma * rng.standard_normal(cov.shape))
            lo, med, hi = np.quantile(cov, q, axis=0)
            rows.append(
                pd.DataFrame(
                    {
                        "model": self.models[m],
                        "k": kk,
                        "mean": cov.mean(axis=0),
                        "median": med,
                        "lower": lo,
                        "upper": hi,
                    }
                )
            )
        return pd.concat(rows, ignore_index=True)

    def exponent(self, ci: float = 0.9) -> pd.DataFrame:
        r"""Power-law exponent of the inference loss per model, with a credible interval.

        :math:`a` for the Beta laws (:math:`1 - C(k) - \pi \propto k^{-a}` for large
        :math:`k`), :math:`b` for the Brown laws (:math:`1 - C(k) - \pi \propto k^{-b}`).

        Returns
        -------
        pandas.DataFrame
            Index ``model``; ``mean``, ``median``, ``lower``, ``upper`` (equal-tailed).
        """
        return self._summary("exponent", ci)

    def summary(self, ci: float = 0.9) -> pd.DataFrame:
        """Posterior mean, median and interval of every per-model parameter (long frame)."""
        names = ["exponent", "a", "b"] if self.law.startswith("beta") else ["exponent", "b", "c"]
        if LAWS[self.law]:
            names += ["pi", "ceiling"]
        names.append("sigma")
        frames = [self._summary(n, ci).assign(parameter=n) for n in names]
        return pd.concat(frames).reset_index().set_index(["parameter", "model"])

    def _summary(self, name: str, ci: float) -> pd.DataFrame:
        if not 0 < ci < 1:
            raise SpecificationError(f"ci must be in (0, 1), got {ci!r}")
        d = self.draws(name)
        lo, med, hi = np.quantile(d, [(1 - ci) / 2, 0.5, (1 + ci) / 2], axis=0)
        return pd.DataFrame(
            {"mean": d.mean(axis=0), "median": med, "lower": lo, "upper": hi},
            index=pd.Index(self.models, name="model"),
        )

    def __repr__(self) -> str:
        return (
            f"<CoverageLawFit law={self.law!r} models={len(self.models)} "
            f"points={self.data.sizes[dims.OBS]} {self.diagnostics}>"
        )


# -- fitting ---------------------------------------------------------------------------------
def fit_coverage_law(
    counts: str | os.PathLike[str] | pd.DataFrame | xr.Dataset,
    law: str = "beta_zi",
    *,
    k: Sequence[int] | np.ndarray | None = None,
    k_max: float | None = None,
    priors: Mapping[str, tuple[float, float]] | None = None,
    sigma_floor: float = 0.01,
    seed: int = 0,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    nuts_sampler: str = "nutpie",
    target_accept: float = 0.95,
    progressbar: bool = False,
    warn_convergence: bool = True,
    **sampler_kwargs: Any,
) -> CoverageLawFit:
    r"""Fit a coverage law to each model's empirical coverage curve with NUTS.

    .. math::

        \operatorname{logit} \hat C_m(k_i) \sim
        \mathcal N\bigl(\operatorname{logit} C_{\text{law}}(k_i; \theta_m), \sigma_m\bigr)

    (module docstring: laws, priors, parameterisation, the caveat on LOO).

    Parameters
    ----------
    counts
        Per-problem counts (DataFrame or CSV path: ``model``, ``problem``,
        ``n_samples``, ``n_correct``), the Dataset of
        :func:`~bayescale.passk.validate_counts`, or coverage points (DataFrame with
        ``model``, ``k``, ``coverage``).
    law
        ``"beta"``, ``"beta_zi"``, ``"brown"`` or ``"brown_ceiling"`` (:data:`LAWS`).
    k
        Attempts at which the empirical coverage is computed (default 1, 2, 4, ...,
        ``n_samples``); see :func:`coverage_points`.
    k_max
        Fit only the points with ``k <= k_max`` (to back-test extrapolation).
    priors
        Overrides of :data:`DEFAULT_PRIORS`, e.g. ``{"logit_pi": (-2.0, 1.0)}``.
    sigma_floor
        Smallest observation noise on the logit scale: the likelihood's scale is
        :math:`\sqrt{\sigma_0^2 + \sigma_m^2}` with :math:`\sigma_0` = ``sigma_floor``
        (reported as ``sigma``). A law describes the population of problems, which a
        curve of a hundred-odd problems follows to about 1 % at best; without the floor, a
        few smooth points (a fit on k <= 100) drive :math:`\sigma_m` to 0.002 and the
        posterior of a law with a ceiling into a narrow curved ridge NUTS cannot follow
        (54-780 divergences, R-hat up to 1.6 on the Pythia data).
    seed, draws, tune, chains, nuts_sampler, target_accept, progressbar
        NUTS settings, passed to :func:`pymc.sample` (``**sampler_kwargs`` too). The
        default ``target_accept=0.95`` is measured: 0.9 left divergences in fits of the
        ceiling laws on short curves.
    warn_convergence
        Warn (:class:`~bayescale.core.errors.ConvergenceWarning`) when diagnostics fall short.

    Returns
    -------
    CoverageLawFit

    Raises
    ------
    SpecificationError
        Unknown law or prior name, or a bad prior.
    DataError
        Invalid counts or points, or no point left with coverage strictly between 0 and 1.
    """
    _check_law(law)
    pri = dict(DEFAULT_PRIORS)
    for name, value in (priors or {}).items():
        if name not in DEFAULT_PRIORS:
            raise SpecificationError(
                f"unknown prior {name!r}; the priors are {sorted(DEFAULT_PRIORS)}"
            )
        mu, sd = (float(v) for v in value)
        if not (np.isfinite(mu) and np.isfinite(sd) and sd > 0):
            raise SpecificationError(f"prior {name!r} needs (mean, sd > 0), got {value!r}")
        pri[name] = (mu, sd)
    points = coverage_points(counts, k=k, k_max=k_max)
    data, notes = _points_dataset(points)
    for note in notes:
        warnings.warn(note, CoverageLawWarning, stacklevel=2)
    if not (np.isfinite(sigma_floor) and sigma_floor >= 0):
        raise SpecificationError(f"sigma_floor must be >= 0, got {sigma_floor!r}")
    spec = CoverageLawSpec(
        law=law,
        priors=pri,
        log_k_centre=float(np.mean(np.log(data["k"].values))),
        sigma_floor=float(sigma_floor),
    )
    model = _build_model(data, spec)
    idata = sample_posterior(
        model,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        nuts_sampler=nuts_sampler,
        target_accept=target_accept,
        progressbar=progressbar,
        log_likelihood=[OBSERVED],
        **sampler_kwargs,
    )
    idata["fit_data"] = data
    free = ["log_exponent", "log_sigma"]
    free += ["logit_c1"] if law.startswith("beta") else ["log_rate"]
    free += ["logit_pi"] if LAWS[law] else []
    diag = check_convergence(idata, var_names=free, warn=warn_convergence)
    sampler = {
        "nuts_sampler": nuts_sampler,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "target_accept": target_accept,
        "seed": seed,
    }
    return CoverageLawFit(idata, spec, data, diag, notes=notes, sampler=sampler)


def _points_dataset(points: pd.DataFrame) -> tuple[xr.Dataset, list[str]]:
    cov = points["coverage"].to_numpy(dtype=float)
    edge = (cov <= 0) | (cov >= 1)
    notes = []
    if edge.any():
        dropped = points[edge]
        listing = ", ".join(
            f"{r.model} k={r.k:g} (coverage {r.coverage:g})" for r in dropped.head(8).itertuples()
        )
        more = f" and {len(dropped) - 8} more" if len(dropped) > 8 else ""
        notes.append(
            f"dropped {len(dropped)} of {len(points)} coverage points with coverage 0 or 1, "
            f"which have no logit: {listing}{more}. A model that solves nothing at small k, "
            "or every problem at large k, is only partly described by its other points."
        )
    kept = points[~edge].reset_index(drop=True)
    if kept.empty:
        raise DataError(
            "no coverage point is strictly between 0 and 1, so no law can be fitted on the "
            "logit scale (every model solves nothing, or everything, at every k)."
        )
    labels = list(pd.unique(kept["model"]))
    thin = [m for m in labels if (kept["model"] == m).sum() < 3]
    if thin:
        notes.append(
            f"model(s) {thin} have fewer than 3 coverage points: their parameters come "
            "mostly from the priors."
        )
    n_problems = kept.groupby("model", sort=False)["n_problems"].first().reindex(labels)
    k_vals = kept["k"].to_numpy(dtype=float)
    obs_labels = [f"{m} k={kv:g}" for m, kv in zip(kept["model"], k_vals, strict=True)]
    ds = xr.Dataset(
        {
            "model_label": (dims.OBS, kept["model"].to_numpy(dtype=str)),
            "model_idx": (dims.OBS, pd.Index(labels).get_indexer(kept["model"]).astype(np.int64)),
            "k": (dims.OBS, k_vals),
            "coverage": (dims.OBS, kept["coverage"].to_numpy(dtype=float)),
            OBSERVED: (dims.OBS, logit(kept["coverage"].to_numpy(dtype=float))),
            "n_problems": (dims.MODEL, n_problems.to_numpy(dtype=np.int64)),
        },
        coords={dims.OBS: np.asarray(obs_labels, dtype=str), dims.MODEL: np.asarray(labels)},
        attrs={"notes": "; ".join(notes)},
    )
    return ds, notes


# -- comparison ------------------------------------------------------------------------------
def compare_coverage_laws(fits: Mapping[str, CoverageLawFit], **kwargs: Any) -> Comparison:
    """Rank coverage-law fits by PSIS-LOO ELPD (pointwise over model x k) and weight them.

    A thin wrapper of :func:`bayescale.compare` (a checked :func:`arviz.compare`): it
    raises :class:`~bayescale.core.errors.SpecificationError` unless every fit has the same
    points (same models, same k, same observed logit coverage). ``.table`` is the
    :func:`arviz.compare` frame (``elpd``, ``se``, ``elpd_diff``, ``dse``, ``weight``...).
    The ELPDs are of :math:`\\operatorname{logit}\\hat C` and approximate: see the caveat
    in the module docstring.

    Parameters
    ----------
    fits
        Fits by name (at least two), e.g. ``{"beta": fit_b, "brown": fit_br}``.
    **kwargs
        Passed to :func:`bayescale.compare` (``method``, ``pareto_k_max``, ``warn``...).
    """
    from bayescale.compare import compare

    bad = [name for name, f in fits.items() if not isinstance(f, CoverageLawFit)]
    if bad:
        raise SpecificationError(
            f"compare_coverage_laws takes CoverageLawFit results; {bad} are not (use "
            "bayescale.compare for scaling-law fits)"
        )
    return compare(cast(Any, fits), **kwargs)
