"""Many fits at once, on any executor, crash-safe: :func:`fit_many`.

People estimate scaling laws by the hundred (one law per benchmark, family and metric).
:func:`fit_many` runs a list of :class:`FitTask` on a :class:`concurrent.futures.Executor`
(a local process pool by default, or a Dask cluster through a ``dask.distributed.Client``)
and writes each finished fit to its own file as soon as it is done:

``out_dir/<key>.nc``
    The fit (:meth:`bayescale.ScalingFit.save`), written under a temporary name and renamed,
    so a file with this name is always complete.
``out_dir/<key>.json``
    Its record: status (``ok``, ``not_converged``, ``failed`` or ``skipped``), wall time,
    divergences, max R-hat, min bulk ESS, the error and a traceback summary of a failure,
    and the task.
``out_dir/results.csv``
    The table of the run, rewritten after every finished task.

A rerun skips every task whose ``<key>.nc`` exists (``overwrite=True`` refits), so a
crash, a killed job or Ctrl-C loses at most the fits that were running. A failing task
(bad data, a sampling error, a worker process that dies) is recorded with its error and
does not stop the others. :func:`read_results` reads the records of a directory and
:func:`open_fits` loads its fits lazily. See ``docs/fit_many.md``.

Importing this module is cheap: PyMC is imported by the workers that fit.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import dataclasses
import hashlib
import inspect
import json
import logging
import multiprocessing
import os
import re
import sys
import time
import traceback
import uuid
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from bayescale.core.errors import BayescaleError, SpecificationError

__all__ = [
    "RESULT_COLUMNS",
    "FitTask",
    "LazyFits",
    "add_fit_many_parser",
    "cmd_fit_many",
    "fit_many",
    "open_fits",
    "read_results",
    "run_task",
    "tasks_from_datasets",
]

_log = logging.getLogger("bayescale")

#: Columns of the table :func:`fit_many` returns (task description columns follow).
RESULT_COLUMNS = (
    "key",
    "status",
    "path",
    "seconds",
    "divergences",
    "max_rhat",
    "min_ess",
    "error",
)
#: Statuses of a task. ``ok`` and ``not_converged`` have a fit file.
STATUSES = ("ok", "not_converged", "failed", "skipped", "pending")
RESULTS_FILE = "results.csv"
LOCK_FILE = ".fit_many.lock"
#: Fit options that change how a fit runs, not what it estimates: left out of the key.
_EXECUTION_OPTIONS = frozenset({"progressbar", "cores", "blas_cores", "warn_convergence"})
#: :func:`pymc.sample` options a task may pass through :func:`bayescale.fit`.
_SAMPLER_OPTIONS = frozenset(
    {"cores", "blas_cores", "nuts", "init", "initvals", "compile_kwargs", "backend", "var_names"}
)
_TRACEBACK_CHARS = 3000
_SLUG_CHARS = 120


# -- tasks ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FitTask:
    """One fit of :func:`fit_many`: data, law, pooling and options of :func:`bayescale.fit`.

    Parameters
    ----------
    law
        Law name (``"chinchilla"``, ``"power_law:compute"``...) as for :func:`bayescale.fit`.
    dataset
        Name of a shipped data set (:func:`bayescale.datasets.names`); or give ``data``.
    data
        A long-format table (DataFrame) or the path of a CSV; or give ``dataset``.
    metric
        Metric to fit (needed when the table holds several).
    families
        Keep only these families (``None``: all of them).
    pooling
        As for :func:`bayescale.fit`.
    options
        Other keyword arguments of :func:`bayescale.fit` (``draws``, ``seed``, ``priors``,
        ``likelihood``...) or sampler options (``cores``, ``nuts``...).
    name
        File name stem of the fit; default: :attr:`key`.
    skip
        Reason not to run the task (set by :func:`tasks_from_datasets` for families with too
        few rows); :func:`fit_many` records it with status ``skipped``.
    """

    law: str = "chinchilla"
    dataset: str | None = None
    data: pd.DataFrame | str | os.PathLike[str] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )
    metric: str | None = None
    families: tuple[str, ...] | None = None
    pooling: str | Mapping[str, str] | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    name: str | None = None
    skip: str | None = None

    def __post_init__(self) -> None:
        if (self.dataset is None) == (self.data is None):
            raise SpecificationError(
                "a FitTask needs exactly one of dataset= (a shipped data set name) or data= "
                f"(a DataFrame or CSV path); got dataset={self.dataset!r} and "
                f"data={'None' if self.data is None else type(self.data).__name__}"
            )
        if not isinstance(self.law, str):
            raise SpecificationError(
                f"FitTask law must be a law name such as 'chinchilla' (a string, so that "
                f"the task has a stable key), not {type(self.law).__name__}"
            )
        if isinstance(self.families, str):
            object.__setattr__(self, "families", (self.families,))
        elif self.families is not None:
            object.__setattr__(self, "families", tuple(str(f) for f in self.families))
        _check_options(self.options, where=f"task {self.label!r}")
        if self.name is not None and not re.fullmatch(r"[A-Za-z0-9._+=@-]+", self.name):
            raise SpecificationError(
                f"FitTask name {self.name!r} is used as a file name: use letters, digits "
                "and . _ - + = @ only"
            )

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> FitTask:
        """Build a task from a dict; keys that are not fields go to :attr:`options`.

        ``family`` (one family) and ``key`` (the name) are accepted as aliases.
        """
        spec = dict(spec)
        if "family" in spec:
            if "families" in spec:
                raise SpecificationError("give 'family' or 'families' in a task, not both")
            spec["families"] = spec.pop("family")
        if "key" in spec:
            spec["name"] = spec.pop("key")
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in spec.items() if k in names}
        extra = {k: v for k, v in spec.items() if k not in names}
        options = {**dict(fields.pop("options", None) or {}), **extra}
        return cls(**fields, options=options)

    @property
    def label(self) -> str:
        """Readable description: data set or data, metric, families, law."""
        source = self.dataset if self.dataset is not None else _data_label(self.data)
        parts = [source, self.metric or "", "+".join(self.families or ()), self.law]
        return "/".join(p for p in parts if p)

    @property
    def key(self) -> str:
        """Stable file name stem: :attr:`name`, or a readable slug plus a hash of the task.

        The hash covers the data (the table's content, or the data set name), metric,
        families, law, pooling and the fit options that change the estimate (not
        ``progressbar``, ``cores``...), so a changed task gets a new file instead of
        reusing an old fit.
        """
        if self.name is not None:
            return self.name
        slug = re.sub(r"[^A-Za-z0-9._+=-]+", "-", self.label.replace("/", "__")).strip("-")
        return f"{slug[:_SLUG_CHARS]}-{self.fingerprint()[:10]}"

    def fingerprint(self) -> str:
        """SHA-256 of the task's canonical description (see :attr:`key`)."""
        content = {
            "law": self.law,
            "dataset": self.dataset,
            "data": _data_fingerprint(self.data),
            "metric": self.metric,
            "families": list(self.families) if self.families is not None else None,
            "pooling": self.pooling,
            "options": {k: v for k, v in self.options.items() if k not in _EXECUTION_OPTIONS},
        }
        text = json.dumps(content, sort_keys=True, default=_json_default)
        return hashlib.sha256(text.encode()).hexdigest()

    def with_options(self, **defaults: Any) -> FitTask:
        """A copy whose options are ``defaults`` updated by the task's own options."""
        if not defaults:
            return self
        return dataclasses.replace(self, options={**defaults, **self.options})

    def describe(self) -> dict[str, Any]:
        """The task as JSON-ready fields (for records and the results table)."""
        return {
            "dataset": self.dataset,
            "data": None if self.dataset is not None else _data_label(self.data),
            "metric": self.metric,
            "families": "+".join(self.families) if self.families else None,
            "law": self.law,
            "pooling": json.dumps(self.pooling)
            if isinstance(self.pooling, Mapping)
            else (self.pooling),
            "options": json.dumps(dict(self.options), sort_keys=True, default=_json_default),
        }

    def load_data(self) -> pd.DataFrame | str | os.PathLike[str]:
        """The table to fit: the data set's metric rows, restricted to :attr:`families`."""
        if self.dataset is not None:
            from bayescale import datasets

            frame: Any = datasets.load(self.dataset, metric=self.metric)
        else:
            frame = self.data
        if self.families is None:
            return frame
        if not isinstance(frame, pd.DataFrame):
            from bayescale.scaling.data import read_table

            frame, _ = read_table(frame)
        present = set(frame["family"].astype(str))
        missing = [f for f in self.families if f not in present]
        if missing:
            from bayescale.core.errors import DataError

            raise DataError(
                f"families {missing} are not in the data of task {self.label!r}; it has "
                f"{sorted(present)}"
            )
        return frame.loc[frame["family"].astype(str).isin(self.families)].reset_index(drop=True)


def _data_label(data: Any) -> str:
    if isinstance(data, pd.DataFrame):
        return "table"
    return Path(os.fspath(data)).stem if data is not None else ""


def _data_fingerprint(data: Any) -> str | None:
    if data is None:
        return None
    if isinstance(data, pd.DataFrame):
        hashed = pd.util.hash_pandas_object(data, index=False).to_numpy()
        columns = ",".join(map(str, data.columns))
        return hashlib.sha256(hashed.tobytes() + columns.encode()).hexdigest()
    return os.path.abspath(os.fspath(data))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return repr(value)


def _fit_parameters() -> set[str]:
    from bayescale.scaling.fitting import fit

    params = inspect.signature(fit).parameters
    return {n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}


def _check_options(options: Mapping[str, Any], *, where: str) -> None:
    allowed = (_fit_parameters() | _SAMPLER_OPTIONS) - {"data", "law", "metric", "pooling"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise SpecificationError(
            f"{where}: unknown option(s) {unknown}; a task takes the fields law, dataset, "
            "data, metric, families, pooling, name, and the options of bayescale.fit "
            f"({', '.join(sorted(allowed))})"
        )
    reserved = sorted(set(options) & {"data", "law", "metric", "pooling"})
    if reserved:  # pragma: no cover - filtered above
        raise SpecificationError(f"{where}: give {reserved} as task fields, not options")


def as_task(spec: FitTask | Mapping[str, Any]) -> FitTask:
    """A :class:`FitTask` from a task or a dict (see :meth:`FitTask.from_dict`)."""
    if isinstance(spec, FitTask):
        return spec
    if isinstance(spec, Mapping):
        return FitTask.from_dict(spec)
    raise SpecificationError(
        f"a task is a FitTask or a dict such as {{'dataset': 'gadre2024', 'metric': "
        f"'loss_c4_val', 'law': 'chinchilla'}}, not {type(spec).__name__}"
    )


def tasks_from_datasets(
    names: Sequence[str] | None = None,
    *,
    law: str = "auto",
    metrics: Sequence[str] | Callable[[str, str], bool] | None = None,
    min_rows: int = 6,
    min_distinct: int = 3,
    chinchilla_min_rows: int = 20,
    **options: Any,
) -> list[FitTask]:
    """One single-family task for every (data set, metric, family) of the shipped data.

    Parameters
    ----------
    names
        Data sets (default: all, :func:`bayescale.datasets.names`).
    law
        Law of every task, or ``"auto"``: ``chinchilla`` where the family's runs vary
        parameters and tokens independently (at least ``chinchilla_min_rows`` rows,
        ``min_distinct`` model sizes and ``min_distinct`` tokens-per-parameter ratios),
        ``power_law:compute`` otherwise.
    metrics
        Metrics to keep: a list of names, or ``callable(dataset, metric) -> bool``
        (default: every metric).
    min_rows, min_distinct
        A family with fewer rows, or fewer distinct values of a law input, is not fitted:
        its task is returned with :attr:`FitTask.skip` set (the reason), and
        :func:`fit_many` records it as ``skipped``, so nothing is dropped silently.
    **options
        Options of :func:`bayescale.fit` for every task (``draws``, ``seed``...). Without
        ``space``, a family with a value of 0 or below (an accuracy of 0) is fitted with
        ``space="linear"``, as the log-space likelihood needs positive values.

    Returns
    -------
    list of FitTask
        Sorted by data set, metric and family.
    """
    from bayescale import datasets
    from bayescale.scaling.laws import get_law

    if law != "auto":
        get_law(law)  # fail now on an unknown law
    _check_options(options, where="tasks_from_datasets")
    chosen = list(names) if names is not None else datasets.names()
    keep: Callable[[str, str], bool]
    if metrics is None:
        keep = lambda d, m: True  # noqa: E731
    elif callable(metrics):
        keep = metrics
    else:
        wanted = set(metrics)
        keep = lambda d, m: m in wanted  # noqa: E731
    tasks: list[FitTask] = []
    for name in chosen:
        frame = datasets.load(name)
        for (metric, family), rows in frame.groupby(["metric", "family"], sort=True):
            metric, family = str(metric), str(family)
            if not keep(name, metric):
                continue
            task_law, reason = _choose_law(
                rows, law, min_rows, min_distinct, chinchilla_min_rows, get_law
            )
            task_options = dict(options)
            if "space" not in options and not (rows["value"] > 0).all():
                # log space needs positive values; an accuracy of 0 is a real value
                task_options["space"] = "linear"
            tasks.append(
                FitTask(
                    law=task_law,
                    dataset=name,
                    metric=metric,
                    families=(family,),
                    options=task_options,
                    skip=reason,
                )
            )
    if metrics is not None and not callable(metrics):
        found = {t.metric for t in tasks}
        absent = sorted(set(metrics) - found)
        if absent:
            raise SpecificationError(
                f"metrics {absent} are in none of the data sets {chosen}; "
                "see bayescale.datasets.provenance(name)['metrics']"
            )
    return tasks


def _choose_law(
    rows: pd.DataFrame,
    law: str,
    min_rows: int,
    min_distinct: int,
    chinchilla_min_rows: int,
    get_law: Callable[[str], Any],
) -> tuple[str, str | None]:
    """The law of one family's rows, and why it is skipped (``None``: it is fitted)."""
    n_params = rows["params"].nunique()
    ratios = (rows["tokens"] / rows["params"]).round(3).nunique()
    if law == "auto":
        use_chinchilla = (
            len(rows) >= chinchilla_min_rows and n_params >= min_distinct and ratios >= min_distinct
        )
        law = "chinchilla" if use_chinchilla else "power_law:compute"
    if len(rows) < min_rows:
        return law, f"{len(rows)} rows < min_rows={min_rows}"
    for column in get_law(law).inputs:
        values = rows[column]
        if column == "compute" and values.isna().all():
            values = 6.0 * rows["params"] * rows["tokens"]
        distinct = values.nunique()
        if distinct < min_distinct:
            return law, f"{distinct} distinct {column} < min_distinct={min_distinct}"
    return law, None


# -- one task in a worker ---------------------------------------------------------------
def _atomic_write_text(path: Path, text: str, tag: str) -> None:
    tmp = path.with_name(f".{path.name}.{tag}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _diagnostic_fields(diag: Any) -> dict[str, Any]:
    if diag is None:
        return {"divergences": None, "max_rhat": None, "min_ess": None, "converged": None}
    return {
        "divergences": int(diag.divergences),
        "max_rhat": float(diag.max_rhat),
        "min_ess": float(diag.min_ess_bulk),
        "converged": bool(diag.ok),
        "diagnostics": str(diag),
    }


def _traceback_summary(exc: BaseException) -> str:
    frames = traceback.format_exception(exc)
    text = "".join(frames)
    if len(text) > _TRACEBACK_CHARS:
        text = "...\n" + text[-_TRACEBACK_CHARS:]
    return text


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


def run_task(
    task: FitTask,
    out_dir: str | os.PathLike[str],
    *,
    tag: str = "run",
    fit_function: Callable[..., Any] | None = None,
    execution: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit one task, write ``<key>.nc`` then ``<key>.json`` atomically; return the record.

    Runs in a worker process (or thread); an ``Exception`` of the fit becomes a ``failed``
    record instead of propagating. ``execution`` holds options that change how, not what,
    is fitted (``cores``...), added unless the task sets them. ``fit_function`` replaces
    :func:`bayescale.fit` (tests; it must be picklable for process executors) and must
    return an object with ``save(path)`` and ``diagnostics``.
    """
    out = Path(out_dir)
    key = task.key
    path = out / f"{key}.nc"
    tmp = out / f".{key}.nc.{tag}.tmp"
    record: dict[str, Any] = {
        "key": key,
        "path": str(path),
        "label": task.label,
        **task.describe(),
        "host": _host(),
        "pid": os.getpid(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    start = time.perf_counter()
    try:
        fitter: Callable[..., Any]
        if fit_function is None:
            import pymc  # noqa: F401  (sets its logger to INFO on import: before quieting it)

            from bayescale.scaling.fitting import fit as fitter
        else:
            fitter = fit_function
        options = {"progressbar": False, "warn_convergence": False, **dict(execution or {})}
        options.update(task.options)
        with _quiet_worker():
            data = task.load_data()
            result = fitter(data, task.law, metric=task.metric, pooling=task.pooling, **options)
            result.save(tmp)
        os.replace(tmp, path)
        diag = getattr(result, "diagnostics", None)
        record.update(_diagnostic_fields(diag))
        record["status"] = "ok" if diag is None or diag.ok else "not_converged"
        record["error"] = None if record["status"] == "ok" else record.get("diagnostics")
        with contextlib.suppress(Exception):
            record["n_rows"] = int(result.data.sizes["obs"])
    except Exception as exc:
        record.update(_diagnostic_fields(None))
        record.update(
            status="failed",
            path=None,
            error=f"{type(exc).__name__}: {exc}",
            traceback=_traceback_summary(exc),
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    record["seconds"] = round(time.perf_counter() - start, 3)
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    _write_record(out, record, tag)
    return record


def _host() -> str:
    try:
        return os.uname().nodename
    except AttributeError:  # pragma: no cover - Windows
        return os.environ.get("COMPUTERNAME", "")


def _write_record(out: Path, record: Mapping[str, Any], tag: str) -> None:
    text = json.dumps(record, indent=1, sort_keys=True, default=_json_default)
    _atomic_write_text(out / f"{record['key']}.json", text, tag)


# -- reading a directory ----------------------------------------------------------------
def _record_from_fit_file(path: Path) -> dict[str, Any]:
    """Rebuild a record from a fit whose ``.json`` is missing (crash between the two)."""
    from bayescale.scaling.fitting import load

    record: dict[str, Any] = {"key": path.stem, "path": str(path)}
    try:
        diag = load(path).diagnostics
    except Exception as exc:  # a complete file is never partial; report anything else
        record.update(_diagnostic_fields(None), status="failed", error=f"unreadable: {exc}")
        return record
    record.update(_diagnostic_fields(diag))
    record["status"] = "ok" if diag is None or diag.ok else "not_converged"
    record["error"] = None if record["status"] == "ok" else str(diag)
    return record


def _existing_record(out: Path, key: str) -> dict[str, Any] | None:
    """The record of a finished fit (``<key>.nc`` exists), or ``None``."""
    path = out / f"{key}.nc"
    if not path.exists():
        return None
    try:
        record = json.loads((out / f"{key}.json").read_text(encoding="utf-8"))
        if record.get("status") in ("ok", "not_converged"):
            return dict(record)
    except (FileNotFoundError, json.JSONDecodeError):
        pass
    record = _record_from_fit_file(path)
    _write_record(out, record, "rebuilt")
    return record


def read_results(out_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """The records of every task written to ``out_dir`` (also after a crash).

    Returns
    -------
    pandas.DataFrame
        One row per ``<key>.json``, columns as in :func:`fit_many`'s table.
    """
    out = Path(out_dir)
    records = []
    for file in sorted(out.glob("*.json")):
        with contextlib.suppress(json.JSONDecodeError, OSError):
            records.append(json.loads(file.read_text(encoding="utf-8")))
    return _table(records, out)


def _table(records: Iterable[Mapping[str, Any]], out: Path) -> pd.DataFrame:
    frame = pd.DataFrame(list(records))
    for col in RESULT_COLUMNS:
        if col not in frame:
            frame[col] = None
    tail = ["traceback"] if "traceback" in frame else []
    frame["reused"] = [v is True for v in frame["reused"]] if "reused" in frame else False
    rest = [c for c in frame.columns if c not in RESULT_COLUMNS and c != "traceback"]
    frame = frame.loc[:, list(RESULT_COLUMNS) + rest + tail]
    frame.attrs["out_dir"] = str(out)
    return frame


class LazyFits(Mapping[str, Any]):
    """Fits of a :func:`fit_many` run by key, each loaded from its file when asked for.

    >>> fits = bayescale.open_fits("fits/")          # doctest: +SKIP
    >>> fits["gadre2024__loss_c4_val__rpj__chinchilla-1a2b3c4d5e"].summary()  # doctest: +SKIP
    """

    def __init__(self, paths: Mapping[str, str | os.PathLike[str]]) -> None:
        self._paths = {str(k): Path(v) for k, v in paths.items()}

    def __getitem__(self, key: str) -> Any:
        from bayescale.scaling.fitting import load

        return load(self._paths[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def path(self, key: str) -> Path:
        """File of one fit."""
        return self._paths[key]

    def __repr__(self) -> str:
        return f"<LazyFits: {len(self)} fits>"


def open_fits(
    results: pd.DataFrame | str | os.PathLike[str],
    *,
    status: str | Sequence[str] = ("ok", "not_converged"),
) -> LazyFits:
    """Fits of a run, loaded lazily: from :func:`fit_many`'s table or an output directory.

    Parameters
    ----------
    results
        The table :func:`fit_many` returned, or its ``out_dir``.
    status
        Keep fits with these statuses (default: every fit with a file).
    """
    table = results if isinstance(results, pd.DataFrame) else read_results(results)
    wanted = {status} if isinstance(status, str) else set(status)
    rows = table[table["status"].isin(wanted) & table["path"].notna()]
    return LazyFits(dict(zip(rows["key"], rows["path"], strict=True)))


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
            handle.write(f"{os.getpid()} {_host()}\n")
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


def _crash_record(task: FitTask, out: Path, message: str) -> dict[str, Any]:
    return {
        "key": task.key,
        "path": None,
        "label": task.label,
        **task.describe(),
        "status": "failed",
        "error": message,
        **_diagnostic_fields(None),
        "seconds": None,
    }


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
    """Fit many scaling laws, each saved to ``out_dir/<key>.nc`` as soon as it is done.

    Parameters
    ----------
    tasks
        :class:`FitTask` objects or dicts (:meth:`FitTask.from_dict`), e.g. from
        :func:`tasks_from_datasets`. Keys must be unique.
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
        Replaces :func:`bayescale.fit` (tests); must be picklable for process executors.
    stream
        Where progress goes (default: stderr).
    **options
        Options of :func:`bayescale.fit` for every task (``draws=500``, ``seed=1``...);
        a task's own options win. ``cores=`` overrides the per-fit cores chosen above.

    Returns
    -------
    pandas.DataFrame
        One row per task: ``key``, ``status`` (``ok``, ``not_converged``, ``failed``,
        ``skipped``), ``path``, ``seconds``, ``divergences``, ``max_rhat``, ``min_ess``,
        ``error``, then ``reused`` (fit file from an earlier run), the task's fields and,
        for failures, ``traceback``. ``table.attrs["out_dir"]``; :func:`open_fits` loads
        the fits lazily. Also written to ``out_dir/results.csv``.

    Raises
    ------
    KeyboardInterrupt
        After cancelling the queued tasks and ending the running ones; every finished
        fit is on disk and a rerun continues where this one stopped.
    """
    _check_options(options, where="fit_many")
    task_list = [as_task(t).with_options(**options) for t in tasks]
    keys = [t.key for t in task_list]
    dupes = sorted(k for k, n in Counter(keys).items() if n > 1)
    if dupes:
        raise SpecificationError(
            f"tasks must have distinct keys; repeated: {dupes[:5]}. Give them different "
            "options or names (FitTask(name=...))"
        )
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if fit_function is None:
        _fit_parameters()  # import bayescale.scaling.fitting now: fail early, not in every worker
    records: dict[str, dict[str, Any]] = {}
    to_run: list[FitTask] = []
    with _directory_lock(out):
        for stale in out.glob(".*.tmp"):  # left by a killed run (we hold the lock)
            stale.unlink(missing_ok=True)
        for task in task_list:
            if task.skip is not None:
                record = {
                    "key": task.key,
                    "path": None,
                    "label": task.label,
                    **task.describe(),
                    "status": "skipped",
                    "error": task.skip,
                    **_diagnostic_fields(None),
                    "seconds": None,
                }
                records[task.key] = record  # in results.csv only: no file per skip
                continue
            existing = None if overwrite else _existing_record(out, task.key)
            if existing is not None:
                records[task.key] = {**existing, "reused": True}
            else:
                to_run.append(task)
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
                    task.key,
                    {
                        **_crash_record(task, out, "not run: fit_many was interrupted"),
                        "status": "pending",
                    },
                )
            table = _table([records[k] for k in keys], out)
            _write_results_csv(table, out)
    return table


def _write_results_csv(table: pd.DataFrame, out: Path) -> None:
    columns = [c for c in table.columns if c != "traceback"]
    _atomic_write_text(out / RESULTS_FILE, table.loc[:, columns].to_csv(index=False), "csv")


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
                run_task, task, str(out), tag=tag, fit_function=fit_function, execution=execution
            )
        except cf.BrokenExecutor:
            (suspects if alone else queue).appendleft(task)
            return False
        in_flight[future] = (task, alone)
        return True

    def finish(record: dict[str, Any]) -> None:
        records[record["key"]] = record
        bar.update(record)
        _write_results_csv(_table(list(records.values()), out), out)

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
                    record = _crash_record(task, out, message)
                    _write_record(out, record, tag)
                    finish(record)
                except cf.CancelledError:
                    record = _crash_record(task, out, "cancelled by the executor")
                    _write_record(out, record, tag)
                    finish(record)
                except Exception as exc:  # e.g. Dask KilledWorker, a pickling error
                    record = _crash_record(task, out, f"{type(exc).__name__}: {exc}")
                    record["traceback"] = _traceback_summary(exc)
                    _write_record(out, record, tag)
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


# -- command line -----------------------------------------------------------------------
def add_fit_many_parser(
    sub: Any, *, number: Any = float, probability: Any = float, positive_int: Any = int, **_: Any
) -> None:
    """Register ``bayescale fit-many`` under the ``bayescale`` parser."""
    p = sub.add_parser(
        "fit-many",
        help="fit many laws (every family x metric of the shipped data, or a task file) "
        "in parallel, crash-safe",
        description="Fit many scaling laws on a local process pool or a Dask cluster. Each "
        "finished fit is written to OUT_DIR/<key>.nc with a record <key>.json, and "
        "OUT_DIR/results.csv lists every task; a rerun skips the fits already on disk "
        "(docs/fit_many.md).",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--datasets",
        nargs="*",
        metavar="NAME",
        help="one single-family task per (data set, metric, family) of these shipped "
        "data sets (no names: all of them)",
    )
    src.add_argument(
        "--tasks",
        metavar="TASKS.json",
        help='a JSON list of tasks: {"dataset" or "data", "metric", "family", '
        '"law", "pooling", options of bayescale.fit...}',
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


def _read_task_file(path: str) -> list[FitTask]:
    try:
        specs = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SpecificationError(f"--tasks {path!r} is not valid JSON: {exc}") from None
    if not isinstance(specs, list):
        raise SpecificationError(f"--tasks {path!r} must hold a JSON list of task objects")
    base = Path(path).parent
    tasks = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise SpecificationError(f"--tasks {path!r}: item {i} is not an object")
        if isinstance(spec.get("data"), str) and not os.path.isabs(spec["data"]):
            spec = {**spec, "data": str(base / spec["data"])}
        tasks.append(as_task(spec))
    return tasks


def cmd_fit_many(args: argparse.Namespace, out: TextIO) -> int:
    """``bayescale fit-many``: run the tasks, print a summary; status 1 if any failed."""
    options = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "seed": args.seed}
    if args.tasks is not None:
        tasks = _read_task_file(args.tasks)
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


def format_results(table: pd.DataFrame) -> str:
    """Counts per status, times, and the failures with their errors."""
    counts = table["status"].value_counts()
    ran = table[~table["reused"].astype(bool) & table["seconds"].notna()]
    lines = [
        f"{len(table)} tasks: "
        + ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES if counts.get(s, 0))
        + f" ({int(table['reused'].sum())} reused from earlier runs)",
    ]
    if len(ran):
        secs = ran["seconds"].astype(float)
        lines.append(
            f"fitted now: {len(ran)}, {secs.sum():.0f} s of fitting, median {secs.median():.1f} "
            "s per law"
        )
    failed = table[table["status"] == "failed"]
    for _, row in failed.head(20).iterrows():
        lines.append(f"  failed {row['key']}: {str(row['error'])[:200]}")
    if len(failed) > 20:
        lines.append(f"  ... and {len(failed) - 20} more failures")
    lines.append(f"records: {Path(table.attrs['out_dir']) / RESULTS_FILE}")
    return "\n".join(lines)
