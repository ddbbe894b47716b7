"""Build-only tests: every law and pooling compiles, with finite log-density and gradient
at the initial point and the documented dims. No sampling."""

from __future__ import annotations

import numpy as np
import pytensor
import pytest

from bayescale.core import dims
from bayescale.scaling.data import validate
from bayescale.scaling.fitting import make_spec
from bayescale.scaling.laws import get_law
from bayescale.scaling.model import build_model
from tests.helpers import simulate_runs


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
            assert model.eval_rv_shapes()[
                p.raw_name if how != "pooled" else f"{p.raw_name}_offset"
            ] == (n_fam,)


def test_default_pooling_is_exponents_pooled_scales_per_family(runs) -> None:
    ds = validate(runs)
    spec = make_spec(ds, get_law("chinchilla"))
    assert spec.pooling == {
        "E": "independent",
        "A_ref": "independent",
        "alpha": "pooled",
        "B_ref": "independent",
        "beta": "pooled",
    }
    model = build_model(ds, spec)
    names = {v.name for v in model.free_RVs}
    assert {"log_alpha_mu", "log_alpha_tau", "log_alpha_offset"} <= names
    assert "config_sigma" not in names  # no repeated runs: no configuration offsets


def test_repeated_runs_are_modelled_per_configuration() -> None:
    ds = validate(simulate_runs(seeds=2))
    spec = make_spec(ds, get_law("chinchilla"))
    assert spec.config_effects
    model = build_model(ds, spec)
    # Normal likelihood: offsets integrated out, one mean and one within-SS per config.
    assert model.named_vars_to_dims[dims.OBSERVED] == (dims.CONFIG,)
    assert model.named_vars_to_dims["y_within"] == (dims.REPLICATED,)
    assert len(model.coords[dims.CONFIG]) == 45  # 3 families x 5 sizes x 3 ratios
    assert "config_offset" not in model.named_vars
    np.testing.assert_array_equal(model["config_n"].get_value(), 2.0)
    _check_finite(model)
    # Student-t cannot be integrated in closed form: non-centred offsets instead.
    spec_t = make_spec(ds, get_law("chinchilla"), likelihood="studentt")
    model_t = build_model(ds, spec_t)
    assert model_t.named_vars_to_dims["config_offset"] == (dims.CONFIG,)
    _check_finite(model_t)


def test_marginal_replicate_likelihood_equals_the_joint_normal() -> None:
    """The factorised density equals the multivariate normal with offsets integrated out."""
    from scipy import stats

    from bayescale.scaling.model import replicate_statistics

    rng = np.random.default_rng(0)
    y = rng.normal(size=5)
    idx = np.array([0, 0, 0, 1, 1])
    eta, sigma, tau = np.array([0.1, -0.2]), 0.3, 0.5
    st = replicate_statistics(y, None, idx)
    factorised = 0.0
    for c in range(2):
        n = st["n"][c]
        factorised += stats.norm.logpdf(st["mean"][c], eta[c], np.sqrt(tau**2 + sigma**2 / n))
        factorised += stats.gamma.logpdf(st["ss"][c], (n - 1) / 2, scale=2 * sigma**2)
    joint = 0.0
    for c in range(2):
        yc = y[idx == c]
        cov = sigma**2 * np.eye(yc.size) + tau**2
        joint += stats.multivariate_normal.logpdf(yc, np.full(yc.size, eta[c]), cov)

    # The (mean, SS) densities differ from the joint by the Jacobian of y -> (mean, SS),
    # which does not depend on the parameters: compare differences across parameters.
    def fact(e, s, t):
        out = 0.0
        for c in range(2):
            n = st["n"][c]
            out += stats.norm.logpdf(st["mean"][c], e[c], np.sqrt(t**2 + s**2 / n))
            out += stats.gamma.logpdf(st["ss"][c], (n - 1) / 2, scale=2 * s**2)
        return out

    def full(e, s, t):
        out = 0.0
        for c in range(2):
            yc = y[idx == c]
            out += stats.multivariate_normal.logpdf(
                yc, np.full(yc.size, e[c]), s**2 * np.eye(yc.size) + t**2
            )
        return out

    base = fact(eta, sigma, tau) - full(eta, sigma, tau)
    for e, s, t in [(eta + 0.3, 0.5, 0.1), (eta - 1, 0.2, 0.9)]:
        assert fact(e, s, t) - full(e, s, t) == pytest.approx(base, abs=1e-9)
    assert np.isfinite(factorised) and np.isfinite(joint)


def test_measurement_intervals_enter_as_known_noise(runs) -> None:
    df = runs.assign(value_lo=runs.value * 0.99, value_hi=runs.value * 1.01)
    ds = validate(df)
    model = build_model(ds, make_spec(ds, get_law("chinchilla")))
    columns = list(model.coords["obs_column"])
    assert columns == ["u_params", "u_tokens", "y", "measurement_se"]
    se = model["obs_data"].get_value()[:, columns.index("measurement_se")]
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
    from bayescale.scaling.model import ModelSpec

    again = ModelSpec.from_json(spec.to_json())
    assert again == spec
    assert again.priors["alpha"].mu == -1.0


def test_bad_specifications_raise_clear_errors(runs) -> None:
    from bayescale.core.errors import SpecificationError

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
