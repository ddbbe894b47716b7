"""Emergence foreseen before it: leave-one-task-out back-tests at several cut-offs.

For every task t of a data set:

1. a *population* fit: the hierarchical sigmoidal law (``fit_sigmoid``) on every model of
   the *other* tasks (they have jumped, or not, in the data);
2. for every cut-off k of t, task t's models below k fitted as a new member of that
   population (``fit_sigmoid(..., population=population_fit)``): its onset, width, ceiling
   and overdispersion get the population's predictive as prior, so what a flat task cannot
   identify (how fast a rise is, how high it goes, where onsets lie) is borrowed from tasks
   that already jumped ("pooled");
3. the same task fitted alone below k with the package's default priors ("alone"), and
   (Wu & Lo's tasks) the Bayesian Slice-and-Sandwich of task t below k (``fit_sandwich``).

Task t's held-out models (compute >= k) are then forecast and compared with

* a *flat* forecast (the task stays where it is: the mean accuracy of its fitted models in
  the last half decade before k, at least three of them),
* Wu & Lo's point pipeline (Slice-and-Sandwich by OLS on the 10 shipped groups; Wu & Lo's
  tasks only, ``emergence_sandwich.wu_lo_point_forecast``),

on accuracy MAE (of the predictive median), 90% coverage of a new model's predictive
interval (a held-out model of a family the fit has seen or not), and the Brier score of
P(emergent by the largest model of the task) against the truth over tasks x cut-offs.

Cut-offs: Wu & Lo's threshold of the task (their cut-off; 10^23.3 for the three controls)
and 0.5 and 1 decade before it. ObsScaling has no published thresholds: each task's own
threshold measured on every model (``fit_sigmoid`` of the full table, median, rounded to a
tenth of a decade) and 0.5 and 1 decade before it. Cut-offs leaving fewer than five models
(or under half a decade) are skipped. Truth for the Brier score: Wu & Lo's classification
(six emergent tasks, three controls); for ObsScaling the every-model fit's verdict
(P(emergent) >= 0.5; Ruan et al. call all seven emergent: second column).

The extrapolation drift of the sigmoid's forecasts (``compute_drift``) acts at forecast
time: held-out figures without it (s = 0: the law alone), with the package default, and
with s estimated leave-one-task-out on the back-test itself (the s maximising the summed
held-out log score of the *other* tasks' cells).

All fits run through :func:`bayescale.fit_many` (two worker processes; a second run reuses
finished fits); population fits draw 4 chains x (500 + 500)::

    nice .venv/bin/python benchmarks/emergence_backtest.py [--only wu_lo|obsscaling] \
        [--out-dir bench_out/emergence_backtest] [--workers 2] [--no-sandwich]

Writes ``{out}/{name}_cells.csv`` (one row per task and cut-off) and
``{out}/{name}_summary.csv`` and prints both.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import bayescale
from bayescale.batch import FitTask, fit_many
from bayescale.emergence import (
    WU_LO_EMERGENT,
    WU_LO_FILTERED_MODELS,
    WU_LO_THRESHOLD,
    load_obsscaling_emergence,
    load_wu_lo_emergence,
    load_wu_lo_slices,
)
from bayescale.emergence.sigmoid import COMPUTE_DRIFT, SigmoidFit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emergence_sandwich import wu_lo_point_forecast

#: Decades before the task's threshold at which the back-tests cut.
LEADS = (0.0, 0.5, 1.0)
#: Grid of the extrapolation drift s estimated on the back-test.
DRIFTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.5)
SEED = 1
#: Sampling of the population fits (posterior means and spreads of the population).
POPULATION_DRAWS = {"draws": 500, "tune": 500, "extend_if_slow": False}
VARIANTS = ("pooled", "alone")


def cutoffs(thresholds: dict[str, float], table: pd.DataFrame) -> list[tuple[str, float, float]]:
    """(task, lead in decades, cut-off in FLOPs) of every feasible cell."""
    cells = []
    for task, log_t in thresholds.items():
        lc = np.log10(table.loc[table["task"] == task, "compute"].to_numpy(float))
        for lead in LEADS:
            k = round(log_t - lead, 2)
            below = lc[lc < k]
            if below.size >= 5 and below.max() - below.min() >= 0.5 and (lc >= k).any():
                cells.append((task, lead, 10.0**k))
    return cells


def flat_forecast(fitted: pd.DataFrame, k: float) -> float:
    """Mean accuracy of the fitted models in the last half decade before k (>= 3 models)."""
    g = fitted.sort_values("compute")
    recent = g[np.log10(g["compute"]) >= np.log10(k) - 0.5]
    if len(recent) < 3:
        recent = g.tail(3)
    return float(recent["value"].mean())


def scores(check: pd.DataFrame, median: str) -> dict[str, float]:
    return {
        "mae": float((check["value"] - check[median]).abs().mean()),
        "cover90": float(check["covered"].mean()),
        "width90": float((check["pred_upper"] - check["pred_lower"]).mean()),
    }


def drift_log_scores(fit: SigmoidFit, task: str) -> np.ndarray:
    """Summed held-out log score of the task's held-out models for each drift in DRIFTS."""
    held = fit.data[(fit.data["task"] == task) & fit.data["held_out"]]
    args = (task, held["compute"].to_numpy(), held["value"].to_numpy())
    kw = {"n_questions": held["n_questions"].to_numpy(), "family": list(held["family"])}
    return np.array(
        [
            float(dataclasses.replace(fit, compute_drift=s).log_score(*args, **kw).sum())
            for s in DRIFTS
        ]
    )


