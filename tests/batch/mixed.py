"""A run of fit_many over several kinds of fit, shared by the test and the run it kills.

Importable by Dask worker processes (``tests`` is a package and the repository root is on
their path), and runnable as ``python -m tests.batch.mixed OUT_DIR`` (a run on its own
``LocalCluster``, which the test kills mid-run).

:func:`held_prior_sampler` is the prior sampler of ``tests.helpers`` after a pause of
``$BAYESCALE_TEST_HOLD_SECONDS`` (0 when unset): the killed run sets it, so that the tasks
using it are still running when the run is killed, whatever the speed of the machine.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from bayescale.batch import FitTask
from tests.helpers import prior_sampler

HOLD_ENV = "BAYESCALE_TEST_HOLD_SECONDS"
#: Sampling settings of every task: prior draws, so no MCMC.
OPTIONS = {"draws": 60, "tune": 10, "chains": 2, "extend_if_slow": False}
PRIOR = "tests.helpers:prior_sampler"
HELD = "tests.batch.mixed:held_prior_sampler"


def held_prior_sampler(model: Any, **kwargs: Any) -> Any:
    """:func:`tests.helpers.prior_sampler` after ``$BAYESCALE_TEST_HOLD_SECONDS``."""
    time.sleep(float(os.environ.get(HOLD_ENV, "0")))
    return prior_sampler(model, **kwargs)


def slice_table(n_models: int = 30, seed: int = 3) -> pd.DataFrame:
    """A small simulated slice table (one task, 5 Brier slices and the accuracy), the input
    of a Slice-and-Sandwich: an inverted-U easy slice and a steadily improving hard one."""
    rng = np.random.default_rng(seed)
    log_c = np.sort(rng.uniform(20.0, 24.0, n_models))
    n_slices = 5
    difficulty = np.linspace(0.0, 1.0, n_slices)
    t = log_c[:, None] - 22.5
    briers = (1 - difficulty) * (0.5 - 0.12 * t**2) + difficulty * (0.8 - 0.08 * (t + 1.5))
    briers = np.clip(briers + rng.normal(0, 0.02, (n_models, 1)), 0.0, 1.0)
    acc = 0.25 + 1.2 * (0.55 - briers.mean(axis=1)) + rng.normal(0, 0.01, n_models)
    rows = []
    for i in range(n_models):
        base = {"task": "sim", "model": f"m{i:02d}", "family": "f", "compute": 10 ** log_c[i]}
        for s in range(n_slices):
            rows.append(
                {
                    **base,
                    "slice": s,
                    "n_slices": n_slices,
                    "slice_label": f"s{s}",
                    "metric": "brier",
                    "value": briers[i, s],
                    "n_questions": 100.0,
                }
            )
        rows.append(
            {
                **base,
                "slice": -1,
                "n_slices": n_slices,
                "slice_label": "overall",
                "metric": "acc",
                "value": acc[i],
                "n_questions": 500.0,
            }
        )
    return pd.DataFrame(rows)


def mixed_tasks() -> tuple[list[FitTask], list[FitTask]]:
    """Tasks that finish before the kill (scaling, pass@k, Slice-and-Sandwich) and tasks
    held until it (scaling, pass@k)."""
    from bayescale import passk

    counts = passk.example_counts()
    quick = [
        FitTask(
            law="power_law:compute",
            dataset="gadre2024",
            metric="loss_c4_val",
            families=("rpj",),
            options={**OPTIONS, "sampler": prior_sampler},  # a callable crosses too
        ),
        FitTask(kind="passk", data=counts, options={**OPTIONS, "sampler": PRIOR}),
        FitTask(
            kind="sandwich",
            data=slice_table(),
            options={**OPTIONS, "cutoff": 10**23.0, "degree": 2, "sampler": PRIOR},
        ),
    ]
    held = [
        FitTask(
            law="power_law:compute",
            dataset="gadre2024",
            metric="loss_c4_val",
            families=("c4_original",),
            options={**OPTIONS, "sampler": HELD},
        ),
        FitTask(kind="passk", data=counts, options={**OPTIONS, "seed": 1, "sampler": HELD}),
    ]
    return quick, held


def run(out_dir: str) -> pd.DataFrame:
    """fit_many of :func:`mixed_tasks` on a LocalCluster of 2 processes, 1 thread each."""
    import distributed

    from bayescale.batch import fit_many

    quick, held = mixed_tasks()
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        return fit_many([*quick, *held], client, out_dir=out_dir, progress=False)


if __name__ == "__main__":
    run(sys.argv[1])
