r"""nutpie's C callbacks, compiled so that Numba can cache them between processes.

nutpie samples a PyMC model through two C-callable functions, the log density with its
gradient and the "expand" function that turns an unconstrained point into the trace's
variables. :func:`nutpie.compile_pymc_model` builds each as a :func:`numba.cfunc` around
the PyTensor-generated Numba function. PyTensor caches that inner function's machine code
on disk, but nutpie's wrapper cannot be cached (it refers to "dynamic globals": record
field names drawn from :func:`uuid.uuid4` and the data arrays themselves), so every new
process type-infers and compiles the wrapper again, inner functions included: 6-7 s of
the 11 s a fresh process needed for the 245 Hoffmann et al. points with warm caches
(``benchmarks/speed.py``).

:func:`compile_pymc_model` returns the same :class:`nutpie.compile_pymc.CompiledPyMCModel`
with wrappers generated as source code that refers only to the inner function, to the
dimensions and to the layout of nutpie's user-data record (one 64-bit word per data
pointer, per size and per shape entry, read at call time), registered under a key
derived from the inner function's own PyTensor cache key. Numba then stores them in
PyTensor's compile directory next to the inner functions, and a fresh process with warm
caches loads machine code instead of compiling it. Data swapping
(:meth:`~nutpie.compile_pymc.CompiledPyMCModel.with_data`) works unchanged: the wrappers
read the data pointers and shapes from the record nutpie updates.

The wrappers compute exactly what nutpie's do (same inner function, same return codes:
0 success, 1 an exception, 3 a non-finite gradient, 4 a non-finite log density, -1 a
dimension mismatch; -2 for an exception in the expand function), so sampling is
bit-for-bit the same (``tests/test_callbacks.py``). This uses nutpie's internal helpers
(``_make_functions``, ``make_user_data``, ``CompiledPyMCModel``); when they are missing or
the record layout differs in a future nutpie, :func:`compile_pymc_model` falls back to
:func:`nutpie.compile_pymc_model` with a :class:`RuntimeWarning`, losing only the cache.

:func:`import_nutpie` imports nutpie without ArviZ's plotting stack: nutpie's ``import
arviz`` pulls in ``arviz_plots`` and matplotlib (0.7-1 s of a fresh process) to use two
functions of ``arviz_base`` (``from_dict``, ``dict_to_dataset``).
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import threading
import types
import warnings
from typing import Any

import numpy as np

__all__ = ["compile_pymc_model", "import_nutpie", "initial_point_function"]

_SHAPES_LOCK = threading.Lock()


class _ArvizForNutpie(types.ModuleType):
    """What nutpie sees as ``arviz``: ``arviz_base``'s names, the real ArviZ for the rest.

    nutpie calls ``arviz.from_dict`` and ``arviz.dict_to_dataset`` (both ``arviz_base``'s,
    the very objects ``arviz`` re-exports); any other name is looked up in the real
    ``arviz``, imported on first such use.
    """

    def __getattr__(self, name: str) -> Any:
        base = importlib.import_module("arviz_base")
        if not name.startswith("__") and hasattr(base, name):
            return getattr(base, name)
        if sys.modules.get("arviz") is self:  # still importing nutpie: no real arviz yet
            raise AttributeError(name)
        return getattr(importlib.import_module("arviz"), name)


def import_nutpie() -> Any:
    """Import and return :mod:`nutpie` without importing ArviZ's plotting stack.

    While nutpie is imported (and only then), ``sys.modules["arviz"]`` is a stand-in that
    serves ``arviz_base``'s functions, so nutpie's module-level ``import arviz`` does not
    load ``arviz_plots`` and matplotlib. The stand-in is removed right after: a later
    ``import arviz`` anywhere gets the real package. When ArviZ is already imported, or
    nutpie is, this is a plain import.
    """
    if "nutpie" in sys.modules or "arviz" in sys.modules:
        return importlib.import_module("nutpie")
    stand_in = _ArvizForNutpie("arviz")
    sys.modules["arviz"] = stand_in
    try:
        return importlib.import_module("nutpie")
    finally:
        if sys.modules.get("arviz") is stand_in:
            del sys.modules["arviz"]


# Part of every cache key: change it whenever the generated source's meaning changes.
_TEMPLATE_VERSION = "bayescale-callbacks-1"

_LOGP_SRC = """
def logp_callback(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
{loads}
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_dim},))
        logp_val, grad = inner(x{args})
        logp_[0] = logp_val
        finite = True
        for i in range({n_dim}):
            out[i] = grad[i]
            if not np.isfinite(grad[i]):
                finite = False
        if not finite:
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
"""

_EXPAND_SRC = """
def expand_callback(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
{loads}
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_expanded},))
        (values,) = inner(x{args})
        for i in range({n_expanded}):
            out[i] = values[i]
    except Exception:
        return -2
    return 0
