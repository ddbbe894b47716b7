"""Run NUTS on a built PyMC model the way every bayescale fit does.

One place for the call that the fitting modules share: :func:`pymc.sample` with
bayescale's conventions (PyMC's own convergence checks off, because
:func:`bayescale.diagnostics.check_convergence` runs afterwards with the thresholds of
``docs/diagnostics.md``), then the pointwise log-likelihood for LOO. A failure after
sampling never loses the posterior: it becomes a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import xarray as xr

__all__ = ["sample_posterior"]


def sample_posterior(
    model: Any,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: Any,
    nuts_sampler: str = "nutpie",
    target_accept: float = 0.8,
    progressbar: bool = False,
    log_likelihood: Sequence[str] | None = None,
    **sampler_kwargs: Any,
) -> xr.DataTree:
    """Sample ``model`` with NUTS and add the ``log_likelihood`` group.

    Parameters
    ----------
    model
        A :class:`pymc.Model`.
    draws, tune, chains, seed, nuts_sampler, target_accept, progressbar
        Passed to :func:`pymc.sample` (``seed`` as ``random_seed``).
    log_likelihood
        Observed variables whose pointwise log-likelihood to compute
        (:func:`pymc.compute_log_likelihood`); ``None`` skips it.
    **sampler_kwargs
        Further :func:`pymc.sample` options (e.g. ``nuts={...}``, ``cores=...``).

    Returns
    -------
    xarray.DataTree
        The posterior (and ``log_likelihood`` unless it failed, with a warning).
    """
    import pymc as pm

    with model:
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=seed,
            nuts_sampler=nuts_sampler,
            target_accept=target_accept,
            progressbar=progressbar,
            compute_convergence_checks=False,
            **sampler_kwargs,
        )
    if log_likelihood:
        try:
            with model:
                pm.compute_log_likelihood(idata, var_names=list(log_likelihood), progressbar=False)
        except Exception as exc:  # the posterior must never be lost to post-processing
            warnings.warn(
                f"sampling finished but the log-likelihood failed ({exc!r}); the posterior is kept",
                RuntimeWarning,
                stacklevel=3,
            )
    return idata
