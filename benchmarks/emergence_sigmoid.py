"""Real-data check of the hierarchical sigmoidal emergence law.

Two data sets, each fitted twice (one hierarchical fit over all its tasks each time):

* Wu & Lo's nine tasks (shipped ``wu_lo2024``; Wu & Lo's filtered over-trained models left
  out, as in ``benchmarks/emergence_sandwich.py``):
  - every model -> thresholds (median, 90% interval) against Wu & Lo's thresholds,
    P(emergent) against their classification (six "Emergence" tasks, three controls);
  - models below Wu & Lo's per-task cut-off (= their threshold) -> forecasts of the held-out
    models: MAE of the predictive median and coverage of the 90% predictive interval;
    PSIS-LOO per task on the fitted models (the interface shared with the sandwich).
* ObsScaling's seven emergent accuracies (shipped ``obsscaling2024``, Ruan et al. 2024):
  - every model -> thresholds and P(emergent);
  - models below 1e23 FLOPs (a third of the models held out, up to 4e25) -> forecasts.

Run (about 4.5 minutes on 2 shared cores; figures in docs/emergence_sigmoid.md)::

    nice .venv/bin/python benchmarks/emergence_sigmoid.py [--only wu_lo|obsscaling] \
        [--out bench_out/emergence_sigmoid] [--plots bench_out/emergence_sigmoid] \
        [--calibrate] [--fits-cache DIR]

``--calibrate`` fits only the cut-off configurations (one fit per data set: the held-out
models of every task are outside it) and estimates the extrapolation drift ``compute_drift``
s by maximum likelihood of the held-out accuracies (:meth:`SigmoidFit.log_score`), leaving
each task out (:func:`calibrate`): ``{out}/{name}_loto.csv`` gives per task the s estimated
on the other tasks and the MAE, 90% coverage, mean 90% width and log score before (s = 0)
and with it; the row ``pooled`` is the estimate on all tasks (Wu & Lo's: the package
default :data:`~bayescale.emergence.sigmoid.COMPUTE_DRIFT`). ObsScaling is also scored with
Wu & Lo's pooled s (``{out}/obsscaling_cutoff_transfer.csv``): an out-of-sample check.
``--fits-cache DIR`` pickles the fits and reuses them.
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bayescale.emergence.obsscaling import load_obsscaling_emergence
from bayescale.emergence.sigmoid import COMPUTE_DRIFT, SigmoidFit, fit_sigmoid
from bayescale.emergence.sigmoid_model import predict_accuracy, sigmoid_law
from bayescale.emergence.wu_lo import (
    WU_LO_FILTERED_MODELS,
    WU_LO_THRESHOLD,
    load_wu_lo_emergence,
)

#: Wu & Lo's classification (``utils.basic_parameter["type"]``).
WU_LO_EMERGENT = {
    "mmlu": True,
    "arithmetic": True,
    "parsinlu_qa_mc": True,
    "hindu_knowledge": True,
    "analogical_similarity": True,
    "conceptual_combinations": True,
    "hellaswag": False,
    "arc": False,
    "abstract_narrative_understanding": False,
}
OBSSCALING_CUTOFF = 1e23


#: Grid of the extrapolation drift s (``compute_drift``) for ``--calibrate``.
DRIFTS = (*(float(v) for v in np.round(np.arange(0.0, 4.01, 0.125), 3)), 4.5, 5.0, 6.0, 8.0)
#: Posterior draws used for the grid of log scores (thinned: 16 drift nodes per draw).
CALIBRATION_DRAWS = 1000


def run(
    table: pd.DataFrame,
    cutoff: float | dict[str, float] | None,
    seed: int,
    cache: Path | None = None,
    name: str = "",
) -> tuple[SigmoidFit, float]:
    path = None if cache is None else cache / f"{name}_seed{seed}.pkl"
    if path is not None and path.exists():
        with path.open("rb") as fh:
            fit, seconds = pickle.load(fh)
        print(f"{name}: fit read from {path}")
        # the drift acts at forecast time: use the package's current default
        return dataclasses.replace(fit, compute_drift=COMPUTE_DRIFT), seconds
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        fit = fit_sigmoid(table, cutoff=cutoff, seed=seed)
    seconds = time.time() - t0
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            pickle.dump((fit, seconds), fh)
    return fit, seconds


def _thinned(fit: SigmoidFit, n: int) -> SigmoidFit:
    """The fit with about ``n`` posterior draws (every k-th draw of each chain)."""
    post = fit.idata["posterior"].dataset
    step = max(1, int(np.ceil(post.sizes["chain"] * post.sizes["draw"] / n)))
    idata = fit.idata.copy()
    idata["posterior"] = post.isel(draw=slice(None, None, step))
    return dataclasses.replace(fit, idata=idata)


def held_out_scores(fit: SigmoidFit, drifts: tuple[float, ...] = DRIFTS) -> pd.DataFrame:
    """Summed held-out log predictive density per task (rows) and drift s (columns)."""
    thin = _thinned(fit, CALIBRATION_DRAWS)
    held = fit.data[fit.data["held_out"]]
    out = {}
    for task, g in held.groupby("task", sort=False):
        args = (str(task), g["compute"].to_numpy(), g["value"].to_numpy())
        kw = {"n_questions": g["n_questions"].to_numpy()}
        out[task] = [
            float(dataclasses.replace(thin, compute_drift=s).log_score(*args, **kw).sum())
            for s in drifts
        ]
    return pd.DataFrame(out, index=pd.Index(drifts, name="compute_drift")).T


def _scores(fit: SigmoidFit, s: float) -> pd.DataFrame:
    """Per task: MAE, 90% coverage and mean 90% width of the held-out predictive with s."""
    h = dataclasses.replace(fit, compute_drift=s).held_out_check(ci_prob=0.9)
    h["width"] = h["pred_upper"] - h["pred_lower"]
    return h.groupby("task", sort=False).agg(
        n=("value", "size"),
        mae=("error", lambda e: float(np.mean(np.abs(e)))),
        cover90=("covered", "mean"),
        width90=("width", "mean"),
        max_beyond=("beyond", "max"),
    )


def calibrate(
    fit: SigmoidFit, drifts: tuple[float, ...] = DRIFTS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leave-one-task-out maximum likelihood of the drift s, and the grid of log scores.

    For each task, s maximises the held-out log predictive density summed over the other
    tasks' held-out models (grid ``drifts``); the task's forecasts are then scored with it
    ("loto") and without the drift ("before", s = 0). The row ``pooled`` holds the
    maximum over all tasks and, for the scores, every held-out model with that s.
    """
    grid = held_out_scores(fit, drifts)
    total = grid.sum(axis=0)
    pooled = float(drifts[int(np.argmax(total.to_numpy()))])
    before = _scores(fit, 0.0)
    cache: dict[float, pd.DataFrame] = {pooled: _scores(fit, pooled)}
    rows = []
    for task in grid.index:
        others = total - grid.loc[task]
        s = float(drifts[int(np.argmax(others.to_numpy()))])
        if s not in cache:
            cache[s] = _scores(fit, s)
        b, a = before.loc[task], cache[s].loc[task]
        rows.append(
            {
                "task": task,
                "n_held_out": int(b.n),
                "max_beyond_dec": float(b.max_beyond),
                "s_loto": s,
                "mae_before": float(b.mae),
                "mae_loto": float(a.mae),
                "cover90_before": float(b.cover90),
                "cover90_loto": float(a.cover90),
                "width90_before": float(b.width90),
                "width90_loto": float(a.width90),
                "logscore_before": float(grid.loc[task, 0.0]),
                "logscore_loto": float(grid.loc[task, s]),
                "cover90_pooled": float(cache[pooled].loc[task, "cover90"]),
                "width90_pooled": float(cache[pooled].loc[task, "width90"]),
            }
        )
    tab = pd.DataFrame(rows).set_index("task")
    w = tab["n_held_out"]
    summary: dict[str, float] = {"n_held_out": int(w.sum()), "s_loto": pooled}
    for col in ("mae", "cover90", "width90"):
        for when in ("before", "loto", "pooled"):
            if f"{col}_{when}" in tab:
                summary[f"{col}_{when}"] = float(np.average(tab[f"{col}_{when}"], weights=w))
    summary["logscore_before"] = float(total[0.0])
    summary["logscore_loto"] = float(tab["logscore_loto"].sum())
    summary["logscore_pooled"] = float(total[pooled])
    tab.loc["pooled"] = pd.Series(summary)
    return tab, grid