"""


class _LayoutError(RuntimeError):
    """nutpie's user-data record is not the layout the generated wrappers read."""


def _record_offsets(
    keys: list[str], shared_data: dict[str, np.ndarray], itemsize: int
) -> dict[str, tuple[int, int]]:
    """Word offsets of each shared array's data pointer and first shape entry.

    nutpie's record (``make_user_data``) is ``data[k] | size[k] | shape entries``, every
    field an unsigned 64-bit word, the arrays in ``keys`` order.
    """
    n = len(keys)
    offsets, word = {}, 2 * n
    for i, key in enumerate(keys):
        offsets[key] = (i, word)
        word += shared_data[key].ndim
    if word * 8 != itemsize:
        raise _LayoutError(f"record of {itemsize} bytes, expected {word * 8}")
    return offsets


def _loads(
    keys: list[str],
    offsets: dict[str, tuple[int, int]],
    shared_data: dict[str, np.ndarray],
    n_words: int,
) -> tuple[str, str]:
    """Source lines viewing one function's shared arrays, and its extra call arguments."""
    if not keys:
        return "        pass", ""
    lines = [f"        ud = numba.carray(user_data_, ({n_words},), np.uint64)"]
    args = ""
    for i, key in enumerate(keys):
        array = shared_data[key]
        data_word, shape_word = offsets[key]
        entries = "".join(f"ud[{shape_word + d}], " for d in range(array.ndim))
        lines.append(
            f"        shared{i} = numba.carray(address_as_void_pointer(ud[{data_word}]), "
            f"({entries}), np.{np.dtype(array.dtype).name})"
        )
        args += f", shared{i}"
    return "\n".join(lines), args


def _cfunc(
    template: str,
    name: str,
    inner: Any,
    shared_keys: list[str],
    offsets: dict[str, tuple[int, int]],
    shared_data: dict[str, np.ndarray],
    n_words: int,
    signature: Any,
    **sizes: int,
) -> Any:
    """Compile one wrapper as a :func:`numba.cfunc`, cached when the inner one is."""
    import numba
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

    loads, args = _loads(shared_keys, offsets, shared_data, n_words)
    src = template.format(loads=loads, args=args, **sizes)
    py_inner = getattr(inner, "py_func", None)
    inner_key = CACHED_SRC_FUNCTIONS.get(py_inner) if py_inner is not None else None
    cache_key = None
    if inner_key is not None:
        text = f"{_TEMPLATE_VERSION}\n{inner_key}\n{src}"
        cache_key = hashlib.sha256(text.encode()).hexdigest()
    env = {
        "__name__": __name__,  # Numba rebuilds a cached function's environment from it
        "numba": numba,
        "np": np,
        "inner": inner,
        "address_as_void_pointer": address_as_void_pointer,
    }
    py_func = compile_numba_function_src(src, name, env, cache_key=cache_key)
    return numba.cfunc(signature, cache=cache_key is not None)(py_func)


