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
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import betaln, expit, logit

from bayescale.core import dims
from bayescale.core.diagnostics import Diagnostics, check_convergence
from bayescale.core.errors import SpecificationError
from bayescale.core.intervals import check_ci_prob, interval_table
from bayescale.core.results import FitResult
from bayescale.core.sampling import Sampler, run_nuts
from bayescale.passk.points import coverage_points, empirical_exponent, points_dataset

if TYPE_CHECKING:
    import pymc as pm
    from matplotlib.figure import Figure

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
#: Group of the saved DataTree that holds the fitted points.
DATA_GROUP = "fit_data"


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
class CoverageLawFit(FitResult):
    r"""A coverage law fitted to the coverage curves of one or more models.

    Attributes
    ----------
    idata : xarray.DataTree
        ``posterior`` (free parameters and ``exponent``, ``a``/``b``/``c``, ``pi``,
        ``ceiling``, ``sigma``, ``logit_coverage``), ``sample_stats``,
        ``log_likelihood`` (``y`` over ``obs``, one entry per model and k),
        ``observed_data`` (``y``, the logit of the empirical coverage) and ``fit_data``.
    spec : CoverageLawSpec
        Law, priors, centre of :math:`\log k`, likelihood scale (``"logit"``).
    data : xarray.Dataset
        The fitted points along ``obs``: ``model_label``, ``model_idx``, ``k``,
        ``coverage``, ``y``; and ``n_problems`` along ``model``.
    diagnostics : Diagnostics
        Divergences, R-hat and bulk ESS (:func:`~bayescale.core.diagnostics.check_convergence`).
    notes : list of str
        What was dropped or changed on the way (never silently).
    sampler : dict
        NUTS settings of the last run.
    metric : str
        ``"coverage"`` (read by :func:`bayescale.compare`).
    """

    kind = "coverage_law"

    def __init__(
        self,
        idata: xr.DataTree,
        spec: CoverageLawSpec,
        data: xr.Dataset,
        diagnostics: Diagnostics | None,
        *,
        notes: Sequence[str] = (),
        sampler: Mapping[str, Any] | None = None,
        metric: str = "coverage",
    ) -> None:
        self.idata = idata
        self.spec = spec
        self.data = data
        self.diagnostics = diagnostics
        self.notes = list(notes)
        self.sampler = dict(sampler or {})
        self.metric = metric

    @property
    def law(self) -> str:
        """Name of the fitted law."""
        return self.spec.law

    @property
    def models(self) -> list[str]:
        """Model labels, in the order of the ``model`` dimension."""
        return [str(m) for m in self.data[dims.MODEL].values]

    def title(self) -> str:
        return (
            f"CoverageLawFit: law {self.law!r} of {len(self.models)} model(s), "
            f"{self.data.sizes[dims.OBS]} coverage points (logit scale)"
        )

    def observation_info(self) -> dict[str, str]:
        return {"metric": self.metric, "space": self.spec.space}

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

    def coverage_draws(
        self,
        k: float | Sequence[float] | np.ndarray,
        *,
        models: Sequence[str] | str | None = None,
        predictive: bool = False,
        seed: int = 0,
    ) -> xr.DataArray:
        r"""Posterior draws of coverage at any :math:`k > 0`, dims ``(chain, draw, model, k)``.

        Parameters
        ----------
        k
            Attempts (reals; :math:`10^6` and beyond are fine).
        models
            Model labels (default: all).
        predictive
            Add the observation noise: draws of
            :math:`\operatorname{expit}(\operatorname{logit} C(k) + \sigma_m \varepsilon)`,
            the distribution of a new empirical coverage point of the same kind as the
            fitted ones, instead of the law's curve :math:`C(k)` itself.
        seed
            Random seed of the noise draws (``predictive=True``).
        """
        kk = np.atleast_1d(np.asarray(k, dtype=float))
        if not np.all(np.isfinite(kk) & (kk > 0)):
            raise SpecificationError(f"k must be positive and finite, got {kk.tolist()}")
        rng = np.random.default_rng(seed)
        positions = self._model_positions(models)
        post = self.idata["posterior"].dataset
        shape = (post.sizes["chain"], post.sizes["draw"], kk.size)
        out = np.empty((len(positions), *shape))
        for i, m in enumerate(positions):
            cov = coverage_law(self.law, self._params(m), kk)
            if predictive:
                sigma = self.draws("sigma")[:, m][:, None]
                z = logit(np.clip(cov, 1e-300, 1 - 1e-16))
                cov = expit(z + sigma * rng.standard_normal(cov.shape))
            out[i] = cov.reshape(shape)
        return xr.DataArray(
            np.moveaxis(out, 0, 2),
            dims=("chain", "draw", dims.MODEL, dims.K),
            coords={
                "chain": post["chain"].values,
                "draw": post["draw"].values,
                dims.MODEL: [self.models[m] for m in positions],
                dims.K: kk,
            },
            name="new_point" if predictive else "coverage",
        )

    def coverage(
        self,
        k: float | Sequence[float] | np.ndarray,
        *,
        ci_prob: float = 0.9,
        models: Sequence[str] | str | None = None,
        predictive: bool = False,
        seed: int = 0,
    ) -> pd.DataFrame:
        r"""Forecast coverage at any :math:`k > 0` with an equal-tailed credible interval.

        Parameters
        ----------
        k, models, predictive, seed
            As :meth:`coverage_draws`.
        ci_prob
            Probability of the interval (equal-tailed).

        Returns
        -------
        pandas.DataFrame
            ``model``, ``k``, then :data:`~bayescale.core.intervals.FORECAST_COLUMNS`;
            ``quantity`` is ``"coverage"`` (the law's curve) or, with
            ``predictive=True``, ``"new_point"``.
        """
        p = check_ci_prob(ci_prob)
        draws = self.coverage_draws(k, models=models, predictive=predictive, seed=seed)
        return interval_table(draws, ci_prob=p)

    def exponent(self, *, ci_prob: float = 0.9) -> pd.DataFrame:
        r"""Power-law exponent of the inference loss per model, with a credible interval.

        :math:`a` for the Beta laws (:math:`1 - C(k) - \pi \propto k^{-a}` for large
        :math:`k`), :math:`b` for the Brown laws (:math:`1 - C(k) - \pi \propto k^{-b}`).

        Returns
        -------
        pandas.DataFrame
            ``model``, then :data:`~bayescale.core.intervals.FORECAST_COLUMNS`
            (``quantity == "exponent"``, equal-tailed interval).
        """
        return interval_table(self.idata["posterior"].dataset["exponent"], ci_prob=ci_prob)

    def parameter_names(self) -> list[str]:
        """Reported per-model variables: the exponent, the law's parameters, the ceiling
        (laws with one) and the noise scale."""
        names = ["exponent", "a", "b"] if self.law.startswith("beta") else ["exponent", "b", "c"]
        if LAWS[self.law]:
            names += ["pi", "ceiling"]
        return [*names, "sigma"]

    def summary(
        self, *, ci_prob: float = 0.9, var_names: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Posterior summary (:func:`arviz.summary`, equal-tailed ``ci_prob`` intervals) of
        :meth:`parameter_names` (or ``var_names``), one row per parameter and model."""
        import arviz as az

        return az.summary(
            self.idata,
            var_names=list(var_names or self.parameter_names()),
            ci_prob=check_ci_prob(ci_prob),
            ci_kind="eti",
            round_to="none",
        )

    def plot(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Figure:
        """The law with credible bands over the coverage points
        (:func:`~bayescale.passk.plotting.plot_coverage_law`; ``**kwargs`` go there)."""
        from bayescale.passk.plotting import plot_coverage_law

        return plot_coverage_law(self, path=path, **kwargs)

    def _state(self) -> dict[str, Any]:
        return {"spec": asdict(self.spec), "sampler": self.sampler, "metric": self.metric}

    @classmethod
    def _from_tree(cls, tree: xr.DataTree, state: Mapping[str, Any]) -> CoverageLawFit:
        raw = dict(state["spec"])
        raw["priors"] = {k: (float(v[0]), float(v[1])) for k, v in raw["priors"].items()}
        spec = CoverageLawSpec(**raw)
        data = tree[DATA_GROUP].dataset.copy()
        result = cls(
            tree,
            spec,
            data,
            None,
            sampler=state.get("sampler"),
            metric=str(state.get("metric", "coverage")),
        )
        result.diagnostics = check_convergence(tree, var_names=_free_names(spec.law), warn=False)
        return result

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
    extend_if_slow: bool = True,
    sampler: Sampler | None = None,
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
    seed
        Seed of the first NUTS run (a rerun ``i`` uses ``seed + i``).
    draws, tune, chains, nuts_sampler, progressbar
        NUTS settings (per chain), passed to :func:`bayescale.core.sampling.run_nuts`.
    target_accept
        NUTS target acceptance rate. The default 0.95 is measured: 0.9 left divergences
        in fits of the ceiling laws on short curves.
    warn_convergence
        Warn (:class:`~bayescale.core.errors.ConvergenceWarning`) when diagnostics fall short.
    extend_if_slow
        On slow mixing without divergences, sample once more with twice ``tune`` and
        ``draws`` (bayescale's retry policy, :mod:`bayescale.core.sampling`; noted in
        ``fit.notes``).
    sampler
        Draws instead of NUTS (a :class:`~bayescale.core.sampling.Sampler`; tests pass
        prior draws).
    **sampler_kwargs
        ``nuts={...}`` and ``cores``; other options go to :func:`pymc.sample`.

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
    data, notes = points_dataset(points)
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
    nuts = dict(sampler_kwargs.pop("nuts", None) or {})
    cores = sampler_kwargs.pop("cores", None)
    idata, run = run_nuts(
        model,
        check_vars=_free_names(spec.law),
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        target_accept=target_accept,
        progressbar=progressbar,
        nuts_sampler=nuts_sampler,
        nuts=nuts,
        cores=cores,
        extend_if_slow=extend_if_slow,
        log_likelihood=[OBSERVED],
        sampler=sampler,
        notes=notes,
        **sampler_kwargs,
    )
    idata[DATA_GROUP] = data
    diag = check_convergence(idata, var_names=_free_names(law), warn=warn_convergence)
    return CoverageLawFit(idata, spec, data, diag, notes=notes, sampler=run.as_dict())


def _free_names(law: str) -> list[str]:
    """The sampled parameters of ``law`` (whose diagnostics decide a rerun)."""
    free = ["log_exponent", "log_sigma"]
    free += ["logit_c1"] if law.startswith("beta") else ["log_rate"]
    return free + (["logit_pi"] if LAWS[law] else [])


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
