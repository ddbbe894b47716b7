"""Many fits of any kind at once, on any executor, crash-safe: :func:`fit_many`.

- :mod:`bayescale.batch.tasks`: :class:`FitTask` (a kind, its data, its options), the fit
  function of every kind (:data:`FIT_FUNCTIONS`), task lists from the shipped data sets and
  from JSON task files;
- :mod:`bayescale.batch.worker`: :func:`run_task`, one task in a worker (fit, save to one
  file, write its record);
- :mod:`bayescale.batch.runner`: :func:`fit_many`, the executors (local processes, threads,
  Dask), resume, the lock of an output directory;
- :mod:`bayescale.batch.records`: the records and ``results.csv``, :func:`read_results`,
  :func:`open_fits` (fits of any kind loaded lazily with :func:`bayescale.load`).

The command line ``bayescale fit-many`` is :mod:`bayescale.cli.fit_many`. See
``docs/fit_many.md``. Importing this package is cheap: PyMC is imported by the workers.
"""

from __future__ import annotations

from bayescale.batch.records import (
    RESULT_COLUMNS,
    RESULTS_FILE,
    STATUSES,
    LazyFits,
    format_results,
    open_fits,
    read_results,
)
from bayescale.batch.runner import LOCK_FILE, fit_many
from bayescale.batch.tasks import (
    FIT_FUNCTIONS,
    FitTask,
    as_task,
    fit_function,
    read_task_file,
    resolve_callable,
    tasks_from_datasets,
)
from bayescale.batch.worker import run_task

__all__ = [
    "FIT_FUNCTIONS",
    "LOCK_FILE",
    "RESULTS_FILE",
    "RESULT_COLUMNS",
    "STATUSES",
    "FitTask",
    "LazyFits",
    "as_task",
    "fit_function",
    "fit_many",
    "format_results",
    "open_fits",
    "read_results",
    "read_task_file",
    "resolve_callable",
    "run_task",
    "tasks_from_datasets",
]