def run_fits(tasks: list[FitTask], out: Path, workers: int, smoke: dict[str, Any]) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_many(tasks, out_dir=out, max_workers=workers, **smoke)


def fitted(results: pd.DataFrame) -> dict[str, Any]:
    """Fit file paths of the finished tasks, by key (failed ones are left out)."""
    ok = results[results["status"].isin(["ok", "not_converged"])]
    return dict(zip(ok["key"], ok["path"], strict=True))


def score_cells(
    name: str,
    table: pd.DataFrame,
    cells: list[tuple[str, float, float]],
    paths: dict[str, Any],
    truth: dict[str, bool],
    slices: pd.DataFrame | None,
) -> pd.DataFrame:
    """One row per (task, cut-off): each variant's forecasts, P(emergent), diagnostics."""
    rows = []
    logscores: dict[str, dict[tuple[str, float], np.ndarray]] = {v: {} for v in VARIANTS}
    fits: dict[tuple[str, str, float], SigmoidFit] = {}
    for task, lead, k in cells:
        top = float(table.loc[table["task"] == task, "compute"].max())
        row: dict[str, Any] = {
            "task": task,
            "lead": lead,
            "cutoff_log10": round(float(np.log10(k)), 2),
            "truth": truth[task],
        }
        for variant in VARIANTS:
            key = f"{name}_{variant}_{task}_{lead:g}"
            if key not in paths:
                row[f"{variant}_status"] = "failed"
                continue
            fit = bayescale.load(paths[key])
            assert isinstance(fit, SigmoidFit)
            fits[(variant, task, lead)] = fit
            data = fit.data[fit.data["task"] == task]
            held = data[data["held_out"]]
            row.update(n_fit=int((~data["held_out"]).sum()), n_held_out=len(held))
            if variant == "pooled":
                flat = flat_forecast(data[~data["held_out"]], k)
                row["flat_mae"] = float((held["value"] - flat).abs().mean())
            d = fit.diagnostics
            row[f"{variant}_diagnostics"] = "ok" if d is not None and d.ok else str(d)
            row[f"{variant}_p_emergent"] = float(fit.p_emergent(up_to=top)[task])
            th = fit.threshold(ci_prob=0.9).loc[task]
            row[f"{variant}_threshold"] = th["log10_threshold"]
            row[f"{variant}_threshold_lo"] = th["log10_lower"]
            row[f"{variant}_threshold_hi"] = th["log10_upper"]
            for tag, s in (("s0", 0.0), ("sdef", COMPUTE_DRIFT)):
                check = dataclasses.replace(fit, compute_drift=s).held_out_check(ci_prob=0.9)
                for key2, v in scores(check, "pred_median").items():
                    row[f"{variant}_{tag}_{key2}"] = v
            logscores[variant][(task, lead)] = drift_log_scores(fit, task)
        if slices is not None:
            wl = wu_lo_point_forecast(slices, task, k)
            held_wl = wl[wl["lc"] >= np.log10(k)]
            row["wu_lo_mae"] = float((held_wl["acc_pred"] - held_wl["acc"]).abs().mean())
            key = f"wu_lo_sandwich_{task}_{lead:g}"
            if key in paths:
                sw = bayescale.load(paths[key])
                sc = sw.held_out_check(ci_prob=0.9)
                row.update({f"sandwich_{k2}": v for k2, v in scores(sc, "median").items()})
                row["sandwich_p_emergent"] = float(sw.p_emergent(up_to=top).iloc[0])
                d = sw.diagnostics
                row["sandwich_diagnostics"] = "ok" if d is not None and d.ok else str(d)
            else:
                row["sandwich_diagnostics"] = "failed (too few models below the cut-off)"
        rows.append(row)
    frame = pd.DataFrame(rows)
    # the drift s estimated leave-one-task-out on this back-test, then applied
    for variant in VARIANTS:
        grid = logscores[variant]
        for i, r in frame.iterrows():
            if (r["task"], r["lead"]) not in grid:
                continue
            others = sum(v for (t, _), v in grid.items() if t != r["task"])
            s = DRIFTS[int(np.argmax(others))]
            fit = dataclasses.replace(fits[(variant, r["task"], r["lead"])], compute_drift=s)
            check = fit.held_out_check(ci_prob=0.9)
            frame.loc[i, f"{variant}_s_loto"] = s
            for key2, v in scores(check, "pred_median").items():
                frame.loc[i, f"{variant}_sloto_{key2}"] = v
    return frame


