r"""Forecasts from a posterior: the law's curve and new observed runs, with intervals.

Forecasts read only the posterior and the stored specification, and evaluate the law
with NumPy, so a fit loaded from disk forecasts exactly as the one in memory.

For a point :math:`x` and family :math:`f`, every posterior draw :math:`s` gives

* the **curve** :math:`L^{(s)}(x) = L_\text{law}(x;\ \theta^{(s)}_f)`, the noise-free law
  (its interval is the uncertainty about the law itself); and
* a **new run** :math:`\tilde y^{(s)}`, one more training run measured at :math:`x`:
  the curve plus a new configuration's offset (when repeated runs are modelled) plus
  run noise, and an extrapolation discrepancy that depends on the distance :math:`d` of
  :math:`x` beyond the training data (in e-folds, see :func:`extrapolation_distance`):
  :math:`\log \tilde y = \log L^{(s)}(x) + \delta
  + \sigma^{(s)}_\text{config}\epsilon_1 + \sigma^{(s)}_\text{run}\epsilon_3
  + \sigma^{(s)}\epsilon_2` in log space (the configuration term with repeated runs,
  the run term with intermediate checkpoints). :func:`seed_share` says how much of the
  new run's variance is run-to-run noise.

The discrepancy :math:`\delta` stands for what neither the posterior of the law nor the
noise seen inside the data can know: how far the functional form drifts from the truth
beyond the data. By default it is the discrepancy learned across sources from held-out
larger runs (:mod:`bayescale.scaling.discrepancy`: a drift with a mean, a spread that grows
with :math:`d`, and the spread of a separately trained run), whose population draws are
stored with the fit; with ``extrapolation_rate=λ`` it is bayescale 0.1's zero-mean
:math:`\lambda d\,\epsilon_0`. ``docs/forecasting.md`` has the leave-one-source-out
back-test of both. The curve's interval is the posterior of the law alone and does not
include it.

A family that is not in the data (``family=None`` with several families in the fit, or
the label ``"<new family>"``; any other unknown label is an error) draws its parameters
from the population: for a pooled parameter
:math:`z_\text{new} = m + \tau \sqrt{1 + 1/F}\,\epsilon` (the family offsets are
zero-sum over the :math:`F` fitted families, see :mod:`bayescale.scaling.model`), for an
independent one from its prior, and a shared one keeps its value. Such forecasts are
wider, as they should be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core import dims
from bayescale.core.errors import DataError, SpecificationError
from bayescale.core.intervals import check_ci_prob, quantiles

if TYPE_CHECKING:
    from bayescale.scaling.model import ModelSpec

__all__ = [
    "NEW_FAMILY",
    "RATIO_WARNING",
    "forecast_draws",
    "parameter_draws",
    "points_frame",
    "ratio_distance",
    "seed_share",
    "summarise",
]

NEW_FAMILY = "<new family>"
#: E-folds of tokens per parameter outside the training range beyond which a forecast
#: warns (:class:`~bayescale.core.errors.ExtrapolationWarning`): in the loss back-test
#: the 90 % intervals of such held-out runs covered 33 of 45 (docs/forecasting.md).
RATIO_WARNING = 1.0

type PointsLike = pd.DataFrame | Mapping[str, Any] | Sequence[Mapping[str, Any]]


def points_frame(points: PointsLike, inputs: Sequence[str]) -> pd.DataFrame:
    """Check forecast points and return them as a DataFrame with every needed input.

    ``compute`` is filled with 6 N D when the law needs it and ``params`` and ``tokens``
    are given.
    """
    if isinstance(points, pd.DataFrame):
        frame = points.reset_index(drop=True).copy()
    elif isinstance(points, Mapping):
        frame = pd.DataFrame({k: np.atleast_1d(v) for k, v in points.items()})
    else:
        frame = pd.DataFrame(list(points))
    if frame.empty:
        raise DataError("no forecast points were given")
    if (
        dims.COL_COMPUTE in inputs
        and dims.COL_COMPUTE not in frame
        and {dims.COL_PARAMS, dims.COL_TOKENS} <= set(frame.columns)
    ):
        frame[dims.COL_COMPUTE] = 6.0 * frame[dims.COL_PARAMS] * frame[dims.COL_TOKENS]
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        raise DataError(f"forecast points lack column(s) {missing}; the law reads {list(inputs)}")
    for col in inputs:
        num = pd.to_numeric(frame[col], errors="coerce").astype(float)
        bad = np.flatnonzero(~(np.isfinite(num.to_numpy()) & (num.to_numpy() > 0)))
        if bad.size:
            raise DataError(
                f"forecast column {col!r} must be a finite number > 0; rows "
                f"{bad.tolist()[:8]} hold {frame[col].iloc[bad[:8]].tolist()}"
            )
        frame[col] = num
    return frame


def _raw_new_family(
    post: xr.Dataset, spec: ModelSpec, name: str, raw: str, n_fam: int, rng: np.random.Generator
) -> np.ndarray:
    how = spec.pooling[name]
    shape = (post.sizes["chain"], post.sizes["draw"])
    if how == "shared":
        return np.asarray(post[raw].values, dtype=float)
    if how == "pooled":
        mean = post[f"{raw}_mu"].values
        tau = post[f"{raw}_tau"].values
        return mean + tau * np.sqrt(1.0 + 1.0 / n_fam) * rng.standard_normal(shape)
    prior = spec.priors[name]
    return prior.mu + prior.sigma * rng.standard_normal(shape)


def parameter_draws(
    posterior: xr.Dataset,
    spec: ModelSpec,
    families: Sequence[str | None],
    *,
    fitted: Sequence[str],
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Law parameters (natural scale) for each requested family: ``name -> (chain, draw, k)``.

    ``None`` or a label not in the posterior means a new family from the population; one
    population draw per posterior draw is shared by every new-family entry, so a forecast
    curve for a new family is one coherent curve per draw.
    """
    law = spec.law_obj
    fitted = [str(f) for f in fitted]
    n_fam = len(fitted)
    out: dict[str, np.ndarray] = {}
    for p in law.parameters:
        new_raw: np.ndarray | None = None
        cols = []
        for fam in families:
            if fam is not None and fam in fitted:
                da = posterior[p.name]
                val = da.sel({dims.FAMILY: fam}).values if dims.FAMILY in da.dims else da.values
            else:
                if new_raw is None:
                    new_raw = _raw_new_family(posterior, spec, p.name, p.raw_name, n_fam, rng)
                val = np.exp(new_raw) if p.positive else new_raw
            cols.append(np.asarray(val, dtype=float))
        out[p.name] = np.stack(cols, axis=-1)
    return out


