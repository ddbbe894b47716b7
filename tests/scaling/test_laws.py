"""Laws: one equation, two backends that agree; conventional parameters; registry errors."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bayescale.core.errors import SpecificationError
from bayescale.scaling import laws

THETA = {
    "E": 1.8,
    "A_ref": 0.9,
    "alpha": 0.33,
    "B_ref": 0.7,
    "beta": 0.28,
    "delta": 0.2,
    "log_break": 0.5,
    "sharpness": 0.4,
}


@pytest.mark.parametrize(
    "spec",
    ["chinchilla", "chinchilla_tied", "power_law", "power_law:compute", "broken_power_law:tokens"],
)
def test_numpy_and_pytensor_agree(spec: str) -> None:
    law = laws.get_law(spec)
    rng = np.random.default_rng(0)
    u_np = {x: rng.normal(0, 2, size=7) for x in law.inputs}
    theta = {p.name: THETA[p.name] for p in law.parameters}
    expected = law.log_mean(laws.NUMPY_OPS, theta, u_np)
    u_sym = {x: pt.vector(x) for x in law.inputs}
    out = law.log_mean(laws.pytensor_ops(), theta, u_sym)
    fn = pytensor.function([u_sym[x] for x in law.inputs], out)
    got = fn(*[u_np[x] for x in law.inputs])
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_chinchilla_conventional_parameters_reproduce_the_textbook_formula() -> None:
    law = laws.chinchilla
    log_ref = {"params": np.log(3e8), "tokens": np.log(6e9)}
    theta = {k: THETA[k] for k in law.parameter_names}
    conv = law.conventional(theta, log_ref)
    n = np.array([1e7, 1e9, 7e10])
    d = np.array([2e8, 2e10, 1.4e12])
    textbook = THETA["E"] + conv["A"] * n ** -THETA["alpha"] + conv["B"] * d ** -THETA["beta"]
    np.testing.assert_allclose(law.predict(theta, {"params": n, "tokens": d}, log_ref), textbook)


def test_chinchilla_tied_is_chinchilla_with_beta_equal_to_alpha() -> None:
    log_ref = {"params": np.log(3e8), "tokens": np.log(6e9)}
    theta = {k: THETA[k] for k in laws.chinchilla_tied.parameter_names}
    x = {"params": np.array([1e7, 1e9, 7e10]), "tokens": np.array([2e8, 2e10, 1.4e12])}
    tied = laws.chinchilla_tied.predict(theta, x, log_ref)
    full = laws.chinchilla.predict({**theta, "beta": THETA["alpha"]}, x, log_ref)
    np.testing.assert_allclose(tied, full, rtol=1e-12)
    conv = laws.chinchilla_tied.conventional(theta, log_ref)
    textbook = THETA["E"] + conv["A"] * x["params"] ** -THETA["alpha"]
    textbook = textbook + conv["B"] * x["tokens"] ** -THETA["alpha"]
    np.testing.assert_allclose(tied, textbook)
    assert "beta" not in laws.chinchilla_tied.parameter_names


def test_broken_power_law_bends_from_alpha_to_alpha_plus_delta() -> None:
    law = laws.broken_power_law("compute")
    theta = {**{k: THETA[k] for k in law.parameter_names}, "E": 1e-9, "sharpness": 0.1}
    log_ref = {"compute": 0.0}
    x = np.exp(np.array([-10.0, -9.0, 9.0, 10.0]))
    y = law.predict(theta, {"compute": x}, log_ref)
    slope_lo = -(np.log(y[1]) - np.log(y[0]))
    slope_hi = -(np.log(y[3]) - np.log(y[2]))
    assert slope_lo == pytest.approx(THETA["alpha"], abs=1e-3)
    assert slope_hi == pytest.approx(THETA["alpha"] + THETA["delta"], abs=1e-3)


def test_get_law_errors_name_the_choices() -> None:
    with pytest.raises(SpecificationError, match="chinchilla"):
        laws.get_law("kaplan")
    with pytest.raises(SpecificationError, match="params"):
        laws.get_law("power_law:flops")
    with pytest.raises(SpecificationError, match="no ':x'"):
        laws.get_law("chinchilla:params")


def test_law_spec_round_trips() -> None:
    for spec in ["chinchilla", "chinchilla_tied", "power_law:tokens", "broken_power_law:compute"]:
        assert laws.get_law(spec).spec == spec


def test_custom_laws_register_without_shadowing_builtins() -> None:
    import dataclasses

    custom = dataclasses.replace(laws.power_law("compute"), name="my_law", options={})
    assert laws.get_law(custom) is custom
    assert laws.get_law("my_law") is custom
    assert laws.get_law("power_law:compute") is laws.power_law("compute")
    with pytest.raises(SpecificationError, match="built-in"):
        laws.get_law(dataclasses.replace(custom, name="chinchilla"))
    assert laws.get_law("chinchilla") is laws.chinchilla
    other = dataclasses.replace(custom, equation="another")
    with pytest.raises(SpecificationError, match="overwrite=True"):
        laws.register_law(other)
    assert laws.register_law(other, overwrite=True) is laws.get_law("my_law")
    with pytest.raises(SpecificationError, match="takes no ':x'"):
        laws.get_law("my_law:compute")
