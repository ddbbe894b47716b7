"""``bayescale emergence fit``: an emergence threshold with its interval, from the command line.

By default the data are the shipped Wu & Lo (2024) difficulty slices (``wu_lo2024``) and
the cut-off is Wu & Lo's threshold for the task; ``TABLE.csv`` may instead be your own slice
table (:mod:`bayescale.emergence.slice_table`: Brier slices and the overall accuracy of
every model). ``--method sandwich`` (default) fits the Bayesian Slice-and-Sandwich,
``sigmoid`` the sigmoidal law, ``both`` fits the two and compares them by PSIS-LOO on the
same overall-accuracy observations (:func:`bayescale.compare`). ``--out FILE`` saves the
fit (``bayescale.load(FILE)`` reads it back); with ``both`` it writes two files,
``FILE-sandwich`` and ``FILE-sigmoid`` (before the suffix). See ``docs/emergence.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from bayescale.core.errors import DataError, SpecificationError

__all__ = ["add_emergence_parser", "cmd_emergence_fit", "out_paths"]

_METHODS = ("sandwich", "sigmoid")


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
    p.add_argument(
        "table",
        nargs="?",
        metavar="TABLE.csv",
        help="your own slice table (columns task, model, family, compute, slice, n_slices, "
        "slice_label, metric, value, n_questions; docs/emergence_slicing.md); default: the "
        "shipped wu_lo2024 data",
    )
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
    p.add_argument(
        "--chance",
        type=probability,
        metavar="P",
        help="chance accuracy of the task for the sigmoid (1 / number of choices; needed "
        "for tasks other than Wu & Lo's and ObsScaling's)",
    )
    p.add_argument(
        "--ci-prob",
        "--ci",
        dest="ci_prob",
        type=probability,
        default=0.9,
        help="interval probability (0.9)",
    )
    p.add_argument(
        "--out",
        metavar="FILE.nc",
        help="save the fit there (read it back with bayescale.load); with --method both two "
        "files are written, FILE-sandwich.nc and FILE-sigmoid.nc",
    )
    p.add_argument("--plot", metavar="FILE.png", help="draw the fit there")
    p.add_argument("--draws", type=positive_int, default=1000, help="draws per chain (1000)")
    p.add_argument("--tune", type=positive_int, default=1000, help="tuning steps per chain (1000)")
    p.add_argument("--chains", type=positive_int, default=4, help="number of chains (4)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--json", action="store_true", help="print a JSON record instead of text")
    p.set_defaults(func=cmd_emergence_fit)


def out_paths(out: str | Path, method: str) -> dict[str, Path]:
    """Where ``--out`` writes each fit: ``out`` itself, or with ``--method both``
    ``<stem>-sandwich<suffix>`` and ``<stem>-sigmoid<suffix>`` (suffix ``.nc`` if none)."""
    path = Path(out)
    if method != "both":
        return {method: path}
    suffix = path.suffix or ".nc"
    return {name: path.with_name(f"{path.stem}-{name}{suffix}") for name in _METHODS}


def _tables(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The slice table (sandwich) and the accuracy table (sigmoid) of the chosen data."""
    from bayescale.emergence.slice_table import validate_slice_table
    from bayescale.emergence.wu_lo import (
        WU_LO_FILTERED_MODELS,
        load_wu_lo_emergence,
        load_wu_lo_slices,
    )

    if args.table is None:
        slices = load_wu_lo_slices(exclude_models=WU_LO_FILTERED_MODELS)
        acc = load_wu_lo_emergence(exclude_models=WU_LO_FILTERED_MODELS)
    else:
        slices = validate_slice_table(args.table)
        acc = slices[(slices["slice"] == -1) & (slices["metric"] == "acc")]
    tasks = sorted(set(slices["task"]))
    if args.task not in tasks:
        raise DataError(f"task {args.task!r} is not in the data; it has {tasks}")
    return slices[slices["task"] == args.task], acc[acc["task"] == args.task]