def resolve_families(requested: Sequence[Any], fitted: Sequence[str]) -> list[str | None]:
    """Map requested family labels to fitted ones; ``None``/NaN/``"<new family>"`` = new.

    With a single fitted family, ``None`` means that family. A label that is neither a
    fitted family nor a request for a new one raises :class:`DataError` (a typo must not
    silently become a wide new-family forecast).
    """
    out: list[str | None] = []
    unknown: list[str] = []
    for fam in requested:
        if fam is None or (isinstance(fam, float) and np.isnan(fam)) or fam == NEW_FAMILY:
            out.append(fitted[0] if len(fitted) == 1 else None)
        elif str(fam) in fitted:
            out.append(str(fam))
        else:
            unknown.append(str(fam))
    if unknown:
        raise DataError(
            f"family {sorted(set(unknown))} is not in the fit, whose families are "
            f"{list(fitted)}. Pass family=None (or {NEW_FAMILY!r} in a family column) to "
            "forecast a family that is not in the data."
        )
    return out


def extrapolation_distance(
    spec: ModelSpec,
    x: Mapping[str, np.ndarray],
    families: Sequence[str | None] | None = None,
) -> np.ndarray:
    r"""How far each point lies beyond the training data, in e-folds of scale.

    :math:`d = \max_k \max(0, \log x_k - \log \max_\text{train} x_k)` over the law's
    inputs: 0 inside the range of the data, 1 at e times the largest training value. For a
    point of a fitted family the maximum is over that family's own runs (a family's
    forecast extrapolates from its own largest run, even when other families have larger
    ones); for a new family (``None``) or fits stored without per-family ranges, over all
    runs.
    """
    n = len(next(iter(x.values())))
    fams = list(families) if families is not None else [None] * n
    out = np.zeros(n)
    per_family = spec.summary.family_log_max
    for k, values in x.items():
        if k not in spec.summary.log_max:
            continue
        log_max = np.array(
            [
                per_family.get(str(f), {}).get(k, spec.summary.log_max[k])
                if f is not None
                else spec.summary.log_max[k]
                for f in fams
            ]
        )
        out = np.maximum(out, np.log(np.asarray(values, dtype=float)) - log_max)
    return out


