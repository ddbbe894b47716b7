r"""Could a recalibration learned from the other sources bring every distance bin to its
nominal coverage? Split-conformal, bin by bin, leaving one source out.

The learned discrepancy's 90 % intervals cover 0.93-0.96 overall but 1.00 in some bins
and 0.93 in others (``benchmarks/extrapolation_check.py``). This asks whether the bins
can be evened out after the fact, by the recipe that targets the issue's measure directly:
a split-conformal recalibration per distance bin (Vovk et al. 2005; as a recalibration of
a Bayesian predictive, Kuleshov et al. 2018). For a held-out run, the non-conformity
score is :math:`z = |\Phi^{-1}(\mathrm{PIT})|`; the 90 % interval covers when
:math:`z \le 1.645`. Recalibrated, it covers when :math:`z \le q_b`, with :math:`q_b` the
90 % quantile of the scores of the *other* sources' runs in the same bin :math:`b`:
weighted per run (the issue's measure counts runs) or per source (each source one vote).
The half-width scales by :math:`q_b / 1.645` (exact for a normal predictive; reported as
``halfwidth90`` beside the unchanged one).

The calibration scores must not know the held-out source :math:`s`: for each :math:`s`,
the discrepancy is fitted again for every other source :math:`t` without :math:`s` *and*
:math:`t` (nested leave-one-source-out, 90 fits for 10 sources:
:func:`nested_scores`), and :math:`t`'s runs are scored with it. The held-out runs'
own scores are those of ``extrapolation_check.py --out`` (the discrepancy fitted without
:math:`s`).

Usage::

    .venv/bin/python benchmarks/extrapolation_check.py --cases bench_out/cases.csv \
        --out bench_out/extrapolation_scores.csv
    .venv/bin/python benchmarks/recalibration_check.py --cases bench_out/cases.csv \
        --scores bench_out/extrapolation_scores.csv --nested bench_out/nested_scores.csv

The nested fits are written to ``--nested`` and reused by a later run.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from extrapolation_check import BIN_LABELS, BINS  # the back-test's bins of e-folds
from scipy.stats import norm

from bayescale.scaling.discrepancy_backtest import N_DRAWS, leave_one_source_out

#: The learned discrepancy's method name in the scores.
METHOD = "learned (LOSO)"
LEVEL = 0.9
#: A bin with fewer calibration runs keeps the model's own interval.
MIN_CALIBRATION = 5


def conformity(pit: np.ndarray) -> np.ndarray:
    r"""Non-conformity score :math:`|\Phi^{-1}(\mathrm{PIT})|`, the PIT clipped to the
    resolution of the predictive draws."""
    clipped = np.clip(np.asarray(pit, float), 0.5 / N_DRAWS, 1 - 0.5 / N_DRAWS)
    return np.abs(norm.ppf(clipped))


def weighted_quantile(values: np.ndarray, weights: np.ndarray, prob: float) -> float:
    """The smallest value whose share of the total weight at or below it reaches ``prob``."""
    order = np.argsort(values)
    share = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][np.searchsorted(share, prob - 1e-12)])


def recalibrate(
    held: pd.DataFrame,
    calibration: pd.DataFrame,
    column: str,
    weighting: str = "runs",
    level: float = LEVEL,
) -> pd.DataFrame:
    r"""Recalibrated coverage of the held-out runs, bin by bin of ``column``.

    Parameters
    ----------
    held
        Scores of one source's runs (``source``, ``pit``, ``halfwidth90_%``, ``column``).
    calibration
        Scores of *other* sources' runs, from a discrepancy fitted without ``held``'s source.
    column
        The distance to bin by: ``"d"`` or ``"d_compute"``.
    weighting
        ``"runs"`` (each calibration run one vote) or ``"sources"`` (each source one vote).

    Returns
    -------
    DataFrame
        ``held`` with ``bin``, ``threshold`` :math:`q_b`, ``covered`` and
        ``halfwidth90_%`` scaled by :math:`q_b / \Phi^{-1}((1 + \text{level}) / 2)`.
    """
    if weighting not in ("runs", "sources"):
        raise ValueError(f"weighting must be 'runs' or 'sources', not {weighting!r}")
    if set(held["source"]) & set(calibration["source"]):
        raise ValueError("the calibration scores hold runs of the held-out source")
    nominal = float(norm.ppf((1 + level) / 2))
    cal_bins = pd.cut(calibration[column], BINS, labels=BIN_LABELS, right=False)
    out = held.copy()
    out["bin"] = pd.cut(held[column], BINS, labels=BIN_LABELS, right=False)
    thresholds = {}
    for label in BIN_LABELS:
        part = calibration[cal_bins == label]
        if len(part) < MIN_CALIBRATION:
            thresholds[label] = nominal
            continue
        if weighting == "sources":
            weights = 1.0 / part.groupby("source")["pit"].transform("size").to_numpy(float)
        else:
            weights = np.ones(len(part))
        thresholds[label] = weighted_quantile(conformity(part["pit"]), weights, level)
    out["threshold"] = out["bin"].map(thresholds).astype(float)
    out["covered"] = conformity(out["pit"]) <= out["threshold"]
    out["halfwidth90_%"] = out["halfwidth90_%"] * out["threshold"] / nominal
    return out


#: Columns the scores of ``extrapolation_check.py --out`` must have.
SCORE_COLUMNS = ("source", "method", "pit", "cov90", "halfwidth90_%", "d", "d_compute")


def check_inputs(scores: pd.DataFrame, nested: pd.DataFrame | None = None) -> None:
    """Refuse scores without the columns the recalibration needs, and nested scores that
    were built from another set of sources (a stale ``--nested`` file)."""
    missing = [c for c in SCORE_COLUMNS if c not in scores]
    if missing:
        raise ValueError(
            f"the scores lack column(s) {missing}: write them again with "
            "`benchmarks/extrapolation_check.py --cases bench_out/cases.csv --out FILE`"
        )
    if nested is not None:
        want, have = set(scores["source"]), set(nested.get("left_out", pd.Series(dtype=str)))
        if want != have:
            raise ValueError(
                f"the nested scores leave out {sorted(have)} but the scores hold {sorted(want)}: "
                "delete the --nested file so that it is fitted again from these cases"
            )


def _nested_one(cases: pd.DataFrame, source: str) -> pd.DataFrame:
    rest = cases[cases["source"] != source]
    scores = leave_one_source_out(rest, verbose=False)
    scores = scores[scores["method"] == METHOD].copy()
    scores["left_out"] = source
    print(f"nested: {source} left out, {scores['source'].nunique()} sources scored", flush=True)
    return scores


def nested_scores(cases: pd.DataFrame, workers: int = 2) -> pd.DataFrame:
    """For each source ``s`` (column ``left_out``), the leave-one-source-out scores of the
    other sources with ``s`` removed from every fit."""
    sources = sorted(cases["source"].unique())
    with ProcessPoolExecutor(max_workers=workers) as pool:
        frames = list(pool.map(_nested_one, [cases] * len(sources), sources))
    return pd.concat(frames, ignore_index=True)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Runs, sources, coverage and mean half-width per bin."""
    return (
        frame.groupby("bin", observed=True)
        .agg(
            runs=("covered", "size"),
            sources=("source", "nunique"),
            cov90=("covered", "mean"),
            halfwidth90=("halfwidth90_%", "mean"),
        )
        .round(3)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, required=True, help="cases CSV")
    parser.add_argument(
        "--scores", type=Path, required=True, help="extrapolation_check.py --out scores"
    )
    parser.add_argument("--nested", type=Path, default=Path("bench_out/nested_scores.csv"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    cases = pd.read_csv(args.cases)
    scores = pd.read_csv(args.scores)
    check_inputs(scores)
    scores = scores[scores["method"] == METHOD]
    if args.nested.exists():
        nested = pd.read_csv(args.nested)
    else:
        start = time.perf_counter()
        nested = nested_scores(cases, args.workers)
        print(f"nested leave-one-source-out fits: {time.perf_counter() - start:.0f} s")
        args.nested.parent.mkdir(parents=True, exist_ok=True)
        nested.to_csv(args.nested, index=False)
    check_inputs(scores, nested)
    pd.set_option("display.width", 200)
    for column in ("d_compute", "d"):
        tables = {}
        plain = scores.assign(
            bin=pd.cut(scores[column], BINS, labels=BIN_LABELS, right=False),
            covered=scores["cov90"].astype(bool),
        )
        tables["model"] = summary(plain)
        for weighting in ("runs", "sources"):
            parts = [
                recalibrate(held, nested[nested["left_out"] == source], column, weighting)
                for source, held in scores.groupby("source")
            ]
            tables[f"recalibrated, {weighting}"] = summary(pd.concat(parts))
        print(f"\n== 90 % intervals by bin of {column}, leaving one source out ==")
        print(pd.concat(tables, names=["method"]).swaplevel().sort_index().to_string())


if __name__ == "__main__":
    main()
