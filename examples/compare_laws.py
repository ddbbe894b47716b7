"""
Comparing scaling laws with PSIS-LOO
====================================

Compare scaling laws on the shipped Gadre et al. (2024) data with
:func:`bayescale.compare`. Five models of the C4 validation loss (``loss_c4_val``) of 104
runs on three corpora:

* ``chinchilla_pooled``: :math:`L = E + A N^{-\\alpha} + B D^{-\\beta}` with the exponents
  partially pooled across corpora (the default);
* ``chinchilla_independent``: exponents fitted separately per corpus;
* ``chinchilla_shared``: one pair of exponents for every corpus;
* ``power_law_compute``: :math:`L = E + A C^{-\\alpha}`, one variable, compute
  (``law="power_law:compute"``);
* ``broken_power_law_compute``: a smoothly broken power law in compute
  (``law="broken_power_law"``, which reads ``compute`` by default).

``bayescale.compare`` checks that all five model the same observations (same 104 runs,
metric and ``log`` space), estimates each ELPD with PSIS-LOO, warns about high Pareto k
values, and ranks and weights the models (stacking). The script prints each fit's
convergence, the comparison and its reading, and saves the comparison plot, the table
and the fitted curves of the best model.

On these runs the break of the broken power law is not identified (the change of exponent
``delta`` is about 0.03 ± 0.03 and the break location spans most of the compute range),
and ``delta`` trades off against the offset ``E`` (posterior correlation 0.84), a long
ridge NUTS mixes slowly along: with the normal likelihood even the longer second run fell
just short (R-hat 1.010, bulk ESS 355). It is fitted with the Student-t likelihood
(``nu=4``), which down-weights the few runs far off a one-variable law in compute and
converges (R-hat 1.007, bulk ESS 493 after the second run). ELPDs of models with
different likelihoods of the same observations are comparable: both are log predictive
densities of the same ``log(loss)`` values. The script says loudly if any fit falls
short (``docs/comparison.md``).

Run::

    python examples/compare_laws.py --out example_output/
"""

# %%
# Set-up: the five models
# -----------------------
from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd

import bayescale
from bayescale.compare import ParetoKWarning, compare
from bayescale.core.errors import ConvergenceWarning

#: Name -> (law, pooling, likelihood) of the compared models.
MODELS: dict[str, tuple[str, dict[str, str] | None, str]] = {
    "chinchilla_pooled": ("chinchilla", None, "normal"),
    "chinchilla_independent": ("chinchilla", {"exponent": "independent"}, "normal"),
    "chinchilla_shared": ("chinchilla", {"exponent": "shared"}, "normal"),
    "power_law_compute": ("power_law:compute", None, "normal"),
    "broken_power_law_compute": ("broken_power_law:compute", None, "studentt"),
}


# %%
# Two helpers: fit every model, report convergence
# ------------------------------------------------


def fit_models(df: pd.DataFrame) -> dict[str, bayescale.ScalingFit]:
    """Fit every model of :data:`MODELS` with the default sampler settings.

    Prints each fit's time and convergence (divergences, R-hat, bulk ESS); a fit that
    misses a threshold is announced with ``NOT CONVERGED`` and the reasons.

    Parameters
    ----------
    df
        Training runs in bayescale's long format (one metric).

    Returns
    -------
    dict of str to bayescale.ScalingFit
        The fits, by model name.
    """
    fits = {}
    print("Fits (4 chains x 1000 draws, nutpie; thresholds: 0 divergences, R-hat <= 1.01,")
    print("bulk ESS >= 400; a fit that mixes slowly is sampled again with longer chains):")
    for name, (law, pooling, likelihood) in MODELS.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            # Reported below, loudly, with the same content.
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = bayescale.fit(
                df, law=law, pooling=pooling, likelihood=likelihood, seed=0, progressbar=False
            )
        took = time.perf_counter() - start
        again = " (sampled twice)" if "extended_after" in fit.sampler else ""
        print(f"  {name:26s} {took:5.1f} s{again}  {fit.diagnostics}")
        if fit.diagnostics is not None and not fit.diagnostics.ok:
            for problem in fit.diagnostics.problems():
                print(f"    !! {problem}")
        fits[name] = fit
    return fits


def convergence_report(fits: dict[str, bayescale.ScalingFit]) -> list[str]:
    """Print one line saying whether every fit converged; return the names that did not.

    Parameters
    ----------
    fits
        Fitted models by name.

    Returns
    -------
    list of str
        Models that missed a convergence threshold.
    """
    failed = [n for n, f in fits.items() if f.diagnostics is None or not f.diagnostics.ok]
    if not failed:
        print(f"\nCONVERGENCE: all {len(fits)} fits converged.")
    else:
        print(
            f"\nCONVERGENCE WARNING: {len(failed)} of {len(fits)} fits did NOT converge: "
            f"{', '.join(failed)}. Their posteriors (and ELPDs) are less reliable than the "
            "others'; read their rows of the comparison with care."
        )
    return failed


# %%
# Fit the five models
# -------------------
# Each fit's time and convergence is printed; one that mixes slowly is sampled again with
# longer chains (``docs/comparison.md``).
parser = argparse.ArgumentParser(description="Compare scaling laws")
parser.add_argument("--out", type=Path, default=Path("example_output"), help="output folder")
OUT = parser.parse_known_args()[0].out
OUT.mkdir(parents=True, exist_ok=True)
start = time.perf_counter()

df = bayescale.datasets.load("gadre2024", metric="loss_c4_val")
fits = fit_models(df)
failed = convergence_report(fits)

# %%
# Compare: PSIS-LOO, Pareto k and stacking weights
# ------------------------------------------------
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", ParetoKWarning)
    cmp = compare(fits)
print(f"\nPareto k diagnostics (PSIS-LOO, threshold {cmp.pareto_k_max}):")
for name, k in cmp.pareto_k.groupby("model", sort=False)["k"]:
    print(
        f"  {name:26s} {cmp.high_k[name]} of {k.size} observations with "
        f"k > {cmp.pareto_k_max} (max k {k.max():.2f})"
    )
for warning in caught:
    if issubclass(warning.category, ParetoKWarning):
        print(f"  WARNING: {warning.message}")

print("\nbayescale.compare (az.compare: PSIS-LOO ELPD of log(loss); stacking weights):")
print(cmp)

# %%
# Save the table and the plots
# ----------------------------
csv = cmp.to_csv(OUT / "compare_laws.csv")
png = OUT / "compare_laws.png"
cmp.plot(png)
best_png = OUT / "compare_laws_best_fit.png"
cmp.fits[cmp.best].plot(best_png)
print(f"\nsaved {png.name}, {csv.name} and {best_png.name} (fitted curves of {cmp.best})")
if failed:
    print(
        f"Not converged (see CONVERGENCE WARNING above): {', '.join(failed)}; "
        "their positions in the ranking are provisional."
    )
print(f"\ntotal time {time.perf_counter() - start:.0f} s")
