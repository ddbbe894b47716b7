"""bayescale: Bayesian estimation of neural scaling laws with PyMC and ArviZ.

Data flow: a pandas DataFrame in the long format -> :func:`validate` -> an
``xarray.Dataset`` -> a PyMC model (:func:`bayescale.model.build_model`) -> an ArviZ
``DataTree`` inside a :class:`ScalingFit` -> forecasts, checks, comparisons and plots.

>>> import bayescale
>>> df = bayescale.datasets.load("gadre2024", metric="loss_c4_val")
>>> fit = bayescale.fit(df, law="chinchilla")            # doctest: +SKIP
>>> fit.forecast({"params": 7e9, "tokens": 1.4e11}, ci=0.9)  # doctest: +SKIP

Heavy modules (PyMC, PyTensor) are imported only when a model is built.
"""

from __future__ import annotations

import importlib
from typing import Any

from bayescale import checkpoints, datasets, dims, laws, reference
from bayescale.backtest import BacktestResult, backtest
from bayescale.batch import FitTask, fit_many, open_fits, read_results, tasks_from_datasets
from bayescale.checkpoints import drop_early_checkpoints, thin_checkpoints
from bayescale.compare import Comparison, ParetoKWarning, compare
from bayescale.data import validate
from bayescale.diagnostics import Diagnostics, check_convergence
from bayescale.errors import (
    BayescaleError,
    ConvergenceWarning,
    DataError,
    FitFileError,
    SpecificationError,
)
from bayescale.fitting import ScalingFit, fit, load
from bayescale.laws import Law, get_law
from bayescale.optimal import compute_optimal
from bayescale.priors import PriorSpec

__version__ = "0.1.0"

#: Sub-packages imported on first use (``bayescale.passk``, ``bayescale.emergence``): they
#: pull in SciPy's statistics, which cost 1.2 s of a 2.3 s ``import bayescale``.
_LAZY_SUBPACKAGES = ("passk", "emergence")


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
    "FitFileError",
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
    "tasks_from_datasets",
    "thin_checkpoints",
    "validate",
]
