"""What :func:`~bayescale.batch.fit_many` runs: :class:`FitTask`, the fit function of every
kind, task lists from the shipped data sets and from task files.

A task names its ``kind`` (:data:`FIT_FUNCTIONS`), its data (a shipped data set, a
DataFrame or a CSV path) and the keyword arguments of the kind's fit function. Options are
checked against that function's signature when the task is built, so a typo fails before
anything runs. Resolving a kind imports its wing (PyMC, SciPy...) on first use only.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import inspect
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayescale.core.errors import DataError, SpecificationError

__all__ = [
    "FIT_FUNCTIONS",
    "FitTask",
    "as_task",
    "fit_function",
    "read_task_file",
    "resolve_callable",
    "tasks_from_datasets",
]

#: The fit function of every kind of fit, as ``"module:function"``, imported when a task of
#: that kind is checked or run (the one place that maps kinds to functions). The wings'
#: package-level names are used: they stay valid when a wing reorganises its modules. The
#: kinds are those of :data:`bayescale.core.results.FIT_KINDS`.
FIT_FUNCTIONS: dict[str, str] = {
    "scaling": "bayescale.scaling.fitting:fit",
    "discrepancy": "bayescale.scaling.discrepancy:fit_discrepancy",
    "passk": "bayescale.passk:fit",
    "coverage_law": "bayescale.passk:fit_coverage_law",
    "voting_curve": "bayescale.passk:fit_voting_curve",
    "sandwich": "bayescale.emergence:fit_sandwich",
    "sigmoid": "bayescale.emergence:fit_sigmoid",
    "quanta": "bayescale.emergence:fit_zipf_counts",
}
#: Kinds whose fit function takes a DataFrame only: a CSV path is read for them
#: (:func:`bayescale.core.tables.read_table`); the others read the path themselves, so
#: their errors cite CSV line numbers.
_DATAFRAME_ONLY = frozenset({"discrepancy", "sandwich", "sigmoid", "quanta"})
#: Task fields passed to the fit function as keyword arguments when it takes them.
_CALL_FIELDS = ("law", "metric", "pooling")
#: Fit options that change how a fit runs, not what it estimates: left out of the key.
EXECUTION_OPTIONS = frozenset({"progressbar", "cores", "blas_cores", "warn_convergence", "warn"})
#: Sampler options a task may pass to a fit function that forwards ``**kwargs`` to the
#: sampling engine (:func:`bayescale.core.sampling.run_nuts`).
_SAMPLER_OPTIONS = frozenset(
    {
        "sampler",
        "cores",
        "blas_cores",
        "nuts",
        "init",
        "initvals",
        "compile_kwargs",
        "backend",
        "var_names",
    }
)
_REFERENCE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
_SLUG_CHARS = 120


# -- kinds and callables ---------------------------------------------------------------
def resolve_callable(reference: str | Callable[..., Any], *, what: str) -> Callable[..., Any]:
    """The function a ``"package.module:function"`` string names (a callable is returned).

    Parameters
    ----------
    reference
        ``"module:attribute"`` (dots allowed in both parts), or a callable.
    what
        What the callable is for, used in error messages (e.g. ``"sampler"``).

    Raises
    ------
    SpecificationError
        Not of that form, the module cannot be imported here, or it has no such attribute.
    """
    if callable(reference):
        return reference
    if not isinstance(reference, str) or not _REFERENCE.fullmatch(reference):
        raise SpecificationError(
            f"{what} must be a callable or a 'package.module:function' string, not {reference!r}"
        )
    module_name, _, attr = reference.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        missing = isinstance(exc, ModuleNotFoundError) and module_name.startswith(
            str(exc.name or "\0")
        )
        advice = (
            "Install it where the fits run, or put its directory on PYTHONPATH (of the "
            "workers too)."
            if missing
            else "The module was found but failed to import: fix that error."
        )
        raise SpecificationError(
            f"{what} {reference!r}: module {module_name!r} cannot be imported in this process "
            f"({type(exc).__name__}: {exc}). {advice}"
        ) from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SpecificationError(
                f"{what} {reference!r}: module {module_name!r} has no {attr!r}"
            ) from None
    if not callable(obj):
        raise SpecificationError(f"{what} {reference!r} is not callable ({type(obj).__name__})")
    return obj  # type: ignore[no-any-return]


def _check_kind(kind: Any) -> str:
    if not isinstance(kind, str) or kind not in FIT_FUNCTIONS:
        raise SpecificationError(
            f"unknown kind of fit {kind!r}; a task's kind is one of {', '.join(FIT_FUNCTIONS)}"
        )
    return kind


def fit_function(kind: str) -> Callable[..., Any]:
    """The fit function of a kind of fit (:data:`FIT_FUNCTIONS`), imported now."""
    return resolve_callable(FIT_FUNCTIONS[_check_kind(kind)], what=f"fit function of {kind!r}")


@dataclasses.dataclass(frozen=True)
class _Signature:
    """What a kind's fit function accepts: its data parameter and keyword parameters."""

    function: str
    data: str
    keywords: frozenset[str]
    var_keyword: bool

    def accepts(self, name: str) -> bool:
        """Whether the function takes ``name=`` (itself or through ``**kwargs``)."""
        return name in self.keywords or (self.var_keyword and name in _SAMPLER_OPTIONS)

    def options(self) -> set[str]:
        """Option names a task may give (not the data, not the task fields)."""
        extra = _SAMPLER_OPTIONS if self.var_keyword else frozenset()
        return set(self.keywords | extra) - set(_CALL_FIELDS)


