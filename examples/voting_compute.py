"""
Voting and inference compute
============================

If a model samples :math:`n` answers per problem and a rule picks one, how often is the
picked answer correct, where does that accuracy level off, and which model size is the
best buy for an inference budget? (Wu et al. 2024, arXiv:2408.00724; ``docs/voting.md``,
``docs/compute_optimal_inference.md``.)

**Data.** The attempt counts shipped with bayescale (``bayescale.passk.example_counts``:
5 simulated model sizes x 200 problems x 100 attempts) say how many of each problem's
attempts were correct, but not which wrong answers the other attempts gave, and majority
voting needs that. This example therefore **simulates the wrong answers** (seeded): each
problem's wrong attempts are spread over four wrong answers with Dirichlet(0.7) shares,
and a noisy reward model scores the correct answer :math:`\\mathrm{Beta}(3, 2)` and wrong
ones :math:`\\mathrm{Beta}(2, 3)` on average. Read the numbers as an illustration of the
tools, not as a measurement.

**Models.** Exact majority-vote and best-of-n accuracies of the answer distributions, the
Bayesian saturating curve of best-of-n accuracy (a binomial likelihood of the correct counts)

.. math::

    \\operatorname{logit} \\mathrm{acc}_m(n) = \\ell_{\\infty,m}
    - (\\ell_{\\infty,m} - \\ell_{1,m})\\, n^{-\\gamma},

and the cost of :math:`k` samples, :math:`C = k \\cdot 2 N T`. One NUTS fit, default sampler
settings (4 chains x 1000 draws, nutpie), about 30 s on 2 cores.

Run::

    python examples/voting_compute.py --out example_output/
"""

# %%
# Set-up: answer distributions built on the shipped counts
# --------------------------------------------------------
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from bayescale import passk

parser = argparse.ArgumentParser(description="Voting and inference compute")
parser.add_argument("--out", type=Path, default=Path("example_output"), help="output folder")
OUT = parser.parse_known_args()[0].out
OUT.mkdir(parents=True, exist_ok=True)
pd.set_option("display.width", 140)

counts = passk.example_counts()
rng = np.random.default_rng(2024)
rows = []
for row in counts.itertuples(index=False):
    wrong = rng.multinomial(row.n_samples - row.n_correct, rng.dirichlet(np.full(4, 0.7)))
    rows.append((row.model, row.problem, "right", row.n_correct, True, rng.beta(3, 2)))
    rows += [
        (row.model, row.problem, f"wrong{j}", int(c), False, rng.beta(2, 3))
        for j, c in enumerate(wrong)
    ]
answers = passk.validate_answers(
    pd.DataFrame(rows, columns=["model", "problem", "answer", "count", "is_correct", "reward"])
)
flops = counts.groupby("model")["compute_per_sample"].first().sort_values()
models = list(flops.index)
print(f"{len(answers)} rows: {answers['model'].nunique()} models x 200 problems")

# %%
# Majority voting and best-of-n, exactly
# --------------------------------------
N_GRID = [1, 2, 4, 8, 16, 32, 64]
K_GRID = [*N_GRID, 128, 256, 512, 1024]
majority = passk.majority_vote_accuracy(answers, N_GRID)
best = passk.best_of_n_accuracy(answers, K_GRID)
table = pd.concat([majority, best[best["n"] <= 64]]).pivot_table(
    index=["model", "strategy"], columns="n", values="accuracy"
)
print(table.loc[models].round(3).to_string())
print("\nLimits as n grows without bound:")
limits = passk.voting_limit(answers).pivot_table(
    index="model", columns="strategy", values="accuracy"
)
print(limits.loc[models].round(3).to_string())

# %%
# Where does best-of-n level off? A Bayesian saturating curve
# -----------------------------------------------------------
# On these hard problems (first-sample accuracy 0.5% to 3%) a wrong answer is usually the
# plurality, so majority voting *loses* accuracy as n grows, while picking the
# highest-reward answer gains. The saturating curve is fitted to the best-of-n accuracies
# up to n = 1024; the five models' gains are partially pooled (the default from five
# models), around a mean that may change with first-sample accuracy.
curve = passk.fit_voting_curve(best[["model", "n", "accuracy", "n_problems"]], seed=0)
print(curve.diagnostics)
if not curve.diagnostics.ok:
    print("NOT CONVERGED: " + "; ".join(curve.diagnostics.problems()))
limit = curve.predict([64], ci_prob=0.9)
limit = limit[np.isinf(limit["n"])].set_index("model")[["median", "lower", "upper"]]
limit["exact limit"] = limits["best_of_n"]
print("Best-of-n accuracy as n grows without bound: the curve (90% interval) and the exact")
print("limit of the answer distributions (the share of problems whose correct answer can win):")
print(limit.loc[models].round(3).to_string())
# The curve's logit-power form levels off more slowly than these accuracies do (they are
# flat from n = 512 on), so its limit sits above the exact one: with the answer
# distributions at hand, the exact limit is the answer; the curve is for accuracies
# measured at a few n only.
curve_png = OUT / "voting_curve.png"
curve.plot(curve_png)

# %%
# Inference compute: which model and how many samples for a budget?
# -----------------------------------------------------------------
# The posterior draws of the best-of-n curve against :math:`C = k \cdot c_\mathrm{sample}`;
# ``optimal_model_by_budget`` picks the (model, k) with the highest posterior mean and its
# probability of being best. The figure draws the curves with their 90% bands, the Pareto
# frontier, and the exact best-of-n accuracies as dots.
draws = curve.curve_draws(K_GRID).rename(n="k").assign_coords(k=K_GRID)
print("\nBest-of-n, compute-optimal choice per budget (FLOPs per problem):")
budgets = [1e12, 1e13, 1e14, 1e15]
choice = passk.optimal_model_by_budget(draws, flops.to_dict(), budgets, beyond_grid="exclude")
cols = ["budget", "model", "k", "mean", "lower", "upper", "prob_best", "runner_up"]
print(choice[cols].round(3).to_string(index=False))

print("\nPareto frontier of majority voting and best-of-n (point estimates):")
point = xr.DataArray(
    np.stack(
        [table.xs(s, level="strategy").loc[models].to_numpy() for s in ("majority", "best_of_n")]
    ),
    dims=("strategy", "model", "k"),
    coords={"strategy": ["majority", "best_of_n"], "model": models, "k": N_GRID},
)
frontier = passk.pareto_frontier(point, flops.to_dict())
print(frontier[["model", "strategy", "k", "compute", "mean"]].round(3).to_string(index=False))
frontier_png = OUT / "voting_compute_frontier.png"
passk.plot_compute_frontier(
    draws,
    flops.to_dict(),
    observed=best.rename(columns={"n": "k"})[["model", "k", "accuracy"]],
    path=frontier_png,
    title="Best-of-n on simulated answers (posterior of the saturating curve)",
    ylabel="best-of-n accuracy",
)
print(f"\nsaved {curve_png.name} and {frontier_png.name}")