#: Grid of the alternative additive logit drift rho (accuracy per decade at the task's
#: mean fitted accuracy), compared with the compute drift by ``--calibrate``.
RHOS = tuple(float(v) for v in np.round(np.arange(0.0, 1.51, 0.05), 3))


def _logit_drift_curves(
    fit: SigmoidFit,
    d: dict[str, np.ndarray],
    task: str,
    log_c: np.ndarray,
    zeta: ArrayLike,
    rho: float,
) -> np.ndarray:
    """Alternative (not the package's): the Slice-and-Sandwich's drift on the accuracy logit,
    logit a + rho g Delta zeta, g = 1 / (abar (1 - abar)), abar the task's mean fitted
    accuracy (clipped to [0.02, 0.98]); (len(zeta) draws, points)."""
    from scipy.special import expit, logit

    j = fit.tasks.index(task)
    law = sigmoid_law(
        10 ** np.asarray(log_c)[None, :],
        d["midpoint"][:, j, None],
        d["width"][:, j, None],
        fit.chance[task],
        d["ceiling"][:, j, None],
    )
    abar = float(np.clip(fit._fitted(task)["value"].mean(), 0.02, 0.98))
    g = 1.0 / (abar * (1.0 - abar))
    beyond = fit.beyond(task, 10 ** np.asarray(log_c))
    eta = (
        logit(np.clip(law, 1e-9, 1 - 1e-9)) + rho * g * beyond[None, :] * np.asarray(zeta)[:, None]
    )
    return np.asarray(expit(eta))


