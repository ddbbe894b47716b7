r"""Stacked forecasts: one forecast from several laws, weighted by PSIS-LOO stacking.

When several laws describe the same runs (chinchilla, a broken power law, a law in
compute), :func:`stacked_forecast` mixes their forecasts with the stacking weights of
:func:`bayescale.compare` (:func:`arviz.compare`, ``method="stacking"``; Yao et al. 2018):
the weights :math:`w_m` maximise the leave-one-out log score of the mixture
:math:`\sum_m w_m\, p(\tilde y_i \mid y_{-i}, M_m)` over the training runs. The stacked
predictive at a new point is the same mixture, drawn by taking
:math:`\operatorname{round}(w_m S)` of each law's :math:`S` draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.errors import SpecificationError
from bayescale.core.intervals import interval_table

if TYPE_CHECKING:
    from bayescale.scaling.fitting import ScalingFit
    from bayescale.scaling.forecast import PointsLike

__all__ = ["stacked_forecast"]


def stacked_forecast(
    fits: Mapping[str, ScalingFit],
    points: PointsLike,
    *,
    family: str | None = None,
    ci_prob: float = 0.9,
    seed: int | None = 0,
    weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Forecast with the stacking mixture of several fits of the same runs.

    Parameters
    ----------
    fits
        Scaling-law fits of the same observations (checked by :func:`bayescale.compare`),
        by name.
    points, family, seed
        As for :meth:`ScalingFit.forecast`.
    ci_prob
        Probability of the equal-tailed intervals.
    weights
        Weights by name (default: the stacking weights of :func:`bayescale.compare`).

    Returns
    -------
    pandas.DataFrame
        The long tidy forecast table (the point's inputs and family, ``quantity`` of
        ``"curve"``/``"new_run"``, ``mean``, ``median``, ``lower``, ``upper``,
        ``ci_prob``); ``.attrs["weights"]`` holds the weights.
    """
    if len(fits) < 2:
        raise SpecificationError("a stacked forecast needs at least two fits")
    if weights is None:
        from bayescale.compare import compare

        table = compare(dict(fits), method="stacking", warn=False).table
        weights = {str(k): float(v) for k, v in table["weight"].items()}
    missing = set(fits) - set(weights)
    if missing:
        raise SpecificationError(f"no weight for fits {sorted(missing)}")
    total = sum(max(float(weights[k]), 0.0) for k in fits)
    if not total > 0:
        raise SpecificationError("the stacking weights are all zero")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"curve": [], "new_run": []}
    template: xr.Dataset | None = None
    for name, fit in fits.items():
        draws = fit.forecast_draws(points, family=family, seed=seed)
        template = draws if template is None else template
        n = draws.sizes["chain"] * draws.sizes["draw"]
        take = round(max(float(weights[name]), 0.0) / total * n)
        if take == 0:
            continue
        pick = rng.choice(n, size=take, replace=take > n)
        for q in parts:
            parts[q].append(draws[q].values.reshape(n, -1)[pick])
    assert template is not None
    coords = {k: v for k, v in template.coords.items() if v.dims == ("point",)}
    mixed = xr.Dataset(
        {q: (("sample", "point"), np.concatenate(v)) for q, v in parts.items()}, coords=coords
    )
    out = interval_table(mixed, ci_prob=ci_prob, sample_dims=("sample",))
    out.attrs["weights"] = {k: float(weights[k]) / total for k in fits}
    return out
