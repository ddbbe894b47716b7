"""Compile once, fit many (``bayescale.core.compiled``) and the NumPy post-processing
(``bayescale.scaling.predictive``) against PyMC's own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest

import bayescale as bs
from bayescale.core import compiled
from bayescale.core.sampling import nutpie_sampler
from bayescale.scaling import predictive
from bayescale.scaling.data import validate
from bayescale.scaling.fitting import make_spec
from bayescale.scaling.laws import get_law
from bayescale.scaling.model import build_model, prior_hyperparameters, structure_key
from tests.helpers import TRUE, fit_mocked, simulate_runs

#: The compile-once cache is checked on real nutpie runs.
pytestmark = pytest.mark.nuts


def _one_family(family: str, sizes: tuple[float, ...], rng_seed: int) -> pd.DataFrame:
    runs = simulate_runs(families=("fam_a",), sizes=sizes, rng_seed=rng_seed)
    return runs.assign(family=family)


def _key(df: pd.DataFrame, law: str = "chinchilla", **spec_options) -> tuple:
    law_obj = get_law(law)
    ds = validate(df, inputs=law_obj.inputs)
    return structure_key(ds, make_spec(ds, law_obj, **spec_options))


def test_structure_key_ignores_the_number_of_runs_but_not_the_shape() -> None:
    small = _one_family("a", (2e7, 5e7, 1e8), 1)
    large = _one_family("b", (2e7, 5e7, 1e8, 2e8, 4e8), 2)
    assert _key(small) == _key(large)
    assert _key(small) != _key(small, likelihood="studentt")
    assert _key(small) != _key(small, law="power_law")
    three = simulate_runs()
    assert _key(three) != _key(three, pooling="shared")
    assert _key(three) != _key(small)  # three families, not one


def test_prior_hyperparameters_are_one_data_container(runs) -> None:
    law = get_law("chinchilla")
    ds = validate(runs, inputs=law.inputs)
    spec = make_spec(ds, law)
    model = build_model(ds, spec)
    hyper = prior_hyperparameters(spec)
    np.testing.assert_allclose(model["prior_hyper"].get_value(), list(hyper.values()))
    assert hyper["log_alpha.mu"] == spec.priors["alpha"].mu
    assert hyper["log_alpha.tau"] == spec.priors["alpha"].group_sigma  # pooled by default
    assert "log_E.tau" not in hyper  # offsets are independent by default


@pytest.fixture(scope="module")
def two_fits() -> tuple[bs.ScalingFit, bs.ScalingFit, compiled.CacheInfo]:
    """Two real NUTS fits of one structure: the second reuses the compiled model."""
    compiled.clear_cache()
    first = bs.fit(_one_family("first", (2e7, 5e7, 1e8, 2e8), 3), progressbar=False, seed=1)
    second = bs.fit(_one_family("second", (2e7, 5e7, 1e8, 2e8, 4e8), 4), progressbar=False, seed=2)
    return first, second, compiled.cache_info()


def test_second_fit_of_a_structure_reuses_the_compiled_model(two_fits) -> None:
    first, second, info = two_fits
    assert first.sampler["compiled"] == "compiled"
    assert second.sampler["compiled"] == "reused"
    # one compile; every later run (the second fit, any rerun) swaps its data in
    assert (info.misses, info.size) == (1, 1) and info.hits >= 1


def test_reused_model_samples_the_new_data(two_fits) -> None:
    first, second, _ = two_fits
    # The family coordinate and the data are the second data set's, not the first's.
    assert second.families == ["second"]
    assert list(second.posterior["alpha"].coords["family"].values) == ["second"]
    assert second.idata["observed_data"].dataset["y"].sizes["obs"] == 15
    assert first.idata["observed_data"].dataset["y"].sizes["obs"] == 12
    for fit in (first, second):
        assert fit.diagnostics.ok, fit.diagnostics
        for name in ("E", "alpha", "beta"):
            draws = fit.posterior[name].values.ravel()
            lo, hi = np.quantile(draws, [0.005, 0.995])
            assert lo <= TRUE[name]["fam_a"] <= hi, (name, lo, hi)


def test_reused_model_matches_a_fresh_compile(two_fits) -> None:
    _, second, _ = two_fits
    compiled.clear_cache()
    fresh = bs.fit(_one_family("second", (2e7, 5e7, 1e8, 2e8, 4e8), 4), progressbar=False, seed=3)
    assert fresh.sampler["compiled"] == "compiled"
    for name in ("E", "alpha", "B_ref", "sigma"):
        a = second.posterior[name].values.ravel()
        b = fresh.posterior[name].values.ravel()
        assert abs(a.mean() - b.mean()) < 0.15 * a.std(), name  # same posterior
        assert 0.85 < a.std() / b.std() < 1.15, name


def test_diagonal_adaptation_can_be_chosen() -> None:
    fit = bs.fit(
        _one_family("a", (2e7, 5e7, 1e8), 5),
        progressbar=False,
        draws=100,
        tune=100,
        chains=2,
        extend_if_slow=False,
        warn_convergence=False,
        nuts={"adaptation": "diag"},
    )
    assert fit.sampler["adaptation"] == "diag"


def test_divergences_with_the_low_rank_metric_fall_back_to_the_diagonal() -> None:
    calls: list[str] = []
    real = nutpie_sampler

    def flaky(model, **kwargs):
        idata = real(model, **kwargs)
        calls.append(kwargs["adaptation"])
        if kwargs["adaptation"] == "low_rank":  # pretend the low-rank metric diverged
            stats = idata["sample_stats"].dataset
            diverging = stats["diverging"].copy()
            diverging[0, :3] = True
            idata["sample_stats"] = stats.assign(diverging=diverging)
        return idata

    fit = bs.fit(
        _one_family("a", (2e7, 5e7, 1e8, 2e8), 6),
        progressbar=False,
        draws=300,
        tune=300,
        warn_convergence=False,
        extend_if_slow=False,
        sampler=flaky,
    )
    assert calls == ["low_rank", "diag"]
    assert fit.sampler["adaptation"] == "diag"
    assert any("diagonal mass matrix" in note for note in fit.spec.notes)
    assert fit.diagnostics.divergences == 0


def test_a_chosen_adaptation_is_kept_despite_divergences() -> None:
    calls: list[str] = []
    real = nutpie_sampler

    def flaky(model, **kwargs):
        idata = real(model, **kwargs)
        calls.append(kwargs["adaptation"])
        stats = idata["sample_stats"].dataset
        diverging = stats["diverging"].copy()
        diverging[0, :2] = True
        idata["sample_stats"] = stats.assign(diverging=diverging)
        return idata

    with pytest.warns(bs.ConvergenceWarning, match="divergent"):
        fit = bs.fit(
            _one_family("a", (2e7, 5e7, 1e8, 2e8), 6),
            progressbar=False,
            draws=200,
            tune=200,
            nuts={"adaptation": "low_rank"},
            sampler=flaky,
        )
    assert calls == ["low_rank"]  # divergences are reported, never rerun away
    assert fit.diagnostics.divergences >= 2


def test_an_unknown_adaptation_is_refused_before_compiling() -> None:
    before = compiled.cache_info()
    with pytest.raises(bs.SpecificationError, match="'diag'"):
        bs.fit(_one_family("a", (2e7, 5e7, 1e8), 5), nuts={"adaptation": "dense"})
    assert compiled.cache_info().misses == before.misses  # nothing was compiled


# -- NumPy post-processing against PyMC ----------------------------------------------


@pytest.mark.parametrize(
    ("options", "interval"),
    [
        ({}, False),
        ({"likelihood": "studentt", "nu": 3.0}, False),
        ({"space": "linear"}, False),
        ({}, True),
    ],
    ids=["normal", "studentt", "linear", "measurement-error"],
)
def test_log_likelihood_matches_pymc(runs, options, interval) -> None:
    data = runs.copy()
    if interval:
        data["value_lo"] = data["value"] * 0.98
        data["value_hi"] = data["value"] * 1.02
    fit = fit_mocked(data, posterior_predictive=False, **options)
    assert predictive.closed_form_available(fit.spec)
    ours = fit.idata["log_likelihood"].dataset["y"]
    idata = fit.idata.copy()
    del idata["log_likelihood"]
    with fit.model():
        pm.compute_log_likelihood(idata, var_names=["y"], progressbar=False)
    theirs = idata["log_likelihood"].dataset["y"]
    assert ours.dims == theirs.dims
    np.testing.assert_allclose(ours.values, theirs.values, rtol=1e-7, atol=1e-7)


def test_posterior_predictive_matches_pymc_in_distribution(runs) -> None:
    fit = fit_mocked(runs, draws=400)
    ours = fit.idata["posterior_predictive"].dataset["y"]
    with fit.model():
        theirs = pm.sample_posterior_predictive(fit.idata, random_seed=5, progressbar=False)
    theirs = theirs["posterior_predictive"].dataset["y"]
    assert ours.dims == theirs.dims and ours.shape == theirs.shape
    # Same predictive distribution per observation: means and sds agree within MC error.
    m_ours, m_theirs = ours.mean(("chain", "draw")), theirs.mean(("chain", "draw"))
    sd = theirs.std(("chain", "draw"))
    n = ours.sizes["chain"] * ours.sizes["draw"]
    assert float(np.abs((m_ours - m_theirs) / (sd * np.sqrt(2 / n))).max()) < 4.5
    ratio = ours.std(("chain", "draw")) / sd
    assert float(ratio.min()) > 0.8 and float(ratio.max()) < 1.25
