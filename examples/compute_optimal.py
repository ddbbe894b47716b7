"""
Compute-optimal allocation, with its uncertainty
================================================

For a training budget :math:`C = 6ND`, the Chinchilla law
:math:`L = E + A N^{-\\alpha} + B D^{-\\beta}` is smallest at

.. math::

    N^*(C) = G \\left(\\frac{C}{6}\\right)^{\\beta/(\\alpha+\\beta)}, \\qquad
    D^*(C) = G^{-1} \\left(\\frac{C}{6}\\right)^{\\alpha/(\\alpha+\\beta)}, \\qquad
    G = \\left(\\frac{\\alpha A}{\\beta B}\\right)^{1/(\\alpha+\\beta)},

and :func:`bayescale.compute_optimal` evaluates it draw by draw, so :math:`N^*`,
:math:`D^*` and the tokens per parameter :math:`D^*/N^*` come with credible intervals.

Porian et al. (2024, arXiv:2406.19146) traced the disagreement between Kaplan et al. and
Hoffmann et al. about :math:`D^*/N^*` to training choices. The shipped ``porian2024``
IsoFLOP data hold both: two RefinedWeb configurations, one with a long warm-up and
Kaplan's learning-rate decay and one with a short warm-up and Chinchilla's cosine decay
(validation loss; 131 and 88 IsoFLOP points). The exponents are fitted separately per
configuration (``pooling={"exponent": "independent"}``), since how they differ is the
question. One fit, default sampler settings, about 1 to 2 minutes on 2 cores. (The IsoFLOP
points are read off training curves, so points of one run are not independent: the
intervals are, if anything, too narrow.)

Run::

    python examples/compute_optimal.py --out example_output/
"""

# %%
# Set-up and fit
# --------------
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import bayescale

parser = argparse.ArgumentParser(description="Compute-optimal allocation (Porian et al.)")
parser.add_argument("--out", type=Path, default=Path("example_output"), help="output folder")
OUT = parser.parse_known_args()[0].out
OUT.mkdir(parents=True, exist_ok=True)
pd.set_option("display.width", 140)

FAMILIES = ["rw-base-long-kaplan-standard", "rw-base-short-chinchilla-standard"]
runs = bayescale.datasets.load("porian2024", metric="val_loss")
runs = runs[runs["family"].isin(FAMILIES)].reset_index(drop=True)
print(runs.groupby("family").agg(points=("value", "size"), max_compute=("compute", "max")))

fit = bayescale.fit(
    runs, law="chinchilla", pooling={"exponent": "independent"}, seed=0, progressbar=False
)
print(fit.diagnostics)
if not fit.diagnostics.ok:
    print("NOT CONVERGED: " + "; ".join(fit.diagnostics.problems()))
print(fit.summary(ci_prob=0.9).filter(regex="^(alpha|beta)", axis=0).round(3).to_string())

# %%
# The optimum at a few budgets
# ----------------------------
# One row per (budget, family, quantity): ``params`` (N*), ``tokens`` (D*),
# ``tokens_per_param`` and ``loss`` at the optimum, with 90% equal-tailed intervals.
budgets = [1e19, 1e21, 1e23]
optimum = bayescale.compute_optimal(fit, compute=budgets, ci_prob=0.9)
ratio = optimum[optimum["quantity"] == "tokens_per_param"]
print(ratio[["compute", "family", "median", "lower", "upper"]].round(1).to_string(index=False))
print(
    "\nThe data reach "
    f"{runs['compute'].max():.2g} FLOPs: beyond that the allocation is an extrapolation."
)

# %%
# N* against the budget, with 90% bands
# -------------------------------------
grid = np.logspace(17, 23, 25)
curve = bayescale.compute_optimal(fit, compute=grid, ci_prob=0.9)
fig = Figure(figsize=(7.5, 4.5), layout="constrained")
ax = fig.add_subplot()
for family, color in zip(FAMILIES, ["C0", "C3"], strict=True):
    rows = curve[(curve["family"] == family) & (curve["quantity"] == "params")]
    ax.fill_between(rows["compute"], rows["lower"], rows["upper"], color=color, alpha=0.25)
    ax.plot(rows["compute"], rows["median"], color=color, label=family)
ax.axvline(runs["compute"].max(), color="0.5", ls=":", label="largest budget in the data")
ax.set(xscale="log", yscale="log", xlabel="training compute C (FLOPs)", ylabel="N* (parameters)")
ax.legend(fontsize="small")
figure = OUT / "compute_optimal_params.png"
fig.savefig(figure, dpi=120)
fit.plot(OUT / "compute_optimal_fit.png")
print(f"saved {figure.name} and compute_optimal_fit.png")
