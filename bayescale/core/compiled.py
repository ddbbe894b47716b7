r"""Compile once, sample many: nutpie-compiled bayescale models, reused with new data.

Compiling a PyMC model to machine code (PyTensor to Numba, through
:func:`bayescale.core.callbacks.compile_pymc_model`) is most of the wall time of a small fit:
on the 245 Hoffmann et al. points it took 8.4 s against 0.8 s of sampling in a process
with empty caches (``benchmarks/speed.py``). Every data-dependent number of a bayescale model is a
``pm.Data`` container (observations, centred inputs, family index, measurement errors and
the prior hyper-parameters, see :func:`bayescale.scaling.model.build_model`), so two data sets of
the same *structure* (:func:`bayescale.scaling.model.structure_key`: law, pooling, likelihood,
number of families; not the number of observations) share one compiled log density.
The second and later fits swap their data into the compiled model
(:meth:`nutpie.compile_pymc.CompiledPyMCModel.with_data`), take their own initial points
(:func:`bayescale.core.callbacks.initial_point_function`: priors centred on the data move
them) and only sample: a reused model gives the draws a fresh compile gives.

Every fit kind gives a key: scaling laws (:func:`bayescale.scaling.model.structure_key`),
pass@k (:func:`bayescale.passk.model.structure_key`), Slice-and-Sandwich and sigmoid
fits (the ``structure_key`` attribute of the models of
:func:`bayescale.emergence.sandwich_model.build_model` and
:func:`bayescale.emergence.sigmoid_model.build_model`).

The cache lives in the process (a bounded LRU of :data:`MAX_ENTRIES` models, shared by
threads); Numba's machine code for a model, nutpie's C callbacks included
(:mod:`bayescale.core.callbacks`), also persists between processes in PyTensor's compile
directory, so a fresh process with warm disk caches loads it instead of compiling.
:func:`cache_info` reports hits and misses; :func:`clear_cache` empties it.

Sampling uses nutpie with its low-rank mass-matrix adaptation by default
(``adaptation="low_rank"``): a scaling law's posterior is a curved, strongly correlated
ridge along :math:`(E, A, \alpha)`, which a diagonal mass matrix crosses with long
trajectories. On the Hoffmann points the low-rank adaptation needed 5x fewer gradient
evaluations per draw and gave twice the bulk ESS (``docs/diagnostics.md``).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import xarray as xr

__all__ = ["MAX_ENTRIES", "CacheInfo", "cache_info", "clear_cache", "sample_nutpie"]

MAX_ENTRIES = 16

_lock = threading.Lock()
_cache: OrderedDict[Hashable, Any] = OrderedDict()
_stats = {"hits": 0, "misses": 0}


@dataclasses.dataclass(frozen=True)
class CacheInfo:
    """Hits, misses and size of the compiled-model cache of this process."""

    hits: int
    misses: int
    size: int
    max_size: int


def cache_info() -> CacheInfo:
    """Statistics of the compiled-model cache."""
    with _lock:
        return CacheInfo(_stats["hits"], _stats["misses"], len(_cache), MAX_ENTRIES)


def clear_cache() -> None:
    """Forget every compiled model (the next fit of each structure compiles again)."""
    with _lock:
        _cache.clear()
        _stats["hits"] = _stats["misses"] = 0


def _data_values(model: Any) -> dict[str, Any]:
    return {var.name: var.get_value() for var in model.data_vars}


def compiled_model(model: Any, key: Hashable | None = None) -> tuple[Any, bool]:
    """The nutpie-compiled ``model``, from the cache when ``key`` was compiled before.

    Parameters
    ----------
    model
        A built :class:`pymc.Model`.
    key
        Its structure (:func:`bayescale.scaling.model.structure_key`); ``None`` compiles without
        caching.

    Returns
    -------
    (compiled, reused)
        The compiled model carrying ``model``'s data and coordinates, and whether it came
        from the cache.
    """
    from bayescale.core.callbacks import compile_pymc_model, initial_point_function

    with _lock:
        hit = _cache.get(key) if key is not None else None
        if hit is not None:
            _cache.move_to_end(key)
            _stats["hits"] += 1
        elif key is not None:
            _stats["misses"] += 1
    if hit is not None:
        updated = hit.with_data(**_data_values(model))
        coords = dict(updated.coords or {})
        coords.update({name: _index(v) for name, v in model.coords.items() if v is not None})
        # with_data swaps the data of the log density and the trace function; the initial
        # points (support points of priors that may depend on the data) are the new model's
        init = initial_point_function(model, hit)
        return dataclasses.replace(updated, _coords=coords, initial_point_func=init), True
    compiled = compile_pymc_model(model)
    if key is not None:
        with _lock:
            _cache[key] = compiled
            while len(_cache) > MAX_ENTRIES:
                _cache.popitem(last=False)
    return compiled, False


def _index(values: Any) -> Any:
    import pandas as pd

    return pd.Index(values)


def sample_nutpie(
    model: Any,
    *,
    key: Hashable | None,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    target_accept: float,
    progressbar: bool = False,
    cores: int | None = None,
    **nuts: Any,
) -> xr.DataTree:
    """Sample ``model`` with nutpie, compiling only when its structure is new.

    Returns the same DataTree as ``pm.sample(nuts_sampler="nutpie")``: ``posterior``,
    ``sample_stats`` (with warm-up when ``save_warmup``), ``constant_data`` and
    ``observed_data``. Attributes of the posterior: ``sampling_time`` (seconds of
    sampling), ``bayescale_compile_time`` (seconds to compile, or to swap the data into a
    cached model) and ``bayescale_compiled`` (``"compiled"`` or ``"reused"``).

    Parameters
    ----------
    model
        A built :class:`pymc.Model`.
    key
        Its structure key, or ``None`` to compile without caching.
    draws, tune, chains, seed, target_accept, progressbar, cores
        NUTS settings, as in :func:`pymc.sample`.
    **nuts
        Further :func:`nutpie.sample` options; ``adaptation`` defaults to
        ``"low_rank"``.
    """
    from pymc.backends.arviz import patch_nutpie_idata

    from bayescale.core.callbacks import import_nutpie

    nutpie = import_nutpie()

    start = time.perf_counter()
    compiled, reused = compiled_model(model, key)
    compile_time = time.perf_counter() - start
    nuts.setdefault("adaptation", "low_rank")
    nuts.setdefault("save_warmup", False)  # as pm.sample (discard_tuned_samples=True)
    if "max_treedepth" in nuts:
        nuts["maxdepth"] = nuts.pop("max_treedepth")
    options: dict[str, Any] = {"cores": cores} if cores is not None else {}
    start = time.perf_counter()
    idata = nutpie.sample(
        compiled,
        draws=draws,
        tune=max(int(tune), 1),
        chains=chains,
        seed=int(seed),
        target_accept=target_accept,
        progress_bar=progressbar,
        **options,
        **nuts,
    )
    elapsed = time.perf_counter() - start
    patch_nutpie_idata(idata, model, sampling_time=elapsed)
    attrs = idata["posterior"].attrs
    attrs["bayescale_compiled"] = "reused" if reused else "compiled"
    attrs["bayescale_compile_time"] = compile_time
    return idata
