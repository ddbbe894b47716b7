r"""Empirical coverage points: the data that coverage laws are fitted to.

From per-problem counts (``model``, ``problem``, ``n_samples``, ``n_correct``), the
empirical coverage of model :math:`m` at :math:`k` attempts is the mean over its problems
of the unbiased pass@k estimate (:func:`~bayescale.passk.estimator.coverage_curve`),

.. math::

    \hat C_m(k) = \frac1{P_m}\sum_{j=1}^{P_m} 1 - \binom{n_j - c_j}{k} \Big/ \binom{n_j}{k},

at :math:`k = 1, 2, 4, \dots` up to the smallest :math:`n_j` (:func:`coverage_points`).
:func:`empirical_exponent` is the least-squares slope of the log loss on :math:`\log k`,
a model-free check of the exponents that :func:`~bayescale.passk.fit_coverage_law`
estimates. :func:`points_dataset` turns points into the ``xarray.Dataset`` the model
reads, on the logit scale.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logit

from bayescale.core import dims
from bayescale.core.errors import DataError
from bayescale.passk.counts import validate_counts
from bayescale.passk.estimator import coverage_curve

__all__ = ["POINT_COLUMNS", "coverage_points", "empirical_exponent", "points_dataset"]

#: Columns of a table of coverage points.
POINT_COLUMNS = ("model", "k", "coverage")


def coverage_points(
    counts: str | os.PathLike[str] | pd.DataFrame | xr.Dataset,
    *,
    k: Sequence[int] | np.ndarray | None = None,
    k_max: float | None = None,
) -> pd.DataFrame:
    """Empirical coverage of each model at ``k`` from per-problem counts.

    Parameters
    ----------
    counts
        Counts table (DataFrame or CSV path with ``model``, ``problem``, ``n_samples``,
        ``n_correct``; ``problem_idx`` is accepted for ``problem``), or the Dataset of
        :func:`~bayescale.passk.validate_counts`. Or a table of coverage points with
        columns ``model``, ``k``, ``coverage``, returned as it is (sorted).
    k
        Attempts at which to evaluate (default: 1, 2, 4, ... and the smallest
        ``n_samples`` of each model). Each must be at most the model's smallest
        ``n_samples`` (pass@k has no unbiased estimate from fewer than ``k`` attempts).
    k_max
        Keep only points with ``k <= k_max`` (a back-test of extrapolation).

    Returns
    -------
    pandas.DataFrame
        ``model``, ``k``, ``coverage``, ``n_problems`` (one row per model and ``k``).

    Raises
    ------
    DataError
        Invalid counts (see :func:`~bayescale.passk.validate_counts`), a ``k`` larger
        than a model's attempts, or invalid coverage points.
    """
    if isinstance(counts, pd.DataFrame) and set(POINT_COLUMNS) <= set(counts.columns):
        frame = _check_points(counts)
    else:
        ds = validate_counts(counts)
        rows = []
        models = ds[dims.MODEL].values
        idx = ds["model_idx"].values
        for m_i, model in enumerate(models):
            sel = idx == m_i
            n = ds["n_samples"].values[sel]
            c = ds["n_correct"].values[sel]
            if k is not None and np.max(k) > n.min():
                raise DataError(
                    f"k={int(np.max(k))} exceeds the {int(n.min())} attempts of some problem "
                    f"of model {str(model)!r}: coverage at k cannot be estimated without bias "
                    "from fewer than k attempts. Pass k up to the smallest n_samples."
                )
            kk, cov = coverage_curve(n, c, k)
            rows.append(
                pd.DataFrame(
                    {"model": str(model), "k": kk, "coverage": cov, "n_problems": int(sel.sum())}
                )
            )
        frame = pd.concat(rows, ignore_index=True)
    if k_max is not None:
        frame = frame[frame["k"] <= k_max].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"no coverage points left (k_max={k_max!r} is below every k)")
    return frame


def _check_points(points: pd.DataFrame) -> pd.DataFrame:
    frame = points.copy()
    frame["model"] = frame["model"].astype(str)
    for col in ("k", "coverage"):
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DataError(
                f"column {col!r}: not a finite number in rows {bad[:8].tolist()}; fix or "
                "remove those rows."
            )
        frame[col] = values
    bad = np.flatnonzero(frame["k"].to_numpy() <= 0)
    if bad.size:
        raise DataError(f"column 'k': must be > 0 but is not in rows {bad[:8].tolist()}")
    cov = frame["coverage"].to_numpy()
    bad = np.flatnonzero((cov < 0) | (cov > 1))
    if bad.size:
        raise DataError(
            f"column 'coverage': outside [0, 1] in rows {bad[:8].tolist()} (values "
            f"{cov[bad[:4]].tolist()}). Coverage is a fraction, not a percentage."
        )
    dup = frame.duplicated(["model", "k"], keep=False).to_numpy()
    if dup.any():
        raise DataError(
            f"columns 'model', 'k': rows {np.flatnonzero(dup)[:8].tolist()} repeat a "
            "(model, k) pair; give each pair one coverage value."
        )
    if "n_problems" not in frame:
        frame["n_problems"] = -1
    return frame.sort_values(["model", "k"], kind="stable").reset_index(drop=True)


def empirical_exponent(
    points: pd.DataFrame,
    *,
    k_range: tuple[float, float] | None = None,
) -> pd.Series:
    r"""Least-squares slope of :math:`-\log(1 - \hat C)` against :math:`\log k`, per model.

    .. math::

        \hat e_m = -\frac{\sum_i (x_i - \bar x)(y_i - \bar y)}{\sum_i (x_i - \bar x)^2},
        \quad x_i = \log k_i,\ y_i = \log\bigl(1 - \hat C_m(k_i)\bigr),

    over the points with :math:`k` in ``k_range`` (default: the last decade before the
    largest :math:`k` of each model, :math:`[k_\max/100, k_\max/10]`, which leaves out
    the points near :math:`k = n`, where the estimate of problems with few correct
    attempts reaches its ceiling). This is the *apparent* local exponent of the raw loss:
    with never-solved problems the loss flattens towards :math:`\pi`, so it is smaller
    than the asymptotic exponent of the excess loss of a law with a ceiling.

    Parameters
    ----------
    points
        Output of :func:`coverage_points` (``model``, ``k``, ``coverage``).
    k_range
        ``(k_lo, k_hi)``, inclusive.

    Returns
    -------
    pandas.Series
        Exponent per model (NaN with fewer than two points in the window).
    """
    out = {}
    for model, g in points.groupby("model", sort=False):
        k = g["k"].to_numpy(dtype=float)
        lo, hi = k_range if k_range is not None else (k.max() / 100, k.max() / 10)
        sel = (k >= lo) & (k <= hi) & (g["coverage"].to_numpy() < 1)
        if sel.sum() < 2:
            out[str(model)] = np.nan
            continue
        x = np.log(k[sel])
        y = np.log1p(-g["coverage"].to_numpy(dtype=float)[sel])
        out[str(model)] = -float(np.polyfit(x, y, 1)[0])
    return pd.Series(out, name="empirical_exponent")


def points_dataset(points: pd.DataFrame) -> tuple[xr.Dataset, list[str]]:
    """The points with coverage strictly in (0, 1), as the Dataset a coverage law fits.

    Returns
    -------
    (xarray.Dataset, list of str)
        Along ``obs``: ``model_label``, ``model_idx``, ``k``, ``coverage`` and ``y``
        (:math:`\\operatorname{logit}` of the coverage); ``n_problems`` along ``model``.
        And the notes: which points were dropped (coverage 0 or 1 has no logit) and which
        models have fewer than three points left.

    Raises
    ------
    DataError
        When no point is strictly between 0 and 1.
    """
    cov = points["coverage"].to_numpy(dtype=float)
    edge = (cov <= 0) | (cov >= 1)
    notes = []
    if edge.any():
        dropped = points[edge]
        listing = ", ".join(
            f"{r.model} k={r.k:g} (coverage {r.coverage:g})" for r in dropped.head(8).itertuples()
        )
        more = f" and {len(dropped) - 8} more" if len(dropped) > 8 else ""
        notes.append(
            f"dropped {len(dropped)} of {len(points)} coverage points with coverage 0 or 1, "
            f"which have no logit: {listing}{more}. A model that solves nothing at small k, "
            "or every problem at large k, is only partly described by its other points."
        )
    kept = points[~edge].reset_index(drop=True)
    if kept.empty:
        raise DataError(
            "no coverage point is strictly between 0 and 1, so no law can be fitted on the "
            "logit scale (every model solves nothing, or everything, at every k)."
        )
    labels = list(pd.unique(kept["model"]))
    thin = [m for m in labels if (kept["model"] == m).sum() < 3]
    if thin:
        notes.append(
            f"model(s) {thin} have fewer than 3 coverage points: their parameters come "
            "mostly from the priors."
        )
    n_problems = kept.groupby("model", sort=False)["n_problems"].first().reindex(labels)
    k_vals = kept["k"].to_numpy(dtype=float)
    obs_labels = [f"{m} k={kv:g}" for m, kv in zip(kept["model"], k_vals, strict=True)]
    ds = xr.Dataset(
        {
            "model_label": (dims.OBS, kept["model"].to_numpy(dtype=str)),
            "model_idx": (dims.OBS, pd.Index(labels).get_indexer(kept["model"]).astype(np.int64)),
            "k": (dims.OBS, k_vals),
            "coverage": (dims.OBS, kept["coverage"].to_numpy(dtype=float)),
            dims.OBSERVED: (dims.OBS, logit(kept["coverage"].to_numpy(dtype=float))),
            "n_problems": (dims.MODEL, n_problems.to_numpy(dtype=np.int64)),
        },
        coords={dims.OBS: np.asarray(obs_labels, dtype=str), dims.MODEL: np.asarray(labels)},
        attrs={"notes": "; ".join(notes)},
    )
    return ds, notes
