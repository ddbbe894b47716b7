"""``bayescale passk ...``: fit pass@k counts and forecast coverage from the command line.

``bayescale passk fit COUNTS.csv --out FIT.nc`` fits the hierarchical Beta-binomial model
and prints the inference-loss exponent per model, the observed coverage and the
diagnostics; ``bayescale passk forecast FIT.nc --k 10000`` prints coverage at the given
attempts (for fitted models, or new sizes with ``--params``) and, with ``--target``, the
attempts (and cost) needed to reach a coverage. See ``docs/cli.md``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from bayescale.core.errors import SpecificationError

__all__ = ["add_passk_parser", "cmd_passk_fit", "cmd_passk_forecast"]


def add_passk_parser(sub: Any, *, number: Any, probability: Any, positive_int: Any) -> None:
    """Register ``passk fit`` and ``passk forecast`` under the ``bayescale`` parser."""
    top = sub.add_parser(
        "passk",
        help="inference-time scaling: fit pass@k counts, forecast coverage at any k",
        description="Fit per-problem attempt counts (pass@k data) with the hierarchical "
        "zero-inflated Beta-binomial model and forecast coverage as attempts grow "
        "(docs/passk.md).",
    )
    psub = top.add_subparsers(dest="passk_command", metavar="COMMAND", required=True)

    p = psub.add_parser(
        "fit",
        help="fit a CSV of per-problem counts and save the posterior",
        description="Fit the pass@k model with NUTS, print the inference-loss exponent per "
        "model and the MCMC diagnostics, and write the fit to a NetCDF file. The CSV has "
        "one row per (model, problem) with columns model, problem, n_samples, n_correct "
        "and optionally params (needed to forecast new model sizes), compute_per_sample.",
    )
    p.add_argument("counts", metavar="COUNTS.csv", help="per-problem attempt counts")
    p.add_argument("--out", required=True, metavar="FIT.nc", help="where to write the fit")
    p.add_argument(
        "--no-zero-inflation",
        action="store_true",
        help="no share of never-solvable problems (coverage then tends to 1)",
    )
    p.add_argument(
        "--shared-difficulty",
        action="store_true",
        help="model='shared_difficulty': each problem's difficulty is shared across the "
        "models (one family), so larger models' counts inform the smaller ones'",
    )
    p.add_argument(
        "--difficulty",
        choices=("skewed", "normal"),
        default=None,
        help="with --shared-difficulty: distribution of problem difficulties (skewed, the "
        "default: a skewness learnt from the data; normal)",
    )
    p.add_argument("--ci", type=probability, default=0.9, help="interval probability (0.9)")
    p.add_argument("--draws", type=positive_int, default=1000, help="draws per chain (1000)")
    p.add_argument("--tune", type=positive_int, default=1000, help="tuning steps per chain (1000)")
    p.add_argument("--chains", type=positive_int, default=4, help="number of chains (4)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_passk_fit)

    p = psub.add_parser(
        "forecast",
        help="coverage at k attempts (and attempts for a target) from a saved fit",
        description="Coverage forecasts with credible intervals at the attempts given by "
        "--k, for the fitted models (their own problem sets) or for new model sizes "
        "(--params, a new problem population). --target adds the attempts needed to reach "
        "that coverage and, with --cost-per-attempt, their cost.",
    )
    p.add_argument("fit", metavar="FIT.nc", help="a fit written by 'bayescale passk fit'")
    p.add_argument(
        "--k", type=number, nargs="+", required=True, metavar="K", help="numbers of attempts"
    )
    p.add_argument("--model", nargs="+", metavar="NAME", help="fitted models (default: all)")
    p.add_argument(
        "--params",
        type=number,
        nargs="+",
        metavar="N",
        help="new model sizes, forecast from the trend in size",
    )
    p.add_argument(
        "--n-problems",
        type=positive_int,
        metavar="P",
        help="with --params: coverage of a benchmark of P new problems (adds its sampling "
        "spread); default: expected coverage of a new problem",
    )
    p.add_argument(
        "--attempts",
        type=positive_int,
        metavar="N",
        help="for the fitted models: coverage as it will be measured once every problem has "
        "N attempts (the made ones included), with the spread of those to come; default: "
        "the expected coverage",
    )
    p.add_argument("--target", type=probability, metavar="COVERAGE", help="target coverage")
    p.add_argument("--cost-per-attempt", type=number, metavar="COST", help="cost of one attempt")
    p.add_argument("--ci", type=probability, default=0.9, help="interval probability (0.9)")
    p.add_argument("--plot", metavar="FILE.png", help="also draw coverage against k there")
    p.add_argument("--json", action="store_true", help="print JSON records instead of tables")
    p.set_defaults(func=cmd_passk_forecast)


def cmd_passk_fit(args: argparse.Namespace, out: TextIO) -> int:
    """``bayescale passk fit``."""
    from bayescale.passk.counts import validate_counts
    from bayescale.passk.fitting import fit

    ds = validate_counts(args.counts)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if args.difficulty is not None and not args.shared_difficulty:
        raise SpecificationError("--difficulty is an option of --shared-difficulty")
    result = fit(
        ds,
        zero_inflation=not args.no_zero_inflation,
        model="shared_difficulty" if args.shared_difficulty else "beta",
        difficulty=args.difficulty,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        progressbar=not args.quiet,
    )
    path = result.save(args.out)
    n_models = ds.sizes["model"]
    print(
        f"data: {args.counts}: {n_models} model(s), {ds.sizes['obs']} (model, problem) rows, "
        f"{int(ds['n_samples'].sum())} attempts",
        file=out,
    )
    for note in [ds.attrs.get("notes", ""), *result.spec.notes]:
        if note:
            print(f"note: {note}", file=out)
    exp = result.exponent(ci_prob=args.ci)
    observed = result.observed_curve()
    last = observed.groupby("model", sort=False).tail(1).set_index("model")
    pct = f"{args.ci:.0%}"
    print(f"\ninference-loss exponent a per model (median, {pct} interval):", file=out)
    for _, row in exp.iterrows():
        label = row["model"]
        obs = last.loc[label]
        print(
            f"  {label:<20} a = {row['median']:.3f} [{row['lower']:.3f}, {row['upper']:.3f}]"
            f"   observed coverage at k={int(obs['k'])}: {obs['coverage']:.3f}",
            file=out,
        )
    print(f"\ndiagnostics: {result.diagnostics}", file=out)
    if result.diagnostics is not None and not result.diagnostics.ok:
        for problem in result.diagnostics.problems():
            print(f"  {problem}", file=out)
    print(f"wrote {path}", file=out)
    return 0


def cmd_passk_forecast(args: argparse.Namespace, out: TextIO) -> int:
    """``bayescale passk forecast``."""
    from bayescale.passk.fitting import load

    fit = load(args.fit)
    sizes = {f"N={n:.3g}": float(n) for n in args.params} if args.params else None
    if args.n_problems and not sizes:
        raise SpecificationError("--n-problems applies to new model sizes given by --params")
    frames = []
    if args.model or not sizes:
        frames.append(
            fit.coverage(args.k, ci_prob=args.ci, models=args.model, attempts=args.attempts)
        )
    if sizes:
        frames.append(
            fit.coverage(
                args.k,
                ci_prob=args.ci,
                params=sizes,
                problems="population",
                n_problems=args.n_problems,
            )
        )
    table = pd.concat(frames, ignore_index=True)
    attempts = None
    if args.target is not None:
        parts = []
        if args.model or not sizes:
            parts.append(
                fit.attempts_for(
                    args.target,
                    models=args.model,
                    cost_per_attempt=args.cost_per_attempt,
                    ci_prob=args.ci,
                )
            )
        if sizes:
            parts.append(
                fit.attempts_for(
                    args.target,
                    params=sizes,
                    cost_per_attempt=args.cost_per_attempt,
                    ci_prob=args.ci,
                )
            )
        attempts = pd.concat(parts, ignore_index=True)
    if args.plot:
        fit.plot(args.plot, ci_prob=args.ci, models=args.model, params=sizes, k_max=max(args.k))
    if args.json:
        record: dict[str, Any] = {"coverage": _records(table)}
        if attempts is not None:
            record["attempts"] = _records(attempts)
        print(json.dumps(record, indent=2), file=out)
        return 0
    pct = f"{args.ci:.0%}"
    print(f"coverage (pass@k): median and {pct} credible interval", file=out)
    for _, row in table.iterrows():
        print(
            f"  {row['model']:<20} k={row['k']:<12.6g} {row['median']:.3f} "
            f"[{row['lower']:.3f}, {row['upper']:.3f}]",
            file=out,
        )
    if sizes:
        what = f"{args.n_problems} new problems" if args.n_problems else "a new problem"
        print(f"  (N=...: forecast from the trend in size, coverage of {what})", file=out)
    if attempts is not None:
        print(f"\nattempts for coverage {args.target:g} (median, {pct} interval):", file=out)
        for label, rows in attempts.groupby("model", sort=False):
            by = rows.set_index("quantity")
            k = by.loc["attempts"]
            line = (
                f"  {label:<20} k = {_k(k['median'])} [{_k(k['lower'])}, {_k(k['upper'])}]"
                f"   P(reachable) = {k['p_reachable']:.2f}"
            )
            if "cost" in by.index:
                cost = by.loc["cost"]
                line += f"   cost {cost['median']:.3g} [{cost['lower']:.3g}, {cost['upper']:.3g}]"
            print(line, file=out)
    if args.plot:
        print(f"wrote {args.plot}", file=out)
    return 0


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready records: an infinite or missing number becomes ``null``."""
    return [
        {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _k(value: float) -> str:
    return "never" if value == float("inf") else f"{value:.3g}"
