"""The one contract every bayescale fit follows, and the one file format they share.

Every fit kind (a scaling law, a pass@k model, a coverage law, a voting curve, a
Slice-and-Sandwich, a sigmoid emergence law, a quanta fit, and any later one) is a
subclass of :class:`FitResult`:

==========================  =====================================================================
member                      meaning
==========================  =====================================================================
``idata``                   the ArviZ :class:`xarray.DataTree` (``posterior``, ``sample_stats``,
                            ``observed_data``, ``log_likelihood`` where one exists, the data)
``diagnostics``             :class:`~bayescale.core.diagnostics.Diagnostics` of the sampled
                            variables (divergences, R-hat, bulk ESS)
``notes``                   what the fit decided on the user's behalf (a longer run, a fallback)
``summary(ci_prob=0.9)``    a :class:`pandas.DataFrame`, one row per reported quantity, with
                            ArviZ's column names (``mean``, ``sd``, ``eti90_lb``... ``r_hat``)
``report()``                a plain-text report for people (what ``str(fit)`` prints)
``plot(path=None)``         a matplotlib :class:`~matplotlib.figure.Figure`, written to ``path``
``loo()``                   PSIS-LOO (:func:`arviz.loo`) where a pointwise log-likelihood exists
``save(path)``              one NetCDF file: the DataTree, ``bayescale_kind``, the format
                            version and the kind's specification (:meth:`FitResult._state`)
==========================  =====================================================================

:func:`load` reads any such file and returns the class that wrote it; a file of another
program, a truncated file, a text file or an unknown kind raises
:class:`~bayescale.core.errors.FitFileError` saying what it found.

Forecasts are long tidy tables with the same columns in every wing
(:data:`bayescale.core.intervals.FORECAST_COLUMNS`).
"""

from __future__ import annotations

import abc
import importlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.errors import FitFileError, SpecificationError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayescale.core.diagnostics import Diagnostics

__all__ = [
    "FIT_KINDS",
    "FORMAT_VERSION",
    "KIND_ATTR",
    "FitResult",
    "load",
    "register_kind",
]

#: Version of the file format written by :meth:`FitResult.save` (2: every kind, with
#: ``bayescale_kind``; 1: scaling-law and pass@k files of bayescale 0.1, still read).
FORMAT_VERSION = 2
#: Attribute of the DataTree root that names the kind of fit.
KIND_ATTR = "bayescale_kind"
_FORMAT_ATTR = "bayescale_format"
_STATE_ATTR = "bayescale_state"
_NOTES_ATTR = "bayescale_notes"

#: Every fit kind, and the module that defines its class (imported when a file of that kind
#: is loaded, so ``import bayescale`` stays light).
FIT_KINDS: dict[str, str] = {
    "scaling": "bayescale.scaling.fitting:ScalingFit",
    "discrepancy": "bayescale.scaling.discrepancy:DiscrepancyFit",
    "passk": "bayescale.passk.fitting:PassKFit",
    "coverage_law": "bayescale.passk.coverage_laws:CoverageLawFit",
    "voting_curve": "bayescale.passk.voting_curve:VotingCurveFit",
    "sandwich": "bayescale.emergence.sandwich:SandwichFit",
    "sigmoid": "bayescale.emergence.sigmoid:SigmoidFit",
    "quanta": "bayescale.emergence.quanta:QuantaFit",
}
_REGISTERED: dict[str, type[FitResult]] = {}


def register_kind(kind: str, where: str) -> None:
    """Declare a new fit kind: ``where`` is ``"package.module:ClassName"``."""
    FIT_KINDS[kind] = where


