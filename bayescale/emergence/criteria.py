r"""One definition of the emergence threshold and of "emergent", for every view of a task.

Both emergence models, the Slice-and-Sandwich (:mod:`bayescale.emergence.sandwich`) and the
sigmoidal law (:mod:`bayescale.emergence.sigmoid`), give per posterior draw the accuracy
:math:`a(x)` of a typical model of :math:`x = \log_{10} C` training FLOPs (the *curve*:
the sandwich's logit-normal median, the sigmoid's law). The threshold and P(emergent) are
defined on that curve alone, so the two views answer the same question with the same
quantity; each table says which view it came from (column ``view``).

**Threshold.** With :math:`c` the task's chance accuracy and :math:`\delta` the margin
(``margin``, default :data:`MARGIN` = 0.05), the threshold is the compute from which on the
curve stays at least :math:`\delta` of the range above chance:

.. math::

    x_e = \inf\{x : a(y) \ge c + \delta\,(1 - c)\ \ \forall\, y \in [x, x_{\text{end}}]\},
    \qquad C_e = 10^{x_e},

"the compute at which accuracy leaves chance by 5% of what is left to gain" (for a
four-choice task, 0.25 + 0.0375 = 0.2875). On a monotone curve (the sigmoid) it is the
crossing :math:`a(x_e) = c + \delta(1 - c)`; "stays" makes it robust to a curve that wiggles
around the level before it leaves. :math:`x_e = -\infty` when the curve is above the level
over the whole range searched (it left chance before the smallest model), :math:`+\infty`
when it is below it at the end (it has not left chance yet). For the sigmoid law
:math:`a = c + (h - c)\,\sigma((x - x^*)/w)` with :math:`f = (h - c)/(1 - c)` it has the
closed form

.. math::

    x_e = x^* + w\,\operatorname{logit}(\delta / f)\quad (f > \delta),

which for :math:`\delta = 0.05` is the law's sampled *absolute onset* :math:`x_a`
(:mod:`bayescale.emergence.sigmoid_model`). Reported alternatives: the easy slices' turn
(sandwich, Wu & Lo's reading) and the mid-point :math:`x^*` of the rise (sigmoid).

**Emergent.** Over the fitted range :math:`[x_{\text{lo}}, x_{\text{hi}}]` (smallest and
largest fitted model; ``up_to`` may extend :math:`x_{\text{hi}}`), with
:math:`R = a(x_{\text{hi}}) - c` the rise seen by :math:`x_{\text{hi}}` and
:math:`x_q` the compute from which on :math:`a - c \ge q R`, a draw is emergent when

(i) *flat first*: :math:`x_e > x_{\text{lo}}` (the smallest fitted models are at chance),
(ii) *a jump*: :math:`R \ge` ``min_jump`` (default 0.1 accuracy above chance), and
(iii) *sharp*: :math:`x_{0.9} - \max(x_{0.1}, x_{\text{lo}}) \le` ``max_decades``
(default 2: the 10%-to-90% part of the rise takes at most a factor 100 in compute).

P(emergent) is the share of posterior draws in which (i)-(iii) hold. For a sigmoid whose
rise is complete by :math:`x_{\text{hi}}`, (iii) is the law's 10%-90% rise
:math:`2 w \ln 9 \le` ``max_decades``; for a rise still under way it measures the part
seen so far.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bayescale.core.errors import SpecificationError
from bayescale.core.intervals import check_ci_prob, quantiles

__all__ = [
    "MARGIN",
    "MAX_DECADES",
    "MIN_JUMP",
    "THRESHOLD_COLUMNS",
    "check_criteria",
    "emergence_draws",
    "leave_point",
    "sigmoid_threshold",
    "threshold_row",
    "thresholds",
]

#: Margin :math:`\delta` of the threshold: a fraction of the range above chance.
MARGIN = 0.05
#: Smallest rise above chance (accuracy) by the largest fitted model that counts as a jump.
MIN_JUMP = 0.1
#: Largest 10%-to-90% rise, in decades of compute, that counts as sharp.
MAX_DECADES = 2.0
#: The columns every ``threshold()`` table starts with (then each view's own columns).
THRESHOLD_COLUMNS = (
    "log10_threshold",
    "log10_lower",
    "log10_upper",
    "threshold",
    "lower",
    "upper",
    "p_emergent",
    "view",
    "margin",
    "p_below",
    "p_beyond",
    "data_lo",
    "data_hi",
    "ci_prob",
)
#: Points of the grid of log compute on which curves are scanned.
GRID = 241
_FAR = 1e6


def check_criteria(
    margin: float, min_jump: float, max_decades: float, chance: float | None = None
) -> None:
    """Raise a :class:`SpecificationError` naming the option that is out of range."""
    if not (np.isfinite(margin) and 0 < margin < 1):
        raise SpecificationError(
            f"margin must lie in (0, 1) (a share of the range above chance), not {margin!r}"
        )
    if not (np.isfinite(min_jump) and 0 <= min_jump < 1):
        raise SpecificationError(f"min_jump must lie in [0, 1) (accuracy), not {min_jump!r}")
    if not (np.isfinite(max_decades) and max_decades > 0):
        raise SpecificationError(f"max_decades must be > 0 (decades), not {max_decades!r}")
    if chance is not None and not (np.isfinite(chance) and 0 <= chance < 1):
        raise SpecificationError(f"chance must lie in [0, 1), not {chance!r}")


def leave_point(curves: np.ndarray, grid: np.ndarray, level: Any) -> np.ndarray:
    r"""Per draw, the :math:`x` from which on the curve stays at or above ``level``.

    Parameters
    ----------
    curves
        Curves on ``grid``, array (draw, point).
    grid
        Increasing :math:`\log_{10} C` values, (point,).
    level
        The level, one number or one per draw.

    Returns
    -------
    numpy.ndarray
        One value per draw: linearly interpolated between the last grid point below the
        level and the next; ``-inf`` when the whole curve is at or above it, ``+inf``
        when its last point is below it.
    """
    curves = np.asarray(curves, float)
    grid = np.asarray(grid, float)
    lev = np.broadcast_to(np.asarray(level, float).reshape(-1, 1), (curves.shape[0], 1))
    below = curves < lev
    n = curves.shape[1]
    any_below = below.any(axis=1)
    last = n - 1 - np.argmax(below[:, ::-1], axis=1)  # last point below the level
    out = np.full(curves.shape[0], -np.inf)
    out[any_below & (last == n - 1)] = np.inf
    inner = any_below & (last < n - 1)
    rows = np.flatnonzero(inner)
    j = last[rows]
    a0, a1 = curves[rows, j], curves[rows, j + 1]
    frac = np.clip((lev[rows, 0] - a0) / np.where(a1 > a0, a1 - a0, 1.0), 0.0, 1.0)
    out[rows] = grid[j] + frac * (grid[j + 1] - grid[j])
    return out


def sigmoid_threshold(
    midpoint: ArrayLike, width: ArrayLike, chance: ArrayLike, ceiling: ArrayLike, margin: float
) -> np.ndarray:
    r"""Closed-form threshold of the sigmoid law: :math:`x^* + w\,\operatorname{logit}(\delta/f)`.

    ``+inf`` where the law never rises :math:`\delta` of the range above chance
    (:math:`f \le \delta`).
    """
    c = np.asarray(chance, float)
    f = (np.asarray(ceiling, float) - c) / (1.0 - c)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = margin / f
        out = np.asarray(midpoint, float) + np.asarray(width, float) * np.log(ratio / (1 - ratio))
    return np.where(f > margin, out, np.inf)


def emergence_draws(
    curves: np.ndarray,
    grid: np.ndarray,
    chance: float,
    *,
    margin: float = MARGIN,
    min_jump: float = MIN_JUMP,
    max_decades: float = MAX_DECADES,
) -> dict[str, np.ndarray]:
    """Conditions (i)-(iii) of the module docstring, per draw of curves on ``grid``.

    ``grid`` runs from the smallest fitted model :math:`x_{\\text{lo}}` to
    :math:`x_{\\text{hi}}` (the largest fitted model or ``up_to``).

    Returns
    -------
    dict
        Boolean arrays ``flat`` (i), ``jump`` (ii), ``sharp`` (iii) and ``emergent``
        (all three), and ``x_e`` (the threshold on this range), ``rise`` (:math:`R`) and
        ``rise_decades`` (:math:`x_{0.9} - \\max(x_{0.1}, x_{\\text{lo}})`).
    """
    check_criteria(margin, min_jump, max_decades, chance)
    curves = np.asarray(curves, float)
    grid = np.asarray(grid, float)
    x_e = leave_point(curves, grid, chance + margin * (1.0 - chance))
    rise = curves[:, -1] - chance
    x10 = leave_point(curves, grid, chance + 0.1 * rise)
    x90 = leave_point(curves, grid, chance + 0.9 * rise)
    with np.errstate(invalid="ignore"):  # no rise at all: inf - inf, not sharp
        decades = np.nan_to_num(x90 - np.maximum(x10, grid[0]), nan=np.inf)
    flat = x_e > grid[0]
    jump = rise >= min_jump
    sharp = decades <= max_decades
    return {
        "x_e": x_e,
        "rise": rise,
        "rise_decades": decades,
        "flat": flat,
        "jump": jump,
        "sharp": sharp,
        "emergent": flat & jump & sharp,
    }


def threshold_row(
    x_e: np.ndarray,
    *,
    view: str,
    ci_prob: float,
    margin: float,
    p_emergent: float,
    data_lo: float,
    data_hi: float,
) -> dict[str, Any]:
    r"""The common columns (:data:`THRESHOLD_COLUMNS`) of one task's threshold posterior.

    The median and equal-tailed interval of :math:`x_e` over every draw (so an end is
    :math:`\pm\infty` when more than :math:`(1 - p)/2` of the draws lie below or beyond
    the range searched); ``p_below`` / ``p_beyond`` the shares of draws whose threshold
    lies below the smallest / beyond the largest fitted model.
    """
    p = check_ci_prob(ci_prob)
    x = np.asarray(x_e, float)
    x = x[~np.isnan(x)]
    if x.size:
        # infinite draws (below / beyond the range) as far finite stand-ins, so that a
        # quantile among them is +-inf, not inf - inf
        q = quantiles(np.clip(x, -_FAR, _FAR), p)
        lo, med, hi = np.where(np.abs(q) >= _FAR / 2, np.sign(q) * np.inf, q)
    else:
        lo, med, hi = np.nan, np.nan, np.nan
    with np.errstate(over="ignore"):
        return {
            "log10_threshold": float(med),
            "log10_lower": float(lo),
            "log10_upper": float(hi),
            "threshold": float(10.0**med),
            "lower": float(10.0**lo),
            "upper": float(10.0**hi),
            "p_emergent": float(p_emergent),
            "view": view,
            "margin": float(margin),
            "p_below": float(np.mean(x < data_lo)) if x.size else np.nan,
            "p_beyond": float(np.mean(x > data_hi)) if x.size else np.nan,
            "data_lo": float(data_lo),
            "data_hi": float(data_hi),
            "ci_prob": p,
        }


def thresholds(*fits: Any, ci_prob: float = 0.9) -> pd.DataFrame:
    """The ``threshold()`` tables of several fits (any views, any tasks) in one table.

    Every row is one (task, view): the same definition of the threshold and of P(emergent)
    (module docstring), each fit's own alternatives in the columns after
    :data:`THRESHOLD_COLUMNS` (NaN for the other views).

    Examples
    --------
    >>> thresholds(sandwich_fit, sigmoid_fit)  # doctest: +SKIP
    """
    if not fits:
        raise SpecificationError("pass one or more SandwichFit or SigmoidFit objects")
    frames = []
    for fit in fits:
        if not hasattr(fit, "threshold"):
            raise SpecificationError(f"{type(fit).__name__} has no threshold()")
        frames.append(fit.threshold(ci_prob=ci_prob))
    out = pd.concat(frames)
    rest = [c for c in out.columns if c not in THRESHOLD_COLUMNS]
    return out[[*THRESHOLD_COLUMNS, *rest]]
