"""Validate training-run tables and turn them into ``xarray.Dataset`` objects.

The long format has one row per (run, checkpoint, metric):

======================  ========  ===========================================================
column                  required  meaning
======================  ========  ===========================================================
``family``              yes       model family (corpus, architecture, recipe); pooled group
``params``              yes       number of parameters N (> 0)
``tokens``              yes       number of training tokens D (> 0)
``metric``              yes       name of the measured quantity (e.g. ``loss_c4_val``)
``value``               yes       the measurement (> 0 for a law fitted in log space)
``seed``                no        random seed of the run; repeated seeds inform run noise
``compute``             no        training FLOPs C; filled with 6 N D where missing
``checkpoint_step``     no        training step of an intermediate checkpoint
``value_lo``            no        lower end of a measurement interval of ``value``
``value_hi``            no        upper end of that interval (see ``interval_prob``)
======================  ========  ===========================================================

:func:`validate` checks every rule and raises :class:`~bayescale.errors.DataError` naming the
column, the rows and the fix; it never drops a row silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale import dims
from bayescale.errors import DataError

__all__ = ["read_table", "to_frame", "validate"]

#: Marker attribute of a Dataset produced by :func:`validate`.
VALIDATED_ATTR = "bayescale_validated"
NO_SEED = "<none>"
_MAX_LISTED = 8


def _where(rows: Sequence[int], from_csv: bool) -> str:
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:_MAX_LISTED])
    more = f" and {len(rows) - _MAX_LISTED} more" if len(rows) > _MAX_LISTED else ""
    noun = "row" if len(rows) == 1 else "rows"
    text = f"{noun} {shown}{more} (0-based"
    if from_csv:
        lines = ", ".join(str(r + 2) for r in rows[:_MAX_LISTED])
        text += f"; CSV line {lines}" if len(rows) == 1 else f"; CSV lines {lines}{more}"
    return text + ")"


def _values(series: pd.Series, rows: Sequence[int]) -> str:
    vals = [repr(series.iloc[r]) for r in list(rows)[:_MAX_LISTED]]
    return ", ".join(vals)


def read_table(source: str | os.PathLike[str] | pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Read a CSV path or copy a DataFrame; return it and whether it came from a CSV file."""
    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=True).copy(), False
    path = Path(source)
    if not path.exists():
        raise DataError(f"data file {str(path)!r} does not exist")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"could not read {str(path)!r} as CSV: {exc}") from exc
    return frame, True


def _numeric(
    frame: pd.DataFrame, col: str, where: Callable[[Sequence[int]], str], *, required: bool
) -> pd.Series:
    raw = frame[col]
    num = pd.to_numeric(raw, errors="coerce").astype(float)
    bad = np.flatnonzero(num.isna().to_numpy() & raw.notna().to_numpy())
    if bad.size:
        raise DataError(
            f"column {col!r} must be numeric but {where(bad)} hold "
            f"{_values(raw, bad)}. Fix or remove those entries."
        )
    if required:
        missing = np.flatnonzero(num.isna().to_numpy())
        if missing.size:
            raise DataError(
                f"column {col!r} is missing a value in {where(missing)}. "
                "Every row needs it: fill it in or remove those rows."
            )
    nonfinite = np.flatnonzero(np.isinf(num.to_numpy()))
    if nonfinite.size:
        raise DataError(
            f"column {col!r} is not finite in {where(nonfinite)} "
            f"({_values(raw, nonfinite)}). Replace them with finite numbers or remove the rows."
        )
    return num


