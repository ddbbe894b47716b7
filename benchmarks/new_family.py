"""A new family from 1-3 of its own runs: alone, reference prior, joint hierarchy.

Choshen et al. (2024, "A Hitchhiker's Guide to Scaling Law Estimation") ask how well the
scaling law of a new model family can be estimated from a few small runs of it, helped by
runs of other families. For each target family and k = 1, 2, 3 the target keeps the runs of
its **k smallest model sizes** (one run per size) and the forecasts of its larger runs are
scored:

kept runs
    ``gadre2024`` (one row per run, several token budgets per size): per size, the run
    whose tokens per parameter are nearest ``--tpp`` (20, the compute-optimal ratio).
    ``colpret2024`` (loss curves, one run per size): every kept checkpoint of the run.
held-out rows
    The final checkpoint (for ``gadre2024`` the only row) of every run of the target with
    N > ``--cut``; without ``--cut``, every size larger than the ``max(ks)``-th smallest,
    so the held-out rows are the same for every k. The target's other runs are dropped.

Three fits per (target, k), all scored on the same held-out rows by
:func:`bayescale.scaling.backtest.backtest` (held-out runs given by label):

``alone``
    The target's kept runs only, the Chinchilla law with bayescale's default data-driven
    priors. With one family nothing is pooled, so all five parameters (E, A, B, alpha,
    beta) are the family's own. With k = 1 (one model size) the N-dependence (A, alpha) is
    the prior's, so the forecast is prior-dominated; it is kept to show what the family
    alone can say (``min_train_rows=1``).
``alone+ref``
    The same data and law, ``prior=<ScalingFit of the OTHER families>``: the other
    families are fitted once per target (all their runs, default pooling: exponents
    pooled, E, A, B per family) and that posterior's population of exponents becomes the
    alpha and beta priors (:mod:`bayescale.scaling.reference`). The reference never contains the
    target.
``joint``
    The other families' runs plus the target's kept runs in one fit, default pooling
    (exponents alpha, beta partially pooled across families; E, A, B per family).

Reported per target and k, then averaged over target families: ARE of the posterior
median, coverage and relative width of the 90 % new-run interval, and convergence.

Usage::

    nice .venv/bin/python benchmarks/new_family.py --data gadre2024 --out bench_out/new_family
    nice .venv/bin/python benchmarks/new_family.py --data colpret2024 --out bench_out/new_family
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
from bayescale.scaling.backtest import backtest

COLPRET_FAMILIES = ("GPT-3", "OPT", "OLMo", "datablations-c4-1ep", "datablations-oscar-1ep")
ARMS = ("alone", "alone+ref", "joint")


def load(name: str, metric: str) -> pd.DataFrame:
    """The data set: ``gadre2024`` one metric, ``colpret2024`` the loss curves."""
    if name == "gadre2024":
        df = bs.datasets.load("gadre2024")
        df = df[df["metric"] == metric].copy()
    elif name == "colpret2024":
        from bayescale.scaling.checkpoints import drop_early_checkpoints, thin_checkpoints

        df = bs.datasets.load("colpret2024", metric="loss")
        df = df[df["family"].isin(COLPRET_FAMILIES)].copy()
        df = drop_early_checkpoints(df, min_tokens=1e10)
        df = thin_checkpoints(df, per_run=12)
    else:
        raise SystemExit(f"unknown data set {name!r}")
    df["family"] = df["family"].astype(str)
    df["model"] = df["model"].astype(str)
    return df.reset_index(drop=True)


def one_run_per_size(fam: pd.DataFrame, tpp: float) -> pd.Series:
    """Per model size, the run whose final tokens per parameter is nearest ``tpp``."""
    final = fam.groupby("model").agg(params=("params", "first"), tokens=("tokens", "max"))
    final["dist"] = np.abs(np.log(final["tokens"] / final["params"] / tpp))
    best = final.sort_values("dist").groupby("params").head(1).sort_values("params")
    return pd.Series(best.index, index=best["params"].to_numpy())


def split(fam: pd.DataFrame, k: int, k_max: int, cut: float | None, tpp: float):
    """Kept rows (k smallest sizes), held-out rows (final checkpoints) and their labels."""
    per_size = one_run_per_size(fam, tpp)
    sizes = per_size.index.to_numpy()
    if cut is None:
        cut = sizes[k_max - 1]
    kept_runs = list(per_size.iloc[:k])
    held_runs = sorted(fam.loc[fam["params"] > cut, "model"].unique())
    kept = fam[fam["model"].isin(kept_runs)]
    held = fam[fam["model"].isin(held_runs)]
    held = held[held["tokens"] == held.groupby("model")["tokens"].transform("max")]
    return kept, held, kept_runs, held_runs


def fit_others(others: pd.DataFrame, args):
    """The population fit of the other families (the reference prior of ``alone+ref``)."""
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = bs.fit(
            others,
            law="chinchilla",
            seed=args.seed,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            run_effects=args.run_effects,
            progressbar=False,
        )
    ok = bool(ref.diagnostics and ref.diagnostics.ok)
    return ref, ok, str(ref.diagnostics), time.perf_counter() - t0


def one_case(df, target, k, ref, args) -> pd.DataFrame:
    fam = df[df["family"] == target]
    others = df[df["family"] != target]
    cut = args.cut if args.cut > 0 else None
    kept, held, kept_runs, held_runs = split(fam, k, args.k_max, cut, args.tpp)
    part = pd.concat([kept, held])
    cases = {
        "alone": (part, {}),
        "alone+ref": (part, {"prior": ref}),
        "joint": (pd.concat([others, part]), {}),
    }
    tables = []
    for arm in args.arms.split(","):
        data, extra = cases[arm]
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                res = backtest(
                    data,
                    "chinchilla",
                    holdout=held_runs,
                    pooling={arm: None},
                    ci_prob=(0.5, 0.9),
                    min_train_rows=1,
                    seed=args.seed,
                    draws=args.draws,
                    tune=args.tune,
                    chains=args.chains,
                    run_effects=args.run_effects,
                    **extra,
                )
                table = res.table
            except Exception as exc:  # a split the back-test refuses: report it
                table = pd.DataFrame({"error": [f"{type(exc).__name__}: {exc}"]})
        tables.append(
            table.assign(
                target=target,
                k=k,
                arm=arm,
                kept=",".join(kept_runs),
                n_kept_rows=len(kept),
                seconds=time.perf_counter() - t0,
            )
        )
    print(
        f"  {target} k={k}: kept {kept_runs} ({len(kept)} rows), held out {len(held)} rows "
        f"(N {held['params'].min():.3g}-{held['params'].max():.3g})",
        flush=True,
    )
    return pd.concat(tables, ignore_index=True)


def summary(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    per_target = (
        table.groupby(["data", "target", "k", "arm"], dropna=False, sort=False)
        .apply(
            lambda g: pd.Series(
                {
                    "n": int(g["are"].notna().sum()),
                    "median_ARE_%": 100 * g["are"].median(),
                    "mean_ARE_%": 100 * g["are"].mean(),
                    "cov90": g["covered_90"].astype(float).mean(),
                    "width90_%": 100 * g["width_90"].mean(),
                    "extrap": g["extrapolation"].mean(),
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
        scored.groupby(["data", "k", "arm"], sort=False)
        .agg(
            targets=("target", "size"),
            rows=("n", "sum"),
            median_ARE_pct=("median_ARE_%", "mean"),
            mean_ARE_pct=("mean_ARE_%", "mean"),
            cov90=("cov90", "mean"),
            width90_pct=("width90_%", "mean"),
            converged=("converged", "sum"),
        )
        .reset_index()
    )
    return per_target, agg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="gadre2024", help="gadre2024 or colpret2024")
    parser.add_argument("--metric", default="loss_c4_val", help="gadre2024 metric (colpret: loss)")
    parser.add_argument(
        "--cut", type=float, default=None, help="held out: N > cut (0: sizes beyond max(ks))"
    )
    parser.add_argument("--tpp", type=float, default=20.0, help="kept run: tokens/param")
    parser.add_argument("--ks", default="1,2,3")
    parser.add_argument("--targets", default="", help="families (default: >= --min-sizes)")
    parser.add_argument("--min-sizes", type=int, default=4)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=700)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument(
        "--run-effects",
        default="auto",
        choices=("auto", "on", "off"),
        help="run-level effect of every fit (auto: bayescale's default, on for curves)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench_out/new_family")
    args = parser.parse_args()
    args.run_effects = {"auto": None, "on": True, "off": False}[args.run_effects]
    if args.cut is None:
        args.cut = 1e9 if args.data == "gadre2024" else 0.0
    ks = [int(x) for x in args.ks.split(",")]
    args.k_max = max(ks)
    print(f"settings: {vars(args)}", flush=True)
    start = time.perf_counter()
    df = load(args.data, args.metric)
    n_sizes = df.groupby("family")["params"].nunique()
    targets = (
        args.targets.split(",")
        if args.targets
        else sorted(n_sizes[n_sizes >= args.min_sizes].index)
    )
    tables, refs = [], []
    for target in targets:
        t0 = time.perf_counter()
        ref, ok, diag, secs = (None, True, "", 0.0)
        if "alone+ref" in args.arms:
            ref, ok, diag, secs = fit_others(df[df["family"] != target], args)
            refs.append({"target": target, "converged": ok, "seconds": secs, "diagnostics": diag})
            print(f"{target}: reference of the other families {secs:.0f} s, {diag}", flush=True)
        for k in ks:
            table = one_case(df, target, k, ref, args)
            table["data"] = args.data
            tables.append(table)
        print(f"{target}: {time.perf_counter() - t0:.0f} s", flush=True)
    table = pd.concat(tables, ignore_index=True)
    per_target, agg = summary(table)
    minutes = (time.perf_counter() - start) / 60
    pd.set_option("display.width", 250)
    pd.set_option("display.max_colwidth", 120)
    print(f"\ntotal {minutes:.1f} min")
    if refs:
        print("\nreference fits (other families):")
        print(pd.DataFrame(refs).round(1).to_string(index=False))
    print("\nper target family:")
    print(per_target.drop(columns="error").round(3).to_string(index=False))
    errors = per_target[per_target["error"] != ""]
    for _, r in errors.iterrows():
        print(f"  error: {r['target']} k={r['k']} {r['arm']}: {r['error']}")
    print("\naveraged over target families (converged = fits that converged):")
    print(agg.round(3).to_string(index=False))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"{args.data}_table.csv", index=False)
    per_target.to_csv(out / f"{args.data}_per_target.csv", index=False)
    agg.to_csv(out / f"{args.data}_summary.csv", index=False)
    if refs:
        pd.DataFrame(refs).to_csv(out / f"{args.data}_references.csv", index=False)


if __name__ == "__main__":
    main()
