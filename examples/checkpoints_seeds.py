"""
Checkpoints and seeds: Pythia's curves with a run-level effect
==============================================================

Loss curves logged during training give many cheap points per run, but the checkpoints of
one run share its luck (initialisation, data order, schedule). bayescale models that
correlation with a run offset :math:`b_r` shared by a run's checkpoints
(``docs/checkpoints.md``):

.. math::

    \\log y_i = \\log L(N_i, D_i;\\ \\theta_{f[i]}) + b_{r[i]} + \\sigma \\epsilon_i,
    \\qquad b_r \\sim \\mathcal N(0, \\sigma_{\\mathrm{run},f[r]}^2),

with :math:`L = E + A N^{-\\alpha} + B D^{-\\beta}`. The data are the LAMBADA perplexities
of the 15 Pythia runs over training (``pythia2023``: the standard and deduplicated suites),
fitted on the log scale. Checkpoints before 10B tokens follow warm-up and the learning-rate
schedule rather than the law, so they are dropped, and each run is thinned to at most 12
checkpoints; both filters record what they removed. The fit uses the default sampler
settings (4 chains of 1000 tuning and 1000 kept draws, nutpie), about 40 s on 2 cores.

Run::

    python examples/checkpoints_seeds.py --out example_output/
"""

# %%
# Set-up: the output folder (``--out``) and the data
# --------------------------------------------------
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale
from bayescale import drop_early_checkpoints, thin_checkpoints

parser = argparse.ArgumentParser(description="Checkpoints and seeds on Pythia (LAMBADA)")
parser.add_argument("--out", type=Path, default=Path("example_output"), help="output folder")
OUT = parser.parse_known_args()[0].out
OUT.mkdir(parents=True, exist_ok=True)
pd.set_option("display.width", 140)

runs = bayescale.datasets.load("pythia2023", metric="lambada_openai_ppl_0shot").copy()
runs["value"] = np.log(runs["value"])  # log-perplexity: a loss in nats
runs[["value_lo", "value_hi"]] = np.nan
runs["metric"] = "lambada_log_ppl"
n_runs, n_families = runs["model"].nunique(), runs["family"].nunique()
print(f"{len(runs)} checkpoints of {n_runs} runs in {n_families} families")

# %%
# Drop the early checkpoints and thin dense curves
# ------------------------------------------------
# Each filter keeps every run's last checkpoint and records what it removed in ``attrs``.
kept = drop_early_checkpoints(runs, min_tokens=1e10)
kept = thin_checkpoints(kept, per_run=12)
report = kept.attrs["checkpoint_filter"]
print(f"dropped before 10B tokens: {report['removed']} rows; kept {len(kept)} rows")
print(f"thinned: {kept.attrs['checkpoint_thinning']['removed']} rows removed")

# %%
# Fit with the run-level effect
# -----------------------------
# ``run_effects=None`` (the default) switches the run offsets on because runs have several
# rows; with the normal likelihood they are integrated out exactly.
fit = bayescale.fit(kept, law="chinchilla", seed=0, progressbar=False)
print(fit.diagnostics)
if not fit.diagnostics.ok:
    print("NOT CONVERGED: " + "; ".join(fit.diagnostics.problems()))
summary = fit.summary(ci_prob=0.9)
print(summary.filter(regex="run_sigma|^sigma|alpha|beta", axis=0).round(4).to_string())

# %%
# A new 12B run at 300B tokens: how much of its interval is seed noise?
# ---------------------------------------------------------------------
# ``seed_share`` is the share of the new run's predictive variance (log scale) that is
# run-to-run noise, :math:`\mathbb E[\sigma^2 + \sigma_\mathrm{run}^2] /
# \operatorname{Var}(\log \tilde y)`: the part no extra data about the law removes.
point = {"params": [1.2e10], "tokens": [3e11]}
forecast = fit.forecast(point, ci_prob=0.9, family="standard")
print(forecast.round(4).to_string(index=False))
observed = runs[(runs["family"] == "standard") & (runs["params"] > 1e10)]
last = observed[observed["tokens"] == observed["tokens"].max()]
print(
    f"observed, 12B standard run at its last checkpoint (in the data): {last['value'].iloc[0]:.4f}"
)

# %%
# The fitted curves
# -----------------
figure = OUT / "checkpoints_seeds_fit.png"
fit.plot(figure, x="tokens")
print(f"saved {figure.name}")
