"""How far loss forecasts can be trusted: the learned discrepancy against the fixed rate,
leaving one source out.

For every case of :data:`bayescale.scaling.discrepancy_build.CASES` (a source cut at a
size: the shipped Gadre et al., ColPret, Pythia and Porian et al. data and, when
``../shared/data`` is present, the Epoch extraction of Chinchilla, (Mis)Fitting,
Data-constrained scaling, Gemstones, Step Law and Marin's MoE runs), the law is fitted
below the cut without any extrapolation term and every larger run is forecast
(:func:`heldout_cases`). Then, for
each source, the discrepancy model is fitted to the cases of all *other* sources and
scored on this one (leave-one-source-out: the source never informs its own forecast), and
compared with bayescale 0.1's fixed rate (``extrapolation_rate=0.02``, zero mean).

Printed per source, per distance bin (e-folds beyond the data along any input, ``d``)
and per bin of e-folds of training compute beyond the data (``d_compute``), and for the
learned discrepancy by ``d`` and by how far tokens per parameter lie outside the
training range (``d_ratio``): held-out runs, the
fits (cases) they come from, mean and median ARE of the forecast median, mean signed error
at each source's largest extrapolation, coverage of the 50 % and 90 % intervals, the mean
90 % half-width in percent of the median, and the 90 % interval of the 90 % coverage over
the fits behind a row (:func:`cluster_interval`: the runs of one fit are not
independent). ``--out`` writes the per-run scores (for the reliability and PIT
figures, ``--figures``).

The case fits run through :func:`bayescale.fit_many` (two processes on two cores; their
files in ``--fits``, reused by a later run), then the leave-one-source-out fits of
the discrepancy in this process.

Usage::

    .venv/bin/python benchmarks/extrapolation_check.py               # fits every case
    .venv/bin/python benchmarks/extrapolation_check.py --cases bench_out/cases.csv
    .venv/bin/python benchmarks/extrapolation_check.py --cases bench_out/cases.csv \
        --inner bench_out/inner_cases.csv        # and the calibrated own spread

With ``--inner``, every case's *training* runs are split once more (the largest third of
their log range of model size held out, :func:`holdout_split`), the law is fitted to the
rest and the largest training runs are forecast: these inner cases calibrate a factor on
the case's own spread (:meth:`ScalingFit.calibrate_spread`), scored as method
``"learned (LOSO), own spread"``. They never contain the case's held-out runs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bayescale.scaling.discrepancy_backtest import leave_one_source_out
from bayescale.scaling.discrepancy_build import STACKED_LAWS, build_cases

BINS = [0.0, 1.0, 2.0, 3.0, 5.0, np.inf]
BIN_LABELS = ["0-1", "1-2", "2-3", "3-5", "5+"]
#: Bins of ``d_ratio`` (e-folds of D/N outside the training range; 0 is inside it).
RATIO_BINS = [0.0, 1e-9, 1.0, 2.0, np.inf]
RATIO_LABELS = ["inside", "0-1", "1-2", "2+"]


def cluster_interval(
    frame: pd.DataFrame,
    column: str = "cov90",
    prob: float = 0.9,
    n: int = 2000,
    seed: int = 0,
    cluster: str = "case",
) -> tuple[float, float]:
    """Interval of a coverage over the *fits* (cases) behind the runs, by resampling them.

    The runs above one cut-off of one source are forecast by one fit: their errors share
    that fit's error, so a bin's runs are not independent trials. The coverage of a bin is
    re-computed over ``n`` resamples (with replacement) of its cases (column ``cluster``),
    each case with all its runs; the central ``prob`` interval of those coverages says how
    far the bin's coverage can move with the handful of fits behind it. (The pass@k
    back-test uses it too, with one fit per subsample.)
    """
    per_case = frame.groupby(cluster)[column].agg(["sum", "size"])
    covered, runs = per_case["sum"].to_numpy(float), per_case["size"].to_numpy(float)
    pick = np.random.default_rng(seed).integers(len(runs), size=(n, len(runs)))
    coverage = covered[pick].sum(axis=1) / runs[pick].sum(axis=1)
    low, high = np.quantile(coverage, [(1 - prob) / 2, (1 + prob) / 2])
    return float(low), float(high)


def _summary(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    g = frame.groupby(by, sort=True, observed=True)
    table = g.agg(
        runs=("are_%", "size"),
        fits=("case", "nunique"),
        mean_ARE=("are_%", "mean"),
        median_ARE=("are_%", "median"),
        mean_signed=("signed_%", "mean"),
        cov50=("cov50", "mean"),
        cov90=("cov90", "mean"),
        halfwidth90=("halfwidth90_%", "mean"),
    ).round(3)
    bounds = g[["case", "cov90"]].apply(cluster_interval)
    table["cov90_fits_90%"] = [f"[{lo:.2f}, {hi:.2f}]" for lo, hi in bounds.loc[table.index]]
    return table


def top_signed_error(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean signed error (forecast / observed - 1, %) at each source's largest distance."""
    top = frame[frame["d"] >= frame.groupby(["method", "source"])["d"].transform("max") - 1e-9]
    return top.groupby(["method", "source"])["signed_%"].mean().round(2).unstack(0)


