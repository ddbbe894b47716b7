"""The learned extrapolation discrepancy: recovery, leave-one-source-out, rebuild, forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.core.errors import DataError, SpecificationError
from bayescale.core.sampling import use_sampler
from bayescale.scaling import discrepancy_build
from bayescale.scaling.discrepancy import (
    DISCREPANCY_REFERENCE,
    DiscrepancyFit,
    discrepancy_draws,
    fit_discrepancy,
    load_discrepancy,
    load_population,
)
from bayescale.scaling.discrepancy_backtest import leave_one_source_out
from bayescale.scaling.reference import models_dir
from tests.helpers import fit_mocked, prior_sampler, simulate_runs

TRUE = {"mu0": -0.006, "tau_mu": 0.003, "sigma0": 0.012, "kappa": 0.01}


def simulate_cases(n_sources: int = 10, per_source: int = 30, seed: int = 1) -> pd.DataFrame:
    """Held-out errors of sources with a known population discrepancy."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_sources):
        mu = TRUE["mu0"] + TRUE["tau_mu"] * rng.standard_normal()
        sigma = TRUE["sigma0"] * np.exp(0.2 * rng.standard_normal())
        for _ in range(per_source):
            d, sd = rng.uniform(0.0, 4.0), 0.005
            scale = np.sqrt(sd**2 + (sigma * d) ** 2 + TRUE["kappa"] ** 2)
            rows.append({"source": f"s{s}", "d": d, "sd": sd, "err": mu * d + scale * rng.normal()})
    return pd.DataFrame(rows)


@pytest.mark.nuts
def test_a_known_discrepancy_is_recovered_from_simulated_sources() -> None:
    fit = fit_discrepancy(simulate_cases(), seed=0)
    assert fit.diagnostics.ok, fit.diagnostics
    table = fit.summary(ci_prob=0.9)
    for name, truth in (("mu0", TRUE["mu0"]), ("kappa", TRUE["kappa"])):
        assert table.loc[name, "eti90_lb"] <= truth <= table.loc[name, "eti90_ub"], name
    lam0 = table.loc["lam0"]
    assert lam0["eti90_lb"] <= np.log(TRUE["sigma0"]) <= lam0["eti90_ub"]
    # A new source's discrepancy at 3 e-folds: biased low by about mu0 * 3.
    far = fit.forecast([3.0], ci_prob=0.9).iloc[0]
    assert far["lower"] < 3 * TRUE["mu0"] < far["upper"] and far["median"] < 0


def test_leave_one_source_out_never_shows_a_source_its_own_cases() -> None:
    cases = simulate_cases(n_sources=4, per_source=5)
    seen: list[set[str]] = []

    def spy(frame: pd.DataFrame, **kwargs: object) -> DiscrepancyFit:
        seen.append(set(frame["source"]))
        return fit_discrepancy(frame, draws=20, tune=10, chains=1, sampler=prior_sampler)

    scores = leave_one_source_out(cases, fit=spy, verbose=False)
    held_out = sorted(cases["source"].unique())
    assert len(seen) == len(held_out)
    for source, given in zip(held_out, seen, strict=True):
        assert source not in given and given == set(held_out) - {source}
    assert set(scores["method"]) == {"learned (LOSO)", "fixed rate 0.02"}
    assert len(scores) == 2 * len(cases)


def test_discrepancy_draws_have_the_population_mean_drift() -> None:
    import xarray as xr

    n = 20000
    pop = xr.Dataset(
        {
            "mu0": ("sample", np.full(n, -0.01)),
            "tau_mu": ("sample", np.zeros(n)),
            "lam0": ("sample", np.full(n, np.log(0.02))),
            "tau_sigma": ("sample", np.zeros(n)),
            "kappa": ("sample", np.full(n, 0.005)),
        }
    )
    delta = discrepancy_draws(pop, np.array([0.0, 2.0]), np.random.default_rng(0))
    np.testing.assert_allclose(delta.mean(axis=0), [0.0, -0.02], atol=1e-3)
    np.testing.assert_allclose(delta.std(axis=0), [0.005, np.hypot(0.04, 0.005)], rtol=0.03)


