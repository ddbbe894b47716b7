"""Figure helpers every wing shares: write a figure, draw a credible band.

Figures are :class:`matplotlib.figure.Figure` objects built without pyplot, so no GUI
backend is needed and nothing is shown; every ``plot`` method returns its figure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["DPI", "band", "save_figure"]

#: Resolution of written raster figures.
DPI = 120


def save_figure(fig: Figure, path: str | os.PathLike[str] | None) -> Figure:
    """Write ``fig`` to ``path`` (format from the suffix, PNG if unknown) when given."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = path.suffix[1:].lower()
        if fmt not in fig.canvas.get_supported_filetypes():
            fmt = "png"
        fig.savefig(path, dpi=DPI, format=fmt)
    return fig


def band(
    ax: Axes,
    x: Any,
    draws: Any,
    *,
    ci_prob: float = 0.9,
    color: str | None = None,
    alpha: float = 0.25,
    label: str | None = None,
    median: bool = True,
) -> None:
    r"""Draw the posterior median of ``draws`` (samples x points) and its equal-tailed band.

    The band spans the :math:`(1-p)/2` and :math:`(1+p)/2` quantiles at each ``x``
    (a ``fill_between`` of the interval, as ArviZ 1 recommends for bands).
    """
    from bayescale.core.intervals import quantiles

    lo, med, hi = quantiles(np.asarray(draws).reshape(-1, np.shape(x)[0]), ci_prob, axis=0)
    ax.fill_between(x, lo, hi, color=color, alpha=alpha, lw=0, label=None if median else label)
    if median:
        ax.plot(x, med, color=color, lw=1.6, label=label)
