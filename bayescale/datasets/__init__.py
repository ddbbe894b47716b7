"""Real scaling data shipped inside bayescale.

Each data set lives in its own folder next to this module and holds three files:

``<file>.csv``
    The measurements in bayescale's long format (see ``docs/data_format.md``): one row per
    (run, checkpoint, metric) with columns ``family``, ``model``, ``seed``, ``params``,
    ``tokens``, ``compute``, ``checkpoint_step``, ``metric``, ``value``, ``value_lo`` and
    ``value_hi``.
``LICENSE``
    The licence of the source, copied verbatim.
``PROVENANCE.json``
    Where the data come from (repository, commit, paper), the licence, the families and
    metrics, the row and run counts, what ``value_lo``/``value_hi`` mean, and the CSV name.

A data set may add the optional column ``unique_tokens`` (number of unique training tokens,
for runs that repeat data); :func:`load` keeps it when the CSV has it.

A new data set is one folder plus one entry in :data:`_REGISTRY`; the shipped CSVs are
rebuilt from their sources by ``python -m bayescale.datasets.build --source DIR``. Only
pandas is imported, so ``import bayescale.datasets`` stays cheap.

Examples
--------
>>> from bayescale import datasets
>>> datasets.names()
['colpret2024', 'gadre2024', 'obsscaling2024', 'porian2024', 'pythia2023', 'wu_lo2024']
>>> df = datasets.load("gadre2024", metric="loss_c4_val")
>>> len(df)
104
"""

from __future__ import annotations

import copy
import json
import textwrap
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import pandas as pd

from bayescale.core.errors import DataError

__all__ = ["describe", "licence_text", "load", "names", "provenance"]

#: Registered data sets: public name -> folder inside ``bayescale/datasets``.
_REGISTRY: dict[str, str] = {
    "colpret2024": "colpret2024",
    "gadre2024": "gadre2024",
    "obsscaling2024": "obsscaling2024",
    "porian2024": "porian2024",
    "pythia2023": "pythia2023",
    "wu_lo2024": "wu_lo2024",
}

#: Column order of a loaded table.
COLUMNS: tuple[str, ...] = (
    "family",
    "model",
    "seed",
    "params",
    "tokens",
    "compute",
    "checkpoint_step",
    "metric",
    "value",
    "value_lo",
    "value_hi",
)

#: Extra columns kept after :data:`COLUMNS` when a data set's CSV has them.
OPTIONAL_COLUMNS: tuple[str, ...] = ("unique_tokens",)

# ``compute`` is stored as exact integers that overflow int64, so every numeric column is
# read as float64; the labels are read as strings.
_DTYPES: dict[str, str] = {
    "family": "string",
    "model": "string",
    "metric": "string",
    "params": "float64",
    "tokens": "float64",
    "compute": "float64",
    "checkpoint_step": "float64",
    "value": "float64",
    "value_lo": "float64",
    "value_hi": "float64",
    "unique_tokens": "float64",
}

_PROVENANCE_FILE = "PROVENANCE.json"
_LICENCE_FILE = "LICENSE"
_WIDTH = 88


def names() -> list[str]:
    """List the data sets shipped with bayescale.

    Returns
    -------
    list of str
        The registered names, sorted; each one can be passed to :func:`load`.
    """
    return sorted(_REGISTRY)