def test_bad_cases_are_clear_errors() -> None:
    with pytest.raises(DataError, match="lacks column"):
        fit_discrepancy(pd.DataFrame({"source": ["a"], "err": [0.0]}))
    one = simulate_cases(n_sources=1, per_source=3)
    with pytest.raises(SpecificationError, match="at least two"):
        fit_discrepancy(one)


def test_the_reference_rebuilds_from_its_command(tmp_path) -> None:
    shipped = models_dir() / DISCREPANCY_REFERENCE / "cases.csv"
    with use_sampler(prior_sampler):
        discrepancy_build.main(["--from-cases", str(shipped), "--out-dir", str(tmp_path)])
    folder = tmp_path / DISCREPANCY_REFERENCE
    assert {p.name for p in folder.iterdir()} >= {"fit.nc", "cases.csv", "summary.csv", "spec.json"}
    rebuilt = load_discrepancy(folder)
    assert len(rebuilt.cases) == len(pd.read_csv(shipped))


def test_population_read_directly_equals_the_loaded_fit(tmp_path) -> None:
    """The fast read of a reference's population draws (what a scaling fit needs) equals the
    draws of the fully loaded fit, is re-read when the file changes, and a file that is not
    a discrepancy is the clear error of the full load."""
    import xarray as xr

    shipped = load_discrepancy()
    xr.testing.assert_identical(load_population(), shipped.population_draws())
    load_population()["mu0"].values[:] = 0.0  # a caller's copy: the cached draws stay
    xr.testing.assert_identical(load_population(), shipped.population_draws())
    folder = tmp_path / "copy"
    folder.mkdir()
    path = shipped.save(folder / "fit.nc")
    xr.testing.assert_identical(load_population(folder), shipped.population_draws())
    shifted = load_discrepancy(path)
    shifted.idata["posterior"]["mu0"] = shifted.idata["posterior"]["mu0"] + 1.0
    shifted.save(path)
    np.testing.assert_allclose(
        load_population(folder)["mu0"].values, shipped.population_draws()["mu0"].values + 1.0
    )
    other = fit_mocked(simulate_runs()).save(tmp_path / "scaling.nc")
    with pytest.raises(SpecificationError, match="not a discrepancy"):
        load_population(other)


def test_default_forecasts_use_the_learned_discrepancy_and_record_it(tmp_path) -> None:
    runs = simulate_runs()
    learned = fit_mocked(runs)
    fixed = fit_mocked(runs, extrapolation_rate=0.02)
    assert learned.spec.extrapolation_rate is None
    assert learned.spec.discrepancy == DISCREPANCY_REFERENCE
    assert "extrapolation_discrepancy" in learned.idata.children
    assert fixed.spec.extrapolation_rate == 0.02
    far = {"params": [3e10], "tokens": [6e11]}
    a = learned.forecast(far, family="fam_a", ci_prob=0.9)
    back = bs.load(learned.save(tmp_path / "learned.nc"))
    pd.testing.assert_frame_equal(back.forecast(far, family="fam_a", ci_prob=0.9), a)
    assert back.spec.extrapolation_rate is None


def test_a_stacked_forecast_mixes_the_laws_by_their_weights() -> None:
    runs = simulate_runs()
    a = fit_mocked(runs, extrapolation_rate=0.0, seed=1)
    b = fit_mocked(runs, extrapolation_rate=0.0, seed=2, law="broken_power_law")
    point = {"params": [2e9], "tokens": [4e10]}
    only_a = bs.stacked_forecast({"a": a, "b": b}, point, family="fam_a", weights={"a": 1, "b": 0})
    direct = a.forecast(point, family="fam_a", ci_prob=0.9)
    for q in ("curve", "new_run"):
        got = only_a[only_a["quantity"] == q].iloc[0]
        want = direct[direct["quantity"] == q].iloc[0]
        assert got["median"] == pytest.approx(want["median"], rel=0.02)
    stacked = bs.stacked_forecast({"a": a, "b": b}, point, family="fam_a")
    assert set(stacked.attrs["weights"]) == {"a", "b"}
    assert sum(stacked.attrs["weights"].values()) == pytest.approx(1.0)
    assert list(stacked.columns[-6:]) == ["quantity", "mean", "median", "lower", "upper", "ci_prob"]


