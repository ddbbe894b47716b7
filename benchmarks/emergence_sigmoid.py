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
        [--out bench_out/emergence_sigmoid] [--plots bench_out/emergence_sigmoid]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.emergence.sigmoid import (
    SigmoidFit,
    fit_sigmoid,
    load_obsscaling_emergence,
    load_wu_lo_emergence,
)
from bayescale.emergence.slicing import WU_LO_FILTERED_MODELS, WU_LO_THRESHOLD

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


def run(
    table: pd.DataFrame, cutoff: float | dict[str, float] | None, seed: int
) -> tuple[SigmoidFit, float]:
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        fit = fit_sigmoid(table, cutoff=cutoff, seed=seed)
    return fit, time.time() - t0


def report(name: str, fit: SigmoidFit, seconds: float, out: Path, plots: Path | None) -> None:
    print(f"\n=== {name}: {seconds:.0f} s; {fit.diagnostics}")
    print(fit.summary(0.9))
    th = fit.threshold(0.9)
    sens = {f"p_emergent_{d:g}dec": fit.p_emergent(max_decades=d) for d in (1.0, 2.0, 3.0)}
    th = th.join(pd.DataFrame(sens))
    th["seconds"] = seconds
    th["diagnostics_ok"] = fit.diagnostics.ok
    th.to_csv(out / f"{name}_thresholds.csv")
    sc = fit.forecast_scores(0.9)
    if not sc.empty:
        fit.held_out_check(0.9).to_csv(out / f"{name}_held_out.csv", index=False)
        h = fit.held_out_check(0.9)
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
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.plots.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "wu_lo"):
        tab = load_wu_lo_emergence(exclude_models=WU_LO_FILTERED_MODELS)
        fit, s = run(tab, None, args.seed)
        report("wu_lo_all", fit, s, args.out, args.plots)
        th = fit.threshold(0.9)
        cmp = pd.DataFrame(
            {
                "wu_lo_log10_threshold": {t: np.log10(v) for t, v in WU_LO_THRESHOLD.items()},
                "wu_lo_emergent": WU_LO_EMERGENT,
            }
        ).join(th[["log10_threshold", "log10_lower", "log10_upper", "width", "p_emergent"]])
        cmp.to_csv(args.out / "wu_lo_comparison.csv")
        print(cmp.round(2).to_string())
        fit, s = run(tab, WU_LO_THRESHOLD, args.seed)
        report("wu_lo_cutoff", fit, s, args.out, args.plots)
    if args.only in (None, "obsscaling"):
        tab = load_obsscaling_emergence()
        fit, s = run(tab, None, args.seed)
        report("obsscaling_all", fit, s, args.out, args.plots)
        fit, s = run(tab, OBSSCALING_CUTOFF, args.seed)
        report("obsscaling_cutoff", fit, s, args.out, args.plots)


if __name__ == "__main__":
    main()