def _check(name: object) -> str:
    """Return ``name`` if it is registered; raise DataError listing the names otherwise."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise DataError(
            f"unknown data set {name!r}; the shipped data sets are {names()}. "
            "See bayescale.datasets.names()."
        )
    return name


def _folder(name: str) -> Traversable:
    return resources.files(__name__).joinpath(_REGISTRY[_check(name)])


@cache
def _provenance(name: str) -> dict[str, Any]:
    path = _folder(name).joinpath(_PROVENANCE_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:  # pragma: no cover - a broken installation
        raise DataError(f"data set {name!r} has no {_PROVENANCE_FILE}") from exc
    meta: dict[str, Any] = json.loads(text)
    return meta


@cache
def _table(name: str) -> pd.DataFrame:
    meta = _provenance(name)
    path = _folder(name).joinpath(meta["file"])
    with path.open("r", encoding="utf-8") as handle:
        header = pd.read_csv(handle, nrows=0).columns
    dtypes = {col: dtype for col, dtype in _DTYPES.items() if col in header}
    with path.open("r", encoding="utf-8") as handle:
        frame = pd.read_csv(handle, dtype=dtypes)
    missing = [col for col in COLUMNS if col not in frame.columns]
    if missing:  # pragma: no cover - guards a badly built data set
        raise DataError(f"data set {name!r}: {meta['file']} lacks column(s) {missing}")
    extra = [col for col in OPTIONAL_COLUMNS if col in frame.columns]
    return frame.loc[:, list(COLUMNS) + extra]


def provenance(name: str) -> dict[str, Any]:
    """Return the provenance record of a shipped data set.

    Parameters
    ----------
    name
        A name from :func:`names`.

    Returns
    -------
    dict
        The contents of the data set's ``PROVENANCE.json`` (a fresh copy): ``name``,
        ``title``, ``file``, ``source`` (``repository``, ``url``, ``commit``, ``path``),
        ``paper`` (``authors``, ``title``, ``year``, ``arxiv``, ``url``), ``licence``,
        ``description``, ``families``, ``metrics``, ``n_rows``, ``n_runs``, ``interval``
        (meaning and probability of ``value_lo``/``value_hi``) and ``columns``.

    Raises
    ------
    DataError
        If ``name`` is not a registered data set.
    """
    return copy.deepcopy(_provenance(_check(name)))


def licence_text(name: str) -> str:
    """Return the licence of a shipped data set, as copied from its source.

    Parameters
    ----------
    name
        A name from :func:`names`.

    Returns
    -------
    str
        The full text of the data set's ``LICENSE`` file.

    Raises
    ------
    DataError
        If ``name`` is not a registered data set.
    """
    return _folder(name).joinpath(_LICENCE_FILE).read_text(encoding="utf-8")


def load(name: str, *, metric: str | None = None) -> pd.DataFrame:
    """Load a shipped data set in the long format.

    Parameters
    ----------
    name
        A name from :func:`names`, e.g. ``"gadre2024"``.
    metric
        Keep only the rows of this metric (e.g. ``"loss_c4_val"``). ``None`` keeps all.

    Returns
    -------
    pandas.DataFrame
        One row per (run, checkpoint, metric) with columns ``family``, ``model`` (run
        label), ``seed``, ``params``, ``tokens``, ``compute``, ``checkpoint_step``,
        ``metric``, ``value``, ``value_lo`` and ``value_hi``, followed by ``unique_tokens``
        for data sets that have it (``colpret2024``); numeric columns are float64.
        ``df.attrs["provenance"]`` holds the provenance record (see :func:`provenance`)
        and ``df.attrs["dataset"]`` the name. The frame is a fresh copy and can be changed
        freely.

    Raises
    ------
    DataError
        If ``name`` is not registered (the message lists the available names) or
        ``metric`` is not in the data set (the message lists its metrics).

    Examples
    --------
    >>> from bayescale import datasets
    >>> df = datasets.load("gadre2024", metric="loss_c4_val")
    >>> sorted(df["family"].unique())
    ['c4_original', 'rpj', 'rw_original']
    """
    frame = _table(_check(name))
    if metric is not None:
        metrics = list(pd.unique(frame["metric"]))
        if metric not in metrics:
            raise DataError(f"metric {metric!r} is not in data set {name!r}; it holds {metrics}")
        frame = frame.loc[frame["metric"] == metric]
    out = frame.reset_index(drop=True).copy()
    out.attrs["dataset"] = name
    out.attrs["provenance"] = provenance(name)
    return out


def _count(x: float) -> str:
    """Format a count compactly: 10.6M, 6.89B, 921B, 1.2T."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def describe(name: str) -> str:
    """Describe a shipped data set in a few lines of text.

    Parameters
    ----------
    name
        A name from :func:`names`.

    Returns
    -------
    str
        Title, paper, source repository and commit, licence, families with their run
        counts, metrics, the ranges of N (``params``), D (``tokens``) and C
        (``compute``), what ``value_lo``/``value_hi`` mean, and the columns.

    Raises
    ------
    DataError
        If ``name`` is not a registered data set.
    """
    meta = _provenance(_check(name))
    frame = _table(name)
    paper = meta.get("paper", {})
    source = meta.get("source", {})
    runs = frame.groupby("family", sort=True)["model"].nunique()
    tpp = frame["tokens"] / frame["params"]
    fields: list[tuple[str, str]] = [
        (
            "paper",
            f"{paper.get('short', '')} ({paper.get('year', '')}), "
            f'"{paper.get("title", "")}", arXiv:{paper.get("arxiv", "")}',
        ),
        (
            "source",
            f"{source.get('repository', '')} @ {source.get('commit', '')} "
            f"({source.get('url', '')})",
        ),
        (
            "licence",
            f"{meta.get('licence', '')} ({meta.get('copyright', 'see LICENSE')}); full text: "
            f"bayescale.datasets.licence_text({name!r})",
        ),
        ("rows", f"{len(frame)} ({int(frame['model'].nunique())} runs)"),
        (
            "families",
            ", ".join(f"{fam} ({n} run{'' if n == 1 else 's'})" for fam, n in runs.items()),
        ),
        ("metrics", ", ".join(str(m) for m in pd.unique(frame["metric"]))),
        ("N", f"{_count(frame['params'].min())} to {_count(frame['params'].max())} parameters"),
        (
            "D",
            f"{_count(frame['tokens'].min())} to {_count(frame['tokens'].max())} tokens "
            f"({tpp.min():.3g} to {tpp.max():.3g} tokens per parameter)",
        ),
        ("C", f"{frame['compute'].min():.3g} to {frame['compute'].max():.3g} FLOPs"),
    ]
    interval = meta.get("interval")
    if interval:
        fields.append(("intervals", f"value_lo, value_hi: {interval.get('meaning', '')}"))
    fields.append(("columns", ", ".join(COLUMNS)))
    lines = [f"{name}: {meta.get('title', '')}"]
    for label, text in fields:
        lines.append(
            textwrap.fill(
                text,
                width=_WIDTH,
                initial_indent=f"  {label + ':':<11}",
                subsequent_indent=" " * 13,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)
