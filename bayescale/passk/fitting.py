r"""Fit the pass@k model with NUTS; forecast coverage, exponents and attempts; save and load.

Data flow: counts table -> :func:`~bayescale.passk.counts.validate_counts` (an
``xarray.Dataset``) -> :func:`~bayescale.passk.model.build_passk_model` (PyMC) -> NUTS
(:func:`bayescale.core.sampling.run_nuts`, with bayescale's retry policy) ->
:class:`PassKFit` (a :class:`~bayescale.core.results.FitResult` of kind ``"passk"``: an
ArviZ ``DataTree`` plus the counts and the specification) -> coverage forecasts,
exponents, attempts needed, plots. Every forecast is a long table with
:data:`~bayescale.core.intervals.FORECAST_COLUMNS` (equal-tailed intervals of probability
``ci_prob``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core import dims
from bayescale.core.diagnostics import Diagnostics, check_convergence
from bayescale.core.errors import FitFileError, SpecificationError
from bayescale.core.intervals import (
    FORECAST_COLUMNS,
    check_ci_prob,
    interval_table,
    quantiles_to_infinity,
)
from bayescale.core.results import FitResult
from bayescale.core.results import load as load_any
from bayescale.core.sampling import Sampler, run_nuts
from bayescale.passk.counts import to_counts_frame, validate_counts
from bayescale.passk.curves import (
    attempts_for_coverage,
    observed_coverage,
    population_coverage,
    sample_problem_p,
)
from bayescale.passk.estimator import coverage_curve
from bayescale.passk.measured import measured_for_model
from bayescale.passk.model import (
    CELL,
    PassKSpec,
    build_passk_model,
    cells,
    effect_scale_draws,
    make_passk_spec,
    structure_key,
)
from bayescale.passk.shared import (
    difficulty_scale_name,
    new_problem_shift,
    problem_shift,
    shift_nodes,
)
from bayescale.passk.shared import draw_unsolved_difficulties as draw_unsolved

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PassKFit", "fit", "load"]

DATA_GROUP = "counts_data"
KIND = "passk"
#: ``target_accept`` of the one more run on divergences left after the diagonal rerun.
ACCEPT_ON_DIVERGENCE = 0.97

NewSizes = Mapping[str, float] | Sequence[float] | float | None


def fit(
    counts: str | os.PathLike[str] | pd.DataFrame | xr.Dataset,
    *,
    zero_inflation: bool = True,
    trend: bool | None = None,
    model_effects: bool | None = None,
    priors: Mapping[str, tuple[float, float]] | None = None,
    model: str = "beta",
    difficulty: str | None = None,
    problem_slopes: bool | None = None,
    seed: int = 0,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    nuts_sampler: str = "nutpie",
    target_accept: float = 0.9,
    progressbar: bool = True,
    warn_convergence: bool = True,
    extend_if_slow: bool | int = 2,
    accept_on_divergence: float | None = ACCEPT_ON_DIVERGENCE,
    sampler: Sampler | None = None,
    **sampler_kwargs: Any,
) -> PassKFit:
    r"""Fit a hierarchical Beta-binomial model of per-problem success with NUTS.

    Parameters
    ----------
    counts
        Per-problem attempt counts (DataFrame, CSV path, or the Dataset of
        :func:`~bayescale.passk.validate_counts`): ``model``, ``problem``,
        ``n_samples``, ``n_correct``, optionally ``params`` and other model columns.
    zero_inflation
        Let a share :math:`\pi_m` of problems be never solvable (default). Without it,
        coverage tends to 1 as :math:`k \to \infty`.
    trend
        Let :math:`\log a`, :math:`\log b`, :math:`\operatorname{logit}\pi` vary linearly
        in :math:`\log N` (needed to forecast an unseen model size). Default: when every
        model has ``params`` and there are two sizes or more.
    model_effects
        Partially pooled model-level deviations from the trend. Default: with three models
        or more.
    priors
        Overrides of :data:`~bayescale.passk.model.DEFAULT_PRIORS` (or, for
        ``model="shared_difficulty"``, :data:`~bayescale.passk.shared.SHARED_PRIORS`), e.g.
        ``{"mu_a": (np.log(0.5), 0.5)}``.
    model
        ``"beta"``: problems exchangeable within each model (:mod:`bayescale.passk.model`).
        ``"shared_difficulty"``: each problem has a difficulty shared across the models of
        the fit, crossed with each model's Beta parameters, and the share :math:`\pi` of
        never-solvable problems is a property of the problem
        (:mod:`bayescale.passk.shared`). Fit one model family at a time with it.
    difficulty
        With ``model="shared_difficulty"``: the distribution of problem difficulties.
        ``"skewed"`` (default; :data:`~bayescale.passk.shared.DEFAULT_DIFFICULTY`): a
        sinh-arcsinh transform of a normal with its skewness learnt from the data and the
        normal's tail weight, so the counts decide how many problems lie just out of
        reach, and the skewness's uncertainty widens forecasts far beyond the attempts
        made. ``"normal"``: the difficulties are normal (bayescale 0.1's default).
        (``"flexible"``, experimental in bayescale 0.2, is withdrawn:
        :data:`~bayescale.passk.shared.WITHDRAWN_DIFFICULTIES`.)
    seed
        Seed of the first NUTS run (a rerun ``i`` uses ``seed + i``).
    draws, tune, chains, nuts_sampler, progressbar
        NUTS settings (per chain), passed to :func:`bayescale.core.sampling.run_nuts`.
    target_accept
        NUTS target acceptance rate. The default 0.9 (PyMC's is 0.8) is a measured
        choice: at 0.8 the per-model model's fit of 30 attempts per problem of the Pythia
        MATH counts (subsample 1) had 2 to 4 divergences between the intercepts of
        :math:`a`, :math:`b` and :math:`\pi` (and, before the model effects' scale was
        integrated out, the funnel of that scale gave divergences at 0.8 too).
    warn_convergence
        Warn (:class:`~bayescale.core.errors.ConvergenceWarning`) when diagnostics fall short.
    extend_if_slow
        Longer runs when R-hat or bulk ESS fall short without divergences, each with twice
        the last run's ``tune`` and ``draws`` (default 2, the other fits 1; each recorded in
        ``fit.notes``): ``sigma_d``, ``pi`` and the difficulties can mix slowly together.
    accept_on_divergence
        Divergences left after the rerun with the diagonal mass matrix get one more run
        with ``target_accept`` raised to this value (default 0.97; ``None``: report
        them). The geometry came first (``docs/passk.md``: the difficulties split
        centred/non-centred, the unsolved ones integrated out, the effects' scales
        integrated out); what is left on the real counts is a stray divergence in 3 of 54
        back-test fits, where ``sigma_d`` is small.
    sampler
        Draws instead of NUTS (a :class:`~bayescale.core.sampling.Sampler`; tests pass
        prior draws). Default: the one set by :func:`~bayescale.core.sampling.use_sampler`,
        else ``nuts_sampler``.
    **sampler_kwargs
        ``nuts={...}`` (options of the NUTS implementation) and ``cores``; other options
        go to :func:`pymc.sample`.

    Returns
    -------
    PassKFit
    """
    ds = validate_counts(counts)
    spec = make_passk_spec(
        ds,
        zero_inflation=zero_inflation,
        trend=trend,
        model_effects=model_effects,
        priors=dict(priors) if priors else None,
        model=model,
        difficulty=difficulty,
        problem_slopes=problem_slopes,
    )
    pm_model = build_passk_model(ds, spec)
    nuts = dict(sampler_kwargs.pop("nuts", None) or {})
    cores = sampler_kwargs.pop("cores", None)
    idata, run = run_nuts(
        pm_model,
        check_vars=spec.sampled_names(),
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
        accept_on_divergence=accept_on_divergence,
        log_likelihood=None,
        sampler=sampler,
        notes=spec.notes,
        key=structure_key(ds, spec),
        **sampler_kwargs,
    )
    result = PassKFit(idata, spec, ds, sampler=run.as_dict(), model=pm_model)
    if not spec.shared:  # in NumPy: PyMC would compile a function for it (0.7 s)
        from bayescale.passk.model import cell_log_likelihood

        ll = cell_log_likelihood(idata["posterior"].dataset, ds, spec)
        idata["log_likelihood"] = xr.Dataset({dims.OBSERVED: ll})
        _per_row(idata, ds)
    else:  # its likelihood is per problem: PassKFit.loo() integrates d_j out
        idata["observed_data"] = _observed_rows(ds)
        post = draw_unsolved(result.posterior, ds, spec, np.random.default_rng(seed))
        idata["posterior"] = idata["posterior"].assign(v=post["v"], d=post["d"])
    result._finish(warn=warn_convergence)
    return result


def _observed_rows(ds: xr.Dataset) -> xr.Dataset:
    return xr.Dataset(
        {dims.OBSERVED: (dims.OBS, ds["n_correct"].values)},
        coords={dims.OBS: ds[dims.OBS].values},
    )


def _per_row(idata: xr.DataTree, ds: xr.Dataset) -> None:
    """Turn the per-cell (weighted) log-likelihood and observations into one per row.

    A cell's term is ``weight`` identical rows' log-likelihood summed, so each row's is the
    cell's divided by its weight; :func:`arviz.loo` then leaves out one problem of one
    model at a time.
    """
    *_, weight, row_cell = cells(ds)
    ll = idata["log_likelihood"].dataset[dims.OBSERVED]
    per_row = ll.isel({CELL: row_cell}) / xr.DataArray(weight[row_cell], dims=CELL)
    per_row = per_row.rename({CELL: dims.OBS}).assign_coords({dims.OBS: ds[dims.OBS].values})
    idata["log_likelihood"] = xr.Dataset({dims.OBSERVED: per_row})
    idata["observed_data"] = _observed_rows(ds)


class PassKFit(FitResult):
    """A fitted pass@k model: posterior, counts, specification and forecasts.

    Attributes
    ----------
    idata : xarray.DataTree
        Groups ``posterior`` (with ``a``, ``b``, ``pi`` per model), ``sample_stats``,
        ``observed_data``, ``constant_data``, ``log_likelihood`` (per model and problem, so
        :meth:`loo` leaves one problem of one model out) and ``counts_data``.
    spec : PassKSpec
        Trend, model effects, zero inflation, priors and notes.
    data : xarray.Dataset
        The validated counts.
    diagnostics : Diagnostics
        Divergences, R-hat and bulk ESS of the sampled parameters.
    notes : list of str
        What the fit decided on the user's behalf (``spec.notes``).
    sampler : dict
        NUTS settings of the last run.
    """

    kind = KIND

    def __init__(
        self,
        idata: xr.DataTree,
        spec: PassKSpec,
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

    def _finish(self, *, warn: bool) -> None:
        self.idata[DATA_GROUP] = self.data
        self.diagnostics = check_convergence(self.idata, var_names=self._sampled_names(), warn=warn)

    def _sampled_names(self) -> list[str]:
        post = self.posterior
        return [n for n in self.spec.sampled_names() if n in post]

    # -- properties -------------------------------------------------------------------
    @property  # type: ignore[override]
    def notes(self) -> list[str]:
        return self.spec.notes

    @notes.setter
    def notes(self, value: list[str]) -> None:
        self.spec.notes = list(value)

    @property
    def posterior(self) -> xr.Dataset:
        return self.idata["posterior"].dataset

    @property
    def models(self) -> list[str]:
        return [str(m) for m in self.data[dims.MODEL].values]

    def model(self) -> Any:
        """The PyMC model (rebuilt from data and specification after :func:`load`)."""
        if self._model is None:
            self._model = build_passk_model(self.data, self.spec)
        return self._model

    def title(self) -> str:
        kind = (
            f"model='shared_difficulty' (difficulty={self.spec.difficulty!r})"
            if self.spec.shared
            else "model='beta'"
        )
        return (
            f"PassKFit: {len(self.models)} model(s), {self.data.sizes[dims.OBS]} (model, "
            f"problem) rows; {kind}, zero_inflation={self.spec.zero_inflation}, "
            f"trend={self.spec.trend}, model_effects={self.spec.model_effects}"
        )

    def observation_info(self) -> dict[str, str]:
        return {"metric": "correct attempts per problem", "space": "count"}

    def __repr__(self) -> str:
        return (
            f"<PassKFit model={self.spec.model!r} models={self.models} "
            f"rows={self.data.sizes[dims.OBS]} "
            f"zero_inflation={self.spec.zero_inflation} trend={self.spec.trend} "
            f"diagnostics: {self.diagnostics}>"
        )

    def parameter_names(self) -> list[str]:
        """Reported variables: ``a``, ``b`` (and ``pi``) per model, then the
        hyperparameters (intercepts, slopes and scales; not the standardised effects nor
        the problems' difficulties: see ``posterior["d"]`` and ``posterior["g"]``)."""
        names = ["a", "b"] + (["pi"] if self.spec.zero_inflation else [])
        latent = ("v", "w")  # the problems' standardised difficulties and slopes
        names += [
            n for n in self._sampled_names() if not n.startswith(("z_", "e_")) and n not in latent
        ]
        return names

    def summary(
        self, *, ci_prob: float = 0.9, var_names: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Posterior summary (:func:`arviz.summary`, equal-tailed ``ci_prob`` intervals).

        Parameters
        ----------
        ci_prob
            Probability of the credible intervals.
        var_names
            Variables (default :meth:`parameter_names`: the per-model Beta parameters and
            the hyperparameters).
        """
        import arviz as az

        return az.summary(
            self.idata,
            var_names=list(var_names or self.parameter_names()),
            ci_prob=check_ci_prob(ci_prob),
            ci_kind="eti",
            round_to="none",
        )

    # -- draws ------------------------------------------------------------------------
    def _thin(self, da: xr.DataArray, max_draws: int | None) -> xr.DataArray:
        total = da.sizes["chain"] * da.sizes["draw"]
        if max_draws is None or total <= max_draws:
            return da
        step = int(np.ceil(total / max_draws))
        return da.isel(draw=slice(None, None, step))

    def _resolve_models(self, models: Sequence[str] | str | None) -> list[str]:
        if models is None:
            return self.models
        chosen = [models] if isinstance(models, str) else list(models)
        unknown = [m for m in chosen if m not in self.models]
        if unknown:
            raise SpecificationError(
                f"unknown model(s) {unknown}; the fit has {self.models}. For a model size "
                "that was not fitted, pass params={'label': N} instead."
            )
        return chosen

    def _new_sizes(self, params: NewSizes) -> dict[str, float]:
        if params is None:
            return {}
        if not self.spec.trend:
            raise SpecificationError(
                "this fit has no trend in model size (fit with 'params' for two sizes or "
                "more, trend=True), so it cannot forecast a new model size"
            )
        if isinstance(params, Mapping):
            sizes = {str(k): float(v) for k, v in params.items()}
        else:
            values = np.atleast_1d(np.asarray(params, dtype=float))
            sizes = {f"N={v:.3g}": float(v) for v in values}
        bad = [k for k, v in sizes.items() if not v > 0]
        if bad:
            raise SpecificationError(f"params must be > 0 for {bad}")
        return sizes

    def beta_draws(
        self,
        *,
        models: Sequence[str] | str | None = None,
        params: NewSizes = None,
        seed: int = 0,
        max_draws: int | None = None,
    ) -> xr.Dataset:
        r"""Posterior draws of :math:`a`, :math:`b`, :math:`\pi` for fitted models and new sizes.

        For a new size :math:`N`, :math:`\log a = \mu_a + \beta_a x + \tau_a s z` with a
        fresh :math:`z \sim \mathcal N(0, 1)` per draw and :math:`s^2 = 1 + 1/M + x^2 /
        \sum_m x_m^2` (a model not yet seen, plus the error of the trend fitted on
        :math:`M` models), and likewise for :math:`b`.

        Returns
        -------
        xarray.Dataset
            ``a``, ``b``, ``pi`` with dims ``(chain, draw, model)``.
        """
        post = self.posterior
        chosen = self._resolve_models(models) if models is not None or params is None else []
        sizes = self._new_sizes(params)
        shared_pi = self.spec.shared and self.spec.zero_inflation
        parts = []
        if chosen:
            with_pi = self.spec.zero_inflation and not self.spec.shared
            sel = post[["a", "b"] + (["pi"] if with_pi else [])].sel({dims.MODEL: chosen})
            if shared_pi:  # one share of never-solvable problems for every model
                sel = sel.assign(pi=post["pi"] + xr.zeros_like(sel["a"]))
            elif not self.spec.zero_inflation:
                sel = sel.assign(pi=xr.zeros_like(sel["a"]))
            parts.append(sel)
        if sizes:
            rng = np.random.default_rng(seed)
            x = xr.DataArray(
                np.log(list(sizes.values())) - self.spec.log_params_center,
                dims=dims.MODEL,
                coords={dims.MODEL: list(sizes)},
            )
            # A new model: a fresh effect plus the error of the fitted trend at x
            # (model.py): variance tau^2 (1 + 1/M + x^2 / sum x_m^2).
            x_fit = self.data["params"].values.astype(float)
            x_fit = np.log(x_fit) - self.spec.log_params_center
            scale = np.sqrt(1.0 + 1.0 / x_fit.size + x**2 / np.sum(x_fit**2))
            out: dict[str, xr.DataArray] = {}
            for name in ("a", "b", "pi"):
                if name == "pi" and not self.spec.zero_inflation:
                    out["pi"] = xr.zeros_like(out["a"])
                    continue
                if name == "pi" and shared_pi:
                    out["pi"] = post["pi"] + xr.zeros_like(out["a"])
                    continue
                lin = post[f"mu_{name}"] + post[f"slope_{name}"] * x
                if self.spec.model_effects and name != "pi":
                    tau = effect_scale_draws(self.posterior, self.spec, name, rng)
                    z = rng.standard_normal(lin.shape)
                    lin = lin + tau * scale * xr.DataArray(z, dims=lin.dims)
                out[name] = np.exp(lin) if name != "pi" else 1.0 / (1.0 + np.exp(-lin))  # type: ignore[assignment]
            parts.append(xr.Dataset(out).transpose("chain", "draw", dims.MODEL))
        ds = xr.concat(parts, dim=dims.MODEL) if len(parts) > 1 else parts[0]
        ds = ds.transpose("chain", "draw", dims.MODEL)
        return ds.map(lambda v: self._thin(v, max_draws))

    def _difficulty_draws(self, max_draws: int | None) -> dict[str, np.ndarray | None]:
        """Flattened draws of the difficulty distribution and the problems' difficulties
        (shared-difficulty model), thinned as :meth:`beta_draws`."""
        post = self.posterior

        def flat(name: str) -> np.ndarray | None:
            if name not in post:
                return None
            da = self._thin(post[name], max_draws).stack(sample=("chain", "draw"))
            return np.asarray(da.transpose(..., "sample").values, dtype=float)

        d, g = flat("d"), flat("g")
        return {
            "g": None if g is None else g.T,
            "sigma_g": flat("sigma_g"),
            "sigma": flat(difficulty_scale_name(post)),
            "skew": flat("skew"),
            "log_tail": flat("log_tail"),
            "d": None if d is None else d.T,
            "logit_pi": _logit(flat("pi")),
        }

    def _x(self, labels: Sequence[str], sizes: Mapping[str, float] | None = None) -> np.ndarray:
        """Centred log size of fitted models and new sizes (0 without a trend)."""
        if not self.spec.trend:
            return np.zeros(len(labels))
        params = dict(zip(self.models, self.data["params"].values.astype(float), strict=True))
        params.update(sizes or {})
        return np.log([params[label] for label in labels]) - self.spec.log_params_center

    def _never_solvable(
        self, a: np.ndarray, b: np.ndarray, diff: Mapping[str, np.ndarray | None]
    ) -> np.ndarray:
        """``S x P`` posterior probability that each problem is never solvable (shared
        model), given the draws ``a``, ``b`` (``S x M``) and the problems' difficulties."""
        from bayescale.passk.shared import cell_log_lik, never_solvable_weight, problem_cells

        cells = problem_cells(self.data)
        logit_pi = diff["logit_pi"]
        if logit_pi is None:
            return np.zeros((a.shape[0], cells.problems.size))
        shift = problem_shift(diff, cells.problem_idx, self._x(self.models)[cells.model_idx])
        b_cell = b[:, cells.model_idx] * np.exp(shift)
        zero = np.zeros((1, cells.n.size))
        ll0 = cell_log_lik(cells.n[None, :], zero, a[:, cells.model_idx], b_cell, log_binom=False)
        log_fail = np.zeros((a.shape[0], cells.problems.size))
        np.add.at(log_fail.T, cells.problem_idx, ll0.T)
        return never_solvable_weight(log_fail, logit_pi, cells.all_zero)

    def exponent(
        self,
        *,
        ci_prob: float = 0.9,
        models: Sequence[str] | str | None = None,
        params: NewSizes = None,
    ) -> pd.DataFrame:
        r"""Posterior of the inference-loss exponent :math:`a` per model (and new sizes).

        The loss of the solvable problems falls as
        :math:`\frac{\Gamma(a+b)}{\Gamma(b)}\,k^{-a}` for large :math:`k`.

        Returns
        -------
        pandas.DataFrame
            One row per model: ``model``, then
            :data:`~bayescale.core.intervals.FORECAST_COLUMNS` (``quantity ==
            "exponent"``, equal-tailed ``ci_prob`` interval).
        """
        a = self.beta_draws(models=models, params=params)["a"]
        return interval_table(a.rename("exponent"), ci_prob=ci_prob)

    def coverage_draws(
        self,
        k: Sequence[float] | np.ndarray | float,
        *,
        models: Sequence[str] | str | None = None,
        params: NewSizes = None,
        problems: str = "observed",
        n_problems: int | None = None,
        max_draws: int | None = 1000,
        seed: int = 0,
        attempts: int | pd.DataFrame | None = None,
    ) -> xr.DataArray:
        r"""Posterior draws of coverage (pass@k) at attempts ``k``.

        Parameters
        ----------
        k
            Numbers of attempts (any positive values; :math:`10^6` is fine).
        models, params
            Fitted models (default: all, unless ``params`` is given) and new model sizes
            (``{"label": N}`` or a list of N) forecast from the trend.
        problems
            ``"observed"``: coverage of the fitted problem set itself, each problem's
            :math:`p_j` drawn from its posterior given its counts (the quantity the
            unbiased estimator targets on these problems). With
            ``model="shared_difficulty"`` the draws of a problem share its difficulty
            :math:`d_j` and whether it is never solvable across models, and a new size
            (``params``) is forecast on the fitted problems too, from their difficulties;
            with ``model="beta"``, fitted models only.
            ``"population"``: expected pass@k of a new problem from the same
            distribution, :math:`(1-\pi)(1 - B(a, b+k)/B(a, b))` (averaged over the
            difficulty distribution with ``model="shared_difficulty"``).
        n_problems
            With ``problems="population"``: the coverage of a set of this many new
            problems (draws :math:`p_j` from the population), which adds the sampling
            spread of a finite benchmark. For a held-out model evaluated on a benchmark
            of :math:`P` problems, pass :math:`P`.
        max_draws
            Thin to at most this many posterior draws (chains kept).
        seed
            Seed of the draws of problem probabilities and new-model effects.
        attempts
            With ``problems="observed"``: coverage as it will be *measured*, the unbiased
            estimate once each problem has ``attempts`` attempts, the fitted ones included
            (a number, or a table with ``model``, ``problem``, ``n_samples``), drawn with
            the binomial spread of the attempts not yet made
            (:mod:`bayescale.passk.measured`; ``k`` at most ``attempts``). Default: the
            expected coverage :math:`\frac1P\sum_j 1 - (1-p_j)^k`.

        Returns
        -------
        xarray.DataArray
            Dims ``(chain, draw, model, k)``.
        """
        kk = np.atleast_1d(np.asarray(k, dtype=float))
        if np.any(~(kk >= 1)):
            raise SpecificationError(f"k must be >= 1, got {kk[~(kk >= 1)][:3].tolist()}")
        if problems not in ("observed", "population"):
            raise SpecificationError(
                f"problems must be 'observed' or 'population', not {problems!r}"
            )
        if problems == "observed" and params is not None and not self.spec.shared:
            raise SpecificationError(
                "problems='observed' needs counts of the model; for a new model size use "
                "problems='population' (with n_problems=P for a benchmark of P problems), or "
                "fit model='shared_difficulty', whose problems have difficulties a new size "
                "shares"
            )
        draws = self.beta_draws(models=models, params=params, seed=seed, max_draws=max_draws)
        rng = np.random.default_rng(seed)
        labels = [str(m) for m in draws[dims.MODEL].values]
        stacked = draws.stack(sample=("chain", "draw")).transpose(dims.MODEL, "sample")
        out = np.empty((len(labels), stacked.sizes["sample"], kk.size))
        if problems == "observed":
            p_draws = self._problem_p(stacked, rng, max_draws, self._new_sizes(params))
            for i, label in enumerate(labels):
                p_i = p_draws[label]
                out[i] = (
                    observed_coverage(p_i, kk)
                    if attempts is None
                    else measured_for_model(p_i, kk, attempts, self.data, self.models, label, rng)
                )
        elif attempts is not None:
            raise SpecificationError("attempts= needs problems='observed'")
        else:
            diff = self._difficulty_draws(max_draws) if self.spec.shared else None
            x = self._x(labels, self._new_sizes(params))
            for i in range(len(labels)):
                a = stacked["a"].values[i]
                b = stacked["b"].values[i]
                pi = stacked["pi"].values[i]
                if n_problems:
                    shape = (a.size, int(n_problems))
                    b_j: np.ndarray = b[:, None]
                    if diff is not None:
                        b_j = b_j * np.exp(new_problem_shift(diff, shape, x[i], rng))
                    p = rng.beta(a[:, None], b_j, size=shape)
                    p = np.where(rng.random(p.shape) < pi[:, None], 0.0, p)
                    out[i] = observed_coverage(p, kk)
                elif diff is not None:
                    nodes, weights = shift_nodes(diff, x[i])
                    out[i] = population_coverage(a, b, pi, kk, log_shift=nodes, weights=weights)
                else:
                    out[i] = population_coverage(a, b, pi, kk)
        da = xr.DataArray(
            out,
            dims=(dims.MODEL, "sample", dims.K),
            coords={dims.MODEL: labels, "sample": stacked["sample"], dims.K: kk},
            name="coverage",
        ).unstack("sample")
        return da.transpose("chain", "draw", dims.MODEL, dims.K)

    def _problem_p(
        self,
        stacked: xr.Dataset,
        rng: np.random.Generator,
        max_draws: int | None,
        sizes: Mapping[str, float] | None = None,
    ) -> dict[str, np.ndarray]:
        """Posterior draws (``S x P``) of the success probability of each problem, for
        the models of ``stacked`` (:meth:`beta_draws`, stacked): the fitted problems of a
        fitted model, and every fitted problem for a new size (shared model only)."""
        labels = [str(m) for m in stacked[dims.MODEL].values]
        model_idx = self.data["model_idx"].values
        n_all = self.data["n_samples"].values
        c_all = self.data["n_correct"].values
        out: dict[str, np.ndarray] = {}
        if not self.spec.shared:
            for i, label in enumerate(labels):
                rows = model_idx == self.models.index(label)
                pi = stacked["pi"].values[i]
                lp = np.log(pi) - np.log1p(-pi) if self.spec.zero_inflation else None
                a, b = stacked["a"].values[i], stacked["b"].values[i]
                out[label] = sample_problem_p(n_all[rows], c_all[rows], a, b, lp, rng)
            return out
        from bayescale.passk.shared import problem_cells

        cells = problem_cells(self.data)
        post = self.posterior
        a_all, b_all = (
            self._thin(post[v], max_draws)
            .stack(sample=("chain", "draw"))
            .transpose("sample", dims.MODEL)
            .values
            for v in ("a", "b")
        )
        diff = self._difficulty_draws(max_draws)
        d = diff["d"]
        assert d is not None
        # whether a problem is never solvable is the problem's, shared by every model
        never = rng.random(d.shape) < self._never_solvable(a_all, b_all, diff)
        x = self._x(labels, sizes)
        for i, label in enumerate(labels):
            a, b = stacked["a"].values[i][:, None], stacked["b"].values[i][:, None]
            if label in self.models:
                rows = model_idx == self.models.index(label)
                j = cells.problem_idx[rows]
                n, c = n_all[rows][None, :], c_all[rows][None, :]
                p = rng.beta(a + c, b * np.exp(problem_shift(diff, j, x[i])) + n - c)
            else:  # a new size: every fitted problem, with its posterior difficulty
                j = np.arange(cells.problems.size)
                p = rng.beta(a + 0.0 * d, b * np.exp(problem_shift(diff, j, x[i])))
            out[label] = np.where(never[:, j], 0.0, p)
        return out

    def coverage(
        self,
        k: Sequence[float] | np.ndarray | float,
        *,
        ci_prob: float = 0.9,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """Coverage forecasts at ``k``, per model and k.

        Keyword arguments as :meth:`coverage_draws` (``models``, ``params``,
        ``problems``, ``n_problems``, ``max_draws``, ``seed``).

        Returns
        -------
        pandas.DataFrame
            ``model``, ``k``, then :data:`~bayescale.core.intervals.FORECAST_COLUMNS`
            (``quantity == "coverage"``; mean, median and the equal-tailed ``ci_prob``
            interval).
        """
        p = check_ci_prob(ci_prob)
        return interval_table(self.coverage_draws(k, **kwargs), ci_prob=p)

    def attempts_for(
        self,
        target: float,
        *,
        models: Sequence[str] | str | None = None,
        params: NewSizes = None,
        cost_per_attempt: float | Mapping[str, float] | None = None,
        ci_prob: float = 0.9,
    ) -> pd.DataFrame:
        r"""Attempts (and cost) needed for population coverage ``target``, with intervals.

        Per posterior draw, :math:`k^*` solves :math:`(1-\pi)(1 - B(a, b+k)/B(a, b)) =`
        ``target`` (:func:`~bayescale.passk.curves.attempts_for_coverage`); where the
        target exceeds the ceiling :math:`1 - \pi` it is unreachable (:math:`k^* = \infty`).
        ``p_reachable`` is the posterior probability that it can be reached; the mean,
        median and interval are over all draws (an infinite upper end means "maybe never").

        ``cost_per_attempt`` (a number, or one per model) adds rows of the cost
        :math:`k^* c`. Without it, the cost per attempt is ``compute_per_sample`` when the
        data gave it.

        Returns
        -------
        pandas.DataFrame
            ``model``, ``target``, ``cost_per_attempt`` (NaN when unknown),
            ``p_reachable``, then :data:`~bayescale.core.intervals.FORECAST_COLUMNS`:
            ``quantity == "attempts"`` (:math:`k^*`) and, where the cost is known,
            ``quantity == "cost"``.
        """
        p = check_ci_prob(ci_prob)
        if not 0.0 < target < 1.0:
            raise SpecificationError(f"target coverage must lie in (0, 1), got {target!r}")
        draws = self.beta_draws(models=models, params=params)
        diff = self._difficulty_draws(None) if self.spec.shared else None
        labels = [str(m) for m in draws[dims.MODEL].values]
        x = self._x(labels, self._new_sizes(params))
        rows = []
        for i, label in enumerate(labels):
            shift: dict[str, Any] = {}
            if diff is not None:
                nodes, weights = shift_nodes(diff, x[i])
                shift = {"log_shift": nodes, "weights": weights}
            one = draws.sel({dims.MODEL: label}).stack(sample=("chain", "draw"))
            k_star = attempts_for_coverage(
                target, one["a"].values, one["b"].values, one["pi"].values, **shift
            )
            cost = self._cost(str(label), cost_per_attempt)
            inputs = {
                "model": str(label),
                "target": float(target),
                "cost_per_attempt": np.nan if cost is None else cost,
                "p_reachable": float(np.isfinite(k_star).mean()),
            }
            values = {"attempts": k_star}
            if cost is not None:
                values["cost"] = k_star * cost
            for quantity, v in values.items():
                lo, med, hi = quantiles_to_infinity(v, p)
                stats = {"mean": float(np.mean(v)), "median": med, "lower": lo, "upper": hi}
                rows.append({**inputs, "quantity": quantity, **stats, "ci_prob": p})
        return pd.DataFrame(rows, columns=[*_ATTEMPT_INPUTS, *FORECAST_COLUMNS])

    def loo(self, *, by: str | None = None, max_draws: int | None = 1000, **kwargs: Any) -> Any:
        r"""PSIS-LOO (:func:`arviz.loo`) leaving out one row or one whole problem.

        Parameters
        ----------
        by
            ``"row"`` (one problem of one model; ``model="beta"`` only, its default) or
            ``"problem"`` (a problem with the counts of every model; the only choice for
            ``model="shared_difficulty"``, whose problems share a difficulty). By problem,
            the ELPDs of the two models are comparable (:func:`arviz.compare`): for
            ``"beta"`` a problem's log-likelihood is the sum over its rows; for
            ``"shared_difficulty"`` its difficulty is integrated out by quadrature
            (:func:`bayescale.passk.shared.problem_log_lik`).
        max_draws
            With ``by="problem"``: thin to at most this many posterior draws.
        **kwargs
            Passed to :func:`arviz.loo`.
        """
        import arviz as az

        by = by or ("problem" if self.spec.shared else "row")
        if by not in ("row", "problem"):
            raise SpecificationError(f"by must be 'row' or 'problem', not {by!r}")
        if by == "row":
            if self.spec.shared:
                raise SpecificationError(
                    "model='shared_difficulty' ties the rows of a problem through its "
                    "difficulty: leave out whole problems, loo(by='problem')"
                )
            return super().loo(**kwargs)
        ll = self.problem_log_likelihood(max_draws=max_draws)
        tree = xr.DataTree.from_dict(
            {
                "posterior": xr.Dataset({"dummy": ll.isel({dims.PROBLEM: 0})}),
                "log_likelihood": xr.Dataset({dims.OBSERVED: ll}),
            }
        )
        return az.loo(tree, **kwargs)

    def problem_log_likelihood(self, *, max_draws: int | None = 1000) -> xr.DataArray:
        """Per posterior draw, the log-likelihood of each problem's counts (every model).

        Returns
        -------
        xarray.DataArray
            Dims ``(chain, draw, problem)``: for ``model="beta"`` the sum of the pointwise
            log-likelihood over the problem's rows; for ``model="shared_difficulty"`` the
            likelihood with the problem's difficulty integrated out
            (:func:`bayescale.passk.shared.problem_log_lik`).
        """
        from bayescale.passk.shared import problem_cells, problem_log_lik

        cells = problem_cells(self.data)
        coords = {dims.PROBLEM: [str(p) for p in cells.problems]}
        if not self.spec.shared:
            if "log_likelihood" not in self.idata.children:
                raise SpecificationError("this fit has no pointwise log-likelihood")
            ll_rows = self._thin(self.idata["log_likelihood"].dataset[dims.OBSERVED], max_draws)
            idx = xr.DataArray(cells.problem_idx, dims=dims.OBS)
            return (
                ll_rows.assign_coords({dims.PROBLEM: idx})
                .groupby(dims.PROBLEM)
                .sum()
                .assign_coords(coords)
                .transpose("chain", "draw", dims.PROBLEM)
            )
        post = self.posterior

        def flat(name: str) -> np.ndarray | None:
            if name not in post:
                return None
            da = self._thin(post[name], max_draws).stack(sample=("chain", "draw"))
            return np.asarray(da.transpose("sample", ...).values, dtype=float)

        log_a, log_b, d = flat("log_a"), flat("log_b"), flat("d")
        sigma = flat(difficulty_scale_name(post))
        assert log_a is not None and log_b is not None and d is not None and sigma is not None
        pi = flat("pi")
        ll = problem_log_lik(
            cells,
            log_a,
            log_b,
            _logit(pi),
            sigma,
            flat("skew"),
            flat("log_tail"),
            d,
            x=self._x(self.models),
            sigma_g=flat("sigma_g"),
            g_draws=flat("g"),
        )
        thinned = self._thin(post["sigma_d"], max_draws)
        return xr.DataArray(
            ll.reshape(thinned.sizes["chain"], thinned.sizes["draw"], -1),
            dims=("chain", "draw", dims.PROBLEM),
            coords=coords,
            name=dims.OBSERVED,
        )

    def _cost(self, label: str, cost: float | Mapping[str, float] | None) -> float | None:
        if isinstance(cost, Mapping):
            return float(cost[label]) if label in cost else None
        if cost is not None:
            return float(cost)
        if label in self.models:
            value = float(self.data["compute_per_sample"].sel({dims.MODEL: label}))
            return value if np.isfinite(value) else None
        return None

    def observed_curve(self, k: Sequence[int] | None = None) -> pd.DataFrame:
        """The data's own coverage: the unbiased pass@k averaged over problems, per model.

        Returns
        -------
        pandas.DataFrame
            ``model``, ``k``, ``coverage``.
        """
        rows = []
        for i, label in enumerate(self.models):
            sel = self.data["model_idx"].values == i
            kk, cov = coverage_curve(
                self.data["n_samples"].values[sel], self.data["n_correct"].values[sel], k
            )
            rows += [
                {"model": label, "k": int(a), "coverage": float(c)}
                for a, c in zip(kk, cov, strict=True)
            ]
        return pd.DataFrame(rows)

    def counts_frame(self) -> pd.DataFrame:
        """The fitted counts as a DataFrame."""
        return to_counts_frame(self.data)

    # -- plots and persistence --------------------------------------------------------
    def plot(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Figure:
        """Coverage against k with credible bands and the data
        (:func:`~bayescale.passk.plotting.plot_coverage`; ``**kwargs`` go there)."""
        from bayescale.passk.plotting import plot_coverage

        return plot_coverage(self, path=path, **kwargs)

    def _state(self) -> dict[str, Any]:
        return {"spec": self.spec.to_json(), "sampler": self.sampler}

    @classmethod
    def _from_tree(cls, tree: xr.DataTree, state: Mapping[str, Any]) -> PassKFit:
        # format 1 (bayescale 0.1) kept the specification in the root's attributes
        spec_json = state.get("spec", tree.attrs.get("bayescale_spec"))
        if spec_json is None:
            raise FitFileError("the file holds no pass@k specification")
        if DATA_GROUP not in tree.children:
            raise FitFileError(f"the file has no {DATA_GROUP!r} group (the fitted counts)")
        spec = PassKSpec.from_json(str(spec_json))
        sampler = state.get("sampler", json.loads(str(tree.attrs.get("bayescale_sampler", "{}"))))
        result = cls(tree, spec, tree[DATA_GROUP].dataset.copy(), sampler=sampler)
        result.diagnostics = check_convergence(tree, var_names=result._sampled_names(), warn=False)
        return result


#: Input columns of :meth:`PassKFit.attempts_for`.
_ATTEMPT_INPUTS = ("model", "target", "cost_per_attempt", "p_reachable")


def _logit(p: np.ndarray | None) -> np.ndarray | None:
    return None if p is None else np.log(p) - np.log1p(-p)


def load(path: str | os.PathLike[str]) -> PassKFit:
    """Load a pass@k fit written by :meth:`PassKFit.save` (any kind: :func:`bayescale.load`).

    Files of bayescale 0.1 (format 1) load too; the fit forecasts exactly as before.

    Raises
    ------
    FitFileError
        The file is not a bayescale fit, or holds another kind of fit.
    """
    result = load_any(path)
    if not isinstance(result, PassKFit):
        raise FitFileError(
            f"{str(path)!r} holds a {result.kind!r} fit ({type(result).__name__}), not a "
            "pass@k fit; bayescale.load(path) reads every kind"
        )
    return result
