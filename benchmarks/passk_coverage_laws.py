"""Coverage-curve laws on the Pythia MATH counts: LOO comparison, exponents, forecasts.

Data: ``../shared/data/monkeys_pythia_math/pythia_math_per_problem_counts.csv`` (7 Pythia
sizes x 128 MATH problems x 10,000 attempts, from Brown et al. 2024; not shipped: no
licence stated). For each law of :mod:`bayescale.passk.coverage_laws`:

1. fit all 7 curves (k = 1, 2, 4, ..., 8192, 10000); PSIS-LOO comparison over the 105
   points (``compare_coverage_laws``), plus the ELPD of each model's 15 points;
2. the exponent per model (posterior median, 90 % interval) against the empirical
   exponent (least-squares slope of -log(1 - C) on log k over k in [100, 1000] and over
   [1000, 10000]);
3. forecast back-tests: (a) fit on the points with k <= 100 computed from all 10,000
   attempts; (b) fit on a hypergeometric subsample of 100 attempts per problem
   (``subsample_counts``, seed 0; points k = 1, ..., 64, 100). Forecast coverage at
   k = 1,000 and 10,000 and compare with the coverage from all attempts: absolute error
   of the posterior median and whether the 90 % interval covers (the law's curve, and
   the predictive interval that adds the fitted logit-scale noise sigma).

Usage::

    nice .venv/bin/python benchmarks/passk_coverage_laws.py   # about 4 minutes on 2 cores
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.passk.coverage_laws import (
    LAWS,
    compare_coverage_laws,
    coverage_points,
    empirical_exponent,
    fit_coverage_law,
)
from bayescale.passk.estimator import coverage_curve, subsample_counts

DATA = (
    Path(
        os.environ.get(
            "BAYESCALE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    / "monkeys_pythia_math"
    / "pythia_math_per_problem_counts.csv"
)
FORECAST_K = (1000, 10000)
CI = 0.9


def md(frame: pd.DataFrame, floatfmt: str = ".3f", index: bool = True) -> str:
    """A DataFrame as a Markdown table (without the optional ``tabulate`` package)."""
    if index:
        frame = frame.reset_index()
    cells = [
        [format(v, floatfmt) if isinstance(v, float) else str(v) for v in row]
        for row in frame.itertuples(index=False)
    ]
    head = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def fit_all(counts: pd.DataFrame, label: str, **kwargs: object) -> dict:
    fits = {}
    for law in LAWS:
        t0 = time.perf_counter()
        fits[law] = fit_coverage_law(counts, law, **kwargs)  # type: ignore[arg-type]
        print(
            f"[{label}] {law}: {time.perf_counter() - t0:.1f} s, {fits[law].diagnostics}",
            flush=True,
        )
    return fits


def loo_section(fits: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = compare_coverage_laws(fits, warn=False)
    print("\n## LOO comparison, all 7 models (105 points)\n")
    cols = ["rank", "elpd", "se", "elpd_diff", "dse", "p", "weight"]
    print(md(cmp.table[cols], ".2f"))
    print("\nPareto k > 0.7:", cmp.high_k)
    per_model = {}
    for law, loo in cmp.loo.items():
        elpd_i = np.asarray(loo.elpd_i).ravel()
        models = fits[law].data["model_label"].values
        per_model[law] = pd.Series(elpd_i).groupby(models, sort=False).sum()
    frame = pd.DataFrame(per_model)
    frame["best"] = frame.idxmax(axis=1)
    print("\n## ELPD per model (sum over its 15 points)\n")
    print(md(frame, ".1f"))


def exponent_section(fits: dict, points: pd.DataFrame) -> None:
    emp1 = empirical_exponent(points, k_range=(100, 1000))
    emp2 = empirical_exponent(points, k_range=(1000, 10000))
    rows = {}
    for law, f in fits.items():
        e = f.exponent(ci_prob=CI)
        rows[law] = [
            f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
            for m, lo, hi in zip(e["median"], e["lower"], e["upper"], strict=True)
        ]
    frame = pd.DataFrame(rows, index=emp1.index)
    frame["empirical [100, 1000]"] = emp1.map("{:.3f}".format)
    frame["empirical [1000, 10000]"] = emp2.map("{:.3f}".format)
    print("\n## Exponent per model: median [90% interval]\n")
    print(md(frame))
    ceil = {
        law: f.idata["posterior"].dataset["ceiling"].median(("chain", "draw")).to_series()
        for law, f in fits.items()
        if LAWS[law]
    }
    ceil_frame = pd.DataFrame(ceil)
    ceil_frame["solved at k=10000"] = points[points["k"] == points["k"].max()].set_index("model")[
        "coverage"
    ]
    print("\n## Ceiling 1 - pi (posterior median) vs coverage at k = 10,000\n")
    print(md(ceil_frame))


def forecast_section(fits: dict, truth: pd.DataFrame, label: str) -> pd.DataFrame:
    rows = []
    for law, f in fits.items():
        for predictive in (False, True):
            fc = f.coverage(FORECAST_K, ci_prob=CI, predictive=predictive)
            fc = fc.merge(truth, on=["model", "k"])
            for r in fc.itertuples():
                rows.append(
                    {
                        "setting": label,
                        "law": law,
                        "band": "predictive" if predictive else "law",
                        "model": r.model,
                        "k": r.k,
                        "true": r.true,
                        "median": r.median,
                        "lower": r.lower,
                        "upper": r.upper,
                        "abs_err": abs(r.median - r.true),
                        "covered": bool(r.lower <= r.true <= r.upper),
                    }
                )
    out = pd.DataFrame(rows)
    agg = (
        out.groupby(["law", "k", "band"], sort=False)
        .agg(
            mean_abs_err=("abs_err", "mean"),
            max_abs_err=("abs_err", "max"),
            covered=("covered", "sum"),
            n=("covered", "size"),
        )
        .reset_index()
    )
    agg = (
        agg[agg["band"] == "law"]
        .drop(columns="band")
        .merge(
            agg[agg["band"] == "predictive"][["law", "k", "covered"]].rename(
                columns={"covered": "covered_predictive"}
            ),
            on=["law", "k"],
        )
    )
    print(f"\n## Forecast back-test: {label}\n")
    print(md(agg, index=False))
    return out


def main() -> int:
    if not DATA.exists():
        print(f"data not found: {DATA}", file=sys.stderr)
        return 1
    t_start = time.perf_counter()
    counts = pd.read_csv(DATA)
    counts = counts.rename(columns={"problem_idx": "problem"})[
        ["model", "problem", "n_samples", "n_correct"]
    ]
    points = coverage_points(counts)
    truth_rows = []
    for model, g in counts.groupby("model", sort=False):
        k, cov = coverage_curve(g["n_samples"], g["n_correct"], FORECAST_K)
        truth_rows += [
            {"model": model, "k": float(kk), "true": c} for kk, c in zip(k, cov, strict=True)
        ]
    truth = pd.DataFrame(truth_rows)

    fits = fit_all(counts, "all points")
    loo_section(fits)
    exponent_section(fits, points)

    details = []
    fits_cut = fit_all(counts, "k <= 100", k_max=100)
    details.append(forecast_section(fits_cut, truth, "fit on k <= 100 (all 10,000 attempts)"))
    sub = counts.copy()
    sub["n_correct"] = subsample_counts(sub["n_samples"], sub["n_correct"], 100, seed=0)
    sub["n_samples"] = 100
    fits_sub = fit_all(sub, "100 attempts")
    details.append(forecast_section(fits_sub, truth, "fit on 100 attempts per problem"))
    detail = pd.concat(details, ignore_index=True)
    print("\n## Forecast details (law band)\n")
    shown = detail[detail["band"] == "law"].drop(columns="band")
    print(md(shown, index=False))
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
