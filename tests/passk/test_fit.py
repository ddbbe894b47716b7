"""The pass@k model: recovery on the shipped simulated counts (real NUTS), forecasts,
attempts-to-target, persistence, LOO and ``bayescale passk forecast``. The same API with
prior draws instead of MCMC is ``tests/passk/test_results.py``."""

from __future__ import annotations

import json
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayescale
from bayescale import passk
from bayescale.cli.main import main
from bayescale.core.errors import SpecificationError
from bayescale.passk.curves import attempts_for_coverage, population_coverage

pytestmark = pytest.mark.nuts


@pytest.fixture(scope="module")
def truth() -> dict:
    return passk.example_truth()


@pytest.fixture(scope="module")
def sim_fit() -> passk.PassKFit:
    """One real NUTS fit of the shipped example (5 sizes x 200 problems x 100 attempts)."""
    return passk.fit(passk.example_counts(), progressbar=False, seed=0)


@pytest.fixture(scope="module")
def saved(sim_fit: passk.PassKFit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sim_fit.save(tmp_path_factory.mktemp("passk") / "fit.nc")


def test_fit_converges(sim_fit: passk.PassKFit) -> None:
    diag = sim_fit.diagnostics
    assert diag is not None
    assert diag.divergences == 0
    assert diag.max_rhat <= 1.01
    assert diag.min_ess_bulk >= 400


def test_recovers_the_exponent_and_the_trend(sim_fit: passk.PassKFit, truth: dict) -> None:
    exp = sim_fit.exponent(ci_prob=0.9).set_index("model")
    covered = [
        exp.loc[m, "lower"] <= t["a"] <= exp.loc[m, "upper"] for m, t in truth["models"].items()
    ]
    assert sum(covered) >= 4  # 5 nominal-90% intervals (correlated through the trend)
    post = sim_fit.posterior
    # b falls with size (slope -0.35 per e-fold): the sign is unmistakable in the data
    assert float((post["slope_b"] < 0).mean()) > 0.95
    lo, hi = np.quantile(post["slope_b"].values, [0.05, 0.95])
    assert lo <= truth["slope_b"] <= hi


def test_population_coverage_at_large_k_is_covered(sim_fit: passk.PassKFit, truth: dict) -> None:
    """Coverage of a new problem at 10^4 and 10^6 attempts: 100x and 10^4x the data."""
    ks = np.array([1e4, 1e6])
    table = sim_fit.coverage(ks, problems="population", ci_prob=0.9)
    hits = []
    for m, t in truth["models"].items():
        true = population_coverage(np.array(t["a"]), np.array(t["b"]), np.array(t["pi"]), ks)
        rows = table[table["model"] == m]
        hits += list((rows["lower"].values <= true) & (true <= rows["upper"].values))
    assert np.mean(hits) >= 0.8


def test_observed_coverage_matches_true_problem_probabilities(sim_fit: passk.PassKFit) -> None:
    counts = passk.example_counts()
    ks = np.array([10.0, 1e3, 1e5])
    table = sim_fit.coverage(ks, ci_prob=0.9)
    hits = []
    for m, rows in table.groupby("model", sort=False):
        p = counts.loc[counts["model"] == m, "p_true"].to_numpy()
        true = [float(np.mean(1 - (1 - p) ** k)) for k in ks]
        hits += list((rows["lower"].values <= true) & (true <= rows["upper"].values))
    assert np.mean(hits) >= 0.8


def test_coverage_draws_are_monotone_and_below_the_ceiling(sim_fit: passk.PassKFit) -> None:
    k = np.logspace(0, 6, 13)
    da = sim_fit.coverage_draws(k, problems="population", max_draws=400)
    assert da.dims == ("chain", "draw", "model", "k")
    assert da.sizes["chain"] * da.sizes["draw"] <= 400
    assert bool((da.diff("k") >= -1e-12).all())
    ceiling = 1 - sim_fit.beta_draws(max_draws=400)["pi"]
    assert bool((da <= ceiling + 1e-12).all())


def test_a_new_size_is_forecast_with_wider_bands_far_away(sim_fit: passk.PassKFit) -> None:
    near = sim_fit.exponent(params={"near": 1e9}, ci_prob=0.9)
    far = sim_fit.exponent(params={"far": 1e13}, ci_prob=0.9)
    assert (far["upper"] - far["lower"]).iloc[0] > (near["upper"] - near["lower"]).iloc[0]
    both = sim_fit.coverage([100.0], params={"near": 1e9, "far": 1e13}, problems="population")
    assert list(both["model"]) == ["near", "far"]


def test_attempts_for_target_inverts_the_curve(sim_fit: passk.PassKFit) -> None:
    table = sim_fit.attempts_for(0.4, cost_per_attempt=2.0, ci_prob=0.9)
    assert set(table["model"]) == set(sim_fit.models)
    big = table.set_index(["model", "quantity"]).loc["sim-1e10"]
    assert big.loc["attempts", "p_reachable"] > 0.9
    k = big.loc["attempts"]
    assert k["lower"] <= k["median"] <= k["upper"]
    assert big.loc["cost", "median"] == pytest.approx(2.0 * k["median"])
    draws = sim_fit.beta_draws(models="sim-1e10").stack(s=("chain", "draw"))
    a, b, pi = (draws[v].values.ravel() for v in ("a", "b", "pi"))
    k_star = attempts_for_coverage(0.4, a, b, pi)
    ok = np.isfinite(k_star) & (k_star > 1)
    reached = [
        population_coverage(a[i], b[i], pi[i], np.array([k_star[i]]))[0]
        for i in np.flatnonzero(ok)[:50]
    ]
    np.testing.assert_allclose(reached, 0.4, rtol=1e-6)


def test_unreachable_targets_are_infinite() -> None:
    k = attempts_for_coverage(
        0.95, np.array([0.3, 0.3]), np.array([10.0, 10.0]), np.array([0.1, 0.0])
    )
    assert np.isinf(k[0]) and np.isfinite(k[1])


def test_save_load_round_trip(sim_fit: passk.PassKFit, saved: Path) -> None:
    loaded = bayescale.load(saved)
    assert isinstance(loaded, passk.PassKFit)
    assert loaded.models == sim_fit.models
    assert loaded.spec == sim_fit.spec
    assert passk.load(saved).sampler == sim_fit.sampler
    pd.testing.assert_frame_equal(loaded.summary(ci_prob=0.9), sim_fit.summary(ci_prob=0.9))
    assert str(loaded.diagnostics) == str(sim_fit.diagnostics)
    a = sim_fit.coverage([50.0, 5000.0], seed=3)
    b = loaded.coverage([50.0, 5000.0], seed=3)
    pd.testing.assert_frame_equal(a, b)
    kw = {"params": {"N=3e10": 3e10}, "cost_per_attempt": 1e12}
    pd.testing.assert_frame_equal(loaded.attempts_for(0.5, **kw), sim_fit.attempts_for(0.5, **kw))


def test_loo_leaves_out_one_problem_of_one_model(sim_fit: passk.PassKFit) -> None:
    ll = sim_fit.idata["log_likelihood"].dataset["y"]
    assert ll.sizes["obs"] == 1000
    # Rows of one cell share a value; the per-row terms sum to the model's joint density.
    loo = sim_fit.loo()
    assert np.isfinite(float(loo.elpd))
    assert float(loo.elpd) == pytest.approx(float(az.loo(sim_fit.idata).elpd))


def test_errors_name_the_fix(sim_fit: passk.PassKFit) -> None:
    with pytest.raises(SpecificationError, match="params=\\{'label': N\\}"):
        sim_fit.coverage([10.0], models=["no such model"])
    with pytest.raises(SpecificationError, match="problems='population'"):
        sim_fit.coverage([10.0], params={"x": 1e11})
    with pytest.raises(SpecificationError, match="k must be >= 1"):
        sim_fit.coverage([0.5])


def test_no_trend_without_params() -> None:
    counts = passk.example_counts().drop(columns=["params"])
    ds = passk.validate_counts(counts)
    from bayescale.passk.model import make_passk_spec

    spec = make_passk_spec(ds)
    assert not spec.trend and spec.model_effects
    assert any("params" in n for n in spec.notes)
    with pytest.raises(SpecificationError, match="params"):
        make_passk_spec(ds, trend=True)


def test_cli_forecast_reads_a_saved_fit(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "passk",
            "forecast",
            str(saved),
            "--k",
            "10000",
            "1e6",
            "--params",
            "3e10",
            "--target",
            "0.5",
            "--cost-per-attempt",
            "1e12",
            "--json",
        ]
    )
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    rows = record["coverage"]
    assert {r["k"] for r in rows} == {1e4, 1e6}
    assert all(0 <= r["lower"] <= r["median"] <= r["upper"] <= 1 for r in rows)
    assert record["attempts"][0]["model"] == "N=3e+10"


