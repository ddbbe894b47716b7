"""
Emergence: is MMLU emergent, and where?
=======================================

Accuracy on MMLU stays near chance (0.25) for small models and then rises. Wu & Lo (2024,
arXiv:2410.01692) explain such jumps by slicing the questions by difficulty: the easy
questions' Brier score first gets *worse* (an inverted U) while the hard ones' improves,
and the two trends cancel until the easy ones turn. bayescale's Bayesian
Slice-and-Sandwich (``docs/emergence.md``) fits each difficulty slice's trend against
:math:`x = \\log_{10} C` below a compute cut-off, combines the slices into the accuracy of a
typical model, and reads from that curve, draw by draw, the emergence threshold

.. math::

    x_e = \\inf\\{x : a(y) \\ge c + \\delta (1 - c)\\ \\text{for all}\\ y \\in
    [x, x_\\mathrm{end}]\\}, \\qquad C_e = 10^{x_e},

(:math:`c` = chance, :math:`\\delta` = 0.05) and the posterior probability that the rise is
flat first, a jump and sharp, P(emergent). The models above the cut-off are held out and
scored against the forecast.

Two fits: one on every model (is the jump recognised when it is in the data?) and one on
the models below the cut-off (could it have been foreseen?). The data are the shipped
``wu_lo2024`` slice table (10 difficulty groups per task, 65 public models), with Wu &
Lo's cut-off for MMLU (:math:`10^{22.5}` FLOPs) and without the models they filter as
over-trained. Each fit: 4 chains x 1000 draws (nutpie), about 40 s
on 2 cores.

Run::

    python examples/emergence.py --out example_output/
"""

# %%
# Set-up: the slice table
# -----------------------
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from bayescale.emergence import (
    WU_LO_FILTERED_MODELS,
    WU_LO_THRESHOLD,
    fit_sandwich,
    load_wu_lo_slices,
)

parser = argparse.ArgumentParser(description="Emergence on MMLU (Slice-and-Sandwich)")
parser.add_argument("--out", type=Path, default=Path("example_output"), help="output folder")
OUT = parser.parse_known_args()[0].out
OUT.mkdir(parents=True, exist_ok=True)
pd.set_option("display.width", 140)

table = load_wu_lo_slices(["mmlu"], exclude_models=WU_LO_FILTERED_MODELS)
cutoff = WU_LO_THRESHOLD["mmlu"]
print(f"{table['model'].nunique()} models; cut-off {cutoff:.3g} FLOPs")

# %%
# Recognised when it is in the data: a fit on every model
# -------------------------------------------------------
# A cut-off above the largest model holds none out.
everything = fit_sandwich(table, "mmlu", cutoff=10 * table["compute"].max(), seed=1)
print(everything.diagnostics)
if not everything.diagnostics.ok:
    print("NOT CONVERGED: " + "; ".join(everything.diagnostics.problems()))
COLUMNS = ["log10_threshold", "log10_lower", "log10_upper", "p_emergent", "view"]
print(everything.threshold(ci_prob=0.9)[COLUMNS].round(2).to_string())
figure_all = OUT / "emergence_mmlu_all.png"
everything.plot(figure_all)

# %%
# Foreseen before it? A fit below Wu & Lo's cut-off
# -------------------------------------------------
# Only the models below :math:`10^{22.5}` FLOPs are fitted; the larger ones are held out
# and compared with the forecast of a new model's accuracy at their compute.
fit = fit_sandwich(table, "mmlu", cutoff=cutoff, seed=1)
print("\n".join(str(fit).splitlines()[:5]))  # the head of the report; print(fit) for all
if not fit.diagnostics.ok:
    print("NOT CONVERGED: " + "; ".join(fit.diagnostics.problems()))
print(fit.threshold(ci_prob=0.9)[COLUMNS].round(2).to_string())
print(f"\nP(emergent) below the cut-off: {fit.p_emergent().round(3).to_dict()}")
check = fit.held_out_check(ci_prob=0.9)
cols = ["model", "compute", "value", "pred_median", "pred_lower", "pred_upper", "covered"]
print(check[cols].round(3).to_string(index=False))
print(f"held-out models inside the 90% interval: {int(check['covered'].sum())}/{len(check)}")
figure = OUT / "emergence_mmlu_cutoff.png"
fit.plot(figure)
print(f"\nsaved {figure_all.name} and {figure.name}")
