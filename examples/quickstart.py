"""Quickstart: fit the Chinchilla law to real runs, check it, forecast and allocate compute.

The data are the C4 validation losses (``loss_c4_val``) of the 104 runs of Gadre et al.
(2024) on three corpora (families ``c4_original``, ``rpj``, ``rw_original``), shipped
with bayescale. The fit uses the default sampler settings (nutpie, 4 chains of 1000 tuning
and 1000 kept draws) and takes about 30 s.

Run::

    python examples/quickstart.py --out example_output/
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import bayescale

#: A 7B-parameter model trained on 140B tokens (20 tokens per parameter).
POINT = {"params": 7e9, "tokens": 1.4e11}


def main(argv: list[str] | None = None) -> None:
    """Fit, summarise, forecast, compute the optimal allocation and save the fit and a plot.

    Parameters
    ----------
    argv
        Command-line arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("example_output"), help="output folder")
    args = parser.parse_args(argv)
    pd.set_option("display.width", 140)

    df = bayescale.datasets.load("gadre2024", metric="loss_c4_val")
    # Default sampler settings; only the progress bar is turned off.
    fit = bayescale.fit(df, law="chinchilla", seed=0, progressbar=False)
    print(fit)
    print("\nDiagnostics:", fit.diagnostics)

    print("\nPosterior summary (90% equal-tailed intervals):")
    print(fit.summary(ci_prob=0.9).round(4).to_string())

    print("\nForecast for N = 7e9, D = 1.4e11, family 'rpj':")
    print(fit.forecast(POINT, ci_prob=0.9, family="rpj").to_string())

    # A new corpus: pooled exponents come from the population; E, A_ref and B_ref are
    # fitted per family (independent) by default, so for a new family they come from their
    # priors, and the interval is much wider.
    print("\nForecast for the same point, a new family (parameters from the population):")
    print(fit.forecast(POINT, ci_prob=0.9, family=None).to_string())

    print("\nCompute-optimal N*, D* at C = 1e22 FLOPs (C = 6 N D):")
    print(bayescale.compute_optimal(fit, compute=1e22).to_string())

    saved = fit.save(args.out / "quickstart_fit.nc")
    reloaded = bayescale.load(saved)
    same = reloaded.forecast(POINT, family="rpj").equals(fit.forecast(POINT, family="rpj"))
    print(f"\nreloaded fit forecasts identically: {same}")
    figure = args.out / "quickstart_fit.png"
    fit.plot(figure)
    print(f"\nsaved {saved} (reload with bayescale.load) and {figure}")


if __name__ == "__main__":
    main()
