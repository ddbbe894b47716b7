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

from bayescale import datasets, dims, laws
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

__all__ = [
    "BayescaleError",
    "ConvergenceWarning",
    "DataError",
    "Diagnostics",
    "FitFileError",
    "Law",
    "PriorSpec",
    "ScalingFit",
    "SpecificationError",
    "check_convergence",
    "compute_optimal",
    "datasets",
    "dims",
    "fit",
    "get_law",
    "laws",
    "load",
    "validate",
]
