"""The ``bayescale`` command line: fit a law, forecast, compute-optimal allocation, demo.

.. code-block:: console

    $ bayescale fit runs.csv --law chinchilla --metric loss_c4_val --out fit.nc
    $ bayescale forecast fit.nc --params 7e9 --tokens 1.4e11 --family rpj
    $ bayescale optimal fit.nc --compute 1e22 1e23
    $ bayescale demo --out-dir demo_output

Every command prints plain-text tables; ``forecast`` and ``optimal`` print JSON records
with ``--json``. An error bayescale raises on purpose (a bad CSV, a missing column, an
unknown law, a file that is not a fit...) is printed as ``error: <message>`` on stderr
and the command exits with status 2, without a traceback.

Importing this module is cheap: PyMC, ArviZ and matplotlib are imported by the commands
that need them. ``docs/cli.md`` shows every command with real output.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import os
import re
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from bayescale.cli.common import check_writable
from bayescale.core.errors import BayescaleError, SpecificationError
from bayescale.scaling.report import (
    INPUT_LABELS,
    fit_header,
    fmt_sci,
    format_diagnostics,
    format_forecast,
    format_optimal,
    format_summary,
    json_records,
)

if TYPE_CHECKING:
    from bayescale.scaling.fitting import ScalingFit
    from bayescale.scaling.laws import Law

__all__ = ["build_parser", "main", "parse_pooling"]

POOLING_CHOICES = ("shared", "pooled", "independent")
SAMPLERS = ("nutpie", "pymc", "numpyro", "blackjax")
#: Python package each optional NUTS sampler needs.
_SAMPLER_PACKAGES = {"nutpie": "nutpie", "numpyro": "numpyro", "blackjax": "blackjax"}
#: Value of ``--family`` that asks for a family not in the fit.
NEW_FAMILY_ARG = "new"
EXIT_ERROR = 2


def parse_pooling(text: str | None) -> str | dict[str, str] | None:
    """Turn a ``--pooling`` value into the ``pooling`` argument of :func:`bayescale.fit`.

    Parameters
    ----------
    text
        ``shared``, ``pooled`` or ``independent`` for every parameter, or a comma list of
        ``KEY=CHOICE`` whose keys are parameter names (``alpha``) or kinds (``exponent``,
        ``offset``, ``scale``, ``shape``). ``None`` keeps the defaults.

    Returns
    -------
    str or dict or None

    Raises
    ------
    SpecificationError
        When the text is malformed, a choice is unknown or a key is repeated. Whether the
        keys exist is checked against the law by :func:`bayescale.scaling.priors.resolve_pooling`.
    """
    if text is None:
        return None
    text = text.strip()
    if text in POOLING_CHOICES:
        return text
    if "=" not in text:
        raise SpecificationError(
            f"--pooling {text!r}: give one of {', '.join(POOLING_CHOICES)} for every "
            "parameter, or a comma list such as alpha=pooled,beta=shared,E=independent"
        )
    out: dict[str, str] = {}
    for item in text.split(","):
        key, sep, choice = (part.strip() for part in item.partition("="))
        if not sep or not key or not choice:
            raise SpecificationError(
                f"--pooling {text!r}: {item.strip()!r} is not KEY=CHOICE "
                "(e.g. alpha=pooled,beta=shared)"
            )
        if choice not in POOLING_CHOICES:
            raise SpecificationError(
                f"--pooling {text!r}: {key}={choice} is not one of {', '.join(POOLING_CHOICES)}"
            )
        if key in out:
            raise SpecificationError(f"--pooling {text!r}: {key!r} is given twice")
        out[key] = choice
    return out


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, not {value}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a number: {text!r} (write e.g. 7e9; no units or separators)"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """The ``bayescale`` argument parser with its subcommands.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="bayescale",
        description="Bayesian scaling-law fits with PyMC: fit, forecast with credible "
        "intervals, compute-optimal allocation.",
        epilog="Documentation: docs/cli.md. Try 'bayescale demo' for a worked example.",
    )
    from bayescale import __version__

    parser.add_argument("--version", action="version", version=f"bayescale {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # fit
    p = sub.add_parser(
        "fit",
        help="fit a scaling law to a CSV of training runs and save the posterior",
        description="Fit a scaling law with NUTS, print the posterior summary and the MCMC "
        "diagnostics, and write the fit (posterior, data, specification) to a NetCDF file. "
        "The CSV is in the long format of docs/data_format.md.",
    )
    p.add_argument("data", metavar="DATA.csv", help="training runs in the long format")
    p.add_argument("--out", required=True, metavar="FIT.nc", help="where to write the fit")
    p.add_argument(
        "--law",
        default="chinchilla",
        help="chinchilla (default), chinchilla_tied, power_law[:params|tokens|compute], "
        "broken_power_law[:params|tokens|compute]",
    )
    p.add_argument("--metric", help="metric to fit (needed when the CSV holds several)")
    p.add_argument(
        "--pooling",
        metavar="SPEC",
        help="shared, pooled or independent for every parameter, or a list like "
        "alpha=pooled,beta=shared,E=independent (keys: parameter names or kinds exponent, "
        "offset, scale, shape). Default: exponents pooled, offsets and scales independent",
    )
    p.add_argument(
        "--likelihood",
        choices=("normal", "studentt"),
        default="normal",
        help="noise distribution; studentt is robust to outlying runs (default: normal)",
    )
    p.add_argument(
        "--space",
        choices=("log", "linear"),
        default="log",
        help="fit log(value) (default) or value",
    )
    p.add_argument(
        "--interval-prob",
        type=_probability,
        default=0.95,
        metavar="P",
        help="probability of the value_lo/value_hi intervals in the data (default: 0.95)",
    )
    p.add_argument(
        "--extrapolation-rate",
        type=float,
        default=None,
        metavar="LAMBDA",
        help="a fixed extra log-sd of new-run forecasts per e-fold beyond the data instead of "
        "the learned extrapolation discrepancy (the default; 0 turns any term off; see "
        "docs/forecasting.md)",
    )
    p.add_argument(
        "--calibrate-spread",
        action="store_true",
        help="calibrate the new-run spread on the fit's own largest runs (one more fit of "
        "the runs below them; ScalingFit.calibrate_spread, docs/forecasting.md)",
    )
    p.add_argument(
        "--columns",
        metavar="MAP",
        type=_column_map,
        default=None,
        help="the table's names for the format's columns, e.g. N=params,D=tokens,loss=value "
        "(common spellings are recognised without it)",
    )
    p.add_argument(
        "--prior",
        metavar="REFERENCE",
        help="take the exponent priors from a reference posterior in models/ (e.g. "
        "gadre2024_chinchilla; see docs/references.md)",
    )
    p.add_argument(
        "--min-tokens",
        type=_number,
        metavar="D",
        help="drop intermediate checkpoints before D tokens (each run's last is kept; "
        "the removed rows are reported)",
    )
    p.add_argument("--draws", type=_positive_int, default=1000, help="draws per chain (1000)")
    p.add_argument("--tune", type=_positive_int, default=1000, help="tuning steps per chain (1000)")
    p.add_argument("--chains", type=_positive_int, default=4, help="number of chains (4)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument(
        "--sampler", choices=SAMPLERS, default="nutpie", help="NUTS implementation (nutpie)"
    )
    p.add_argument(
        "--quiet", "-q", action="store_true", help="no progress bar or progress messages"
    )
    p.set_defaults(func=cmd_fit)

    # summary
    p = sub.add_parser(
        "summary",
        help="posterior summary and diagnostics of any saved fit",
        description="Print the report of a fit file of any kind (scaling law, pass@k, "
        "coverage law, voting curve, sandwich, sigmoid, quanta): the posterior summary "
        "with equal-tailed intervals, the convergence diagnostics and the fit's notes.",
    )
    p.add_argument("fit", metavar="FIT.nc", help="a fit written by any 'bayescale ... --out'")
    p.add_argument(
        "--ci-prob",
        "--ci",
        dest="ci_prob",
        type=_probability,
        default=0.9,
        help="interval probability (0.9)",
    )
    p.add_argument("--csv", action="store_true", help="print the summary table as CSV")
    p.set_defaults(func=cmd_summary)

    # forecast
    p = sub.add_parser(
        "forecast",
        help="forecast the metric at new N, D (or C) from a saved fit",
        description="Forecast the metric at new points from a saved fit. Values given to "
        "--params, --tokens and --compute are paired in order (a single value is repeated).",
    )
    p.add_argument("fit", metavar="FIT.nc", help="a fit written by 'bayescale fit'")
    p.add_argument("--params", type=_number, nargs="+", metavar="N", help="parameters N")
    p.add_argument("--tokens", type=_number, nargs="+", metavar="D", help="training tokens D")
    p.add_argument(
        "--compute", type=_number, nargs="+", metavar="C", help="training FLOPs C (laws of C)"
    )
    _add_family(p, default_text="a new family drawn from the population of fitted families")
    p.add_argument(
        "--ci-prob",
        "--ci",
        dest="ci_prob",
        type=_probability,
        default=0.9,
        help="interval probability (0.9)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the predictive draws (0)")
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    p.set_defaults(func=cmd_forecast)

    # optimal
    p = sub.add_parser(
        "optimal",
        help="compute-optimal N*, D* for FLOP budgets (chinchilla or chinchilla_tied fits)",
        description="Compute-optimal parameters N*, tokens D*, tokens per parameter and loss "
        "for training budgets C = 6 N D, one posterior draw at a time.",
    )
    p.add_argument("fit", metavar="FIT.nc", help="a fit of the chinchilla or chinchilla_tied law")
    p.add_argument(
        "--compute", type=_number, nargs="+", required=True, metavar="C", help="FLOP budgets"
    )
    _add_family(p, default_text="every fitted family")
    p.add_argument(
        "--ci-prob",
        "--ci",
        dest="ci_prob",
        type=_probability,
        default=0.9,
        help="interval probability (0.9)",
    )
    p.add_argument(
        "--flops-per-param-token",
        type=_number,
        default=6.0,
        metavar="K",
        help="k in C = k N D (default: 6)",
    )
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    p.set_defaults(func=cmd_optimal)

    # demo
    p = sub.add_parser(
        "demo",
        help="fit the shipped Gadre et al. (2024) data and check forecasts on held-out runs",
        description="Fit the chinchilla law to the runs of the shipped gadre2024 data set "
        "with at most 1e9 parameters, forecast the held-out 1.4B and 6.9B runs, and write "
        "fit.nc, forecast.csv and fit.png to the output directory.",
    )
    p.add_argument("--out-dir", default="demo_output", help="output directory (demo_output)")
    p.add_argument("--draws", type=_positive_int, default=1000, help="draws per chain (1000)")
    p.add_argument("--tune", type=_positive_int, default=1000, help="tuning steps per chain (1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument(
        "--stacked",
        action="store_true",
        help="also fit a broken power law and a power law in compute and forecast the "
        "held-out runs with the stacking mixture of the three laws",
    )
    p.set_defaults(func=cmd_demo)
    from bayescale.cli.emergence import add_emergence_parser
    from bayescale.cli.fit_many import add_fit_many_parser
    from bayescale.cli.passk import add_passk_parser

    for add in (add_passk_parser, add_emergence_parser, add_fit_many_parser):
        add(sub, number=_number, probability=_probability, positive_int=_positive_int)
    for subparser in sub.choices.values():
        _accept_negative_numbers(subparser)
        for action in subparser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for nested in action.choices.values():
                    _accept_negative_numbers(nested)
    return parser


#: Negative numbers in any notation argparse should read as values, not options.
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _accept_negative_numbers(parser: argparse.ArgumentParser) -> None:
    """Let ``--params -1e9`` reach the value checks (argparse only knows ``-1`` / ``-1.5``)."""
    if hasattr(parser, "_negative_number_matcher"):
        parser._negative_number_matcher = _NEGATIVE_NUMBER


def _add_family(p: argparse.ArgumentParser, *, default_text: str) -> None:
    p.add_argument(
        "--family",
        metavar="F",
        help=f"a fitted family, or '{NEW_FAMILY_ARG}' for a family not in the fit "
        f"(default: {default_text})",
    )


# -- commands ---------------------------------------------------------------------------
def _column_map(text: str) -> dict[str, str]:
    """``N=params,D=tokens`` -> ``{"N": "params", "D": "tokens"}``."""
    out = {}
    for part in text.split(","):
        src, sep, dst = part.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise argparse.ArgumentTypeError(
                f"{part!r} is not NAME=COLUMN; write e.g. N=params,D=tokens,loss=value"
            )
        out[src.strip()] = dst.strip()
    return out


def _check_sampler(sampler: str) -> None:
    package = _SAMPLER_PACKAGES.get(sampler)
    if package and importlib.util.find_spec(package) is None:
        available = [s for s in SAMPLERS if s not in _SAMPLER_PACKAGES] + [
            s for s, pkg in _SAMPLER_PACKAGES.items() if importlib.util.find_spec(pkg)
        ]
        raise SpecificationError(
            f"--sampler {sampler} needs the {package!r} package, which is not installed "
            f"(pip install {package}); available here: {', '.join(available)}"
        )


def _data_header(ds: Any, law: Law, source: str) -> list[str]:
    import numpy as np

    fams, counts = np.unique(ds["obs_family"].values.astype(str), return_counts=True)
    per_family = ", ".join(f"{f} {c}" for f, c in zip(fams, counts, strict=True))
    ranges = []
    for col in law.inputs:
        values = ds[col].values.astype(float)
        ranges.append(f"{INPUT_LABELS[col]} {fmt_sci(values.min())} to {fmt_sci(values.max())}")
    metric = ds.attrs.get("metric", "value")
    return [
        f"  data:     {source}",
        f"            metric {metric}, {ds.sizes['obs']} rows in {len(fams)} "
        f"famil{'y' if len(fams) == 1 else 'ies'} ({per_family})",
        f"            {', '.join(ranges)}",
    ]


def cmd_fit(args: argparse.Namespace, out: TextIO) -> int:
    """``bayescale fit``: validate, sample, print summary and diagnostics, save.

    Parameters
    ----------
    args
        Parsed arguments.
    out
        Stream for the report.

    Returns
    -------
    int
        Exit status.
    """
    from bayescale.scaling.data import validate
    from bayescale.scaling.laws import get_law
    from bayescale.scaling.priors import resolve_pooling

    law = get_law(args.law)
    pooling = parse_pooling(args.pooling)
    resolve_pooling(law, pooling, 2)  # unknown keys fail here, before reading data
    _check_sampler(args.sampler)
    out_path = Path(args.out)
    check_writable(out_path)
    data: Any = args.data
    if args.min_tokens is not None:
        from bayescale.scaling.checkpoints import drop_early_checkpoints

        data = drop_early_checkpoints(data, min_tokens=args.min_tokens)
        rec = data.attrs["checkpoint_filter"]
        removed = ", ".join(f"{k} {v}" for k, v in rec["removed_per_family"].items())
        print(
            f"checkpoints: removed {rec['removed']} of {rec['rows_before']} rows before "
            f"{args.min_tokens:.3g} tokens ({removed or 'none'}); runs kept "
            f"{rec['runs_after']} of {rec['runs_before']}",
            file=out,
        )
    ds = validate(
        data,
        metric=args.metric,
        columns=args.columns,
        inputs=law.inputs,
        space=args.space,
        min_rows_per_family=1 if pooling == "shared" else 2,
        interval_prob=args.interval_prob,
    )
    from bayescale.scaling.fitting import make_spec

    spec = make_spec(ds, law, pooling=pooling, likelihood=args.likelihood)
    if not args.quiet:
        pooled = "; ".join(
            f"{', '.join(k for k, v in spec.pooling.items() if v == choice)} {choice}"
            for choice in POOLING_CHOICES
            if choice in spec.pooling.values()
        )
        fitted = f"log({ds.attrs.get('metric', 'value')})" if args.space == "log" else "value"
        lines = [f"Fitting the {law.spec} law: {law.equation}"]
        lines += _data_header(ds, law, str(args.data))
        lines += [
            f"  pooling:  {pooled} (across families)",
            f"  model:    {args.likelihood} likelihood on {fitted}",
            f"  sampler:  {args.sampler}, {args.chains} chains x {args.draws} draws "
            f"(+{args.tune} tuning), seed {args.seed}",
        ]
        for note in spec.notes:
            lines += textwrap.wrap(
                note,
                width=100,
                initial_indent="  note:     ",
                subsequent_indent=" " * 12,
                break_on_hyphens=False,
                break_long_words=False,
            )
        print("\n".join(lines), file=out, flush=True)

    from bayescale.scaling.fitting import fit as fit_law

    result = fit_law(
        ds,
        law,
        pooling=pooling,
        likelihood=args.likelihood,
        space=args.space,
        interval_prob=args.interval_prob,
        extrapolation_rate=args.extrapolation_rate,
        prior=args.prior,
        seed=args.seed,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        nuts_sampler=args.sampler,
        progressbar=not args.quiet,
        warn_convergence=False,
    )
    if args.calibrate_spread:
        before = len(result.notes)
        result = result.calibrate_spread(seed=args.seed)
        for note in result.notes[before:]:
            print(f"note: {note}", file=out)
    saved = result.save(out_path)
    print("", file=out)
    print(format_summary(result, ci_prob=0.9), file=out)
    print("", file=out)
    hint = (
        f"Try: --draws {2 * args.draws} --tune {2 * args.tune}; or share a troublesome "
        "parameter across families, e.g. --pooling alpha=shared."
    )
    print(format_diagnostics(result.diagnostics, rerun_hint=hint), file=out)
    print(f"\nWrote {saved}", file=out)
    if law.name in ("chinchilla", "chinchilla_tied") and not args.quiet:
        print(
            f"Next: bayescale forecast {saved} --params 7e9 --tokens 1.4e11 --family "
            f"{result.families[0]}",
            file=out,
        )
    return 0


def _resolve_family(fit: ScalingFit, family: str | None, *, default: Any) -> Any:
    """Check a ``--family`` value against the fit: a fitted label, ``new`` or the default."""
    if family is None:
        return default
    if family in fit.families:
        return family
    if family == NEW_FAMILY_ARG:
        return None
    raise SpecificationError(
        f"--family {family!r} is not in the fit, which has {fit.families}; "
        f"use '{NEW_FAMILY_ARG}' for a family not in the fit"
    )


def _forecast_points(args: argparse.Namespace, law: Law) -> dict[str, list[float]]:
    given = {k: getattr(args, k) for k in ("params", "tokens", "compute") if getattr(args, k)}
    needs = set(law.inputs)
    usable = set(needs)
    if "compute" in needs and "compute" not in given:
        usable |= {"params", "tokens"}  # compute = 6 N D
    unused = sorted(set(given) - usable)
    if unused:
        raise SpecificationError(
            f"the {law.spec} law reads {', '.join('--' + k for k in law.inputs)}; "
            f"{', '.join('--' + k for k in unused)} would be ignored, so leave it out"
        )
    missing = [k for k in law.inputs if k not in given]
    if "compute" in missing and {"params", "tokens"} <= set(given):
        missing.remove("compute")
    if missing:
        raise SpecificationError(
            f"the {law.spec} law needs {', '.join('--' + k for k in missing)} to forecast"
        )
    lengths = {len(v) for v in given.values()} - {1}
    if len(lengths) > 1:
        shown = ", ".join(f"--{k} {len(v)}" for k, v in given.items())
        raise SpecificationError(
            f"give the same number of values to each option, or one value to repeat (got {shown})"
        )
    n = lengths.pop() if lengths else 1
    return {k: list(v) * n if len(v) == 1 else list(v) for k, v in given.items()}


def _load(path: str) -> ScalingFit:
    """A scaling-law fit, or an error that says what the file holds and what to run."""
    from bayescale.core.results import load

    fit = load(path)
    if fit.kind != "scaling":
        hint = {
            "passk": "bayescale passk forecast FILE --k ...",
        }.get(fit.kind, "bayescale summary FILE, or the Python API")
        raise SpecificationError(
            f"{path!r} holds a {fit.kind!r} fit ({type(fit).__name__}), not a scaling-law "
            f"fit; this command forecasts scaling laws. Use {hint}."
        )
    return cast("ScalingFit", fit)


def cmd_summary(args: argparse.Namespace, out: TextIO) -> int:
    """``bayescale summary``: the report of any saved fit.

    Parameters
    ----------
    args
        Parsed arguments.
    out
        Stream for the report.

    Returns
    -------
    int
        Exit status.
    """
    from bayescale.core.results import load

    fit = load(args.fit)
    if args.csv:
        fit.summary(ci_prob=args.ci_prob).to_csv(out)
    else:
        print(f"file: {args.fit}", file=out)
        print(fit.report(ci_prob=args.ci_prob), file=out)
    return 0


def _family_note(fit: ScalingFit, family: Any, out: TextIO) -> None:
    if family is None and len(fit.families) > 1:
        how = {v for v in fit.spec.pooling.values()}
        text = (
            "family: a new family, not in the fit (use --family to pick one of "
            f"{', '.join(fit.families)}): pooled parameters are drawn from their population"
        )
        if "independent" in how:
            indep = [k for k, v in fit.spec.pooling.items() if v == "independent"]
            text += f", independent ones ({', '.join(indep)}) from their prior"
        print(textwrap.fill(text + "; expect wide intervals.", width=90), file=out)


def _report(
    args: argparse.Namespace, fit: ScalingFit, family: Any, table: Any, body: str, out: TextIO
) -> int:
    """Print a result table as JSON records, or as text under the fit's header."""
    if args.json:
        print(json_records(table, metric=fit.metric), file=out)
        return 0
    print(fit_header(args.fit, fit), file=out)
    if fit.diagnostics is not None and not fit.diagnostics.ok:
        print(format_diagnostics(fit.diagnostics), file=out)
    _family_note(fit, family, out)
    print("", file=out)
    print(body, file=out)
    return 0


def cmd_forecast(args: argparse.Namespace, out: TextIO) -> int:
    """``bayescale forecast``: curve and new-run forecasts at new points.

    Parameters
    ----------
    args
        Parsed arguments.
    out
        Stream for the report.

    Returns
    -------
    int
        Exit status.
    """
    fit = _load(args.fit)
    points = _forecast_points(args, fit.law)
    family = _resolve_family(fit, args.family, default=None)
    table = fit.forecast(points, ci_prob=args.ci_prob, family=family, seed=args.seed)
    return _report(args, fit, family, table, format_forecast(table, metric=fit.metric), out)


def cmd_optimal(args: argparse.Namespace, out: TextIO) -> int:
    """``bayescale optimal``: compute-optimal allocation for FLOP budgets.

    Parameters
    ----------
    args
        Parsed arguments.
    out
        Stream for the report.

    Returns
    -------
    int
        Exit status.
    """
    from bayescale.scaling.optimal import compute_optimal

    fit = _load(args.fit)
    family = _resolve_family(fit, args.family, default="all")
    table = compute_optimal(
        fit,
        args.compute,
        ci_prob=args.ci_prob,
        family=family,
        flops_per_param_token=args.flops_per_param_token,
    )
    body = format_optimal(
        table, metric=fit.metric, flops_per_param_token=args.flops_per_param_token
    )
    return _report(args, fit, family, table, body, out)


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    """``bayescale demo``: see :func:`bayescale.cli.demo.run_demo`.

    Parameters
    ----------
    args
        Parsed arguments.
    out
        Stream for the report.

    Returns
    -------
    int
        Exit status.
    """
    from bayescale.cli.demo import run_demo

    run_demo(
        args.out_dir,
        draws=args.draws,
        tune=args.tune,
        seed=args.seed,
        stacked=args.stacked,
        out=out,
    )
    return 0


# -- entry point ------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet_environment(*, sample: bool) -> Iterator[None]:
    """Short warnings (``warning: ...``) and no PyMC log chatter, restored afterwards.

    ``sample`` says whether the command samples (imports PyMC).
    """

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        print(f"warning: {message}", file=sys.stderr)

    if sample:
        import pymc  # noqa: F401  (on import PyMC sets its logger to INFO; override after)
    logger = logging.getLogger("pymc")
    level = logger.level
    with warnings.catch_warnings():
        warnings.showwarning = show
        logger.setLevel(logging.WARNING)
        # PyTensor's C backend notice; sampling runs on nutpie's compiled code.
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        try:
            yield
        finally:
            logger.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bayescale`` command line.

    Parameters
    ----------
    argv
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 on a usage error or an error bayescale raised on
        purpose (printed as ``error: <message>`` on stderr), 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:  # --help, --version or a usage error
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    func: Callable[[argparse.Namespace, TextIO], int] = args.func
    try:
        samples = args.command in ("fit", "demo", "emergence") or (
            args.command == "passk" and args.passk_command == "fit"
        )
        with _quiet_environment(sample=samples):
            return func(args, sys.stdout)
    except BayescaleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except FileNotFoundError as exc:
        where = f": {exc.filename}" if exc.filename else f" ({exc})"
        print(f"error: no such file or directory{where}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
