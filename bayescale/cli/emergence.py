"""``bayescale emergence fit``: is a task emergent, and where, from the command line.

By default the data are the shipped Wu & Lo (2024) difficulty slices (``wu_lo2024``) and
the cut-off is Wu & Lo's threshold for the task; ``TABLE.csv`` may instead be your own
table, either a slice table (:mod:`bayescale.emergence.slice_table`: Brier slices and the
overall accuracy of every model) or per-question results (``task``, ``model``,
``question``, ``prob`` and/or ``correct``, ``compute``: sliced by difficulty here, as Wu &
Lo do, from the models below the cut-off). With your own table and no ``--cutoff`` every
model is fitted (is the jump in the data?). ``--method sandwich`` (default) fits the
Bayesian Slice-and-Sandwich, ``sigmoid`` the sigmoidal law, ``both`` fits the two and
compares them by PSIS-LOO on the same overall-accuracy observations
(:func:`bayescale.compare`). Each prints the threshold (one definition for both views,
:mod:`bayescale.emergence.criteria`) with its interval, P(emergent), the check on the
held-out models, ``--forecast`` at given compute, and ``--plot`` draws the slices and the
accuracy with bands. ``--out FILE`` saves the fit (``bayescale.load(FILE)`` reads it back);
with ``both`` it writes two files, ``FILE-sandwich`` and ``FILE-sigmoid`` (before the
suffix). See ``docs/emergence.md``.
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
_ALTERNATIVE = {
    "sandwich": ("turn_log10", "turn_lower", "turn_upper", "easy slices' turn (Wu & Lo)"),
    "sigmoid": ("midpoint_log10", "midpoint_lower", "midpoint_upper", "mid-point of the rise"),
}


def add_emergence_parser(sub: Any, *, number: Any, probability: Any, positive_int: Any) -> None:
    """Register ``emergence fit`` under the ``bayescale`` parser."""
    top = sub.add_parser(
        "emergence",
        help="emergence: threshold posterior, P(emergent), forecasts beyond a cut-off",
        description="Fit an emergence model to one task's models (all, or those below a "
        "compute cut-off) and print the emergence threshold with its interval "
        "(docs/emergence.md).",
    )
    esub = top.add_subparsers(dest="emergence_command", metavar="COMMAND", required=True)
    p = esub.add_parser(
        "fit",
        help="fit one task and print its emergence threshold with an interval",
        description="Fit the Bayesian Slice-and-Sandwich (or the sigmoidal law) to the "
        "models of TASK below the cut-off, print the threshold (log10 training FLOPs at "
        "which the typical model's accuracy leaves chance) with its credible interval, "
        "P(emergent), the forecast check on the models above the cut-off and the MCMC "
        "diagnostics. Without TABLE.csv the shipped wu_lo2024 data are used (Wu & Lo's "
        "'over-trained' models left out, as they did).",
    )
    p.add_argument(
        "table",
        nargs="?",
        metavar="TABLE.csv",
        help="your own table: a slice table (columns task, model, family, compute, slice, "
        "n_slices, slice_label, metric, value, n_questions; docs/emergence_slicing.md) or "
        "per-question results (task, model, question, prob and/or correct, compute or "
        "params and tokens, optional family); default: the shipped wu_lo2024 data",
    )
    p.add_argument("--task", required=True, help="task name, e.g. mmlu")
    p.add_argument(
        "--cutoff",
        type=number,
        metavar="FLOPS",
        help="fit models below this training compute, hold out the others (default: Wu & "
        "Lo's threshold for their nine tasks; every model for your own table)",
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
        help="chance accuracy of the task (1 / number of choices; 0 for exact-match tasks), "
        "from which the threshold is measured; needed for tasks other than Wu & Lo's and "
        "ObsScaling's",
    )
    p.add_argument(
        "--n-slices",
        type=positive_int,
        default=10,
        help="difficulty slices made from per-question results (10, as Wu & Lo)",
    )
    p.add_argument(
        "--forecast",
        type=number,
        nargs="+",
        metavar="FLOPS",
        help="print the accuracy forecast (typical and new model, with intervals) at these "
        "training computes",
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
    p.add_argument(
        "--plot", metavar="FILE.png", help="draw the fit there (slices and accuracy with bands)"
    )
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


def _user_slices(path: str, task: str, cutoff: float | None, n_slices: int) -> pd.DataFrame:
    """A user's table as a slice table: read as is, or sliced from per-question results."""
    from bayescale.core.tables import read_table
    from bayescale.emergence.slice_table import validate_slice_table
    from bayescale.emergence.slicing import difficulty_scores, slice_performance, slice_questions

    frame, _ = read_table(path)
    if "question" not in frame.columns:
        return validate_slice_table(path)
    results = frame[frame["task"].astype(str) == task] if "task" in frame.columns else frame
    if results.empty:
        return difficulty_scores(path)  # the data error naming what the file holds
    # difficulty from the models below the cut-off (known before emergence, as Wu & Lo)
    scores = difficulty_scores(results, max_compute=cutoff)
    return slice_performance(results, slice_questions(scores, n_slices=n_slices))


