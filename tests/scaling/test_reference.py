"""Reference posteriors in ``models/``: stored specification, loading, the population prior
they give a new family, and the build command (with mocked sampling)."""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict

import numpy as np
import pytest

import bayescale as bs
from bayescale.core.errors import ConvergenceWarning, SpecificationError
from bayescale.core.sampling import use_sampler
from bayescale.scaling import reference, reference_build
from tests.helpers import fit_mocked, prior_sampler

BUILT = [name for name in reference.REFERENCES if (reference.models_dir() / name).is_dir()]


@pytest.fixture(scope="module")
def mocked_fit(runs) -> bs.ScalingFit:
    return fit_mocked(runs, draws=200)


def test_every_reference_is_built_and_stored_with_its_specification() -> None:
    assert set(BUILT) == set(reference.REFERENCES), (
        "run: python -m bayescale.scaling.reference_build build"
    )


@pytest.mark.parametrize("name", BUILT)
def test_stored_reference_matches_its_specification_and_converged(name: str) -> None:
    folder = reference.models_dir() / name
    record = json.loads((folder / "spec.json").read_text())
    spec = reference.REFERENCES[name]
    stored = record["reference"]
    expected = json.loads(json.dumps(asdict(spec), default=str))
    assert stored == expected, "the code's specification changed: rebuild the reference"
    assert record["diagnostics"]["converged"], record["diagnostics"]["text"]
    fit = reference.load_reference(name)
    assert fit.spec.law == spec.law
    assert fit.metric == spec.metric
    assert fit.families == record["families"]
    assert fit.data.sizes["obs"] == record["rows"]
    assert fit.diagnostics is not None and fit.diagnostics.ok
    pop = reference.population_exponents(fit)
    for name_, moments in pop.items():
        assert 0 < np.exp(moments["mean"]) < 2, name_
        assert 0 < moments["sd"] < 1


def test_population_moments_follow_the_formula(mocked_fit) -> None:
    post = mocked_fit.posterior
    pop = reference.population_exponents(mocked_fit)
    m = post["log_alpha_mu"].values.ravel()
    tau = post["log_alpha_tau"].values.ravel()
    n_fam = len(mocked_fit.families)
    np.testing.assert_allclose(pop["alpha"]["mean"], m.mean())
    np.testing.assert_allclose(pop["alpha"]["sd"] ** 2, m.var() + (1 + 1 / n_fam) * np.mean(tau**2))
    assert pop["alpha"]["pooling"] == "pooled"


def test_exponent_priors_depend_on_the_new_fits_pooling(mocked_fit) -> None:
    pooled = reference.exponent_priors(mocked_fit, "chinchilla", {"alpha": "pooled"})
    single = reference.exponent_priors(mocked_fit, "chinchilla", {"alpha": "shared"})
    pop = reference.population_exponents(mocked_fit)["alpha"]
    assert pooled["alpha"].mu == pytest.approx(pop["m_mean"])
    assert pooled["alpha"].group_sigma == pytest.approx(max(pop["tau_rms"], 1e-3))
    assert single["alpha"].mu == pytest.approx(pop["mean"])
    assert single["alpha"].sigma == pytest.approx(pop["sd"])
    assert set(single) == {"alpha", "beta"}
    assert set(reference.exponent_priors(mocked_fit, "broken_power_law", {})) == {"alpha"}


def test_a_reference_without_the_laws_exponents_is_refused(mocked_fit, monkeypatch) -> None:
    only_alpha = {"alpha": reference.population_exponents(mocked_fit)["alpha"]}
    monkeypatch.setattr(reference, "population_exponents", lambda fit: only_alpha)
    with pytest.raises(SpecificationError, match=r"no exponent\(s\) \['beta'\]"):
        reference.exponent_priors(mocked_fit, "chinchilla", {})


def test_fit_with_a_reference_prior_uses_it_and_user_priors_win(mocked_fit, runs) -> None:
    one = runs[runs["family"] == "fam_a"]
    with use_sampler(prior_sampler):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = bs.fit(
                one,
                prior=mocked_fit,
                priors={"beta": {"mu": -1.0}},
                draws=20,
                chains=1,
                progressbar=False,
                extend_if_slow=False,
                posterior_predictive=False,
            )
    pop = reference.population_exponents(mocked_fit)
    assert fit.spec.priors["alpha"].mu == pytest.approx(pop["alpha"]["mean"])
    assert fit.spec.priors["alpha"].sigma == pytest.approx(pop["alpha"]["sd"])
    assert fit.spec.priors["beta"].mu == -1.0
    assert any("exponent priors from reference" in n for n in fit.spec.notes)


def test_unknown_or_unbuilt_reference_says_how_to_build_it(tmp_path, monkeypatch) -> None:
    with pytest.raises(SpecificationError, match="known references"):
        reference.load_reference("no_such_reference")
    monkeypatch.setenv(reference.MODELS_ENV, str(tmp_path))
    with pytest.raises(
        SpecificationError, match=r"python -m bayescale\.scaling\.reference_build build"
    ):
        reference.load_reference("gadre2024_chinchilla")


def test_build_writes_fit_summary_and_specification(tmp_path, mock_pymc_sample) -> None:
    folder = reference_build.build("gadre2024_chinchilla", out_dir=tmp_path)
    assert {p.name for p in folder.iterdir()} == {"fit.nc", "spec.json", "summary.csv"}
    record = json.loads((folder / "spec.json").read_text())
    assert (
        record["rebuild"]
        == "python -m bayescale.scaling.reference_build build gadre2024_chinchilla"
    )
    assert record["rows"] == 104
    fit = reference.load_reference(folder)
    assert "posterior_predictive" not in fit.idata.children
    assert fit.families == ["c4_original", "rpj", "rw_original"]
