"""
Quick start: fit, check, forecast, allocate compute
===================================================

Fit the Chinchilla law

.. math::

    L(N, D) = E + A N^{-\\alpha} + B D^{-\\beta}

to real runs, check that the sampler converged, forecast a larger run and compute the
compute-optimal allocation. The data are the C4 validation losses (``loss_c4_val``) of the
104 runs of Gadre et al. (2024) on three corpora (families ``c4_original``, ``rpj``,
``rw_original``), shipped with bayescale. The exponents are partially pooled across the
corpora; :math:`E`, :math:`A` and :math:`B` are fitted per corpus (``docs/pooling.md``).
The fit uses the default sampler settings (nutpie, 4 chains of 1000 tuning and 1000 kept
draws) and takes about 30 s.

Run::

    python examples/quickstart.py --out example_output/
"""

# %%
# Load the data and fit
# ---------------------
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import bayescale

parser = argparse.ArgumentParser(description="Quick start")
parser.add_argument("--out", type=Path, default=Path("example_output"), help="output folder")
OUT = parser.parse_known_args()[0].out
OUT.mkdir(parents=True, exist_ok=True)
pd.set_option("display.width", 140)

#: A 7B-parameter model trained on 140B tokens (20 tokens per parameter).
POINT = {"params": 7e9, "tokens": 1.4e11}

df = bayescale.datasets.load("gadre2024", metric="loss_c4_val")
# Default sampler settings; only the progress bar is turned off.
fit = bayescale.fit(df, law="chinchilla", seed=0, progressbar=False)
print(fit)
print("\nDiagnostics:", fit.diagnostics)

# %%
# Posterior summary
# -----------------
print("Posterior summary (90% equal-tailed intervals):")
print(fit.summary(ci_prob=0.9).round(4).to_string())

# %%
# Forecasts
# ---------
# A new run (``new_run``) adds run-to-run noise to the uncertainty about the law
# (``curve``). For a new corpus, the pooled exponents come from the population; E, A_ref
# and B_ref are fitted per family (independent) by default, so for a new family they come
# from their priors, and the interval is much wider.
print("Forecast for N = 7e9, D = 1.4e11, family 'rpj':")
print(fit.forecast(POINT, ci_prob=0.9, family="rpj").to_string())
print("\nForecast for the same point, a new family (parameters from the population):")
print(fit.forecast(POINT, ci_prob=0.9, family=None).to_string())

# %%
# Compute-optimal allocation
# --------------------------
print("Compute-optimal N*, D* at C = 1e22 FLOPs (C = 6 N D):")
print(bayescale.compute_optimal(fit, compute=1e22).to_string())

# %%
# Save, reload and plot
# ---------------------
# One NetCDF file holds the posterior, the training data and the configuration, so the
# reloaded fit forecasts identically.
saved = fit.save(OUT / "quickstart_fit.nc")
reloaded = bayescale.load(saved)
same = reloaded.forecast(POINT, family="rpj").equals(fit.forecast(POINT, family="rpj"))
print(f"reloaded fit forecasts identically: {same}")
figure = OUT / "quickstart_fit.png"
fit.plot(figure)
print(f"\nsaved {saved.name} (reload with bayescale.load) and {figure.name}")
