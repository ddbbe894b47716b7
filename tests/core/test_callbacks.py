"""Cacheable nutpie callbacks (``bayescale.core.callbacks``) against nutpie's own."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import nutpie
import pymc as pm
import pytest

from bayescale.core.callbacks import compile_pymc_model
from bayescale.scaling.data import validate
from bayescale.scaling.fitting import make_spec
from bayescale.scaling.laws import get_law
from bayescale.scaling.model import build_model
from tests.helpers import simulate_runs

#: Compiles models and samples with nutpie (real NUTS).
pytestmark = pytest.mark.nuts

_DOUBLE_P = ctypes.POINTER(ctypes.c_double)


def _logp(compiled, x: np.ndarray, dim: int | None = None) -> tuple[int, float, np.ndarray]:
    """Call the compiled C log density as nutpie does: (return code, logp, gradient)."""
    x = np.ascontiguousarray(x, dtype=float)
    grad, logp = np.zeros(compiled.n_dim), np.zeros(1)
    code = compiled.compiled_logp_func.ctypes(
        compiled.n_dim if dim is None else dim,
        x.ctypes.data_as(_DOUBLE_P),
        grad.ctypes.data_as(_DOUBLE_P),
        logp.ctypes.data_as(_DOUBLE_P),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    return code, logp[0], grad


def _expand(compiled, x: np.ndarray) -> tuple[int, np.ndarray]:
    x = np.ascontiguousarray(x, dtype=float)
    out = np.zeros(compiled.n_expanded)
    code = compiled.compiled_expand_func.ctypes(
        compiled.n_dim,
        compiled.n_expanded,
        x.ctypes.data_as(_DOUBLE_P),
        out.ctypes.data_as(_DOUBLE_P),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    return code, out


def _hierarchical_model() -> pm.Model:
    """bayescale's chinchilla model: three families, two seeds per configuration."""
    law = get_law("chinchilla")
    ds = validate(simulate_runs(seeds=2), inputs=law.inputs)
    return build_model(ds, make_spec(ds, law))


def _generic_model(n: int = 6) -> pm.Model:
    """Shared data of every rank 0-2 and an integer index, and a deterministic."""
    rng = np.random.default_rng(n)
    with pm.Model() as model:
        scale = pm.Data("scale", 2.0)
        design = pm.Data("design", rng.normal(size=(n, 3)))
        group = pm.Data("group", np.arange(n) % 2)
        y = pm.Data("y", rng.normal(size=n))
        beta = pm.Normal("beta", 0, scale, shape=3)
        offset = pm.Normal("offset", 0, 1, shape=2)
        sigma = pm.HalfNormal("sigma", 1)
        pm.Deterministic("twice_beta", 2 * beta)
        pm.Normal("obs", design @ beta + offset[group], sigma, observed=y, shape=y.shape)
    return model


def _new_generic_data(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(100 + n)
    return {
        "scale": np.array(0.5),
        "design": rng.normal(size=(n, 3)),
        "group": np.arange(n) % 2,
        "y": rng.normal(size=n),
    }


@pytest.fixture(scope="module")
def generic_pair():
    """(bayescale's compiled model, nutpie's) of :func:`_generic_model`; no fallback."""
    model = _generic_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # this nutpie's internals are known
        ours = compile_pymc_model(model)
    return ours, nutpie.compile_pymc_model(model)


@pytest.fixture(scope="module", params=["bayescale_hierarchical", "generic"])
def pair(request, generic_pair):
    """(name, bayescale's compiled model, nutpie's compiled model) of one PyMC model."""
    if request.param == "generic":
        return (request.param, *generic_pair)
    model = _hierarchical_model()
    return request.param, compile_pymc_model(model), nutpie.compile_pymc_model(model)


def _points(compiled, n: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    start = compiled.initial_point_func(1)
    return [start + rng.normal(scale=0.3, size=start.shape) for _ in range(n)]


def test_log_density_and_gradient_equal_nutpies(pair) -> None:
    _, ours, theirs = pair
    assert ours.n_dim == theirs.n_dim and ours.n_expanded == theirs.n_expanded
    for x in _points(ours):
        code, logp, grad = _logp(ours, x)
        code_n, logp_n, grad_n = _logp(theirs, x)
        assert code == code_n == 0
        assert np.isfinite(logp)
        np.testing.assert_allclose(logp, logp_n, rtol=1e-12)
        np.testing.assert_allclose(grad, grad_n, rtol=1e-12, atol=1e-12)


def test_expand_equals_nutpies(pair) -> None:
    _, ours, theirs = pair
    for x in _points(ours, 3):
        code, out = _expand(ours, x)
        code_n, out_n = _expand(theirs, x)
        assert code == code_n == 0
        np.testing.assert_allclose(out, out_n, rtol=1e-12)


def test_initial_points_and_shapes_equal_nutpies(pair) -> None:
    """Compiled in PyTensor's Python mode, the same initial points for every seed and the
    same shapes as nutpie's (PyMC's ``FAST_COMPILE``) functions."""
    import nutpie.compile_pymc as cp

    from bayescale.core.callbacks import _compute_shapes

    _, ours, theirs = pair
    for seed in (0, 1, 2**31 - 1):
        np.testing.assert_array_equal(
            ours.initial_point_func(seed), theirs.initial_point_func(seed)
        )
    assert ours.shape_info[0] == theirs.shape_info[0]
    for build in (_hierarchical_model, _generic_model):
        m = build()
        a, b = cp._compute_shapes(m), _compute_shapes(m)
        assert list(a) == list(b)
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])