def summarise(cells: pd.DataFrame) -> pd.DataFrame:
    """Per lead and over all: held-out-weighted MAE, coverage and width over the cells
    where the method forecast (``*_cells`` when not all), the median cell's MAE, and the
    Brier score of P(emergent) against the truth."""
    out = []
    for lead, g in [*cells.groupby("lead"), ("all", cells)]:
        w = g["n_held_out"].to_numpy(float)
        row: dict[str, Any] = {"lead": lead, "cells": len(g), "held_out": int(np.nansum(w))}
        y = g["truth"].astype(float).to_numpy()
        for col in g.columns:
            if col.endswith(("_mae", "_cover90", "_width90")):
                have = g[col].notna().to_numpy()
                if have.any():
                    row[col] = float(np.average(g[col][have], weights=w[have]))
                    if col.endswith("_mae"):
                        row[f"{col}_median_cell"] = float(np.median(g[col][have]))
                if not have.all():
                    row[f"{col}_cells"] = int(have.sum())
            if col.endswith("_p_emergent"):
                have = g[col].notna().to_numpy()
                p = g[col].to_numpy(float)[have]
                variant = col.removesuffix("_p_emergent")
                row[f"brier_{variant}"] = float(np.mean((p - y[have]) ** 2))
                if "truth_in_data" in g:
                    y2 = g["truth_in_data"].astype(float).to_numpy()[have]
                    row[f"brier_{variant}_in_data_labels"] = float(np.mean((p - y2) ** 2))
            if col.endswith("_threshold_covers"):
                row[col.replace("_covers", "_cover90")] = float(
                    g[col].dropna().astype(float).mean()
                )
        row["brier_base_rate"] = float(np.mean((y.mean() - y) ** 2))
        row["brier_half"] = 0.25
        out.append(row)
    return pd.DataFrame(out)