def logit_drift_scores(fit: SigmoidFit, rhos: tuple[float, ...] = RHOS) -> pd.DataFrame:
    """Held-out log score per task and rho of the alternative logit drift (16 GH nodes)."""
    from scipy import special

    thin = _thinned(fit, CALIBRATION_DRAWS)
    d = thin._draws()
    nodes, weights = np.polynomial.hermite_e.hermegauss(16)
    lw_nodes = np.log(weights / weights.sum())
    held = fit.data[fit.data["held_out"]]
    out = {}
    for task, g in held.groupby("task", sort=False):
        j = fit.tasks.index(str(task))
        kap = d["kappa"][:, j, None, None]
        x = np.log10(g["compute"].to_numpy(float))
        n = g["n_questions"].to_numpy(float)
        k = np.round(g["value"].to_numpy() * n)
        scores = []
        for rho in rhos:
            # (sample, node, point)
            cur = np.stack(
                [
                    _logit_drift_curves(thin, d, str(task), x, np.full(kap.shape[0], z), rho)
                    for z in nodes
                ],
                axis=1,
            )
            p = np.clip(cur, 1e-9, 1 - 1e-9)
            al, be = p * kap, (1 - p) * kap
            lp = (
                special.gammaln(n + 1)
                - special.gammaln(k + 1)
                - special.gammaln(n - k + 1)
                + special.betaln(k + al, n - k + be)
                - special.betaln(al, be)
                + np.log(n)
            ) + lw_nodes[None, :, None]
            flat = lp.reshape(-1, lp.shape[-1])
            scores.append(float((special.logsumexp(flat, axis=0) - np.log(lp.shape[0])).sum()))
        out[task] = scores
    return pd.DataFrame(out, index=pd.Index(rhos, name="rho")).T