def test_a_wrong_dimension_is_refused(pair) -> None:
    _, ours, _ = pair
    code, _, _ = _logp(ours, _points(ours, 1)[0], dim=ours.n_dim + 1)
    assert code == -1


def test_one_family_checkpoint_model_matches_pymcs_log_density() -> None:
    """One family with checkpoints (run offsets integrated out): the compiled Numba log
    density equals PyMC's at the same point. A scalar run scale reordered with the rows
    once read out of bounds here and crashed the process."""
    from tests.scaling.test_checkpoints import simulate_checkpoints

    law = get_law("chinchilla")
    ds = validate(simulate_checkpoints(families=("fam_a",)), inputs=law.inputs)
    model = build_model(ds, make_spec(ds, law))
    compiled = compile_pymc_model(model)
    point = model.initial_point()
    names, slices, _ = compiled.shape_info
    x = np.zeros(compiled.n_dim)
    for name, where in zip(names, slices, strict=False):
        if name in point:
            x[where] = np.ravel(point[name])
    code, logp, grad = _logp(compiled, x)
    assert code == 0 and np.all(np.isfinite(grad))
    np.testing.assert_allclose(logp, model.compile_logp()(point), rtol=1e-9)


def test_swapped_data_of_another_length_is_what_the_callbacks_read(generic_pair) -> None:
    ours, theirs = generic_pair
    before = _logp(ours, _points(ours, 1)[0])[1]
    for n in (4, 11):
        new = _new_generic_data(n)
        ours_n, theirs_n = ours.with_data(**new), theirs.with_data(**new)
        for x in _points(ours, 3):
            code, logp, grad = _logp(ours_n, x)
            _, logp_n, grad_n = _logp(theirs_n, x)
            assert code == 0
            np.testing.assert_allclose(logp, logp_n, rtol=1e-12)
            np.testing.assert_allclose(grad, grad_n, rtol=1e-12, atol=1e-12)
    # the original is untouched by with_data
    assert _logp(ours, _points(ours, 1)[0])[1] == before


def test_sampling_is_the_same_draw_for_draw(generic_pair) -> None:
    ours, theirs = generic_pair
    kwargs = dict(draws=150, tune=150, chains=2, seed=3, progress_bar=False)
    a, b = nutpie.sample(ours, **kwargs), nutpie.sample(theirs, **kwargs)
    for var in ("beta", "offset", "sigma", "twice_beta"):
        np.testing.assert_array_equal(
            a["posterior"].dataset[var].values, b["posterior"].dataset[var].values
        )


def test_another_record_layout_falls_back_to_nutpie_with_a_warning(monkeypatch) -> None:
    import nutpie.compile_pymc as cp

    original = cp.make_user_data

    def with_an_extra_field(shared_var_keys, shared_data):  # a future nutpie, say
        base = original(shared_var_keys, shared_data)
        record = np.zeros((), np.dtype([("shared", base.dtype["shared"]), ("flags", np.uint32)]))
        record["shared"] = base["shared"]
        return record

    monkeypatch.setattr(cp, "make_user_data", with_an_extra_field)
    with pytest.warns(RuntimeWarning, match="_LayoutError.*compile_pymc_model instead"):
        compiled = compile_pymc_model(_generic_model(5))
    code, logp, _ = _logp(compiled, compiled.initial_point_func(0))
    assert code == 0 and np.isfinite(logp)


_SCRIPT = textwrap.dedent(
    """
    import json, warnings
    import numpy as np, pymc as pm
    from bayescale.core.callbacks import compile_pymc_model
    with pm.Model() as model:
        x = pm.Data("x", np.linspace(0.0, 1.0, 8))
        a = pm.Normal("a")
        pm.Normal("y", a * x, 1.0, observed=np.sin(x.get_value()))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        compiled = compile_pymc_model(model)
    import sys
    assert "pytensor.link.c.cvm" not in sys.modules  # no C lazy linker to build
    print(json.dumps([compiled.compiled_logp_func.cache_hits,
                      compiled.compiled_expand_func.cache_hits]))
    """
)


def test_callbacks_are_loaded_from_the_disk_cache_by_the_next_process(tmp_path: Path) -> None:
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={tmp_path / 'pytensor'}")
    hits = []
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        hits.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert hits == [[0, 0], [1, 1]]  # compiled by the first process, loaded by the second
    cached = list((tmp_path / "pytensor" / "numba").glob("*callback*.nbi"))
    assert len(cached) == 2
