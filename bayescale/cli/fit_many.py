"""``bayescale fit-many``: many fits of any kind on local processes or a Dask cluster.

``bayescale fit-many --datasets gadre2024 --out-dir fits/`` fits one scaling law per
(data set, metric, family) of the shipped data; ``bayescale fit-many --tasks tasks.json
--out-dir fits/`` runs a JSON list of tasks of any kind (``"kind": "passk"``,
``"sandwich"``...). Each finished fit is one file; a rerun skips them. See
``docs/fit_many.md``.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from bayescale.batch import fit_many, format_results, read_task_file, tasks_from_datasets
from bayescale.batch.tasks import FIT_FUNCTIONS
from bayescale.core.errors import SpecificationError

__all__ = ["add_fit_many_parser", "cmd_fit_many"]


def add_fit_many_parser(
    sub: Any, *, number: Any = float, probability: Any = float, positive_int: Any = int, **_: Any
) -> None:
    """Register ``bayescale fit-many`` under the ``bayescale`` parser."""
    p = sub.add_parser(
        "fit-many",
        help="fit many laws and models (every family x metric of the shipped data, or a "
        "task file of any kind of fit) in parallel, crash-safe",
        description="Fit many scaling laws, pass@k models, coverage laws, voting curves and "
        "emergence models on a local process pool or a Dask cluster. Each finished fit is "
        "written to OUT_DIR/<key>.nc with a record <key>.json, and OUT_DIR/results.csv "
        "lists every task; a rerun skips the fits already on disk (docs/fit_many.md).",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--datasets",
        nargs="*",
        metavar="NAME",
        help="one single-family scaling-law task per (data set, metric, family) of these "
        "shipped data sets (no names: all of them)",
    )
    src.add_argument(
        "--tasks",
        metavar="TASKS.json",
        help='a JSON list of tasks: {"kind" (' + ", ".join(FIT_FUNCTIONS) + "; default "
        'scaling), "dataset" or "data", "metric", "family", "law", "pooling", options of '
        "the kind's fit function...}",
    )
    p.add_argument("--out-dir", required=True, help="directory of the fits and records")
    p.add_argument(
        "--law",
        default="auto",
        help="with --datasets: law of every task, or auto (chinchilla where N and D vary "
        "independently, power_law:compute otherwise; default)",
    )
    p.add_argument("--metrics", nargs="+", metavar="M", help="with --datasets: only these")
    p.add_argument(
        "--min-rows",
        type=positive_int,
        default=6,
        help="with --datasets: skip (and record) families with fewer rows (6)",
    )
    p.add_argument("--limit", type=positive_int, help="run only the first N tasks")
    p.add_argument("--workers", type=positive_int, help="local worker processes (default: CPUs)")
    p.add_argument(
        "--executor",
        choices=("process", "thread"),
        default="process",
        help="local processes (default) or threads (for debugging)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a Dask cluster (e.g. tcp://host:8786) instead of local processes",
    )
    p.add_argument("--draws", type=positive_int, default=1000, help="draws per chain (1000)")
    p.add_argument("--tune", type=positive_int, default=1000, help="tuning steps per chain (1000)")
    p.add_argument("--chains", type=positive_int, default=4, help="number of chains (4)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--overwrite", action="store_true", help="refit tasks that have a file")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress")
    p.set_defaults(func=cmd_fit_many)


def cmd_fit_many(args: argparse.Namespace, out: TextIO) -> int:
    """``bayescale fit-many``: run the tasks, print a summary; status 1 if any failed."""
    options = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "seed": args.seed}
    if args.tasks is not None:
        tasks = read_task_file(args.tasks)
    else:
        tasks = tasks_from_datasets(
            args.datasets or None, law=args.law, metrics=args.metrics, min_rows=args.min_rows
        )
    if args.limit is not None:
        tasks = tasks[: args.limit]
    client = None
    executor: Any = args.executor
    if args.scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise SpecificationError(
                "--scheduler needs dask.distributed: pip install 'dask[distributed]'"
            ) from None
        client = Client(args.scheduler)
        executor = client
    try:
        table = fit_many(
            tasks,
            executor,
            out_dir=args.out_dir,
            progress=not args.quiet,
            overwrite=args.overwrite,
            max_workers=args.workers,
            **options,
        )
    finally:
        if client is not None:
            client.close()
    print(format_results(table), file=out)
    return 1 if (table["status"] == "failed").any() else 0