class FitResult(abc.ABC):
    """Base class of every fit: posterior, data, specification and what to do with them.

    Subclasses set :attr:`kind`, implement :meth:`summary`, :meth:`_state` and
    :meth:`_from_tree`, and usually :meth:`plot` and a forecast method returning
    :data:`~bayescale.core.intervals.FORECAST_COLUMNS`.

    Attributes
    ----------
    idata : xarray.DataTree
        ArviZ DataTree of the fit.
    diagnostics : Diagnostics or None
        Convergence figures of the sampled variables.
    notes : list of str
        What the fit decided on the user's behalf.
    """

    #: The name of this kind in saved files (``bayescale_kind``) and in ``fit_many`` tasks.
    kind: ClassVar[str]
    idata: xr.DataTree
    diagnostics: Diagnostics | None
    notes: list[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind is not None:
            _REGISTERED[kind] = cls

    # -- what every kind implements ---------------------------------------------------
    @abc.abstractmethod
    def summary(self, *, ci_prob: float = 0.9) -> pd.DataFrame:
        """Posterior summary, one row per reported quantity (ArviZ's columns)."""

    @abc.abstractmethod
    def _state(self) -> dict[str, Any]:
        """The JSON-serialisable specification that :meth:`_from_tree` needs."""

    @classmethod
    @abc.abstractmethod
    def _from_tree(cls, tree: xr.DataTree, state: Mapping[str, Any]) -> Self:
        """Rebuild a fit from the DataTree and state written by :meth:`save`."""

    # -- shared behaviour -------------------------------------------------------------
    def observed(self) -> xr.DataArray:
        """The observations the likelihood scores (what :func:`bayescale.compare` checks
        is the same across fits): the ``observed_data`` group's only variable, or the
        variable of the ``log_likelihood`` group."""
        if "observed_data" in self.idata.children:
            ds = self.idata["observed_data"].dataset
            if len(ds.data_vars) == 1:
                return next(iter(ds.data_vars.values()))
        raise SpecificationError(
            f"{type(self).__name__} does not say which observations it models; "
            "it cannot be compared by LOO"
        )

    def observation_info(self) -> dict[str, str]:
        """What the observations of the log-likelihood are (e.g. ``{"metric": "loss",
        "space": "log"}``): :func:`bayescale.compare` refuses fits whose entries differ,
        because their ELPDs would not be comparable."""
        return {"kind of data": self.kind}

    def title(self) -> str:
        """One line naming the fit (first line of :meth:`report`)."""
        return f"{type(self).__name__} ({self.kind})"

    def report(self, *, ci_prob: float = 0.9) -> str:
        """A plain-text report: title, posterior summary, diagnostics and notes."""
        lines = [self.title(), ""]
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            lines.append(self.summary(ci_prob=ci_prob).to_string(float_format=_float_fmt))
        lines += ["", f"diagnostics: {self.diagnostics}"]
        if self.diagnostics is not None and not self.diagnostics.ok:
            lines.append("  NOT CONVERGED: " + " ".join(self.diagnostics.problems()))
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def _repr_html_(self) -> str:
        """Jupyter: the summary table, the diagnostics and the notes."""
        import html

        table = self.summary(ci_prob=0.9).to_html(float_format=_float_fmt)
        diag = html.escape(str(self.diagnostics))
        if self.diagnostics is not None and not self.diagnostics.ok:
            advice = html.escape(" ".join(self.diagnostics.problems()))
            diag = f"<b style='color:#b00'>NOT CONVERGED</b>: {diag}. {advice}"
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f"<div><b>{html.escape(self.title())}</b>{table}<p>diagnostics: {diag}</p>"
            + (f"<ul>{notes}</ul>" if notes else "")
            + "</div>"
        )

    def plot(self, path: str | os.PathLike[str] | None = None) -> Figure:
        """The fit's data with credible bands (written to ``path`` when given)."""
        raise SpecificationError(f"{type(self).__name__} has no plot")

    def loo(self, **kwargs: Any) -> Any:
        """PSIS-LOO of the fit (:func:`arviz.loo`); needs a ``log_likelihood`` group."""
        if "log_likelihood" not in self.idata.children:
            raise SpecificationError(
                f"this {type(self).__name__} has no pointwise log-likelihood; LOO needs one"
            )
        import arviz as az

        return az.loo(self.idata, **kwargs)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fit to one NetCDF file (h5netcdf); :func:`bayescale.load` reads it."""
        path = Path(path)
        tree = self.idata.copy()
        for name, node in tree.children.items():
            ds = node.dataset
            bad = [k for k, v in ds.variables.items() if v.dtype == object]
            if bad:
                tree[name] = ds.assign({k: ds[k].astype(str) for k in bad if k in ds.data_vars})
                if any(k not in ds.data_vars for k in bad):
                    tree[name] = tree[name].dataset.assign_coords(
                        {k: ds[k].astype(str) for k in bad if k not in ds.data_vars}
                    )
        tree.attrs.update(
            {
                KIND_ATTR: self.kind,
                _FORMAT_ATTR: FORMAT_VERSION,
                _STATE_ATTR: json.dumps(self._state(), default=_json_default),
                _NOTES_ATTR: json.dumps(list(self.notes)),
            }
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tree.to_netcdf(path, engine="h5netcdf")
        return path


def _float_fmt(x: float) -> str:
    return f"{x:.4g}"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _class_of(kind: str, path: Path) -> type[FitResult]:
    if kind not in FIT_KINDS:
        raise FitFileError(
            f"{str(path)!r} holds a bayescale fit of kind {kind!r}, which this bayescale does "
            f"not know (known kinds: {', '.join(sorted(FIT_KINDS))}); upgrade bayescale"
        )
    if kind not in _REGISTERED:
        module, _, name = FIT_KINDS[kind].partition(":")
        getattr(importlib.import_module(module), name)
    return _REGISTERED[kind]


def _sniff(path: Path) -> str:
    """What a file that is not a readable NetCDF file looks like, for the error."""
    head = path.read_bytes()[:512]
    if not head:
        return "an empty file"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "an HDF5 file that could not be read (truncated or damaged?)"
    if head.startswith(b"CDF\x01") or head.startswith(b"CDF\x02"):
        return "a NetCDF-3 file (bayescale writes NetCDF-4)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "a binary file that is not NetCDF-4/HDF5"
    first = text.splitlines()[0][:60] if text.strip() else ""
    return f"a text file (starting {first!r})"


def load(path: str | os.PathLike[str]) -> FitResult:
    """Load any fit written by :meth:`FitResult.save`; returns the class that wrote it.

    Raises
    ------
    FitFileError
        The file is missing, is not NetCDF-4 (a text file, a truncated file), was written
        by another program, holds an unknown kind or a newer format.
    """
    path = Path(path)
    if not path.exists():
        raise FitFileError(f"no fit file at {str(path)!r}")
    if path.is_dir():
        raise FitFileError(f"{str(path)!r} is a directory, not a fit file")
    try:
        # read into memory and close, so the same path can be written again
        with xr.open_datatree(path, engine="h5netcdf") as opened:
            tree = opened.load()
    except Exception as exc:
        raise FitFileError(
            f"{str(path)!r} is not a bayescale fit file: it is {_sniff(path)} ({exc})"
        ) from exc
    attrs = tree.attrs
    kind = attrs.get(KIND_ATTR)
    if kind is None and "bayescale_spec" in attrs:
        kind = "scaling"  # files of bayescale 0.1 named no kind for scaling-law fits
    if kind is None:
        groups = ", ".join(sorted(tree.children)) or "none"
        variables = ", ".join(sorted(map(str, tree.dataset.data_vars))[:8]) or "none"
        raise FitFileError(
            f"{str(path)!r} is a NetCDF file but not a bayescale fit: it has no "
            f"{KIND_ATTR!r} attribute (groups: {groups}; variables: {variables}). It was "
            "written by another program; read it with xarray.open_datatree instead."
        )
    version = int(attrs.get(_FORMAT_ATTR, 0))
    if version > FORMAT_VERSION:
        raise FitFileError(
            f"{str(path)!r} has format {version}, newer than this bayescale reads "
            f"({FORMAT_VERSION}); upgrade bayescale"
        )
    cls = _class_of(str(kind), path)
    state = json.loads(str(attrs[_STATE_ATTR])) if _STATE_ATTR in attrs else {}
    try:
        result = cls._from_tree(tree, state)
    except FitFileError:
        raise
    except (KeyError, ValueError, TypeError) as exc:
        raise FitFileError(
            f"{str(path)!r} says it holds a {kind!r} fit but its contents do not match: {exc!r}"
        ) from exc
    if _NOTES_ATTR in attrs:
        result.notes = list(json.loads(str(attrs[_NOTES_ATTR])))
    return result