def _apply_discrepancy(
    new_run: np.ndarray, population: xr.Dataset, beyond: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    r"""New-run draws times :math:`e^\delta`, the learned discrepancy
    (:mod:`bayescale.scaling.discrepancy`): :math:`\log\tilde y + \delta` on the log scale."""
    from bayescale.scaling.discrepancy import discrepancy_draws

    shape = new_run.shape
    flat = new_run.reshape(-1, shape[-1])
    delta = discrepancy_draws(population, beyond, rng, n=flat.shape[0])
    return (flat * np.exp(delta)).reshape(shape)


def forecast_draws(
    posterior: xr.Dataset,
    spec: ModelSpec,
    points: PointsLike,
    *,
    fitted: Sequence[str],
    family: str | None = None,
    seed: int | np.random.Generator | None = 0,
    discrepancy: xr.Dataset | None = None,
    spread_factor: np.ndarray | None = None,
) -> xr.Dataset:
    """Posterior draws of the curve and of a new run at each point.

    Parameters
    ----------
    posterior
        The ``posterior`` group of a fit.
    spec
        The fit's :class:`~bayescale.scaling.model.ModelSpec`.
    points
        Table of points with the law's inputs (``params``, ``tokens``, ``compute``) and
        optionally a ``family`` column.
    fitted
        Labels of the fitted families, in the order of the ``family`` dimension.
    family
        Family for points without a ``family`` column; ``None`` = a new family (or the only
        family of a one-family fit).
    seed
        Seed of the random draws for new families, seeds and noise.
    discrepancy
        Population draws of the learned extrapolation discrepancy (needed when
        ``spec.extrapolation_rate`` is ``None``; stored with the fit).
    spread_factor
        Draws of the factor on the fit's own new-run spread of a calibrated fit
        (:mod:`bayescale.scaling.spread_calibration`), applied before the discrepancy.

    Returns
    -------
    xarray.Dataset
        ``curve`` and ``new_run`` with dims ``(chain, draw, point)`` and point coordinates
        for the inputs, ``family`` (:data:`NEW_FAMILY` for a new one) and
        ``extrapolation`` (e-folds beyond the training data).
    """
    law = spec.law_obj
    frame = points_frame(points, law.inputs)
    rng = np.random.default_rng(seed)
    fitted = [str(f) for f in fitted]
    requested = (
        frame[dims.COL_FAMILY].tolist() if dims.COL_FAMILY in frame else [family] * len(frame)
    )
    fams = resolve_families(requested, fitted)
    theta = parameter_draws(posterior, spec, fams, fitted=fitted, rng=rng)
    x = {k: frame[k].to_numpy(dtype=float) for k in law.inputs}
    curve = law.predict(theta, x, spec.summary.log_ref)
    shape = curve.shape
    eta = np.log(curve)
    beyond = extrapolation_distance(spec, x, fams)
    if spec.extrapolation_rate is None and discrepancy is None:
        raise SpecificationError(
            "this fit uses the learned extrapolation discrepancy but its population "
            "draws are missing; refit, or set fit.spec.extrapolation_rate to a number"
        )
    if spec.extrapolation_rate is not None and spec.extrapolation_rate > 0:
        eta = eta + spec.extrapolation_rate * beyond * rng.standard_normal(shape)
    if spec.config_effects and "config_sigma" in posterior:
        eta = eta + posterior["config_sigma"].values[..., None] * rng.standard_normal(shape)
    sigma = posterior["sigma"].values[..., None]
    seed_var = np.broadcast_to(
        sigma**2 * (1.0 if spec.likelihood == "normal" else _t_variance(spec.nu)), shape
    )
    run_shift = np.zeros(shape)
    if spec.run_effects and "run_sigma" in posterior:
        run_sigma = run_scale(posterior, fams)
        run_shift = run_sigma * rng.standard_normal(shape)
        seed_var = seed_var + run_sigma**2
    if spec.likelihood == "normal":
        noise = rng.standard_normal(shape)
    else:
        noise = rng.standard_t(spec.nu, size=shape)
    if spec.space == "log":
        new_run = np.exp(eta + run_shift + sigma * noise)
    else:
        new_run = np.exp(eta) + run_shift + sigma * noise
    if spread_factor is not None:
        from bayescale.scaling.spread_calibration import scale_spread

        new_run = scale_spread(new_run, spread_factor, spec.space, rng)
    if spec.extrapolation_rate is None and discrepancy is not None:
        new_run = _apply_discrepancy(new_run, discrepancy, beyond, rng)
    labels = [f if f is not None else NEW_FAMILY for f in fams]
    coords: dict[str, Any] = {
        "chain": posterior["chain"].values,
        "draw": posterior["draw"].values,
        dims.POINT: np.arange(len(frame)),
        dims.COL_FAMILY: (dims.POINT, np.asarray(labels, dtype=str)),
    }
    for k in law.inputs:
        coords[k] = (dims.POINT, x[k])
    coords["extrapolation"] = (dims.POINT, beyond)
    vdims = ("chain", "draw", dims.POINT)
    return xr.Dataset(
        {
            "curve": (vdims, curve),
            "new_run": (vdims, new_run),
            "seed_var": (vdims, seed_var),
        },
        coords=coords,
        attrs={
            "metric": posterior.attrs.get("metric", ""),
            "law": spec.law,
            "space": spec.space,
            "seed_noise_identified": int(spec.config_effects or spec.run_effects),
        },
    )


def ratio_distance(data: Any, points: pd.DataFrame) -> np.ndarray:
    r"""E-folds by which tokens per parameter lie outside the training range, per point.

    .. math:: \max(0, \log r_\min - \log r) + \max(0, \log r - \log r_\max),
        \qquad r = D / N,

    with the range over all training runs of the fit (``data``, a fit's data): the law's
    dependence on :math:`D/N` is learned from every family, so a family with a few runs
    borrows the range of the others. ``NaN`` where the points or the runs have no
    ``params`` and ``tokens`` (a law in compute). The law's form is not checked outside
    the training range of :math:`D/N`; the loss back-test measures its errors by this
    distance, and a forecast beyond :data:`RATIO_WARNING` warns.
    """
    cols = {dims.COL_PARAMS, dims.COL_TOKENS}
    if not cols <= set(points) or not cols <= set(data.variables):
        return np.full(len(points), np.nan)
    log_r = np.log(np.asarray(data[dims.COL_TOKENS].values, dtype=float)) - np.log(
        np.asarray(data[dims.COL_PARAMS].values, dtype=float)
    )
    target = np.log(points[dims.COL_TOKENS].to_numpy(float)) - np.log(
        points[dims.COL_PARAMS].to_numpy(float)
    )
    return np.maximum(0.0, log_r.min() - target) + np.maximum(0.0, target - log_r.max())


def warn_outside_ratio_range(data: Any, draws: xr.Dataset, stacklevel: int = 3) -> None:
    """Warn (:class:`~bayescale.core.errors.ExtrapolationWarning`) when forecast points lie
    more than :data:`RATIO_WARNING` e-folds outside the training range of tokens per
    parameter: the loss back-test found the intervals too narrow there."""
    import warnings

    from bayescale.core.errors import ExtrapolationWarning

    if dims.COL_PARAMS not in draws.coords or dims.COL_TOKENS not in draws.coords:
        return
    points = pd.DataFrame(
        {
            k: np.asarray(draws[k].values)
            for k in (dims.COL_PARAMS, dims.COL_TOKENS, dims.COL_FAMILY)
            if k in draws.coords
        }
    )
    far = np.flatnonzero(ratio_distance(data, points) > RATIO_WARNING)
    if far.size == 0:
        return
    ratio = points[dims.COL_TOKENS].to_numpy(float) / points[dims.COL_PARAMS].to_numpy(float)
    train = np.asarray(data[dims.COL_TOKENS].values, dtype=float) / np.asarray(
        data[dims.COL_PARAMS].values, dtype=float
    )
    shown = ", ".join(f"{i} (D/N = {ratio[i]:.3g})" for i in far[:8])
    warnings.warn(
        ExtrapolationWarning(
            f"{far.size} of {len(points)} forecast points lie more than {RATIO_WARNING:g} "
            f"e-fold outside the training range of tokens per parameter (D/N "
            f"{train.min():.3g} to {train.max():.3g} over all runs): points {shown}"
            f"{' ...' if far.size > 8 else ''}. The law's form is not checked there and the "
            "loss back-test found its 90 % intervals too narrow (docs/forecasting.md); fit "
            "runs at such tokens per parameter, or read these intervals as too narrow."
        ),
        stacklevel=stacklevel,
    )


def run_scale(posterior: xr.Dataset, families: Sequence[str | None]) -> np.ndarray:
    """Run-offset scale of each point's family, ``(chain, draw, point)``.

    A fitted family uses its own ``run_sigma``; a new family the root mean square over the
    fitted families (per draw). Fits saved with one shared scale broadcast it.
    """
    da = posterior["run_sigma"]
    if dims.FAMILY not in da.dims:
        return np.repeat(da.values[..., None], len(families), axis=-1)
    fitted = [str(f) for f in da[dims.FAMILY].values]
    rms = np.sqrt((da.values**2).mean(axis=-1))
    cols = [
        da.values[..., fitted.index(f)] if f is not None and f in fitted else rms for f in families
    ]
    return np.stack(cols, axis=-1)


def _t_variance(nu: float) -> float:
    """Variance of a standard Student-t (infinite for nu <= 2: reported as nan)."""
    return nu / (nu - 2.0) if nu > 2 else float("nan")


def seed_share(draws: xr.Dataset) -> np.ndarray:
    r"""Share of each new-run forecast's variance that is run-to-run (seed) noise.

    .. math::

        s = \frac{\mathbb E[\sigma^2 + \sigma_{\text{run},f}^2]}
                 {\operatorname{Var}(\log \tilde y)}

    in log space (:math:`\tilde y` instead of :math:`\log \tilde y` in linear space):
    the part of the new-run interval that no amount of extra data about the law would
    remove, only averaging over seeds. When the data hold no repeated runs and no
    checkpoints, :math:`\sigma` also holds the law's misfit, so :math:`s` is an upper
    bound (``draws.attrs["seed_noise_identified"] == 0``).
    """
    n_points = draws.sizes[dims.POINT]
    new_run = draws["new_run"].values.reshape(-1, n_points)
    values = np.log(new_run) if draws.attrs.get("space", "log") == "log" else new_run
    total = values.var(axis=0)
    seed = (
        np.nanmean(draws["seed_var"].values.reshape(-1, n_points), axis=0)
        if "seed_var" in draws
        else np.full(n_points, np.nan)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(seed / total, 0.0, 1.0)


def summarise(draws: xr.Dataset, *, ci_prob: float = 0.9) -> pd.DataFrame:
    """Turn forecast draws into a table of equal-tailed intervals.

    One row per (point, quantity): ``quantity`` is ``"curve"`` (the law itself) or
    ``"new_run"`` (a new observed run). Columns: the point's inputs, family and
    ``extrapolation`` (e-folds beyond the data), then ``mean``, ``median``, ``lower``,
    ``upper``, ``ci_prob`` and, for new runs, ``seed_share`` (:func:`seed_share`: the
    share of the forecast's variance that is run-to-run noise).
    """
    check_ci_prob(ci_prob)
    rows = []
    inputs = [c for c in dims.SCALE_COLUMNS if c in draws.coords]
    share = seed_share(draws)
    for quantity in ("curve", "new_run"):
        arr = draws[quantity].values.reshape(-1, draws.sizes[dims.POINT])
        lo, med, hi = quantiles(arr, ci_prob, axis=0)
        mean = arr.mean(axis=0)
        for i in range(arr.shape[1]):
            row: dict[str, Any] = {"point": i}
            for k in inputs:
                row[k] = float(draws[k].values[i])
            row["family"] = str(draws[dims.COL_FAMILY].values[i])
            if "extrapolation" in draws.coords:
                row["extrapolation"] = float(draws["extrapolation"].values[i])
            row.update(
                quantity=quantity,
                mean=mean[i],
                median=med[i],
                lower=lo[i],
                upper=hi[i],
                ci_prob=ci_prob,
                seed_share=share[i] if quantity == "new_run" else np.nan,
            )
            rows.append(row)
    return (
        pd.DataFrame(rows).sort_values(["point", "quantity"], kind="stable").reset_index(drop=True)
    )