def _python_mode() -> Any:
    """PyTensor's Python linker with the rewrites of ``FAST_COMPILE``: for the functions
    that run once per fit (initial points, shapes). ``FAST_COMPILE``'s virtual machine
    imports PyTensor's C lazy linker, which a process with an empty compile directory must
    first build with the C compiler (0.5 s of a scaling fit's 10 s; ``docs/speed.md``)."""
    from pytensor.compile.mode import Mode
    from pytensor.graph.rewriting.db import RewriteDatabaseQuery
    from pytensor.link.basic import PerformLinker

    return Mode(PerformLinker(), RewriteDatabaseQuery(include=["fast_compile", "py_only"]))


def _compute_shapes(model: Any) -> dict[str, tuple[int, ...]]:
    """``nutpie.compile_pymc._compute_shapes`` (the shapes of the trace's variables at the
    initial point), compiled with :func:`_python_mode`."""
    import pytensor
    from pytensor.tensor import as_tensor

    point = _pymc_initial_point(model, jitter=False)(0)
    trace_vars = {
        var.name: var
        for var in model.value_vars + model.free_RVs + model.deterministics
        if var not in model.observed_RVs + model.potentials
    }
    shape_func = pytensor.function(
        inputs=[],
        outputs=[as_tensor(var.shape) for var in trace_vars.values()],
        givens=(
            [(obs, model.rvs_to_values[obs]) for obs in model.observed_RVs]
            + [(trace_vars[name], point[name]) for name in trace_vars if name in point]
        ),
        mode=_python_mode(),
        on_unused_input="ignore",
    )
    return dict(zip(trace_vars, shape_func(), strict=True))


def _pymc_initial_point(model: Any, jitter: bool = True) -> Any:
    """nutpie's default initial points of ``model``: support points, jittered.

    As :func:`pymc.initial_point.make_initial_point_fn` (the same expression, the same
    Python implementations of its operations, so the same values for a seed), compiled
    with :func:`_python_mode`. ``jitter=False``: without the jitter, as nutpie's
    ``_compute_shapes`` calls it.
    """
    from pymc.initial_point import make_initial_point_expression
    from pymc.logprob.transforms import Transform
    from pymc.pytensorf import compile, find_rng_nodes, replace_rng_nodes, reseed_rngs
    from pymc.util import get_transformed_name

    expressions = make_initial_point_expression(
        free_rvs=model.free_RVs,
        rvs_to_transforms=model.rvs_to_transforms,
        initval_strategies=dict(model.rvs_to_initial_values),
        jitter_rvs=set(model.free_RVs) if jitter else set(),
        default_strategy="support_point",
        return_transformed=True,
    )
    expressions = replace_rng_nodes(expressions)
    func = compile(inputs=[], outputs=expressions, mode=_python_mode())
    names = []
    for var in model.free_RVs:
        transform: Transform | None = model.rvs_to_transforms[var]
        names.append(get_transformed_name(var.name, transform) if transform else var.name)
    rngs = find_rng_nodes(func.maker.fgraph.outputs)

    def initial_point(seed: Any) -> dict[str, np.ndarray]:
        reseed_rngs(rngs, seed)
        return dict(zip(names, func(), strict=True))

    return initial_point


def initial_point_function(model: Any, compiled: Any) -> Any:
    """The initial point function of ``model`` in the layout of ``compiled``.

    A compiled model reused for new data (:mod:`bayescale.core.compiled`) must start from
    the new model's initial points: they depend on the data wherever a prior does (priors
    centred on the data, a population prior), and nutpie's ``with_data`` swaps the data of
    the log density and of the trace function only. With this, a reused model samples
    exactly what a fresh compile of the new model samples, draw for draw.

    Parameters
    ----------
    model
        The new :class:`pymc.Model`, of the structure ``compiled`` was compiled from.
    compiled
        A :class:`nutpie.compile_pymc.CompiledPyMCModel`.

    Returns
    -------
    callable
        ``seed -> flat float64 array``, as ``compiled.initial_point_func``.
    """
    import_nutpie()
    import nutpie.compile_pymc as cp

    names, _, shapes = compiled.shape_info
    shape_of = dict(zip(names, shapes, strict=True))
    free = [model.rvs_to_values[var].name for var in model.free_RVs]
    return cp._rv_dict_to_flat_array_wrapper(
        cp._wrap_with_lock(_pymc_initial_point(model)),
        names=free,
        shapes=[tuple(shape_of[name]) for name in free],
    )


