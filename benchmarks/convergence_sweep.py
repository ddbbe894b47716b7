"""Convergence of the hierarchical chinchilla fit on every metric of the shipped data.

Fits, for each of the 8 validation losses of Gadre et al. (2024) (3 corpora = families),
on all runs and on the runs with N <= 1e9:

* ``naive``: the same law and reference parameterisation written the common way in plain
  PyMC: family exponents ``log_alpha = mu + tau * z`` with ``z ~ Normal(0, 1)``,
  ``tau ~ HalfNormal(1)``, default ``target_accept`` (0.8);
* ``bayescale``: :func:`bayescale.fit` with its defaults (zero-sum family offsets,
  population scale HalfNormal(0.1) on log exponents, ``target_accept=0.95``).

Prints divergences, max R-hat and min bulk ESS per fit and a summary per variant.

Usage::

    .venv/bin/python benchmarks/convergence_sweep.py            # everything (~15 min)
    .venv/bin/python benchmarks/convergence_sweep.py --metrics loss_c4_val --variants naive
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale.core.diagnostics import check_convergence
from bayescale.core.errors import ConvergenceWarning
from bayescale.scaling.data import validate


def naive_fit(df: pd.DataFrame, seed: int):
    """The hierarchical chinchilla model as commonly written in plain PyMC."""
    import pymc as pm

    ds = validate(df)
    y = np.log(ds["value"].values)
    fam = ds["family_idx"].values
    u_n = np.log(ds["params"].values)
    u_d = np.log(ds["tokens"].values)
    u_n, u_d = u_n - u_n.mean(), u_d - u_d.mean()
    coords = {"family": ds["family"].values}
    ymin, ymed = np.exp(y.min()), np.exp(np.median(y))
    with pm.Model(coords=coords):
        log_e = pm.Normal("log_E", np.log(0.6 * ymin), 0.5, dims="family")
        log_a = pm.Normal("log_A_ref", np.log(0.5 * (ymed - 0.6 * ymin)), 1.0, dims="family")
        log_b = pm.Normal("log_B_ref", np.log(0.5 * (ymed - 0.6 * ymin)), 1.0, dims="family")
        exps = {}
        for name in ("alpha", "beta"):
            mu = pm.Normal(f"log_{name}_mu", np.log(0.3), 0.5)
            tau = pm.HalfNormal(f"log_{name}_tau", 1.0)
            z = pm.Normal(f"log_{name}_z", 0.0, 1.0, dims="family")
            exps[name] = pm.math.exp(mu + tau * z)
        eta = pm.math.log(
            pm.math.exp(log_e[fam])
            + pm.math.exp(log_a[fam] - exps["alpha"][fam] * u_n)
            + pm.math.exp(log_b[fam] - exps["beta"][fam] * u_d)
        )
        sigma = pm.HalfNormal("sigma", 0.05)
        pm.Normal("y", eta, sigma, observed=y)
        idata = pm.sample(random_seed=seed, progressbar=False, nuts_sampler="nutpie")
    return check_convergence(idata, warn=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", nargs="*", default=None)
    parser.add_argument("--variants", nargs="*", default=["naive", "bayescale"])
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    data = bs.datasets.load("gadre2024")
    metrics = args.metrics or sorted(data["metric"].unique())
    rows = []
    for metric in metrics:
        for cut in (np.inf, 1e9):
            df = data[(data["metric"] == metric) & (data["params"] <= cut)]
            for variant in args.variants:
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    if variant == "naive":
                        diag = naive_fit(df, args.seed)
                    else:
                        diag = bs.fit(df, seed=args.seed, progressbar=False).diagnostics
                row = {
                    "metric": metric,
                    "runs": "all" if np.isinf(cut) else "N<=1e9",
                    "variant": variant,
                    "divergences": diag.divergences,
                    "max_rhat": round(diag.max_rhat, 3),
                    "min_ess_bulk": round(diag.min_ess_bulk),
                    "ok": diag.ok,
                    "seconds": round(time.perf_counter() - start, 1),
                }
                rows.append(row)
                print(row, flush=True)
    table = pd.DataFrame(rows)
    print()
    print(table.to_string(index=False))
    print()
    summary = table.groupby("variant").agg(
        fits=("ok", "size"),
        converged=("ok", "sum"),
        total_divergences=("divergences", "sum"),
        worst_rhat=("max_rhat", "max"),
        lowest_ess=("min_ess_bulk", "min"),
    )
    print(summary.to_string())


if __name__ == "__main__":
    main()
