"""Fit a scaling law: data -> model -> MCMC -> :class:`ScalingFit`; save and load fits.

:func:`fit` validates the data, resolves the law, pooling and priors, builds the model
with :func:`bayescale.scaling.model.build_model`, samples with NUTS, adds the log-likelihood and
posterior predictive groups, checks convergence and returns a :class:`ScalingFit`.
A fit saved with :meth:`ScalingFit.save` is one NetCDF file holding the posterior, the
training data and the specification; :func:`load` gives back a fit that forecasts
identically.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core import dims
from bayescale.core.diagnostics import Diagnostics, check_convergence
from bayescale.core.errors import FitFileError, SpecificationError
from bayescale.core.intervals import quantiles
from bayescale.core.results import FitResult
from bayescale.core.results import load as load_any
from bayescale.core.sampling import ADAPTATIONS, SAMPLERS, Sampler, run_nuts
from bayescale.scaling import predictive
from bayescale.scaling.data import has_run_effects, validate
from bayescale.scaling.discrepancy import (
    DISCREPANCY_REFERENCE,
    POPULATION_GROUP,
    DiscrepancyFit,
    load_population,
)
from bayescale.scaling.forecast import (
    PointsLike,
    forecast_draws,
    summarise,
    warn_outside_ratio_range,
)
from bayescale.scaling.laws import Law, get_law
from bayescale.scaling.model import (
    ModelSpec,
    build_model,
    config_index,
    has_replicates,
    structure_key,
)
from bayescale.scaling.predictive import closed_form_available
from bayescale.scaling.priors import (
    DataSummary,
    PriorSpec,
    default_prior,
    resolve_pooling,
    resolve_priors,
)
from bayescale.scaling.spread_calibration import SPREAD_GROUP

__all__ = ["ScalingFit", "fit", "load", "make_spec"]

_log = logging.getLogger("bayescale")

FORMAT_VERSION = 2
DATA_GROUP = "fit_data"
#: Group of a fit's DataTree holding the population draws of the learned discrepancy.
DISCREPANCY_GROUP = POPULATION_GROUP


def make_spec(
    ds: xr.Dataset,
    law: Law,
    *,
    pooling: Mapping[str, str] | str | None = None,
    priors: Mapping[str, PriorSpec | Mapping[str, float]] | None = None,
    likelihood: str = "normal",
    nu: float = 4.0,
    extrapolation_rate: float | None = None,
    run_effects: bool | None = None,
) -> ModelSpec:
    """Resolve defaults against validated data into a
    :class:`~bayescale.scaling.model.ModelSpec`."""
    summary = DataSummary.from_dataset(ds, law.inputs)
    resolved_pooling, notes = resolve_pooling(law, pooling, ds.sizes[dims.FAMILY])
    return ModelSpec(
        law=law.spec,
        pooling=resolved_pooling,
        priors=resolve_priors(law, summary, priors),
        summary=summary,
        likelihood=likelihood,
        nu=float(nu),
        space=str(ds.attrs["space"]),
        interval_prob=float(ds.attrs["interval_prob"]),
        config_effects=has_replicates(ds),
        run_effects=has_run_effects(ds) if run_effects is None else bool(run_effects),
        extrapolation_rate=None if extrapolation_rate is None else float(extrapolation_rate),
        notes=[n for n in [ds.attrs.get("notes", ""), *notes] if n],
    )


def _min_rows(law: Law, pooling: Mapping[str, str] | str | None) -> int:
    if isinstance(pooling, str) and pooling == "shared":
        return 1
    return 2


def fit(
    data: str | os.PathLike[str] | pd.DataFrame | xr.Dataset,
    law: str | Law = "chinchilla",
    *,
    metric: str | None = None,
    columns: Mapping[str, str] | None = None,
    pooling: Mapping[str, str] | str | None = None,
    priors: Mapping[str, PriorSpec | Mapping[str, float]] | None = None,
    likelihood: str = "normal",
    nu: float = 4.0,
    space: str = "log",
    interval_prob: float = 0.95,
    extrapolation_rate: float | None = None,
    discrepancy: str | os.PathLike[str] | DiscrepancyFit = DISCREPANCY_REFERENCE,
    run_effects: bool | None = None,
    prior: str | os.PathLike[str] | ScalingFit | None = None,
    seed: int | np.random.Generator | None = 0,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    nuts_sampler: str = "nutpie",
    target_accept: float = 0.95,
    progressbar: bool = True,
    posterior_predictive: bool = True,
    warn_convergence: bool = True,
    extend_if_slow: bool = True,
    sampler: Sampler | None = None,
    **sampler_kwargs: Any,
) -> ScalingFit:
    r"""Fit a scaling law to training runs with NUTS.

    Parameters
    ----------
    data
        Table in the long format (DataFrame or CSV path; see ``docs/data_format.md``) or a
        Dataset from :func:`bayescale.validate`.
    law
        ``"chinchilla"`` (:math:`E + A N^{-\alpha} + B D^{-\beta}`), ``"power_law"``,
        ``"power_law:compute"``, ``"broken_power_law"``... or a
        :class:`~bayescale.scaling.laws.Law`.
    metric
        Metric to fit when the table has several.
    columns
        The table's names for the long format's columns (``{"N": "params", "D": "tokens",
        "loss": "value"}``); common spellings are recognised without it
        (:func:`bayescale.scaling.data.standard_columns`, the fit's notes say which were read
        as what), and ``family`` may be left out for one family.
    pooling
        Per parameter (or per kind: ``exponent``, ``offset``, ``scale``, ``shape``):
        ``"shared"``, ``"pooled"`` or ``"independent"`` across families; one string sets
        every parameter. Default: exponents pooled, offsets and scales independent.
    priors
        Overrides of the default priors: ``{"alpha": {"mu": ..., "sigma": ...}}`` on the
        unconstrained scale (log for positive parameters), ``group_sigma`` for the
        population scale of a pooled parameter; ``"sigma"`` and ``"config_sigma"`` set the
        half-normal scales of the noise. See :mod:`bayescale.scaling.priors`.
    likelihood
        ``"normal"`` or ``"studentt"`` (robust to outlying runs, with ``nu`` degrees of
        freedom).
    space
        ``"log"`` (fit :math:`\log L`, default) or ``"linear"``.
    interval_prob
        Probability of the ``value_lo``/``value_hi`` intervals in the data.
    extrapolation_rate
        ``None`` (default): new-run forecasts carry the extrapolation discrepancy learned
        across sources from held-out larger runs (``discrepancy``, a mean drift and a
        spread that grow with the distance beyond the data, plus the spread of a
        separately trained run; :mod:`bayescale.scaling.discrepancy`). A number
        :math:`\lambda` instead adds a zero-mean error of sd :math:`\lambda d` per e-fold
        :math:`d` beyond the data (bayescale 0.1's default was 0.02); 0 turns it off.
        ``fit.spec`` records which was used.
    discrepancy
        The learned discrepancy: a reference name in ``models/`` (default
        ``"extrapolation_discrepancy"``), a folder or file, or a
        :class:`~bayescale.scaling.discrepancy.DiscrepancyFit`. Its population draws are
        stored with the fit, so a saved fit forecasts identically.
    run_effects
        Model a run-level offset shared by the checkpoints of one training run
        (``run_sigma``; :func:`bayescale.scaling.model.run_marginal_logp`). ``None`` (default):
        on when some run has several rows (intermediate checkpoints). Checkpoints of one
        run are correlated; without this they count as independent evidence.
    seed
        Random seed of the sampler and of the posterior predictive draws.
    draws, tune, chains
        NUTS settings (per chain).
    nuts_sampler
        ``"nutpie"`` (default), ``"pymc"``, ``"numpyro"`` or ``"blackjax"`` (when
        installed). With nutpie the compiled model is cached by structure and reused
        with new data (:mod:`bayescale.core.compiled`: a second law of the same shape costs
        only sampling), and the mass matrix adaptation is nutpie's ``"low_rank"``; pass
        ``nuts={"adaptation": "diag"}`` for the diagonal one. Other samplers go through
        :func:`pymc.sample`, as does nutpie when ``pm.sample`` was replaced (PyMC's
        ``mock_sample`` in tests) or options other than ``nuts``/``cores`` are given.
    target_accept
        NUTS target acceptance rate. The default 0.95 (PyMC's is 0.8) is a measured
        choice: the posterior of a scaling law has a curved ridge along (E, A, alpha)
        whose curvature grows sharply where E approaches the smallest observed loss; the
        remaining divergences sat there, and a smaller step size removed them
        (``docs/pooling.md``).
    progressbar
        Show sampling progress.
    posterior_predictive
        Draw the ``posterior_predictive`` group after sampling.
    warn_convergence
        Warn (:class:`~bayescale.core.errors.ConvergenceWarning`) when diagnostics fall short.
    extend_if_slow
        When R-hat or bulk ESS fall short *without* divergences (slow mixing along the
        E-A-alpha ridge, not bad geometry), sample once more with twice ``tune`` and
        ``draws``; ``fit.sampler["extended_after"]`` and ``fit.spec.notes`` record it.
        Divergences are never "fixed" by longer chains: they are reported. (Divergences
        with the default low-rank mass matrix do lead to one run with the diagonal one,
        see ``docs/diagnostics.md``; choosing ``nuts={"adaptation": ...}`` turns that off.)
    **sampler_kwargs
        ``nuts={...}`` (options of the NUTS implementation, e.g. ``max_treedepth``) and
        ``cores``; any other option (e.g. ``init=...``) is passed to :func:`pymc.sample`.

    Returns
    -------
    ScalingFit
    """
    law_obj = get_law(law)
    if nuts_sampler not in SAMPLERS:
        raise SpecificationError(f"nuts_sampler must be one of {SAMPLERS}, not {nuts_sampler!r}")
    adaptation = (sampler_kwargs.get("nuts") or {}).get("adaptation")
    if nuts_sampler == "nutpie" and adaptation is not None and adaptation not in ADAPTATIONS:
        raise SpecificationError(
            f"nuts={{'adaptation': {adaptation!r}}} is not a nutpie mass matrix adaptation; "
            f"use one of {ADAPTATIONS} (default: 'low_rank', with 'diag' on divergences)"
        )
    ds = validate(
        data,
        metric=metric,
        columns=columns,
        inputs=law_obj.inputs,
        space=space,
        min_rows_per_family=_min_rows(law_obj, pooling),
        interval_prob=interval_prob,
    )
    spec = make_spec(
        ds,
        law_obj,
        pooling=pooling,
        priors=priors,
        likelihood=likelihood,
        nu=nu,
        extrapolation_rate=extrapolation_rate,
        run_effects=run_effects,
    )
    population = None
    if extrapolation_rate is None:
        population = (
            discrepancy.population_draws()
            if isinstance(discrepancy, DiscrepancyFit)
            else load_population(discrepancy)
        )
        spec.discrepancy = (
            str(discrepancy) if not isinstance(discrepancy, DiscrepancyFit) else "given"
        )
    if prior is not None:
        _apply_reference_prior(spec, law_obj, prior, priors)
    model = build_model(ds, spec)
    import pymc as pm

    rng = np.random.default_rng(seed)
    sample_seed, pp_seed = rng.integers(2**31, size=2)
    nuts = dict(sampler_kwargs.pop("nuts", None) or {})
    cores = sampler_kwargs.pop("cores", None)
    idata, run = run_nuts(
        model,
        check_vars=lambda tree: ScalingFit(tree, spec, ds)._sampled_names(),
        draws=draws,
        tune=tune,
        chains=chains,
        seed=int(sample_seed),
        target_accept=target_accept,
        progressbar=progressbar,
        nuts_sampler=nuts_sampler,
        key=structure_key(ds, spec),
        nuts=nuts,
        cores=cores,
        extend_if_slow=extend_if_slow,
        sampler=sampler,
        notes=spec.notes,
        **sampler_kwargs,
    )
    sampler_info = run.as_dict()
    sampler_info["seed"] = None if isinstance(seed, np.random.Generator) else seed
    if cores is not None:
        sampler_info["cores"] = cores
    sampler_info.update(
        {k: v for k, v in sampler_kwargs.items() if isinstance(v, (int, float, str, bool))}
    )
    if population is not None:
        idata[DISCREPANCY_GROUP] = population
    result = ScalingFit(idata, spec, ds, sampler=sampler_info, model=model)
    # Post-processing must never lose the posterior: failures become warnings.
    try:
        if closed_form_available(spec):
            post = idata["posterior"].dataset
            idata["log_likelihood"] = predictive.log_likelihood(post, ds, spec)
            if posterior_predictive:
                idata["posterior_predictive"] = predictive.posterior_predictive(
                    post, ds, spec, seed=int(pp_seed)
                )
        else:
            with model:
                pm.compute_log_likelihood(idata, var_names=[dims.OBSERVED], progressbar=False)
                if spec.run_effects and spec.likelihood == "normal":
                    _log_likelihood_per_run(idata, ds)
                if posterior_predictive:
                    with _object_mode_expected():
                        pm.sample_posterior_predictive(
                            idata,
                            random_seed=int(pp_seed),
                            extend_inferencedata=True,
                            progressbar=False,
                        )
    except Exception as exc:
        warnings.warn(
            f"sampling finished but post-processing failed ({exc!r}); the posterior is kept",
            RuntimeWarning,
            stacklevel=2,
        )
    result._finish(warn=warn_convergence)
    return result


@contextlib.contextmanager
def _object_mode_expected() -> Iterator[None]:
    """Silence Numba's object-mode notice: the run-marginal likelihood draws in NumPy."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Numba will use object mode")
        yield


def _apply_reference_prior(
    spec: ModelSpec,
    law: Law,
    reference: str | os.PathLike[str] | ScalingFit,
    user: Mapping[str, Any] | None,
) -> None:
    """Replace the default exponent priors of ``spec`` by a reference population's."""
    from bayescale.scaling.reference import exponent_priors

    ref_priors = exponent_priors(reference, law, spec.pooling)
    chosen = {k: v for k, v in ref_priors.items() if k not in (user or {})}
    spec.priors.update(chosen)
    label = reference.spec.law if isinstance(reference, ScalingFit) else str(reference)
    text = ", ".join(
        f"{k} ~ logN({v.mu:.3f}, {v.sigma:.3f})"
        + (f", tau ~ HalfNormal({v.group_sigma:.3f})" if spec.pooling[k] == "pooled" else "")
        for k, v in chosen.items()
    )
    spec.notes.append(f"exponent priors from reference {label!r}: {text}")


def _log_likelihood_per_run(idata: xr.DataTree, ds: xr.Dataset) -> None:
    """Sum the pointwise log-likelihood over each run's rows (dim ``run``).

    With run offsets integrated out, a row's log-likelihood is a sequential conditional
    (:func:`bayescale.scaling.model.run_marginal_logp`); only its sum over a run is a meaningful
    unit, the run's joint density. PSIS-LOO on it leaves one run out.
    """
    ll = idata["log_likelihood"].dataset[dims.OBSERVED]
    run = xr.DataArray(ds["obs_run"].values, dims=dims.OBS, name=dims.RUN)
    per_run = ll.assign_coords({dims.OBS: ll[dims.OBS].values}).groupby(run).sum()
    per_run = per_run.sel({dims.RUN: ds[dims.RUN].values})
    idata["log_likelihood"] = xr.Dataset({dims.OBSERVED: per_run})


class ScalingFit(FitResult):
    """A fitted scaling law: posterior, data, specification and what to do with them.

    Attributes
    ----------
    idata : xarray.DataTree
        ArviZ DataTree with groups ``posterior``, ``sample_stats``, ``observed_data``,
        ``constant_data``, ``log_likelihood``, ``posterior_predictive`` (and ``prior``,
        ``prior_predictive`` after :meth:`prior_predictive`), plus ``fit_data``, the
        validated training data.
    spec : ModelSpec
        Law, pooling, priors, likelihood and data summary.
    data : xarray.Dataset
        The validated training data.
    diagnostics : Diagnostics
        Divergences, R-hat and ESS figures.
    notes : list of str
        What the fit decided on the user's behalf (``spec.notes``).
    """

    kind = "scaling"

    def __init__(
        self,
        idata: xr.DataTree,
        spec: ModelSpec,
        data: xr.Dataset,
        *,
        sampler: Mapping[str, Any] | None = None,
        model: Any = None,
    ) -> None:
        self.idata = idata
        self.spec = spec
        self.data = data
        self.sampler = dict(sampler or {})
        self._model = model
        self.diagnostics: Diagnostics | None = None

    # -- construction -----------------------------------------------------------------
    def _finish(self, *, warn: bool) -> None:
        """Add conventional parameters, the data group and attributes; run diagnostics."""
        post = self.idata["posterior"].dataset
        law = self.law
        theta = {p.name: post[p.name] for p in law.parameters}
        extra = law.conventional(theta, self.spec.summary.log_ref)
        extra = {k: v for k, v in extra.items() if k not in post}
        raw_names = self._sampled_names()
        if extra:
            post = post.assign(extra)
        post.attrs["metric"] = self.metric
        self.idata["posterior"] = post
        self.idata[DATA_GROUP] = self.data
        self.idata.attrs.update(
            {
                "bayescale_format": FORMAT_VERSION,
                "bayescale_spec": self.spec.to_json(),
                "bayescale_sampler": json.dumps(self.sampler),
            }
        )
        self.diagnostics = check_convergence(self.idata, var_names=raw_names, warn=warn)

    def _sampled_names(self) -> list[str]:
        post = self.idata["posterior"].dataset
        names = []
        for p in self.law.parameters:
            how = self.spec.pooling[p.name]
            if how == "pooled":
                names += [f"{p.raw_name}_mu", f"{p.raw_name}_tau", f"{p.raw_name}_offset"]
            else:
                names.append(p.raw_name)
        names += [
            n
            for n in ("sigma", "config_sigma", "config_offset", "run_sigma", "run_offset")
            if n in post
        ]
        return [n for n in names if n in post]

    # -- properties -------------------------------------------------------------------
    @property  # type: ignore[override]
    def notes(self) -> list[str]:
        return self.spec.notes

    @notes.setter
    def notes(self, value: list[str]) -> None:
        self.spec.notes = list(value)

    def title(self) -> str:
        return (
            f"ScalingFit: {self.spec.law} law of {self.metric!r}, families {self.families}, "
            f"{self.data.sizes[dims.OBS]} observations"
        )

    def observation_info(self) -> dict[str, str]:
        return {"metric": self.metric, "space": str(self.spec.space)}

    def report(self, *, ci_prob: float = 0.9) -> str:
        """Law, data, the posterior table with a legend, diagnostics and notes."""
        from bayescale.scaling.report import format_diagnostics, format_summary

        lines = [self.title(), "", format_summary(self, ci_prob=ci_prob), ""]
        lines.append(format_diagnostics(self.diagnostics) if self.diagnostics else "")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def observed(self) -> xr.DataArray:
        """The observed values the likelihood scores (the ``observed_data`` group)."""
        return self.idata["observed_data"].dataset[dims.OBSERVED]

    @property
    def law(self) -> Law:
        return self.spec.law_obj

    @property
    def metric(self) -> str:
        return str(self.data.attrs.get("metric", "value"))

    @property
    def families(self) -> list[str]:
        return [str(f) for f in self.data[dims.FAMILY].values]

    @property
    def posterior(self) -> xr.Dataset:
        return self.idata["posterior"].dataset

    def __repr__(self) -> str:
        return (
            f"<ScalingFit law={self.spec.law!r} metric={self.metric!r} "
            f"families={self.families} obs={self.data.sizes[dims.OBS]} "
            f"diagnostics: {self.diagnostics}>"
        )

    # -- summaries --------------------------------------------------------------------
    def parameter_names(self, *, conventional: bool = True, hyper: bool = True) -> list[str]:
        """Posterior variables worth reporting, in the law's order."""
        post = self.posterior
        names = [p.name for p in self.law.parameters]
        if conventional:
            names += [k for k in ("A", "B", "x_break") if k in post]
        if hyper:
            for p in self.law.parameters:
                if self.spec.pooling[p.name] == "pooled":
                    names += [f"{p.raw_name}_mu", f"{p.raw_name}_tau"]
            names += [n for n in ("sigma", "config_sigma", "run_sigma") if n in post]
        return [n for n in dict.fromkeys(names) if n in post]

    def summary(
        self,
        *,
        ci_prob: float = 0.9,
        ci_kind: str = "eti",
        var_names: Sequence[str] | None = None,
        round_to: str | int = "none",
    ) -> pd.DataFrame:
        """Posterior summary (ArviZ ``az.summary``) with an explicit interval.

        Parameters
        ----------
        ci_prob
            Probability of the credible interval (no ArviZ default is relied on).
        ci_kind
            ``"eti"`` (equal-tailed, default) or ``"hdi"``.
        var_names
            Variables (default: law parameters, conventional ones, population
            hyper-parameters and noise scales).
        """
        import arviz as az

        return az.summary(
            self.idata,
            var_names=list(var_names or self.parameter_names()),
            ci_prob=ci_prob,
            ci_kind=ci_kind,
            round_to=round_to,
        )

    # -- forecasts --------------------------------------------------------------------
    def forecast_draws(
        self, points: PointsLike, *, family: str | None = None, seed: int | None = 0
    ) -> xr.Dataset:
        """Posterior draws of the curve and of a new run at ``points`` (see
        :func:`bayescale.scaling.forecast.forecast_draws`)."""
        return self._forecast_draws(points, family=family, seed=seed)

    def _forecast_draws(
        self, points: PointsLike, *, family: str | None, seed: int | None
    ) -> xr.Dataset:
        """The draws of :meth:`forecast_draws` and :meth:`forecast`; an
        :class:`~bayescale.core.errors.ExtrapolationWarning` points at their caller."""
        population = (
            self.idata[DISCREPANCY_GROUP].dataset
            if DISCREPANCY_GROUP in self.idata.children
            else None
        )
        factor = (
            self.idata[SPREAD_GROUP].dataset["factor"].values
            if SPREAD_GROUP in self.idata.children
            else None
        )
        draws = forecast_draws(
            self.posterior,
            self.spec,
            points,
            fitted=self.families,
            family=family,
            seed=seed,
            discrepancy=population,
            spread_factor=factor,
        )
        warn_outside_ratio_range(self.data, draws, stacklevel=4)
        return draws

    def refit(self, data: Any, **options: Any) -> ScalingFit:
        """Fit the same model to other runs (e.g. a subset, for a back-test).

        Keeps this fit's law, pooling, likelihood, space, interval probability, run effects,
        extrapolation setting, sampler settings (draws, tune, chains, target acceptance,
        NUTS sampler, seed) and the priors that are not the data-driven defaults (those
        are recomputed from ``data``); ``options`` (keywords of :func:`fit`) override any
        of them.
        """
        spec, settings = self.spec, self.sampler or {}
        kwargs: dict[str, Any] = {
            "law": spec.law,
            "pooling": dict(spec.pooling),
            "priors": {
                name: prior
                for name, prior in spec.priors.items()
                if prior != default_prior(self.law, name, spec.summary)
            },
            "likelihood": spec.likelihood,
            "nu": spec.nu,
            "space": spec.space,
            "interval_prob": spec.interval_prob,
            "run_effects": spec.run_effects,
            "extrapolation_rate": spec.extrapolation_rate,
            "draws": int(settings.get("draws", 1000)),
            "tune": int(settings.get("tune", 1000)),
            "chains": int(settings.get("chains", 4)),
            "target_accept": float(settings.get("target_accept", 0.95)),
            "nuts_sampler": str(settings.get("nuts_sampler", "nutpie")),
        }
        if settings.get("seed") is not None:
            kwargs["seed"] = int(settings["seed"])
        if spec.extrapolation_rate is None and spec.discrepancy not in ("", "given"):
            kwargs["discrepancy"] = spec.discrepancy
        kwargs.update(options)
        if (
            kwargs.get("extrapolation_rate") is None
            and spec.discrepancy == "given"
            and "discrepancy" not in options
        ):
            raise SpecificationError(
                "this fit was given its discrepancy as an object; pass discrepancy= (or "
                "extrapolation_rate=) to refit"
            )
        return fit(data, **kwargs)

    def calibrate_spread(
        self,
        *,
        share: float = 1 / 3,
        prior_sd: float = 0.5,
        seed: int = 0,
        progressbar: bool = False,
        sampler: Sampler | None = None,
    ) -> ScalingFit:
        """A copy of this fit whose new-run spread is calibrated on its own largest runs
        (one more fit of the runs below them; see
        :func:`bayescale.scaling.spread_calibration.calibrate_spread`)."""
        from bayescale.scaling.spread_calibration import calibrate_spread

        return calibrate_spread(
            self,
            share=share,
            prior_sd=prior_sd,
            seed=seed,
            progressbar=progressbar,
            sampler=sampler,
        )

    def forecast(
        self,
        points: PointsLike,
        *,
        ci_prob: float = 0.9,
        family: str | None = None,
        seed: int | None = 0,
    ) -> pd.DataFrame:
        """Forecast the metric at new points with equal-tailed credible intervals.

        Parameters
        ----------
        points
            Table (or dict of arrays) with the law's inputs (``params``, ``tokens`` and/or
            ``compute``) and optionally ``family``.
        ci_prob
            Probability of the intervals.
        family
            Family of every point when ``points`` has no ``family`` column. ``None`` means a
            family not in the data (parameters from the population), or the single family
            of a one-family fit.
        seed
            Seed of the predictive draws (fixed, so forecasts are reproducible).

        Returns
        -------
        pandas.DataFrame
            Two rows per point: ``quantity == "curve"`` is the fitted law (uncertainty
            about the law), ``quantity == "new_run"`` is a new observed training run
            (adds the configuration offset and run-to-run noise). Columns ``mean``, ``median``,
            ``lower``, ``upper``, ``ci_prob`` and the point's inputs and family.
        """
        return summarise(self._forecast_draws(points, family=family, seed=seed), ci_prob=ci_prob)

    # -- predictive checks ------------------------------------------------------------
    def model(self) -> Any:
        """The PyMC model, rebuilt from the stored data and specification if needed."""
        if self._model is None:
            self._model = build_model(self.data, self.spec)
        return self._model

    def prior_predictive(self, draws: int = 500, *, seed: int = 0) -> xr.DataTree:
        """Draw from the prior and prior predictive; adds ``prior``/``prior_predictive``."""
        import pymc as pm

        with self.model(), _object_mode_expected():
            prior = pm.sample_prior_predictive(draws=draws, random_seed=seed)
        for group in ("prior", "prior_predictive"):
            self.idata[group] = prior[group]
        return prior

    def predictive_check(self, *, group: str = "posterior", ci_prob: float = 0.9) -> pd.DataFrame:
        """Compare observed data with the ``group`` predictive distribution.

        Returns one row per observation (per configuration, with the configuration's mean
        run, when repeated runs are modelled) with the observed value, the predictive median,
        the ``ci_prob`` equal-tailed interval and whether it covers the observation; the
        coverage fraction is in ``.attrs["coverage"]`` (close to ``ci_prob`` for a calibrated
        model).
        """
        name = f"{group}_predictive"
        if name not in self.idata.children:
            if group == "prior":
                self.prior_predictive()
            else:
                import pymc as pm

                with self.model(), _object_mode_expected():
                    pm.sample_posterior_predictive(
                        self.idata, extend_inferencedata=True, progressbar=False
                    )
        pred = self.idata[name].dataset[dims.OBSERVED]
        unit = dims.CONFIG if dims.CONFIG in pred.dims else dims.OBS
        sample_dims = [d for d in pred.dims if d != unit]
        q = quantiles(pred.stack(sample=sample_dims).transpose(unit, "sample").values, ci_prob)
        observed = self.idata["observed_data"].dataset[dims.OBSERVED].values
        to_value = np.exp if self.spec.space == "log" else (lambda a: a)
        rows = np.arange(self.data.sizes[dims.OBS])
        labels: Any = self.data[dims.OBS].values
        if unit == dims.CONFIG:
            labels, idx = config_index(self.data)
            rows = np.unique(idx, return_index=True)[1]
        frame = pd.DataFrame(
            {
                "family": self.data["obs_family"].values[rows],
                "params": self.data["params"].values[rows],
                "tokens": self.data["tokens"].values[rows],
                "observed": to_value(observed),
                "median": to_value(q[1]),
                "lower": to_value(q[0]),
                "upper": to_value(q[2]),
            },
            index=pd.Index(labels, name=unit),
        )
        frame["covered"] = (frame["observed"] >= frame["lower"]) & (
            frame["observed"] <= frame["upper"]
        )
        frame.attrs["coverage"] = float(frame["covered"].mean())
        frame.attrs["ci_prob"] = ci_prob
        return frame

    # -- plots ------------------------------------------------------------------------
    def plot(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Any:
        """Fitted curves with credible bands over the data
        (see :mod:`bayescale.scaling.plotting`)."""
        from bayescale.scaling.plotting import plot_fit

        return plot_fit(self, path=path, **kwargs)

    # -- persistence ------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {"spec": self.spec.to_json(), "sampler": self.sampler}

    @classmethod
    def _from_tree(cls, tree: xr.DataTree, state: Mapping[str, Any]) -> ScalingFit:
        spec_json = state.get("spec", tree.attrs.get("bayescale_spec"))
        if spec_json is None:
            raise FitFileError("the file holds no scaling-law specification")
        spec = ModelSpec.from_json(str(spec_json))
        sampler = state.get("sampler", json.loads(str(tree.attrs.get("bayescale_sampler", "{}"))))
        result = cls(tree, spec, tree[DATA_GROUP].dataset.copy(), sampler=sampler)
        result.diagnostics = check_convergence(tree, var_names=result._sampled_names(), warn=False)
        return result


def load(path: str | os.PathLike[str]) -> ScalingFit:
    """Load a scaling-law fit written by :meth:`ScalingFit.save` (any kind:
    :func:`bayescale.load`); it forecasts exactly as before."""
    result = load_any(path)
    if not isinstance(result, ScalingFit):
        raise FitFileError(
            f"{str(path)!r} holds a {result.kind!r} fit ({type(result).__name__}), not a "
            "scaling-law fit; bayescale.load(path) reads every kind"
        )
    return result