def report(frame: pd.DataFrame, per_source: bool = True) -> None:
    """Print the tables of the scores (per source, per distance bin, overall, and the mean
    signed error at each source's largest extrapolation); adds the ``distance`` column."""
    frame["distance"] = pd.cut(frame["d"], BINS, labels=BIN_LABELS, right=False)
    pd.set_option("display.width", 200)
    if per_source:
        print("\n== per source (leave one source out) ==")
        print(_summary(frame, ["source", "method"]).to_string())
    print("\n== per distance bin (e-folds beyond the data) ==")
    print(_summary(frame, ["distance", "method"]).to_string())
    if "d_compute" in frame:
        frame["compute_distance"] = pd.cut(frame["d_compute"], BINS, labels=BIN_LABELS, right=False)
        print("\n== per bin of e-folds of training compute beyond the data ==")
        print(_summary(frame, ["compute_distance", "method"]).to_string())
    learned = frame[frame["method"] == "learned (LOSO)"]
    if "d_ratio" in frame and learned["d_ratio"].notna().any():
        learned = learned[learned["d_ratio"].notna()].copy()
        learned["ratio_outside"] = pd.cut(
            learned["d_ratio"], RATIO_BINS, labels=RATIO_LABELS, right=False
        )
        print(
            "\n== learned (LOSO) by distance and by e-folds of tokens per parameter outside "
            "the training range =="
        )
        print(_summary(learned, ["distance", "ratio_outside"]).to_string())
    print("\n== overall ==")
    print(_summary(frame, ["method"]).to_string())
    print("\n== mean signed error at the largest extrapolation of each source (%) ==")
    print(top_signed_error(frame).to_string())


def _reliability(pit: np.ndarray, levels: np.ndarray) -> list[float]:
    """Observed coverage of the central intervals at ``levels``, from the PIT values."""
    return [float(np.mean(np.abs(pit - 0.5) <= p / 2)) for p in levels]


