"""A new family from 1-3 runs: hierarchical pooling vs the family alone (Hitchhiker's test).

Choshen et al. (2024) ask how well a scaling law for a new model family can be estimated
from a few small runs of it plus runs of other families. For each target family and
k = 1, 2, 3 this keeps the target's k smallest runs (by compute) and forecasts its large
held-out runs (N > ``--cut``; the target's other runs are dropped), with two fits:

``pooled``
    Hierarchical: the target's k runs plus **all** runs of the other families, every
    parameter of the Chinchilla law pooled (``pooling="pooled"``): the target's
    parameters are partially pooled towards the population of families.
``alone``
    The target's k runs only, the same law with bayescale's default (data-driven) priors.
    With one family nothing is pooled: all five parameters are the family's own, so with
    k <= 3 runs the fit is identified only through the priors. It is run anyway
    (``min_train_rows=1``) to show what the data of the family alone can say; a fit that
    raises is reported as not possible.

Both are :func:`bayescale.backtest.backtest` calls with the held-out runs given by label.
Scores are those of the new-run forecasts: ARE of the median and coverage of the 90 %
interval, per target and k, then averaged over target families (and metrics).

Usage::

    nice .venv/bin/python benchmarks/new_family.py --out bench_out/new_family
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd

import bayescale as bs
from bayescale.backtest import backtest
from bayescale.errors import ConvergenceWarning


def run_compute(df: pd.DataFrame) -> pd.Series:
    """Compute of each run (its largest row), by ``model`` label."""
    return df.groupby("model")["compute"].max()


def one_case(df: pd.DataFrame, target: str, k: int, cut: float, args) -> pd.DataFrame:
    fam = df[df["family"] == target]
    others = df[df["family"] != target]
    held_runs = sorted(fam.loc[fam["params"] > cut, "model"].unique())
    small = run_compute(fam[fam["params"] <= cut]).sort_values()
    kept = list(small.index[:k])
    part = fam[fam["model"].isin(kept + held_runs)]
    cases = {"pooled": (pd.concat([others, part]), "pooled"), "alone": (part, None)}
    tables = []
    for approach, (data, pooling) in cases.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                res = backtest(
                    data,
                    "chinchilla",
                    holdout=held_runs,
                    pooling={approach: pooling},
                    ci=(0.5, 0.9),
                    min_train_rows=1,
                    seed=args.seed,
                    draws=args.draws,
                    tune=args.tune,
                    chains=args.chains,
                )
                table = res.table
            except Exception as exc:  # a split the back-test refuses: report it
                table = pd.DataFrame({"error": [f"{type(exc).__name__}: {exc}"]})
        tables.append(table.assign(target=target, k=k, approach=approach, kept=",".join(kept)))
    return pd.concat(tables, ignore_index=True)


def summary(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    per_target = (
        table.groupby(["metric", "target", "k", "approach"], dropna=False)
        .apply(
            lambda g: pd.Series(
                {
                    "n": int(g["are"].notna().sum()),
                    "median_ARE_%": 100 * g["are"].median(),
                    "mean_ARE_%": 100 * g["are"].mean(),
                    "cov90": g["covered_90"].astype(float).mean(),
                    "width90_%": 100 * g["width_90"].mean(),
                    "converged": bool(g["converged"].fillna(False).astype(bool).all()),
                    "error": next((e for e in g["error"].fillna("") if e), ""),
                }
            ),
            include_groups=False,
        )
        .reset_index()
    )
    scored = per_target[per_target["n"] > 0]
    agg = (
        scored.groupby(["k", "approach"])
        .agg(
            targets=("target", "size"),
            median_ARE_pct=("median_ARE_%", "mean"),
            mean_ARE_pct=("mean_ARE_%", "mean"),
            cov90=("cov90", "mean"),
            width90_pct=("width90_%", "mean"),
            all_converged=("converged", "all"),
        )
        .reset_index()
    )
    return per_target, agg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metrics", default="loss_c4_val", help="gadre2024 metrics")
    parser.add_argument("--cut", type=float, default=1e9, help="held-out runs: N > cut")
    parser.add_argument("--ks", default="1,2,3")
    parser.add_argument("--targets", default="", help="families (default: all)")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench_out/new_family")
    args = parser.parse_args()
    print(f"settings: {vars(args)}", flush=True)
    start = time.perf_counter()
    all_data = bs.datasets.load("gadre2024")
    tables = []
    for metric in args.metrics.split(","):
        df = all_data[all_data["metric"] == metric].copy()
        df["family"] = df["family"].astype(str)
        df["model"] = df["model"].astype(str)
        targets = args.targets.split(",") if args.targets else sorted(df["family"].unique())
        for target in targets:
            for k in (int(x) for x in args.ks.split(",")):
                t0 = time.perf_counter()
                table = one_case(df, target, k, args.cut, args)
                table["metric"] = metric
                tables.append(table)
                print(
                    f"{metric} {target} k={k}: {time.perf_counter() - t0:.0f} s, kept "
                    f"{table['kept'].iloc[0]}",
                    flush=True,
                )
    table = pd.concat(tables, ignore_index=True)
    per_target, agg = summary(table)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_colwidth", 80)
    print(f"\ntotal {(time.perf_counter() - start) / 60:.1f} min")
    print("\nper target family:")
    print(per_target.round(3).to_string(index=False))
    print("\naveraged over target families (and metrics):")
    print(agg.round(3).to_string(index=False))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "new_family_table.csv", index=False)
    per_target.to_csv(out / "new_family_per_target.csv", index=False)
    agg.to_csv(out / "new_family_summary.csv", index=False)


if __name__ == "__main__":
    main()
