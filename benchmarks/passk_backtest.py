"""pass@k back-test on real counts: forecasts at 10x to 1,000x the attempts, and where to sample.

Issue 19's grid. Data: ``../shared/data/monkeys_pythia_math`` (not shipped: no licence
stated; ``$BAYESCALE_SHARED_DATA`` overrides the location):

* **Pythia x MATH** (Brown et al. 2024): 7 sizes x 128 problems x 10,000 attempts.
* **MATH and GSM8K with training checkpoints** (Schaeffer et al. 2025's tables): one
  family per data set, every Pythia size (14M ... 12B) at one checkpoint (MATH after 20B
  training tokens, GSM8K after 2B: the checkpoints whose problems were sampled most), up
  to tens of thousands of attempts per problem.

Each cell keeps ``n'`` attempts per problem (10, 30, 100, 300, 1,000; a hypergeometric
subsample, :func:`bayescale.passk.subsample_counts`; a problem with fewer attempts keeps
them all; ``--reps`` subsamples per cell of every data set), fits, and forecasts the
coverage of the same problems at ``k = 10 n', 100 n', 1000 n'`` (at most 10,000). The
truth is the unbiased coverage (Chen et al.) from all attempts; a model is scored at
``k`` only when every one of its problems has at least ``k`` attempts (so the truth is
the estimator's, not an extrapolation), and only if it solved some problem. The Bayesian
forecasts are of that measurement (``coverage(k, attempts=...)``: the estimate once every
problem has all its attempts, with the spread of the attempts the fit did not see); the
forecasts of the expected coverage are scored too (``target == "expected"`` in
``cells.csv``). Per cell: mean absolute error of the median, share of 90% intervals that
cover (per row also its 90% interval when whole fits are resampled), mean width, for

* ``beta``: ``passk.fit(model="beta")``, the per-model zero-inflated Beta-binomial;
* ``shared``: ``passk.fit(model="shared_difficulty", difficulty="normal")``, problem
  difficulty shared across sizes, and ``shared_skew`` (``difficulty="skewed"``, the
  default since bayescale 0.2) at the levels given by ``--flex-levels`` (``--methods``
  picks the Bayesian methods; ``shared_flex``, ``difficulty="flexible"``, was withdrawn
  from bayescale, and its cells in an earlier run's ``cells.csv`` are still summarised);
* ``mle``: the per-model Beta-binomial maximum likelihood of Schaeffer et al. / Kazdan et
  al. with Fisher intervals (SABER), :func:`bayescale.passk.mle_coverage`.

Then: **held-out sizes** (Pythia, ``n' = 100``: fit the other six sizes, forecast the
held-out size's coverage of the same 128 problems; the per-model model can only forecast
new problems from its trend in size), **PSIS-LOO** by problem of the three Bayesian models
on the 100-attempt subsample (and on all 10,000 attempts with ``--loo-full``), and
**where to sample next**: from a 100-attempt fit, :func:`bayescale.passk.sampling_advice`
for a model's coverage at 10,000 attempts with a budget of 12,800 further attempts; the
advised attempts and the same number spread evenly over that model's problems are drawn
from the real attempts the fit did not see (``--advice-draws`` times, seeds 7, 8, ...),
and the fit (``--advice-method``, by default the package's default ``shared_skew``) is
rerun with each; the summary compares the widths per draw.

Usage::

    python benchmarks/passk_backtest.py [--reps 2] [--out bench_out/passk_backtest]
    python benchmarks/passk_backtest.py --quick        # one level, one rep: a smoke run
    python benchmarks/passk_backtest.py --skip grid --loo-full   # LOO on all attempts too

Every Bayesian fit runs through :func:`bayescale.fit_many` (``--workers`` processes,
default the CPUs; the fit files in ``--fits-dir``, default ``OUT/fits``, reused by a later
run), the maximum-likelihood baseline in this process. Scores are cached per fit in
``--out`` (``cells.csv`` and friends): a second run skips what is done. The tables for
``docs/passk.md`` are printed at the end and written to ``summary.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DATA = (
    Path(
        os.environ.get(
            "BAYESCALE_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
        )
    )
    / "monkeys_pythia_math"
)
LEVELS = (10, 30, 100, 300, 1000)
MULTIPLES = (10, 100, 1000)
K_MAX = 10_000
#: Parameters of the Pythia sizes (the suite's published counts).
PYTHIA_PARAMS = {
    "14M": 14_067_712,
    "70M": 70_426_624,
    "160M": 162_322_944,
    "410M": 405_334_016,
    "1B": 1_011_781_632,
    "1.4B": 1_414_647_808,
    "2.8B": 2_775_208_960,
    "6.9B": 6_857_302_016,
    "12B": 11_846_072_320,
}
#: The checkpoint family of each table (the most attempts per problem).
CHECKPOINTS = {
    "math": ("math_pass_at_k.parquet", "20B"),
    "gsm8k": ("gsm8k_pass_at_k.parquet", "2B"),
}
HELD_OUT = ("Pythia 70M", "Pythia 1B", "Pythia 12B")
ADVICE_TARGETS = ("Pythia 160M", "Pythia 1B")
ADVICE_BUDGET = 12_800


# -- data ------------------------------------------------------------------------------
def load_pythia() -> pd.DataFrame:
    frame = pd.read_csv(DATA / "pythia_math_per_problem_counts.csv")
    frame = frame.rename(columns={"problem_idx": "problem"})
    return frame[["model", "problem", "n_samples", "n_correct", "params"]]


def load_checkpoint_table(name: str) -> pd.DataFrame:
    file, checkpoint = CHECKPOINTS[name]
    raw = pd.read_parquet(DATA / file)
    per = raw.groupby(["Model Nickname", "prompt_idx"], as_index=False).agg(
        n_samples=("Num. Samples", "first"), n_correct=("Num. Samples Correct", "first")
    )
    parts = per["Model Nickname"].str.split("_", expand=True)
    per = per[parts[2] == checkpoint].copy()
    size = parts.loc[per.index, 1]
    per["model"] = "Pythia " + size
    per["params"] = size.map(PYTHIA_PARAMS).astype(float)
    per["problem"] = per["prompt_idx"].astype(int)
    per["n_samples"] = per["n_samples"].astype(int)
    per["n_correct"] = per["n_correct"].astype(int)
    per = per.sort_values(["params", "problem"])
    return per[["model", "problem", "n_samples", "n_correct", "params"]].reset_index(drop=True)


def subsample(counts: pd.DataFrame, n_keep: int, seed: int) -> pd.DataFrame:
    """Keep ``n_keep`` random attempts of each problem (all of them when it has fewer)."""
    from bayescale import passk

    out = counts.copy()
    keep = np.minimum(counts["n_samples"].to_numpy(), n_keep)
    rng = np.random.default_rng(seed)
    out["n_correct"] = passk.subsample_counts(
        counts["n_samples"].to_numpy(), counts["n_correct"].to_numpy(), keep, seed=rng
    )
    out["n_samples"] = keep
    return out


def truth(counts: pd.DataFrame, ks: Iterable[float]) -> pd.DataFrame:
    """Unbiased coverage from all attempts, per model and k; NaN where a problem has fewer
    than k attempts, or the model never solved anything (nothing to forecast)."""
    from bayescale import passk

    rows = []
    for model, g in counts.groupby("model", sort=False):
        for k in ks:
            ok = bool((g["n_samples"] >= k).all()) and bool((g["n_correct"] > 0).any())
            value = np.nan
            if ok:
                _, cov = passk.coverage_curve(g["n_samples"], g["n_correct"], [k])
                value = float(cov[0])
            rows.append({"model": model, "k": float(k), "truth": value})
    return pd.DataFrame(rows)


def extra_attempts(
    full: pd.DataFrame, kept: pd.DataFrame, extra: pd.Series, seed: int
) -> pd.DataFrame:
    """Add ``extra`` attempts per row, drawn from the attempts ``kept`` did not use."""
    rng = np.random.default_rng(seed)
    out = kept.copy()
    e = extra.reindex(kept.index).fillna(0).astype(int).to_numpy()
    left_n = full["n_samples"].to_numpy() - kept["n_samples"].to_numpy()
    left_c = full["n_correct"].to_numpy() - kept["n_correct"].to_numpy()
    e = np.minimum(e, left_n)
    got = np.where(e > 0, rng.hypergeometric(left_c, left_n - left_c, np.maximum(e, 1)), 0)
    out["n_samples"] = kept["n_samples"].to_numpy() + e
    out["n_correct"] = kept["n_correct"].to_numpy() + got
    return out


# -- methods ---------------------------------------------------------------------------
#: ``passk.fit`` options of each Bayesian method.
METHODS: dict[str, dict[str, Any]] = {
    "beta": {"model": "beta"},
    "shared": {"model": "shared_difficulty", "difficulty": "normal"},
    "shared_skew": {"model": "shared_difficulty", "difficulty": "skewed"},
}
#: The methods whose levels ``--flex-levels`` sets (the sinh-arcsinh difficulty).
SINH_ARCSINH = ("shared_skew",)


class Fits:
    """Bayesian fits run through :func:`bayescale.fit_many` (files in ``folder``, reused by
    a later run: a changed subsample or method is a new task) and loaded back."""

    def __init__(self, folder: Path, workers: int | None) -> None:
        self.folder, self.workers = folder, workers

    def run(self, jobs: list[tuple[pd.DataFrame, str, int]]) -> list[tuple[Any, float] | None]:
        """Fit every (counts, method, seed); per job the loaded fit and its seconds, or None."""
        import bayescale
        from bayescale.batch import FitTask, fit_many

        if not jobs:
            return []
        tasks = [
            FitTask(
                kind="passk",
                data=counts,
                options={
                    **METHODS[method],
                    "seed": seed,
                    "progressbar": False,
                    "warn_convergence": False,
                },
            )
            for counts, method, seed in jobs
        ]
        results = fit_many(tasks, out_dir=self.folder, max_workers=self.workers).set_index("key")
        out: list[tuple[Any, float] | None] = []
        for task in tasks:
            row = results.loc[task.key]
            if row["status"] not in ("ok", "not_converged"):
                print(f"FAILED {task.key}: {row['error']}", flush=True)
                out.append(None)
                continue
            out.append((bayescale.load(row["path"]), float(row["seconds"])))
        return out


def diag_record(result: Any, seconds: float) -> dict[str, Any]:
    d = result.diagnostics
    return {
        "fit_seconds": round(seconds, 1),
        "divergences": int(d.divergences),
        "max_rhat": float(d.max_rhat),
        "min_ess": float(d.min_ess_bulk),
        "converged": bool(d.ok),
        "reruns": len(result.notes) if result.notes else 0,
    }


def score(table: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    out = table.merge(real, on=["model", "k"]).dropna(subset=["truth"])
    out["error"] = out["median"] - out["truth"]
    out["covered"] = (out["lower"] <= out["truth"]) & (out["truth"] <= out["upper"])
    out["width"] = out["upper"] - out["lower"]
    return out


# -- cache -----------------------------------------------------------------------------
class Cache:
    """Rows per fit key in CSV files under ``out``; a key done once is skipped."""

    def __init__(self, out: Path, name: str) -> None:
        self.path = out / f"{name}.csv"
        self.frame = pd.read_csv(self.path) if self.path.exists() else pd.DataFrame()

    def has(self, key: str) -> bool:
        return bool(len(self.frame)) and key in set(self.frame["key"])

    def add(self, key: str, rows: pd.DataFrame) -> None:
        rows = rows.assign(key=key)
        self.frame = pd.concat([self.frame, rows], ignore_index=True)
        self.frame.to_csv(self.path, index=False)


# -- sections --------------------------------------------------------------------------
def grid(
    datasets: dict[str, pd.DataFrame],
    levels: Iterable[int],
    reps: int,
    flex_levels: Iterable[int],
    cache: Cache,
    keep: Callable[[str, int, int, str, Any], None],
    fits: Fits,
    bayesian: Iterable[str] = tuple(METHODS),
) -> None:
    """Every cell: the MLE here, the Bayesian fits through ``fits`` (fit_many), then scored."""
    from bayescale import passk

    jobs: list[tuple[str, str, int, int, str, pd.DataFrame, list[float], pd.DataFrame]] = []
    for name, full in datasets.items():
        for n_keep in levels:
            ks = [m * n_keep for m in MULTIPLES if m * n_keep <= K_MAX]
            real = truth(full, ks)
            if real["truth"].notna().sum() == 0:
                continue
            for rep in range(reps):
                small = subsample(full, n_keep, seed=1000 * rep + n_keep)
                methods = ["mle"] + [
                    m for m in bayesian if m not in SINH_ARCSINH or n_keep in flex_levels
                ]
                for method in methods:
                    key = f"{name}|{n_keep}|{rep}|{method}"
                    if cache.has(key):
                        continue
                    if method != "mle":
                        jobs.append((key, name, n_keep, rep, method, small, ks, real))
                        continue
                    start = time.perf_counter()
                    table = passk.mle_coverage(small, ks, ci_prob=0.9)
                    record: dict[str, Any] = {"fit_seconds": time.perf_counter() - start}
                    _add_cell(cache, key, table, real, name, n_keep, rep, method, record)
    done = fits.run([(small, method, rep) for _, _, _, rep, method, small, _, _ in jobs])
    for job, fitted in zip(jobs, done, strict=True):
        key, name, n_keep, rep, method, _, ks, real = job
        if fitted is None:
            continue
        result, seconds = fitted
        record = diag_record(result, seconds)
        keep(name, n_keep, rep, method, result)
        table = measured(result, datasets[name], real)
        _add_cell(cache, key, table, real, name, n_keep, rep, method, record)
        table = result.coverage(ks, ci_prob=0.9)  # the expected coverage, for comparison
        expected = {**record, "target": "expected"}
        _add_cell(cache, f"{key}|expected", table, real, name, n_keep, rep, method, expected)


def measured(result: Any, full: pd.DataFrame, real: pd.DataFrame) -> pd.DataFrame:
    """Forecasts of the truth as it is measured: the unbiased estimate once every problem
    has all its attempts (``coverage(attempts=...)``), per model at the ``k`` it is scored."""
    attempts = full[["model", "problem", "n_samples"]]
    tables = [
        result.coverage(g["k"].tolist(), models=str(model), ci_prob=0.9, attempts=attempts)
        for model, g in real.dropna(subset=["truth"]).groupby("model", sort=False)
    ]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _add_cell(
    cache: Cache,
    key: str,
    table: pd.DataFrame,
    real: pd.DataFrame,
    name: str,
    n_keep: int,
    rep: int,
    method: str,
    record: dict[str, Any],
) -> None:
    scored = score(table, real).assign(
        dataset=name, n_keep=n_keep, rep=rep, method=method, **{"target": "measured", **record}
    )
    scored["multiple"] = scored["k"] / n_keep
    cache.add(key, scored)
    print(
        f"{key}: {len(scored)} forecasts, covered {scored['covered'].mean():.2f}, "
        f"MAE {scored['error'].abs().mean():.3f}; {record}",
        flush=True,
    )


def held_out(
    full: pd.DataFrame, cache: Cache, fits: Fits, methods: Iterable[str] = ("beta", "shared")
) -> None:
    ks = [100.0, 1000.0, 10000.0]
    real = truth(full, ks)
    small = subsample(full, 100, seed=100)
    sizes = full.groupby("model")["params"].first()
    jobs = [
        (model, method)
        for model in HELD_OUT
        for method in methods
        if not cache.has(f"held|{model}|{method}")
    ]
    rests = {model: small[small["model"] != model] for model in HELD_OUT}
    done = fits.run([(rests[model], method, 0) for model, method in jobs])
    for (model, method), fitted in zip(jobs, done, strict=True):
        key = f"held|{model}|{method}"
        if fitted is not None:
            result, seconds = fitted
            params = {model: float(sizes[model])}
            if method != "beta":  # the same problems, from their difficulties, measured
                attempts = full[["model", "problem", "n_samples"]]
                table = result.coverage(ks, params=params, ci_prob=0.9, attempts=attempts)
            else:  # new problems, from the trend in size
                table = result.coverage(
                    ks, params=params, problems="population", n_problems=128, ci_prob=0.9
                )
            scored = score(table, real).assign(
                held_out=model, method=method, **diag_record(result, seconds)
            )
            cache.add(key, scored)
            print(
                f"{key}: {scored[['k', 'truth', 'median', 'covered']].round(3).to_dict('records')}"
            )


def loo_section(fits: dict[str, Any], cache: Cache) -> None:
    import arviz as az

    for label, group in fits.items():
        key = f"loo|{label}"
        if cache.has(key) or len(group) < 2:
            continue
        start = time.perf_counter()
        loos = {method: result.loo(by="problem") for method, result in group.items()}
        comp = az.compare(loos)
        rows = []
        for method, row in comp.iterrows():
            rows.append(
                {
                    "data": label,
                    "method": method,
                    "elpd": float(loos[method].elpd),
                    "se": float(loos[method].se),
                    "elpd_diff": float(row["elpd_diff"]),
                    "dse": float(row["dse"]),
                    "bad_k": int(np.sum(np.asarray(loos[method].pareto_k) > 0.7)),
                }
            )
        cache.add(key, pd.DataFrame(rows))
        print(f"{key} ({time.perf_counter() - start:.0f} s):\n{pd.DataFrame(rows).round(2)}")


def advice_section(
    full: pd.DataFrame,
    base_fit: Callable[[], Any],
    kept: pd.DataFrame,
    cache: Cache,
    fits: Fits,
    method: str,
    seeds: Iterable[int],
) -> None:
    """Advice against the even spread, for each target and each draw (``seeds``) of the
    further attempts from the ones the fit did not see; the fits are ``method``'s."""
    from bayescale import passk

    real = truth(full, [10000.0])
    index = kept.reset_index(drop=True)
    row_of = {
        (m, str(p)): i
        for i, (m, p) in enumerate(zip(index["model"], index["problem"], strict=True))
    }
    for target in ADVICE_TARGETS:
        todo = [s for s in seeds if not cache.has(f"advice|{method}|{target}|{s}")]
        if not todo:
            continue
        base = base_fit()
        start = time.perf_counter()
        advice = passk.sampling_advice(base, ADVICE_BUDGET, model=target, k=10_000)
        print(f"advice|{method}|{target}: in {time.perf_counter() - start:.0f} s", flush=True)
        advised = pd.Series(
            {row_of[(r.model, r.problem)]: r.extra_attempts for r in advice.allocation.itertuples()}
        )
        own = np.flatnonzero(index["model"].to_numpy() == target)
        even = pd.Series(ADVICE_BUDGET // own.size, index=own)
        expected = advice.expected.assign(target=target).rename(
            columns={"width": "expected_width", "sd": "expected_sd"}
        )
        before = score(base.coverage([10000.0], models=target, ci_prob=0.9), real).assign(
            strategy="now", attempts=0, pairs=0, **diag_record(base, 0.0)
        )
        plans = [
            (seed, name, extra)
            for seed in todo
            for name, extra in (("advised", advised), ("even", even))
        ]
        jobs = [
            (extra_attempts(full.reset_index(drop=True), index, extra, seed=seed), method, 0)
            for seed, _, extra in plans
        ]
        done = fits.run(jobs)
        for seed in todo:
            rows = [before]
            for (plan_seed, name, extra), fitted in zip(plans, done, strict=True):
                if plan_seed != seed or fitted is None:
                    continue
                result, seconds = fitted
                table = result.coverage([10000.0], models=target, ci_prob=0.9)
                rows.append(
                    score(table, real).assign(
                        strategy=name,
                        attempts=int(extra.sum()),
                        pairs=int((extra > 0).sum()),
                        **diag_record(result, seconds),
                    )
                )
            out = (
                pd.concat(rows, ignore_index=True)
                .assign(target=target, method=method, seed=seed)
                .merge(expected[["strategy", "target", "expected_width"]], how="left")
            )
            key = f"advice|{method}|{target}|{seed}"
            cache.add(key, out)
            shown = ["strategy", "attempts", "pairs", "median", "width", "expected_width"]
            print(f"{key}:\n{out[[*shown, 'truth', 'covered']].round(4)}", flush=True)


def advice_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method, target and strategy: the draws of further attempts, the mean width and
    its range, how many intervals cover, and how often the strategy was the narrower."""
    runs = frame[frame["strategy"] != "now"].dropna(subset=["method"])
    if runs.empty:
        return pd.DataFrame()
    wide = runs.pivot_table(index=["method", "target", "seed"], columns="strategy", values="width")
    narrower = (wide["advised"] < wide["even"]).groupby(["method", "target"]).sum()
    out = (
        frame.dropna(subset=["method"])
        .groupby(["method", "target", "strategy"], sort=False)
        .agg(
            draws=("seed", "nunique"),
            mean_width=("width", "mean"),
            min_width=("width", "min"),
            max_width=("width", "max"),
            mean_abs_error=("error", lambda e: float(np.mean(np.abs(e)))),
            covered=("covered", "sum"),
            expected_width=("expected_width", "mean"),
        )
        .reset_index()
    )
    out["advised_narrower"] = [
        int(narrower.get((m, t), 0)) if s == "advised" else np.nan
        for m, t, s in zip(out["method"], out["target"], out["strategy"], strict=True)
    ]
    return out


# -- report ----------------------------------------------------------------------------
#: Column order of the summaries (``shared_flex``: cells of runs before its withdrawal).
ORDER = ("beta", "shared", "shared_flex", "shared_skew", "mle")


def _markdown(frame: pd.DataFrame) -> str:
    """A pipe table (no ``tabulate`` dependency); floats to 4 significant digits."""

    def text(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else f"{v:.4g}"
        return str(v)

    head = [str(c) for c in frame.columns]
    body = [[text(v) for v in row] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _cell(frame: pd.DataFrame, clusters: bool = False) -> str:
    """``MAE / covered of cases / mean width`` of a group of forecasts; with ``clusters``,
    the 90% interval of the share covered when whole fits are resampled (the
    ``cluster_interval`` of ``extrapolation_check.py``) after the count."""
    from extrapolation_check import cluster_interval

    hit, mae = int(frame["covered"].sum()), frame["error"].abs().mean()
    width = frame["width"].mean()
    spread = ""
    if clusters:  # the forecasts of one fit share its error: resample whole fits
        lo, hi = cluster_interval(frame, column="covered", cluster="key")
        spread = f" [{lo:.2f}, {hi:.2f}]"
    return f"{mae:.3f} / {hit} of {len(frame)}{spread} / {width:.2f}"


def _table(cells: pd.DataFrame, by: list[str], clusters: bool = False) -> str:
    methods = [m for m in ORDER if m in set(cells["method"])]
    rows = []
    for key, group in cells.groupby(by, sort=True):
        values = key if isinstance(key, tuple) else (key,)
        row: dict[str, Any] = {
            name: (int(v) if isinstance(v, (int, float, np.integer, np.floating)) else v)
            for name, v in zip(by, values, strict=True)
        }
        for method in methods:
            part = group[group["method"] == method]
            row[method] = _cell(part, clusters) if len(part) else ""
        rows.append(row)
    return _markdown(pd.DataFrame(rows))


def summarise(out: Path) -> str:
    lines = []
    cells = pd.read_csv(out / "cells.csv") if (out / "cells.csv").exists() else pd.DataFrame()
    if len(cells):
        cells["multiple"] = cells["multiple"].round().astype(int)
        target = cells.get("target", pd.Series("measured", index=cells.index))
        expected = cells[target == "expected"]  # caches of before December 5, 2026: none
        cells = cells[target != "expected"]
        lines += [
            "Each entry: MAE of the median / 90% intervals that cover / mean width.",
            "",
            "## per row of attempts (all data sets and multiples)",
            "",
            "[lo, hi]: 90% interval of the share covered, resampling whole fits.",
            "",
            _table(cells, ["n_keep"], clusters=True),
            "",
            "## per multiple of the attempts (all data sets and rows)",
            "",
            _table(cells, ["multiple"]),
            "",
            "## per data set and row of attempts",
            "",
            _table(cells, ["dataset", "n_keep"]),
            "",
            "## per cell",
            "",
            _table(cells, ["dataset", "n_keep", "multiple"]),
            "",
        ]
        fits = cells[cells["method"] != "mle"].drop_duplicates("key")
        conv = (
            fits.groupby(["dataset", "method"])
            .agg(
                fits=("key", "size"),
                converged=("converged", "sum"),
                divergences=("divergences", "sum"),
                max_rhat=("max_rhat", "max"),
                min_ess=("min_ess", "min"),
                median_seconds=("fit_seconds", "median"),
                max_seconds=("fit_seconds", "max"),
            )
            .reset_index()
        )
        lines += ["## convergence", "", _markdown(conv), ""]
        if len(expected):  # the Bayesian forecasts of the expected coverage instead
            lines += [
                "## the expected coverage instead of the measured one, per row",
                "",
                _table(expected, ["n_keep"]),
                "",
                _table(expected, ["multiple"]),
                "",
            ]
    for name in ("held", "loo", "advice", "full"):
        path = out / f"{name}.csv"
        if path.exists():
            frame = pd.read_csv(path).drop(columns=["key"], errors="ignore")
            if name == "advice" and "method" in frame:
                lines += [
                    "## advice against the even spread",
                    "",
                    _markdown(advice_summary(frame)),
                    "",
                ]
            lines += [f"## {name}", "", _markdown(frame), ""]
    text = "\n".join(lines)
    (out / "summary.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=2, help="subsamples per Pythia cell")
    parser.add_argument("--levels", type=int, nargs="*", default=list(LEVELS))
    parser.add_argument("--flex-levels", type=int, nargs="*", default=list(LEVELS))
    parser.add_argument("--datasets", nargs="*", default=["pythia", "math", "gsm8k"])
    parser.add_argument(
        "--methods",
        nargs="*",
        default=list(METHODS),
        choices=list(METHODS),
        help="Bayesian methods of the grid (all; the MLE always runs)",
    )
    parser.add_argument("--skip", nargs="*", default=[], help="grid, held, loo, advice")
    parser.add_argument(
        "--advice-method",
        default="shared_skew",
        choices=list(METHODS),
        help="the fits of the advice section (shared_skew: the package's default)",
    )
    parser.add_argument(
        "--advice-draws",
        type=int,
        default=3,
        help="draws of the further attempts per target and strategy (seeds 7, 8, ...)",
    )
    parser.add_argument("--quick", action="store_true", help="n' = 100, one rep, Pythia only")
    parser.add_argument(
        "--loo-full", action="store_true", help="PSIS-LOO on all 10,000 attempts too (3 fits)"
    )
    parser.add_argument("--out", default="bench_out/passk_backtest")
    parser.add_argument(
        "--fits-dir", default=None, help="fit_many's folder of the fits (default: OUT/fits)"
    )
    parser.add_argument("--workers", type=int, default=None, help="fit_many processes")
    args = parser.parse_args()
    if args.advice_draws < 1 and "advice" not in args.skip:
        parser.error(
            f"--advice-draws must be at least 1, not {args.advice_draws} (or --skip advice)"
        )
    if args.quick:
        args.levels, args.reps, args.datasets, args.flex_levels = [100], 1, ["pythia"], []
    warnings.simplefilter("ignore")
    if not DATA.is_dir():
        raise SystemExit(f"data not found at {DATA} (set BAYESCALE_SHARED_DATA)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    loaders = {
        "pythia": load_pythia,
        "math": lambda: load_checkpoint_table("math"),
        "gsm8k": lambda: load_checkpoint_table("gsm8k"),
    }
    datasets = {name: loaders[name]() for name in args.datasets}
    kept_fits: dict[str, dict[str, Any]] = {}
    fits = Fits(Path(args.fits_dir) if args.fits_dir else out / "fits", args.workers)

    def keep(name: str, n_keep: int, rep: int, method: str, result: Any) -> None:
        if name == "pythia" and n_keep == 100 and rep == 0:
            kept_fits.setdefault("pythia, 100 attempts", {})[method] = result

    if "grid" not in args.skip:
        grid(
            datasets,
            args.levels,
            args.reps,
            args.flex_levels,
            Cache(out, "cells"),
            keep,
            fits,
            args.methods,
        )
    if "pythia" in datasets:
        full = datasets["pythia"]
        small = subsample(full, 100, seed=100)  # the grid's n' = 100, rep 0

        def at_100(method: str) -> Any:
            """The grid's fit at n' = 100, rep 0 (refitted when the grid was cached)."""
            group = kept_fits.setdefault("pythia, 100 attempts", {})
            if method not in group:
                fitted = fits.run([(small, method, 0)])[0]
                if fitted is None:
                    raise SystemExit(f"the {method} fit at n' = 100 failed")
                group[method] = fitted[0]
            return group[method]

        if "advice" not in args.skip:
            advice_section(
                full,
                lambda: at_100(args.advice_method),
                small,
                Cache(out, "advice"),
                fits,
                args.advice_method,
                range(7, 7 + args.advice_draws),
            )
        if "held" not in args.skip:
            held = [m for m in ("beta", "shared", "shared_skew") if m in args.methods]
            held_out(full, Cache(out, "held"), fits, held)
        if "loo" not in args.skip and not args.quick:
            methods = tuple(m for m in METHODS if m in args.methods)
            if not Cache(out, "loo").has("loo|pythia, 100 attempts"):
                for method in methods:
                    at_100(method)
            if args.loo_full and not Cache(out, "loo").has("loo|pythia, all 10,000 attempts"):
                cache = Cache(out, "full")
                done = fits.run([(full, method, 0) for method in methods])
                for method, fitted in zip(methods, done, strict=True):
                    key = f"full|{method}"
                    if fitted is None:
                        continue
                    result, seconds = fitted
                    kept_fits.setdefault("pythia, all 10,000 attempts", {})[method] = result
                    if not cache.has(key):
                        record = diag_record(result, seconds)
                        cache.add(key, pd.DataFrame([{"method": method, **record}]))
                        print(f"{key}: {record}", flush=True)
            loo_section(kept_fits, Cache(out, "loo"))
    print(summarise(out))
    elapsed = time.perf_counter() - start
    print(f"\nwall time {elapsed / 60:.1f} min")
    (out / "run.json").write_text(json.dumps({"args": vars(args), "minutes": elapsed / 60}))


if __name__ == "__main__":
    main()