def _compile(model: Any) -> Any:
    import numba

    import_nutpie()
    import nutpie.compile_pymc as cp

    # As nutpie.compile_pymc_model(model, backend="numba") with its defaults; nutpie's
    # _compute_shapes swapped for the same function in PyTensor's Python mode during the
    # call (under a lock: another thread compiling meanwhile gets the same shapes)
    initial_point = _pymc_initial_point(model)
    with _SHAPES_LOCK:
        nutpies = cp._compute_shapes
        cp._compute_shapes = _compute_shapes
        try:
            (n_dim, n_expanded, logp_pt, expand_pt, initial_point_fn, shape_info, reparam) = (
                cp._make_functions(
                    model,
                    mode="NUMBA",
                    compute_grad=True,
                    join_expanded=True,
                    pymc_initial_point_fn=cp._wrap_with_lock(initial_point),
                    var_names=None,
                )
            )
        finally:
            cp._compute_shapes = nutpies
    shared_data: dict[str, np.ndarray] = {}
    shared_var_keys: dict[Any, str] = {}
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        if var in shared_var_keys:
            continue
        key = f"shared{len(shared_var_keys)}"  # deterministic, unlike nutpie's uuid4
        value = np.array(var.get_value(), order="C", copy=True)
        value.flags.writeable = False
        shared_data[key] = value
        shared_var_keys[var] = key
    user_data = cp.make_user_data(shared_var_keys, shared_data)
    keys = list(shared_var_keys.values())
    offsets = _record_offsets(keys, shared_data, user_data.dtype.itemsize)
    n_words = user_data.dtype.itemsize // 8

    double_p = numba.types.CPointer(numba.types.double)
    u64, i64, voidp = numba.types.uint64, numba.types.int64, numba.types.voidptr
    logp = _cfunc(
        _LOGP_SRC,
        "logp_callback",
        logp_pt.vm.jit_fn,
        [shared_var_keys[v] for v in logp_pt.get_shared()],
        offsets,
        shared_data,
        n_words,
        i64(u64, double_p, double_p, double_p, voidp),
        n_dim=n_dim,
    )
    expand = _cfunc(
        _EXPAND_SRC,
        "expand_callback",
        expand_pt.vm.jit_fn,
        [shared_var_keys[v] for v in expand_pt.get_shared()],
        offsets,
        shared_data,
        n_words,
        i64(u64, u64, double_p, double_p, voidp),
        n_dim=n_dim,
        n_expanded=n_expanded,
    )
    dims, coords = cp._prepare_dims_and_coords(model, shape_info, reparam)
    return cp.CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp,
        compiled_expand_func=expand,
        initial_point_func=initial_point_fn,
        shared_data=shared_data,
        shared_var_keys=shared_var_keys,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_pt,
        expand_func=expand_pt,
        reparameterized_names=reparam,
    )


def compile_pymc_model(model: Any) -> Any:
    """``nutpie.compile_pymc_model(model, backend="numba")``, with cacheable callbacks.

    Parameters
    ----------
    model
        A :class:`pymc.Model`.

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        Ready for :func:`nutpie.sample` and ``with_data``. Its two callbacks are cached
        in PyTensor's compile directory, so the next process with the same model
        structure loads them instead of compiling.

    Warns
    -----
    RuntimeWarning
        When nutpie's internals are not what this module was written against; the model
        is then compiled by :func:`nutpie.compile_pymc_model` itself (correct, not
        cached between processes).
    """
    try:
        return _compile(model)
    except (ImportError, AttributeError, TypeError, ValueError, _LayoutError) as err:
        nutpie = import_nutpie()

        warnings.warn(
            f"bayescale could not build cacheable nutpie callbacks ({type(err).__name__}: "
            f"{err}); compiling with nutpie.compile_pymc_model instead, which Numba "
            "cannot cache between processes.",
            RuntimeWarning,
            stacklevel=2,
        )
        return nutpie.compile_pymc_model(model, backend="numba")
