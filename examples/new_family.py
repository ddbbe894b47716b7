"""
A new family with few runs
==========================

How well can the law of a new pre-training corpus be forecast from its two smallest runs?
A hierarchical fit borrows the exponents from the other corpora (partial pooling,
``docs/pooling.md``):

.. math::

    L_f(N, D) = E_f + A_f N^{-\\alpha_f} + B_f D^{-\\beta_f}, \\qquad
    \\log \\alpha_f = m_\\alpha + \\tau_\\alpha \\varepsilon_f, \\quad
    \\varepsilon \\sim \\mathrm{ZeroSumNormal}(1),

and likewise for :math:`\\beta`. The data are the C4 validation losses of Gadre et al.
(2024), shipped with bayescale: the corpora ``c4_original`` and ``rpj`` keep all their
runs; the "new" corpus ``rw_original`` keeps only its two smallest model sizes (one run
each, the one nearest 20 tokens per parameter). Its runs above 1B parameters are held
out, and the forecasts are scored against them: once for the family with its two runs,
once for a new family before any run (parameters drawn from the population). One fit
(4 chains x 1000 tuning + 2000 kept draws, nutpie), about 40 s on 2 cores
(``docs/backtest.md`` measures this on every corpus).

Run::

    python examples/new_family.py --out example_output/
"""

# %%
# Set-up: the split
# -----------------
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale

parser = argparse.ArgumentParser(description="A new family with few runs")
parser.add_argument("--out", type=Path, default=Path("example_output"), help="output folder")
OUT = parser.parse_known_args()[0].out
OUT.mkdir(parents=True, exist_ok=True)
pd.set_option("display.width", 140)

TARGET = "rw_original"
runs = bayescale.datasets.load("gadre2024", metric="loss_c4_val")
target = runs[runs["family"] == TARGET].copy()
held_out = target[target["params"] > 1e9].reset_index(drop=True)
sizes = np.sort(target["params"].unique())[:2]
small = target[target["params"].isin(sizes)].copy()
small["ratio_gap"] = np.abs(np.log(small["tokens"] / small["params"] / 20.0))
kept = small.loc[small.groupby("params")["ratio_gap"].idxmin()].drop(columns="ratio_gap")
train = pd.concat([runs[runs["family"] != TARGET], kept], ignore_index=True)
print(f"training runs per family:\n{train.groupby('family').size().to_string()}")
print(f"\n{TARGET} keeps N = {', '.join(f'{n:.3g}' for n in kept['params'])}")
print(f"held out: {len(held_out)} runs of {TARGET} with N > 1e9")

# %%
# One hierarchical fit
# --------------------
# With two runs, the new family's scale :math:`A` sits on a ridge with :math:`E`; 2000 kept
# draws per chain (instead of the default 1000) keep its R-hat clear of 1.01.
fit = bayescale.fit(train, law="chinchilla", draws=2000, seed=0, progressbar=False)
print(fit.diagnostics)
if not fit.diagnostics.ok:
    print("NOT CONVERGED: " + "; ".join(fit.diagnostics.problems()))
print(fit.summary(ci_prob=0.9).filter(regex="alpha|beta", axis=0).round(3).to_string())

# %%
# Forecasts of the held-out runs, scored
# --------------------------------------
# A new run's forecast (``quantity == "new_run"``) with a 90% equal-tailed interval: for
# the family with its two runs, and for a new family from the population (``family=None``).
points = held_out[["params", "tokens"]]
rows = []
for label, family in [(f"{TARGET} (2 runs)", TARGET), ("new family (0 runs)", None)]:
    fc = fit.forecast(points, ci_prob=0.9, family=family)
    fc = fc[fc["quantity"] == "new_run"].reset_index(drop=True)
    are = np.abs(fc["median"] - held_out["value"]) / held_out["value"]
    covered = (fc["lower"] <= held_out["value"]) & (held_out["value"] <= fc["upper"])
    width = (fc["upper"] - fc["lower"]) / held_out["value"]
    rows.append(
        {
            "forecast": label,
            "mean ARE %": 100 * are.mean(),
            "covered (90%)": f"{int(covered.sum())}/{len(covered)}",
            "mean width %": 100 * width.mean(),
        }
    )
scores = pd.DataFrame(rows)
print(scores.round(2).to_string(index=False))

# %%
# The curves, with the held-out runs as stars
# -------------------------------------------
figure = OUT / "new_family_fit.png"
fit.plot(figure, points=held_out.assign(family=TARGET))
print(f"saved {figure.name}")
