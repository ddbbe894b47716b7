r"""Accuracy against inference compute: the cost of a sample, the table, the Pareto frontier.

Drawing :math:`k` samples from a model with :math:`N` parameters, each sample
:math:`T` tokens long, costs

.. math::

    C(k) = k\,c_\text{sample}, \qquad c_\text{sample} = 2 N T

FLOPs: a forward pass costs about :math:`2N` FLOPs per token (Kaplan et al. 2020,
"Scaling Laws for Neural Language Models", section 2.1; the attention term
:math:`2 n_\text{layer} n_\text{ctx} d_\text{attn}` is neglected). With the accuracy
:math:`A_{m,s}(k)` of model :math:`m` under strategy :math:`s` (coverage / pass@k for
repeated sampling with a verifier, or the accuracy of majority voting), every
:math:`(m, s, k)` is a point :math:`(C_{m}(k), A_{m,s}(k))`. A smaller model with more
samples can beat a larger one at equal compute (Brown et al. 2024, arXiv 2407.21787;
Wu et al. 2024, arXiv 2408.00724).

* :func:`inference_flops` is :math:`c_\text{sample}`.
* :func:`accuracy_vs_compute` tabulates :math:`A` against :math:`C` with posterior
  mean, median and an equal-tailed ``ci_prob`` interval
  (:data:`~bayescale.core.intervals.FORECAST_COLUMNS`, ``quantity == "accuracy"``).
* :func:`pareto_frontier` keeps the points that no other point beats with less or equal
  compute (on the posterior mean by default); :func:`plot_compute_frontier` draws them.

Spending a given budget (which candidate, how many samples, the probability that it is
the best) is :mod:`bayescale.passk.allocation`.

Accuracy comes as an :class:`xarray.DataArray` with dimensions ``model`` and ``k``,
optionally ``strategy``, and optionally posterior sample dimensions (``chain``, ``draw``
or a stacked ``sample``); without sample dimensions the values are point estimates.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core import dims
from bayescale.core.errors import DataError, SpecificationError
from bayescale.core.intervals import FORECAST_COLUMNS, check_ci_prob, quantiles

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGY",
    "accuracy_vs_compute",
    "inference_flops",
    "pareto_frontier",
    "plot_compute_frontier",
]

#: Dimension (and column) naming the inference strategy (e.g. ``pass@k``, ``majority``).
STRATEGY = "strategy"
#: Strategy label used when the accuracy has no ``strategy`` dimension.
DEFAULT_STRATEGY = "default"
#: Dimensions read as posterior draws (all others except model, k, strategy are errors).
DRAW_DIMS = (*dims.SAMPLE_DIMS, "sample")
#: Names that moved to :mod:`bayescale.passk.allocation`:
#: an old import from here says where they went.
_MOVED = ("AccuracyAt", "best_allocation", "optimal_model_by_budget")

FlopsSpec = Mapping[str, float] | xr.DataArray | None


def inference_flops(
    params: float | np.ndarray | xr.DataArray,
    tokens_per_sample: float | np.ndarray | xr.DataArray,
    *,
    flops_per_token: float | np.ndarray | xr.DataArray | None = None,
) -> Any:
    r"""Inference FLOPs of one sample (one attempt), broadcast over the inputs.

    .. math:: c_\text{sample} = f_\text{token}\,T, \qquad f_\text{token} = 2N

    by default: a decoder forward pass costs about two FLOPs per parameter per token
    (one multiply and one add; Kaplan et al. 2020, section 2.1), neglecting the attention
    over the context, which grows with context length and matters only when the context
    is long next to the model width. Count in :math:`T` every token the model processes
    for one sample: the generated tokens and, when the prompt is not cached and shared
    across samples, the prompt tokens.

    Parameters
    ----------
    params
        Parameters :math:`N` (> 0); for MoE models the active parameters.
    tokens_per_sample
        Tokens :math:`T` processed per sample (> 0), e.g. the mean completion length.
    flops_per_token
        Measured or otherwise known FLOPs per token (> 0); replaces :math:`2N`.

    Returns
    -------
    float, numpy.ndarray or xarray.DataArray
        FLOPs per sample, of the broadcast shape (a DataArray when an input is one).

    Examples
    --------
    >>> inference_flops(1e9, 500)
    1000000000000.0
    """
    if flops_per_token is None:
        per_token = 2.0 * _positive("params", params)
    else:
        per_token = _positive("flops_per_token", flops_per_token)
    out = per_token * _positive("tokens_per_sample", tokens_per_sample)
    if not isinstance(out, xr.DataArray) and np.ndim(out) == 0:
        return float(out)
    return out


def _positive(name: str, value: Any) -> Any:
    if isinstance(value, xr.DataArray):
        arr = value.values.astype(float)
        out: Any = value.astype(float)
    else:
        arr = np.asarray(value, dtype=float)
        out = arr
    if not np.all(np.isfinite(arr) & (arr > 0)):
        raise SpecificationError(
            f"{name} must be finite and > 0, got {np.ravel(arr)[:6].tolist()}"
            + (" ..." if arr.size > 6 else "")
        )
    return out


# --------------------------------------------------------------------------------------
# Input handling


@dataclass(frozen=True)
class Curves:
    """Accuracy draws on a rectangular grid and the per-sample cost of each candidate."""

    values: np.ndarray  # (sample, model, strategy, k)
    models: list[str]
    strategies: list[str]
    k: np.ndarray  # int64, strictly increasing, >= 1
    flops: np.ndarray  # (model, strategy) FLOPs per sample
    has_draws: bool


def read_curves(
    accuracy: xr.DataArray, flops_per_sample: FlopsSpec, tokens_per_sample: Any
) -> Curves:
    """Validate ``accuracy`` and resolve the cost per sample of every (model, strategy)."""
    if not isinstance(accuracy, xr.DataArray):
        raise SpecificationError(
            f"accuracy must be an xarray.DataArray with dims 'model' and 'k', not "
            f"{type(accuracy).__name__}"
        )
    for needed in (dims.MODEL, dims.K):
        if needed not in accuracy.dims:
            raise SpecificationError(
                f"accuracy has dims {tuple(map(str, accuracy.dims))} but needs {needed!r}: "
                "give accuracy with dims 'model' and 'k' (number of samples), optionally "
                "'strategy' and posterior draws ('chain', 'draw')"
            )
    known = {dims.MODEL, dims.K, STRATEGY, *DRAW_DIMS}
    other = [str(d) for d in accuracy.dims if d not in known]
    if other:
        raise SpecificationError(
            f"accuracy has dims {other} that are neither model, k, strategy nor posterior "
            f"draws {DRAW_DIMS}: select one value (.sel) or stack them into 'sample'"
        )
    if STRATEGY not in accuracy.dims:
        accuracy = accuracy.expand_dims({STRATEGY: [DEFAULT_STRATEGY]})
    draw_dims = [d for d in DRAW_DIMS if d in accuracy.dims]
    models = [str(m) for m in accuracy[dims.MODEL].values]
    strategies = [str(s) for s in accuracy[STRATEGY].values]
    for name, labels in (("model", models), ("strategy", strategies)):
        if len(set(labels)) != len(labels):
            raise SpecificationError(f"accuracy has repeated {name} labels {labels}")
    k = _k_grid(accuracy[dims.K].values)
    order = np.argsort(k)
    acc = accuracy.transpose(*draw_dims, dims.MODEL, STRATEGY, dims.K)
    values = np.asarray(acc.values, dtype=float)
    values = values.reshape(-1, *values.shape[len(draw_dims) :])[..., order]
    if not np.all(np.isfinite(values)):
        bad = np.argwhere(~np.isfinite(values))[0]
        raise DataError(
            f"accuracy is not finite (e.g. model {models[bad[1]]!r}, strategy "
            f"{strategies[bad[2]]!r}, k={int(k[order][bad[3]])}): give finite values or drop "
            "those k"
        )
    flops = _flops_table(accuracy, models, strategies, flops_per_sample, tokens_per_sample)
    return Curves(values, models, strategies, k[order], flops, bool(draw_dims))


def _k_grid(raw: np.ndarray) -> np.ndarray:
    k = np.asarray(raw, dtype=float)
    if k.size == 0 or not np.all(np.isfinite(k) & (k >= 1) & (k == np.round(k))):
        raise SpecificationError(
            f"the 'k' coordinate must hold whole numbers of samples >= 1, got {k.tolist()[:8]}"
        )
    ki = k.astype(np.int64)
    if len(np.unique(ki)) != len(ki):
        raise SpecificationError(f"the 'k' coordinate has repeated values: {ki.tolist()}")
    return ki


def _flops_table(
    accuracy: xr.DataArray,
    models: list[str],
    strategies: list[str],
    flops_per_sample: FlopsSpec,
    tokens_per_sample: Any,
) -> np.ndarray:
    """FLOPs per sample as a (model, strategy) array from the accepted specifications."""
    if flops_per_sample is None:
        flops_per_sample = _flops_from_coords(accuracy, models, tokens_per_sample)
    elif tokens_per_sample is not None:
        raise SpecificationError(
            "give either flops_per_sample or tokens_per_sample (with a 'params' coordinate), "
            "not both"
        )
    if isinstance(flops_per_sample, Mapping):
        keys = {str(m): v for m, v in flops_per_sample.items()}
        missing = [m for m in models if m not in keys]
        if missing:
            raise SpecificationError(
                f"flops_per_sample has no entry for models {missing}; it has "
                f"{sorted(keys)[:10]}. Give FLOPs per sample for every model of the accuracy"
            )
        per_model = np.array([float(keys[m]) for m in models])
        table = np.repeat(per_model[:, None], len(strategies), axis=1)
    elif isinstance(flops_per_sample, xr.DataArray):
        fps = flops_per_sample
        extra = [str(d) for d in fps.dims if d not in (dims.MODEL, STRATEGY)]
        if extra:
            raise SpecificationError(
                f"flops_per_sample has dims {extra}; it may vary only over 'model' and 'strategy'"
            )
        if dims.MODEL not in fps.dims:
            raise SpecificationError("flops_per_sample (a DataArray) needs a 'model' dim")
        fps_models = [str(m) for m in fps[dims.MODEL].values]
        missing = [m for m in models if m not in fps_models]
        if missing:
            raise SpecificationError(
                f"flops_per_sample has no value for models {missing}; it covers {fps_models}"
            )
        fps = fps.assign_coords({dims.MODEL: fps_models}).sel({dims.MODEL: models})
        if STRATEGY in fps.dims:
            fps_strats = [str(s) for s in fps[STRATEGY].values]
            missing = [s for s in strategies if s not in fps_strats]
            if missing:
                raise SpecificationError(
                    f"flops_per_sample has no value for strategies {missing}; it covers "
                    f"{fps_strats}"
                )
            fps = fps.assign_coords({STRATEGY: fps_strats}).sel({STRATEGY: strategies})
        else:
            fps = fps.expand_dims({STRATEGY: strategies})
        table = np.asarray(fps.transpose(dims.MODEL, STRATEGY).values, dtype=float)
    else:
        raise SpecificationError(
            "flops_per_sample must be a mapping {model: FLOPs}, a DataArray on 'model' "
            f"(and optionally 'strategy') or None, not {type(flops_per_sample).__name__}"
        )
    bad = ~(np.isfinite(table) & (table > 0))
    if bad.any():
        m, s = np.argwhere(bad)[0]
        raise SpecificationError(
            f"FLOPs per sample must be finite and > 0; model {models[m]!r} (strategy "
            f"{strategies[s]!r}) has {table[m, s]}"
        )
    return table


def _flops_from_coords(
    accuracy: xr.DataArray, models: list[str], tokens_per_sample: Any
) -> xr.DataArray:
    """Cost per sample from ``compute_per_sample`` or ``params`` coordinates on model."""
    coords = accuracy.coords
    if "compute_per_sample" in coords and tokens_per_sample is None:
        cps = coords["compute_per_sample"]
        if cps.dims == (dims.MODEL,) and np.all(np.isfinite(cps.values.astype(float))):
            return cps.reset_coords(drop=True)
    if "params" not in coords or coords["params"].dims != (dims.MODEL,):
        raise SpecificationError(
            "cannot tell the inference cost of each model: give flops_per_sample (a mapping "
            "{model: FLOPs per sample} or a DataArray on 'model'), or a 'params' coordinate on "
            "'model' together with tokens_per_sample"
        )
    if tokens_per_sample is None:
        raise SpecificationError(
            "accuracy has a 'params' coordinate but no tokens_per_sample was given: pass "
            "tokens_per_sample (tokens per sample, scalar or per model) so that the cost per "
            "sample is 2 N T, or pass flops_per_sample"
        )
    params = xr.DataArray(np.asarray(coords["params"].values, dtype=float), dims=dims.MODEL)
    if isinstance(tokens_per_sample, Mapping):
        keys = {str(m): v for m, v in tokens_per_sample.items()}
        missing = [m for m in models if m not in keys]
        if missing:
            raise SpecificationError(f"tokens_per_sample has no entry for models {missing}")
        tokens_per_sample = xr.DataArray([float(keys[m]) for m in models], dims=dims.MODEL)
    elif isinstance(tokens_per_sample, xr.DataArray) and dims.MODEL in tokens_per_sample.dims:
        if dims.MODEL not in tokens_per_sample.coords:
            raise SpecificationError("tokens_per_sample (a DataArray) needs 'model' labels")
        tokens_per_sample = tokens_per_sample.assign_coords(
            {dims.MODEL: [str(m) for m in tokens_per_sample[dims.MODEL].values]}
        ).sel({dims.MODEL: models})
        tokens_per_sample = tokens_per_sample.drop_vars(dims.MODEL)
    out = inference_flops(params, tokens_per_sample)
    return out.assign_coords({dims.MODEL: models})


def interval_stats(draws: np.ndarray, ci_prob: float) -> dict[str, np.ndarray]:
    """Mean, median and equal-tailed ``ci_prob`` interval over axis 0 (the draws), with
    :func:`bayescale.core.intervals.quantiles`."""
    lo, med, hi = quantiles(draws, ci_prob, axis=0)
    return {"mean": draws.mean(axis=0), "median": med, "lower": lo, "upper": hi}


# --------------------------------------------------------------------------------------
# Tables


def accuracy_vs_compute(
    accuracy: xr.DataArray,
    flops_per_sample: FlopsSpec = None,
    *,
    tokens_per_sample: float | Mapping[str, float] | xr.DataArray | None = None,
    ci_prob: float = 0.9,
) -> pd.DataFrame:
    r"""Accuracy against inference compute :math:`C = k\,c_\text{sample}` for each candidate.

    Parameters
    ----------
    accuracy
        Accuracy with dims ``model`` and ``k`` (samples per problem, whole numbers
        :math:`\ge 1`), optionally ``strategy`` and posterior draws (``chain`` and
        ``draw``, or ``sample``). Without draw dims the values are point estimates and
        ``lower = median = upper = mean``.
    flops_per_sample
        FLOPs of one sample: a mapping ``{model: FLOPs}`` or a DataArray on ``model``
        (and optionally ``strategy``, e.g. when a verifier adds cost). ``None``: from a
        ``compute_per_sample`` coordinate on ``model``, or from a ``params`` coordinate
        and ``tokens_per_sample`` as :math:`2 N T` (:func:`inference_flops`).
    tokens_per_sample
        :math:`T`, a scalar, a mapping per model or a DataArray on ``model``; only with
        ``flops_per_sample=None`` and a ``params`` coordinate.
    ci_prob
        Probability of the equal-tailed interval.

    Returns
    -------
    pandas.DataFrame
        One row per (model, strategy, k) with columns ``model``, ``strategy`` (``"default"``
        when the accuracy has no strategy dim), ``k``, ``flops_per_sample``, ``compute``
        :math:`= k\,c_\text{sample}`, then :data:`~bayescale.core.intervals.FORECAST_COLUMNS`
        (``quantity == "accuracy"``, ``mean``, ``median``, ``lower``, ``upper``,
        ``ci_prob``).
    """
    p = check_ci_prob(ci_prob)
    cv = read_curves(accuracy, flops_per_sample, tokens_per_sample)
    return _table(cv, p)


def _table(cv: Curves, ci_prob: float) -> pd.DataFrame:
    stats = interval_stats(cv.values, ci_prob)  # each (model, strategy, k)
    n_m, n_s, n_k = cv.values.shape[1:]
    grids = np.meshgrid(np.arange(n_m), np.arange(n_s), np.arange(n_k), indexing="ij")
    mi, si, ki = (g.ravel() for g in grids)
    fps = cv.flops[mi, si]
    frame = pd.DataFrame(
        {
            dims.MODEL: np.asarray(cv.models, dtype=object)[mi],
            STRATEGY: np.asarray(cv.strategies, dtype=object)[si],
            dims.K: cv.k[ki],
            "flops_per_sample": fps,
            "compute": cv.k[ki] * fps,
            "quantity": "accuracy",
            **{name: v.ravel() for name, v in stats.items()},
            "ci_prob": ci_prob,
        }
    )
    return frame[[*frame.columns[: -len(FORECAST_COLUMNS)], *FORECAST_COLUMNS]]


def pareto_frontier(
    curves: pd.DataFrame | xr.DataArray,
    flops_per_sample: FlopsSpec = None,
    *,
    tokens_per_sample: float | Mapping[str, float] | xr.DataArray | None = None,
    ci_prob: float = 0.9,
    on: Literal["mean", "median", "lower"] = "mean",
) -> pd.DataFrame:
    r"""The (model, strategy, k) points that no other point beats at less or equal compute.

    A point :math:`p` is dominated when some :math:`q` has :math:`C_q \le C_p` and
    :math:`A_q \ge A_p` with at least one inequality strict. The frontier is found by
    sorting on compute (ties: higher accuracy first) and keeping each point whose accuracy
    exceeds that of every cheaper point; of points equal in both compute and accuracy the
    first in table order is kept. Read as a step function, it is the best accuracy that
    any single choice of (model, strategy, k) reaches within compute :math:`C`.

    The comparison uses one summary of each point's posterior, the posterior mean by
    default (the expected accuracy: the choice that maximises expected accuracy at a
    given compute). ``on="lower"`` gives a cautious frontier (lower interval bound). The
    frontier is a property of the summaries, not of every draw: use
    :func:`best_allocation` for the probability that a candidate is best.

    Parameters
    ----------
    curves
        The table of :func:`accuracy_vs_compute`, or accuracy as accepted there (then
        ``flops_per_sample``, ``tokens_per_sample`` and ``ci_prob`` are passed on).
    flops_per_sample, tokens_per_sample, ci_prob
        As in :func:`accuracy_vs_compute` (ignored when ``curves`` is a table).
    on
        Summary column to compare: ``mean`` (default), ``median`` or ``lower``.

    Returns
    -------
    pandas.DataFrame
        The non-dominated rows of the table, sorted by compute (accuracy then increases
        strictly), with a fresh index.
    """
    if on not in ("mean", "median", "lower"):
        raise SpecificationError(f"on must be 'mean', 'median' or 'lower', not {on!r}")
    if isinstance(curves, xr.DataArray):
        table = accuracy_vs_compute(
            curves, flops_per_sample, tokens_per_sample=tokens_per_sample, ci_prob=ci_prob
        )
    elif isinstance(curves, pd.DataFrame):
        missing = sorted({"compute", on} - set(curves.columns))
        if missing:
            raise SpecificationError(
                f"the table lacks columns {missing}: pass the result of accuracy_vs_compute"
            )
        table = curves
    else:
        raise SpecificationError(
            "pareto_frontier needs the table of accuracy_vs_compute or an accuracy DataArray, "
            f"not {type(curves).__name__}"
        )
    return _frontier(table, on)


def _frontier(table: pd.DataFrame, on: str) -> pd.DataFrame:
    compute = table["compute"].to_numpy(dtype=float)
    acc = table[on].to_numpy(dtype=float)
    order = np.lexsort((np.arange(len(table)), -acc, compute))
    keep = []
    best = -np.inf
    for i in order:
        if acc[i] > best:
            keep.append(i)
            best = acc[i]
    return table.iloc[keep].reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Plot

_LINESTYLES = ("-", "--", ":", "-.")


def plot_compute_frontier(
    accuracy: xr.DataArray,
    flops_per_sample: FlopsSpec = None,
    *,
    tokens_per_sample: float | Mapping[str, float] | xr.DataArray | None = None,
    ci_prob: float = 0.9,
    observed: pd.DataFrame | None = None,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
    ylabel: str = "accuracy (coverage)",
    show_band: bool = True,
) -> Figure:
    r"""Accuracy against inference compute per model size, with the Pareto frontier.

    One line per (model, strategy) of the posterior mean accuracy against
    :math:`C = k\,c_\text{sample}` (log x axis), with its ``ci_prob`` equal-tailed band;
    colours order the models by cost per sample (smallest first), line styles tell
    strategies apart. The Pareto frontier of the posterior means
    (:func:`pareto_frontier`) is drawn as a thick grey step line with open circles.

    Parameters
    ----------
    accuracy, flops_per_sample, tokens_per_sample, ci_prob
        As in :func:`accuracy_vs_compute`.
    observed
        Optional measured points: columns ``model``, ``k``, ``accuracy`` (and
        ``strategy`` when the accuracy has several); drawn as dots at :math:`k c`.
    path
        If given, save the figure there (:func:`bayescale.scaling.plotting.save_figure`).
    title, ylabel
        Figure title and y label.
    show_band
        Draw the credible bands (only when the accuracy has posterior draws).

    Returns
    -------
    matplotlib.figure.Figure
        The figure, not registered with pyplot. Lines carry labels: the model (and
        `` / strategy`` with several strategies), ``"Pareto frontier"`` and
        ``"observed"``.
    """
    from matplotlib.figure import Figure

    from bayescale.scaling.plotting import save_figure

    p = check_ci_prob(ci_prob)
    cv = read_curves(accuracy, flops_per_sample, tokens_per_sample)
    table = _table(cv, p)
    frontier = _frontier(table, "mean")
    fig = Figure(figsize=(8.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    order = np.argsort(cv.flops.min(axis=1), kind="stable")
    colors = _model_colors(len(cv.models))
    color_of = {cv.models[m]: colors[rank] for rank, m in enumerate(order)}
    several = len(cv.strategies) > 1
    for m in order:
        model = cv.models[m]
        for si, strategy in enumerate(cv.strategies):
            sel = table[(table[dims.MODEL] == model) & (table[STRATEGY] == strategy)]
            x = sel["compute"].to_numpy(float)
            if show_band and cv.has_draws:
                ax.fill_between(
                    x,
                    sel["lower"].to_numpy(float),
                    sel["upper"].to_numpy(float),
                    color=color_of[model],
                    alpha=0.18,
                    lw=0,
                )
            ax.plot(
                x,
                sel["mean"].to_numpy(float),
                color=color_of[model],
                ls=_LINESTYLES[si % len(_LINESTYLES)],
                lw=1.6,
                label=f"{model} / {strategy}" if several else model,
            )
    ax.plot(
        frontier["compute"].to_numpy(float),
        frontier["mean"].to_numpy(float),
        drawstyle="steps-post",
        color="0.2",
        alpha=0.45,
        lw=4.0,
        marker="o",
        mfc="none",
        ms=6,
        zorder=4,
        label="Pareto frontier",
    )
    if observed is not None:
        _draw_observed(ax, observed, cv, color_of)
    ax.set_xscale("log")
    ax.set_xlabel("inference compute per problem C = k × FLOPs per sample")
    ax.set_ylabel(ylabel + (f" (mean, {p:.0%} band)" if cv.has_draws and show_band else ""))
    ax.grid(True, which="major", color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    fig.suptitle(title or "Accuracy against inference compute", fontsize="medium")
    return save_figure(fig, path)


def _model_colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    if n == 1:
        return [cmap(0.35)]
    return [cmap(v) for v in np.linspace(0.0, 0.88, n)]


def _draw_observed(ax: Any, observed: pd.DataFrame, cv: Curves, color_of: dict[str, Any]) -> None:
    missing = sorted({dims.MODEL, dims.K, "accuracy"} - set(observed.columns))
    if missing:
        raise DataError(
            f"observed lacks columns {missing}: give model, k and accuracy (and strategy when "
            "there are several)"
        )
    strategies = (
        observed[STRATEGY].astype(str)
        if STRATEGY in observed.columns
        else pd.Series(cv.strategies[0], index=observed.index)
    )
    models = observed[dims.MODEL].astype(str)
    labelled = False
    for mi, model in enumerate(cv.models):
        for si, strategy in enumerate(cv.strategies):
            rows = observed[((models == model) & (strategies == strategy)).to_numpy()]
            if rows.empty:
                continue
            ax.plot(
                rows[dims.K].to_numpy(float) * cv.flops[mi, si],
                rows["accuracy"].to_numpy(float),
                ls="none",
                marker="o",
                ms=3.5,
                color=color_of[model],
                mec="white",
                mew=0.4,
                zorder=5,
                label="_nolegend_" if labelled else "observed",
            )
            labelled = True


def __getattr__(name: str) -> Any:
    """Names that moved to :mod:`bayescale.passk.allocation` say so (they are also exported by
    :mod:`bayescale.passk`)."""
    if name in _MOVED:
        raise AttributeError(
            f"{name} moved from {__name__} to bayescale.passk.allocation in bayescale 0.2: "
            "import it from there or from bayescale.passk"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
