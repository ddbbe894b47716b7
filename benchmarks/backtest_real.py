"""Back-tests on real multi-family data: shared vs pooled vs independent exponents.

For each data set, fits every pooling choice with :func:`bayescale.scaling.backtest.backtest` on
the smaller runs and forecasts the held-out larger ones; prints, side by side, the ARE of
the posterior median, the coverage and relative width of the 50/80/90/95 % new-run
intervals and the log predictive density, over held-out rows (``scores``) and averaged over
(family, metric) groups (``aggregate``), and writes every table as CSV under ``--out``.

Data sets (``--data``, comma-separated):

``gadre2024``
    The shipped Gadre et al. (2024) runs: 3 corpora x the metrics of ``--metrics``; the
    runs with N > ``--cut`` (default 1e9: the 1.4B and 6.9B runs, 3 per corpus) are
    held out.
``colpret2024``
    The shipped ColPret (Choshen et al. 2024) ``loss`` curves of the families with at
    least two model sizes (GPT-3, OPT, T5-Pile, OLMo); per run, ``--checkpoints``
    log-spaced checkpoints from the last 70 % of training (tokens >= 0.3 x final); the
    largest run of each family (all its kept checkpoints) is held out. Losses of different
    families are measured on different corpora and tokenizers.

Pooling choices (the scale parameters ``A``, ``B`` and the offset ``E`` keep the default,
independent per family): ``exp-shared``, ``exp-pooled``, ``exp-independent`` set the
exponents alpha and beta; ``all-pooled`` pools every parameter (``pooling="pooled"``).

Usage::

    nice .venv/bin/python benchmarks/backtest_real.py --out bench_out/backtest
    nice .venv/bin/python benchmarks/backtest_real.py --data gadre2024 \\
        --metrics loss_c4_val,loss_openlm --draws 1000 --tune 1000 --chains 4
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale.core.errors import ConvergenceWarning
from bayescale.scaling.backtest import BacktestResult, backtest

POOLINGS = {
    "exp-shared": {"exponent": "shared"},
    "exp-pooled": {"exponent": "pooled"},
    "exp-independent": {"exponent": "independent"},
    "all-pooled": "pooled",
}
GADRE_METRICS = "loss_c4_val,loss_paloma_dolma_100_programing_languages"
COLPRET_FAMILIES = ("GPT-3", "OPT", "T5-Pile", "OLMo")
LEVELS = ("50", "80", "90", "95")


def colpret_loss(n_checkpoints: int) -> pd.DataFrame:
    """ColPret loss curves, thinned to ``n_checkpoints`` per run from the last 70 %."""
    df = bs.datasets.load("colpret2024", metric="loss")
    df = df[df["family"].isin(COLPRET_FAMILIES)].copy()
    df["family"] = df["family"].astype(str)
    df["model"] = df["model"].astype(str)
    keep = []
    for _, run in df.groupby("model"):
        final = run["tokens"].max()
        late = run[run["tokens"] >= 0.3 * final].sort_values("tokens")
        if len(late) > n_checkpoints:
            targets = np.geomspace(late["tokens"].min(), final, n_checkpoints)
            idx = sorted(
                {
                    int(np.argmin(np.abs(np.log(late["tokens"].to_numpy()) - np.log(t))))
                    for t in targets
                }
            )
            late = late.iloc[idx]
        keep.append(late)
    return pd.concat(keep, ignore_index=True)


def largest_run_per_family(df: pd.DataFrame) -> np.ndarray:
    """Mask of the rows of each family's largest run (by parameters)."""
    return (df["params"] == df.groupby("family")["params"].transform("max")).to_numpy()


def side_by_side(result: BacktestResult, which: str) -> pd.DataFrame:
    frame = getattr(result, which).copy()
    cols = ["pooling", "n_rows", "n_groups", "mean_are", "median_are"]
    cols += [f"coverage_{lab}" for lab in LEVELS] + [f"width_{lab}" for lab in LEVELS]
    cols += ["mean_lpd"]
    if "n_unconverged" in frame:
        cols.insert(3, "n_unconverged")
    frame = frame[[c for c in cols if c in frame]]
    for c in frame.columns:
        if c.endswith("are") or c.startswith("width_"):
            frame[c] = (100 * frame[c]).round(2)
    return frame.rename(
        columns={"mean_are": "mean_ARE_%", "median_are": "median_ARE_%"}
        | {f"width_{lab}": f"width{lab}_%" for lab in LEVELS}
        | {f"coverage_{lab}": f"cov{lab}" for lab in LEVELS}
    )


def run_case(name: str, data: pd.DataFrame, holdout, args, metrics=None) -> BacktestResult:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = backtest(
            data,
            "chinchilla",
            holdout=holdout,
            pooling={k: POOLINGS[k] for k in args.poolings.split(",")},
            metric=metrics,
            seed=args.seed,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
        )
    minutes = (time.perf_counter() - start) / 60
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    print(f"\n=== {name}: {minutes:.1f} min ===")
    print(res.holdout.to_string(index=False))
    print("\nover held-out rows:")
    print(side_by_side(res, "scores").to_string(index=False))
    print("\nmean over (family, metric) groups:")
    print(side_by_side(res, "aggregate").to_string(index=False))
    bad = res.table.drop_duplicates(["metric", "pooling"])
    bad = bad[~bad["converged"].astype(bool)]
    for _, r in bad.iterrows():
        print(f"  not converged: {r['metric']} / {r['pooling']}: {r['error'] or r['diagnostics']}")
    out = Path(args.out)
    res.to_csv(out, prefix=f"{name}_")
    res.plot(out / f"{name}.png")
    side_by_side(res, "scores").to_csv(out / f"{name}_side_by_side_rows.csv", index=False)
    side_by_side(res, "aggregate").to_csv(out / f"{name}_side_by_side_groups.csv", index=False)
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="gadre2024,colpret2024")
    parser.add_argument("--metrics", default=GADRE_METRICS, help="gadre2024 metrics, or 'all'")
    parser.add_argument("--cut", type=float, default=1e9, help="gadre2024: hold out N > cut")
    parser.add_argument("--checkpoints", type=int, default=6, help="colpret2024: per run")
    parser.add_argument("--poolings", default=",".join(POOLINGS))
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench_out/backtest")
    args = parser.parse_args()
    print(f"settings: {vars(args)}")
    for name in args.data.split(","):
        if name == "gadre2024":
            df = bs.datasets.load("gadre2024")
            metrics = None if args.metrics == "all" else args.metrics.split(",")
            run_case(name, df, {"params": args.cut}, args, metrics)
        elif name == "colpret2024":
            df = colpret_loss(args.checkpoints)
            run_case(name, df, largest_run_per_family, args)
        else:
            raise SystemExit(f"unknown data set {name!r}")


if __name__ == "__main__":
    main()
