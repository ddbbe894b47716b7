"""Run many fits of any kind on any executor, crash-safe: :func:`fit_many`.

People estimate laws by the hundred (one per benchmark, family and metric), and pass@k
models, coverage laws, voting curves and emergence fits by the task. :func:`fit_many` runs
a list of :class:`~bayescale.batch.tasks.FitTask` of any kind on a
:class:`concurrent.futures.Executor` (a local process pool by default, threads, or a Dask
cluster through a ``dask.distributed.Client``) and writes each finished fit to its own
file as soon as it is done:

``out_dir/<key>.nc``
    The fit (:meth:`bayescale.FitResult.save`; :func:`bayescale.load` reads any kind),
    written under a temporary name and renamed, so a file with this name is always
    complete.
``out_dir/<key>.json``
    Its record: kind, status (``ok``, ``not_converged``, ``failed`` or ``skipped``), wall
    time, divergences, max R-hat, min bulk ESS, the error and a traceback summary of a
    failure, and the task.
``out_dir/results.csv``
    The table of the run, rewritten after every finished task.

A rerun skips every task whose ``<key>.nc`` exists (``overwrite=True`` refits), so a
crash, a killed job or Ctrl-C loses at most the fits that were running. A failing task
(bad data, a sampling error, a worker process that dies) is recorded with its error and
does not stop the others. See ``docs/fit_many.md``.

Importing this module is cheap: the wings (PyMC) are imported by the workers that fit.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import sys
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from bayescale.batch.records import (
    existing_record,
    host,
    table_of,
    task_record,
    traceback_summary,
    write_record,
    write_results_csv,
)
from bayescale.batch.tasks import FitTask, as_task, check_defaults, resolve_callable
from bayescale.batch.tasks import fit_function as kind_fit_function
from bayescale.batch.worker import run_task
from bayescale.core.errors import BayescaleError, SpecificationError

__all__ = ["LOCK_FILE", "fit_many"]

_log = logging.getLogger("bayescale")

#: Lock file of a run in its ``out_dir``: one run per directory.
LOCK_FILE = ".fit_many.lock"


# -- executors --------------------------------------------------------------------------
def _available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _is_dask_client(obj: Any) -> bool:
    return type(obj).__name__ == "Client" and hasattr(obj, "get_executor")


class _Runner:
    """Submits tasks to an executor, owns (and can rebuild) the default process pool."""

    def __init__(self, executor: Any, max_workers: int | None, n_tasks: int) -> None:
        self.owned = executor is None or isinstance(executor, str)
        self.kind = executor if isinstance(executor, str) else None
        self.client = executor if _is_dask_client(executor) else None
        if self.kind not in (None, "process", "thread"):
            raise SpecificationError(
                f"executor={executor!r}: give 'process', 'thread', a concurrent.futures "
                "Executor or a dask.distributed.Client"
            )
        cpus = _available_cpus()
        if self.owned:
            workers = max_workers or cpus
            self.workers = max(1, min(int(workers), max(n_tasks, 1)))
            #: nutpie chains in parallel per fit, so workers x cores <= CPUs
            self.cores: int | None = max(1, cpus // self.workers)
            self.window = self.workers
            self.executor: cf.Executor = self._new_pool()
        elif self.client is not None:
            self.executor = self.client.get_executor()
            self.workers = int(sum(self.client.nthreads().values())) or 1
            self.cores = 1  # one task per Dask thread: one core each
            self.window = max(n_tasks, 1)  # the scheduler queues; adaptive clusters grow
        elif isinstance(executor, cf.Executor):
            self.executor = executor
            self.workers = int(getattr(executor, "_max_workers", 0) or cpus)
            self.cores = max(1, cpus // self.workers) if self.workers <= cpus else 1
            self.window = self.workers
        else:
            raise SpecificationError(
                f"executor must be None, 'process', 'thread', a concurrent.futures.Executor "
                f"or a dask.distributed.Client, not {type(executor).__name__}"
            )
        if max_workers is not None and not self.owned:
            self.window = max(1, int(max_workers))

    def _new_pool(self) -> cf.Executor:
        if self.kind == "thread":
            return cf.ThreadPoolExecutor(self.workers, thread_name_prefix="fit_many")
        # spawn: a fork of a process that already runs nutpie/numba threads can deadlock
        return cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))

    def rebuild(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self._new_pool()

    def describe(self) -> str:
        if self.client is not None:
            return f"Dask ({self.workers} worker threads)"
        name = type(self.executor).__name__
        return f"{name} ({self.workers} workers, cores={self.cores} per fit)"

    def stop(self, *, interrupted: bool) -> None:
        if self.client is not None:
            self.executor.shutdown(wait=not interrupted)
            return
        if not self.owned:
            return
        if interrupted and isinstance(self.executor, cf.ProcessPoolExecutor):
            # our own workers: end their fits now rather than after the current tasks
            for proc in list((getattr(self.executor, "_processes", None) or {}).values()):
                with contextlib.suppress(Exception):
                    proc.terminate()
        self.executor.shutdown(wait=not interrupted, cancel_futures=True)


@contextlib.contextmanager
def _directory_lock(out: Path) -> Iterator[None]:
    """One run per directory: a second concurrent run would race on the same files."""
    lock = out / LOCK_FILE
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(lock.read_text().split()[0])
            except (ValueError, IndexError, OSError):
                pid = -1
            if pid > 0 and pid != os.getpid() and _pid_alive(pid):
                raise SpecificationError(
                    f"another fit_many run (process {pid}) is writing to {str(out)!r}; wait "
                    f"for it, or remove {str(lock)!r} if that process is not a fit_many run"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its run was killed
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()} {host()}\n")
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Progress:
    """tqdm when installed, else one line per finished task on stderr."""

    def __init__(self, total: int, enabled: bool, stream: TextIO | None) -> None:
        self.total, self.done, self.enabled = total, 0, enabled
        self.counts: dict[str, int] = {}
        self.stream = stream if stream is not None else sys.stderr
        self.bar: Any = None
        if enabled and total:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc="fit_many", unit="fit", file=self.stream)
            except ImportError:
                self.bar = None

    def update(self, record: Mapping[str, Any]) -> None:
        self.done += 1
        status = str(record.get("status"))
        self.counts[status] = self.counts.get(status, 0) + 1
        if not self.enabled:
            return
        tally = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items()))
        if self.bar is not None:
            self.bar.set_postfix_str(tally, refresh=False)
            self.bar.update(1)
            return
        seconds = record.get("seconds")
        took = f" in {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
        print(
            f"fit_many [{self.done}/{self.total}] {status:<13} {record.get('key')}{took} ({tally})",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def fit_many(
    tasks: Iterable[FitTask | Mapping[str, Any]],
    executor: Any = None,
    *,
    out_dir: str | os.PathLike[str],
    progress: bool = True,
    overwrite: bool = False,
    max_workers: int | None = None,
    fit_function: Callable[..., Any] | None = None,
    stream: TextIO | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Fit many tasks of any kind, each saved to ``out_dir/<key>.nc`` as soon as it is done.

    Parameters
    ----------
    tasks
        :class:`~bayescale.batch.tasks.FitTask` objects or dicts
        (:meth:`~bayescale.batch.tasks.FitTask.from_dict`), of any kinds (scaling laws,
        pass@k, coverage laws, voting curves, Slice-and-Sandwich, sigmoid, quanta), e.g.
        from :func:`~bayescale.batch.tasks.tasks_from_datasets`. Keys must be unique.
    executor
        ``None`` or ``"process"`` (default): a local process pool of ``max_workers``
        processes (default: the CPUs available), each fit sampling its chains on
        ``CPUs // max_workers`` cores (nutpie's ``cores``) so workers do not oversubscribe
        the machine. ``"thread"``: a thread pool. A ``dask.distributed.Client``: tasks
        run on its cluster (``client.get_executor()``), ``cores=1`` per fit; ``out_dir``
        must be on a file system the workers share. Any other
        :class:`concurrent.futures.Executor` is used as is (the caller shuts it down).
    out_dir
        Directory of the fits, their ``.json`` records and ``results.csv``.
    progress
        Progress bar (``tqdm`` when installed, else one line per finished fit on stderr).
    overwrite
        Refit tasks whose file exists (default: skip them, reusing their record).
    max_workers
        Processes of the default pool; for another executor, the most tasks in flight.
    fit_function
        Called instead of every task's fit function (tests); must be picklable for
        process executors.
    stream
        Where progress goes (default: stderr).
    **options
        Options for every task whose fit function takes them (``draws=500``, ``seed=1``,
        ``sampler="package.module:function"``...); a task's own options win. An option no
        task's fit function takes is an error. ``cores=`` overrides the per-fit cores
        chosen above.

    Returns
    -------
    pandas.DataFrame
        One row per task, in order: ``key``, ``kind``, ``status`` (``ok``,
        ``not_converged``, ``failed``, ``skipped``, ``pending``), ``path``, ``seconds``,
        ``divergences``, ``max_rhat``, ``min_ess``, ``error``, then ``reused`` (fit file
        from an earlier run), the task's fields and, for failures, ``traceback``.
        ``table.attrs["out_dir"]``; :func:`~bayescale.batch.records.open_fits` loads the
        fits lazily. Also written to ``out_dir/results.csv``.

    Raises
    ------
    SpecificationError
        Repeated keys, unknown options, a ``sampler`` that cannot be imported, another
        run writing to ``out_dir``, or a fit file of another kind under a task's name.
    KeyboardInterrupt
        After cancelling the queued tasks and ending the running ones; every finished
        fit is on disk and a rerun continues where this one stopped.
    """
    task_list = [as_task(t) for t in tasks]
    check_defaults(task_list, options)
    task_list = [t.with_options(**options) for t in task_list]
    keys = [t.key for t in task_list]
    dupes = sorted(k for k, n in Counter(keys).items() if n > 1)
    if dupes:
        raise SpecificationError(
            f"tasks must have distinct keys; repeated: {dupes[:5]}. Give them different "
            "options or names (FitTask(name=...))"
        )
    if fit_function is None:  # import the wings now: fail early, not in every worker
        for kind in sorted({t.kind for t in task_list}):
            kind_fit_function(kind)
    for reference in sorted({t.options["sampler"] for t in task_list if _named(t)}):
        resolve_callable(reference, what="sampler")
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    records: dict[str, dict[str, Any]] = {}
    to_run: list[FitTask] = []
    with _directory_lock(out):
        for stale in out.glob(".*.tmp"):  # left by a killed run (we hold the lock)
            stale.unlink(missing_ok=True)
        for task in task_list:
            if task.skip is not None:
                records[task.key] = task_record(task, "skipped", task.skip)  # no file
                continue
            existing = None if overwrite else existing_record(out, task.key)
            if existing is None:
                to_run.append(task)
                continue
            found = existing.get("kind") or "scaling"  # records of 0.1 name no kind
            if found != task.kind:
                raise SpecificationError(
                    f"{str(out / (task.key + '.nc'))!r} holds a {found!r} fit but task "
                    f"{task.label!r} is a {task.kind!r} fit with the same name: give the task "
                    "another name, or pass overwrite=True to replace the file"
                )
            records[task.key] = {**existing, "reused": True}
        if task_list and not to_run:
            _log.info("fit_many: every task already has a fit in %s", out)
        try:
            if to_run:
                _run_all(
                    to_run,
                    executor,
                    out,
                    records,
                    progress,
                    max_workers,
                    fit_function,
                    stream,
                    options,
                )
        finally:  # also when interrupted: the table says what is done and what is not
            for task in task_list:
                records.setdefault(
                    task.key, task_record(task, "pending", "not run: fit_many was interrupted")
                )
            table = table_of([records[k] for k in keys], out)
            write_results_csv(table, out)
    return table


