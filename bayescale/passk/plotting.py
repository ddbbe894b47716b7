"""Plots of the pass@k wing: coverage against attempts, coverage laws, voting curves.

Every function draws posterior medians with equal-tailed credible bands
(:func:`bayescale.core.intervals.quantiles`) over the data, and returns a
:class:`matplotlib.figure.Figure` built without pyplot (written to ``path`` when given).

* :func:`plot_coverage`: a :class:`~bayescale.passk.PassKFit`, per model, the coverage of
  the fitted problem set on a log-k axis, the data's own unbiased coverage curve as
  markers (up to the attempts made), and, optionally, new model sizes forecast from the
  trend (dashed) and held-out observed curves to compare with.
* :func:`plot_coverage_law`: a :class:`~bayescale.passk.CoverageLawFit`, the fitted law per
  model over its empirical coverage points, extended beyond the largest fitted k.
* :func:`plot_voting_curve`: a :class:`~bayescale.passk.VotingCurveFit`, accuracy against
  the number of samples n per model over the measured accuracies, with the limit
  :math:`\\text{acc}_\\infty` at the right.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayescale.core import dims
from bayescale.core.intervals import check_ci_prob, quantiles

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from bayescale.passk.coverage_laws import CoverageLawFit
    from bayescale.passk.fitting import PassKFit
    from bayescale.passk.voting_curve import VotingCurveFit

__all__ = ["plot_coverage", "plot_coverage_law", "plot_voting_curve"]


def plot_coverage(
    fit: PassKFit,
    *,
    k_max: float | None = None,
    ci_prob: float = 0.9,
    models: Sequence[str] | None = None,
    params: Mapping[str, float] | None = None,
    held_out: pd.DataFrame | None = None,
    n_problems: int | None = None,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Coverage against attempts k (log axis) for fitted models and forecast sizes.

    Parameters
    ----------
    fit
        A :class:`~bayescale.passk.PassKFit`.
    k_max
        Right end of the k axis (default: 100 times the most attempts in the data).
    ci_prob
        Probability of the credible bands (equal-tailed).
    models
        Fitted models to draw (default: all).
    params
        New model sizes ``{"label": N}`` forecast from the trend (population coverage, of
        ``n_problems`` problems when given).
    held_out
        Observed coverage curves to overlay (columns ``model``, ``k``, ``coverage``), e.g.
        from :func:`bayescale.passk.coverage_curve` on attempts not used in the fit.
    path
        Save the figure there (format from the suffix).
    title
        Figure title (default: says what the bands are).
    """
    from matplotlib.figure import Figure

    from bayescale.scaling.plotting import save_figure

    p = check_ci_prob(ci_prob)
    n_max = float(fit.data["n_samples"].max())
    k_hi = float(k_max) if k_max is not None else 100.0 * n_max
    grid = np.unique(np.round(np.logspace(0, np.log10(k_hi), 60)))
    chosen = list(models) if models is not None else fit.models
    fig = Figure(figsize=(7.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    colors = _colors(len(chosen) + len(params or {}))
    observed = fit.observed_curve()
    if chosen:
        da = fit.coverage_draws(grid, models=chosen)
        for i, m in enumerate(chosen):
            _band(ax, grid, da.sel({dims.MODEL: m}).values, p, colors[i], label=m)
            obs = observed[observed["model"] == m]
            ax.plot(obs["k"], obs["coverage"], "o", color=colors[i], ms=3.5, mec="white", mew=0.4)
    for j, (label, n_params) in enumerate((params or {}).items()):
        new = fit.coverage_draws(
            grid, params={label: n_params}, problems="population", n_problems=n_problems
        )
        color = colors[len(chosen) + j]
        _band(ax, grid, new.values[:, :, 0], p, color, label=f"{label} (forecast)", ls="--")
    if held_out is not None:
        for j, (_model, frame) in enumerate(held_out.groupby("model", sort=False)):
            ax.plot(
                frame["k"],
                frame["coverage"],
                "x",
                color="black",
                ms=4,
                label="held out" if j == 0 else None,
            )
    ax.axvline(n_max, color="0.5", ls=":", lw=1)
    ax.text(n_max, 0.02, " attempts in data", color="0.4", fontsize=8, rotation=90, va="bottom")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlim(1, k_hi)
    ax.set_xlabel("attempts per problem k")
    ax.set_ylabel("coverage (pass@k)")
    ax.set_title(title or f"pass@k: posterior median and {p:.0%} credible bands; dots: data")
    ax.grid(alpha=0.3, which="both", lw=0.4)
    ax.legend(fontsize=8, loc="upper left")
    return save_figure(fig, path)


def plot_coverage_law(
    fit: CoverageLawFit,
    *,
    k_max: float | None = None,
    ci_prob: float = 0.9,
    models: Sequence[str] | str | None = None,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Figure:
    """The fitted coverage law of each model over its empirical coverage points.

    Parameters
    ----------
    fit
        A :class:`~bayescale.passk.CoverageLawFit`.
    k_max
        Right end of the k axis (default: 100 times the largest fitted k).
    ci_prob
        Probability of the credible bands of the law's curve :math:`C(k)`.
    models
        Models to draw (default: all).
    path
        Save the figure there (format from the suffix).
    title
        Figure title (default: names the law and the bands).
    """
    from matplotlib.figure import Figure

    from bayescale.scaling.plotting import save_figure

    p = check_ci_prob(ci_prob)
    k_data = fit.data["k"].values.astype(float)
    k_hi = float(k_max) if k_max is not None else 100.0 * float(k_data.max())
    grid = np.logspace(0, np.log10(max(k_hi, 2.0)), 80)
    chosen = [models] if isinstance(models, str) else list(models or fit.models)
    fig = Figure(figsize=(7.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    colors = _colors(len(chosen))
    draws = fit.coverage_draws(grid, models=chosen)
    labels = fit.data["model_label"].values.astype(str)
    for i, m in enumerate(chosen):
        _band(ax, grid, draws.sel({dims.MODEL: m}).values, p, colors[i], label=m)
        sel = labels == m
        ax.plot(
            k_data[sel],
            fit.data["coverage"].values[sel],
            "o",
            color=colors[i],
            ms=3.5,
            mec="white",
            mew=0.4,
        )
    ax.axvline(float(k_data.max()), color="0.5", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlim(1, k_hi)
    ax.set_xlabel("attempts per problem k")
    ax.set_ylabel("coverage (pass@k)")
    ax.set_title(
        title or f"coverage law {fit.law!r}: median and {p:.0%} credible bands; dots: data"
    )
    ax.grid(alpha=0.3, which="both", lw=0.4)
    ax.legend(fontsize=8, loc="upper left")
    return save_figure(fig, path)


def plot_voting_curve(
    fit: VotingCurveFit,
    *,
    n_max: float | None = None,
    ci_prob: float = 0.9,
    models: Sequence[str] | str | None = None,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Accuracy against the number of samples n per model, with the limit at n = inf.

    Parameters
    ----------
    fit
        A :class:`~bayescale.passk.VotingCurveFit`.
    n_max
        Right end of the n axis (default: 10 times the largest n of the data).
    ci_prob
        Probability of the credible bands (of the population accuracy, not of a new
        evaluation's binomial noise).
    models
        Models to draw (default: all).
    path
        Save the figure there (format from the suffix).
    title
        Figure title (default: says what the bands and markers are).
    """
    from matplotlib.figure import Figure

    from bayescale.scaling.plotting import save_figure

    p = check_ci_prob(ci_prob)
    n_data = fit.data["n"].to_numpy(dtype=float)
    n_hi = float(n_max) if n_max is not None else 10.0 * float(n_data.max())
    grid = np.unique(np.round(np.logspace(0, np.log10(max(n_hi, 2.0)), 60)))
    chosen = [models] if isinstance(models, str) else list(models or fit.models)
    fig = Figure(figsize=(7.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    colors = _colors(len(chosen))
    draws = fit.curve_draws([*grid, np.inf])
    for i, m in enumerate(chosen):
        values = draws.sel({"model": m}).values
        _band(ax, grid, values[..., :-1], p, colors[i], label=m)
        lo, med, hi = quantiles(values[..., -1].ravel(), p)
        ax.errorbar(
            [n_hi], [med], yerr=[[med - lo], [hi - med]], fmt="s", color=colors[i], ms=4, capsize=3
        )
        rows = fit.data[fit.data["model"] == m]
        ax.plot(
            rows["n"],
            rows["n_correct"] / rows["n_problems"],
            "o",
            color=colors[i],
            ms=3.5,
            mec="white",
            mew=0.4,
        )
    ax.set_xscale("log")
    ax.set_xlim(1, n_hi * 1.3)
    ax.set_xlabel("samples per problem n (squares: limit n → ∞)")
    ax.set_ylabel("accuracy")
    ax.set_title(title or f"voting curve: median and {p:.0%} credible bands; dots: data")
    ax.grid(alpha=0.3, which="both", lw=0.4)
    ax.legend(fontsize=8, loc="best")
    return save_figure(fig, path)


def _band(
    ax: Axes,
    x: np.ndarray,
    draws: np.ndarray,
    ci_prob: float,
    color: Any,
    *,
    label: str,
    ls: str = "-",
) -> None:
    """Median line and equal-tailed band of ``draws`` (any sample axes, then ``x``)."""
    lo, med, hi = quantiles(np.asarray(draws).reshape(-1, len(x)), ci_prob, axis=0)
    alpha = 0.15 if ls != "-" else 0.25
    ax.fill_between(x, lo, hi, color=color, alpha=alpha, lw=0)
    ax.plot(x, med, color=color, lw=1.6, ls=ls, label=label)


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.05, 0.9, max(n, 1))]
