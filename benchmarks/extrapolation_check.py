"""How far bayescale's forecasts can be trusted, and the calibration of the extrapolation term.

For each case (data set, metric, size cut-off), fits the chinchilla law with default
settings on the runs with N <= the cut-off and forecasts every larger run. It prints, per
case, the median absolute relative error (ARE) of the posterior median and the coverage of
the 90 % new-run interval:

* without the extrapolation term (``extrapolation_rate=0``);
* with the shipped default ``extrapolation_rate`` (0.02);
* with the rate estimated by maximum likelihood from all *other* cases
  (leave-one-case-out: a fair test of the calibration).

It also prints the maximum-likelihood rate from all cases: the number behind the default.
The rate lambda adds ``lambda * d`` to the log-scale standard deviation of a new run,
``d`` being the distance beyond the training data in e-folds (``docs/forecasting.md``).

Cases: the 8 validation losses of the shipped Gadre et al. (2024) data (3 corpora, cut at
N = 1e9); when ``../shared/data`` is present, the Epoch AI extraction of Hoffmann et
al. (2022) (one family, cuts at 3e8 and 1e9; not shipped: no licence stated); and two
checkpointed multi-family sets, ColPret (GPT-3, OPT, OLMo, datablations C4 and OSCAR;
cut at 3e9) and Pythia LAMBADA log-perplexity (cut at 1.5e9), where only the final
checkpoint of each larger run is forecast.

Usage::

    .venv/bin/python benchmarks/extrapolation_check.py      # about 8 minutes on 2 cores
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

import bayescale as bs
from bayescale.core.errors import ConvergenceWarning
from bayescale.scaling.model import ModelSpec

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "tidy"
DEFAULT_RATE = ModelSpec.__dataclass_fields__["extrapolation_rate"].default
Z90 = stats.norm.ppf(0.95)


def heldout_errors(name: str, df: pd.DataFrame, cut: float) -> tuple[pd.DataFrame, bool]:
    """Log-scale errors, predictive sds and distances of the runs above ``cut``.

    With intermediate checkpoints, the runs below the cut keep them all and only the final
    checkpoint of each larger run is forecast (its last, largest-D row).
    """
    train, test = df[df["params"] <= cut], df[df["params"] > cut]
    checkpointed = "checkpoint_step" in test and test["checkpoint_step"].notna().any()
    if checkpointed and "model" in test and test["model"].notna().all():
        test = test[test["tokens"] == test.groupby("model")["tokens"].transform("max")]
        test = test.drop_duplicates("model", keep="last")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = bs.fit(train, seed=0, progressbar=False, extrapolation_rate=0.0)
    cols = ["params", "tokens"] + (["family"] if train["family"].nunique() > 1 else [])
    draws = fit.forecast_draws(test[cols])
    log_pred = np.log(draws["new_run"].values.reshape(-1, len(test)))
    y = np.log(test["value"].to_numpy())
    frame = pd.DataFrame(
        {
            "case": name,
            "err": y - np.median(log_pred, axis=0),
            "sd": log_pred.std(axis=0),
            "d": draws["extrapolation"].values,
            "are": np.abs(np.exp(np.median(log_pred, axis=0)) / np.exp(y) - 1),
        }
    )
    return frame, fit.diagnostics.ok


def checkpoint_cases() -> list[tuple[str, pd.DataFrame, float]]:
    """Multi-family checkpointed data: ColPret (the reference's families) and Pythia.

    Checkpoints before 10B tokens are dropped and curves thinned to 12 per run, as for the
    ``colpret2024_chinchilla`` reference (``docs/checkpoints.md``).
    """
    from bayescale.scaling.checkpoints import drop_early_checkpoints, thin_checkpoints
    from bayescale.scaling.reference import REFERENCES, _load_data

    colpret = _load_data(REFERENCES["colpret2024_chinchilla"])
    pythia = bs.datasets.load("pythia2023", metric="lambada_openai_ppl_0shot").copy()
    pythia["value"] = np.log(pythia["value"])  # log-perplexity: the per-token loss
    pythia[["value_lo", "value_hi"]] = np.nan
    pythia = thin_checkpoints(drop_early_checkpoints(pythia, min_tokens=1e10), per_run=12)
    return [
        ("colpret2024 loss N<=3e9", colpret, 3e9),
        ("pythia2023 lambada N<=1.5e9", pythia, 1.5e9),
    ]


def mle_rate(frame: pd.DataFrame) -> float:
    """Maximum-likelihood lambda: err ~ Normal(0, sqrt(sd^2 + (lambda d)^2))."""

    def nll(log_rate: float) -> float:
        scale = np.sqrt(frame["sd"] ** 2 + (np.exp(log_rate) * frame["d"]) ** 2)
        return -float(stats.norm.logpdf(frame["err"], 0.0, scale).sum())

    res = optimize.minimize_scalar(nll, bounds=(-12.0, 0.0), method="bounded")
    return float(np.exp(res.x))


def coverage(frame: pd.DataFrame, rate: float) -> float:
    scale = np.sqrt(frame["sd"] ** 2 + (rate * frame["d"]) ** 2)
    return float(np.mean(np.abs(frame["err"]) <= Z90 * scale))


def main() -> None:
    cases: list[tuple[str, pd.DataFrame, float]] = []
    gadre = bs.datasets.load("gadre2024")
    for metric in sorted(gadre["metric"].unique()):
        cases.append((f"gadre2024 {metric}", gadre[gadre["metric"] == metric], 1e9))
    epoch = SHARED / "epoch_chinchilla_tidy.csv"
    if epoch.exists():
        df = pd.read_csv(epoch)
        cases += [(f"epoch chinchilla N<={cut:.0e}", df, cut) for cut in (3e8, 1e9)]
    else:
        print(f"skipping the Epoch Chinchilla cases: {epoch} not found")
    cases += checkpoint_cases()
    frames, converged = [], {}
    for name, df, cut in cases:
        frame, ok = heldout_errors(name, df, cut)
        frames.append(frame)
        converged[name] = ok
        print(f"fitted {name}: {len(frame)} held-out runs, converged={ok}", flush=True)
    allf = pd.concat(frames, ignore_index=True)
    rows = []
    for name, frame in allf.groupby("case", sort=False):
        loo_rate = mle_rate(allf[allf["case"] != name])
        rows.append(
            {
                "case": name,
                "heldout": len(frame),
                "max_d": round(float(frame["d"].max()), 2),
                "converged": converged[name],
                "median_ARE_%": round(100 * float(frame["are"].median()), 2),
                "cov90_no_term": coverage(frame, 0.0),
                f"cov90_default_{DEFAULT_RATE}": coverage(frame, DEFAULT_RATE),
                "loo_rate": round(loo_rate, 4),
                "cov90_loo": coverage(frame, loo_rate),
            }
        )
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print()
    print(table.round(3).to_string(index=False))
    w = table["heldout"] / table["heldout"].sum()
    print()
    print(f"all {len(allf)} held-out runs: maximum-likelihood rate {mle_rate(allf):.4f}")
    for col in ("cov90_no_term", f"cov90_default_{DEFAULT_RATE}", "cov90_loo"):
        print(f"  {col:>22}: {float((table[col] * w).sum()):.3f} (weighted by held-out runs)")


if __name__ == "__main__":
    main()