def figures(frame: pd.DataFrame, out_dir: Path, min_runs: int = 20) -> None:
    """Reliability (nominal against observed coverage) and PIT histograms per method (top
    row), and the reliability per source for each method (bottom row; sources with fewer
    than ``min_runs`` held-out runs pooled as one curve)."""
    from matplotlib.figure import Figure

    levels = np.linspace(0.05, 0.95, 19)
    groups = list(frame.groupby("method"))
    cols = 1 + len(groups)
    fig = Figure(figsize=(3 * cols, 7.0), layout="constrained")
    ax = fig.add_subplot(2, cols, 1)
    for method, grp in groups:
        ax.plot(levels, _reliability(grp["pit"].to_numpy(), levels), marker="o", ms=3, label=method)
    ax.plot([0, 1], [0, 1], color="0.5", lw=0.8)
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("observed coverage (held-out runs)")
    ax.legend(fontsize=7)
    for i, (method, grp) in enumerate(groups):
        ax = fig.add_subplot(2, cols, 2 + i)
        ax.hist(grp["pit"], bins=np.linspace(0, 1, 11), color=f"C{i}", alpha=0.8)
        ax.axhline(len(grp) / 10, color="0.3", lw=0.8)
        ax.set_title(f"PIT, {method}", fontsize=9)
        ax.set_xlabel("PIT (share of draws below the observed loss)", fontsize=8)
        ax = fig.add_subplot(2, cols, cols + 2 + i)
        runs = grp.groupby("source")["pit"].transform("size")
        label = np.where(runs >= min_runs, grp["source"], f"others (< {min_runs} runs each)")
        for j, (source, part) in enumerate(grp.groupby(label)):
            ax.plot(
                levels,
                _reliability(part["pit"].to_numpy(), levels),
                marker="o",
                ms=2,
                color=f"C{j}",
                label=f"{source} ({len(part)})",
            )
        ax.plot([0, 1], [0, 1], color="0.5", lw=0.8)
        ax.set_title(f"per source, {method}", fontsize=9)
        ax.set_xlabel("nominal coverage", fontsize=8)
        ax.legend(fontsize=6)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_dir / "extrapolation_calibration.png", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, help="a cases CSV written by an earlier run")
    parser.add_argument("--out", type=Path, default=Path("bench_out/extrapolation_scores.csv"))
    parser.add_argument("--figures", type=Path, help="folder for the calibration figure")
    parser.add_argument(
        "--fits",
        type=Path,
        default=Path("bench_out/loss_case_fits"),
        help="folder of the case fits (fit_many's out_dir; a second run reuses them)",
    )
    parser.add_argument("--workers", type=int, default=None, help="fit_many processes")
    parser.add_argument(
        "--stacking",
        type=Path,
        metavar="CSV",
        help="also score the stacking mixture of chinchilla, power_law:compute and "
        "broken_power_law (cases written to / read from CSV)",
    )
    parser.add_argument(
        "--stacking-laws",
        nargs="+",
        default=list(STACKED_LAWS),
        metavar="LAW",
        help=f"the laws of --stacking (default: {' '.join(STACKED_LAWS)})",
    )
    parser.add_argument(
        "--inner",
        type=Path,
        metavar="CSV",
        help="also score the fit's own spread calibrated on its largest training runs "
        "(ScalingFit.calibrate_spread): the inner cases are written to / read from CSV, "
        "their fits kept in --inner-fits",
    )
    parser.add_argument(
        "--inner-share",
        type=float,
        default=1 / 3,
        help="share of the log range of model size held out of each case's training runs "
        "for its inner cases (default 1/3, as ScalingFit.calibrate_spread)",
    )
    parser.add_argument(
        "--inner-fits",
        type=Path,
        default=Path("bench_out/loss_inner_fits"),
        help="folder of the inner case fits (reused by a later run)",
    )
    args = parser.parse_args()
    if args.cases and args.cases.exists():
        cases = pd.read_csv(args.cases)
    else:
        start = time.perf_counter()
        cases = build_cases(fits_dir=args.fits, max_workers=args.workers)
        print(f"cases: {len(cases)} held-out runs in {time.perf_counter() - start:.0f} s")
        path = args.cases or Path("bench_out/cases.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        cases.to_csv(path, index=False)
    also = {}
    if args.stacking:  # finished cases are read back from the CSV, the rest are fitted
        also["stacked"] = build_cases(
            stacked=True, checkpoint=args.stacking, stacked_laws=args.stacking_laws
        )
    inner = None
    if args.inner and args.inner.exists():
        inner = pd.read_csv(args.inner)
    elif args.inner:
        start = time.perf_counter()
        inner = build_cases(
            inner=True,
            inner_share=args.inner_share,
            fits_dir=args.inner_fits,
            max_workers=args.workers,
        )
        print(f"inner cases: {len(inner)} runs in {time.perf_counter() - start:.0f} s")
        args.inner.parent.mkdir(parents=True, exist_ok=True)
        inner.to_csv(args.inner, index=False)
    start = time.perf_counter()
    frame = leave_one_source_out(cases, also=also, inner=inner)
    print(f"leave-one-source-out fits and scores: {time.perf_counter() - start:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    report(frame)
    if args.figures:
        figures(frame, args.figures)


if __name__ == "__main__":
    main()