def _named(task: FitTask) -> bool:
    """Whether the task names its sampler by a ``module:function`` string."""
    return isinstance(task.options.get("sampler"), str)


def _run_all(
    to_run: list[FitTask],
    executor: Any,
    out: Path,
    records: dict[str, dict[str, Any]],
    progress: bool,
    max_workers: int | None,
    fit_function: Callable[..., Any] | None,
    stream: TextIO | None,
    options: Mapping[str, Any],
) -> None:
    runner = _Runner(executor, max_workers, len(to_run))
    execution = {} if runner.cores is None or "cores" in options else {"cores": runner.cores}
    tag = uuid.uuid4().hex[:12]
    bar = _Progress(len(to_run), progress, stream)
    queue: deque[FitTask] = deque(to_run)
    suspects: deque[FitTask] = deque()  # were running when a worker process died
    in_flight: dict[cf.Future[dict[str, Any]], tuple[FitTask, bool]] = {}
    _log.info("fit_many: %d fits on %s into %s", len(to_run), runner.describe(), out)

    def submit(task: FitTask, alone: bool) -> bool:
        """Submit; ``False`` (task put back) when the pool died since the last wait."""
        try:
            future = runner.executor.submit(
                run_task,
                task,
                str(out),
                tag=tag,
                fit_function_override=fit_function,
                execution=execution,
            )
        except cf.BrokenExecutor:
            (suspects if alone else queue).appendleft(task)
            return False
        in_flight[future] = (task, alone)
        return True

    def finish(record: dict[str, Any]) -> None:
        records[record["key"]] = record
        bar.update(record)
        write_results_csv(table_of(list(records.values()), out), out)

    interrupted = True
    try:
        while queue or suspects or in_flight:
            broken = False
            if suspects:  # rerun each one alone, so a task that kills its worker is found
                if not in_flight:
                    broken = not submit(suspects.popleft(), True)
            else:
                while not broken and queue and len(in_flight) < runner.window:
                    broken = not submit(queue.popleft(), False)
            done: set[cf.Future[dict[str, Any]]] = set()
            if in_flight:
                done, _ = cf.wait(list(in_flight), return_when=cf.FIRST_COMPLETED)
            for future in done:
                task, alone = in_flight.pop(future)
                try:
                    finish(future.result())
                except cf.BrokenExecutor as exc:
                    broken = True
                    if runner.owned and not alone:
                        suspects.append(task)
                        continue
                    why = "alone" if alone else "(the executor cannot be restarted)"
                    message = (
                        f"worker process died while running this task {why} (killed, out "
                        f"of memory, or a crash in compiled code): {type(exc).__name__}"
                    )
                    record = task_record(task, "failed", message)
                    write_record(out, record, tag)
                    finish(record)
                except cf.CancelledError:
                    record = task_record(task, "failed", "cancelled by the executor")
                    write_record(out, record, tag)
                    finish(record)
                except Exception as exc:  # e.g. Dask KilledWorker, a pickling error
                    record = task_record(task, "failed", f"{type(exc).__name__}: {exc}")
                    record["traceback"] = traceback_summary(exc)
                    write_record(out, record, tag)
                    finish(record)
            if broken:
                if not runner.owned:
                    raise BayescaleError(
                        "the executor broke (a worker process died); the finished fits are "
                        f"saved in {str(out)!r}: rerun fit_many to continue"
                    )
                # every other task of the dead pool fails the same way: collect, rebuild
                for future in cf.as_completed(list(in_flight)):
                    task, alone = in_flight.pop(future)
                    try:
                        finish(future.result())
                    except BaseException:
                        suspects.append(task)
                runner.rebuild()
        interrupted = False
    finally:
        for future in in_flight:
            future.cancel()
        runner.stop(interrupted=interrupted)
        bar.close()
        for leftover in out.glob(f".*.{tag}.tmp"):
            leftover.unlink(missing_ok=True)
