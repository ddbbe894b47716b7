r"""Intermediate checkpoints as data: drop the early part of training, and say what went.

Loss curves of one run over its checkpoints are many cheap extra points, but the early
ones follow the warm-up and the learning-rate schedule rather than the scaling law.
Choshen, Zhang and Andreas (2024, *A Hitchhiker's Guide to Scaling Law Estimation*,
arXiv:2410.11840) found that fits improve when checkpoints seen before about 10 B tokens
are left out, and that keeping the later checkpoints beats fitting final checkpoints only.
:func:`drop_early_checkpoints` applies that rule (by tokens, by a fraction of each run's
final token count, or by step) and reports every row it removes; nothing is dropped
silently.

A run is identified as in :func:`bayescale.validate`: by (family, seed, model) when the
table has a ``model`` column, else by (family, seed, params); the table needs a
``checkpoint_step`` column (without one every row is a final checkpoint). Checkpoints of one run are
correlated; :func:`bayescale.fit` models that with a run-level offset (``run_sigma``,
see :func:`bayescale.scaling.model.run_marginal_logp`) instead of treating them as independent.

Examples
--------
>>> import pandas as pd
>>> from bayescale.scaling.checkpoints import drop_early_checkpoints
>>> df = pd.DataFrame({"family": "f", "model": "m", "params": 1e8,
...                    "tokens": [1e9, 5e9, 2e10, 4e10], "checkpoint_step": [1, 5, 20, 40],
...                    "value": [4.0, 3.5, 3.2, 3.1]})
>>> kept = drop_early_checkpoints(df, min_fraction=0.25)
>>> kept["tokens"].tolist()
[20000000000.0, 40000000000.0]
>>> kept.attrs["checkpoint_filter"]["removed"]
2
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import pandas as pd

from bayescale.core import dims
from bayescale.core.errors import DataError, SpecificationError
from bayescale.scaling.data import read_table, run_labels

__all__ = ["drop_early_checkpoints", "thin_checkpoints"]

_log = logging.getLogger("bayescale")

#: The Hitchhiker's Guide's cut-off: checkpoints before 10 B tokens are left out.
HITCHHIKER_MIN_TOKENS = 1e10


def _checked_tokens(frame: pd.DataFrame, caller: str) -> np.ndarray:
    """Check the columns a checkpoint filter reads; return the token counts."""
    needed = [dims.COL_FAMILY, dims.COL_PARAMS, dims.COL_TOKENS]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(
            f"{caller} needs column(s) {missing}; the table has {[str(c) for c in frame.columns]}"
        )
    _require_steps(frame)
    tokens = pd.to_numeric(frame[dims.COL_TOKENS], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(np.isfinite(tokens) & (tokens > 0)))
    if bad.size:
        raise DataError(
            f"column 'tokens': not a finite number > 0 in rows {bad[:8].tolist()} (holding "
            f"{frame[dims.COL_TOKENS].iloc[bad[:8]].tolist()}); fix or remove those rows "
            "before filtering checkpoints"
        )
    return tokens


def _require_steps(frame: pd.DataFrame) -> None:
    """Raise unless the table marks intermediate checkpoints with ``checkpoint_step``."""
    steps = (
        pd.to_numeric(frame[dims.COL_STEP], errors="coerce")
        if dims.COL_STEP in frame.columns
        else None
    )
    if steps is None or steps.isna().all():
        raise DataError(
            "column 'checkpoint_step' is missing or empty, so every row is a final "
            "checkpoint of its own run and there are no intermediate checkpoints to filter. "
            "Give intermediate checkpoints their training step (and the rows of one run a "
            "common 'model' label)."
        )


def drop_early_checkpoints(
    data: str | os.PathLike[str] | pd.DataFrame,
    *,
    min_tokens: float | None = None,
    min_fraction: float | None = None,
    min_step: float | None = None,
    keep_final: bool = True,
) -> pd.DataFrame:
    r"""Drop the early checkpoints of every run and report what was removed.

    A row is kept when all the given rules hold:

    * ``tokens >= min_tokens``;
    * ``tokens >= min_fraction * D_final(run)``, with :math:`D_\text{final}` the largest
      token count of the row's run (its last checkpoint);
    * ``checkpoint_step >= min_step``.

    Parameters
    ----------
    data
        Table in the long format (DataFrame or CSV path).
    min_tokens
        Absolute cut-off in tokens (the Hitchhiker's Guide uses ``1e10``,
        :data:`HITCHHIKER_MIN_TOKENS`).
    min_fraction
        Cut-off as a fraction in ``[0, 1)`` of each run's final token count.
    min_step
        Cut-off in training steps.
    keep_final
        Always keep each run's last checkpoint, so no run disappears entirely (a small run
        trained on fewer than ``min_tokens`` tokens still contributes its final value).

    Returns
    -------
    pandas.DataFrame
        The kept rows (original index). ``attrs["checkpoint_filter"]`` records the rules,
        the number of rows and runs before and after, and the removed rows per family;
        the same is logged at INFO level on the ``"bayescale"`` logger.

    Raises
    ------
    SpecificationError
        If no rule is given or a rule is out of range.
    DataError
        If a needed column is missing or the rules would remove every row.
    """
    if min_tokens is None and min_fraction is None and min_step is None:
        raise SpecificationError(
            "give at least one of min_tokens, min_fraction or min_step (e.g. min_tokens=1e10, "
            "the Hitchhiker's Guide's cut-off)"
        )
    if min_fraction is not None and not 0 <= min_fraction < 1:
        raise SpecificationError(f"min_fraction must lie in [0, 1), not {min_fraction}")
    for name, val in (("min_tokens", min_tokens), ("min_step", min_step)):
        if val is not None and not (np.isfinite(val) and val >= 0):
            raise SpecificationError(f"{name} must be a number >= 0, not {val}")
    frame, _ = read_table(data)
    tokens = _checked_tokens(frame, "drop_early_checkpoints")
    runs = run_labels(frame)
    final = pd.Series(tokens).groupby(runs.to_numpy()).transform("max").to_numpy()
    keep = np.ones(len(frame), dtype=bool)
    if min_tokens is not None:
        keep &= tokens >= min_tokens
    if min_fraction is not None:
        keep &= tokens >= min_fraction * final
    if min_step is not None:
        step = pd.to_numeric(frame[dims.COL_STEP], errors="coerce").to_numpy(dtype=float)
        keep &= ~(step < min_step)  # rows without a step are final checkpoints: kept
    if keep_final:
        keep |= tokens == final
    if not keep.any():
        raise DataError(
            "the checkpoint rules remove every row; loosen min_tokens/min_fraction/min_step"
        )
    removed = frame.loc[~keep]
    per_family = removed.groupby(dims.COL_FAMILY).size().to_dict() if len(removed) else {}
    by_family = {str(k): int(v) for k, v in per_family.items()}
    record: dict[str, Any] = {
        "min_tokens": min_tokens,
        "min_fraction": min_fraction,
        "min_step": min_step,
        "keep_final": keep_final,
        "rows_before": len(frame),
        "rows_after": int(keep.sum()),
        "removed": int((~keep).sum()),
        "runs_before": int(runs.nunique()),
        "runs_after": int(runs[keep].nunique()),
        "removed_per_family": by_family,
    }
    _log.info(
        "drop_early_checkpoints removed %d of %d rows (%s)",
        record["removed"],
        record["rows_before"],
        ", ".join(f"{k}: {v}" for k, v in by_family.items()) or "none",
    )
    out = frame.loc[keep].copy()
    out.attrs = {**frame.attrs, "checkpoint_filter": record}
    return out


def thin_checkpoints(data: str | os.PathLike[str] | pd.DataFrame, *, per_run: int) -> pd.DataFrame:
    r"""Keep at most ``per_run`` checkpoints of every run, evenly spaced in log tokens.

    Dense loss curves (thousands of logged steps) add little beyond a few checkpoints
    per e-fold of tokens, since neighbouring steps are nearly the same measurement, and
    they slow sampling. For each run with more than ``per_run`` rows, the kept rows are
    those nearest to ``per_run`` targets evenly spaced in :math:`\log D` between the run's
    first and last checkpoint (both kept).

    Parameters
    ----------
    data
        Table in the long format (one metric, or several: each metric is thinned alike).
    per_run
        Largest number of rows kept per run and metric (>= 2).

    Returns
    -------
    pandas.DataFrame
        The kept rows (original index); ``attrs["checkpoint_thinning"]`` records the
        rule and the rows before and after.
    """
    if int(per_run) < 2:
        raise SpecificationError(f"per_run must be >= 2, not {per_run}")
    frame, _ = read_table(data)
    log_d = np.log(_checked_tokens(frame, "thin_checkpoints"))
    runs = run_labels(frame).to_numpy()
    metric = (
        frame[dims.COL_METRIC].astype(str).to_numpy()
        if dims.COL_METRIC in frame.columns
        else np.full(len(frame), "")
    )
    keep = np.zeros(len(frame), dtype=bool)
    groups = pd.DataFrame({"run": runs, "metric": metric}).groupby(["run", "metric"]).indices
    for rows in groups.values():
        if rows.size <= per_run:
            keep[rows] = True
            continue
        order = rows[np.argsort(log_d[rows], kind="stable")]
        targets = np.linspace(log_d[order[0]], log_d[order[-1]], int(per_run))
        pos = np.searchsorted(log_d[order], targets).clip(1, order.size - 1)
        left = log_d[order[pos - 1]]
        right = log_d[order[pos]]
        nearest = np.where(targets - left <= right - targets, pos - 1, pos)
        keep[order[np.unique(nearest)]] = True
    record = {
        "per_run": int(per_run),
        "rows_before": len(frame),
        "rows_after": int(keep.sum()),
        "removed": int((~keep).sum()),
    }
    _log.info(
        "thin_checkpoints kept %d of %d rows (at most %d per run)",
        record["rows_after"],
        record["rows_before"],
        per_run,
    )
    out = frame.loc[keep].copy()
    out.attrs = {**frame.attrs, "checkpoint_thinning": record}
    return out