def validate(
    data: str | os.PathLike[str] | pd.DataFrame | xr.Dataset,
    *,
    metric: str | None = None,
    inputs: Sequence[str] = (dims.COL_PARAMS, dims.COL_TOKENS),
    space: str = "log",
    min_rows_per_family: int = 2,
    interval_prob: float = 0.95,
) -> xr.Dataset:
    """Check a table of training runs and return it as an ``xarray.Dataset``.

    Parameters
    ----------
    data
        A DataFrame or CSV path in the long format (see module docstring), or a Dataset
        already returned by this function (returned unchanged after checks of ``metric``).
    metric
        Which metric to keep. Required when the table holds more than one.
    inputs
        Scale columns the law needs (``params``, ``tokens`` and/or ``compute``).
    space
        ``"log"`` (fit log L, so values must be > 0) or ``"linear"``.
    min_rows_per_family
        Fewest rows a family may have for the law to be identified.
    interval_prob
        Probability mass of ``[value_lo, value_hi]`` (0.95 for the shipped data sets).

    Returns
    -------
    xarray.Dataset
        Dimension ``obs`` (one per row, coordinate = row position in the input) with data
        variables ``params``, ``tokens``, ``compute``, ``value`` and, when present,
        ``value_lo``, ``value_hi``, ``checkpoint_step``; coordinate ``family`` (unique
        family labels) and ``seed`` (``"family/seed"`` labels); integer indices
        ``family_idx`` and ``seed_idx`` per observation. ``attrs`` record the metric,
        what was filled in and the interval probability.

    Raises
    ------
    DataError
        For a missing column, a non-numeric or non-finite value, N, D or C <= 0, a value
        <= 0 in log space, a malformed interval, a family with too few rows or duplicated
        runs. The message names the column, the rows and the fix.
    """
    if isinstance(data, xr.Dataset):
        if not data.attrs.get(VALIDATED_ATTR):
            raise DataError("an xarray.Dataset input must come from bayescale.validate()")
        if metric is not None and data.attrs.get("metric") != metric:
            raise DataError(
                f"the Dataset holds metric {data.attrs.get('metric')!r}, not {metric!r}"
            )
        return data
    frame, from_csv = read_table(data)
    if frame.empty:
        raise DataError("the table has no rows")
    for col in inputs:
        if col not in dims.SCALE_COLUMNS:
            raise DataError(f"unknown scale column {col!r}; use one of {dims.SCALE_COLUMNS}")
    required = [c for c in dims.REQUIRED_COLUMNS if c != dims.COL_METRIC or metric is None]
    required += [c for c in inputs if c not in required and c != dims.COL_COMPUTE]
    missing_cols = [c for c in required if c not in frame.columns]
    if dims.COL_METRIC in missing_cols and metric is None and "value" in frame.columns:
        missing_cols.remove(dims.COL_METRIC)
    if missing_cols:
        raise DataError(
            f"missing column(s) {missing_cols}; the table has {list(frame.columns)}. "
            "See docs/data_format.md for the long format (rename your columns to match)."
        )
    notes: list[str] = []

    # Metric selection.
    if dims.COL_METRIC in frame.columns:
        metrics = list(pd.unique(frame[dims.COL_METRIC].dropna().astype(str)))
        if metric is None:
            if len(metrics) > 1:
                raise DataError(
                    f"column 'metric' holds {len(metrics)} metrics {metrics[:10]}; "
                    "choose one with metric=... (command line: --metric NAME)"
                )
            metric = metrics[0] if metrics else "value"
        elif metric not in metrics:
            raise DataError(f"metric {metric!r} is not in column 'metric'; it holds {metrics}")
        keep = frame[dims.COL_METRIC].astype(str) == metric
        if (~keep).any():
            notes.append(
                f"kept the {int(keep.sum())} rows of metric {metric!r} out of {len(frame)}"
            )
        positions = np.flatnonzero(keep.to_numpy())
        frame = frame.loc[keep]
    else:
        metric = metric or "value"
        positions = np.arange(len(frame))
    frame = frame.reset_index(drop=True)

    def where(rows: Sequence[int]) -> str:
        return _where([int(positions[r]) for r in rows], from_csv)

    def fail_rows(col: str, rows: np.ndarray, problem: str, fix: str) -> None:
        raise DataError(
            f"column {col!r}: {problem} in {where(rows)} ({_values(frame[col], rows)}). {fix}"
        )

    # Families.
    fam_missing = np.flatnonzero(frame[dims.COL_FAMILY].isna().to_numpy())
    if fam_missing.size:
        raise DataError(
            f"column 'family' is empty in {where(fam_missing)}. Give every run a family "
            "(one label for all rows is fine for a single family)."
        )
    family = frame[dims.COL_FAMILY].astype(str)

    # Numeric columns.
    numeric: dict[str, pd.Series] = {}
    for col in (dims.COL_PARAMS, dims.COL_TOKENS, dims.COL_VALUE):
        numeric[col] = _numeric(frame, col, where, required=True)
    for col in (dims.COL_COMPUTE, dims.COL_STEP, dims.COL_VALUE_LO, dims.COL_VALUE_HI):
        if col in frame.columns and frame[col].notna().any():
            numeric[col] = _numeric(frame, col, where, required=False)

    for col in (dims.COL_PARAMS, dims.COL_TOKENS):
        nonpos = np.flatnonzero(numeric[col].to_numpy() <= 0)
        if nonpos.size:
            fail_rows(col, nonpos, "must be > 0 but is not", "Scale variables are counts.")
    if dims.COL_COMPUTE in numeric:
        comp = numeric[dims.COL_COMPUTE].to_numpy()
        nonpos = np.flatnonzero(comp <= 0)
        if nonpos.size:
            fail_rows(dims.COL_COMPUTE, nonpos, "must be > 0 but is not", "Compute is in FLOPs.")
        filled = np.isnan(comp)
        if filled.any():
            notes.append(f"filled 'compute' = 6*params*tokens in {int(filled.sum())} rows")
        comp = np.where(filled, 6.0 * numeric["params"] * numeric["tokens"], comp)
    else:
        comp = 6.0 * numeric["params"].to_numpy() * numeric["tokens"].to_numpy()
        notes.append("no 'compute' column: used compute = 6*params*tokens")
    value = numeric[dims.COL_VALUE].to_numpy()
    if space == "log":
        nonpos = np.flatnonzero(value <= 0)
        if nonpos.size:
            fail_rows(
                dims.COL_VALUE,
                nonpos,
                "must be > 0 for a law fitted in log space but is not",
                "Fit with space='linear' (command line: --space linear) or fix those rows.",
            )
    elif space != "linear":
        raise DataError(f"space must be 'log' or 'linear', not {space!r}")

    # Measurement intervals.
    lo = numeric.get(dims.COL_VALUE_LO)
    hi = numeric.get(dims.COL_VALUE_HI)
    if (lo is None) != (hi is None):
        have, lack = (
            (dims.COL_VALUE_LO, dims.COL_VALUE_HI)
            if hi is None
            else (dims.COL_VALUE_HI, dims.COL_VALUE_LO)
        )
        raise DataError(f"column {have!r} is given without {lack!r}: give both or neither")
    if lo is not None and hi is not None:
        lo_a, hi_a = lo.to_numpy(), hi.to_numpy()
        half = np.flatnonzero(np.isnan(lo_a) != np.isnan(hi_a))
        if half.size:
            fail_rows(
                dims.COL_VALUE_LO,
                half,
                "only one end of the interval is given",
                "Give both value_lo and value_hi, or neither, in each row.",
            )
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(~((lo_a <= value) & (value <= hi_a)) & ~np.isnan(lo_a))
        if bad.size:
            fail_rows(
                dims.COL_VALUE_LO,
                bad,
                "the interval [value_lo, value_hi] does not contain value",
                "Check the interval columns of those rows.",
            )
        if space == "log":
            bad = np.flatnonzero(lo_a <= 0)
            if bad.size:
                fail_rows(
                    dims.COL_VALUE_LO,
                    bad,
                    "must be > 0 in log space",
                    "Fix those rows or fit with space='linear'.",
                )
        if not 0 < interval_prob < 1:
            raise DataError(f"interval_prob must lie in (0, 1), not {interval_prob}")

    # Seeds.
    if dims.COL_SEED in frame.columns:
        seed_raw = frame[dims.COL_SEED]
        seed = seed_raw.map(
            lambda s: (
                NO_SEED
                if pd.isna(s)
                else str(int(s))
                if isinstance(s, float) and float(s).is_integer()
                else str(s)
            )
        )
    else:
        seed = pd.Series([NO_SEED] * len(frame))
    step = numeric.get(dims.COL_STEP)

    # Duplicates: the same run (family, seed, N, D, step) measured twice.
    key = pd.DataFrame(
        {
            "family": family,
            "seed": seed,
            "params": numeric["params"],
            "tokens": numeric["tokens"],
            "step": step if step is not None else pd.Series(np.nan, index=frame.index),
        }
    )
    dup_mask = key.duplicated(keep=False).to_numpy()
    if dup_mask.any():
        groups = key[dup_mask].groupby(list(key.columns), dropna=False).indices
        for idx in groups.values():
            idx = np.asarray(idx)
            vals = value[idx]
            if np.ptp(vals) > 0:
                raise DataError(
                    f"{where(idx)} describe the same run (family {family.iloc[idx[0]]!r}, "
                    f"seed {seed.iloc[idx[0]]!r}, params {numeric['params'].iloc[idx[0]]:g}, "
                    f"tokens {numeric['tokens'].iloc[idx[0]]:g}) with different values "
                    f"{list(vals)}. Give repeated runs distinct 'seed' labels, checkpoints a "
                    "'checkpoint_step', or remove the wrong rows."
                )
        rows = np.flatnonzero(dup_mask)
        raise DataError(
            f"{where(rows)} are exact duplicates of other rows and would count the same run "
            "twice. Remove them (DataFrame.drop_duplicates()) or give them distinct seeds."
        )

    # Enough rows per family.
    counts = family.value_counts()
    thin = counts[counts < min_rows_per_family]
    if len(thin):
        name = thin.index[0]
        rows = np.flatnonzero((family == name).to_numpy())
        raise DataError(
            f"family {name!r} has {int(thin.iloc[0])} row(s) in {where(rows)} but this law "
            f"needs at least {min_rows_per_family} per family. Add runs, share its "
            "parameters (pooling='shared'), or leave the family out."
        )

    families = list(pd.unique(family))
    fam_idx = family.map({f: i for i, f in enumerate(families)}).to_numpy()
    seed_labels_obs = (family + "/" + seed).to_numpy()
    seed_labels = list(pd.unique(seed_labels_obs))
    seed_idx = pd.Series(seed_labels_obs).map({s: i for i, s in enumerate(seed_labels)})

    data_vars: dict[str, Any] = {
        "params": (dims.OBS, numeric["params"].to_numpy()),
        "tokens": (dims.OBS, numeric["tokens"].to_numpy()),
        "compute": (dims.OBS, np.asarray(comp, dtype=float)),
        "value": (dims.OBS, value),
        "family_idx": (dims.OBS, fam_idx.astype(np.int64)),
        "seed_idx": (dims.OBS, seed_idx.to_numpy().astype(np.int64)),
    }
    if lo is not None and hi is not None:
        data_vars["value_lo"] = (dims.OBS, lo.to_numpy())
        data_vars["value_hi"] = (dims.OBS, hi.to_numpy())
    if step is not None:
        data_vars["checkpoint_step"] = (dims.OBS, step.to_numpy())
    ds = xr.Dataset(
        data_vars,
        coords={
            dims.OBS: positions.astype(np.int64),
            dims.FAMILY: np.asarray(families, dtype=str),
            dims.SEED: np.asarray(seed_labels, dtype=str),
            "obs_family": (dims.OBS, family.to_numpy().astype(str)),
            "obs_seed": (dims.OBS, seed.to_numpy().astype(str)),
        },
        attrs={
            VALIDATED_ATTR: 1,
            "metric": str(metric),
            "space": space,
            "interval_prob": float(interval_prob),
            "notes": "; ".join(notes),
        },
    )
    return ds


def to_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Turn a validated Dataset back into the long format (one row per ``obs``)."""
    out = pd.DataFrame(
        {
            dims.COL_FAMILY: ds["obs_family"].values,
            dims.COL_SEED: ds["obs_seed"].values,
            dims.COL_PARAMS: ds["params"].values,
            dims.COL_TOKENS: ds["tokens"].values,
            dims.COL_COMPUTE: ds["compute"].values,
            dims.COL_METRIC: ds.attrs.get("metric", "value"),
            dims.COL_VALUE: ds["value"].values,
        },
        index=pd.Index(ds[dims.OBS].values, name=dims.OBS),
    )
    for col in (dims.COL_VALUE_LO, dims.COL_VALUE_HI, dims.COL_STEP):
        if col in ds:
            out[col] = ds[col].values
    out.loc[out[dims.COL_SEED] == NO_SEED, dims.COL_SEED] = None
    return out


def has_seed_effects(ds: xr.Dataset) -> bool:
    """Whether some family has two or more distinct seeds (so seed noise is identified)."""
    labels = ds[dims.SEED].values
    fam_of = [s.rsplit("/", 1)[0] for s in labels]
    return any(fam_of.count(f) > 1 for f in set(fam_of))
