r"""Posterior draws to interval tables: the one place bayescale computes credible intervals.

Every summary and forecast of every fit kind goes through :func:`interval_table`, so the
same columns mean the same thing everywhere:

=============  ==================================================================
column         meaning
=============  ==================================================================
inputs...      the coordinates of the forecast point (``params``, ``k``, ``compute``...)
``quantity``   what is forecast (``"curve"``, ``"new_run"``, ``"coverage"``, ``"accuracy"``...)
``mean``       posterior mean
``median``     posterior median
``lower``      lower end of the equal-tailed interval, the :math:`(1-p)/2` quantile
``upper``      upper end, the :math:`(1+p)/2` quantile
``ci_prob``    :math:`p`, the probability of the interval (ArviZ's name)
=============  ==================================================================

The intervals are equal-tailed (ArviZ's ``eti``): :math:`[q_{(1-p)/2}, q_{(1+p)/2}]` of the
draws, which is invariant under monotone maps (a log-loss interval exponentiates to a loss
interval), unlike the HDI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.errors import SpecificationError

__all__ = [
    "FORECAST_COLUMNS",
    "SAMPLE_DIMS",
    "check_ci_prob",
    "interval_table",
    "quantiles",
    "quantiles_to_infinity",
]

#: The columns of every forecast table, after the inputs.
FORECAST_COLUMNS = ("quantity", "mean", "median", "lower", "upper", "ci_prob")
SAMPLE_DIMS = ("chain", "draw")


def check_ci_prob(ci_prob: float) -> float:
    """``ci_prob`` as a float in (0, 1), or a :class:`SpecificationError` that says so."""
    try:
        value = float(ci_prob)
    except (TypeError, ValueError):
        raise SpecificationError(f"ci_prob must be a number in (0, 1), not {ci_prob!r}") from None
    if not 0 < value < 1:
        raise SpecificationError(
            f"ci_prob must lie strictly between 0 and 1 (e.g. 0.9 for a 90% interval), "
            f"not {ci_prob!r}"
        )
    return value


def quantiles(draws: np.ndarray, ci_prob: float, axis: int = -1) -> np.ndarray:
    r"""Lower end, median and upper end of the equal-tailed ``ci_prob`` interval.

    Returns an array with a leading axis of length 3: :math:`q_{(1-p)/2}`, :math:`q_{1/2}`,
    :math:`q_{(1+p)/2}` of ``draws`` along ``axis``.
    """
    p = check_ci_prob(ci_prob)
    return np.quantile(np.asarray(draws, dtype=float), [(1 - p) / 2, 0.5, (1 + p) / 2], axis=axis)


#: Stand-in for an infinite draw while interpolating quantiles (any quantile that touches
#: it exceeds :data:`_INFINITE` and is reported as infinite).
_HUGE, _INFINITE = 1e300, 1e200


def quantiles_to_infinity(values: np.ndarray, ci_prob: float) -> tuple[float, float, float]:
    """Lower end, median and upper end of ``values`` (>= 0, some infinite): a quantile that
    falls on, or interpolates towards, an infinite draw is infinite (NumPy's is NaN)."""
    lo, med, hi = (
        np.inf if x > _INFINITE else float(x)
        for x in quantiles(np.where(np.isinf(values), _HUGE, values), ci_prob)
    )
    return lo, med, hi


def interval_table(
    draws: xr.DataArray | xr.Dataset | Mapping[str, xr.DataArray],
    *,
    ci_prob: float = 0.9,
    sample_dims: Sequence[str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """A long tidy table of means, medians and equal-tailed intervals of posterior draws.

    Parameters
    ----------
    draws
        Draws of one quantity (a DataArray, named by its ``name``) or of several (a Dataset
        or a mapping ``{quantity: DataArray}``). The sample dimensions are reduced; every
        other dimension becomes rows, its coordinates (and the non-dimension coordinates
        along it) become columns.
    ci_prob
        Probability of the intervals.
    sample_dims
        Dimensions that index draws (default: those of ``chain``, ``draw`` and ``sample``
        present).
    extra
        Constant columns to add (e.g. ``{"model": "pythia-1b"}``).

    Returns
    -------
    pandas.DataFrame
        The input columns, then :data:`FORECAST_COLUMNS`.
    """
    p = check_ci_prob(ci_prob)
    if isinstance(draws, xr.DataArray):
        items = {str(draws.name or "value"): draws}
    else:
        items = {
            str(k): v
            for k, v in dict(draws.data_vars if isinstance(draws, xr.Dataset) else draws).items()
        }
    frames = []
    for quantity, da in items.items():
        sdims = [d for d in (sample_dims or ("chain", "draw", "sample")) if d in da.dims]
        if not sdims:
            raise SpecificationError(f"draws of {quantity!r} have no sample dimension")
        stacked = da.stack(_sample=sdims).transpose(..., "_sample")
        values = np.asarray(stacked.values, dtype=float)
        lo, med, hi = np.quantile(values, [(1 - p) / 2, 0.5, (1 + p) / 2], axis=-1)
        stats = xr.Dataset(
            {
                "mean": (stacked.dims[:-1], values.mean(axis=-1)),
                "median": (stacked.dims[:-1], med),
                "lower": (stacked.dims[:-1], lo),
                "upper": (stacked.dims[:-1], hi),
            },
            coords={
                k: c
                for k, c in stacked.coords.items()
                if "_sample" not in c.dims and not set(c.dims) & set(sdims) and k not in sdims
            },
        )
        frame = (
            stats.to_dataframe().reset_index()
            if stats.dims
            else pd.DataFrame([{k: float(stats[k]) for k in ("mean", "median", "lower", "upper")}])
        )
        for k, c in stats.coords.items():
            if not c.dims and k not in frame:
                frame[k] = c.item()
        frame["quantity"] = quantity
        frame["ci_prob"] = p
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    for k, v in (extra or {}).items():
        out[k] = v
    inputs = [c for c in out.columns if c not in FORECAST_COLUMNS]
    return out[[*inputs, *FORECAST_COLUMNS]]
