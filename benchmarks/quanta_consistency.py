"""The quanta model against real Chinchilla fits, and the simulator's exponents.

Prints (docs/quanta.md quotes the output):

1. log-log slopes of the simulated total loss against N and D for several alpha, next to
   -alpha and -alpha/(alpha+1);
2. :func:`bayescale.emergence.quanta.quanta_consistency` on the shipped reference
   posteriors (no MCMC);
3. with ``--fit DATASET:METRIC``, the same on a fresh Chinchilla fit of a shipped data
   set (one NUTS run, about a minute on 2 cores).

Run::

    nice .venv/bin/python benchmarks/quanta_consistency.py
    nice .venv/bin/python benchmarks/quanta_consistency.py --fit porian2024:val_loss
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from bayescale.emergence.quanta import quanta_consistency
from bayescale.emergence.quanta_sim import simulate_quanta

COLUMNS = [
    "alpha",
    "beta",
    "beta_predicted",
    "diff",
    "diff_lower",
    "diff_upper",
    "p_agree",
    "p_beta_above",
    "alpha_from_beta",
    "verdict",
]


def simulator_slopes() -> pd.DataFrame:
    rows = []
    for alpha in (0.1, 0.3, 0.5, 1.0):
        for width in (0.0, 0.3):
            sim = simulate_quanta(
                alpha,
                sizes=np.logspace(1, 4, 13),
                tokens=np.logspace(3, 9, 13),
                tau=10.0,
                width=width,
            )
            rows.append(
                {
                    "alpha": alpha,
                    "width": width,
                    "slope_N": sim.slope("params"),
                    "expected_N": -alpha,
                    "slope_D": sim.slope("tokens"),
                    "expected_D": -alpha / (alpha + 1),
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fit", help="DATASET:METRIC to fit freshly (e.g. porian2024:val_loss)")
    parser.add_argument("--ci", type=float, default=0.9)
    parser.add_argument("--tolerance", type=float, default=0.02)
    args = parser.parse_args()
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 30)

    print("== simulator: log-log slopes of the total loss ==")
    print(simulator_slopes().round(4).to_string(index=False))
    for ref in ("gadre2024_chinchilla", "colpret2024_chinchilla"):
        table = quanta_consistency(ref, ci_prob=args.ci, tolerance=args.tolerance)
        print(f"\n== {ref} (ci={args.ci}, tolerance={args.tolerance}) ==")
        print(table[COLUMNS].round(3).to_string())
    if args.fit:
        import bayescale

        name, _, metric = args.fit.partition(":")
        df = bayescale.datasets.load(name, metric=metric or None)
        start = time.time()
        fit = bayescale.fit(
            df, law="chinchilla", seed=0, progressbar=False, posterior_predictive=False
        )
        print(f"\n== fresh fit {args.fit}: {time.time() - start:.0f} s, {fit.diagnostics} ==")
        table = quanta_consistency(fit, ci_prob=args.ci, tolerance=args.tolerance)
        print(table[COLUMNS].round(3).to_string())


if __name__ == "__main__":
    main()
