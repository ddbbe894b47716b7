r"""The one sampling engine of bayescale: NUTS with a retry policy, for every fit kind.

:func:`run_nuts` is the call every fit makes (scaling laws, pass@k, coverage laws, voting
curves, Slice-and-Sandwich, sigmoid and quanta fits). It

1. draws with a :data:`Sampler` (default :func:`nutpie_sampler`: nutpie, the compiled
   model cached by structure when the fit gives a ``key``, see :mod:`bayescale.core.compiled`;
   or :func:`pymc.sample` with another ``nuts_sampler``);
2. checks convergence of the sampled variables
   (:func:`bayescale.core.diagnostics.check_convergence`);
3. on divergences with nutpie's low-rank mass matrix (chosen by default, not by the user),
   samples once more with the diagonal one; a fit kind may then allow one more run with a
   higher ``target_accept`` (``accept_on_divergence``: the pass@k fits); on slow mixing
   *without* divergences (R-hat or bulk ESS short), once more with twice ``tune`` and
   ``draws`` (``extend_if_slow``; a fit kind may allow more than one such rerun, each
   doubling the last: the pass@k fits allow two). Divergences are never answered with
   longer chains: they are reported. Every rerun is a sentence in ``notes``;
4. adds the pointwise log-likelihood (:func:`pymc.compute_log_likelihood`) when asked; a
   failure there is a warning and the posterior is kept.

The sampler is injectable: pass ``sampler=`` to a fit, or set a default for a block of code
with :func:`use_sampler` (how the tests replace MCMC by prior draws, through the same code
path users run). There is no other branch for tests.

Defaults everywhere: ``seed=0``, ``draws=1000``, ``tune=1000``, ``chains=4``; each fit
documents its ``target_accept``.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import warnings
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import xarray as xr

from bayescale.core.errors import SpecificationError

__all__ = [
    "ADAPTATIONS",
    "SAMPLERS",
    "Sampler",
    "SamplingRun",
    "nutpie_sampler",
    "pymc_sampler",
    "run_nuts",
    "sample_posterior",
    "sample_until_converged",
    "use_sampler",
]

_log = logging.getLogger("bayescale")

#: NUTS implementations a fit can use (``nuts_sampler=``).
SAMPLERS = ("nutpie", "pymc", "numpyro", "blackjax")
#: nutpie's mass matrix adaptations (``nuts={"adaptation": ...}``).
ADAPTATIONS = ("low_rank", "diag", "draw_diag", "flow")


class Sampler(Protocol):
    """Draws from a PyMC model's posterior; returns a DataTree with ``posterior``.

    Called as ``sampler(model, key=..., draws=..., tune=..., chains=..., seed=...,
    target_accept=..., progressbar=..., **options)``; ``key`` is the model's structure
    (``None``: compile without caching), ``options`` are NUTS options (``adaptation``,
    ``max_treedepth``, ``cores``...).
    """

    def __call__(
        self,
        model: Any,
        *,
        key: Hashable | None,
        draws: int,
        tune: int,
        chains: int,
        seed: int,
        target_accept: float,
        progressbar: bool,
        **options: Any,
    ) -> xr.DataTree: ...


def nutpie_sampler(
    model: Any,
    *,
    key: Hashable | None,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float,
    progressbar: bool,
    **options: Any,
) -> xr.DataTree:
    """nutpie, with the compiled model reused when ``key`` was compiled before."""
    from bayescale.core.compiled import sample_nutpie

    cores = options.pop("cores", None)
    return sample_nutpie(
        model,
        key=key,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        target_accept=target_accept,
        progressbar=progressbar,
        cores=cores,
        **options,
    )


def pymc_sampler(nuts_sampler: str = "pymc", **pymc_options: Any) -> Sampler:
    """A :data:`Sampler` that calls :func:`pymc.sample` with ``nuts_sampler``."""

    def sample(
        model: Any,
        *,
        key: Hashable | None,
        draws: int,
        tune: int,
        chains: int,
        seed: int,
        target_accept: float,
        progressbar: bool,
        **options: Any,
    ) -> xr.DataTree:
        import pymc as pm

        kwargs = dict(pymc_options)
        cores = options.pop("cores", None)
        if cores is not None:
            kwargs["cores"] = cores
        if options:
            kwargs["nuts"] = options
        with model:
            return pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                random_seed=seed,
                nuts_sampler=nuts_sampler,
                target_accept=target_accept,
                progressbar=progressbar,
                compute_convergence_checks=False,
                **kwargs,
            )

    return sample


_default: contextvars.ContextVar[Sampler | None] = contextvars.ContextVar(
    "bayescale_sampler", default=None
)


@contextlib.contextmanager
def use_sampler(sampler: Sampler) -> Iterator[None]:
    """Make ``sampler`` the default of every fit in the block that names no sampler.

    >>> with use_sampler(my_sampler):  # doctest: +SKIP
    ...     bayescale.fit(runs)          # drawn by my_sampler
    """
    token = _default.set(sampler)
    try:
        yield
    finally:
        _default.reset(token)


def _resolve(
    sampler: Sampler | None, nuts_sampler: str, pymc_options: Mapping[str, Any]
) -> Sampler:
    """The sampler to use: the one given, the block's default, or the named NUTS."""
    if nuts_sampler not in SAMPLERS:
        raise SpecificationError(f"nuts_sampler must be one of {SAMPLERS}, not {nuts_sampler!r}")
    if sampler is not None:
        return sampler
    if (injected := _default.get()) is not None:
        return injected
    if nuts_sampler == "nutpie" and not pymc_options:
        return nutpie_sampler
    return pymc_sampler(nuts_sampler, **pymc_options)


