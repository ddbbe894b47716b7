"""bayescale: Bayesian estimation of neural scaling laws with PyMC and ArviZ.

Data flow: a pandas DataFrame in the long format -> :func:`validate` -> an
``xarray.Dataset`` -> a PyMC model (:func:`bayescale.scaling.model.build_model`) -> an ArviZ
``DataTree`` inside a :class:`ScalingFit` -> forecasts, checks, comparisons and plots.

>>> import bayescale
>>> df = bayescale.datasets.load("gadre2024", metric="loss_c4_val")
>>> fit = bayescale.fit(df, law="chinchilla")            # doctest: +SKIP
>>> fit.forecast({"params": 7e9, "tokens": 1.4e11}, ci=0.9)  # doctest: +SKIP

Heavy modules (PyMC, PyTensor) are imported only when a model is built.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from typing import Any

from bayescale import datasets
from bayescale.batch import FitTask, fit_many, open_fits, read_results, tasks_from_datasets
from bayescale.compare import Comparison, ParetoKWarning, compare
from bayescale.core import dims
from bayescale.core.diagnostics import Diagnostics, check_convergence
from bayescale.core.errors import (
    BayescaleError,
    ConvergenceWarning,
    DataError,
    ExtrapolationWarning,
    FitFileError,
    SpecificationError,
)
from bayescale.core.results import FitResult, load
from bayescale.scaling import checkpoints, laws, reference
from bayescale.scaling.backtest import BacktestResult, backtest
from bayescale.scaling.checkpoints import drop_early_checkpoints, thin_checkpoints
from bayescale.scaling.data import validate
from bayescale.scaling.fitting import ScalingFit, fit
from bayescale.scaling.laws import Law, get_law
from bayescale.scaling.optimal import compute_optimal
from bayescale.scaling.priors import PriorSpec
from bayescale.scaling.stacking import stacked_forecast

#: The version, in this one place (``pyproject.toml`` reads it; ``bayescale --version``).
__version__ = "0.2.0"

#: Sub-packages imported on first use (``bayescale.passk``, ``bayescale.emergence``): they
#: pull in SciPy's statistics, which cost 1.2 s of a 2.3 s ``import bayescale``.
_LAZY_SUBPACKAGES = ("passk", "emergence")


#: Modules that moved when the package was split into ``core``, ``scaling``, ``batch`` and
#: ``cli`` (0.2): importing the old path raises an error that names the new one.
_MOVED_MODULES = {
    **{m: f"bayescale.core.{m}" for m in ("dims", "errors", "diagnostics", "sampling")},
    **{m: f"bayescale.core.{m}" for m in ("compiled", "callbacks")},
    **{
        m: f"bayescale.scaling.{m}"
        for m in (
            "data",
            "laws",
            "priors",
            "model",
            "fitting",
            "predictive",
            "forecast",
            "optimal",
            "checkpoints",
            "reference",
            "stacked_forecast",
            "backtest",
            "plotting",
            "report",
        )
    },
    "demo": "bayescale.cli.demo",
    "passk.cli": "bayescale.cli.passk",
    "emergence.cli": "bayescale.cli.emergence",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Turn ``import bayescale.fitting`` (an old path) into a clear error."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        prefix = "bayescale."
        if fullname.startswith(prefix) and fullname[len(prefix) :] in _MOVED_MODULES:
            new = _MOVED_MODULES[fullname[len(prefix) :]]
            raise ModuleNotFoundError(
                f"{fullname} moved to {new} in bayescale 0.2: import it from there "
                f"(the names exported by bayescale itself did not change)",
                name=fullname,
            )
        return None


if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBPACKAGES:
        module = importlib.import_module(f"bayescale.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'bayescale' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY_SUBPACKAGES])


__all__ = [
    "BacktestResult",
    "BayescaleError",
    "Comparison",
    "ConvergenceWarning",
    "DataError",
    "Diagnostics",
    "ExtrapolationWarning",
    "FitFileError",
    "FitResult",
    "FitTask",
    "Law",
    "ParetoKWarning",
    "PriorSpec",
    "ScalingFit",
    "SpecificationError",
    "backtest",
    "check_convergence",
    "checkpoints",
    "compare",
    "compute_optimal",
    "datasets",
    "dims",
    "drop_early_checkpoints",
    "emergence",
    "fit",
    "fit_many",
    "get_law",
    "laws",
    "load",
    "open_fits",
    "passk",
    "read_results",
    "reference",
    "stacked_forecast",
    "tasks_from_datasets",
    "thin_checkpoints",
    "validate",
]
