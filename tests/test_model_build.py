"""Build-only tests: every law and pooling compiles, with finite log-density and gradient
at the initial point and the documented dims. No sampling."""

from __future__ import annotations

import numpy as np
import pytensor
import pytest

from bayescale import dims
from bayescale.data import validate
from bayescale.fitting import make_spec
from bayescale.laws import get_law
from bayescale.model import build_model
from tests.conftest import simulate_runs


@pytest.fixture(autouse=True, scope="module")
def _fast_compile():
    """Compile with the Python linker: these tests evaluate once, so C compilation is waste."""
    with pytensor.config.change_flags(mode="FAST_COMPILE"):
        yield


def _check_finite(model) -> None:
    point = model.initial_point()
    logp = model.compile_logp()(point)
    grad = model.compile_dlogp()(point)
    assert np.isfinite(logp)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize(
    ("law", "pooling"),
    [
        ("chinchilla", None),
        ("chinchilla", "shared"),
        ("chinchilla", "pooled"),
        ("chinchilla", "independent"),
        ("power_law:params", None),
        ("power_law:compute", "pooled"),
        ("broken_power_law:compute", None),
        ("broken_power_law:tokens", "independent"),
    ],
)
def test_model_compiles_with_finite_logp_and_gradient(runs, law, pooling) -> None:
    law_obj = get_law(law)
    ds = validate(runs, inputs=law_obj.inputs)
    spec = make_spec(ds, law_obj, pooling=pooling)
    model = build_model(ds, spec)
    _check_finite(model)
    n_fam = ds.sizes[dims.FAMILY]
    assert model.named_vars_to_dims[dims.OBSERVED] == (dims.OBS,)
    assert len(model.coords[dims.OBS]) == ds.sizes[dims.OBS]
    for p in law_obj.parameters:
        how = spec.pooling[p.name]
        var = model[p.name]
        if how == "shared":
            assert var.ndim == 0
        else:
            assert model.named_vars_to_dims[p.name] == (dims.FAMILY,)
            assert model.eval_rv_shapes()[p.raw_name if how != "pooled" else
                                          f"{p.raw_name}_offset"] == (n_fam,)


def test_default_pooling_is_exponents_pooled_scales_per_family(runs) -> None:
    ds = validate(runs)
    spec = make_spec(ds, get_law("chinchilla"))
    assert spec.pooling == {
        "E": "independent", "A_ref": "independent", "alpha": "pooled",
        "B_ref": "independent", "beta": "pooled",
    }
    model = build_model(ds, spec)
    names = {v.name for v in model.free_RVs}
    assert {"log_alpha_mu", "log_alpha_tau", "log_alpha_offset"} <= names
    assert "seed_sigma" not in names  # one seed per run: no seed effect


def test_seed_effects_enter_when_a_family_has_several_seeds() -> None:
    ds = validate(simulate_runs(seeds=2))
    spec = make_spec(ds, get_law("chinchilla"))
    assert spec.seed_effects
    model = build_model(ds, spec)
    assert model.named_vars_to_dims["seed_offset"] == (dims.SEED,)
    assert len(model.coords[dims.SEED]) == 6  # 3 families x 2 seeds
    _check_finite(model)


def test_measurement_intervals_enter_as_known_noise(runs) -> None:
    df = runs.assign(value_lo=runs.value * 0.99, value_hi=runs.value * 1.01)
    ds = validate(df)
    model = build_model(ds, make_spec(ds, get_law("chinchilla")))
    se = model["measurement_se"].get_value()
    expected = (np.log(1.01) - np.log(0.99)) / (2 * 1.959964)
    np.testing.assert_allclose(se, expected, rtol=1e-4)
    _check_finite(model)


def test_studentt_and_linear_space_build(runs) -> None:
    ds = validate(runs, space="linear")
    spec = make_spec(ds, get_law("chinchilla"), likelihood="studentt", nu=3.0)
    model = build_model(ds, spec)
    assert model[dims.OBSERVED].owner.op.__class__.__name__.lower().startswith("studentt")
    _check_finite(model)


def test_one_family_turns_pooled_into_independent_and_says_so() -> None:
    df = simulate_runs(families=("fam_a",))
    ds = validate(df)
    spec = make_spec(ds, get_law("chinchilla"))
    assert "pooled" not in spec.pooling.values()
    assert any("one family" in n for n in spec.notes)


def test_spec_round_trips_through_json(runs) -> None:
    ds = validate(runs)
    spec = make_spec(ds, get_law("chinchilla"), priors={"alpha": {"mu": -1.0}})
    from bayescale.model import ModelSpec

    again = ModelSpec.from_json(spec.to_json())
    assert again == spec
    assert again.priors["alpha"].mu == -1.0


def test_bad_specifications_raise_clear_errors(runs) -> None:
    from bayescale.errors import SpecificationError

    ds = validate(runs)
    law = get_law("chinchilla")
    with pytest.raises(SpecificationError, match="gamma"):
        make_spec(ds, law, priors={"gamma": {"mu": 0.0}})
    with pytest.raises(SpecificationError, match="mean"):
        make_spec(ds, law, priors={"alpha": {"mean": 0.0}})
    with pytest.raises(SpecificationError, match="positive"):
        make_spec(ds, law, priors={"alpha": {"sigma": -1.0}})
    with pytest.raises(SpecificationError, match="choose one of"):
        make_spec(ds, law, pooling={"alpha": "partial"})
    with pytest.raises(SpecificationError, match="neither a parameter"):
        make_spec(ds, law, pooling={"gamma": "shared"})
    with pytest.raises(SpecificationError, match="likelihood"):
        make_spec(ds, law, likelihood="cauchy")