@pytest.mark.parametrize("metric", ["val_loss", "train_loss"])
def test_porian_cases_hold_out_the_four_largest_sizes_of_trained_points(metric: str) -> None:
    """Porian et al.'s shipped IsoFLOP points: fitted below 2.5e8 parameters, each
    configuration's four or five largest sizes held out at every budget (the parameter
    counts differ between configurations), no point below one token per parameter, and
    every configuration of the metric on both sides of the cut."""
    from bayescale import datasets

    case = next(c for c in discrepancy_build.CASES if c.label == f"porian2024 {metric} N<=2.5e8")
    assert case.shipped and case.source == "porian2024"
    train, test = case.load()
    assert (train["params"] <= 2.5e8).all() and (test["params"] > 2.5e8).all()
    assert test.groupby("family")["params"].nunique().isin([4, 5]).all()
    for part in (train, test):
        assert (
            part["tokens"] >= discrepancy_build.PORIAN_MIN_TOKENS_PER_PARAM * part["params"]
        ).all()
    everything = datasets.load("porian2024", metric=metric)
    kept = everything["tokens"] >= everything["params"]
    assert len(train) + len(test) == int(kept.sum()) < len(everything)  # only those dropped
    assert set(train["family"]) == set(test["family"]) == set(everything["family"])


@pytest.mark.nuts
def test_cases_through_fit_many_score_as_a_fit_in_process(tmp_path) -> None:
    """build_cases runs the case fits as fit_many tasks and scores them from the saved
    files: the same rows as fitting in this process, and a second call reuses the files."""
    case = next(c for c in discrepancy_build.CASES if c.label.endswith("val_de-en_100 N<=1e9"))
    train, test = case.load()
    rows = discrepancy_build.build_cases([case], fits_dir=tmp_path, max_workers=1, verbose=False)
    direct = discrepancy_build.heldout_cases(train, test, source=case.source, label=case.label)
    assert len(rows) == len(test) and (rows["case"] == case.label).all()
    np.testing.assert_allclose(rows["err"], direct["err"], rtol=1e-10)
    np.testing.assert_allclose(rows["sd"], direct["sd"], rtol=1e-10)
    fits = sorted(tmp_path.glob("*.nc"))
    assert len(fits) == 1
    stamp = fits[0].stat().st_mtime_ns
    again = discrepancy_build.build_cases([case], fits_dir=tmp_path, max_workers=1, verbose=False)
    pd.testing.assert_frame_equal(again, rows)
    assert fits[0].stat().st_mtime_ns == stamp  # reused, not refitted


def test_case_fit_options_reach_every_fit_many_task(monkeypatch) -> None:
    """build_cases(fit_options=...) adds the options to every case's task (the Student-t
    case fits of benchmarks/discrepancy_variants.py); the stacked cases refuse them."""
    import bayescale.batch

    seen: list = []

    def capture(tasks, **kwargs):  # the tasks fit_many was given; no fit finishes
        seen.extend(tasks)
        return pd.DataFrame({"key": [t.key for t in tasks], "status": "failed", "error": "x"})

    monkeypatch.setattr(bayescale.batch, "fit_many", capture)
    case = next(c for c in discrepancy_build.CASES if c.label.endswith("val_de-en_100 N<=1e9"))
    with pytest.raises(RuntimeError, match="no held-out case"):
        discrepancy_build.build_cases([case], verbose=False, fit_options={"likelihood": "studentt"})
    assert len(seen) == 1
    assert seen[0].options["likelihood"] == "studentt"
    assert seen[0].options["extrapolation_rate"] == 0.0  # the case fits' own options stay
    with pytest.raises(SpecificationError, match="fit_many only"):
        discrepancy_build.build_cases([case], stacked=True, fit_options={"likelihood": "normal"})


