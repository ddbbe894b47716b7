"""Coverage-curve laws: the law functions, data handling, recovery with NUTS, real data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import expit, logit

from bayescale.core.errors import DataError, SpecificationError
from bayescale.passk.coverage_laws import (
    LAWS,
    CoverageLawFit,
    CoverageLawWarning,
    compare_coverage_laws,
    coverage_law,
    coverage_points,
    empirical_exponent,
    fit_coverage_law,
)
from bayescale.passk.estimator import coverage_curve
from tests.helpers import SHARED_DATA

REAL = SHARED_DATA / "monkeys_pythia_math/pythia_math_per_problem_counts.csv"
K_GRID = 2.0 ** np.arange(13)  # 1 ... 4096
#: Known parameters of two simulated models, per law.
TRUE = {
    "beta_zi": {"a": np.array([0.3, 0.6]), "b": np.array([20.0, 5.0]), "pi": np.array([0.1, 0.3])},
    "brown": {"b": np.array([0.25, 0.4]), "c": np.array([-4.0, -2.5])},
}
NOISE = 0.02  # logit-scale noise of the simulated points
FAST = {"draws": 1000, "tune": 1000, "chains": 4, "seed": 1}


def simulated_points(law: str, seed: int = 0) -> pd.DataFrame:
    cov = coverage_law(law, TRUE[law], K_GRID)  # 2 x K
    rng = np.random.default_rng(seed)
    noisy = expit(logit(cov) + NOISE * rng.standard_normal(cov.shape))
    return pd.DataFrame(
        {
            "model": np.repeat(["m1", "m2"], K_GRID.size),
            "k": np.tile(K_GRID, 2),
            "coverage": noisy.ravel(),
        }
    )


def counts_frame(n: int = 50, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for model, (a, b) in {"small": (0.3, 3.0), "big": (0.5, 1.0)}.items():
        p = rng.beta(a, b, size=40)
        for j, pj in enumerate(p):
            rows.append(
                {"model": model, "problem": j, "n_samples": n, "n_correct": rng.binomial(n, pj)}
            )
    return pd.DataFrame(rows)


# -- the laws --------------------------------------------------------------------------------
def test_beta_law_is_the_expected_pass_at_k_of_beta_problems() -> None:
    a, b = 0.4, 3.0
    for k in (1, 7, 100):
        expected = integrate.quad(
            lambda p, k=k: (1 - (1 - p) ** k) * stats.beta.pdf(p, a, b), 0, 1
        )[0]
        got = coverage_law("beta", {"a": a, "b": b}, [k])
        assert got.shape == (1,)
        np.testing.assert_allclose(got[0], expected, rtol=1e-6)


def test_ceiling_scales_the_law_and_brown_is_closed_form() -> None:
    base = coverage_law("beta", {"a": 0.4, "b": 3.0}, K_GRID)
    zi = coverage_law("beta_zi", {"a": 0.4, "b": 3.0, "pi": 0.25}, K_GRID)
    np.testing.assert_allclose(zi, 0.75 * base)
    brown = coverage_law("brown", {"b": 0.3, "c": -2.0}, K_GRID)
    np.testing.assert_allclose(brown, np.exp(-2.0 * K_GRID**-0.3))
    ceil = coverage_law("brown_ceiling", {"b": 0.3, "c": -2.0, "pi": 0.1}, K_GRID)
    np.testing.assert_allclose(ceil, 0.9 * brown)


def test_beta_loss_decays_with_exponent_a_up_to_a_million() -> None:
    a = np.array([0.2, 0.5])
    k = np.array([1e5, 1e6])
    loss = 1 - coverage_law("beta", {"a": a, "b": np.array([10.0, 10.0])}, k)
    assert loss.shape == (2, 2)
    slope = -np.diff(np.log(loss), axis=1)[:, 0] / np.log(10)
    np.testing.assert_allclose(slope, a, rtol=1e-3)


def test_unknown_law_is_named() -> None:
    with pytest.raises(SpecificationError, match="unknown coverage law 'power'"):
        coverage_law("power", {}, [1])
    with pytest.raises(SpecificationError, match="beta_zi"):
        fit_coverage_law(counts_frame(), "power")


# -- data ------------------------------------------------------------------------------------
def test_coverage_points_match_the_estimator() -> None:
    counts = counts_frame()
    pts = coverage_points(counts)
    assert list(pts.columns) == ["model", "k", "coverage", "n_problems"]
    g = counts[counts["model"] == "small"]
    k, cov = coverage_curve(g["n_samples"], g["n_correct"])
    sel = pts[pts["model"] == "small"]
    np.testing.assert_array_equal(sel["k"], k)
    np.testing.assert_allclose(sel["coverage"], cov)
    assert set(sel["n_problems"]) == {40}
    assert coverage_points(counts, k_max=8)["k"].max() == 8
    # problem_idx is accepted as the problem column
    alias = coverage_points(counts.rename(columns={"problem": "problem_idx"}))
    pd.testing.assert_frame_equal(alias, pts)


def test_data_errors_are_clear() -> None:
    counts = counts_frame()
    with pytest.raises(DataError, match="k=64 exceeds the 50 attempts"):
        coverage_points(counts, k=[1, 64])
    with pytest.raises(DataError, match="missing required column"):
        coverage_points(counts.drop(columns="n_correct"))
    with pytest.raises(DataError, match="no coverage points left"):
        coverage_points(counts, k_max=0.5)
    pts = simulated_points("brown")
    bad = pts.assign(coverage=pts["coverage"] * 100)
    with pytest.raises(DataError, match="not a percentage"):
        coverage_points(bad)
    with pytest.raises(DataError, match="repeat a"):
        coverage_points(pd.concat([pts, pts.head(1)]))
    with pytest.raises(SpecificationError, match="unknown prior 'log_a'"):
        fit_coverage_law(pts, "brown", priors={"log_a": (0, 1)})
    with pytest.raises(SpecificationError, match="sd > 0"):
        fit_coverage_law(pts, "brown", priors={"log_rate": (0, -1)})
    nothing = counts.assign(n_correct=0)
    with pytest.raises(DataError, match="strictly between 0 and 1"):
        fit_coverage_law(nothing, "beta")


def test_empirical_exponent_of_a_power_law() -> None:
    k = 2.0 ** np.arange(15)
    pts = pd.DataFrame({"model": "m", "k": k, "coverage": 1 - 0.8 * k**-0.3})
    assert empirical_exponent(pts)["m"] == pytest.approx(0.3)
    assert empirical_exponent(pts, k_range=(1, 4))["m"] == pytest.approx(0.3)
    assert np.isnan(empirical_exponent(pts, k_range=(3, 3.5))["m"])


# -- API with prior draws instead of MCMC (fast) ---------------------------------------------
@pytest.mark.usefixtures("mock_pymc_sample")
def test_dropped_points_are_reported_and_the_result_is_complete() -> None:
    counts = counts_frame()
    # every problem is solved within 3 of 50 attempts: coverage 1 from k = 4 on
    easy = pd.DataFrame(
        {"model": "easy", "problem": range(3), "n_samples": 50, "n_correct": [50, 49, 48]}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_coverage_law(
            pd.concat([counts, easy]),
            "beta_zi",
            draws=50,
            chains=2,
            warn_convergence=False,
            extend_if_slow=False,
        )
    messages = [str(w.message) for w in caught if w.category is CoverageLawWarning]
    assert len(messages) == 2 and messages == fit.notes
    assert "dropped 5 of 21 coverage points" in messages[0]
    assert "easy k=4 (coverage 1)" in messages[0]
    assert "['easy'] have fewer than 3 coverage points" in messages[1]
    tree = fit.idata
    for group in ("posterior", "log_likelihood", "observed_data"):
        assert group in tree.children
    ll = tree["log_likelihood"].dataset["y"]
    assert "obs" in ll.dims and ll.sizes["obs"] == 16
    fc = fit.coverage([10, 1e6], ci_prob=0.9, models="big")
    assert list(fc.columns) == ["model", "k", "quantity", "mean", "median", "lower", "upper",
                                "ci_prob"]  # fmt: skip
    assert ((fc["lower"] <= fc["median"]) & (fc["median"] <= fc["upper"])).all()
    assert fit.exponent()["model"].tolist() == ["small", "big", "easy"]
    reported = {name.split("[")[0] for name in fit.summary().index}
    assert {"exponent", "a", "b", "pi", "ceiling", "sigma"} == reported
    with pytest.raises(SpecificationError, match="unknown model"):
        fit.coverage(10, models="huge")
    with pytest.raises(SpecificationError, match="positive"):
        fit.coverage(0)
    with pytest.raises(SpecificationError, match="no parameter 'c'"):
        fit.draws("c")


@pytest.mark.usefixtures("mock_pymc_sample")
def test_comparison_needs_the_same_points() -> None:
    pts = simulated_points("brown")
    opts = {"draws": 50, "chains": 2, "warn_convergence": False, "extend_if_slow": False}
    full = fit_coverage_law(pts, "brown", **opts)
    short = fit_coverage_law(pts, "beta", k_max=100, **opts)
    with pytest.raises(SpecificationError, match="not model the same observations"):
        compare_coverage_laws({"brown": full, "beta": short})
    with pytest.raises(SpecificationError, match="CoverageLawFit"):
        compare_coverage_laws({"brown": full, "other": object()})  # type: ignore[dict-item]


# -- NUTS: recovery of known parameters and the comparison -----------------------------------
@pytest.fixture(scope="module")
def recovered() -> dict[str, CoverageLawFit]:
    fits = {}
    for law in TRUE:
        with warnings.catch_warnings():
            warnings.simplefilter("error", CoverageLawWarning)
            fits[law] = fit_coverage_law(simulated_points(law), law, **FAST)  # type: ignore[arg-type]
    return fits


@pytest.mark.nuts
@pytest.mark.parametrize("law", list(TRUE))
def test_nuts_recovers_known_exponents(recovered: dict[str, CoverageLawFit], law: str) -> None:
    fit = recovered[law]
    assert fit.diagnostics.ok, str(fit.diagnostics)
    exp = fit.exponent(ci_prob=0.98)
    true_e = TRUE[law]["a"] if law.startswith("beta") else TRUE[law]["b"]
    assert ((exp["lower"] <= true_e) & (true_e <= exp["upper"])).all(), exp
    if LAWS[law]:
        pi = fit.summary(ci_prob=0.98).loc[["pi[m1]", "pi[m2]"]]
        true_pi = TRUE[law]["pi"]
        assert ((pi["eti98_lb"] <= true_pi) & (true_pi <= pi["eti98_ub"])).all()
    # a forecast far beyond the data is finite and inside (0, 1)
    fc = fit.coverage([1e4, 1e6], ci_prob=0.9)
    assert np.all((fc[["lower", "upper"]].to_numpy() > 0) & (fc[["lower", "upper"]] < 1))
    truth = coverage_law(law, TRUE[law], [1e4]).ravel()
    at = fc[fc["k"] == 1e4]
    assert np.all(np.abs(at["median"].to_numpy() - truth) < 0.03)


@pytest.mark.nuts
def test_loo_prefers_the_true_law_on_its_own_points(recovered: dict[str, CoverageLawFit]) -> None:
    pts = simulated_points("brown")
    # the Beta-law fit of the Brown points, on exactly the same observations
    other = fit_coverage_law(pts, "beta", **FAST)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = compare_coverage_laws({"brown": recovered["brown"], "beta": other})
    assert {"elpd", "elpd_diff", "weight"} <= set(cmp.table.columns)
    assert cmp.best == "brown"
    assert cmp.weights.sum() == pytest.approx(1.0)
    assert cmp.unit == "obs" and cmp.space == "logit"


# -- real data -------------------------------------------------------------------------------
@pytest.mark.nuts
@pytest.mark.skipif(not REAL.exists(), reason=f"real data not present at {REAL} (no licence)")
def test_pythia_math_beta_law() -> None:
    fit = fit_coverage_law(REAL, "beta", seed=0)
    assert fit.diagnostics.ok, str(fit.diagnostics)
    assert fit.data.sizes["obs"] == 7 * 15
    exp = fit.exponent().set_index("model")
    assert exp.loc["Pythia 12B", "median"] > exp.loc["Pythia 70M", "median"]
    assert (exp["median"] > 0.03).all() and (exp["median"] < 0.5).all()
    pts = coverage_points(REAL)
    last = pts[pts["k"] == 10000].set_index("model")["coverage"]
    fc = fit.coverage(10000).set_index("model")["median"]
    assert np.all(np.abs(fc - last) < 0.03)
