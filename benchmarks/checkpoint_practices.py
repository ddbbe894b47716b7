"""Measured effect of the Hitchhiker's checkpoint practices on held-out larger runs.

Choshen, Zhang and Andreas (2024) recommend fitting intermediate checkpoints, not only
final ones, after dropping those seen before about 10B tokens. bayescale adds a run-level
effect so that the checkpoints of one run are not counted as independent evidence
(``docs/checkpoints.md``). This script measures what each choice does to forecasts of
the final loss of the largest runs, with :func:`bayescale.scaling.backtest`:

===================  =======================================================================
variant              training rows of the smaller runs
===================  =======================================================================
``final``            each run's final checkpoint only
``all``              every checkpoint (at most 12 per run), no run effect
``all+run``          every checkpoint (at most 12 per run), run-level effect
``drop10B``          checkpoints from 10B tokens on (at most 12 per run), no run effect
``drop10B+run``      checkpoints from 10B tokens on (at most 12 per run), run-level effect
===================  =======================================================================

Held out in every variant: the final checkpoint of each family's two largest runs.
Data: ``colpret2024`` (metric ``loss``; families GPT-3 with 8 sizes and OPT with 6) and
``pythia2023`` (LAMBADA perplexity as log-perplexity, i.e. the per-token loss, of the
standard and deduplicated Pythia suites). Chinchilla law, default pooling (exponents
pooled), default sampler settings.

Run::

    .venv/bin/python benchmarks/checkpoint_practices.py --out bench_out/checkpoints
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale
from bayescale.core.errors import ConvergenceWarning
from bayescale.scaling.checkpoints import drop_early_checkpoints, thin_checkpoints

VARIANTS: dict[str, dict[str, object]] = {
    "final": {"final_only": True, "min_tokens": None, "run_effects": False},
    "all": {"final_only": False, "min_tokens": None, "run_effects": False},
    "all+run": {"final_only": False, "min_tokens": None, "run_effects": True},
    "drop10B": {"final_only": False, "min_tokens": 1e10, "run_effects": False},
    "drop10B+run": {"final_only": False, "min_tokens": 1e10, "run_effects": True},
}
PER_RUN = 12
N_HELD_OUT_SIZES = 2


def load_sets() -> dict[str, pd.DataFrame]:
    """The two checkpointed data sets, one metric each, in the long format."""
    colpret = bayescale.datasets.load("colpret2024", metric="loss")
    colpret = colpret[colpret["family"].isin(["GPT-3", "OPT"])].reset_index(drop=True)
    pythia = bayescale.datasets.load("pythia2023", metric="lambada_openai_ppl_0shot").copy()
    pythia["value"] = np.log(pythia["value"])
    pythia[["value_lo", "value_hi"]] = np.nan
    pythia["metric"] = "lambada_log_ppl"
    return {"colpret2024 (GPT-3, OPT)": colpret, "pythia2023 (LAMBADA)": pythia}


def split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training runs (all checkpoints) and the held-out final checkpoints of large runs."""
    big = df.groupby("family")["params"].transform(
        lambda p: p >= np.sort(p.unique())[-N_HELD_OUT_SIZES]
    )
    final = df["tokens"] == df.groupby("model")["tokens"].transform("max")
    return df[~big].reset_index(drop=True), df[big & final].reset_index(drop=True)


def variant_table(train: pd.DataFrame, spec: dict[str, object]) -> pd.DataFrame:
    """Training rows of one variant (filters report what they remove)."""
    if spec["final_only"]:
        last = train["tokens"] == train.groupby("model")["tokens"].transform("max")
        return train[last].reset_index(drop=True)
    out = train
    if spec["min_tokens"] is not None:
        out = drop_early_checkpoints(out, min_tokens=float(spec["min_tokens"]))  # type: ignore[arg-type]
    return thin_checkpoints(out, per_run=PER_RUN).reset_index(drop=True)


def run(draws: int, tune: int, chains: int) -> pd.DataFrame:
    rows = []
    for name, df in load_sets().items():
        train, test = split(df)
        print(
            f"\n{name}: {train['model'].nunique()} training runs, held out "
            f"{len(test)} final checkpoints: {sorted(test['model'])}"
        )
        for variant, spec in VARIANTS.items():
            table = pd.concat([variant_table(train, spec), test], ignore_index=True)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                result = bayescale.scaling.backtest(
                    table,
                    "chinchilla",
                    holdout=sorted(test["model"]),
                    pooling=None,
                    draws=draws,
                    tune=tune,
                    chains=chains,
                    run_effects=bool(spec["run_effects"]),
                )
            took = time.perf_counter() - start
            tab = result.table
            row = {
                "data": name,
                "variant": variant,
                "train_rows": int(len(table) - len(test)),
                "are_pct": 100 * tab["are"].mean(),
                **{f"cov{p}": tab[f"covered_{p}"].mean() for p in ("50", "80", "90", "95")},
                "width90_pct": 100 * tab["width_90"].mean(),
                "lpd": tab["lpd"].mean(),
                "converged": bool(tab["converged"].all()),
                "diagnostics": str(tab["diagnostics"].iloc[0]),
                "seconds": round(took, 1),
            }
            rows.append(row)
            print(
                f"  {variant:12s} rows {row['train_rows']:4d}  ARE {row['are_pct']:5.2f}%  "
                f"cov50/90 {row['cov50']:.2f}/{row['cov90']:.2f}  width90 "
                f"{row['width90_pct']:5.1f}%  lpd {row['lpd']:6.2f}  {took:5.0f} s  "
                f"{row['diagnostics']}"
            )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench_out/checkpoints"))
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    table = run(args.draws, args.tune, args.chains)
    table.to_csv(args.out / "checkpoint_practices.csv", index=False)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(table.drop(columns=["diagnostics"]).round(3).to_string(index=False))
    print(f"\ntotal {time.perf_counter() - start:.0f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
