"""pass@k on real counts: forecasts from few attempts, a held-out model size, the exponent.

Data: Brown et al. (2024) repeated sampling of 7 Pythia sizes on 128 MATH problems with
10,000 attempts each (``../shared/data/monkeys_pythia_math``; not shipped: no licence).
The "truth" is the unbiased coverage (Chen et al.) from all 10,000 attempts.

1. **Speed.** The hierarchical zero-inflated Beta-binomial fit of all 7 x 128 counts:
   wall time of ``bayescale.passk.fit`` (compile + 4 chains x (1000 tune + 1000 draws)).
2. **Few attempts.** Keep ``n'`` attempts per problem (hypergeometric thinning,
   ``subsample_counts``), fit, forecast the coverage of the same problems at
   k = 10 n' ... 10,000; absolute error of the posterior median and whether the 90 %
   interval covers, over ``--reps`` subsamples.
3. **A held-out size.** Leave each model size out in turn, fit the other six (``n'``
   attempts), forecast the held-out size from the trend (coverage of 128 new problems),
   score at k = 1 ... 10,000 against its real coverage.
4. **The exponent.** Brown et al.'s empirical law, coverage = exp(c k^-b), gives b as the
   least-squares slope of log(-log coverage) on log k (k = 10 ... 10,000, all attempts).
   The same regression applied to each posterior draw of the coverage curve gives the
   posterior of b implied by the model; reported with the model's own exponent a.

Usage::

    python benchmarks/passk_forecast.py [--reps 2] [--n-keep 100] [--out bench_out/passk]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

DATA = (
    Path(
        os.environ.get(
            "BAYESCALE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    / "monkeys_pythia_math"
)
K_EVAL = np.array([10, 100, 1000, 10000])
K_EXP = np.unique(np.round(np.logspace(1, 4, 13)))


def real_coverage(counts: pd.DataFrame, ks: np.ndarray) -> pd.DataFrame:
    from bayescale.passk import coverage_curve

    rows = []
    for m, g in counts.groupby("model", sort=False):
        kk, cov = coverage_curve(g["n_samples"], g["n_correct"], ks)
        rows += [
            {"model": m, "k": float(a), "real": float(c)} for a, c in zip(kk, cov, strict=True)
        ]
    return pd.DataFrame(rows)


def brown_exponent(k: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Slope -b of log(-log coverage) on log k; ``cov`` has k on its last axis."""
    y = np.log(-np.log(np.clip(cov, 1e-300, 1 - 1e-15)))
    x = np.log(k) - np.log(k).mean()
    return -(y - y.mean(axis=-1, keepdims=True)) @ x / (x @ x)


def score(table: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    out = table.merge(real, on=["model", "k"])
    out["abs_err"] = (out["median"] - out["real"]).abs()
    out["covered"] = (out["lower"] <= out["real"]) & (out["real"] <= out["upper"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--n-keep", type=int, default=100)
    parser.add_argument("--out", default="bench_out/passk")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    from bayescale import passk

    t_import = time.perf_counter() - t0
    counts = pd.read_csv(DATA / "pythia_math_per_problem_counts.csv")
    real = real_coverage(counts, np.concatenate([K_EVAL, [1.0]]))

    # 1. speed, and the exponent from all attempts
    t = time.perf_counter()
    full = passk.fit(counts, progressbar=False)
    t_full = time.perf_counter() - t
    print(f"import bayescale.passk: {t_import:.1f} s")
    print(
        f"full fit, 7 models x 128 problems x 10,000 attempts: {t_full:.1f} s; {full.diagnostics}"
    )

    # 4. exponents
    emp = []
    for m, g in counts.groupby("model", sort=False):
        kk, cov = passk.coverage_curve(g["n_samples"], g["n_correct"], K_EXP)
        emp.append((m, float(brown_exponent(kk, cov))))
    draws = full.coverage_draws(K_EXP, max_draws=1000)
    implied = brown_exponent(K_EXP, draws.values)  # chain, draw, model
    a_tab = full.exponent(ci_prob=0.9).set_index("model")
    rows = []
    for i, (m, b_emp) in enumerate(emp):
        lo, med, hi = np.quantile(implied[..., i], [0.05, 0.5, 0.95])
        rows.append(
            {
                "model": m,
                "brown_b_empirical": b_emp,
                "brown_b_model_median": med,
                "brown_b_model_lower": lo,
                "brown_b_model_upper": hi,
                "a_median": a_tab.loc[m, "median"],
                "a_lower": a_tab.loc[m, "lower"],
                "a_upper": a_tab.loc[m, "upper"],
            }
        )
    exps = pd.DataFrame(rows)
    exps["b_covered"] = (exps.brown_b_model_lower <= exps.brown_b_empirical) & (
        exps.brown_b_empirical <= exps.brown_b_model_upper
    )
    exps.to_csv(out / "exponents.csv", index=False)
    print("\nexponents (full data): Brown's b empirical vs implied by the model; model's a")
    print(exps.round(3).to_string(index=False))

    # 2. few attempts
    scored = []
    times = []
    for rep in range(args.reps):
        small = counts.copy()
        small["n_correct"] = passk.subsample_counts(
            counts["n_samples"], counts["n_correct"], args.n_keep, seed=rep
        )
        small["n_samples"] = args.n_keep
        t = time.perf_counter()
        f = passk.fit(small, progressbar=False, seed=rep)
        times.append(time.perf_counter() - t)
        s = score(f.coverage(K_EVAL[K_EVAL > args.n_keep], ci_prob=0.9), real)
        s["rep"] = rep
        s["converged"] = bool(f.diagnostics.ok)
        scored.append(s)
        print(f"rep {rep}: fit {times[-1]:.1f} s; {f.diagnostics}")
    few = pd.concat(scored)
    few.to_csv(out / "few_attempts.csv", index=False)
    print(f"\nfrom {args.n_keep} attempts per problem: forecasts of the same problems' coverage")
    print(few.groupby("k")[["abs_err", "covered"]].mean().round(3).to_string())

    # 3. held-out size
    small = counts.copy()
    small["n_correct"] = passk.subsample_counts(
        counts["n_samples"], counts["n_correct"], args.n_keep, seed=0
    )
    small["n_samples"] = args.n_keep
    held = []
    for m, size in counts.groupby("model", sort=False)["params"].first().items():
        f = passk.fit(small[small["model"] != m], progressbar=False)
        tab = f.coverage(
            np.concatenate([[1.0], K_EVAL]),
            params={m: float(size)},
            problems="population",
            n_problems=128,
            ci_prob=0.9,
        )
        s = score(tab, real)
        s["converged"] = bool(f.diagnostics.ok)
        held.append(s)
        print(f"held out {m}: {f.diagnostics}")
    held_df = pd.concat(held)
    held_df.to_csv(out / "held_out_size.csv", index=False)
    print(f"\nheld-out model size (fit on the other six, {args.n_keep} attempts each)")
    print(held_df.pivot(index="model", columns="k", values="abs_err").round(3).to_string())
    print("covered (90%):", f"{held_df['covered'].mean():.2f}", "by k:")
    print(held_df.groupby("k")[["abs_err", "covered"]].mean().round(3).to_string())


if __name__ == "__main__":
    main()
