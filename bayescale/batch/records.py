"""The records of a :func:`~bayescale.batch.fit_many` run: one ``<key>.json`` per task and
``results.csv``, written atomically; read back with :func:`read_results` and
:func:`open_fits` (fits of any kind, loaded lazily with :func:`bayescale.load`).
"""

from __future__ import annotations

import contextlib
import json
import os
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bayescale.batch.tasks import FitTask, json_default

__all__ = [
    "RESULTS_FILE",
    "RESULT_COLUMNS",
    "STATUSES",
    "LazyFits",
    "format_results",
    "open_fits",
    "read_results",
]

#: Columns of the table :func:`~bayescale.batch.fit_many` returns (task fields follow).
RESULT_COLUMNS = (
    "key",
    "kind",
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
#: Statuses whose task has a fit file.
FITTED = ("ok", "not_converged")
RESULTS_FILE = "results.csv"
_TRACEBACK_CHARS = 3000


def atomic_write_text(path: Path, text: str, tag: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half a file)."""
    tmp = path.with_name(f".{path.name}.{tag}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def diagnostic_fields(diag: Any) -> dict[str, Any]:
    """The record's convergence fields from a :class:`~bayescale.core.diagnostics.Diagnostics`
    (all ``None`` without one)."""
    if diag is None:
        return {"divergences": None, "max_rhat": None, "min_ess": None, "converged": None}
    return {
        "divergences": int(diag.divergences),
        "max_rhat": float(diag.max_rhat),
        "min_ess": float(diag.min_ess_bulk),
        "converged": bool(diag.ok),
        "diagnostics": str(diag),
    }


def traceback_summary(exc: BaseException) -> str:
    """The end of the formatted traceback of ``exc`` (at most 3,000 characters)."""
    text = "".join(traceback.format_exception(exc))
    if len(text) > _TRACEBACK_CHARS:
        text = "...\n" + text[-_TRACEBACK_CHARS:]
    return text


def host() -> str:
    """This machine's name (for records)."""
    try:
        return os.uname().nodename
    except AttributeError:  # pragma: no cover - Windows
        return os.environ.get("COMPUTERNAME", "")


def write_record(out: Path, record: Mapping[str, Any], tag: str) -> None:
    """Write ``out/<key>.json`` atomically."""
    text = json.dumps(record, indent=1, sort_keys=True, default=json_default)
    atomic_write_text(out / f"{record['key']}.json", text, tag)


def task_record(task: FitTask, status: str, message: str | None) -> dict[str, Any]:
    """The record of a task that has no fit (skipped, failed outside the fit, pending)."""
    return {
        "key": task.key,
        "path": None,
        "label": task.label,
        **task.describe(),
        "status": status,
        "error": message,
        **diagnostic_fields(None),
        "seconds": None,
    }


def _record_from_fit_file(path: Path) -> dict[str, Any]:
    """Rebuild a record from a fit whose ``.json`` is missing (crash between the two)."""
    from bayescale.core.results import load

    record: dict[str, Any] = {"key": path.stem, "path": path.name}
    try:
        result = load(path)
    except Exception as exc:  # a complete file is never partial; report anything else
        record.update(diagnostic_fields(None), status="failed", error=f"unreadable: {exc}")
        return record
    diag = result.diagnostics
    record["kind"] = result.kind
    record.update(diagnostic_fields(diag))
    record["status"] = "ok" if diag is None or diag.ok else "not_converged"
    record["error"] = None if record["status"] == "ok" else str(diag)
    return record


def existing_record(out: Path, key: str) -> dict[str, Any] | None:
    """The record of a finished fit (``<key>.nc`` exists), or ``None``.

    A fit file without a readable record (killed between the two writes) gets its record
    rebuilt from the file, read with :func:`bayescale.load`.
    """
    path = out / f"{key}.nc"
    if not path.exists():
        return None
    try:
        record = json.loads((out / f"{key}.json").read_text(encoding="utf-8"))
        if record.get("status") in FITTED:
            return dict(record)
    except (FileNotFoundError, json.JSONDecodeError):
        pass
    record = _record_from_fit_file(path)
    write_record(out, record, "rebuilt")
    return record


def read_results(out_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """The records of every task written to ``out_dir`` (also after a crash).

    Returns
    -------
    pandas.DataFrame
        One row per ``<key>.json``, columns as in :func:`~bayescale.batch.fit_many`'s table.
    """
    out = Path(out_dir)
    records = []
    for file in sorted(out.glob("*.json")):
        with contextlib.suppress(json.JSONDecodeError, OSError):
            records.append(json.loads(file.read_text(encoding="utf-8")))
    return table_of(records, out)


def table_of(records: Iterable[Mapping[str, Any]], out: Path) -> pd.DataFrame:
    """The results table of ``records``: :data:`RESULT_COLUMNS`, ``reused``, the task's
    fields, then ``traceback``. Records of bayescale 0.1 name no kind: they are scaling
    fits."""
    frame = pd.DataFrame(list(records))
    for col in RESULT_COLUMNS:
        if col not in frame:
            frame[col] = None
    frame["kind"] = [k if isinstance(k, str) else "scaling" for k in frame["kind"]]
    # records hold the fit file's name (older ones an absolute path): the table gives
    # each file under ``out`` (``out / "/abs/x.nc"`` is the absolute path itself)
    frame["path"] = [str(out / p) if isinstance(p, str) else None for p in frame["path"]]
    tail = ["traceback"] if "traceback" in frame else []
    frame["reused"] = [v is True for v in frame["reused"]] if "reused" in frame else False
    rest = [c for c in frame.columns if c not in RESULT_COLUMNS and c != "traceback"]
    frame = frame.loc[:, list(RESULT_COLUMNS) + rest + tail]
    frame.attrs["out_dir"] = str(out)
    return frame


def write_results_csv(table: pd.DataFrame, out: Path) -> None:
    """Write ``out/results.csv`` (the table without tracebacks) atomically, with each fit
    file named relative to ``out`` (no machine path in the folder)."""
    columns = [c for c in table.columns if c != "traceback"]
    frame = table.loc[:, columns].copy()
    frame["path"] = [Path(p).name if isinstance(p, str) else None for p in frame["path"]]
    atomic_write_text(out / RESULTS_FILE, frame.to_csv(index=False), "csv")


class LazyFits(Mapping[str, Any]):
    """Fits of a :func:`~bayescale.batch.fit_many` run by key, each loaded from its file
    (:func:`bayescale.load`, any kind) when asked for.

    >>> fits = bayescale.open_fits("fits/")          # doctest: +SKIP
    >>> fits["gadre2024__loss_c4_val__rpj__chinchilla-1a2b3c4d5e"].summary()  # doctest: +SKIP
    """

    def __init__(self, paths: Mapping[str, str | os.PathLike[str]]) -> None:
        self._paths = {str(k): Path(v) for k, v in paths.items()}

    def __getitem__(self, key: str) -> Any:
        from bayescale.core.results import load

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
    status: str | Sequence[str] = FITTED,
    kind: str | Sequence[str] | None = None,
) -> LazyFits:
    """Fits of a run, loaded lazily: from :func:`~bayescale.batch.fit_many`'s table or an
    output directory.

    Parameters
    ----------
    results
        The table :func:`~bayescale.batch.fit_many` returned, or its ``out_dir``.
    status
        Keep fits with these statuses (default: every fit with a file).
    kind
        Keep fits of these kinds (default: all).
    """
    table = results if isinstance(results, pd.DataFrame) else read_results(results)
    wanted = {status} if isinstance(status, str) else set(status)
    keep = table["status"].isin(wanted) & table["path"].notna()
    if kind is not None:
        keep &= table["kind"].isin({kind} if isinstance(kind, str) else set(kind))
    rows = table[keep]
    return LazyFits(dict(zip(rows["key"], rows["path"], strict=True)))


def format_results(table: pd.DataFrame) -> str:
    """Counts per status (and per kind when there are several), times, and the failures
    with their errors."""
    counts = table["status"].value_counts()
    ran = table[~table["reused"].astype(bool) & table["seconds"].notna()]
    lines = [
        f"{len(table)} tasks: "
        + ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUSES if counts.get(s, 0))
        + f" ({int(table['reused'].sum())} reused from earlier runs)",
    ]
    kinds = table["kind"].value_counts()
    if len(kinds) > 1:
        lines.append("kinds: " + ", ".join(f"{n} {k}" for k, n in kinds.items()))
    if len(ran):
        secs = ran["seconds"].astype(float)
        lines.append(
            f"fitted now: {len(ran)}, {secs.sum():.0f} s of fitting, median {secs.median():.1f} "
            "s per fit"
        )
    failed = table[table["status"] == "failed"]
    for _, row in failed.head(20).iterrows():
        lines.append(f"  failed {row['key']}: {str(row['error'])[:200]}")
    if len(failed) > 20:
        lines.append(f"  ... and {len(failed) - 20} more failures")
    lines.append(f"records: {Path(table.attrs['out_dir']) / RESULTS_FILE}")
    return "\n".join(lines)