@functools.cache
def _signature(kind: str) -> _Signature:
    params = list(inspect.signature(fit_function(kind)).parameters.values())
    data = params[0].name
    keywords = frozenset(
        p.name
        for p in params[1:]
        if p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    )
    var_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    return _Signature(FIT_FUNCTIONS[kind], data, keywords, var_keyword)


def accepted_options(kind: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``options`` that the kind's fit function takes."""
    sig = _signature(kind)
    return {k: v for k, v in options.items() if k not in _CALL_FIELDS and sig.accepts(k)}


def _check_options(
    kind: str, options: Mapping[str, Any], *, where: str, fields: Mapping[str, Any]
) -> None:
    sig = _signature(kind)
    allowed = sig.options()
    unknown = sorted(set(options) - allowed)
    if unknown:
        taken = ", ".join(f for f in _CALL_FIELDS if f in sig.keywords)
        raise SpecificationError(
            f"{where}: unknown option(s) {unknown} for kind {kind!r}; a task takes the fields "
            "kind, dataset, data, metric, families"
            + (f", {taken}" if taken else "")
            + f", name, and the options of {sig.function} ({', '.join(sorted(allowed))})"
        )
    for name, value in fields.items():
        if value is not None and name != "metric" and name not in sig.keywords:
            raise SpecificationError(
                f"{where}: kind {kind!r} takes no {name!r} ({sig.function} has no such "
                f"parameter); leave {name}=None"
            )
    if "sampler" in options:
        sampler = options["sampler"]
        if not callable(sampler) and not (
            isinstance(sampler, str) and _REFERENCE.fullmatch(sampler)
        ):
            raise SpecificationError(
                f"{where}: option sampler must be a callable or a 'package.module:function' "
                f"string (resolved in the worker), not {sampler!r}"
            )


# -- tasks ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FitTask:
    """One fit of :func:`~bayescale.batch.fit_many`: kind, data and fit options.

    Parameters
    ----------
    law
        Law of a scaling fit (``"chinchilla"``, the default, ``"power_law:compute"``...) or
        of a coverage law (``"beta_zi"``...); passed as ``law=`` to fit functions that take
        one, an error for the others.
    dataset
        Name of a shipped data set (:func:`bayescale.datasets.names`); or give ``data``.
    data
        A table (DataFrame) or the path of a CSV file, in the format of the kind's fit
        function; or give ``dataset``.
    metric
        Metric to fit: selects the rows of ``dataset``, and is passed as ``metric=`` to fit
        functions that take it (scaling fits, where it also selects the rows of ``data``).
    families
        Keep only the rows of these families (column ``family``; ``None``: all of them).
    pooling
        Passed as ``pooling=`` (scaling fits, voting curves).
    options
        Other keyword arguments of the kind's fit function (``draws``, ``seed``,
        ``priors``, ``cutoff``...) and, for fit functions that forward ``**kwargs`` to the
        sampler, sampler options (``cores``, ``nuts``...). ``sampler`` may be a callable or
        a ``"package.module:function"`` string, imported in the worker.
    name
        File name stem of the fit; default: :attr:`key`.
    skip
        Reason not to run the task (set by :func:`tasks_from_datasets` for families with too
        few rows); :func:`~bayescale.batch.fit_many` records it with status ``skipped``.
    kind
        Kind of fit (:data:`FIT_FUNCTIONS`): ``"scaling"`` (default, :func:`bayescale.fit`),
        ``"discrepancy"``, ``"passk"``, ``"coverage_law"``, ``"voting_curve"``,
        ``"sandwich"``, ``"sigmoid"`` or ``"quanta"``.

    Raises
    ------
    SpecificationError
        Not exactly one of ``dataset`` and ``data``, an unknown kind, or an option or field
        the kind's fit function does not take.
    """

    law: str | None = None
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
    kind: str = "scaling"

    def __post_init__(self) -> None:
        _check_kind(self.kind)
        if (self.dataset is None) == (self.data is None):
            raise SpecificationError(
                "a FitTask needs exactly one of dataset= (a shipped data set name) or data= "
                f"(a DataFrame or CSV path); got dataset={self.dataset!r} and "
                f"data={'None' if self.data is None else type(self.data).__name__}"
            )
        if self.kind == "scaling" and self.law is None:
            object.__setattr__(self, "law", "chinchilla")
        if self.law is not None and not isinstance(self.law, str):
            raise SpecificationError(
                f"FitTask law must be a law name such as 'chinchilla' (a string, so that "
                f"the task has a stable key), not {type(self.law).__name__}"
            )
        if isinstance(self.families, str):
            object.__setattr__(self, "families", (self.families,))
        elif self.families is not None:
            object.__setattr__(self, "families", tuple(str(f) for f in self.families))
        object.__setattr__(self, "options", dict(self.options))
        fields = {"law": self.law, "metric": self.metric, "pooling": self.pooling}
        _check_options(self.kind, self.options, where=f"task {self.label!r}", fields=fields)
        if (
            self.metric is not None
            and self.dataset is None
            and "metric" not in _signature(self.kind).keywords
        ):
            raise SpecificationError(
                f"task {self.label!r}: kind {self.kind!r} takes no metric; metric= selects "
                "the rows of a shipped data set (dataset=). Give data= the rows to fit."
            )
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
        """Readable description: data set or data, metric, families, kind (unless
        ``scaling``) and law."""
        source = self.dataset if self.dataset is not None else _data_label(self.data)
        kind = "" if self.kind == "scaling" else self.kind
        parts = [source, self.metric or "", "+".join(self.families or ()), kind, self.law or ""]
        return "/".join(p for p in parts if p)

    @property
    def key(self) -> str:
        """Stable file name stem: :attr:`name`, or a readable slug plus a hash of the task.

        The hash covers the kind, the data (the table's content, or the data set name),
        metric, families, law, pooling and the options that change the estimate (not
        ``progressbar``, ``cores``...), so a changed task gets a new file instead of
        reusing an old fit. (Scaling tasks hash as in bayescale 0.1, so their fits are
        reused.)
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
            "options": {k: v for k, v in self.options.items() if k not in EXECUTION_OPTIONS},
        }
        if self.kind != "scaling":
            content["kind"] = self.kind
        text = json.dumps(content, sort_keys=True, default=json_default)
        return hashlib.sha256(text.encode()).hexdigest()

    def with_options(self, **defaults: Any) -> FitTask:
        """A copy whose options are the ``defaults`` its fit function takes, updated by
        the task's own options."""
        taken = accepted_options(self.kind, defaults)
        if not taken:
            return self
        return dataclasses.replace(self, options={**taken, **self.options})

    def describe(self) -> dict[str, Any]:
        """The task as JSON-ready fields (for records and the results table)."""
        return {
            "kind": self.kind,
            "dataset": self.dataset,
            "data": None if self.dataset is not None else _data_label(self.data),
            "metric": self.metric,
            "families": "+".join(self.families) if self.families else None,
            "law": self.law,
            "pooling": json.dumps(self.pooling)
            if isinstance(self.pooling, Mapping)
            else (self.pooling),
            "options": json.dumps(dict(self.options), sort_keys=True, default=json_default),
        }

    def call_arguments(self) -> dict[str, Any]:
        """Keyword arguments of the fit function: the options, and the fields ``law``,
        ``metric`` and ``pooling`` it takes (when set); a ``sampler`` string is imported."""
        sig = _signature(self.kind)
        kwargs = {
            name: getattr(self, name)
            for name in _CALL_FIELDS
            if getattr(self, name) is not None and name in sig.keywords
        }
        kwargs.update(self.options)
        if isinstance(kwargs.get("sampler"), str):
            kwargs["sampler"] = resolve_callable(kwargs["sampler"], what="sampler")
        return kwargs

    def load_data(self) -> pd.DataFrame | str | os.PathLike[str]:
        """The table to fit: the data set's metric rows, restricted to :attr:`families`.

        A CSV path is returned as is (the fit function reads it) unless rows are selected
        or the kind's fit function takes DataFrames only; then it is read here.
        """
        if self.dataset is not None:
            from bayescale import datasets

            frame: Any = datasets.load(self.dataset, metric=self.metric)
        else:
            frame = self.data
        if not isinstance(frame, pd.DataFrame) and (
            self.families is not None or self.kind in _DATAFRAME_ONLY
        ):
            from bayescale.core.tables import read_table

            frame, _ = read_table(frame)
        if self.families is None:
            return frame  # type: ignore[no-any-return]
        if "family" not in frame.columns:
            raise DataError(
                f"task {self.label!r} selects families {list(self.families)} but its table "
                f"has no 'family' column (columns: {list(map(str, frame.columns))}); leave "
                "families=None or add the column"
            )
        present = set(frame["family"].astype(str))
        missing = [f for f in self.families if f not in present]
        if missing:
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


def json_default(value: Any) -> Any:
    """JSON form of the values a task or a record may hold (NumPy scalars and arrays,
    mappings, dataclasses; a function by its ``module:qualified name``, the same in
    every process)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '?')}:{value.__qualname__}"
    return repr(value)


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


def check_defaults(tasks: Sequence[FitTask], options: Mapping[str, Any]) -> None:
    """Fail on options given for every task that no task's fit function takes."""
    kinds = sorted({t.kind for t in tasks}) or ["scaling"]
    unused = [k for k in options if not any(_signature(kind).accepts(k) for kind in kinds)]
    if unused:
        offered = sorted(set().union(*(_signature(kind).options() for kind in kinds)))
        raise SpecificationError(
            f"fit_many: option(s) {sorted(unused)} are taken by none of the fit functions of "
            f"the tasks' kinds {kinds}; known options: {', '.join(offered)}"
        )
    if "sampler" in options:  # import it now: fail here, not in every worker
        resolve_callable(options["sampler"], what="sampler")


def read_task_file(path: str | os.PathLike[str]) -> list[FitTask]:
    """Tasks from a JSON file holding a list of task objects (:meth:`FitTask.from_dict`).

    Each object may name its ``kind`` (default ``"scaling"``); a relative ``data`` path is
    relative to the file.

    Raises
    ------
    SpecificationError
        The file is not JSON, not a list of objects, or a task is invalid (the error names
        its position).
    """
    try:
        specs = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SpecificationError(f"task file {str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(specs, list):
        raise SpecificationError(f"task file {str(path)!r} must hold a JSON list of task objects")
    base = Path(path).parent
    tasks = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise SpecificationError(f"task file {str(path)!r}: item {i} is not an object")
        if isinstance(spec.get("data"), str) and not os.path.isabs(spec["data"]):
            spec = {**spec, "data": str(base / spec["data"])}
        try:
            tasks.append(as_task(spec))
        except SpecificationError as exc:
            raise SpecificationError(f"task file {str(path)!r}, item {i}: {exc}") from None
    return tasks


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
    """One single-family scaling-law task for every (data set, metric, family) shipped.

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
        :func:`~bayescale.batch.fit_many` records it as ``skipped``, so nothing is dropped
        silently.
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
    _check_options("scaling", options, where="tasks_from_datasets", fields={})
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