def logit_drift_coverage(fit: SigmoidFit, rho_of: dict[str, float]) -> pd.DataFrame:
    """Held-out 90% coverage, mean width and MAE with the logit drift (rho per task)."""
    d = fit._draws()
    rng = np.random.default_rng(0)
    held = fit.data[fit.data["held_out"]]
    rows = []
    for task, g in held.groupby("task", sort=False):
        x = np.log10(g["compute"].to_numpy(float))
        zeta = rng.standard_normal(d["width"].shape[0])
        cur = _logit_drift_curves(fit, d, str(task), x, zeta, rho_of[str(task)])
        j = fit.tasks.index(str(task))
        pred = predict_accuracy(cur, d["kappa"][:, j, None], g["n_questions"].to_numpy(), rng)
        lo, med, hi = np.quantile(pred, [0.05, 0.5, 0.95], axis=0)
        v = g["value"].to_numpy()
        rows.append(
            {
                "task": task,
                "n": len(g),
                "rho": rho_of[str(task)],
                "mae": float(np.mean(np.abs(v - med))),
                "cover90": float(np.mean((v >= lo) & (v <= hi))),
                "width90": float(np.mean(hi - lo)),
            }
        )
    return pd.DataFrame(rows).set_index("task")


def compare_logit_drift(name: str, fit: SigmoidFit, out: Path) -> None:
    """Leave-one-task-out of the alternative logit drift, for comparison with s."""
    grid = logit_drift_scores(fit)
    total = grid.sum(axis=0)
    rho_of = {t: float(RHOS[int(np.argmax((total - grid.loc[t]).to_numpy()))]) for t in grid.index}
    pooled = float(RHOS[int(np.argmax(total.to_numpy()))])
    cov = logit_drift_coverage(fit, rho_of)
    cov["logscore_loto"] = [float(grid.loc[t, rho_of[t]]) for t in cov.index]
    cov.loc["all"] = [
        cov["n"].sum(),
        pooled,
        *(np.average(cov[c], weights=cov["n"]) for c in ("mae", "cover90", "width90")),
        cov["logscore_loto"].sum(),
    ]
    cov.to_csv(out / f"{name}_logit_drift_loto.csv")
    print(
        f"{name}: alternative logit drift, leave-one-task-out (row all: pooled rho "
        f"{pooled:g}, summed log score {float(total[pooled]):.1f}):"
    )
    print(cov.round(3).to_string())


def report_calibration(
    name: str, fit: SigmoidFit, out: Path, default: float | None = None
) -> pd.DataFrame:
    tab, grid = calibrate(fit)
    compare_logit_drift(name, fit, out)
    tab.to_csv(out / f"{name}_loto.csv")
    grid.to_csv(out / f"{name}_logscore_grid.csv")
    print(f"\n=== {name}: leave-one-task-out compute_drift (grid {DRIFTS[0]}..{DRIFTS[-1]})")
    print(tab.round(3).to_string())
    print("summed held-out log score by s:")
    print(grid.sum(axis=0).round(1).to_string())
    if default is not None:
        sc = _scores(fit, default)
        sc.loc["all"] = [
            sc["n"].sum(),
            *(np.average(sc[c], weights=sc["n"]) for c in ("mae", "cover90", "width90")),
            sc["max_beyond"].max(),
        ]
        ls = held_out_scores(fit, (0.0, default))
        sc["logscore_before"] = [*ls.iloc[:, 0], ls.iloc[:, 0].sum()]
        sc["logscore"] = [*ls.iloc[:, 1], ls.iloc[:, 1].sum()]
        sc.to_csv(out / f"{name}_transfer.csv")
        print(f"{name} with compute_drift = {default:g} (estimated elsewhere):")
        print(sc.round(3).to_string())
    return tab


