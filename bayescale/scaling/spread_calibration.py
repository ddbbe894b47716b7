r"""Calibrate a fit's own new-run spread on its own largest runs.

A new-run forecast is the fit's own predictive distribution (the posterior of the law, the
run noise) widened by the extrapolation discrepancy learned across sources
(:mod:`bayescale.scaling.discrepancy`). The discrepancy can only *add* spread; where the
fit's own spread is already wider than its errors beyond the data, the intervals cover
more than they say. Measured leaving one source out (``docs/forecasting.md``): the median
ratio of the held-out error to the fit's own predictive sd is 0.2 to 0.5 for several
sources, against 0.67 for a calibrated normal.

:func:`calibrate_spread` measures that ratio on the fit's *own* data, without looking at
any run it will forecast. The law is fitted again, with the same options and no
extrapolation term, to the runs below a cut (:func:`holdout_split`: the largest third of the
log range of model size is held out), each held-out run is forecast, and its log error
:math:`e_i`, the inner fit's predictive sd :math:`v_i` and distance :math:`d_i` are
recorded. With the discrepancy's population draws as the prior of the drift
:math:`\mu`, spread :math:`\sigma` and run-to-run spread :math:`\kappa`,

.. math::

    e_i \mid c, \mu, \sigma, \kappa &\sim
        \mathcal N\!\left(\mu d_i,\ \sqrt{c^2 v_i^2 + \sigma^2 d_i^2 + \kappa^2}\right),\\
    \log c &\sim \mathcal N(0, s_c), \qquad s_c = 0.5,

and the posterior of the factor :math:`c` is computed on a grid of :math:`\log c`, with
:math:`(\mu, \sigma, \kappa)` integrated out by Monte Carlo over the population
(:func:`spread_factor_draws`). A forecast of the calibrated fit scales the fit's own
spread of every new-run draw about its median,

.. math::

    \log \tilde y_c = m + c\,(\log \tilde y - m), \qquad m = \operatorname{median}\log\tilde y,

(one :math:`c` per draw, shared by all points) and then adds the discrepancy as before.
The inner errors inform :math:`c` only: the drift and spread of the forecast keep the
population's distribution. Conditioning them on the inner errors as well was measured and
rejected: a source's drift below its largest runs does not carry on beyond them (Epoch's
extraction drifts up inside the data and not beyond it; Gadre et al.'s sign flips), and the
90 % intervals covered 0.55 of the held-out runs instead of 0.96.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core import dims
from bayescale.core.errors import (
    ConvergenceWarning,
    DataError,
    ExtrapolationWarning,
    SpecificationError,
)

if TYPE_CHECKING:
    from bayescale.core.sampling import Sampler
    from bayescale.scaling.fitting import ScalingFit
    from bayescale.scaling.laws import Law

__all__ = [
    "SPREAD_GROUP",
    "calibrate_spread",
    "holdout_split",
    "inner_cases",
    "spread_factor_draws",
]

#: Group of a calibrated fit's DataTree: the draws of the factor and the inner cases.
SPREAD_GROUP = "spread_calibration"
#: Prior sd of :math:`\log c`.
PRIOR_SD = 0.5
#: Share of the log range of model size held out by :func:`holdout_split`.
SHARE = 1 / 3


def _size_key(law: Law, frame: pd.DataFrame) -> str:
    if dims.COL_PARAMS in law.inputs:
        return dims.COL_PARAMS
    if dims.COL_COMPUTE in law.inputs and dims.COL_COMPUTE in frame:
        return dims.COL_COMPUTE
    return law.inputs[0]


def holdout_split(
    frame: pd.DataFrame, law: Law, *, share: float = SHARE
) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""Split training runs into an inner training set and the largest runs.

    The size is the law's ``params`` (else ``compute``). With the distinct sizes
    :math:`x_1 < \dots < x_m`, the runs above
    :math:`\exp(\log x_m - \text{share}\,(\log x_m - \log x_1))` are held out; when that
    leaves fewer than three sizes below, only the largest size is. Of a held-out run with
    intermediate checkpoints (``checkpoint_step``), only its last checkpoint is kept; held-out
    runs of a family with no run below the cut are dropped (the inner fit knows nothing of
    that family).

    Raises
    ------
    DataError
        If the runs have fewer than four distinct sizes (no inner fit can be made).
    """
    if not 0 < share < 1:
        raise SpecificationError(f"share must be in (0, 1), not {share}")
    key = _size_key(law, frame)
    if key not in frame:
        raise DataError(f"the runs lack column {key!r}, the size the law {law.name!r} is split by")
    x = frame[key].to_numpy(float)
    sizes = np.unique(x)
    if sizes.size < 4:
        raise DataError(
            f"column {key!r}: the runs have {sizes.size} distinct sizes; calibrating the "
            "spread needs at least 4 (3 to fit below the cut, 1 to forecast)"
        )
    lo, hi = np.log(sizes[0]), np.log(sizes[-1])
    cut = float(np.exp(hi - share * (hi - lo)))
    if (sizes <= cut).sum() < 3:
        cut = float(sizes[-2])
    inner, held = frame[x <= cut], frame[x > cut]
    if dims.COL_STEP in held and held[dims.COL_STEP].notna().any():
        run = [c for c in (dims.COL_FAMILY, dims.COL_SEED, key) if c in held]
        last = held[dims.COL_TOKENS] == held.groupby(run, dropna=False)[dims.COL_TOKENS].transform(
            "max"
        )
        held = held[last].drop_duplicates(run, keep="last")
    if dims.COL_FAMILY in held:
        held = held[held[dims.COL_FAMILY].isin(set(inner[dims.COL_FAMILY]))]
    if held.empty:
        raise DataError("no held-out run of a family that has runs below the cut")
    return inner.reset_index(drop=True), held.reset_index(drop=True)