@dataclass
class SamplingRun:
    """What :func:`run_nuts` did: settings of the last run, reruns and timings."""

    draws: int
    tune: int
    chains: int
    seed: int | None
    target_accept: float
    nuts_sampler: str
    adaptation: str | None = None
    compiled: str = ""
    compile_seconds: float = 0.0
    sampling_seconds: float = 0.0
    extended_after: str | None = None
    reruns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable record (stored in saved fits as the sampler settings)."""
        out: dict[str, Any] = {
            "nuts_sampler": self.nuts_sampler,
            "draws": self.draws,
            "tune": self.tune,
            "chains": self.chains,
            "target_accept": self.target_accept,
            "seed": self.seed,
        }
        if self.adaptation is not None:
            out["adaptation"] = self.adaptation
        if self.compiled:
            out["compiled"] = self.compiled
            out["compile_seconds"] = round(self.compile_seconds, 3)
            out["sampling_seconds"] = round(self.sampling_seconds, 3)
        if self.extended_after is not None:
            out["extended_after"] = self.extended_after
        return out


def run_nuts(
    model: Any,
    *,
    check_vars: Sequence[str] | Callable[[xr.DataTree], Sequence[str]],
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | np.random.Generator | None = 0,
    target_accept: float = 0.8,
    progressbar: bool = False,
    nuts_sampler: str = "nutpie",
    key: Hashable | None = None,
    nuts: Mapping[str, Any] | None = None,
    cores: int | None = None,
    extend_if_slow: bool | int = True,
    diag_fallback: bool = True,
    accept_on_divergence: float | None = None,
    log_likelihood: Sequence[str] | None = None,
    sampler: Sampler | None = None,
    notes: list[str] | None = None,
    **pymc_options: Any,
) -> tuple[xr.DataTree, SamplingRun]:
    """Sample ``model`` with NUTS and bayescale's retry policy (see the module docstring).

    Parameters
    ----------
    model
        A built :class:`pymc.Model`.
    check_vars
        Sampled variables whose diagnostics decide a rerun (or a function of the DataTree
        that names them).
    draws, tune, chains, target_accept, progressbar
        NUTS settings (per chain).
    seed
        Seed of the first run; rerun ``i`` uses ``seed + i``.
    nuts_sampler
        ``"nutpie"`` (default), ``"pymc"``, ``"numpyro"`` or ``"blackjax"``.
    key
        The model's structure, for the compile-once cache (``None``: compile afresh).
    nuts
        NUTS options (``adaptation``, ``max_treedepth``...). With nutpie the mass matrix
        adaptation defaults to ``"low_rank"``; naming one turns the diagonal fallback off.
    cores
        Chains run in parallel.
    extend_if_slow
        On slow mixing without divergences, rerun with twice ``tune`` and ``draws``;
        an integer ``n`` allows up to ``n`` such reruns, each with twice the last run's
        (``True`` is 1, ``False`` 0).
    diag_fallback
        Rerun with the diagonal mass matrix on divergences with the default low-rank one.
    accept_on_divergence
        On divergences that remain after the diagonal rerun (or where there is none),
        sample once more with ``target_accept`` raised to this value (a smaller step
        size); ``None`` (default): report them. For fit kinds whose geometry was fixed
        first and that still leave a stray divergence on some data (the pass@k fits).
    log_likelihood
        Observed variables whose pointwise log-likelihood to add (``None``: none).
    sampler
        Draws instead of the default (:func:`use_sampler` sets one for a block).
    notes
        Receives a sentence per rerun.
    **pymc_options
        Other :func:`pymc.sample` options (they select :func:`pymc_sampler`).

    Returns
    -------
    (idata, run)
        The DataTree of the last run and a :class:`SamplingRun`.
    """
    from bayescale.core.diagnostics import check_convergence

    nuts_options = dict(nuts or {})
    adaptation = nuts_options.get("adaptation")
    if nuts_sampler == "nutpie" and adaptation is not None and adaptation not in ADAPTATIONS:
        raise SpecificationError(
            f"nuts={{'adaptation': {adaptation!r}}} is not a nutpie mass matrix adaptation; "
            f"use one of {ADAPTATIONS} (default: 'low_rank', with 'diag' on divergences)"
        )
    draw_fn = _resolve(sampler, nuts_sampler, pymc_options)
    # nutpie's options (an injected sampler stands in for nutpie and receives them too)
    is_nutpie = nuts_sampler == "nutpie" and not pymc_options
    fallback = is_nutpie and diag_fallback and adaptation is None
    if is_nutpie:
        nuts_options.setdefault("adaptation", "low_rank")
    if cores is not None:
        nuts_options["cores"] = cores
    if isinstance(seed, np.random.Generator):
        first_seed, seed_label = int(seed.integers(2**31)), None
    else:
        first_seed = int(seed) if seed is not None else int(np.random.default_rng().integers(2**31))
        seed_label = None if seed is None else int(seed)
    run = SamplingRun(
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed_label,
        target_accept=target_accept,
        nuts_sampler=nuts_sampler,
        adaptation=nuts_options.get("adaptation") if is_nutpie else None,
    )
    max_extensions = _extensions(extend_if_slow)
    n_draws, n_tune = draws, tune
    idata: xr.DataTree | None = None
    extensions, attempt = 0, 0
    while True:
        idata = draw_fn(
            model,
            key=key,
            draws=n_draws,
            tune=n_tune,
            chains=chains,
            seed=first_seed + attempt,
            target_accept=target_accept,
            progressbar=progressbar,
            **nuts_options,
        )
        attrs = idata["posterior"].attrs
        run.compile_seconds += float(attrs.get("bayescale_compile_time", 0.0))
        run.sampling_seconds += float(attrs.get("sampling_time", 0.0))
        if attempt == 0:
            run.compiled = str(attrs.get("bayescale_compiled", ""))
        names = check_vars(idata) if callable(check_vars) else check_vars
        post = idata["posterior"].dataset
        diag = check_convergence(idata, var_names=[v for v in names if v in post], warn=False)
        if diag.ok:
            break
        if diag.divergences and fallback and nuts_options.get("adaptation") == "low_rank":
            # The low-rank metric, estimated during tuning, can misfit a posterior far from
            # Gaussian (few points, a curved ridge): divergences. The diagonal metric is the
            # robust choice there (benchmarks/adaptation.py).
            run.reruns.append(
                f"sampled again with nutpie's diagonal mass matrix: the low-rank one gave {diag}"
            )
            nuts_options["adaptation"] = run.adaptation = "diag"
        elif (
            diag.divergences
            and accept_on_divergence is not None
            and accept_on_divergence > run.target_accept
        ):
            run.reruns.append(
                f"sampled again with target_accept={accept_on_divergence:g}: the run with "
                f"target_accept={run.target_accept:g} gave {diag}"
            )
            target_accept = run.target_accept = float(accept_on_divergence)
        elif not diag.divergences and extensions < max_extensions:
            if run.extended_after is None:
                run.extended_after = str(diag)
            extensions += 1
            last = f"tune={n_tune}, draws={n_draws}"
            n_draws, n_tune = 2 * n_draws, 2 * n_tune
            run.reruns.append(
                f"sampled again with tune={n_tune}, draws={n_draws}: the run with "
                f"{last} fell short ({diag})"
            )
        else:
            break
        attempt += 1
        _log.info(run.reruns[-1])
    assert idata is not None
    run.draws, run.tune = n_draws, n_tune
    if notes is not None:
        notes.extend(run.reruns)
    if log_likelihood:
        add_log_likelihood(model, idata, log_likelihood)
    return idata, run


def _extensions(extend_if_slow: bool | int) -> int:
    """How many longer reruns ``extend_if_slow`` allows (``True`` 1, ``False`` 0)."""
    n = int(extend_if_slow) if isinstance(extend_if_slow, (bool, int, np.integer)) else -1
    if n < 0:
        raise SpecificationError(
            f"extend_if_slow={extend_if_slow!r}: give True, False or a number of longer "
            "reruns (0 or more)"
        )
    return n


def add_log_likelihood(model: Any, idata: xr.DataTree, var_names: Sequence[str]) -> None:
    """Add the pointwise log-likelihood of ``var_names``; a failure warns, never raises."""
    import pymc as pm

    try:
        with model:
            pm.compute_log_likelihood(idata, var_names=list(var_names), progressbar=False)
    except Exception as exc:  # the posterior must never be lost to post-processing
        warnings.warn(
            f"sampling finished but the log-likelihood failed ({exc!r}); the posterior is kept",
            RuntimeWarning,
            stacklevel=3,
        )


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
    sampler: Sampler | None = None,
    **options: Any,
) -> xr.DataTree:
    """One run of :func:`run_nuts` (no rerun), with the log-likelihood of ``log_likelihood``."""
    nuts = dict(options.pop("nuts", None) or {})
    cores = options.pop("cores", None)
    idata, _ = run_nuts(
        model,
        check_vars=(),
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        target_accept=target_accept,
        progressbar=progressbar,
        nuts_sampler=nuts_sampler,
        nuts=nuts,
        cores=cores,
        extend_if_slow=False,
        diag_fallback=False,
        log_likelihood=log_likelihood,
        sampler=sampler,
        **options,
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
    extend_if_slow: bool | int = True,
    notes: list[str] | None = None,
    sampler: Sampler | None = None,
    **options: Any,
) -> xr.DataTree:
    """:func:`run_nuts` with its retry policy; returns the DataTree of the last run."""
    nuts = dict(options.pop("nuts", None) or {})
    cores = options.pop("cores", None)
    idata, _ = run_nuts(
        model,
        check_vars=check_vars,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        nuts=nuts,
        cores=cores,
        extend_if_slow=extend_if_slow,
        notes=notes,
        sampler=sampler,
        **options,
    )
    return idata
