"""Plain-text reports of fits, forecasts and compute-optimal allocations.

Used by the command line and the demo; every function takes results (a
:class:`~bayescale.scaling.fitting.ScalingFit`, a forecast or allocation table) and returns text.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from bayescale.core.diagnostics import Diagnostics
    from bayescale.scaling.fitting import ScalingFit

__all__ = [
    "CURVE_NOTE",
    "INPUT_LABELS",
    "NEW_RUN_NOTE",
    "fit_header",
    "fmt_interval",
    "fmt_percent",
    "fmt_sci",
    "fmt_value",
    "format_diagnostics",
    "format_forecast",
    "format_optimal",
    "format_summary",
    "json_records",
    "render_table",
]

INPUT_LABELS = {"params": "N", "tokens": "D", "compute": "C"}

CURVE_NOTE = "curve   = the fitted law itself (the interval is the uncertainty about the law)"
NEW_RUN_NOTE = (
    "new_run = one new training run measured there (the law plus run-to-run noise and,\n"
    "            beyond the data, the extrapolation discrepancy); compare observed runs with this\n"
    "  beyond  = e-folds beyond the largest training run (0: inside the data)"
)


def fmt_sci(value: float, digits: int = 3) -> str:
    """Format a scale (N, D, C) compactly in scientific notation, e.g. ``7.00e9``.

    Parameters
    ----------
    value
        The number.
    digits
        Significant digits.

    Returns
    -------
    str
    """
    if not math.isfinite(value):
        return str(value)
    mantissa, _, exponent = f"{value:.{digits - 1}e}".partition("e")
    return f"{mantissa}e{int(exponent)}"


def fmt_value(value: float, digits: int = 4) -> str:
    """Format a metric value or parameter: fixed decimals in a readable range, else ``e``.

    Parameters
    ----------
    value
        The number.
    digits
        Significant digits for large or small numbers; decimals otherwise.

    Returns
    -------
    str
    """
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size == 0 or 1e-3 <= size < 1e4:
        return f"{value:.{digits}f}"
    return fmt_sci(value, digits)


def fmt_general(value: float, digits: int = 4) -> str:
    """Format with ``digits`` significant digits (``%g`` style, compact exponent).

    Parameters
    ----------
    value
        The number.
    digits
        Significant digits.

    Returns
    -------
    str
    """
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size != 0 and (size < 1e-3 or size >= 10**digits):
        return fmt_sci(value, digits)
    text = f"{value:#.{digits}g}"  # '#' keeps trailing zeros: 1.760, not 1.76
    if "e" in text:  # rounding crossed 10**digits
        return fmt_sci(value, digits)
    return text.rstrip(".")


def fmt_interval(lower: float, upper: float, fmt: Callable[[float], str] = fmt_value) -> str:
    """Format an interval as ``[lower, upper]``.

    Parameters
    ----------
    lower, upper
        The ends of the interval.
    fmt
        Formatter of each end.

    Returns
    -------
    str
    """
    return f"[{fmt(lower)}, {fmt(upper)}]"


def fmt_percent(prob: float) -> str:
    """Format a probability as a percentage without needless decimals (``0.9 -> 90%``).

    Parameters
    ----------
    prob
        A probability in (0, 1).

    Returns
    -------
    str
    """
    return f"{100 * prob:.10g}%"


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    align: str | None = None,
    indent: int = 2,
) -> str:
    """Render rows of strings as an aligned plain-text table with a header rule.

    Parameters
    ----------
    headers
        Column titles.
    rows
        Cells, already formatted.
    align
        One character per column: ``"l"`` (left) or ``"r"`` (right). Default: the first
        column left, the others right.
    indent
        Spaces before every line.

    Returns
    -------
    str
        The table, without a trailing newline.
    """
    n = len(headers)
    align = align or "l" + "r" * (n - 1)
    widths = [len(h) for h in headers]
    for row in rows:
        for j, cell in enumerate(row):
            widths[j] = max(widths[j], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(widths[j]) if align[j] == "l" else c.rjust(widths[j])
            for j, c in enumerate(cells)
        ]
        return " " * indent + "  ".join(parts).rstrip()

    out = [line(headers), " " * indent + "  ".join("-" * w for w in widths)]
    out += [line(row) for row in rows]
    return "\n".join(out)


def format_diagnostics(diagnostics: Diagnostics | None, *, rerun_hint: str = "") -> str:
    """The diagnostics line, and a loud block naming the problems when sampling failed.

    Parameters
    ----------
    diagnostics
        ``fit.diagnostics``.
    rerun_hint
        What to try, appended to the warning block when the fit did not converge.

    Returns
    -------
    str
    """
    if diagnostics is None:
        return "MCMC diagnostics: not available"
    text = f"MCMC diagnostics: {diagnostics}"
    if diagnostics.ok:
        return text
    bar = "!" * 78
    lines = [
        text,
        bar,
        "!! WARNING: SAMPLING DID NOT CONVERGE. The posterior summaries, forecasts and",
        "!! intervals of this fit are NOT reliable; do not use them for decisions.",
    ]
    for problem in diagnostics.problems():
        lines += textwrap.wrap(
            problem, width=78, initial_indent="!!  - ", subsequent_indent="!!    "
        )
    if rerun_hint:
        lines += textwrap.wrap(rerun_hint, width=78, initial_indent="!! ", subsequent_indent="!! ")
    lines.append(bar)
    return "\n".join(lines)


def _parameter_legend(fit: ScalingFit) -> list[str]:
    """One line per kind of row of the summary: what the names mean."""
    law = fit.law
    post = fit.posterior
    lines = [f"{p.name}: {p.description}" for p in law.parameters]
    ref = fit.spec.summary.log_ref
    refs = ", ".join(
        f"{INPUT_LABELS.get(k, k)}_ref = {fmt_sci(math.exp(v))}" for k, v in ref.items()
    )
    lines.append(f"reference scales (geometric means of the data): {refs}")
    conv = [k for k in ("A", "B", "x_break") if k in post]
    if conv:
        lines.append(f"{', '.join(conv)}: conventional form, {law.equation}")
    for p in law.parameters:
        if fit.spec.pooling[p.name] == "pooled":
            scale = f"log({p.name})" if p.positive else p.name
            lines.append(
                f"{p.raw_name}_mu, {p.raw_name}_tau: population mean and sd of {scale} "
                "across families"
            )
    noise_scale = "sd of log(value), i.e. relative" if fit.spec.space == "log" else "sd of value"
    if "config_sigma" in post:
        lines.append(f"sigma: seed-to-seed noise of repeated runs ({noise_scale})")
        lines.append("config_sigma: misfit shared by the repeated runs of one configuration")
    elif "sigma" in post:
        lines.append(f"sigma: scatter of runs around the law, noise and misfit ({noise_scale})")
    return lines


def format_summary(fit: ScalingFit, *, ci_prob: float = 0.9, legend: bool = True) -> str:
    """The posterior summary as a plain-text table with equal-tailed intervals.

    Parameters
    ----------
    fit
        A fitted or loaded :class:`~bayescale.scaling.fitting.ScalingFit`.
    ci_prob
        Probability of the equal-tailed credible interval.
    legend
        Explain the parameter names under the table.

    Returns
    -------
    str
    """
    table = fit.summary(ci_prob=ci_prob, ci_kind="eti")
    lb = next(c for c in table.columns if str(c).endswith("_lb"))
    ub = next(c for c in table.columns if str(c).endswith("_ub"))
    lo_pct, hi_pct = fmt_percent((1 - ci_prob) / 2), fmt_percent((1 + ci_prob) / 2)
    rows = []
    for name, row in table.iterrows():
        rows.append(
            [
                str(name),
                fmt_general(float(row["mean"])),
                fmt_general(float(row["sd"])),
                fmt_general(float(row[lb])),
                fmt_general(float(row[ub])),
                f"{float(row['ess_bulk']):.0f}",
                f"{float(row['r_hat']):.3f}",
            ]
        )
    headers = ["parameter", "mean", "sd", lo_pct, hi_pct, "ess_bulk", "r_hat"]
    title = (
        f"Posterior summary ({fmt_percent(ci_prob)} equal-tailed intervals: "
        f"{lo_pct} and {hi_pct} posterior quantiles)"
    )
    out = [title, render_table(headers, rows)]
    if legend:
        out.append("")
        out += [f"  {line}" for line in _parameter_legend(fit)]
    return "\n".join(out)


def _input_cols(frame: pd.DataFrame) -> list[str]:
    return [c for c in ("params", "tokens", "compute") if c in frame.columns]


def format_forecast(table: pd.DataFrame, *, metric: str) -> str:
    """A forecast table (from :meth:`ScalingFit.forecast`) with one line per point.

    Parameters
    ----------
    table
        The long table with ``quantity`` ``"curve"`` and ``"new_run"`` rows.
    metric
        Name of the forecast metric, for the title.

    Returns
    -------
    str
    """
    ci_prob = float(table["ci_prob"].iloc[0])
    pct = fmt_percent(ci_prob)
    inputs = _input_cols(table)
    rows = []
    for _, group in table.groupby("point", sort=True):
        by_q = {q: r for q, r in zip(group["quantity"], group.to_dict("records"), strict=True)}
        first = group.iloc[0]
        cells = [str(first["family"])] + [fmt_sci(float(first[c])) for c in inputs]
        cells.append(f"{float(first.get('extrapolation', 0.0)):.1f}")
        for quantity in ("curve", "new_run"):
            rec = by_q[quantity]
            cells += [
                fmt_value(float(rec["median"])),
                fmt_interval(float(rec["lower"]), float(rec["upper"])),
            ]
        rows.append(cells)
    headers = ["family"] + [INPUT_LABELS.get(c, c) for c in inputs] + ["beyond"]
    headers += ["curve median", f"curve {pct}", "new_run median", f"new_run {pct}"]
    lines = [
        f"Forecast of {metric} (medians and {pct} equal-tailed intervals)",
        render_table(headers, rows),
        "",
        f"  {CURVE_NOTE}",
        f"  {NEW_RUN_NOTE}",
    ]
    return "\n".join(lines)


def format_optimal(table: pd.DataFrame, *, metric: str, flops_per_param_token: float) -> str:
    """The compute-optimal table (from :func:`~bayescale.compute_optimal`), one block per budget.

    Parameters
    ----------
    table
        Long table with one row per (compute, family, quantity).
    metric
        Name of the metric, for the loss column.
    flops_per_param_token
        :math:`k` in :math:`C = k N D`, for the title.

    Returns
    -------
    str
    """
    ci_prob = float(table["ci_prob"].iloc[0])
    pct = fmt_percent(ci_prob)
    out = [
        f"Compute-optimal allocation (C = {flops_per_param_token:g} N D; medians and "
        f"{pct} equal-tailed intervals)"
    ]
    fmts: dict[str, Callable[[float], str]] = {
        "params": fmt_sci,
        "tokens": fmt_sci,
        "tokens_per_param": lambda v: fmt_general(v, 3),
        "loss": lambda v: fmt_value(v, 3),
    }
    for budget, block in table.groupby("compute", sort=True):
        rows = []
        for family, fam_rows in block.groupby("family", sort=False):
            recs = {r["quantity"]: r for r in fam_rows.to_dict("records")}
            cells = [str(family)]
            for quantity, fmt in fmts.items():
                rec = recs[quantity]
                cells += [
                    fmt(float(rec["median"])),
                    fmt_interval(float(rec["lower"]), float(rec["upper"]), fmt),
                ]
            rows.append(cells)
        headers = ["family", "N*", pct, "D*", pct, "D*/N*", pct, "loss", pct]
        out += ["", f"  budget C = {fmt_sci(float(budget))} FLOPs", render_table(headers, rows)]
    out += [
        "",
        "  N*, D*: parameters and tokens that minimise the fitted law at that budget",
        f"  loss: the fitted law (curve) for {metric} at (N*, D*)",
    ]
    return "\n".join(out)


def json_records(table: pd.DataFrame, **extra: Any) -> str:
    records = []
    for rec in table.to_dict("records"):
        clean = {**extra}
        for key, value in rec.items():
            if hasattr(value, "item"):
                value = value.item()
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            clean[str(key)] = value
        records.append(clean)
    return json.dumps(records, indent=2)


# -- argument parsing -------------------------------------------------------------------
def fit_header(path: str, fit: ScalingFit) -> str:
    """One line naming a saved fit: file, law, rows, metric and families."""
    return (
        f"Fit: {path} ({fit.law.spec} law, {fit.data.sizes['obs']} rows of {fit.metric}, "
        f"families {', '.join(fit.families)})"
    )
