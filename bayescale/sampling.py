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

import numpy as np
import xarray as xr

__all__ = ["sample_posterior", "sample_until_converged"]


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


def sample_until_converged(
    model: Any,
    *,
    check_vars: Sequence[str],
    draws: int,
    tune: int,
    chains: int,
    seed: Any,
    extend_if_slow: bool = True,
    notes: list[str] | None = None,
    **options: Any,
) -> xr.DataTree:
    """:func:`sample_posterior`, once more with twice ``tune`` and ``draws`` if mixing is slow.

    When R-hat or bulk ESS of ``check_vars`` fall short *without* divergences (slow mixing,
    cured by longer chains), the model is sampled again with ``2 * tune`` and
    ``2 * draws`` and a sentence saying so is appended to ``notes``. Divergences are never
    answered this way: the first run is returned and the caller reports them. The seed of
    the second run is ``seed + 1`` (an integer seed) so the two runs differ.

    Parameters
    ----------
    model
        A :class:`pymc.Model`.
    check_vars
        The sampled variables whose diagnostics decide
        (:func:`bayescale.diagnostics.check_convergence`).
    draws, tune, chains, seed, **options
        As for :func:`sample_posterior`.
    extend_if_slow
        ``False`` samples once.
    notes
        List that receives the note of a second run.
    """
    from bayescale.diagnostics import check_convergence

    idata = sample_posterior(model, draws=draws, tune=tune, chains=chains, seed=seed, **options)
    if not extend_if_slow:
        return idata
    post = idata["posterior"].dataset
    names = [v for v in check_vars if v in post]
    diag = check_convergence(idata, var_names=names, warn=False)
    if diag.ok or diag.divergences:
        return idata
    second_seed = seed + 1 if isinstance(seed, (int, np.integer)) else seed
    idata = sample_posterior(
        model, draws=2 * draws, tune=2 * tune, chains=chains, seed=second_seed, **options
    )
    if notes is not None:
        notes.append(
            f"sampled again with tune={2 * tune}, draws={2 * draws}: the run with "
            f"tune={tune}, draws={draws} fell short ({diag})"
        )
    return idata
