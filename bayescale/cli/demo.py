"""A worked example on real data: fit small runs, forecast larger held-out ones.

:func:`run_demo` (``bayescale demo`` on the command line) takes the C4 validation losses of
the 104 language models of Gadre et al. (2024) shipped as ``bayescale.datasets``
``"gadre2024"``, holds out every run with more than :data:`HOLDOUT_PARAMS` parameters (the
1.4B and 6.9B models), fits the Chinchilla law with exponents pooled across the three
training corpora on the rest, and checks whether the 90% intervals for a new run cover
what the held-out runs actually measured. It then forecasts a new corpus at 7B parameters
and 140B tokens, gives the compute-optimal allocation for a 1e22 FLOP budget, and writes
``fit.nc``, ``forecast.csv`` and ``fit.png``.

>>> from bayescale.cli.demo import run_demo
>>> result = run_demo("demo_output", draws=1000, tune=1000)   # doctest: +SKIP
>>> result["heldout"][["family", "params", "actual", "median", "covered"]]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from bayescale.scaling.report import (
    fmt_interval,
    fmt_percent,
    fmt_sci,
    fmt_value,
    format_diagnostics,
    format_forecast,
    format_optimal,
    format_summary,
    render_table,
)

__all__ = ["CI", "DATASET", "HOLDOUT_PARAMS", "METRIC", "STACKED_LAWS", "run_demo"]

DATASET = "gadre2024"
METRIC = "loss_c4_val"
#: Runs with more parameters than this are held out of the fit and forecast.
HOLDOUT_PARAMS = 1e9
#: Probability of every interval the demo prints.
CI = 0.9
NEW_FAMILY_POINT = {"params": 7e9, "tokens": 1.4e11}
#: With ``stacked=True``: the laws fitted beside chinchilla and mixed with it by their
#: stacking weights (:func:`bayescale.stacked_forecast`).
STACKED_LAWS = ("broken_power_law", "power_law:compute")
BUDGET = 1e22

_RULE = "=" * 78


def _section(title: str, out: TextIO) -> None:
    print(f"\n{title}\n{'-' * len(title)}", file=out)


def _heldout_table(fc: pd.DataFrame, heldout: pd.DataFrame, ci_prob: float) -> pd.DataFrame:
    """Compare the forecast ``fc`` of every held-out run with what it measured."""
    points = heldout[["family", "params", "tokens"]].reset_index(drop=True)
    new_run = fc[fc["quantity"] == "new_run"].set_index("point").sort_index()
    curve = fc[fc["quantity"] == "curve"].set_index("point").sort_index()
    actual = heldout["value"].to_numpy(dtype=float)
    table = pd.DataFrame(
        {
            "family": points["family"].astype(str).to_numpy(),
            "model": heldout["model"].astype(str).to_numpy()
            if "model" in heldout
            else [""] * len(points),
            "params": points["params"].to_numpy(dtype=float),
            "tokens": points["tokens"].to_numpy(dtype=float),
            "actual": actual,
            "curve_median": curve["median"].to_numpy(),
            "median": new_run["median"].to_numpy(),
            "lower": new_run["lower"].to_numpy(),
            "upper": new_run["upper"].to_numpy(),
        }
    )
    table["covered"] = (table["actual"] >= table["lower"]) & (table["actual"] <= table["upper"])
    table["abs_rel_error"] = (table["median"] - table["actual"]).abs() / table["actual"]
    table["ci_prob"] = ci_prob
    return table


def _print_heldout(table: pd.DataFrame, ci_prob: float, out: TextIO, explain: bool = True) -> None:
    pct = fmt_percent(ci_prob)
    rows = [
        [
            str(r.family),
            fmt_sci(r.params),
            fmt_sci(r.tokens),
            f"{r.tokens / r.params:.0f}",
            fmt_value(r.actual),
            fmt_value(r.median),
            fmt_interval(r.lower, r.upper),
            "yes" if r.covered else "NO",
            f"{100 * r.abs_rel_error:.2f}%",
        ]
        for r in table.itertuples()
    ]
    headers = ["family", "N", "D", "D/N", "actual", "forecast", f"{pct} new run", "covered", "ARE"]
    print(render_table(headers, rows), file=out)
    n_cov = int(table["covered"].sum())
    are = table["abs_rel_error"]
    print(
        f"\n  coverage: {n_cov} of {len(table)} held-out runs ({100 * n_cov / len(table):.0f}%) "
        f"inside their {pct} interval ({pct} expected if calibrated)",
        file=out,
    )
    print(
        f"  median absolute relative error (ARE = |forecast - actual| / actual): "
        f"{100 * float(are.median()):.2f}% (max {100 * float(are.max()):.2f}%)",
        file=out,
    )
    signed = (table["median"] - table["actual"]) / table["actual"]
    by_size = ", ".join(
        f"{fmt_sci(float(n))} {100 * float(e):+.2f}%"
        for n, e in signed.groupby(table["params"]).mean().items()
    )
    print(
        f"  bias, mean (forecast - actual) / actual by N (< 0: forecast too low): {by_size}",
        file=out,
    )
    mean_are = float(signed.abs().mean())
    print(f"  mean ARE: {100 * mean_are:.2f}%", file=out)
    if not explain:
        return
    runs, sources = _discrepancy_record()
    print(
        "  forecast = median for a new run. Its interval adds to the uncertainty of the law the\n"
        "  noise sigma (without repeated seeds it holds both run-to-run noise and the law's\n"
        f"  misfit) and the extrapolation discrepancy learned from {runs} held-out larger runs\n"
        f"  of {sources} sources (a drift and a spread that grow with the e-folds beyond the\n"
        "  largest fitted run; docs/forecasting.md). It cannot know this corpus' own bias: the\n"
        "  population's drift is about zero, so the interval, not the median, covers it.",
        file=out,
    )


def _discrepancy_record() -> tuple[int, int]:
    """Held-out runs and sources of the shipped discrepancy (its ``spec.json``)."""
    import json

    from bayescale.scaling.discrepancy import DISCREPANCY_REFERENCE
    from bayescale.scaling.reference import models_dir

    record = json.loads((models_dir() / DISCREPANCY_REFERENCE / "spec.json").read_text())
    return int(record["heldout_runs"]), len(record["sources"])


def run_demo(
    out_dir: str | os.PathLike[str] = "demo_output",
    draws: int = 1000,
    tune: int = 1000,
    seed: int = 0,
    *,
    chains: int = 4,
    progressbar: bool = True,
    stacked: bool = False,
    out: TextIO | None = None,
) -> dict[str, Any]:
    r"""Fit the Chinchilla law to the smaller runs of ``gadre2024`` and forecast the larger ones.

    Parameters
    ----------
    out_dir
        Folder for ``fit.nc``, ``forecast.csv`` and ``fit.png`` (created if needed).
    draws, tune, chains
        NUTS settings per chain.
    seed
        Seed of the sampler and of the forecasts.
    progressbar
        Show the sampler's progress bar.
    stacked
        Also fit the laws :data:`STACKED_LAWS` to the same runs and forecast the held-out
        runs with the stacking mixture of the three (:func:`bayescale.stacked_forecast`,
        weights from PSIS-LOO as :func:`arviz.compare` computes them):

        .. math:: p(\tilde y \mid y) = \textstyle\sum_l w_l\, p_l(\tilde y \mid y).
    out
        Stream for the report (default: standard output).

    Returns
    -------
    dict
        ``fit`` (the :class:`~bayescale.scaling.fitting.ScalingFit`), ``fit_path``,
        ``forecast_path``, ``plot_path`` (``None`` when plotting failed),
        ``diagnostics`` (:class:`~bayescale.core.diagnostics.Diagnostics`) and ``heldout``
        (DataFrame, one row per held-out run: ``family``, ``model``, ``params``,
        ``tokens``, ``actual``, ``curve_median``, ``median``, ``lower``, ``upper`` (the
        new-run forecast), ``covered``, ``abs_rel_error``, ``ci_prob``), and
        ``heldout_stacked`` (the same table for the stacked forecast, ``None`` without
        ``stacked``) and ``heldout_calibrated`` (for the fit with its spread calibrated on
        its own largest runs, :meth:`~bayescale.scaling.fitting.ScalingFit.calibrate_spread`).
    """
    from bayescale import datasets
    from bayescale.scaling.fitting import fit as fit_law
    from bayescale.scaling.optimal import compute_optimal

    out = out if out is not None else sys.stdout
    out_path = Path(out_dir)
    df = datasets.load(DATASET, metric=METRIC)
    big = df["params"] > HOLDOUT_PARAMS
    train, heldout = df.loc[~big].reset_index(drop=True), df.loc[big].reset_index(drop=True)
    families = sorted(df["family"].astype(str).unique())

    ratio = df["tokens"] / df["params"]
    sizes = ", ".join(
        f"{int(c)} at N = {fmt_sci(n)}" for n, c in heldout.groupby("params").size().items()
    )
    lines = [
        _RULE,
        "bayescale demo: forecast larger language models from smaller ones",
        _RULE,
        f"Data: '{DATASET}', Gadre et al. (2024), arXiv:2403.08540: validation loss on C4",
        f"      ({METRIC}, nats per token) of {len(df)} language models trained on "
        f"{len(families)} corpora",
        f"      (families {', '.join(families)});",
        f"      N = {fmt_sci(df['params'].min())} to {fmt_sci(df['params'].max())} parameters, "
        f"{ratio.min():.0f} to {ratio.max():.0f} tokens per parameter.",
        f"Fit:  the {len(train)} runs with N <= {fmt_sci(train['params'].max())}.",
        f"Held out, to test extrapolation: the {len(heldout)} runs with N > "
        f"{fmt_sci(HOLDOUT_PARAMS, 1)}",
        f"      ({sizes}), up to "
        f"{df['params'].max() / train['params'].max():.0f}x larger than any fitted model.",
        "Law:  chinchilla, L = E + A * N^-alpha + B * D^-beta; the exponents alpha and beta",
        "      pooled across families, E, A and B fitted per family.",
        f"NUTS: {chains} chains x {draws} draws (+{tune} tuning), seed {seed}.",
        "",
    ]
    print("\n".join(lines), file=out, flush=True)

    def fit_train(law: str) -> Any:
        """Fit ``law`` to the training runs with the demo's NUTS settings."""
        return fit_law(
            train,
            law,
            seed=seed,
            draws=draws,
            tune=tune,
            chains=chains,
            progressbar=progressbar,
            warn_convergence=False,
        )

    fit = fit_train("chinchilla")
    diag = fit.diagnostics

    _section(f"Fit to the {len(train)} runs with N <= {fmt_sci(train['params'].max())}", out)
    print(format_summary(fit, ci_prob=CI), file=out)
    print("", file=out)
    hint = f"Run again with more draws: bayescale demo --draws {2 * draws} --tune {2 * tune}."
    print(format_diagnostics(diag, rerun_hint=hint), file=out)

    _section(
        f"Forecasts of the {len(heldout)} held-out runs (N > {fmt_sci(HOLDOUT_PARAMS, 1)})", out
    )
    points = heldout[["family", "params", "tokens"]].reset_index(drop=True)
    table = _heldout_table(fit.forecast(points, ci_prob=CI), heldout, CI)
    _print_heldout(table, CI, out)
    _section("The same runs, the new-run spread calibrated on the fit's own largest runs", out)
    calibrated = fit.calibrate_spread(seed=seed)
    cal = calibrated.idata["spread_calibration"].dataset
    factor = cal["factor"].values
    lo, hi = (float(q) for q in np.quantile(factor, [0.05, 0.95]))
    print(
        f"  The law fitted again to the {cal.attrs['inner_runs_fitted']} runs with N <= "
        f"{fmt_sci(cal.attrs['cut'])} forecasts the {cal.sizes['inner_run']} runs above them.\n"
        f"  Inner fit: {cal.attrs['inner_diagnostics']}.\n"
        f"  Their errors against its spread give a factor on the fit's own spread of "
        f"{float(np.median(factor)):.2f} [{lo:.2f}, {hi:.2f}]\n"
        "  (fit.calibrate_spread(); docs/forecasting.md). Medians unchanged, intervals:\n",
        file=out,
    )
    calibrated_table = _heldout_table(calibrated.forecast(points, ci_prob=CI), heldout, CI)
    _print_heldout(calibrated_table, CI, out, explain=False)
    stacked_table = None
    if stacked:
        from bayescale.scaling.stacking import stacked_forecast

        _section("The same runs, stacked over three laws", out)
        fits = {"chinchilla": fit}
        for law in STACKED_LAWS:
            fits[law] = fit_train(law)
            print(f"  {law}: {format_diagnostics(fits[law].diagnostics)}", file=out)
        stacked_fc = stacked_forecast(fits, points, ci_prob=CI, seed=seed)
        weights = ", ".join(f"{k} {w:.2f}" for k, w in stacked_fc.attrs["weights"].items())
        print(f"  stacking weights (PSIS-LOO, as arviz.compare): {weights}\n", file=out)
        stacked_table = _heldout_table(stacked_fc, heldout, CI)
        _print_heldout(stacked_table, CI, out, explain=False)

    n_new, d_new = NEW_FAMILY_POINT["params"], NEW_FAMILY_POINT["tokens"]
    _section(f"A new corpus at N = {fmt_sci(n_new)}, D = {fmt_sci(d_new)}", out)
    print(
        "A family not in the fit: alpha and beta come from their population, but E, A and B\n"
        "(fitted per family) from their priors, so this interval is far wider than those above.\n"
        "To borrow strength across corpora for E, A and B too, fit with --pooling pooled.\n",
        file=out,
    )
    new_fc = fit.forecast(NEW_FAMILY_POINT, ci_prob=CI, family=None, seed=seed)
    print(format_forecast(new_fc, metric=METRIC), file=out)
    largest = heldout[heldout["params"] == heldout["params"].max()]
    if len(largest):
        print(
            f"\n  For comparison, the {len(largest)} held-out runs at N = "
            f"{fmt_sci(float(largest['params'].iloc[0]))} measured "
            f"{fmt_value(float(largest['value'].min()))} to "
            f"{fmt_value(float(largest['value'].max()))}.",
            file=out,
        )

    _section("Compute-optimal allocation, per family", out)
    opt = compute_optimal(fit, BUDGET, ci_prob=CI, family="all", seed=seed)
    print(format_optimal(opt, metric=METRIC, flops_per_param_token=6.0), file=out)

    _section("Files", out)
    fit_path = fit.save(out_path / "fit.nc")
    forecast_path = out_path / "forecast.csv"
    table.to_csv(forecast_path, index=False)
    print(f"  {fit_path}: the fit. Next, e.g.:", file=out)
    print(
        f"      bayescale forecast {fit_path} --params 7e9 --tokens 1.4e11 --family rpj",
        file=out,
    )
    print(f"  {forecast_path}: the held-out forecasts above", file=out)
    plot_path: Path | None = out_path / "fit.png"
    try:
        fit.plot(plot_path, points=heldout[["family", "params", "tokens", "value"]])
        print(
            f"  {plot_path}: data, fitted curves with {fmt_percent(CI)} bands, held-out runs "
            "as stars with their forecasts",
            file=out,
        )
    except Exception as exc:  # the fit and forecasts are saved; report and go on
        plot_path = None
        print(f"  (no fit.png: plotting failed: {exc!r})", file=out)
    if diag is not None and not diag.ok:
        print(f"\n{format_diagnostics(diag, rerun_hint=hint)}", file=out)
    return {
        "fit": fit,
        "fit_path": fit_path,
        "forecast_path": forecast_path,
        "plot_path": plot_path,
        "diagnostics": diag,
        "heldout": table,
        "heldout_stacked": stacked_table,
        "heldout_calibrated": calibrated_table,
    }
