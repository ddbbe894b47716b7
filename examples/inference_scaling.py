"""
Inference-time scaling: pass@k, a new model size, compute-optimal sampling
==========================================================================

The data are the simulated counts shipped with bayescale (5 model sizes x 200 problems x
100 attempts, drawn from known Beta parameters; ``bayescale.passk.example_counts``). The
script fits the hierarchical zero-inflated Beta-binomial model (about 30 s), forecasts
coverage at 10^4 and 10^6 attempts, the inference-loss exponent, the attempts needed for
50 % coverage, a model size that was not run, and which model size (and how many
samples) is compute-optimal for a few inference budgets, with the posterior probability
that it beats the alternatives. It compares the forecasts with the known truth.

Run::

    python examples/inference_scaling.py --out example_output/
"""

# %%
# Fit the hierarchical pass@k model
# ---------------------------------
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale
from bayescale import passk
from bayescale.passk.curves import population_coverage

parser = argparse.ArgumentParser(description="Inference-time scaling")
parser.add_argument("--out", type=Path, default=Path("example_output"), help="output folder")
OUT = parser.parse_known_args()[0].out
OUT.mkdir(parents=True, exist_ok=True)
pd.set_option("display.width", 140)

counts = passk.example_counts()
truth = passk.example_truth()
fit = passk.fit(counts, progressbar=False)
print(fit)  # the report: posterior summary (90% equal-tailed intervals), diagnostics, notes
print(f"Diagnostics: {fit.diagnostics}")

# %%
# Forecasts against the known truth
# ---------------------------------
print("Inference-loss exponent a (90% interval) against the truth:")
exp = fit.exponent(ci_prob=0.9)
exp["true"] = [truth["models"][m]["a"] for m in exp["model"]]
print(exp.round(3).to_string(index=False))

print("\nCoverage of a new problem at 10^4 and 10^6 attempts (data: 100 per problem):")
cov = fit.coverage([1e4, 1e6], problems="population", ci_prob=0.9)
true = truth["models"]
cov["true"] = [
    float(population_coverage(true[m]["a"], true[m]["b"], true[m]["pi"], np.array([k]))[0])
    for m, k in zip(cov["model"], cov["k"], strict=True)
]
print(cov.round(3).to_string(index=False))

print("\nA 30B model that was not run (trend in size), on 200 new problems:")
print(
    fit.coverage([100, 1e4], params={"N=3e10": 3e10}, problems="population", n_problems=200)
    .round(3)
    .to_string(index=False)
)

print("\nAttempts (and inference FLOPs) for 50% coverage:")
print(fit.attempts_for(0.5, ci_prob=0.9).round(3).to_string(index=False))

# %%
# Compute-optimal inference
# -------------------------
# Coverage draws on a k grid; a sample costs :math:`2 N T` FLOPs.
grid = np.unique(np.round(np.logspace(0, 5, 41)))
draws = fit.coverage_draws(grid, max_draws=1000)
flops = counts.groupby("model")["compute_per_sample"].first().to_dict()
budgets = [1e14, 1e15, 1e16]
best = passk.best_allocation(draws, flops, budgets, ci_prob=0.9)
chosen = best[best["best"]]
print("Compute-optimal model and samples per problem for each budget (FLOPs):")
cols = ["budget", "model", "k", "mean", "lower", "upper", "prob_best"]
print(chosen[cols].round(3).to_string(index=False))
print("\nEvery candidate at 1e15 FLOPs:")
print(best[best["budget"] == 1e15][cols].round(3).to_string(index=False))

# %%
# Save, reload and plot
# ---------------------
fit.save(OUT / "inference_scaling_fit.nc")
fit.plot(OUT / "inference_scaling_coverage.png", params={"N=3e10": 3e10}, k_max=1e6)
passk.plot_compute_frontier(draws, flops, path=OUT / "inference_scaling_frontier.png")
reloaded = bayescale.load(OUT / "inference_scaling_fit.nc")
same = reloaded.coverage([1e4], seed=1).equals(fit.coverage([1e4], seed=1))
print(f"reloaded fit forecasts identically: {same} ({type(reloaded).__name__})")
