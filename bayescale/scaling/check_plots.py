"""Figures of checks: a model comparison (PSIS-LOO) and a back-test of held-out runs.

:func:`plot_compare` draws :func:`bayescale.compare` tables of any fit kind;
:func:`plot_backtest` draws :func:`bayescale.backtest` forecasts against what the held-out
runs gave. Both return a :class:`matplotlib.figure.Figure` (written to ``path`` when given).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bayescale.core.errors import SpecificationError
from bayescale.core.plots import save_figure
from bayescale.scaling.plotting import format_log_axis

__all__ = ["plot_backtest", "plot_compare"]


def plot_compare(
    comparison: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    show_weights: bool = True,
) -> Figure:
    """ELPD difference of each model to the best one, with its standard error.

    Draws :func:`arviz.plot_compare` (matplotlib backend) with a dotted line 4 below the
    best model: models right of it predict about as well as the best. When ArviZ's plot
    fails, the same content is drawn with plain matplotlib.

    Parameters
    ----------
    comparison
        A :class:`bayescale.compare.Comparison` or the DataFrame of :func:`arviz.compare`
        (columns ``elpd_diff`` and ``dse``, best model first).
    path
        Where to save the figure (PNG unless the suffix names another format).
    title
        Figure title (default: the metric and the weighting method when known).
    show_weights
        Add each model's weight to its label.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, not registered with pyplot (nothing is shown).
    """
    table = getattr(comparison, "table", comparison)
    if not isinstance(table, pd.DataFrame) or not {"elpd_diff", "dse"} <= set(table.columns):
        raise SpecificationError(
            "plot_compare needs a Comparison or the DataFrame of arviz.compare "
            "(columns 'elpd_diff' and 'dse')"
        )
    table = table.sort_values("elpd_diff", ascending=False)
    labels = [str(name) for name in table.index]
    if show_weights and "weight" in table.columns:
        labels = [f"{n}  (w={float(w):.2f})" for n, w in zip(labels, table["weight"], strict=True)]
    shown = table.set_axis(labels, axis=0)
    if title is None:
        metric = getattr(comparison, "metric", None)
        method = getattr(comparison, "method", "stacking")
        title = "PSIS-LOO model comparison" + (f" of {metric}" if metric else "")
        title += "\nhigher is better" + (f"; w = {method} weight" if show_weights else "")
    height = 0.45 * len(table) + 1.6
    fig: Figure
    try:
        import arviz as az
        import matplotlib.pyplot as plt

        pc = az.plot_compare(
            shown,
            backend="matplotlib",
            visuals={"similar_line": True, "title": False},
            figure_kwargs={"figsize": (7.5, height), "layout": "constrained"},
        )
        fig = pc.get_viz("figure")
        plt.close(fig)  # returned like plot_fit's figures: not held by pyplot
        ax = fig.axes[0]
    except Exception as exc:  # ArviZ's plot failed: draw the same with matplotlib
        warnings.warn(
            f"arviz.plot_compare failed ({exc!r}); drawing the comparison with matplotlib",
            RuntimeWarning,
            stacklevel=2,
        )
        fig = Figure(figsize=(7.5, height), layout="constrained")
        ax = fig.add_subplot()
        pos = np.arange(len(table), 0, -1)
        diff = table["elpd_diff"].to_numpy(dtype=float)
        ax.errorbar(diff, pos, xerr=table["dse"].to_numpy(dtype=float), fmt="o", color="k")
        ax.axvline(diff[0], color="0.4", ls="--")
        ax.axvline(diff[0] - 4.0, color="0.4", ls=":")
        ax.set_yticks(pos, labels)
    ax.set_xlabel("ELPD difference to the best model ± dse; dotted: best − 4")
    fig.suptitle(title, fontsize="medium")
    return save_figure(fig, path)


def plot_backtest(
    table: pd.DataFrame,
    *,
    path: str | os.PathLike[str] | None = None,
    ci_prob: float = 0.9,
    ncols: int = 3,
    title: str | None = None,
) -> Figure:
    """Back-test forecasts against what the held-out runs gave, one panel per model.

    Each panel (one per law x pooling) is log-log: the observed value on the x axis, the
    posterior median of the new-run forecast on the y axis with its ``ci_prob`` equal-tailed
    interval as a vertical bar, and the identity line. Colours are families; a filled
    marker is a run inside its interval, an open one a run outside. The panel title gives
    the number of scored rows, the median ARE and the coverage at ``ci_prob``.

    Parameters
    ----------
    table
        :attr:`bayescale.scaling.backtest.BacktestResult.table` (columns ``law``, ``pooling``,
        ``family``, ``observed``, ``median``, ``lower_<p>``, ``upper_<p>``,
        ``covered_<p>``, ``are``).
    path
        If given, save the figure there (PNG unless the suffix names another format).
    ci_prob
        Interval level to draw; must be one of the levels in the table.
    ncols
        Panels per row.
    title
        Figure title.
    """
    lab = f"{100 * ci_prob:g}"
    needed = {"law", "pooling", "family", "observed", "median", f"lower_{lab}", f"upper_{lab}"}
    missing = sorted(needed - set(table.columns))
    if missing:
        raise SpecificationError(
            f"the back-test table lacks columns {missing}; ci_prob={ci_prob} must be one of "
            "the scored levels"
        )
    ok = table[table["median"].notna()]
    models = list(dict.fromkeys(zip(table["law"], table["pooling"], strict=True)))
    n = max(len(models), 1)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(4.2 * ncols + 1.8, 4.0 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    families = list(dict.fromkeys(table["family"].astype(str)))
    colors = {f: f"C{i % 10}" for i, f in enumerate(families)}
    vals = np.concatenate(
        [
            ok["observed"].to_numpy(float),
            ok[f"lower_{lab}"].to_numpy(float),
            ok[f"upper_{lab}"].to_numpy(float),
        ]
    )
    vals = vals[np.isfinite(vals) & (vals > 0)]
    lo, hi = (float(vals.min()), float(vals.max())) if vals.size else (0.1, 10.0)
    pad = (hi / lo) ** 0.05 if hi > lo else 1.1
    lim = (lo / pad, hi * pad)
    for ax, (law, pool) in zip(axes, models, strict=False):
        rows = ok[(ok["law"] == law) & (ok["pooling"] == pool)]
        ax.plot(lim, lim, color="0.5", lw=1.0, ls="--", zorder=1)
        for fam, grp in rows.groupby(rows["family"].astype(str), sort=False):
            y = grp["median"].to_numpy(float)
            err = np.vstack(
                [
                    np.clip(y - grp[f"lower_{lab}"].to_numpy(float), 0, None),
                    np.clip(grp[f"upper_{lab}"].to_numpy(float) - y, 0, None),
                ]
            )
            x = grp["observed"].to_numpy(float)
            ax.errorbar(x, y, yerr=err, ls="none", color=colors[fam], elinewidth=0.9, zorder=3)
            cov = grp.get(f"covered_{lab}")
            inside = cov.fillna(False).to_numpy(bool) if cov is not None else np.ones(len(x), bool)
            ax.plot(x[inside], y[inside], "o", color=colors[fam], ms=5, zorder=4)
            ax.plot(
                x[~inside], y[~inside], "o", mfc="white", mec=colors[fam], mew=1.3, ms=6, zorder=4
            )
        n_fail = int(((table["law"] == law) & (table["pooling"] == pool)).sum()) - len(rows)
        head = f"{law} / {pool}"
        if len(rows):
            cov_col = f"covered_{lab}"
            cover = rows[cov_col].astype(float).mean() if cov_col in rows else np.nan
            head += (
                f"\nn={len(rows)}, median ARE {100 * rows['are'].median():.2g}%, "
                f"{ci_prob:.0%} coverage {cover:.2f}"
            )
        if n_fail:
            head += f"\n({n_fail} rows without forecast: fit failed)"
        ax.set_title(head, fontsize="medium")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        format_log_axis(ax.xaxis, *lim)
        format_log_axis(ax.yaxis, *lim)
        ax.set_xlabel("observed")
        ax.set_ylabel(f"forecast median, {ci_prob:.0%} interval")
        ax.grid(True, which="major", color="0.9", lw=0.6)
        ax.set_axisbelow(True)
    for ax in axes[len(models) :]:
        ax.set_visible(False)
    handles: list[Any] = [Line2D([], [], ls="none", marker="o", color=colors[f]) for f in families]
    labels = list(families)
    handles += [
        Line2D([], [], ls="none", marker="o", color="0.3"),
        Line2D([], [], ls="none", marker="o", mfc="white", mec="0.3", mew=1.3),
        Line2D([], [], color="0.5", ls="--"),
    ]
    labels += ["inside interval", "outside interval", "forecast = observed"]
    fig.legend(handles, labels, loc="outside right upper", fontsize="small", frameon=False)
    metrics = sorted(set(table["metric"].astype(str))) if "metric" in table else []
    fig.suptitle(
        title
        or "Back-test: forecast vs held-out runs"
        + (f" ({metrics[0]})" if len(metrics) == 1 else f" ({len(metrics)} metrics)")
    )
    return save_figure(fig, path)
