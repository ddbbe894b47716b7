"""How far the forecasts of bayescale can be trusted: held-out larger runs of real data.

For each case, fits the chinchilla law (defaults) on the runs with N <= a cut-off and
scores the 90% new-run forecasts of the larger runs: median absolute relative error (ARE)
of the posterior median, coverage of the 90% interval, mean signed error (bias) and median
relative interval width.

Cases: the shipped Gadre et al. (2024) data (``loss_c4_val``, 3 corpora) and, when
``../shared/data`` is present, the Epoch AI extraction of Hoffmann et al. (2022) (not
shipped: no licence stated).

Usage::

    .venv/bin/python benchmarks/extrapolation_check.py
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale.errors import ConvergenceWarning

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tidy"


def score(name: str, df: pd.DataFrame, cut: float) -> dict[str, object]:
    """Fit on N <= cut, score the larger runs."""
    train, test = df[df["params"] <= cut], df[df["params"] > cut]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = bs.fit(train, seed=0, progressbar=False)
    cols = ["params", "tokens"] + (["family"] if "family" in test else [])
    fc = fit.forecast(test[cols], ci=0.9)
    new = fc[fc["quantity"] == "new_run"].reset_index(drop=True)
    y = test["value"].to_numpy()
    rel = (new["median"].to_numpy() - y) / y
    return {
        "case": name,
        "train_runs": len(train),
        "heldout_runs": len(test),
        "largest_N_ratio": round(float(test["params"].max() / train["params"].max()), 1),
        "converged": fit.diagnostics.ok,
        "median_ARE_%": round(100 * float(np.median(np.abs(rel))), 2),
        "coverage90_%": round(100 * float(np.mean((new["lower"] <= y) & (y <= new["upper"]))), 1),
        "bias_%": round(100 * float(np.mean(rel)), 2),
        "median_width90_%": round(
            100 * float(np.median((new["upper"] - new["lower"]) / new["median"])), 2
        ),
    }


def main() -> None:
    rows = [
        score("gadre2024 loss_c4_val", bs.datasets.load("gadre2024", metric="loss_c4_val"), 1e9)
    ]
    epoch = SHARED / "epoch_chinchilla_tidy.csv"
    if epoch.exists():
        df = pd.read_csv(epoch)
        for cut in (3e8, 1e9):
            rows.append(score(f"epoch chinchilla (N <= {cut:.0e})", df, cut))
    else:
        print(f"skipping the Epoch Chinchilla case: {epoch} not found")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
