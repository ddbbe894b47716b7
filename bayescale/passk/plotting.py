"""Plot coverage (pass@k) against the number of attempts, with credible bands and data.

:func:`plot_coverage` draws, per model, the posterior median coverage of the fitted problem
set on a log-k axis with an equal-tailed credible band, the data's own unbiased coverage
curve as markers (up to the attempts made), and, optionally, new model sizes forecast
from the trend (dashed) and held-out observed curves to compare with. The figure is a
:class:`matplotlib.figure.Figure` built without pyplot.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayescale.core import dims

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayescale.passk.fitting import PassKFit

__all__ = ["plot_coverage"]


def plot_coverage(
    fit: PassKFit,
    *,
    k_max: float | None = None,
    ci: float = 0.9,
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
    ci
        Probability of the credible bands.
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
    """
    from matplotlib.figure import Figure

    from bayescale.scaling.plotting import save_figure

    n_max = float(fit.data["n_samples"].max())
    k_hi = float(k_max) if k_max is not None else 100.0 * n_max
    grid = np.unique(np.round(np.logspace(0, np.log10(k_hi), 60)))
    chosen = list(models) if models is not None else fit.models
    fig = Figure(figsize=(7.5, 5.0), layout="constrained")
    ax = fig.add_subplot()
    colors = _colors(len(chosen) + len(params or {}))
    observed = fit.observed_curve()
    lo_q, hi_q = (1 - ci) / 2, (1 + ci) / 2
    if chosen:
        da = fit.coverage_draws(grid, models=chosen)
        q = da.quantile([lo_q, 0.5, hi_q], dim=("chain", "draw"))
        for i, m in enumerate(chosen):
            qm = q.sel({dims.MODEL: m}).values
            ax.fill_between(grid, qm[0], qm[2], color=colors[i], alpha=0.25, lw=0)
            ax.plot(grid, qm[1], color=colors[i], lw=1.6, label=m)
            obs = observed[observed["model"] == m]
            ax.plot(obs["k"], obs["coverage"], "o", color=colors[i], ms=3.5, mec="white", mew=0.4)
    for j, (label, n_params) in enumerate((params or {}).items()):
        color = colors[len(chosen) + j]
        new = fit.coverage_draws(
            grid, params={label: n_params}, problems="population", n_problems=n_problems
        )
        qn = new.quantile([lo_q, 0.5, hi_q], dim=("chain", "draw")).values[:, 0]
        ax.fill_between(grid, qn[0], qn[2], color=color, alpha=0.15, lw=0)
        ax.plot(grid, qn[1], color=color, lw=1.6, ls="--", label=f"{label} (forecast)")
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
    ax.set_title(title or f"pass@k: posterior median and {ci:.0%} credible bands; dots: data")
    ax.grid(alpha=0.3, which="both", lw=0.4)
    ax.legend(fontsize=8, loc="upper left")
    return save_figure(fig, path)


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.05, 0.9, max(n, 1))]
