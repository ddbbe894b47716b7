"""Frequentist coverage of the pass@k model's intervals at a known truth.

Draws ``--reps`` data sets from :func:`bayescale.passk.simulate_counts` (the shipped
example's true parameters: 5 sizes x 200 problems x 100 attempts, new seeds), fits each,
and records whether the 90 % intervals cover the true exponent a per model, the true
population coverage at k = 10^4 and 10^6, the coverage of the simulated problems
themselves at k = 10^4, and the exponent of a held-out size (3e10, not simulated in the
data). Also the fit time and convergence.

Usage::

    python benchmarks/passk_calibration.py [--reps 20] [--out bench_out/passk_calibration.csv]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale import passk
from bayescale.passk.curves import population_coverage
from bayescale.passk.simulate import TRUTH, _beta_params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--out", default="bench_out/passk_calibration.csv")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    sizes = np.asarray(TRUTH["sizes"])
    a_t, b_t, pi_t = _beta_params(sizes, TRUTH)
    new = 3e10
    a_new = _beta_params(np.array([new]), TRUTH)[0][0]
    ks = np.array([1e4, 1e6])
    rows = []
    for rep in range(args.reps):
        counts = passk.simulate_counts(seed=1000 + rep)
        t = time.perf_counter()
        fit = passk.fit(counts, progressbar=False, seed=rep)
        elapsed = time.perf_counter() - t
        exp = fit.exponent(ci_prob=0.9).set_index("model")
        pop = fit.coverage(ks, problems="population", ci_prob=0.9)
        obs = fit.coverage([1e4], ci_prob=0.9)
        new_exp = fit.exponent(params={"new": new}, ci_prob=0.9).iloc[0]
        models = list(exp.index)
        for i, m in enumerate(models):
            true_pop = population_coverage(a_t[i], b_t[i], pi_t[i], ks)
            p = counts.loc[counts["model"] == m, "p_true"].to_numpy()
            true_obs = float(np.mean(1 - (1 - p) ** 1e4))
            r = {"rep": rep, "model": m, "seconds": elapsed, "converged": fit.diagnostics.ok}
            r["a_covered"] = exp.loc[m, "lower"] <= a_t[i] <= exp.loc[m, "upper"]
            for j, k in enumerate(ks):
                row = pop[(pop["model"] == m) & (pop["k"] == k)].iloc[0]
                r[f"pop_{k:.0e}_covered"] = row["lower"] <= true_pop[j] <= row["upper"]
                r[f"pop_{k:.0e}_err"] = row["median"] - true_pop[j]
            row = obs[obs["model"] == m].iloc[0]
            r["obs_1e4_covered"] = row["lower"] <= true_obs <= row["upper"]
            r["obs_1e4_err"] = row["median"] - true_obs
            r["new_a_covered"] = new_exp["lower"] <= a_new <= new_exp["upper"]
            rows.append(r)
        print(f"rep {rep}: {elapsed:.1f} s, {fit.diagnostics}", flush=True)
    frame = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    cols = [c for c in frame.columns if c.endswith("covered") or c.endswith("err")]
    print("\nmean over reps and models (90% intervals):")
    print(frame[cols].mean().round(3).to_string())
    print(
        f"converged: {frame.groupby('rep')['converged'].first().mean():.2f}; "
        f"median fit time {frame.groupby('rep')['seconds'].first().median():.1f} s"
    )


if __name__ == "__main__":
    main()
