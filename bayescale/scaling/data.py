"""Validate training-run tables and turn them into ``xarray.Dataset`` objects.

The long format has one row per (run, checkpoint, metric); ``docs/data_format.md`` has the
full description with an example of every error message.

======================  ========  ===========================================================
column                  required  meaning
======================  ========  ===========================================================
``family``              yes       model family (corpus, architecture, recipe); pooled group
``params``              yes       number of parameters N (> 0)
``tokens``              yes       number of training tokens D (> 0)
``metric``              no [#]_   name of the measured quantity (e.g. ``loss_c4_val``)
``value``               yes       the measurement (> 0 for a law fitted in log space)
``seed``                no        random seed of the run; repeated seeds inform run noise
``compute``             no        training FLOPs C; filled with 6 N D where missing
``checkpoint_step``     no        training step of an intermediate checkpoint (>= 0)
``value_lo``            no        lower end of a measurement interval of ``value``
``value_hi``            no        upper end of that interval (see ``interval_prob``)
======================  ========  ===========================================================

.. [#] needed when the table holds several metrics; pick one with ``metric=``.

:func:`validate` checks every rule and raises :class:`~bayescale.core.errors.DataError` naming the
column, the rows (0-based positions in the input table, plus CSV line numbers for a CSV file)
and the fix; it never drops a row silently. What it fills in or sets aside is recorded in
``ds.attrs["notes"]``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core import dims
from bayescale.core.errors import DataError
from bayescale.core.tables import (
    CSV_LINES,
    MAX_LISTED,
    SKIPPED_LINES,
    Rows,
    Where,
    blank_mask,
    cell_values,
    describe_rows,
    fail_rows,
    fmt_cell,
    label_text,
    numeric_column,
    read_table,
)

__all__ = [
    "COLUMN_ALIASES",
    "NO_SEED",
    "VALIDATED_ATTR",
    "has_run_effects",
    "has_seed_effects",
    "read_table",
    "run_labels",
    "standard_columns",
    "to_frame",
    "validate",
]

#: Marker attribute of a Dataset produced by :func:`validate`.
VALIDATED_ATTR = "bayescale_validated"
#: Seed label of rows without a seed.
NO_SEED = "<none>"
_RUN_KEY = "family, seed, params, tokens, checkpoint_step"


def _check_options(inputs: Sequence[str], space: str, interval_prob: float) -> None:
    if isinstance(inputs, str):
        raise DataError(f"inputs must be a sequence of column names, e.g. ({inputs!r},)")
    for col in inputs:
        if col not in dims.SCALE_COLUMNS:
            raise DataError(f"unknown scale column {col!r} in inputs; use {dims.SCALE_COLUMNS}")
    if space not in ("log", "linear"):
        raise DataError(f"space must be 'log' or 'linear', not {space!r}")
    if not 0 < interval_prob < 1:
        raise DataError(
            f"interval_prob must lie strictly between 0 and 1, not {interval_prob!r} "
            "(0.95 for a 95% interval)"
        )


#: Every column of the long format.
COLUMNS_ALL = (*dims.REQUIRED_COLUMNS, *dims.OPTIONAL_COLUMNS)
#: Common spellings of the long format's columns, matched case-insensitively (spaces and
#: dashes read as underscores). A table's own canonical column always wins.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    dims.COL_PARAMS: ("n", "n_params", "num_params", "nparams", "model_size", "parameters"),
    dims.COL_TOKENS: ("d", "n_tokens", "num_tokens", "tokens_seen", "training_tokens", "data"),
    dims.COL_COMPUTE: ("c", "flops", "training_flops", "train_flops"),
    dims.COL_VALUE: ("loss", "val_loss", "eval_loss", "validation_loss", "y"),
    dims.COL_FAMILY: ("model_family", "group"),
    dims.COL_STEP: ("step",),
}


def _normal(name: object) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def standard_columns(
    frame: pd.DataFrame, columns: Mapping[str, str] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Rename a user's columns to the long format; return the frame and what was read as what.

    ``columns`` maps the table's names to the format's (``{"N": "params"}``) and is applied
    first. Then each missing canonical column is looked up among
    :data:`COLUMN_ALIASES`; two candidates for one column are an error naming both. A
    table without ``family`` is one family (``"all"``), said in the notes.
    """
    notes: list[str] = []
    if columns:
        absent = [src for src in columns if src not in frame.columns]
        if absent:
            raise DataError(
                f"columns={dict(columns)} names column(s) {absent} that the table does not "
                f"have; it has {[str(c) for c in frame.columns]}"
            )
        unknown = [dst for dst in columns.values() if dst not in COLUMNS_ALL]
        if unknown:
            raise DataError(
                f"columns={dict(columns)} maps to {unknown}, which are not columns of the long "
                f"format; use {list(COLUMNS_ALL)}"
            )
        frame = frame.rename(columns=dict(columns))
        notes.append("read " + ", ".join(f"{s!r} as {d!r}" for s, d in columns.items()))
    present = {_normal(c): c for c in frame.columns}
    renames: dict[object, str] = {}
    for canonical, aliases in COLUMN_ALIASES.items():
        if canonical in frame.columns:
            continue
        found = [present[a] for a in aliases if a in present and present[a] not in renames]
        if len(found) > 1:
            raise DataError(
                f"column {canonical!r} is missing and several columns could be it: "
                f"{[str(f) for f in found]}. Say which with columns={{{str(found[0])!r}: "
                f"{canonical!r}}} (command line: --columns {found[0]}={canonical})."
            )
        if found:
            renames[found[0]] = canonical
    if renames:
        frame = frame.rename(columns=renames)
        notes.append("read " + ", ".join(f"column {str(s)!r} as {d!r}" for s, d in renames.items()))
    if dims.COL_VALUE in renames.values() and dims.COL_METRIC not in frame.columns:
        original = next(str(s) for s, d in renames.items() if d == dims.COL_VALUE)
        frame = frame.assign(**{dims.COL_METRIC: original})
    if dims.COL_FAMILY not in frame.columns and len(frame):
        frame = frame.assign(**{dims.COL_FAMILY: "all"})
        notes.append("no 'family' column: every row is one family, 'all'")
    return frame, notes


