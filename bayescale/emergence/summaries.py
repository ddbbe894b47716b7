"""Tables the emergence fits share: posterior summaries with derived rows, held-out scores.

:func:`posterior_summary` is what ``summary(ci_prob=...)`` of
:class:`~bayescale.emergence.sandwich.SandwichFit` and
:class:`~bayescale.emergence.sigmoid.SigmoidFit` return: :func:`arviz.summary` (equal-tailed
intervals, unrounded) of the sampled parameters, then one row per derived quantity
computed from the same draws (a threshold, the indicator of emergence, whose mean is its
posterior probability). A derived quantity that is undefined in some draws (the threshold
of a draw without a turn, NaN) is summarised over the draws where it is defined; its
convergence columns are then NaN, since those draws are no longer chains.

:func:`held_out_scores` condenses a ``held_out_check`` table to one row per task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.intervals import SAMPLE_DIMS, check_ci_prob

__all__ = ["HELD_OUT_COLUMNS", "held_out_scores", "posterior_summary"]

#: Columns every ``held_out_check`` table has (one row per held-out task and model).
HELD_OUT_COLUMNS = (
    "task",
    "model",
    "family",
    "compute",
    "value",
    "median",
    "pred_median",
    "pred_lower",
    "pred_upper",
    "error",
    "covered",
    "beyond",
    "ci_prob",
)


def _summary(draws: Any, ci_prob: float, kind: str = "all") -> pd.DataFrame:
    import arviz as az

    return az.summary(draws, ci_prob=ci_prob, ci_kind="eti", round_to="none", kind=kind)


def posterior_summary(
    idata: xr.DataTree,
    var_names: Sequence[str],
    derived: Mapping[str, xr.DataArray],
    *,
    ci_prob: float = 0.9,
) -> pd.DataFrame:
    """ArviZ's summary of ``var_names`` and of the ``derived`` draws, in that order.

    Parameters
    ----------
    idata
        The fit's DataTree (its ``posterior`` group).
    var_names
        Posterior variables to summarise.
    derived
        Draws of derived quantities by name, with dims ``chain``, ``draw`` and at most one
        more (rows ``name[label]``, as ArviZ names them).
    ci_prob
        Probability of the equal-tailed intervals.

    Returns
    -------
    pandas.DataFrame
        ArviZ's columns (``mean``, ``sd``, ``eti<p>_lb``, ``eti<p>_ub``, ``ess_bulk``,
        ``ess_tail``, ``r_hat``, ``mcse_mean``, ``mcse_sd``), one row per scalar.
    """
    p = check_ci_prob(ci_prob)
    post = idata["posterior"].dataset
    frames = [_summary(post[list(var_names)], p)] if var_names else []
    for name, da in derived.items():
        da = da.rename(name)
        if bool(np.isfinite(da.values).all()):
            frames.append(_summary(da, p))
            continue
        extra = [d for d in da.dims if d not in SAMPLE_DIMS]
        parts = [da] if not extra else [da.isel({extra[0]: i}) for i in range(da.sizes[extra[0]])]
        rows = []
        for part in parts:
            values = np.asarray(part.values, dtype=float).ravel()
            finite = values[np.isfinite(values)]
            label = name if not extra else f"{name}[{part[extra[0]].item()}]"
            if finite.size:
                row = _summary(xr.DataArray(finite[None, :], dims=SAMPLE_DIMS), p, "stats")
                rows.append(row.set_axis([label]))
            else:
                rows.append(pd.DataFrame(index=[label]))
        frames.append(pd.concat(rows))
    out = pd.concat(frames)
    columns = list(frames[0].columns) if frames else []
    for f in frames:
        columns += [c for c in f.columns if c not in columns]
    return out.reindex(columns=columns)


def held_out_scores(check: pd.DataFrame, *, median: str) -> pd.DataFrame:
    """Per task: held-out models, mean absolute error of the ``median`` column, coverage.

    Parameters
    ----------
    check
        A ``held_out_check`` table (:data:`HELD_OUT_COLUMNS`).
    median
        The column whose distance from ``value`` is the error (``"median"``: the curve's
        median; ``"pred_median"``: a new model's predictive median).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``task``: ``n_held_out``, ``mae``, ``coverage`` (share of the held-out
        accuracies inside the predictive interval).
    """
    if check.empty:
        return pd.DataFrame(
            columns=["n_held_out", "mae", "coverage"], index=pd.Index([], name="task")
        )
    return (
        check.assign(_abs=(check["value"] - check[median]).abs())
        .groupby("task", sort=False)
        .agg(
            n_held_out=("value", "size"),
            mae=("_abs", "mean"),
            coverage=("covered", "mean"),
        )
    )
