r"""Plot a fitted scaling law: data, posterior median curves and credible bands.

:func:`plot_fit` draws one log-log panel per family with the training runs as markers
(with their measurement intervals as error bars), the posterior median of the law and an
equal-tailed credible band of the curve (the uncertainty about the law) and, lighter, of
a new run (adds run-to-run and observation noise). Curves continue past the largest
training run (dashed, right of a dotted vertical line) so the extrapolation is visible;
held-out runs can be overlaid to compare forecasts with what larger runs actually gave.

For a one-variable law the x axis is the law's input. For the Chinchilla law
:math:`L(N, D)` the x axis is the training compute :math:`C = 6ND` (or ``params`` /
``tokens``), and the runs are grouped by their tokens-per-parameter ratio
:math:`M = D/N`; each ratio gets its own curve along :math:`N` with :math:`D = MN`.

The figure is a :class:`matplotlib.figure.Figure` built without pyplot, so no GUI backend
is needed and nothing is shown; save it with ``path=`` or ``fig.savefig``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Colormap
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

from bayescale.core import dims
from bayescale.core.errors import DataError, SpecificationError
from bayescale.core.intervals import check_ci_prob, quantiles
from bayescale.core.plots import DPI, save_figure
from bayescale.scaling.forecast import points_frame

if TYPE_CHECKING:
    from bayescale.scaling.fitting import ScalingFit

__all__ = ["DPI", "format_log_axis", "plot_fit", "ratio_groups", "save_figure"]

#: Ratios D/N within this relative distance are treated as the same ratio.
RATIO_TOL = 0.05
#: With more ratio groups than this, ratios are shown by a colorbar instead of a legend.
MAX_LEGEND_RATIOS = 10


_AXIS_LABELS = {
    dims.COL_PARAMS: "parameters N",
    dims.COL_TOKENS: "training tokens D",
    dims.COL_COMPUTE: "training compute C (FLOPs)",
}
_COMPUTE_6ND_LABEL = "training compute C = 6ND (FLOPs)"
_ONE_VAR_COLOR = "C0"
_HELD_OUT_COLOR = "black"
_CURVE_ALPHA = 0.28
_NEW_RUN_ALPHA = 0.10


@dataclass(frozen=True)
class _Series:
    """One curve to draw in a panel: grid, draws' quantiles and styling."""

    x: np.ndarray
    median: np.ndarray
    curve_band: tuple[np.ndarray, np.ndarray]
    new_run_band: tuple[np.ndarray, np.ndarray]
    x_train_max: float
    color: Any


def ratio_groups(ratios: Sequence[float] | np.ndarray, tol: float = RATIO_TOL) -> np.ndarray:
    """Representative tokens-per-parameter ratios of a set of runs.

    Sorted ratios are clustered so that every ratio in a cluster lies within ``tol``
    (relative) of the cluster's smallest one; each cluster is represented by the ratio in
    it that is closest (in log) to the cluster's geometric mean, a value that appears in
    the data.

    Parameters
    ----------
    ratios
        Ratios :math:`D/N` (> 0).
    tol
        Relative tolerance: ratios within ``tol`` of each other are one group.

    Returns
    -------
    numpy.ndarray
        Sorted representative ratios, one per group.
    """
    values = np.unique(np.asarray(ratios, dtype=float))
    reps: list[float] = []
    cluster: list[float] = []
    for r in values:
        if cluster and r > cluster[0] * (1.0 + tol):
            reps.append(_representative(cluster))
            cluster = []
        cluster.append(float(r))
    if cluster:
        reps.append(_representative(cluster))
    return np.asarray(reps, dtype=float)


def _representative(cluster: Sequence[float]) -> float:
    logs = np.log(np.asarray(cluster))
    return float(cluster[int(np.argmin(np.abs(logs - logs.mean())))])


def _nearest_group(ratios: np.ndarray, reps: np.ndarray, tol: float | None = None) -> np.ndarray:
    """Index of the nearest representative (log distance); -1 where farther than ``tol``."""
    dist = np.abs(np.log(ratios)[:, None] - np.log(reps)[None, :])
    idx = np.argmin(dist, axis=1)
    if tol is not None:
        idx = np.where(dist[np.arange(len(ratios)), idx] <= np.log1p(tol) + 1e-12, idx, -1)
    return idx