def validate(
    data: str | os.PathLike[str] | pd.DataFrame | xr.Dataset,
    *,
    metric: str | None = None,
    columns: Mapping[str, str] | None = None,
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
    columns
        The table's names for the format's columns, e.g. ``{"N": "params", "D": "tokens",
        "loss": "value"}``. Without it, common spellings (:data:`COLUMN_ALIASES`: ``N``,
        ``n_params``, ``model_size``; ``D``, ``tokens_seen``; ``C``, ``flops``; ``loss``...)
        are recognised, and the notes say which were read as what; ``family`` may be left
        out for one family, ``metric`` for one metric.
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
            raise DataError(
                "an xarray.Dataset input must come from bayescale.validate(); pass the "
                "original table (DataFrame or CSV path) instead"
            )
        if metric is not None and data.attrs.get("metric") != metric:
            raise DataError(
                f"the Dataset holds metric {data.attrs.get('metric')!r}, not {metric!r}; "
                f"validate the original table with metric={metric!r}"
            )
        return data
    _check_options(inputs, space, interval_prob)
    frame, from_csv = read_table(data, required=dims.REQUIRED_COLUMNS)
    csv_lines = frame.attrs.get(CSV_LINES) if from_csv else None
    skipped = frame.attrs.get(SKIPPED_LINES, np.array([], dtype=int)) if from_csv else []
    attrs = dict(frame.attrs)
    frame, notes = standard_columns(frame, columns)
    frame.attrs.update(attrs)
    if len(skipped):
        line_list = ", ".join(str(int(x)) for x in skipped[:MAX_LISTED])
        if len(skipped) > MAX_LISTED:
            line_list += f" and {len(skipped) - MAX_LISTED} more"
        notes.append(f"skipped {len(skipped)} CSV line(s) without any data (line(s) {line_list})")
    if len(frame) == 0:
        raise DataError(
            "the table has no rows. Add one row per (run, checkpoint, metric); "
            "see docs/data_format.md."
        )
    dup_cols = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
    if dup_cols:
        raise DataError(f"column(s) {dup_cols} appear more than once; keep one of each.")

    required = [dims.COL_FAMILY, dims.COL_PARAMS, dims.COL_TOKENS, dims.COL_VALUE]
    missing_cols = [c for c in required if c not in frame.columns]
    if missing_cols:
        normal = {str(c).strip().lower().replace(" ", "_"): c for c in frame.columns}
        hints = "".join(
            f" Column {normal[c]!r} looks like {c!r}: check its case and spaces."
            for c in missing_cols
            if c in normal
        )
        raise DataError(
            f"missing required column(s) {missing_cols}; the table has columns "
            f"{[str(c) for c in frame.columns]}.{hints} Add or rename columns to match the "
            "long format (family, params, tokens, metric, value; see docs/data_format.md)."
        )

    # Row positions refer to the input table, also after keeping one metric.
    positions = np.arange(len(frame))

    def where(rows: Rows) -> str:
        orig = [int(positions[r]) for r in rows]
        return describe_rows(orig, csv_lines)

    # Metric selection.
    if dims.COL_METRIC in frame.columns:
        m_missing = np.flatnonzero(blank_mask(frame[dims.COL_METRIC]))
        if m_missing.size:
            raise DataError(
                f"column 'metric': empty in {where(m_missing)}. Give every row the name of "
                "its metric, or remove those rows."
            )
        labels = pd.Series([label_text(v) for v in frame[dims.COL_METRIC]], dtype=object)
        metrics = list(pd.unique(labels))
        shown = metrics[:20] + (["..."] if len(metrics) > 20 else [])
        if metric is None:
            if len(metrics) > 1:
                raise DataError(
                    f"column 'metric' holds {len(metrics)} metrics {shown}; choose one with "
                    "metric=NAME (command line: --metric NAME)."
                )
            metric = metrics[0]
        elif str(metric) not in metrics:
            raise DataError(
                f"metric {metric!r} is not in column 'metric', which holds {shown}. Pass one of "
                "those names (case-sensitive) as metric=NAME (command line: --metric NAME)."
            )
        keep = (labels == str(metric)).to_numpy()
        if not keep.all():
            notes.append(
                f"kept the {int(keep.sum())} rows of metric {metric!r} out of {len(frame)} "
                f"(other metrics: {[m for m in shown if m != str(metric)]})"
            )
        positions = np.flatnonzero(keep)
        frame = frame.loc[keep].reset_index(drop=True)
    elif metric is None:
        metric = "value"
    else:
        notes.append(f"no 'metric' column: took every row as metric {metric!r}")
    n = len(frame)

    # Families.
    fam_missing = np.flatnonzero(blank_mask(frame[dims.COL_FAMILY]))
    if fam_missing.size:
        raise DataError(
            f"column 'family': empty in {where(fam_missing)}. Give every run a family label "
            "(one label for all rows is fine for a single family), or remove those rows."
        )
    family = pd.Series([label_text(v) for v in frame[dims.COL_FAMILY]], dtype=object)

    # Numeric columns.
    params = numeric_column(frame, dims.COL_PARAMS, where, required=True)
    tokens = numeric_column(frame, dims.COL_TOKENS, where, required=True)
    value = numeric_column(frame, dims.COL_VALUE, where, required=True)
    optional = {
        col: numeric_column(frame, col, where, required=False)
        for col in (dims.COL_COMPUTE, dims.COL_STEP, dims.COL_VALUE_LO, dims.COL_VALUE_HI)
        if col in frame.columns
    }

    for col, arr, what in (
        (dims.COL_PARAMS, params, "N is the number of parameters"),
        (dims.COL_TOKENS, tokens, "D is the number of training tokens"),
    ):
        nonpos = np.flatnonzero(arr <= 0)
        if nonpos.size:
            fail_rows(
                col,
                nonpos,
                frame[col],
                "must be > 0 but is not",
                f"{what}, a positive count (not its log): fix or remove those rows.",
                where,
            )

    # Compute: given values must be > 0; gaps are filled with 6 N D and reported.
    six_nd = 6.0 * params * tokens
    comp = optional.get(dims.COL_COMPUTE)
    if comp is None:
        comp = six_nd
        notes.append("no 'compute' column: set compute = 6*params*tokens in every row")
    else:
        nonpos = np.flatnonzero(comp <= 0)
        if nonpos.size:
            fail_rows(
                dims.COL_COMPUTE,
                nonpos,
                frame[dims.COL_COMPUTE],
                "must be > 0 but is not",
                "Compute is the training cost in FLOPs: fix those rows, or leave them empty "
                "to have 6*params*tokens filled in.",
                where,
            )
        filled = np.flatnonzero(np.isnan(comp))
        if filled.size == n:
            notes.append("column 'compute' is empty: set compute = 6*params*tokens in every row")
        elif filled.size:
            notes.append(
                f"filled 'compute' = 6*params*tokens in {filled.size} of {n} rows where it was "
                f"missing: {where(filled)}"
            )
        comp = np.where(np.isnan(comp), six_nd, comp)

    step = optional.get(dims.COL_STEP)
    if step is not None:
        negative = np.flatnonzero(step < 0)
        if negative.size:
            fail_rows(
                dims.COL_STEP,
                negative,
                frame[dims.COL_STEP],
                "must be >= 0 but is not",
                "It is the training step of the checkpoint: fix those rows, or leave it empty "
                "for a final checkpoint.",
                where,
            )
        if np.isnan(step).all():
            step = None

    if space == "log":
        nonpos = np.flatnonzero(value <= 0)
        if nonpos.size:
            fail_rows(
                dims.COL_VALUE,
                nonpos,
                frame[dims.COL_VALUE],
                "must be > 0 for a law fitted in log space but is not",
                "Fit on the linear scale with space='linear' (command line: --space linear), "
                "or fix or remove those rows.",
                where,
            )

    lo, hi = _intervals(optional, value, space, where)

    # Seeds.
    if dims.COL_SEED in frame.columns:
        seed_blank = blank_mask(frame[dims.COL_SEED])
        seed = pd.Series(
            [
                NO_SEED if b else label_text(v)
                for v, b in zip(frame[dims.COL_SEED], seed_blank, strict=True)
            ],
            dtype=object,
        )
    else:
        seed = pd.Series([NO_SEED] * n, dtype=object)

    _check_duplicates(family, seed, params, tokens, step, value, where, positions)
    run = _run_labels(frame, family, seed, params, step)

    # Enough rows per family.
    counts = family.value_counts(sort=False)
    thin = [str(f) for f, k in counts.items() if k < min_rows_per_family]
    if thin:
        parts = []
        for name in thin[:MAX_LISTED]:
            rows = np.flatnonzero((family == name).to_numpy())
            parts.append(f"family {name!r} has only {rows.size}, in {where(rows)}")
        more = f"; and {len(thin) - MAX_LISTED} more families" if len(thin) > MAX_LISTED else ""
        raise DataError(
            f"column 'family': this law needs at least {min_rows_per_family} rows per family, "
            f"but {'; '.join(parts)}{more}. Add runs to those families, share the law's "
            "parameters across families (pooling='shared'), or leave those families out."
        )

    families = list(pd.unique(family))
    fam_idx = family.map({f: i for i, f in enumerate(families)}).to_numpy()
    seed_labels_obs = (family + "/" + seed).to_numpy()
    seed_labels = list(pd.unique(seed_labels_obs))
    seed_idx = pd.Series(seed_labels_obs).map({s: i for i, s in enumerate(seed_labels)})

    data_vars: dict[str, Any] = {
        "params": (dims.OBS, params),
        "tokens": (dims.OBS, tokens),
        "compute": (dims.OBS, np.asarray(comp, dtype=float)),
        "value": (dims.OBS, value),
        "family_idx": (dims.OBS, fam_idx.astype(np.int64)),
        "seed_idx": (dims.OBS, seed_idx.to_numpy().astype(np.int64)),
    }
    if lo is not None and hi is not None:
        data_vars["value_lo"] = (dims.OBS, lo)
        data_vars["value_hi"] = (dims.OBS, hi)
    if step is not None:
        data_vars["checkpoint_step"] = (dims.OBS, step)
    run_labels = list(pd.unique(run))
    data_vars["run_idx"] = (
        dims.OBS,
        run.map({r: i for i, r in enumerate(run_labels)}).to_numpy().astype(np.int64),
    )
    ds = xr.Dataset(
        data_vars,
        coords={
            dims.OBS: positions.astype(np.int64),
            dims.FAMILY: np.asarray(families, dtype=str),
            dims.SEED: np.asarray(seed_labels, dtype=str),
            "obs_family": (dims.OBS, family.to_numpy().astype(str)),
            "obs_seed": (dims.OBS, seed.to_numpy().astype(str)),
            dims.RUN: np.asarray(run_labels, dtype=str),
            "obs_run": (dims.OBS, run.to_numpy().astype(str)),
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


def _intervals(
    optional: dict[str, np.ndarray], value: np.ndarray, space: str, where: Where
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Check ``value_lo``/``value_hi``; return them, or ``(None, None)`` when not given."""
    lo = optional.get(dims.COL_VALUE_LO)
    hi = optional.get(dims.COL_VALUE_HI)
    has_lo = lo is not None and not np.isnan(lo).all()
    has_hi = hi is not None and not np.isnan(hi).all()
    if has_lo != has_hi:
        have, lack, arr = (
            (dims.COL_VALUE_LO, dims.COL_VALUE_HI, lo)
            if has_lo
            else (dims.COL_VALUE_HI, dims.COL_VALUE_LO, hi)
        )
        assert arr is not None
        rows = np.flatnonzero(~np.isnan(arr))
        raise DataError(
            f"column {have!r} is given in {where(rows)} but column {lack!r} is missing or empty; "
            f"the two are the ends of one interval. Fill in {lack!r} or remove {have!r}."
        )
    if not (has_lo and has_hi):
        return None, None
    assert lo is not None and hi is not None

    def triples(rows: np.ndarray) -> str:
        text = ", ".join(
            f"({fmt_cell(lo[r])}, {fmt_cell(value[r])}, {fmt_cell(hi[r])})"
            for r in rows[:MAX_LISTED]
        )
        return text + (", ..." if len(rows) > MAX_LISTED else "")

    half = np.flatnonzero(np.isnan(lo) != np.isnan(hi))
    if half.size:
        raise DataError(
            f"columns 'value_lo'/'value_hi': only one end of the interval is given in "
            f"{where(half)}: (value_lo, value, value_hi) = {triples(half)}. "
            "Give both ends or neither in each row."
        )
    with np.errstate(invalid="ignore"):
        outside = np.flatnonzero(~np.isnan(lo) & ~((lo <= value) & (value <= hi)))
    if outside.size:
        raise DataError(
            f"columns 'value_lo'/'value_hi': the interval does not contain 'value' in "
            f"{where(outside)}: (value_lo, value, value_hi) = {triples(outside)}. "
            "Each row needs value_lo <= value <= value_hi: check for swapped ends or another "
            "scale (e.g. standard errors or half-widths instead of the interval's ends)."
        )
    if space == "log":
        nonpos = np.flatnonzero(lo <= 0)
        if nonpos.size:
            raise DataError(
                f"column 'value_lo': must be > 0 for a law fitted in log space but is not in "
                f"{where(nonpos)}: {cell_values(lo, nonpos)}. Fix those rows, leave both ends "
                "empty there, or fit with space='linear'."
            )
    return lo, hi


def _run_labels(
    frame: pd.DataFrame,
    family: pd.Series,
    seed: pd.Series,
    params: np.ndarray,
    step: np.ndarray | None,
) -> pd.Series:
    """Label the training run of every row: its checkpoints share one label.

    Only a table with checkpoint steps has runs of several rows: there a run is
    (family, seed, model) with a ``model`` column, else (family, seed, N). Without
    checkpoint steps every row is its own run (a ``model`` label may then name a model
    size shared by runs with different token budgets, as in IsoFLOP data).
    """
    base = family.astype(str) + "/" + seed.astype(str)
    if step is None:
        return base + "/" + pd.Series([f"row{i}" for i in range(len(frame))], index=base.index)
    if dims.COL_MODEL in frame.columns:
        blank = blank_mask(frame[dims.COL_MODEL])
        model = pd.Series(
            [label_text(v) for v in frame[dims.COL_MODEL]], dtype=object, index=base.index
        )
        own = pd.Series([f"row{i}" for i in range(len(frame))], dtype=object, index=base.index)
        return base + "/" + model.where(~blank, own)
    return base + "/N=" + pd.Series([f"{p:.6g}" for p in params], index=base.index)


def run_labels(frame: pd.DataFrame) -> pd.Series:
    """Run label of every row of a long-format table (as :func:`validate` assigns them).

    In a table with checkpoint steps a run is (family, seed, model) with a ``model``
    column, else (family, seed, params); without checkpoint steps every row is its own run.
    """
    family = pd.Series([label_text(v) for v in frame[dims.COL_FAMILY]], dtype=object)
    if dims.COL_SEED in frame.columns:
        blank = blank_mask(frame[dims.COL_SEED])
        seed = pd.Series(
            [
                NO_SEED if b else label_text(v)
                for v, b in zip(frame[dims.COL_SEED], blank, strict=True)
            ],
            dtype=object,
        )
    else:
        seed = pd.Series([NO_SEED] * len(frame), dtype=object)
    params = pd.to_numeric(frame[dims.COL_PARAMS], errors="coerce").to_numpy(dtype=float)
    step = None
    if dims.COL_STEP in frame.columns:
        step = pd.to_numeric(frame[dims.COL_STEP], errors="coerce").to_numpy(dtype=float)
        if np.isnan(step).all():
            step = None
    plain = frame.reset_index(drop=True)
    out = _run_labels(plain, family, seed, params, step)
    out.index = frame.index
    return out


def has_run_effects(ds: xr.Dataset) -> bool:
    """Whether some training run has two or more rows (intermediate checkpoints)."""
    if "run_idx" not in ds:
        return False
    return bool(np.bincount(ds["run_idx"].values).max() > 1)


def _check_duplicates(
    family: pd.Series,
    seed: pd.Series,
    params: np.ndarray,
    tokens: np.ndarray,
    step: np.ndarray | None,
    value: np.ndarray,
    where: Where,
    positions: np.ndarray,
) -> None:
    """Raise if a run (family, seed, N, D, checkpoint) appears more than once."""
    key = pd.DataFrame(
        {
            "family": family.to_numpy(),
            "seed": seed.to_numpy(),
            "params": params,
            "tokens": tokens,
            "step": step if step is not None else np.full(len(value), np.nan),
        }
    )
    group = key.groupby(list(key.columns), dropna=False, sort=False).ngroup().to_numpy()
    sizes = np.bincount(group)
    if not (sizes > 1).any():
        return
    order = np.argsort(group, kind="stable")
    bounds = np.cumsum(sizes)[:-1]
    conflicts: list[np.ndarray] = []
    repeats: list[tuple[int, int]] = []
    for rows in np.split(order, bounds):
        if rows.size < 2:
            continue
        if np.ptp(value[rows]) > 0:
            conflicts.append(rows)
        else:
            repeats.extend((int(r), int(rows[0])) for r in rows[1:])
    if conflicts:
        rows = conflicts[0]
        r0 = rows[0]
        run = (
            f"family {family.iloc[r0]!r}, seed {seed.iloc[r0]!r}, params {fmt_cell(params[r0])}, "
            f"tokens {fmt_cell(tokens[r0])}"
        )
        if step is not None:
            run += f", checkpoint_step {fmt_cell(step[r0])}"
        more = (
            f" ({len(conflicts) - 1} more run(s) have the same problem.)"
            if len(conflicts) > 1
            else ""
        )
        raise DataError(
            f"columns {_RUN_KEY}: {where(rows)} describe the same run ({run}) with different "
            f"'value's {cell_values(value, rows)}.{more} Each run and checkpoint may appear once "
            "per metric: give repeated runs distinct 'seed' labels, intermediate checkpoints "
            "a 'checkpoint_step', or remove the wrong rows."
        )
    repeats.sort()
    dup = [r for r, _ in repeats]
    pairs = ", ".join(
        f"{positions[r]} repeats {positions[first]}" for r, first in repeats[:MAX_LISTED]
    )
    more = f" and {len(repeats) - MAX_LISTED} more" if len(repeats) > MAX_LISTED else ""
    raise DataError(
        f"columns {_RUN_KEY}, value: {where(dup)} exactly repeat earlier rows (row {pairs}{more}), "
        "so the same run would count twice. Remove the repeats (e.g. "
        "DataFrame.drop_duplicates()), or give separate runs distinct 'seed' labels."
    )


def to_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Turn a validated Dataset back into the long format (one row per ``obs``)."""
    out = pd.DataFrame(
        {
            dims.COL_FAMILY: ds["obs_family"].values,
            dims.COL_SEED: ds["obs_seed"].values.astype(object),
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
    """Whether some family has two or more distinct seeds (so seed noise is identified).

    Rows without a seed count as one more seed (``NO_SEED``) of their family.
    """
    if "obs_family" in ds.coords and "obs_seed" in ds.coords:
        pairs = pd.DataFrame({"family": ds["obs_family"].values, "seed": ds["obs_seed"].values})
        return bool((pairs.groupby("family")["seed"].nunique() > 1).any())
    labels = ds[dims.SEED].values
    fam_of = [str(s).rsplit("/", 1)[0] for s in labels]
    return any(fam_of.count(f) > 1 for f in set(fam_of))