def test_inner_cases_fit_only_the_training_runs_below_the_inner_cut(monkeypatch) -> None:
    """build_cases(inner=True): each case's task fits the runs of its *training* set below
    the inner cut (the largest third of its sizes held out), never a held-out run."""
    import bayescale.batch

    seen: list = []

    def capture(tasks, **kwargs):
        seen.extend(tasks)
        return pd.DataFrame({"key": [t.key for t in tasks], "status": "failed", "error": "x"})

    monkeypatch.setattr(bayescale.batch, "fit_many", capture)
    case = next(c for c in discrepancy_build.CASES if c.label.endswith("val_de-en_100 N<=1e9"))
    train, _ = case.load()
    with pytest.raises(RuntimeError, match="no held-out case"):
        discrepancy_build.build_cases([case], verbose=False, inner=True)
    fitted = seen[0].data
    assert fitted["params"].max() < train["params"].max()
    assert len(fitted) < len(train) and fitted["params"].nunique() == 3


def test_a_case_without_inner_runs_is_skipped_with_a_note(monkeypatch, capsys) -> None:
    import bayescale.batch

    def capture(tasks, **kwargs):
        return pd.DataFrame({"key": [t.key for t in tasks], "status": "failed", "error": "x"})

    monkeypatch.setattr(bayescale.batch, "fit_many", capture)
    gadre = next(c for c in discrepancy_build.CASES if c.label.endswith("val_de-en_100 N<=1e9"))
    few = discrepancy_build.Case(
        "toy", "three sizes", lambda: (gadre.load()[0].query("params < 2e8"), gadre.load()[1])
    )
    with pytest.raises(RuntimeError, match="no held-out case"):
        discrepancy_build.build_cases([few, gadre], verbose=False, inner=True)
    assert "skipped three sizes (no inner cases)" in capsys.readouterr().out


def test_compute_distance_is_per_family_and_reads_compute_or_6nd() -> None:
    import xarray as xr

    compute = np.array([1e18, 4e18, 1e19, 1e20])
    data = xr.Dataset(
        {"compute": ("obs", compute)},
        coords={"obs_family": ("obs", ["a", "a", "b", "b"])},
    )
    test = pd.DataFrame(
        {
            "family": ["a", "b", "c"],
            "params": [1e9, 1e9, 1e9],
            "tokens": [4e9 * np.e / 6, 1e11 / 6, 1e10 / 6],
        }
    )
    d = discrepancy_build.compute_distance(data, test)
    # a: 6ND = e * 4e18, one e-fold beyond a's largest; b: inside b's range (1e20 max);
    # c (no runs of its own): against every run, 1e19 < 1e20
    np.testing.assert_allclose(d, [1.0, 0.0, 0.0], atol=1e-12)
    with_compute = test.assign(compute=[4e18, 1e20 * np.e**2, 1e21])
    np.testing.assert_allclose(
        discrepancy_build.compute_distance(data, with_compute), [0.0, 2.0, np.log(10.0)]
    )
    with pytest.raises(DataError, match="'compute', or its 'params' and 'tokens'"):
        discrepancy_build.compute_distance(data, test.drop(columns="tokens"))


def test_ratio_distance_measures_tokens_per_parameter_outside_the_range() -> None:
    import xarray as xr

    from bayescale.scaling.forecast import ratio_distance

    data = xr.Dataset(
        {
            "params": ("obs", [1e8, 1e8, 1e9, 1e9]),
            "tokens": ("obs", [2e9, 8e9, 5e9, 1e11]),  # D/N: a 20..80, b 5..100
        },
        coords={"obs_family": ("obs", ["a", "a", "b", "b"])},
    )
    test = pd.DataFrame(
        {
            "family": ["a", "a", "b", "c"],
            "params": [1e10, 1e10, 1e10, 1e10],
            "tokens": [5e10 / np.e, 1e12 * np.e**2, 5e11, 1e11],
        }
    )
    d = ratio_distance(data, test)
    # against every run's 5..100, whatever the family: 5/e is 1 e-fold below, 100 e^2 two
    # above, 50 and 10 inside
    np.testing.assert_allclose(d, [1.0, 2.0, 0.0, 0.0], atol=1e-12)
    in_compute = pd.DataFrame({"compute": [1e21]})
    assert np.isnan(ratio_distance(data, in_compute)).all()
