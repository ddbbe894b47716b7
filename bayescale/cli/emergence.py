"""``bayescale emergence fit``: an emergence threshold with its interval, from the command line.

By default the data are the shipped Wu & Lo (2024) difficulty slices (``wu_lo2024``) and
the cut-off is Wu & Lo's threshold for the task; ``TABLE.csv`` may instead be a slice
table (:mod:`bayescale.emergence.slicing`). ``--method sandwich`` (default) fits the
Bayesian Slice-and-Sandwich, ``sigmoid`` the sigmoidal law, ``both`` fits the two and
compares them by PSIS-LOO on the same overall-accuracy observations. See
``docs/emergence.md``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

import numpy as np
import pandas as pd

from bayescale.core.errors import DataError, SpecificationError

__all__ = ["add_emergence_parser", "cmd_emergence_fit"]


def add_emergence_parser(sub: Any, *, number: Any, probability: Any, positive_int: Any) -> None:
    """Register ``emergence fit`` under the ``bayescale`` parser."""
    top = sub.add_parser(
        "emergence",
        help="emergence: threshold posterior, P(emergent), forecasts beyond a cut-off",
        description="Fit an emergence model to one task's models below a compute cut-off "
        "and print the emergence threshold with its interval (docs/emergence.md).",
    )
    esub = top.add_subparsers(dest="emergence_command", metavar="COMMAND", required=True)
    p = esub.add_parser(
        "fit",
        help="fit one task and print its emergence threshold with an interval",
        description="Fit the Bayesian Slice-and-Sandwich (or the sigmoidal law) to the "
        "models of TASK below the cut-off, print the threshold (log10 training FLOPs) with "
        "its credible interval, P(emergent), the forecast check on the models above the "
        "cut-off and the MCMC diagnostics. Without TABLE.csv the shipped wu_lo2024 data "
        "are used (Wu & Lo's 'over-trained' models left out, as they did).",
    )
    p.add_argument("table", nargs="?", metavar="TABLE.csv", help="a slice table (optional)")
    p.add_argument("--task", required=True, help="task name, e.g. mmlu")
    p.add_argument(
        "--cutoff",
        type=number,
        metavar="FLOPS",
        help="fit models below this training compute (default: Wu & Lo's threshold for "
        "their nine tasks)",
    )
    p.add_argument(
        "--method",
        choices=("sandwich", "sigmoid", "both"),
        default="sandwich",
        help="which model (default: sandwich); 'both' also compares them by LOO",
    )
    p.add_argument("--ci", type=probability, default=0.9, help="interval probability (0.9)")
    p.add_argument("--plot", metavar="FILE.png", help="draw the fit there")
    p.add_argument("--draws", type=positive_int, default=1000, help="draws per chain (1000)")
    p.add_argument("--tune", type=positive_int, default=1000, help="tuning steps per chain (1000)")
    p.add_argument("--chains", type=positive_int, default=4, help="number of chains (4)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--json", action="store_true", help="print a JSON record instead of text")
    p.set_defaults(func=cmd_emergence_fit)


def _tables(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The slice table (sandwich) and the accuracy table (sigmoid) of the chosen data."""
    from bayescale.emergence.sandwich import load_wu_lo_slices
    from bayescale.emergence.sigmoid import load_wu_lo_emergence
    from bayescale.emergence.slicing import WU_LO_FILTERED_MODELS, validate_slice_table

    if args.table is None:
        slices = load_wu_lo_slices(exclude_models=WU_LO_FILTERED_MODELS)
        acc = load_wu_lo_emergence(exclude_models=WU_LO_FILTERED_MODELS)
    else:
        from bayescale.scaling.data import read_table

        frame, _ = read_table(args.table)
        slices = validate_slice_table(frame)
        acc = slices[(slices["slice"] == -1) & (slices["metric"] == "acc")]
    tasks = sorted(set(slices["task"]))
    if args.task not in tasks:
        raise DataError(f"task {args.task!r} is not in the data; it has {tasks}")
    return slices[slices["task"] == args.task], acc[acc["task"] == args.task]