def _tables(args: argparse.Namespace, cutoff: float | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The slice table (sandwich) and the accuracy table (sigmoid) of the chosen data."""
    from bayescale.emergence.wu_lo import (
        WU_LO_FILTERED_MODELS,
        load_wu_lo_emergence,
        load_wu_lo_slices,
    )

    if args.table is None:
        slices = load_wu_lo_slices(exclude_models=WU_LO_FILTERED_MODELS)
        acc = load_wu_lo_emergence(exclude_models=WU_LO_FILTERED_MODELS)
    else:
        slices = _user_slices(args.table, args.task, cutoff, args.n_slices)
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


def _jsonable(value: Any) -> Any:
    """The record with numbers as JSON numbers; +-inf and NaN (a threshold below or beyond
    the range searched, none at all) as ``null``."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


def _cutoff(args: argparse.Namespace) -> tuple[float | None, float | None]:
    """The cut-off to fit below (FLOPs) and the one to slice below (None: every model)."""
    from bayescale.emergence.wu_lo import WU_LO_THRESHOLD

    if args.cutoff is not None:
        return float(args.cutoff), float(args.cutoff)
    if args.table is None:
        if args.task not in WU_LO_THRESHOLD:
            raise SpecificationError(
                f"no default cut-off for task {args.task!r}: pass --cutoff FLOPS (models with "
                "less training compute are fitted, the others held out)"
            )
        return WU_LO_THRESHOLD[args.task], WU_LO_THRESHOLD[args.task]
    return None, None


def cmd_emergence_fit(args: argparse.Namespace, out: TextIO) -> int:
    """``bayescale emergence fit``."""
    from bayescale.cli.common import check_writable
    from bayescale.emergence.table import KNOWN_CHANCE

    cutoff, slice_cutoff = _cutoff(args)
    paths = out_paths(args.out, args.method) if args.out else {}
    for path in paths.values():
        check_writable(path)
    slices, acc = _tables(args, slice_cutoff)
    chance = args.chance if args.chance is not None else KNOWN_CHANCE.get(args.task)
    if chance is None:
        raise SpecificationError(
            f"the threshold is measured from the chance accuracy of task {args.task!r}, which "
            "bayescale does not know: pass --chance P (1 / number of choices; 0 for "
            "generative exact-match tasks)"
        )
    if cutoff is None:  # every model: a cut-off above the largest one
        cutoff = float(10 * acc["compute"].max())
    sampler = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "seed": args.seed}
    record: dict[str, Any] = {
        "task": args.task,
        "log10_cutoff": float(np.log10(cutoff)),
        "chance": float(chance),
    }
    fits: dict[str, Any] = {}
    if args.method in ("sandwich", "both"):
        from bayescale.emergence.sandwich import fit_sandwich

        fits["sandwich"] = fit_sandwich(slices, args.task, cutoff=cutoff, chance=chance, **sampler)
    if args.method in ("sigmoid", "both"):
        from bayescale.emergence.sigmoid import fit_sigmoid

        fits["sigmoid"] = fit_sigmoid(
            acc, cutoff=cutoff, tasks=[args.task], chance=chance, **sampler
        )
    for name, fit in fits.items():
        th = fit.threshold(ci_prob=args.ci_prob).loc[args.task]
        med, lo, hi, label = _ALTERNATIVE[name]
        record[name] = {
            "view": str(th["view"]),
            "threshold_log10": [float(th[c]) for c in ("log10_threshold", "log10_lower")]
            + [float(th["log10_upper"])],
            "margin": float(th["margin"]),
            "p_emergent": float(th["p_emergent"]),
            "p_below": float(th["p_below"]),
            "p_beyond": float(th["p_beyond"]),
            "alternative": {"what": label, "log10": [float(th[c]) for c in (med, lo, hi)]},
            **({"p_turn": float(th["p_turn"])} if name == "sandwich" else {}),
            **_held_out(fit.forecast_scores(ci_prob=args.ci_prob)),
            "diagnostics": str(fit.diagnostics),
        }
        if args.forecast:
            fc = fit.forecast(args.forecast, ci_prob=args.ci_prob)
            fc = fc[fc["quantity"].isin(["accuracy", "new_model_accuracy"])]
            record[name]["forecast"] = [
                {
                    "compute": float(r.compute),
                    "quantity": str(r.quantity),
                    "median": float(r.median),
                    "lower": float(r.lower),
                    "upper": float(r.upper),
                }
                for r in fc.itertuples()
            ]
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
        print(json.dumps(_jsonable(record), indent=2), file=out)
        return 0
    _print_text(args, record, out)
    return 0


def _log10(value: float) -> str:
    if value == np.inf:
        return "beyond the range"
    if value == -np.inf:
        return "below the data"
    return f"10^{value:.2f}"


def _print_text(args: argparse.Namespace, record: dict[str, Any], out: TextIO) -> None:
    pct = f"{args.ci_prob:.0%}"
    held = any(record[n].get("held_out_models") for n in _METHODS if n in record)
    print(
        f"task {args.task}: models below 10^{record['log10_cutoff']:.2f} FLOPs fitted"
        + (", the rest held out" if held else " (every model)"),
        file=out,
    )
    for name in _METHODS:
        if name not in record:
            continue
        r = record[name]
        med, lo, hi = r["threshold_log10"]
        alt = r["alternative"]
        print(f"\n{name}:", file=out)
        print(
            f"  emergence threshold (accuracy leaves chance {record['chance']:.3g} by "
            f"{r['margin']:g} of the range): {_log10(med)} FLOPs, {pct} interval "
            f"[{_log10(lo)}, {_log10(hi)}]",
            file=out,
        )
        a_med, a_lo, a_hi = alt["log10"]
        print(
            f"  alternative, {alt['what']}: {_log10(a_med)}, [{_log10(a_lo)}, {_log10(a_hi)}]"
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
        for f in r.get("forecast", []):
            who = "typical model" if f["quantity"] == "accuracy" else "a new model"
            print(
                f"  forecast at {f['compute']:.3g} FLOPs, {who}: accuracy {f['median']:.3f} "
                f"[{f['lower']:.3f}, {f['upper']:.3f}]",
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
