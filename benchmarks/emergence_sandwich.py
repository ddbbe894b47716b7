"""Real-data check of the Bayesian Slice-and-Sandwich on Wu & Lo's nine tasks (wu_lo2024).

For each task, fit the models below Wu & Lo's threshold (their cut-off, ``utils.py``),
without the models they filter out as over-trained, and report

* the threshold posterior (median, 90% interval, P(turn)) against Wu & Lo's threshold,
* P(emergent) against their classification (six "Emergence" tasks, three controls),
* forecasts of the held-out models (compute >= cut-off): accuracy MAE of the median and
  coverage of the 90% predictive interval, plus the same for Wu & Lo's own point
  forecast (polynomial OLS on the 10 shipped groups merged into easy/hard thirds),
* convergence diagnostics and the time of each fit.

Run (about 4 minutes on 2 cores for the nine tasks, plus 1 for ``--calibrate``; ``--every-model``
fits every model instead, the jump in the data)::

    nice .venv/bin/python benchmarks/emergence_sandwich.py [--tasks mmlu arc] \
        [--n-slices 10|3] [--loo mmlu hellaswag] \
        [--out bench_out/emergence_sandwich.csv] [--plots bench_out/emergence] \
        [--calibrate bench_out/emergence_sandwich_loto.csv] [--fits-cache DIR]

``--n-slices 3`` merges the 10 shipped groups into thirds (Wu & Lo's 3-group set-up);
``--loo TASK ...`` also fits ``bayescale.emergence.sigmoid.fit_sigmoid`` to those tasks
(same models, same cut-off, same accuracy observations) and compares PSIS-LOO of the
overall-accuracy likelihoods with ``arviz.compare``.
``--calibrate CSV`` estimates the extrapolation scales of the forecasts past the cut-off
(``extrapolation_sd`` omega and ``accuracy_drift`` rho) by maximum likelihood of the
held-out accuracies, leaving each task out (:func:`calibrate`): the per-task rows are
the leave-one-task-out check, the ``pooled`` row the package default.
``--fits-cache DIR`` pickles the fits (and reuses them: the scales act at forecast time
only, so no refit is needed to score other values).
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

from bayescale.emergence.sandwich import fit_sandwich
from bayescale.emergence.sandwich_model import ACCURACY_DRIFT, EXTRAPOLATION_SD
from bayescale.emergence.wu_lo import (
    WU_LO_EMERGENT,
    WU_LO_FILTERED_MODELS,
    WU_LO_TASKS,
    WU_LO_THRESHOLD,
    load_wu_lo_slices,
    slice_table_from_wu_lo,
)


def wu_lo_point_forecast(table: pd.DataFrame, task: str, cutoff: float) -> pd.DataFrame:
    """Wu & Lo's pipeline (``fit_cluster.py``) on the 10 shipped groups.

    Easy = slices 0-2, hard = slices 7-9 (question-weighted); degree-5 (easy) and
    degree-2 (hard) OLS polynomials in log10 FLOPs; Brier forecast = their mean; OLS of
    Brier on accuracy inverted; mean calibration on the fitted models.
    """
    sub = table[table["task"] == task]
    br = sub[(sub["metric"] == "brier") & (sub["slice"] >= 0)]
    wide = br.pivot_table(index="model", columns="slice", values="value")
    nq = br.groupby("slice")["n_questions"].first()
    acc = sub[(sub["metric"] == "acc") & (sub["slice"] == -1)].set_index("model")["value"]
    comp = sub.groupby("model")["compute"].first()
    frame = pd.DataFrame(
        {
            "lc": np.log10(comp),
            "easy": wide[[0, 1, 2]] @ (nq[[0, 1, 2]] / nq[[0, 1, 2]].sum()),
            "hard": wide[[7, 8, 9]] @ (nq[[7, 8, 9]] / nq[[7, 8, 9]].sum()),
            "brier": wide @ (nq / nq.sum()),
            "acc": acc,
        }
    ).dropna()
    fit = frame[frame["lc"] < np.log10(cutoff)]
    pe = np.polyfit(fit["lc"], fit["easy"], 5)
    ph = np.polyfit(fit["lc"], fit["hard"], 2)
    b_pred = (np.polyval(pe, frame["lc"]) + np.polyval(ph, frame["lc"])) / 2
    slope, intercept = np.polyfit(fit["acc"], fit["brier"], 1)
    acc_pred = (b_pred - intercept) / slope
    acc_pred = acc_pred + fit["acc"].mean() - acc_pred[frame["lc"] < np.log10(cutoff)].mean()
    return frame.assign(acc_pred=acc_pred)


def loo_vs_sigmoid(fit, task: str, cutoff: float, seed: int) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """``arviz.compare`` of the sandwich's and the sigmoid's accuracy likelihood ``y``."""
    import arviz as az

    from bayescale.emergence.sigmoid import fit_sigmoid
    from bayescale.emergence.wu_lo import load_wu_lo_emergence

    acc = load_wu_lo_emergence(exclude_models=WU_LO_FILTERED_MODELS)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        sig = fit_sigmoid(acc, tasks=[task], cutoff=cutoff, seed=seed)
    a = fit.idata["observed_data"].dataset["y"]
    b = sig.idata["observed_data"].dataset["y"]
    if a.sizes["obs"] != b.sizes["obs"] or not np.allclose(a.values, b.values, atol=1e-6):
        raise RuntimeError(f"{task}: the two fits model different accuracy observations")
    print(f"sigmoid {task}: {sig.diagnostics}", flush=True)
    return az.compare({"sandwich": fit.idata, "sigmoid": sig.idata})


#: Grids of the calibration (``--calibrate``): omega = ``extrapolation_sd``, rho =
#: ``accuracy_drift``.
OMEGAS = (0.0, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0, 16.0, 24.0)
RHOS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.225, 0.25, 0.275, 0.3, 0.35, 0.4)


def held_out_scores(fit) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Summed held-out log predictive density of accuracy, array (omega, rho)."""
    held = fit.data["held_out"].values
    compute = 10 ** fit.data["log_c"].values[held]
    acc = np.clip(fit.data["acc"].values[held], 1e-4, 1 - 1e-4)
    out = np.empty((len(OMEGAS), len(RHOS)))
    for i, omega in enumerate(OMEGAS):
        for j, rho in enumerate(RHOS):
            f = dataclasses.replace(fit, extrapolation_sd=omega, accuracy_drift=rho)
            out[i, j] = f.log_score(compute, acc, seed=0).sum()
    return out