def cmd_emergence_fit(args: argparse.Namespace, out: TextIO) -> int:
    """``bayescale emergence fit``."""
    from bayescale.emergence.slicing import WU_LO_THRESHOLD

    cutoff = args.cutoff if args.cutoff is not None else WU_LO_THRESHOLD.get(args.task)
    if cutoff is None:
        raise SpecificationError(
            f"no default cut-off for task {args.task!r}: pass --cutoff FLOPS (models with "
            "less training compute are fitted, the others held out)"
        )
    slices, acc = _tables(args)
    sampler = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "seed": args.seed}
    record: dict[str, Any] = {"task": args.task, "log10_cutoff": float(np.log10(cutoff))}
    fits: dict[str, Any] = {}
    if args.method in ("sandwich", "both"):
        from bayescale.emergence.sandwich import fit_sandwich

        fit = fit_sandwich(slices, args.task, cutoff=cutoff, **sampler)
        fits["sandwich"] = fit
        th = fit.threshold(args.ci)
        check = fit.held_out_check(args.ci)
        record["sandwich"] = {
            "threshold_log10": [th["median"], th["lower"], th["upper"]],
            "p_turn": th["p_turn"],
            "p_emergent": fit.p_emergent(),
            "held_out_models": len(check),
            "held_out_mae": float((check["acc_median"] - check["acc"]).abs().mean())
            if len(check)
            else None,
            "held_out_coverage": float(check["acc_covered"].mean()) if len(check) else None,
            "diagnostics": str(fit.diagnostics),
        }
    if args.method in ("sigmoid", "both"):
        from bayescale.emergence.sigmoid import fit_sigmoid

        sfit = fit_sigmoid(acc, cutoff=cutoff, tasks=[args.task], **sampler)
        fits["sigmoid"] = sfit
        row = sfit.threshold(args.ci).iloc[0]
        scores = sfit.held_out_check(args.ci)
        record["sigmoid"] = {
            "threshold_log10": [
                float(row["log10_threshold"]),
                float(row["log10_lower"]),
                float(row["log10_upper"]),
            ],
            "p_emergent": float(row["p_emergent"]),
            "held_out_models": len(scores),
            "diagnostics": str(sfit.diagnostics),
        }
    if args.method == "both":
        import arviz as az

        trees = {
            "sandwich": fits["sandwich"].idata,
            "sigmoid": fits["sigmoid"].task_log_likelihood(args.task),
        }
        table = az.compare(trees)
        record["loo"] = {
            str(k): {"elpd": float(v["elpd"]), "weight": float(v["weight"])}
            for k, v in table.iterrows()
        }
    if args.plot:
        name = "sandwich" if "sandwich" in fits else "sigmoid"
        fits[name].plot(args.plot, ci=args.ci)
    if args.json:
        print(json.dumps(record, indent=2, default=float), file=out)
        return 0
    pct = f"{args.ci:.0%}"
    print(
        f"task {args.task}: models below 10^{record['log10_cutoff']:.2f} FLOPs fitted, the "
        "rest held out",
        file=out,
    )
    for name in ("sandwich", "sigmoid"):
        if name not in record:
            continue
        r = record[name]
        med, lo, hi = r["threshold_log10"]
        what = "easy slice turns" if name == "sandwich" else "midpoint of the rise"
        print(f"\n{name}:", file=out)
        print(
            f"  emergence threshold ({what}): 10^{med:.2f} FLOPs, {pct} interval "
            f"[10^{lo:.2f}, 10^{hi:.2f}]"
            + (f", P(turn) {r['p_turn']:.2f}" if "p_turn" in r else ""),
            file=out,
        )
        print(f"  P(emergent) {r['p_emergent']:.2f}", file=out)
        if r.get("held_out_mae") is not None:
            print(
                f"  held out ({r['held_out_models']} models): accuracy MAE "
                f"{r['held_out_mae']:.3f}, {pct} coverage {r['held_out_coverage']:.2f}",
                file=out,
            )
        print(f"  diagnostics: {r['diagnostics']}", file=out)
    if "loo" in record:
        print("\nPSIS-LOO on the fitted models' overall accuracy:", file=out)
        for k, v in record["loo"].items():
            print(f"  {k:<9} elpd {v['elpd']:.1f}   stacking weight {v['weight']:.2f}", file=out)
    if args.plot:
        print(f"wrote {args.plot}", file=out)
    return 0