def inner_cases(result: ScalingFit, test: pd.DataFrame) -> pd.DataFrame:
    """Log error ``err``, predictive sd ``sd`` and distance ``d`` of ``result``'s forecast
    of each run of ``test`` (a fit with no extrapolation term), with the runs' inputs."""
    inputs = list(result.law.inputs)
    cols = inputs + ([dims.COL_FAMILY] if len(result.families) > 1 else [])
    with warnings.catch_warnings():  # the fit's own runs, forecast to calibrate its spread
        warnings.simplefilter("ignore", ExtrapolationWarning)
        draws = result.forecast_draws(test[cols])
    log_pred = np.log(draws["new_run"].values.reshape(-1, len(test)))
    med = np.median(log_pred, axis=0)
    out = test[inputs].copy().reset_index(drop=True)
    out["value"] = test[dims.COL_VALUE].to_numpy(float)
    out["err"] = np.log(out["value"].to_numpy(float)) - med
    out["sd"] = log_pred.std(axis=0)
    out["d"] = draws["extrapolation"].values
    return out


def _population_samples(
    population: xr.Dataset | None, rate: float | None, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draws of (drift, spread, run spread) of a new source, the prior of the calibration."""
    if population is None:
        r = float(rate or 0.0)
        return np.zeros(n), np.full(n, r), np.zeros(n)
    size = population.sizes["sample"]
    pick = rng.integers(size, size=n)
    p = {k: np.asarray(population[k].values, dtype=float)[pick] for k in population}
    mu = p["mu0"] + p["tau_mu"] * rng.standard_normal(n)
    sigma = np.exp(p["lam0"] + p["tau_sigma"] * rng.standard_normal(n))
    return mu, sigma, p["kappa"]


def _check_prior_sd(prior_sd: float) -> None:
    if not (np.isfinite(prior_sd) and prior_sd > 0):
        raise SpecificationError(f"prior_sd must be a number > 0, not {prior_sd!r}")


def spread_factor_draws(
    cases: pd.DataFrame,
    population: xr.Dataset | None,
    *,
    rate: float | None = None,
    prior_sd: float = PRIOR_SD,
    n_draws: int = 4000,
    n_mc: int = 16000,
    grid_size: int = 161,
    seed: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, dict[str, float]]:
    r"""Posterior draws of the spread factor :math:`c` given inner cases (module docstring).

    Parameters
    ----------
    cases
        Columns ``err``, ``sd`` and ``d``, one row per held-out inner run.
    population
        Population draws of the discrepancy (``mu0``, ``tau_mu``, ``lam0``, ``tau_sigma``,
        ``kappa`` on dim ``sample``); ``None`` with ``rate``: the fixed zero-mean rate.
    prior_sd
        Prior sd of :math:`\log c` (median 1).
    n_mc
        Monte Carlo draws of :math:`(\mu, \sigma, \kappa)` that integrate them out.
    grid_size
        Points of the grid of :math:`\log c` over :math:`\pm 4` prior sd.

    Returns
    -------
    draws, info
        ``n_draws`` draws of :math:`c` (uniform within each grid cell), and ``info``: the
        posterior median, the effective number of Monte Carlo draws at the posterior
        mode (the Monte Carlo error of the marginal likelihood there; a few hundred is
        plenty for one factor) and the number of cases.
    """
    _check_prior_sd(prior_sd)
    for col in ("err", "sd", "d"):
        if col not in cases:
            raise DataError(
                f"the inner cases lack column {col!r}; they need 'err', 'sd' and 'd' "
                "(inner_cases gives them)"
            )
        values = pd.to_numeric(cases[col], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~np.isfinite(values) | ((values < 0) if col != "err" else False))
        if bad.size:
            raise DataError(
                f"column {col!r} of the inner cases: not a finite number"
                f"{'' if col == 'err' else ' >= 0'} in rows {bad[:8].tolist()} (0-based); "
                "fix or remove those rows"
            )
    rng = np.random.default_rng(seed)
    mu, sigma, kappa = _population_samples(population, rate, n_mc, rng)
    e, v, d = (cases[c].to_numpy(float) for c in ("err", "sd", "d"))
    log_c = np.linspace(-4 * prior_sd, 4 * prior_sd, grid_size)
    c2 = np.exp(2 * log_c)[:, None]
    loglik = np.zeros((grid_size, n_mc))
    for ei, vi, di in zip(e, v, d, strict=True):
        s2 = c2 * vi**2 + (sigma * di) ** 2 + kappa**2
        loglik += -0.5 * (np.log(2 * np.pi * s2) + (ei - mu * di) ** 2 / s2)
    top = loglik.max(axis=1, keepdims=True)
    w = np.exp(loglik - top)
    log_marginal = top[:, 0] + np.log(w.mean(axis=1))
    log_post = log_marginal - 0.5 * (log_c / prior_sd) ** 2
    post = np.exp(log_post - log_post.max())
    post /= post.sum()
    mode = int(np.argmax(post))
    ess = float(w[mode].sum() ** 2 / (w[mode] ** 2).sum())
    step = log_c[1] - log_c[0]
    cell = rng.choice(grid_size, size=n_draws, p=post)
    draws = np.exp(log_c[cell] + step * (rng.random(n_draws) - 0.5))
    info = {"median": float(np.median(draws)), "mc_ess": ess, "cases": float(len(cases))}
    return draws, info


def calibrate_spread(
    result: ScalingFit,
    *,
    share: float = SHARE,
    prior_sd: float = PRIOR_SD,
    seed: int = 0,
    progressbar: bool = False,
    sampler: Sampler | None = None,
) -> ScalingFit:
    """A copy of ``result`` whose new-run spread is calibrated on its own largest runs.

    Fits the law again with the same options
    (:meth:`~bayescale.scaling.fitting.ScalingFit.refit`) and no extrapolation term to
    the runs below the cut of :func:`holdout_split`, forecasts the runs above it
    (:func:`inner_cases`), and stores the posterior draws of the factor :math:`c`
    (:func:`spread_factor_draws`) and the inner cases in the group ``spread_calibration``
    of the returned fit's DataTree. Its forecasts scale the fit's own spread by :math:`c`
    (module docstring); a saved fit keeps it. The original fit is not changed. The inner
    fit's convergence is in the group's ``inner_diagnostics`` attribute and, when it did
    not converge, in ``notes`` and a :class:`~bayescale.core.errors.ConvergenceWarning`.
    ``sampler`` replaces NUTS for the inner fit (as in :func:`bayescale.fit`; for tests).
    """
    from bayescale.scaling.data import to_frame
    from bayescale.scaling.discrepancy import POPULATION_GROUP
    from bayescale.scaling.model import ModelSpec

    _check_prior_sd(prior_sd)  # before the inner fit, not after it
    spec = result.spec
    train, test = holdout_split(
        to_frame(result.data).reset_index(drop=True), result.law, share=share
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        inner = result.refit(
            train.drop(columns=[dims.COL_METRIC]),
            extrapolation_rate=0.0,
            seed=seed,
            progressbar=progressbar,
            posterior_predictive=False,
            warn_convergence=False,
            sampler=sampler,
        )
    cases = inner_cases(inner, test)
    population = (
        result.idata[POPULATION_GROUP].dataset
        if POPULATION_GROUP in result.idata.children
        else None
    )
    factor, info = spread_factor_draws(
        cases, population, rate=spec.extrapolation_rate, prior_sd=prior_sd, seed=seed
    )
    group = xr.Dataset(
        {"factor": ("sample", factor)}
        | {col: ("inner_run", cases[col].to_numpy(float)) for col in cases.columns},
        attrs={
            "share": share,
            "prior_sd": prior_sd,
            "cut": float(train[_size_key(result.law, train)].max()),
            "inner_runs_fitted": len(train),
            "inner_diagnostics": str(inner.diagnostics),
            "inner_converged": int(bool(inner.diagnostics and inner.diagnostics.ok)),
            **{f"factor_{k}": v for k, v in info.items()},
        },
    )
    tree = result.idata.copy()
    tree[SPREAD_GROUP] = group
    lo, hi = np.quantile(factor, [0.05, 0.95])
    out = type(result)(
        tree, ModelSpec.from_json(spec.to_json()), result.data, sampler=result.sampler
    )
    out.diagnostics = result.diagnostics
    out.notes.append(
        f"new-run spread calibrated on the fit's own {len(cases)} largest runs (a refit of the "
        f"{len(train)} below them): factor {info['median']:.2f} [{lo:.2f}, {hi:.2f}]"
    )
    if not group.attrs["inner_converged"]:
        msg = f"the inner fit of the spread calibration did not converge: {inner.diagnostics}"
        out.notes.append(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
    return out


def scale_spread(
    new_run: np.ndarray, factor: np.ndarray, space: str, rng: np.random.Generator
) -> np.ndarray:
    """New-run draws ``(..., point)`` with their spread about the median scaled by ``factor``
    (one draw of it per draw of the forecast; on the log scale when ``space == "log"``)."""
    shape = new_run.shape
    flat = new_run.reshape(-1, shape[-1])
    c = np.asarray(factor, dtype=float)
    pick = rng.permutation(c.size)[: flat.shape[0]] if c.size >= flat.shape[0] else None
    c = c[pick] if pick is not None else c[rng.integers(c.size, size=flat.shape[0])]
    if space == "log":
        log = np.log(flat)
        med = np.median(log, axis=0, keepdims=True)
        scaled = np.exp(med + c[:, None] * (log - med))
    else:
        med = np.median(flat, axis=0, keepdims=True)
        scaled = med + c[:, None] * (flat - med)
    return scaled.reshape(shape)


def spread_summary(tree: xr.DataTree) -> dict[str, Any] | None:
    """The stored calibration's attributes and factor median, or ``None`` if not calibrated."""
    if SPREAD_GROUP not in tree.children:
        return None
    ds = tree[SPREAD_GROUP].dataset
    return {**ds.attrs, "factor": float(np.median(ds["factor"].values))}
