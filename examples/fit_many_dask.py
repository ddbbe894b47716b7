"""
Many fits on a local Dask cluster
=================================

Scaling laws are estimated by the dozen: one per benchmark, family and metric.
:func:`bayescale.fit_many` runs a list of fits of any kind on any ``concurrent.futures``
executor or a ``dask.distributed`` cluster, writes each finished fit to its own NetCDF file
at once, records every failure without stopping the others, and picks up where it stopped
when run again (``docs/fit_many.md``).

This example fits the Chinchilla law :math:`L = E + A N^{-\\alpha} + B D^{-\\beta}`
separately to each of the three corpora of the shipped Gadre et al. (2024) data (C4
validation loss, about 35 runs each) on a ``LocalCluster`` of two single-threaded worker
processes, reads the results table, opens the fits lazily, and runs the same call again
to show that finished fits are reused. Default sampler settings (4 chains x 1000 draws,
nutpie; one core per fit on Dask), about 1.5 minutes on 2 cores.

``dask[distributed]`` is in the ``dev`` and ``docs`` extras of bayescale.

Run::

    python examples/fit_many_dask.py --out example_output/
"""

# %%
# Set-up: one task per corpus
# ---------------------------
# The cluster's worker processes are started with ``spawn``; they import this script as a
# module, so everything that starts work sits under ``if __name__ == "__main__"``.
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from dask.distributed import Client, LocalCluster

import bayescale
from bayescale import FitTask, fit_many, open_fits

FAMILIES = ("c4_original", "rpj", "rw_original")
TASKS = [
    FitTask(dataset="gadre2024", metric="loss_c4_val", families=(family,), law="chinchilla")
    for family in FAMILIES
]
COLUMNS = ["key", "status", "seconds", "divergences", "max_rhat", "min_ess", "reused"]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Many fits on a local Dask cluster")
    parser.add_argument("--out", type=Path, default=Path("example_output"), help="folder")
    out = parser.parse_known_args()[0].out / "fit_many_dask"
    pd.set_option("display.width", 160)
    pd.set_option("display.max_colwidth", 60)
    print(f"{len(TASKS)} tasks:", *[t.key for t in TASKS], sep="\n  ")

# %%
# Run them on the cluster
# -----------------------
# ``progress=True`` shows a ``tqdm.auto`` bar (a widget in Jupyter, text in a terminal).
if __name__ == "__main__":
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        table = fit_many(TASKS, client, out_dir=out, seed=0, overwrite=True)
    print(table[COLUMNS].round(3).to_string(index=False))
    n_ok = int((table["status"] == "ok").sum())
    if n_ok < len(table):
        print(f"NOT CONVERGED or failed: {len(table) - n_ok} of {len(table)} fits (see status)")
    else:
        print(f"all {len(table)} fits converged")

# %%
# Open the fits lazily and compare the corpora
# --------------------------------------------
if __name__ == "__main__":
    fits = open_fits(table)
    rows = []
    for key, family in zip(table["key"], FAMILIES, strict=True):
        fit = fits[key]
        summary = fit.summary(ci_prob=0.9)
        for name in ("alpha", "beta", "E"):
            row = summary.filter(regex=f"^{name}", axis=0).iloc[0]
            rows.append({"family": family, "parameter": name, **row[["mean", "sd"]]})
    print(pd.DataFrame(rows).pivot(index="parameter", columns="family", values="mean").round(3))
    figure = out.parent / "fit_many_dask_rpj.png"
    fits[table["key"].iloc[1]].plot(figure)
    print(f"saved {figure.name}")

# %%
# Run again: the finished fits are reused
# ---------------------------------------
# Without ``overwrite=True`` a fit whose file exists is not refitted, so an interrupted
# batch continues where it stopped. The default executor (a local process pool) is used.
if __name__ == "__main__":
    again = fit_many(TASKS, out_dir=out, seed=0, progress=False)
    print(f"second run: reused {int(again['reused'].sum())} of {len(again)} fits")
    assert isinstance(fits[table["key"].iloc[0]], bayescale.ScalingFit)
