"""Throughput of bayescale.fit_many: every family x metric law of the shipped data sets.

Builds one single-family task per (data set, metric, family) with
:func:`bayescale.batch.tasks_from_datasets` (chinchilla where N and D vary independently,
power_law:compute otherwise; families with fewer than ``--min-rows`` rows are skipped and
counted), then fits them with 1 worker process and with 2 (``--workers``), each run into
its own directory from scratch (``overwrite=True``). Prints per configuration: wall time,
time per law, speed-up over the first configuration, statuses (ok / not converged /
failed) and the failures' errors. ``--limit N`` fits N tasks spread over the data sets
(round robin) instead of all of them.

Usage::

    .venv/bin/python benchmarks/fit_many.py                        # everything (hours)
    .venv/bin/python benchmarks/fit_many.py --limit 20 --draws 500 --tune 500

Compilation dominates a small fit, and PyTensor/Numba keep on-disk caches: the first
configuration may pay for compiling what later ones reuse (``--workers 2 1`` reverses the
order).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict, deque
from pathlib import Path

import pandas as pd

from bayescale.batch import FitTask, fit_many, format_results, tasks_from_datasets


def spread(tasks: list[FitTask], limit: int | None) -> list[FitTask]:
    """The first ``limit`` tasks taken round robin over data sets (all when None)."""
    if limit is None:
        return tasks
    by_dataset: dict[str | None, deque[FitTask]] = defaultdict(deque)
    for task in tasks:
        by_dataset[task.dataset].append(task)
    chosen: list[FitTask] = []
    while len(chosen) < limit and any(by_dataset.values()):
        for queue in by_dataset.values():
            if queue and len(chosen) < limit:
                chosen.append(queue.popleft())
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=None, help="default: all")
    parser.add_argument("--limit", type=int, default=None, help="fit only N tasks")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--min-rows", type=int, default=6)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--out-dir", default="bench_out/fit_many")
    args = parser.parse_args()

    all_tasks = tasks_from_datasets(args.datasets, min_rows=args.min_rows)
    runnable = [t for t in all_tasks if t.skip is None]
    skipped = len(all_tasks) - len(runnable)
    tasks = spread(runnable, args.limit)
    laws = pd.Series([t.law for t in tasks]).value_counts().to_dict()
    print(
        f"{len(all_tasks)} (data set, metric, family) pairs: {len(runnable)} fittable, "
        f"{skipped} skipped (fewer than {args.min_rows} rows or 3 distinct inputs); "
        f"fitting {len(tasks)} ({laws}) with draws={args.draws}, tune={args.tune}, "
        f"chains={args.chains}",
        flush=True,
    )
    out = Path(args.out_dir)
    rows = []
    for workers in args.workers:
        start = time.perf_counter()
        table = fit_many(
            tasks,
            max_workers=workers,
            out_dir=out / f"workers{workers}",
            overwrite=True,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
        )
        wall = time.perf_counter() - start
        counts = table["status"].value_counts()
        fitted = table[table["status"].isin(["ok", "not_converged"])]
        rows.append(
            {
                "workers": workers,
                "laws": len(tasks),
                "wall_s": round(wall, 1),
                "s_per_law": round(wall / max(len(tasks), 1), 1),
                "median_fit_s": round(float(table["seconds"].median()), 1),
                "ok": int(counts.get("ok", 0)),
                "not_converged": int(counts.get("not_converged", 0)),
                "failed": int(counts.get("failed", 0)),
                "divergent_fits": int((fitted["divergences"] > 0).sum()),
            }
        )
        print(f"\n-- {workers} worker(s): {wall:.0f} s", flush=True)
        print(format_results(table), flush=True)
    summary = pd.DataFrame(rows)
    summary["speedup"] = (summary["wall_s"].iloc[0] / summary["wall_s"]).round(2)
    print()
    print(summary.to_string(index=False))
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(
        json.dumps(
            {"args": vars(args), "skipped": skipped, "runs": summary.to_dict("records")},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