def run(name: str, args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fits_dir = out / "fits"
    smoke = (
        {"sampler": "tests.helpers:prior_sampler", "draws": 40, "chains": 2} if args.smoke else {}
    )
    pop_opts = {} if args.smoke else POPULATION_DRAWS
    slices = None
    if name == "wu_lo":
        table = load_wu_lo_emergence(exclude_models=WU_LO_FILTERED_MODELS)
        slices = load_wu_lo_slices(exclude_models=WU_LO_FILTERED_MODELS)
    else:
        table = load_obsscaling_emergence()
    # every model of every task: the thresholds and verdicts "in the data"
    full = run_fits(
        [FitTask(kind="sigmoid", data=table, options={"seed": SEED}, name=f"{name}_all")],
        fits_dir,
        1,
        smoke,
    )
    th = bayescale.load(full["path"].iloc[0]).threshold(ci_prob=0.9)
    in_data = {t: bool(v >= 0.5) for t, v in th["p_emergent"].items()}
    known = {t: float(v) for t, v in th["log10_threshold"].items()}
    if name == "wu_lo":
        thresholds = {t: float(np.log10(v)) for t, v in WU_LO_THRESHOLD.items()}
        truth = dict(WU_LO_EMERGENT)
    else:
        thresholds = {t: round(v, 1) for t, v in known.items()}
        truth = dict(in_data)
    print(f"{name}: thresholds on every model {known}; emergent by the definition {in_data}")
    tasks = [t for t in pd.unique(table["task"]) if not args.tasks or t in args.tasks]
    thresholds = {t: v for t, v in thresholds.items() if t in tasks}
    # 1. one population per held-out task: every model of the other tasks
    population = run_fits(
        [
            FitTask(
                kind="sigmoid",
                data=table[table["task"] != t],
                options={"seed": SEED, **pop_opts},
                name=f"{name}_population_without_{t}",
            )
            for t in tasks
        ],
        fits_dir,
        args.workers,
        smoke,
    )
    pop_paths = fitted(population)
    priors = {
        t: bayescale.load(pop_paths[f"{name}_population_without_{t}"]).population_prior()
        for t in tasks
        if f"{name}_population_without_{t}" in pop_paths
    }
    # 2. the held-out task below each cut-off: pooled, alone, and the sandwich
    cells = cutoffs(thresholds, table)
    jobs = []
    for task, lead, k in cells:
        own = table[table["task"] == task]
        jobs.append(
            FitTask(
                kind="sigmoid",
                data=own,
                options={"cutoff": k, "seed": SEED, "population": priors[task]},
                name=f"{name}_pooled_{task}_{lead:g}",
            )
        )
        jobs.append(
            FitTask(
                kind="sigmoid",
                data=own,
                options={"cutoff": k, "seed": SEED},
                name=f"{name}_alone_{task}_{lead:g}",
            )
        )
        if slices is not None and not args.no_sandwich:
            jobs.append(
                FitTask(
                    kind="sandwich",
                    data=slices[slices["task"] == task],
                    options={"task": task, "cutoff": k, "seed": SEED},
                    name=f"wu_lo_sandwich_{task}_{lead:g}",
                )
            )
    results = run_fits(jobs, fits_dir, args.workers, smoke)
    frame = score_cells(name, table, cells, fitted(results), truth, slices)
    # a second truth: the every-model fit's verdict by the same definition, and whether the
    # cut-off fits' threshold intervals hold the every-model threshold
    frame["truth_in_data"] = frame["task"].map(in_data)
    frame["threshold_in_data"] = frame["task"].map(known)
    for variant in VARIANTS:
        lo, hi = frame[f"{variant}_threshold_lo"], frame[f"{variant}_threshold_hi"]
        covers = (lo <= frame["threshold_in_data"]) & (frame["threshold_in_data"] <= hi)
        frame[f"{variant}_threshold_covers"] = covers.where(frame["truth_in_data"])
    if name == "obsscaling":
        frame["truth_ruan"] = True
    frame.to_csv(out / f"{name}_cells.csv", index=False)
    summary = summarise(frame)
    if name == "obsscaling":
        for variant in VARIANTS:
            p = frame[f"{variant}_p_emergent"].to_numpy(float)
            summary[f"brier_{variant}_ruan_labels"] = float(np.nanmean((p - 1.0) ** 2))
    summary.to_csv(out / f"{name}_summary.csv", index=False)
    pops = population[["key", "status", "seconds", "divergences", "max_rhat", "min_ess"]]
    pops.to_csv(out / f"{name}_populations.csv", index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 80):
        print(pops.round(3).to_string(index=False))
        print(frame.round(3).to_string(index=False))
        print(summary.round(3).T.to_string())
    print(
        f"{name}: {time.perf_counter() - t0:.0f} s (package default compute_drift = "
        f"{COMPUTE_DRIFT:g})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["wu_lo", "obsscaling"], default=None)
    ap.add_argument("--out-dir", default="bench_out/emergence_backtest")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-sandwich", action="store_true")
    ap.add_argument("--tasks", nargs="*", default=[], help="hold out only these tasks")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="prior draws instead of NUTS (checks the script runs; its figures mean nothing); "
        "run with PYTHONPATH=. so the workers find tests.helpers",
    )
    args = ap.parse_args()
    for name in ("wu_lo", "obsscaling"):
        if args.only in (None, name):
            run(name, args)


if __name__ == "__main__":
    main()