def _format_ratio(r: float) -> str:
    if r >= 1 and abs(r - round(r)) < 1e-6 * r:
        return f"{round(r):d}"
    return f"{r:.3g}"


def _quantiles(draws: np.ndarray, ci_prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower, median and upper equal-tailed quantiles of ``(chain, draw, point)`` draws."""
    flat = draws.reshape(-1, draws.shape[-1])
    lo, med, hi = quantiles(flat, ci_prob, axis=0)
    return lo, med, hi


def _data_frame(fit: ScalingFit) -> pd.DataFrame:
    """The training data as a frame with family, scale columns and value (+ interval)."""
    data = fit.data
    frame = pd.DataFrame(
        {
            dims.COL_FAMILY: np.asarray(data["obs_family"].values, dtype=str),
            **{c: np.asarray(data[c].values, dtype=float) for c in dims.SCALE_COLUMNS},
            dims.COL_VALUE: np.asarray(data[dims.COL_VALUE].values, dtype=float),
        }
    )
    for col in (dims.COL_VALUE_LO, dims.COL_VALUE_HI):
        if col in data:
            frame[col] = np.asarray(data[col].values, dtype=float)
    return frame


def _yerr(frame: pd.DataFrame) -> np.ndarray | None:
    """Asymmetric error bars from ``value_lo``/``value_hi`` (0 where missing)."""
    if dims.COL_VALUE_LO not in frame or dims.COL_VALUE_HI not in frame:
        return None
    value = frame[dims.COL_VALUE].to_numpy(dtype=float)
    lo = np.nan_to_num(value - frame[dims.COL_VALUE_LO].to_numpy(dtype=float), nan=0.0)
    hi = np.nan_to_num(frame[dims.COL_VALUE_HI].to_numpy(dtype=float) - value, nan=0.0)
    if not (np.any(lo > 0) or np.any(hi > 0)):
        return None
    return np.vstack([np.clip(lo, 0, None), np.clip(hi, 0, None)])


def _held_out(points: pd.DataFrame, inputs: Sequence[str], families: Sequence[str]) -> pd.DataFrame:
    """Check held-out runs; add ``compute`` = 6ND; keep those of fitted families."""
    frame = points_frame(points, inputs)
    if dims.COL_VALUE not in frame:
        raise DataError("held-out points need a 'value' column (the measured metric)")
    value = pd.to_numeric(frame[dims.COL_VALUE], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(np.isfinite(value) & (value > 0)))
    if bad.size:
        raise DataError(
            f"held-out column 'value' must be a finite number > 0; rows {bad.tolist()[:8]}"
        )
    frame[dims.COL_VALUE] = value
    if {dims.COL_PARAMS, dims.COL_TOKENS} <= set(frame.columns):
        for col in (dims.COL_PARAMS, dims.COL_TOKENS):
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
        if dims.COL_COMPUTE not in frame:
            frame[dims.COL_COMPUTE] = 6.0 * frame[dims.COL_PARAMS] * frame[dims.COL_TOKENS]
    if dims.COL_FAMILY in frame:
        labels = frame[dims.COL_FAMILY].astype(str)
        unknown = sorted(set(labels) - set(families))
        if unknown:
            warnings.warn(
                f"held-out points of families {unknown} are not drawn: the fit has "
                f"families {list(families)}",
                UserWarning,
                stacklevel=3,
            )
        frame = frame[labels.isin(families).to_numpy()].reset_index(drop=True)
    return frame


def _resolve_x(law_inputs: Sequence[str], x: str | None) -> tuple[str, bool]:
    """The x-axis variable and whether the law is the two-variable Chinchilla form."""
    two_var = set(law_inputs) == {dims.COL_PARAMS, dims.COL_TOKENS}
    if two_var:
        x = x or dims.COL_COMPUTE
        if x not in dims.SCALE_COLUMNS:
            raise SpecificationError(f"x must be one of {dims.SCALE_COLUMNS}, not {x!r}")
        return x, True
    if len(law_inputs) != 1:
        raise SpecificationError(f"cannot plot a law with inputs {tuple(law_inputs)}")
    x = x or law_inputs[0]
    if x != law_inputs[0]:
        raise SpecificationError(
            f"this law reads only {law_inputs[0]!r}, so x must be {law_inputs[0]!r}, not {x!r}"
        )
    return x, False


def _ratio_colors(n: int, cmap: Colormap) -> list[Any]:
    if n == 1:
        return [cmap(0.35)]
    return [cmap(v) for v in np.linspace(0.0, 0.88, n)]


def _series_one_var(
    fit: ScalingFit,
    family: str,
    fam_data: pd.DataFrame,
    x: str,
    *,
    x_max: float,
    ci_prob: float,
    n_grid: int,
) -> list[_Series]:
    x_lo = float(fam_data[x].min())
    x_train = float(fam_data[x].max())
    grid = np.geomspace(x_lo, max(x_max, x_train * 1.0001), n_grid)
    draws = fit.forecast_draws({x: grid}, family=family, seed=0)
    c_lo, med, c_hi = _quantiles(draws["curve"].values, ci_prob)
    r_lo, _, r_hi = _quantiles(draws["new_run"].values, ci_prob)
    return [_Series(grid, med, (c_lo, c_hi), (r_lo, r_hi), x_train, _ONE_VAR_COLOR)]


def _series_ratio(
    fit: ScalingFit,
    family: str,
    fam_data: pd.DataFrame,
    x: str,
    *,
    reps: np.ndarray,
    colors: Sequence[Any],
    n_max: float,
    ci_prob: float,
    n_grid: int,
) -> list[_Series]:
    """One curve per tokens-per-parameter group along N with D = M N."""
    group = _nearest_group(
        (fam_data[dims.COL_TOKENS] / fam_data[dims.COL_PARAMS]).to_numpy(dtype=float), reps
    )
    present = sorted(set(group.tolist()))
    grids, ratio_of_point = [], []
    for g in present:
        rows = fam_data[group == g]
        n_lo = float(rows[dims.COL_PARAMS].min())
        grid = np.geomspace(n_lo, max(n_max, n_lo * 1.0001), n_grid)
        grids.append(grid)
        ratio_of_point.append(np.full(n_grid, reps[g]))
    n = np.concatenate(grids)
    d = n * np.concatenate(ratio_of_point)
    draws = fit.forecast_draws({dims.COL_PARAMS: n, dims.COL_TOKENS: d}, family=family, seed=0)
    c_lo, med, c_hi = _quantiles(draws["curve"].values, ci_prob)
    r_lo, _, r_hi = _quantiles(draws["new_run"].values, ci_prob)
    xs = {dims.COL_PARAMS: n, dims.COL_TOKENS: d, dims.COL_COMPUTE: 6.0 * n * d}[x]
    out = []
    for k, g in enumerate(present):
        s = slice(k * n_grid, (k + 1) * n_grid)
        rows = fam_data[group == g]
        x_train = float(_x_values(rows, x, two_var=True).max())
        out.append(
            _Series(xs[s], med[s], (c_lo[s], c_hi[s]), (r_lo[s], r_hi[s]), x_train, colors[g])
        )
    return out


def _x_values(frame: pd.DataFrame, x: str, *, two_var: bool) -> np.ndarray:
    """The x coordinate of runs; for Chinchilla compute is always 6ND (as the curves)."""
    if two_var and x == dims.COL_COMPUTE:
        return 6.0 * frame[dims.COL_PARAMS].to_numpy(float) * frame[dims.COL_TOKENS].to_numpy(float)
    return frame[x].to_numpy(dtype=float)


def _band_alphas(n_series: int) -> tuple[float, float]:
    """Alphas of the curve and new-run bands: lighter when many bands overlap."""
    shrink = 1.0 / np.sqrt(max(n_series, 1) / 2.0) if n_series > 2 else 1.0
    return max(_CURVE_ALPHA * shrink, 0.1), max(_NEW_RUN_ALPHA * shrink, 0.04)


def _draw_series(
    ax: Axes, series: _Series, *, show_new_run: bool, alphas: tuple[float, float]
) -> None:
    if show_new_run:
        ax.fill_between(series.x, *series.new_run_band, color=series.color, alpha=alphas[1], lw=0)
    ax.fill_between(series.x, *series.curve_band, color=series.color, alpha=alphas[0], lw=0)
    inside = series.x <= series.x_train_max * (1 + 1e-9)
    ax.plot(series.x[inside], series.median[inside], color=series.color, lw=1.6)
    # Continue the median (dashed) from the last training point into the extrapolation.
    start = max(int(np.count_nonzero(inside)) - 1, 0)
    ax.plot(series.x[start:], series.median[start:], color=series.color, lw=1.6, ls="--")


def _draw_points(
    ax: Axes, xs: np.ndarray, frame: pd.DataFrame, color: Any, *, held_out: bool
) -> None:
    ys = frame[dims.COL_VALUE].to_numpy(dtype=float)
    if held_out:
        ax.plot(
            xs,
            ys,
            ls="none",
            marker="*",
            ms=13,
            mfc="none",
            mec=color,
            mew=1.4,
            zorder=6,
        )
        return
    ax.errorbar(
        xs,
        ys,
        yerr=_yerr(frame),
        ls="none",
        marker="o",
        ms=4.5,
        color=color,
        mec="white",
        mew=0.5,
        elinewidth=0.8,
        capsize=0,
        zorder=5,
    )


def _held_out_forecasts(
    ax: Axes,
    fit: ScalingFit,
    family: str,
    frame: pd.DataFrame,
    xs: np.ndarray,
    *,
    ci_prob: float,
) -> ErrorbarContainer:
    """Draw the forecast (median and ``ci_prob`` new-run interval) at each held-out run."""
    cols = {c: frame[c].to_numpy(dtype=float) for c in fit.law.inputs}
    draws = fit.forecast_draws(cols, family=family, seed=0)
    lo, med, hi = _quantiles(draws["new_run"].values, ci_prob)
    return ax.errorbar(
        xs,
        med,
        yerr=np.vstack([med - lo, hi - med]),
        ls="none",
        marker="_",
        ms=9,
        color=_HELD_OUT_COLOR,
        elinewidth=1.0,
        capsize=3,
        zorder=5.5,
    )


def _mark_extrapolation(ax: Axes, x_train: float, x_values: np.ndarray) -> None:
    """Fix the x limits; shade and label the region right of the largest training run."""
    x_lo, x_hi = float(x_values.min()), float(x_values.max())
    pad = (x_hi / x_lo) ** 0.03
    ax.set_xlim(x_lo / pad, x_hi * pad)
    ax.axvline(x_train, color="0.35", ls=":", lw=1.2, zorder=1)
    ax.axvspan(x_train, x_hi * pad, color="0.5", alpha=0.07, lw=0, zorder=0)
    ax.text(
        x_train,
        0.985,
        " extrapolation",
        transform=ax.get_xaxis_transform(),
        rotation=90,
        ha="left",
        va="top",
        fontsize="small",
        color="0.3",
    )


def format_log_axis(axis: Any, lo: float, hi: float) -> None:
    """Plain tick labels (2, 3, 4) when a log axis spans less than about a decade."""
    if hi / lo < 12:
        axis.set_major_locator(
            LogLocator(base=10, subs=(1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0))
        )
        axis.set_major_formatter(StrMethodFormatter("{x:g}"))
        axis.set_minor_formatter(NullFormatter())


def plot_fit(
    fit: ScalingFit,
    *,
    path: str | os.PathLike[str] | None = None,
    ci_prob: float = 0.9,
    x: str | None = None,
    n_grid: int = 60,
    extend: float = 3.0,
    show_new_run: bool = True,
    points: pd.DataFrame | None = None,
) -> Figure:
    r"""Plot data, posterior median curves and credible bands, one panel per family.

    Parameters
    ----------
    fit
        A fitted :class:`~bayescale.scaling.fitting.ScalingFit`.
    path
        If given, save the figure there (PNG at 120 dpi, or the format of the suffix);
        parent folders are created.
    ci_prob
        Probability of the equal-tailed credible bands.
    x
        Variable on the x axis. For a one-variable law only its input (the default). For
        the Chinchilla law ``"compute"`` (:math:`C = 6ND`, default), ``"params"`` or
        ``"tokens"``.
    n_grid
        Number of grid points per curve.
    extend
        Curves run to ``extend`` times the largest training value of x (one-variable law)
        or of :math:`N` (Chinchilla, per family), past any held-out run.
    show_new_run
        Also draw the lighter band of a new run (curve plus run-to-run and observation
        noise).
    points
        Held-out runs to overlay as open stars, with the law's inputs (``params`` and
        ``tokens``, or its single input), ``value`` and optionally ``family`` (rows
        without it appear in every panel; rows of families not in the fit are skipped
        with a warning). The forecast for each (median and ``ci_prob`` interval of a new
        run) is drawn as a black bar at the same x.

    Returns
    -------
    matplotlib.figure.Figure
        One log-log axes per family (in ``fit.families`` order) with a shared y axis; a
        figure legend on the right explains the markers, bands and ratios.

    Notes
    -----
    For the Chinchilla law, runs are grouped by tokens per parameter :math:`M = D/N`
    (ratios within 5% are one group, labelled by a ratio that appears in the data) and
    each group gets a curve along :math:`N` with :math:`D = MN`, coloured by :math:`M`.
    Medians are solid up to the group's largest training run and dashed beyond; the
    dotted vertical line marks the family's largest training run.

    Examples
    --------
    >>> fig = fit.plot("figures/fit.png", ci_prob=0.9)  # doctest: +SKIP
    """
    check_ci_prob(ci_prob)
    if int(n_grid) < 2:
        raise SpecificationError(f"n_grid must be at least 2, not {n_grid}")
    if not extend >= 1:
        raise SpecificationError(f"extend must be >= 1, not {extend}")
    n_grid = int(n_grid)
    law = fit.law
    x, two_var = _resolve_x(law.inputs, x)
    families = fit.families
    data = _data_frame(fit)
    held = None if points is None else _held_out(points, law.inputs, families)

    from matplotlib import colormaps

    reps = np.array([1.0])
    colors: list[Any] = [_ONE_VAR_COLOR]
    if two_var:
        reps = ratio_groups(data[dims.COL_TOKENS] / data[dims.COL_PARAMS])
        colors = _ratio_colors(len(reps), colormaps["viridis"])

    n_fam = len(families)
    use_colorbar = two_var and len(reps) > MAX_LEGEND_RATIOS
    fig = Figure(figsize=(4.4 * n_fam + 2.4, 5.0), layout="constrained")
    axes = fig.subplots(1, n_fam, sharey=True, squeeze=False)[0]
    y_all: list[np.ndarray] = []
    forecast_handle: ErrorbarContainer | None = None

    for ax, family in zip(axes, families, strict=True):
        fam_data = data[data[dims.COL_FAMILY] == family].reset_index(drop=True)
        fam_held = None
        if held is not None:
            fam_held = (
                held[held[dims.COL_FAMILY].astype(str) == family]
                if dims.COL_FAMILY in held
                else held
            )
            fam_held = fam_held.reset_index(drop=True) if len(fam_held) else None
        if two_var:
            n_max = float(fam_data[dims.COL_PARAMS].max()) * extend
            if fam_held is not None:
                n_max = max(n_max, float(fam_held[dims.COL_PARAMS].max()) * 1.05)
            series = _series_ratio(
                fit,
                family,
                fam_data,
                x,
                reps=reps,
                colors=colors,
                n_max=n_max,
                ci_prob=ci_prob,
                n_grid=n_grid,
            )
        else:
            x_max = float(fam_data[x].max()) * extend
            if fam_held is not None:
                x_max = max(x_max, float(fam_held[x].max()) * 1.05)
            series = _series_one_var(
                fit, family, fam_data, x, x_max=x_max, ci_prob=ci_prob, n_grid=n_grid
            )
        alphas = _band_alphas(len(series))
        for s in series:
            _draw_series(ax, s, show_new_run=show_new_run, alphas=alphas)
            y_all += [s.curve_band[0], s.curve_band[1]]

        xs = _x_values(fam_data, x, two_var=two_var)
        if two_var:
            group = _nearest_group(
                (fam_data[dims.COL_TOKENS] / fam_data[dims.COL_PARAMS]).to_numpy(float), reps
            )
            for g in sorted(set(group.tolist())):
                sel = group == g
                _draw_points(ax, xs[sel], fam_data[sel], colors[g], held_out=False)
        else:
            _draw_points(ax, xs, fam_data, _ONE_VAR_COLOR, held_out=False)
        y_all.append(fam_data[dims.COL_VALUE].to_numpy(float))
        panel_x = [xs, *(s.x for s in series)]

        if fam_held is not None:
            hx = _x_values(fam_held, x, two_var=two_var)
            forecast_handle = _held_out_forecasts(ax, fit, family, fam_held, hx, ci_prob=ci_prob)
            if two_var:
                hg = _nearest_group(
                    (fam_held[dims.COL_TOKENS] / fam_held[dims.COL_PARAMS]).to_numpy(float),
                    reps,
                    RATIO_TOL,
                )
                hcolors = [colors[g] if g >= 0 else _HELD_OUT_COLOR for g in hg]
                for i, c in enumerate(hcolors):
                    _draw_points(ax, hx[i : i + 1], fam_held.iloc[[i]], c, held_out=True)
            else:
                _draw_points(ax, hx, fam_held, _HELD_OUT_COLOR, held_out=True)
            y_all.append(fam_held[dims.COL_VALUE].to_numpy(float))
            panel_x.append(hx)
        _mark_extrapolation(ax, float(xs.max()), np.concatenate(panel_x))

        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(str(family))
        ax.set_xlabel(_COMPUTE_6ND_LABEL if two_var and x == "compute" else _AXIS_LABELS[x])
        ax.grid(True, which="major", color="0.9", lw=0.6)
        ax.set_axisbelow(True)

    y_cat = np.concatenate(y_all)
    y_cat = y_cat[np.isfinite(y_cat) & (y_cat > 0)]
    y_lo, y_hi = float(y_cat.min()), float(y_cat.max())
    pad = (y_hi / y_lo) ** 0.04
    axes[0].set_ylim(y_lo / pad, y_hi * pad)
    format_log_axis(axes[0].yaxis, y_lo / pad, y_hi * pad)
    axes[0].set_ylabel(fit.metric)

    _legend(
        fig,
        two_var=two_var,
        reps=reps,
        colors=colors,
        use_colorbar=use_colorbar,
        axes=axes,
        ci_prob=ci_prob,
        show_new_run=show_new_run,
        held_out=forecast_handle,
        has_yerr=_yerr(data) is not None,
    )
    fig.suptitle(f"{law.spec}: {law.equation}  (median, {ci_prob:.0%} equal-tailed bands)")
    return save_figure(fig, path)


def _legend(
    fig: Figure,
    *,
    two_var: bool,
    reps: np.ndarray,
    colors: Sequence[Any],
    use_colorbar: bool,
    axes: Sequence[Axes],
    ci_prob: float,
    show_new_run: bool,
    held_out: ErrorbarContainer | None,
    has_yerr: bool,
) -> None:
    """Figure legends on the right: what the marks mean, and the D/N ratio colours."""
    grey = "0.45" if two_var else _ONE_VAR_COLOR
    handles: list[Any] = [
        Line2D([], [], ls="none", marker="o", color=grey, mec="white", ms=6),
        Line2D([], [], color=grey, lw=1.6),
        Line2D([], [], color=grey, lw=1.6, ls="--"),
        Patch(color=grey, alpha=_CURVE_ALPHA, lw=0),
    ]
    labels = [
        "training runs" + (" (± interval)" if has_yerr else ""),
        "median curve",
        "median, extrapolated",
        f"{ci_prob:.0%} band: curve",
    ]
    if show_new_run:
        handles.append(Patch(color=grey, alpha=_NEW_RUN_ALPHA + 0.05, lw=0))
        labels.append(f"{ci_prob:.0%} band: new run")
    handles.append(Line2D([], [], color="0.35", ls=":", lw=1.2))
    labels.append("largest training run")
    if held_out is not None:
        handles += [
            Line2D([], [], ls="none", marker="*", ms=12, mfc="none", mec="0.2", mew=1.4),
            held_out,
        ]
        labels += ["held-out runs", f"forecast ({ci_prob:.0%} new run)"]
    fig.legend(handles, labels, loc="outside right upper", fontsize="small", frameon=False)
    if not two_var:
        return
    if use_colorbar:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import BoundaryNorm, ListedColormap

        edges = np.concatenate([[reps[0] / 1.2], np.sqrt(reps[:-1] * reps[1:]), [reps[-1] * 1.2]])
        mappable = ScalarMappable(norm=BoundaryNorm(edges, len(reps)), cmap=ListedColormap(colors))
        bar = fig.colorbar(mappable, ax=list(axes), location="right", shrink=0.6, pad=0.01)
        bar.set_label("tokens per parameter D/N")
        return
    ratio_handles = [Line2D([], [], color=c, lw=2.5) for c in colors]
    ratio_labels = [f"D/N = {_format_ratio(r)}" for r in reps]
    fig.legend(
        ratio_handles,
        ratio_labels,
        loc="outside right lower",
        fontsize="small",
        frameon=False,
        title="tokens per parameter",
        title_fontsize="small",
    )
