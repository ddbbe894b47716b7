"""One task in a worker (process, thread or Dask worker): fit, save to one file, record.

:func:`run_task` is what :func:`~bayescale.batch.fit_many` submits. It resolves the kind's
fit function (:data:`~bayescale.batch.tasks.FIT_FUNCTIONS`) and a ``sampler`` given as a
``"module:function"`` string here, in the worker, so tasks stay picklable and light.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from bayescale.batch.records import diagnostic_fields, host, traceback_summary, write_record
from bayescale.batch.tasks import FitTask, accepted_options, fit_function

__all__ = ["run_task"]

#: How every fit in a worker runs unless its task says otherwise (where the kind's fit
#: function takes the option): no progress bar; convergence goes into the record.
WORKER_DEFAULTS: Mapping[str, Any] = {
    "progressbar": False,
    "warn_convergence": False,
    "warn": False,
}


@contextlib.contextmanager
def _quiet_worker() -> Iterator[None]:
    """No PyMC INFO chatter and no convergence warnings (they go into the record)."""
    from bayescale.core.errors import ConvergenceWarning

    loggers = [logging.getLogger(n) for n in ("pymc", "pytensor")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Numba will use object mode")
        for lg in loggers:
            lg.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def _n_rows(result: Any, data: Any) -> int | None:
    """Rows the fit used: the scaling fit's observations, else the input table's rows."""
    with contextlib.suppress(Exception):
        return int(result.data.sizes["obs"])
    if isinstance(data, pd.DataFrame):
        return len(data)
    return None


def run_task(
    task: FitTask,
    out_dir: str | os.PathLike[str],
    *,
    tag: str = "run",
    fit_function_override: Callable[..., Any] | None = None,
    execution: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit one task, write ``<key>.nc`` then ``<key>.json`` atomically; return the record.

    The fit is ``fit(data, **arguments)``: the kind's fit function, the task's data
    (:meth:`FitTask.load_data`) and its arguments (:meth:`FitTask.call_arguments`), after
    :data:`WORKER_DEFAULTS` and ``execution`` (options that change how, not what, is
    fitted, such as ``cores``) where the fit function takes them and the task does not set
    them. The result is saved with its ``save(path)`` (:meth:`bayescale.FitResult.save`),
    under a temporary name then renamed, so ``<key>.nc`` is always complete.

    Parameters
    ----------
    task
        The task.
    out_dir
        Directory of the fit and its record.
    tag
        Suffix of this run's temporary files.
    fit_function_override
        Called instead of the kind's fit function (it must be picklable for process
        executors) and return an object with ``save(path)`` and ``diagnostics``.
    execution
        Options such as ``cores`` set by the executor.

    Returns
    -------
    dict
        The record: ``status`` ``ok``, ``not_converged`` or ``failed`` (an ``Exception``
        of the fit, with its error and a traceback summary, does not propagate).
    """
    out = Path(out_dir)
    key = task.key
    path = out / f"{key}.nc"
    tmp = out / f".{key}.nc.{tag}.tmp"
    record: dict[str, Any] = {
        "key": key,
        "path": path.name,  # relative to the folder: records stay true when it moves
        "label": task.label,
        **task.describe(),
        "host": host(),
        "pid": os.getpid(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    start = time.perf_counter()
    try:
        if fit_function_override is None:
            import pymc  # noqa: F401  (sets its logger to INFO on import: before quieting it)

            fitter = fit_function(task.kind)
        else:
            fitter = fit_function_override
        arguments = accepted_options(task.kind, {**WORKER_DEFAULTS, **dict(execution or {})})
        arguments.update(task.call_arguments())
        with _quiet_worker():
            data = task.load_data()
            result = fitter(data, **arguments)
            result.save(tmp)
        os.replace(tmp, path)
        diag = getattr(result, "diagnostics", None)
        record.update(diagnostic_fields(diag))
        record["status"] = "ok" if diag is None or diag.ok else "not_converged"
        record["error"] = None if record["status"] == "ok" else record.get("diagnostics")
        n_rows = _n_rows(result, data)
        if n_rows is not None:
            record["n_rows"] = n_rows
    except Exception as exc:
        record.update(diagnostic_fields(None))
        record.update(
            status="failed",
            path=None,
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback_summary(exc),
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    record["seconds"] = round(time.perf_counter() - start, 3)
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    write_record(out, record, tag)
    return record