def _held_out(scores: pd.DataFrame) -> dict[str, Any]:
    if scores.empty:
        return {"held_out_models": 0, "held_out_mae": None, "held_out_coverage": None}
    r = scores.iloc[0]
    return {
        "held_out_models": int(r["n_held_out"]),
        "held_out_mae": float(r["mae"]),
        "held_out_coverage": float(r["coverage"]),
    }


def cmd_emergence_fit(args: argparse.Namespace, out: TextIO) -> int:
    """``bayescale emergence fit``."""
    from bayescale.cli.common import check_writable
    from bayescale.emergence.wu_lo import WU_LO_THRESHOLD

    cutoff = args.cutoff if args.cutoff is not None else WU_LO_THRESHOLD.get(args.task)
    if cutoff is None:
        raise SpecificationError(
            f"no default cut-off for task {args.task!r}: pass --cutoff FLOPS (models with "
            "less training compute are fitted, the others held out)"
        )
    if args.method != "sandwich" and args.chance is None:
        from bayescale.emergence.table import KNOWN_CHANCE

        if args.task not in KNOWN_CHANCE:
            raise SpecificationError(
                f"the sigmoid needs the chance accuracy of task {args.task!r}: pass --chance P "
                "(1 / number of choices; 0 for generative exact-match tasks)"
            )
    paths = out_paths(args.out, args.method) if args.out else {}
    for path in paths.values():
        check_writable(path)
    slices, acc = _tables(args)
    sampler = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "seed": args.seed}
    record: dict[str, Any] = {"task": args.task, "log10_cutoff": float(np.log10(cutoff))}
    fits: dict[str, Any] = {}
    if args.method in ("sandwich", "both"):
        from bayescale.emergence.sandwich import fit_sandwich

        fits["sandwich"] = fit_sandwich(slices, args.task, cutoff=cutoff, **sampler)
    if args.method in ("sigmoid", "both"):
        from bayescale.emergence.sigmoid import fit_sigmoid

        fits["sigmoid"] = fit_sigmoid(
            acc, cutoff=cutoff, tasks=[args.task], chance=args.chance, **sampler
        )
    for name, fit in fits.items():
        th = fit.threshold(ci_prob=args.ci_prob).loc[args.task]
        record[name] = {
            "threshold_log10": [
                float(th["log10_threshold"]),
                float(th["log10_lower"]),
                float(th["log10_upper"]),
            ],
            **({"p_turn": float(th["p_turn"])} if name == "sandwich" else {}),
            "p_emergent": float(th["p_emergent"]),
            **_held_out(fit.forecast_scores(ci_prob=args.ci_prob)),
            "diagnostics": str(fit.diagnostics),
        }
        if name in paths:
            record[name]["saved"] = str(fit.save(paths[name]))
    if args.method == "both":
        from bayescale.compare import compare

        table = compare(fits, warn=False).table
        record["loo"] = {
            str(k): {"elpd": float(v["elpd"]), "weight": float(v["weight"])}
            for k, v in table.iterrows()
        }
    if args.plot:
        name = "sandwich" if "sandwich" in fits else "sigmoid"
        fits[name].plot(args.plot, ci_prob=args.ci_prob)
    if args.json:
        print(json.dumps(record, indent=2, default=float), file=out)
        return 0
    _print_text(args, record, out)
    return 0


def _print_text(args: argparse.Namespace, record: dict[str, Any], out: TextIO) -> None:
    pct = f"{args.ci_prob:.0%}"
    print(
        f"task {args.task}: models below 10^{record['log10_cutoff']:.2f} FLOPs fitted, the "
        "rest held out",
        file=out,
    )
    for name in _METHODS:
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
        if "saved" in r:
            print(f"  saved to {r['saved']} (bayescale.load reads it)", file=out)
    if "loo" in record:
        print("\nPSIS-LOO on the fitted models' overall accuracy:", file=out)
        for k, v in record["loo"].items():
            print(f"  {k:<9} elpd {v['elpd']:.1f}   stacking weight {v['weight']:.2f}", file=out)
    if args.plot:
        print(f"wrote {args.plot}", file=out)