def calibrate(fits: dict) -> pd.DataFrame:  # type: ignore[type-arg]
    """Leave-one-task-out maximum likelihood of (omega, rho) and the pooled estimate.

    For each task, (omega, rho) maximise the held-out log predictive density of accuracy
    summed over the held-out models of the *other* tasks (grid ``OMEGAS`` x ``RHOS``); the
    task's forecasts are then checked with them. The last row (task ``pooled``) is the
    maximum over all tasks: the package default.
    """
    scores = {task: held_out_scores(fit) for task, fit in fits.items()}
    rows = []
    for task, fit in [*fits.items(), ("pooled", None)]:
        total = sum(v for t, v in scores.items() if t != task)
        i, j = np.unravel_index(np.argmax(total), total.shape)
        omega, rho = OMEGAS[i], RHOS[j]
        row = {"task": task, "omega": omega, "rho": rho, "loglik_others": float(total[i, j])}
        if fit is not None:
            # before: the previous default (omega 1.5 chosen a priori, no accuracy drift)
            before = dataclasses.replace(
                fit, extrapolation_sd=1.5, accuracy_drift=0.0
            ).held_out_check(ci_prob=0.9)
            after = dataclasses.replace(
                fit, extrapolation_sd=omega, accuracy_drift=rho
            ).held_out_check(ci_prob=0.9)
            row.update(
                n_held_out=len(after),
                mae_before=float((before["median"] - before["value"]).abs().mean()),
                cover90_before=float(before["covered"].mean()),
                width90_before=float((before["pred_upper"] - before["pred_lower"]).mean()),
                logscore_before=float(scores[task][OMEGAS.index(1.5), RHOS.index(0.0)]),
                mae_loto=float((after["median"] - after["value"]).abs().mean()),
                cover90_loto=float(after["covered"].mean()),
                width90_loto=float((after["pred_upper"] - after["pred_lower"]).mean()),
                logscore_loto=float(scores[task][i, j]),
                brier_cover90_before=float(before["brier_covered"].mean()),
                brier_cover90_loto=float(after["brier_covered"].mean()),
            )
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=list(WU_LO_TASKS))
    parser.add_argument("--out", default="bench_out/emergence_sandwich.csv")
    parser.add_argument("--plots", default="bench_out/emergence")
    parser.add_argument("--seed", type=int, default=20241002)
    parser.add_argument("--n-slices", type=int, default=10)
    parser.add_argument("--loo", nargs="*", default=[])
    parser.add_argument(
        "--calibrate",
        default="",
        help="CSV path: estimate extrapolation_sd and accuracy_drift by maximum likelihood "
        "on the held-out models, leaving each task out (needs several tasks)",
    )
    parser.add_argument(
        "--fits-cache", default="", help="directory to pickle fits to and reuse them from"
    )
    parser.add_argument(
        "--every-model",
        action="store_true",
        help="fit every model (the jump in the data: is it recognised?) instead of the "
        "models below Wu & Lo's threshold; writes the threshold table against theirs",
    )
    parser.add_argument(
        "--other-degree",
        type=int,
        default=2,
        help="degree of the non-easy slices (0: the same as the easy ones, 5)",
    )
    args = parser.parse_args()
    table = load_wu_lo_slices(args.tasks, exclude_models=WU_LO_FILTERED_MODELS)
    fit_table = table
    if args.n_slices != 10:
        fit_table = slice_table_from_wu_lo(
            None, args.tasks, n_slices=args.n_slices, exclude_models=WU_LO_FILTERED_MODELS
        )
    rows = []
    fits = {}
    for task in args.tasks:
        published = WU_LO_THRESHOLD[task]
        # every model: a cut-off above the largest one (no model held out)
        top = float(table.loc[table["task"] == task, "compute"].max())
        cutoff = 10 * top if args.every_model else published
        t0 = time.perf_counter()
        key = f"{task}_{args.n_slices}_{args.other_degree}_{args.seed}"
        key += "_all" if args.every_model else ""
        cache = Path(args.fits_cache) / f"{key}.pkl"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if args.fits_cache and cache.exists():
                with cache.open("rb") as fh:
                    # the extrapolation scales act at forecast time: use the current defaults
                    cached = pickle.load(fh)
                    fit = dataclasses.replace(
                        cached,
                        extrapolation_sd=EXTRAPOLATION_SD,
                        accuracy_drift=ACCURACY_DRIFT,
                        # the default horizon: the largest model of the table
                        horizon=float(cached.data["log_c"].max()),
                    )
            else:
                fit = fit_sandwich(
                    fit_table,
                    task,
                    cutoff=cutoff,
                    seed=args.seed,
                    other_degree=args.other_degree or None,
                )
                if args.fits_cache:
                    cache.parent.mkdir(parents=True, exist_ok=True)
                    with cache.open("wb") as fh:
                        pickle.dump(fit, fh)
        fits[task] = fit
        for w in caught:
            if "ConvergenceWarning" in type(w.message).__name__:
                print(f"WARNING {task}: {w.message}", flush=True)
        seconds = time.perf_counter() - t0
        th = fit.threshold(ci_prob=0.9).iloc[0]
        em = fit.emergence().iloc[0]
        if args.every_model:
            row = {
                "task": task,
                "wu_lo_emergent": WU_LO_EMERGENT[task],
                "published_log10": round(np.log10(published), 2),
                "n_fit": int((~fit.data["held_out"]).sum()),
                "n_slices": len(fit.weights),
                "threshold_median": th["log10_threshold"],
                "threshold_lo90": th["log10_lower"],
                "threshold_hi90": th["log10_upper"],
                "contains_published": bool(
                    th["log10_lower"] <= np.log10(published) <= th["log10_upper"]
                ),
                "p_emergent": em["p_emergent"],
                "p_flat": em["p_flat"],
                "p_jump": em["p_jump"],
                "p_sharp": em["p_sharp"],
                "rise_decades": em["rise_decades"],
                "turn_median": th["turn_log10"],
                "turn_lo90": th["turn_lower"],
                "turn_hi90": th["turn_upper"],
                "p_turn": em["p_turn"],
                "p_turn_soar": em["p_turn_soar"],
                "divergences": fit.diagnostics.divergences,
                "max_rhat": fit.diagnostics.max_rhat,
                "min_ess_bulk": fit.diagnostics.min_ess_bulk,
                "rerun": any("sampled again" in n for n in fit.notes),
                "seconds": round(seconds, 1),
            }
            rows.append(row)
            print(pd.Series(row).to_string(), flush=True)
            if args.plots:
                fit.plot(Path(args.plots) / f"sandwich_all_{task}.png")
            continue
        check = fit.held_out_check(ci_prob=0.9)
        # the same posterior without the extrapolation term (polynomial bands alone)
        check0 = dataclasses.replace(fit, extrapolation_sd=0.0, accuracy_drift=0.0).held_out_check(
            ci_prob=0.9
        )
        wl = wu_lo_point_forecast(table, task, cutoff)
        held = wl[wl["lc"] >= np.log10(cutoff)]
        row = {
            "task": task,
            "wu_lo_emergent": WU_LO_EMERGENT[task],
            "cutoff_log10": round(np.log10(cutoff), 2),
            "n_fit": int((~fit.data["held_out"]).sum()),
            "n_held_out": len(check),
            "n_slices": len(fit.weights),
            "merged": "; ".join("+".join(map(str, g)) for g in fit.slice_groups if len(g) > 1),
            "threshold_median": th["log10_threshold"],
            "threshold_lo90": th["log10_lower"],
            "threshold_hi90": th["log10_upper"],
            "turn_median": th["turn_log10"],
            "turn_lo90": th["turn_lower"],
            "turn_hi90": th["turn_upper"],
            "p_turn": em["p_turn"],
            "p_offset": em["p_offset"],
            "p_turn_soar": em["p_turn_soar"],
            "p_emergent": em["p_emergent"],
            "acc_mae": float((check["median"] - check["value"]).abs().mean()),
            "acc_cover90": float(check["covered"].mean()),
            "acc_cover90_noext": float(check0["covered"].mean()),
            "acc_width90": float((check["pred_upper"] - check["pred_lower"]).mean()),
            "brier_mae": float((check["brier_median"] - check["brier"]).abs().mean()),
            "brier_cover90": float(check["brier_covered"].mean()),
            "wu_lo_acc_mae": float((held["acc_pred"] - held["acc"]).abs().mean()),
            "divergences": fit.diagnostics.divergences,
            "max_rhat": fit.diagnostics.max_rhat,
            "min_ess_bulk": fit.diagnostics.min_ess_bulk,
            "seconds": round(seconds, 1),
        }
        rows.append(row)
        print(pd.Series(row).to_string(), flush=True)
        if args.plots:
            fit.plot(Path(args.plots) / f"sandwich_{task}.png")
        if task in args.loo:
            print(loo_vs_sigmoid(fit, task, cutoff, args.seed).to_string(), flush=True)
    out = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(out.round(3).to_string(index=False))
    if args.calibrate:
        cal = calibrate(fits)
        cal.to_csv(args.calibrate, index=False)
        with pd.option_context("display.width", 250, "display.max_columns", 30):
            print(cal.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
