"""Exceptions and warnings raised by bayescale."""

from __future__ import annotations


class BayescaleError(Exception):
    """Base class of every error bayescale raises on purpose."""


class DataError(BayescaleError, ValueError):
    """The input data are not in the documented long format.

    The message names the column, the offending rows (0-based positions in the input
    table, plus the first few values) and what to do about it.
    """


class SpecificationError(BayescaleError, ValueError):
    """A law, pooling choice, prior or sampler option is not valid."""


class FitFileError(BayescaleError, OSError):
    """A saved fit cannot be read (wrong file, wrong version or a different model)."""


class ConvergenceWarning(UserWarning):
    """MCMC diagnostics fell short of the thresholds in ``docs/diagnostics.md``."""


class ExtrapolationWarning(UserWarning):
    """A forecast lies where the back-tests found its intervals too narrow (tokens per
    parameter far outside the training range; ``docs/forecasting.md``)."""