def test_cli_forecast_table_and_plot(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "cov.png"
    code = main(
        ["passk", "forecast", str(saved), "--k", "1000", "--model", "sim-1e8", "--plot", str(png)]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "sim-1e8" in out and "k=1000" in out
    assert png.stat().st_size > 10_000


def test_cli_errors_are_clean(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"model": ["m"], "problem": [1], "n_samples": [5], "n_correct": [7]}).to_csv(
        bad, index=False
    )
    assert main(["passk", "fit", str(bad), "--out", str(tmp_path / "x.nc")]) == 2
    err = capsys.readouterr().err
    assert "n_correct" in err and "larger than n_samples" in err
    assert main(["passk", "forecast", str(saved), "--k", "10", "--model", "nope"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_numpy_log_likelihood_equals_pymc(sim_fit: passk.PassKFit) -> None:
    """The per-cell log-likelihood computed in NumPy is what PyMC computes from the model."""
    import pymc as pm

    from bayescale.passk.model import build_passk_model, cell_log_likelihood

    post = sim_fit.idata["posterior"].dataset.isel(draw=slice(0, 50))
    mine = cell_log_likelihood(post, sim_fit.data, sim_fit.spec)
    tree = xr.DataTree.from_dict({"posterior": post})
    with build_passk_model(sim_fit.data, sim_fit.spec):
        ref = pm.compute_log_likelihood(tree, var_names=["y"], progressbar=False)
    np.testing.assert_allclose(mine.values, ref["log_likelihood"]["y"].values, rtol=1e-9)