def report(name: str, fit: SigmoidFit, seconds: float, out: Path, plots: Path | None) -> None:
    print(f"\n=== {name}: {seconds:.0f} s; {fit.diagnostics}")
    print(fit.report(ci_prob=0.9))
    th = fit.threshold(ci_prob=0.9)
    sens = {f"p_emergent_{d:g}dec": fit.p_emergent(max_decades=d) for d in (1.0, 2.0, 3.0)}
    th = th.join(pd.DataFrame(sens)).join(
        fit.emergence()[["p_flat", "p_jump", "p_sharp", "rise_decades"]].add_suffix("_seen")
    )
    th["seconds"] = seconds
    th["diagnostics_ok"] = fit.diagnostics.ok
    th.to_csv(out / f"{name}_thresholds.csv")
    sc = fit.forecast_scores(ci_prob=0.9)
    if not sc.empty:
        fit.held_out_check(ci_prob=0.9).to_csv(out / f"{name}_held_out.csv", index=False)
        h = fit.held_out_check(ci_prob=0.9)
        print(
            f"all held-out: n={len(h)}  MAE {np.mean(np.abs(h['error'])):.3f}  "
            f"90% coverage {h['covered'].mean():.2f}"
        )
        loo = {t: fit.loo(t) for t in fit.tasks}
        sc = sc.join(pd.Series({t: float(v.elpd) for t, v in loo.items()}, name="elpd_loo"))
        sc = sc.join(
            pd.Series({t: float(np.max(v.pareto_k)) for t, v in loo.items()}, name="max_k")
        )
        sc.to_csv(out / f"{name}_scores.csv")
        print(sc.round(3).to_string())
    print("P(emergent) with max_decades 1 / 2 / 3:")
    print(pd.DataFrame(sens).round(2).to_string())
    if plots is not None:
        fit.plot(plots / f"{name}.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["wu_lo", "obsscaling"], default=None)
    ap.add_argument("--out", type=Path, default=Path("bench_out/emergence_sigmoid"))
    ap.add_argument("--plots", type=Path, default=Path("bench_out/emergence_sigmoid"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--calibrate",
        action="store_true",
        help="cut-off fits only: leave-one-task-out maximum likelihood of compute_drift",
    )
    ap.add_argument("--fits-cache", type=Path, default=None, help="pickle and reuse the fits")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.plots.mkdir(parents=True, exist_ok=True)
    cache = args.fits_cache
    wu_lo_s: float | None = None
    if args.only in (None, "wu_lo"):
        tab = load_wu_lo_emergence(exclude_models=WU_LO_FILTERED_MODELS)
        if not args.calibrate:
            fit, s = run(tab, None, args.seed, cache, "wu_lo_all")
            report("wu_lo_all", fit, s, args.out, args.plots)
            th = fit.threshold(ci_prob=0.9)
            cmp = pd.DataFrame(
                {
                    "wu_lo_log10_threshold": {t: np.log10(v) for t, v in WU_LO_THRESHOLD.items()},
                    "wu_lo_emergent": WU_LO_EMERGENT,
                }
            ).join(
                th[
                    [
                        "log10_threshold",
                        "log10_lower",
                        "log10_upper",
                        "p_emergent",
                        "midpoint_log10",
                        "midpoint_lower",
                        "midpoint_upper",
                        "width",
                    ]
                ]
            )
            cmp["contains_published"] = (cmp["log10_lower"] <= cmp["wu_lo_log10_threshold"]) & (
                cmp["wu_lo_log10_threshold"] <= cmp["log10_upper"]
            )
            cmp = cmp.join(fit.emergence()[["p_flat", "p_jump", "p_sharp", "rise_decades"]])
            cmp.to_csv(args.out / "wu_lo_comparison.csv")
            print(cmp.round(2).to_string())
        fit, s = run(tab, WU_LO_THRESHOLD, args.seed, cache, "wu_lo_cutoff")
        if args.calibrate:
            print(f"wu_lo_cutoff: {s:.0f} s; {fit.diagnostics}")
            cal = report_calibration("wu_lo_cutoff", fit, args.out)
            wu_lo_s = float(cal.loc["pooled", "s_loto"])
            print(f"pooled Wu & Lo estimate {wu_lo_s:g} (package default {COMPUTE_DRIFT:g})")
        else:
            report("wu_lo_cutoff", fit, s, args.out, args.plots)
    if args.only in (None, "obsscaling"):
        tab = load_obsscaling_emergence()
        if not args.calibrate:
            fit, s = run(tab, None, args.seed, cache, "obsscaling_all")
            report("obsscaling_all", fit, s, args.out, args.plots)
        fit, s = run(tab, OBSSCALING_CUTOFF, args.seed, cache, "obsscaling_cutoff")
        if args.calibrate:
            print(f"obsscaling_cutoff: {s:.0f} s; {fit.diagnostics}")
            default = COMPUTE_DRIFT if wu_lo_s is None else wu_lo_s
            report_calibration("obsscaling_cutoff", fit, args.out, default)
        else:
            report("obsscaling_cutoff", fit, s, args.out, args.plots)


if __name__ == "__main__":
    main()
