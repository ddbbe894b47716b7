r"""Compute-optimal inference: spend a FLOP budget on the best model size and samples.

For a budget :math:`B` (inference FLOPs per problem), each candidate (model :math:`m`,
strategy :math:`s`, cost :math:`c_{m,s}` per sample,
:func:`~bayescale.passk.compute.inference_flops`) draws
:math:`k = \lfloor B / c_{m,s} \rfloor` samples; its accuracy at :math:`k` is
interpolated linearly in :math:`\log k` between grid points (or evaluated exactly by a
callable backed by a fitted model), and the posterior probability that it is the best
candidate is the fraction of joint draws in which it has the highest accuracy.

* :func:`best_allocation` tabulates every candidate of every budget and marks the choice.
* :func:`optimal_model_by_budget` keeps the choice of each budget of a sweep, so the
  optimal model size can be read as a function of the budget.

Accuracy comes as in :mod:`bayescale.passk.compute` (an :class:`xarray.DataArray` with
dims ``model`` and ``k``, optionally ``strategy`` and posterior draws).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core import dims
from bayescale.core.errors import SpecificationError
from bayescale.core.intervals import check_ci_prob
from bayescale.passk.compute import (
    DEFAULT_STRATEGY,
    DRAW_DIMS,
    STRATEGY,
    Curves,
    FlopsSpec,
    interval_stats,
    read_curves,
)

__all__ = ["AccuracyAt", "best_allocation", "optimal_model_by_budget"]

#: Relative slack when flooring budget / cost, so that 3 c / c gives 3 and not 2.
_FLOOR_RTOL = 1e-9

#: A function ``accuracy_at(model, k) -> DataArray`` (dims ``k``, optionally draws).
AccuracyAt = Callable[[str, np.ndarray], xr.DataArray]


def _interp_log_k(cv: Curves, model: int, strategy: int, k: int) -> np.ndarray:
    """Draws of accuracy at ``k``, linear in log k between grid points (k inside grid)."""
    grid = cv.k
    row = cv.values[:, model, strategy, :]
    if grid.size == 1:
        return row[:, 0]
    i = int(np.clip(np.searchsorted(grid, k, side="right") - 1, 0, grid.size - 2))
    w = (math.log(k) - math.log(grid[i])) / (math.log(grid[i + 1]) - math.log(grid[i]))
    return (1.0 - w) * row[:, i] + w * row[:, i + 1]


def _budgets(budget: float | Sequence[float] | np.ndarray) -> np.ndarray:
    b = np.atleast_1d(np.asarray(budget, dtype=float)).ravel()
    if b.size == 0 or not np.all(np.isfinite(b) & (b > 0)):
        raise SpecificationError(f"budget must be finite and > 0, got {b.tolist()[:8]}")
    return b


def _samples_for(budget: float, flops: float) -> int:
    return math.floor(budget / flops * (1.0 + _FLOOR_RTOL))


def _from_callable(
    accuracy_at: AccuracyAt,
    flops_per_sample: FlopsSpec,
    budgets: np.ndarray,
) -> tuple[xr.DataArray, FlopsSpec]:
    """Evaluate ``accuracy_at`` on the union of the k every model gets under ``budgets``."""
    if isinstance(flops_per_sample, Mapping):
        models = [str(m) for m in flops_per_sample]
        fps = np.array([float(v) for v in flops_per_sample.values()])[:, None]
    elif isinstance(flops_per_sample, xr.DataArray) and dims.MODEL in flops_per_sample.dims:
        models = [str(m) for m in flops_per_sample[dims.MODEL].values]
        fps = np.asarray(flops_per_sample.transpose(dims.MODEL, ...).values, dtype=float).reshape(
            len(models), -1
        )
    else:
        raise SpecificationError(
            "with a callable accuracy_at(model, k), flops_per_sample must be a mapping "
            "{model: FLOPs} or a DataArray on 'model': it says which models to evaluate"
        )
    if not np.all(np.isfinite(fps) & (fps > 0)):
        raise SpecificationError("FLOPs per sample must be finite and > 0")
    ks = np.floor(budgets[:, None, None] / fps[None] * (1.0 + _FLOOR_RTOL))
    grid = np.unique(ks[ks >= 1]).astype(np.int64)
    if grid.size == 0:
        grid = np.array([1], dtype=np.int64)
    parts = []
    for m in models:
        part = accuracy_at(m, grid.copy())
        if not isinstance(part, xr.DataArray) or dims.K not in part.dims:
            raise SpecificationError(
                f"accuracy_at({m!r}, k) must return a DataArray with a 'k' dim, got "
                f"{type(part).__name__}"
                + (f" with dims {part.dims}" if isinstance(part, xr.DataArray) else "")
            )
        if part.sizes[dims.K] != grid.size:
            raise SpecificationError(
                f"accuracy_at({m!r}, k) returned {part.sizes[dims.K]} values of k for the "
                f"{grid.size} requested"
            )
        part = part.assign_coords({dims.K: grid})
        if dims.MODEL in part.dims:
            part = part.squeeze(dims.MODEL, drop=True)
        elif dims.MODEL in part.coords:
            part = part.drop_vars(dims.MODEL)
        parts.append(part)
    first = parts[0]
    for m, part in zip(models, parts, strict=True):
        for d in DRAW_DIMS:
            if first.sizes.get(d) != part.sizes.get(d):
                raise SpecificationError(
                    f"accuracy_at returned {part.sizes.get(d)} values along {d!r} for model "
                    f"{m!r} but {first.sizes.get(d)} for {models[0]!r}: draws must be paired "
                    "across models (same chain and draw sizes)"
                )
    accuracy = xr.concat(
        [p.drop_vars([c for c in p.coords if c in DRAW_DIMS]) for p in parts],
        dim=pd.Index(models, name=dims.MODEL),
        join="exact",
    )
    return accuracy, flops_per_sample


def best_allocation(
    accuracy: xr.DataArray | AccuracyAt,
    flops_per_sample: FlopsSpec,
    budget: float | Sequence[float] | np.ndarray,
    *,
    tokens_per_sample: float | Mapping[str, float] | xr.DataArray | None = None,
    ci_prob: float = 0.9,
    beyond_grid: Literal["raise", "exclude"] = "raise",
) -> pd.DataFrame:
    r"""Spend each inference budget on the best (model, strategy) with as many samples as fit.

    For a budget :math:`B` (FLOPs per problem), candidate :math:`(m, s)` draws
    :math:`k = \lfloor B / c_{m,s} \rfloor` samples; with :math:`k < 1` it is
    *infeasible*. Its accuracy at :math:`k` is interpolated draw by draw, linearly in
    :math:`\log k` between the neighbouring grid values :math:`k_i \le k \le k_{i+1}`:

    .. math::

        A(k) = (1 - w) A(k_i) + w A(k_{i+1}), \qquad
        w = \frac{\log k - \log k_i}{\log k_{i+1} - \log k_i}

    (exact at grid points). The chosen candidate maximises the posterior mean accuracy
    (the Bayes choice under a loss linear in accuracy). Its *probability of being best* is

    .. math:: P_\text{best}(m, s) = \frac1S \sum_{d=1}^S \mathbf 1\bigl[A^{(d)}_{m,s}
        = \max_{m', s'} A^{(d)}_{m', s'}\bigr] / (\text{number tied})

    over joint draws :math:`d`: draw :math:`d` of every model is taken at the same
    (chain, draw) index. This assumes a joint posterior (one model fitted to all sizes).
    For models fitted independently the pairing is arbitrary, which is still valid:
    independent posteriors have a product joint, and pairing draws by index samples it.
    With point estimates, the best candidate has probability 1 (shared among ties).

    Parameters
    ----------
    accuracy
        Accuracy as in :func:`accuracy_vs_compute` (interpolated in log k), or a callable
        ``accuracy_at(model, k) -> DataArray`` (dims ``k``, optionally ``strategy`` and
        draws, same draw sizes for every model) evaluated at exactly the k each budget
        buys: use it with a fitted model that forecasts any k (no interpolation and no
        grid limits). With a callable, ``flops_per_sample`` names the models.
    flops_per_sample, tokens_per_sample
        Cost of one sample, as in :func:`accuracy_vs_compute`.
    budget
        Inference FLOPs per problem, one value or several.
    ci_prob
        Probability of the equal-tailed interval.
    beyond_grid
        When a budget buys a candidate more samples than the largest ``k`` of its curve
        (or fewer than the smallest, if that is above 1): ``"raise"`` (default) a
        :class:`~bayescale.core.errors.SpecificationError` naming the model and the k range
        needed; ``"exclude"`` marks the candidate ``status="beyond grid"`` and leaves it
        out of the choice (the choice is then among the remaining candidates only).

    Returns
    -------
    pandas.DataFrame
        One row per (budget, model, strategy): ``budget``, ``model``, ``strategy``,
        ``flops_per_sample``, ``k`` (0 if infeasible), ``compute`` (:math:`k c`, the
        FLOPs actually used), ``status`` (``ok``, ``infeasible`` or ``beyond grid``),
        ``prob_best``, ``best`` (True for the chosen candidate of the budget; no row is
        True when no candidate is feasible), then
        :data:`~bayescale.core.intervals.FORECAST_COLUMNS` (``quantity == "accuracy"``;
        ``mean``, ``median``, ``lower``, ``upper`` are NaN unless ``ok``).
    """
    p = check_ci_prob(ci_prob)
    if beyond_grid not in ("raise", "exclude"):
        raise SpecificationError(f"beyond_grid must be 'raise' or 'exclude', not {beyond_grid!r}")
    budgets = _budgets(budget)
    if callable(accuracy) and not isinstance(accuracy, xr.DataArray):
        if tokens_per_sample is not None:
            raise SpecificationError(
                "with a callable accuracy_at, give flops_per_sample (not tokens_per_sample)"
            )
        accuracy, flops_per_sample = _from_callable(accuracy, flops_per_sample, budgets)
    cv = read_curves(accuracy, flops_per_sample, tokens_per_sample)
    return _allocate(cv, budgets, p, beyond_grid)


def _allocate(cv: Curves, budgets: np.ndarray, ci_prob: float, beyond_grid: str) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    k_lo, k_hi = int(cv.k[0]), int(cv.k[-1])
    for b in budgets:
        cands: list[dict[str, Any]] = []
        draws: list[np.ndarray] = []
        for mi, m in enumerate(cv.models):
            for si, s in enumerate(cv.strategies):
                fps = float(cv.flops[mi, si])
                k = _samples_for(b, fps)
                row: dict[str, Any] = {
                    "budget": b,
                    dims.MODEL: m,
                    STRATEGY: s,
                    "flops_per_sample": fps,
                    dims.K: k if k >= 1 else 0,
                    "compute": (k if k >= 1 else 0) * fps,
                    "status": "ok",
                    "prob_best": 0.0,
                    "best": False,
                    "quantity": "accuracy",
                }
                if k < 1:
                    row["status"] = "infeasible"
                elif not k_lo <= k <= k_hi:
                    if beyond_grid == "raise":
                        raise SpecificationError(_beyond_message(m, s, b, fps, k, k_lo, k_hi))
                    row["status"] = "beyond grid"
                if row["status"] == "ok":
                    draws.append(_interp_log_k(cv, mi, si, k))
                    row.update({n: float(v) for n, v in interval_stats(draws[-1], ci_prob).items()})
                else:
                    row.update(dict.fromkeys(("mean", "median", "lower", "upper"), np.nan))
                row["ci_prob"] = ci_prob
                cands.append(row)
        ok = [r for r in cands if r["status"] == "ok"]
        if ok:
            mat = np.stack(draws, axis=1)  # (sample, candidate)
            top = mat == mat.max(axis=1, keepdims=True)
            prob = (top / top.sum(axis=1, keepdims=True)).mean(axis=0)
            for r, pb in zip(ok, prob, strict=True):
                r["prob_best"] = float(pb)
            means = np.array([r["mean"] for r in ok])
            ok[int(np.argmax(means))]["best"] = True
        rows.extend(cands)
    return pd.DataFrame(rows)


def _beyond_message(
    model: str, strategy: str, budget: float, fps: float, k: int, k_lo: int, k_hi: int
) -> str:
    label = model if strategy == DEFAULT_STRATEGY else f"{model} ({strategy})"
    return (
        f"budget {budget:.4g} FLOPs buys model {label!r} k={k} samples (at {fps:.4g} FLOPs "
        f"per sample), outside its accuracy grid k in [{k_lo}, {k_hi}]. Evaluate the accuracy "
        f"up to k={k} (or down to k={k}) — e.g. pass a callable accuracy_at(model, k) backed "
        "by a fitted model — lower the budget, or pass beyond_grid='exclude' to leave such "
        "candidates out"
    )


def optimal_model_by_budget(
    accuracy: xr.DataArray | AccuracyAt,
    flops_per_sample: FlopsSpec,
    budgets: Sequence[float] | np.ndarray,
    *,
    tokens_per_sample: float | Mapping[str, float] | xr.DataArray | None = None,
    ci_prob: float = 0.9,
    beyond_grid: Literal["raise", "exclude"] = "raise",
) -> pd.DataFrame:
    """The chosen (model, strategy, k) for each budget of a sweep.

    Runs :func:`best_allocation` and keeps the chosen candidate of each budget, so the
    optimal model size can be read (or plotted) as a function of the budget. Sweep with
    e.g. ``numpy.geomspace(lo, hi, 50)``.

    Parameters
    ----------
    accuracy, flops_per_sample, tokens_per_sample, ci_prob, beyond_grid
        As in :func:`best_allocation`.
    budgets
        Inference FLOPs per problem.

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``budget``, ``model``, ``strategy``, ``k``, ``compute``,
        ``mean``, ``lower``, ``upper``, ``prob_best`` of the chosen candidate,
        ``runner_up`` (the model, and strategy if several, with the next highest mean),
        ``runner_up_mean`` and ``n_feasible``. Budgets where no candidate is feasible
        have a missing ``model`` (``None``/NaN) and NaN numbers.
    """
    table = best_allocation(
        accuracy,
        flops_per_sample,
        budgets,
        tokens_per_sample=tokens_per_sample,
        ci_prob=ci_prob,
        beyond_grid=beyond_grid,
    )
    several = table[STRATEGY].nunique() > 1
    out = []
    for b, grp in table.groupby("budget", sort=True):
        ok = grp[grp["status"] == "ok"].sort_values("mean", ascending=False, kind="stable")
        row: dict[str, Any] = {"budget": b, "n_feasible": len(ok)}
        cols = (dims.MODEL, STRATEGY, dims.K, "compute", "mean", "lower", "upper", "prob_best")
        if len(ok):
            best = grp[grp["best"]].iloc[0]
            row.update({c: best[c] for c in cols})
            rest = ok[~ok["best"]]
            if len(rest):
                r = rest.iloc[0]
                row["runner_up"] = f"{r[dims.MODEL]} ({r[STRATEGY]})" if several else r[dims.MODEL]
                row["runner_up_mean"] = float(r["mean"])
            else:
                row["runner_up"], row["runner_up_mean"] = None, np.nan
        else:
            row.update({c: (None if c in (dims.MODEL, STRATEGY) else np.nan) for c in cols})
            row["runner_up"], row["runner_up_mean"] = None, np.nan
        out.append(row)
    order = ["budget", dims.MODEL, STRATEGY, dims.K, "compute", "mean", "lower", "upper"]
    order += ["prob_best", "runner_up", "runner_up_mean", "n_feasible"]
    return pd.DataFrame(out)[order]
