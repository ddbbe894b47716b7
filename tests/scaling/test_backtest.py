"""Back-tests: hold-out parsing, errors, scoring formulas (exact, without MCMC), the result
tables with mocked sampling, and one real-NUTS back-test on simulated data."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayescale
from bayescale.core.errors import ConvergenceWarning, DataError, SpecificationError
from bayescale.core.sampling import use_sampler
from bayescale.scaling.backtest import (
    BacktestResult,
    aggregate_scores,
    backtest,
    holdout_mask,
    log_predictive_density,
    score_draws,
)
from bayescale.scaling.forecast import NEW_FAMILY
from tests.helpers import prior_sampler, simulate_runs

FAST = {"draws": 60, "chains": 1, "extend_if_slow": False, "progressbar": False}


def _labelled(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["model"] = [
        f"{f}-{n:.0e}-{d / n:.0f}"
        for f, n, d in zip(out["family"], out["params"], out["tokens"], strict=True)
    ]
    return out


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _labelled(simulate_runs())


# -- scoring formulas ------------------------------------------------------------------------
def test_score_draws_computes_are_coverage_and_width_exactly() -> None:
    draws = np.column_stack([np.arange(1.0, 102.0), np.arange(1.0, 102.0) * 2])  # 101 draws
    observed = np.array([40.0, 300.0])
    s = score_draws(draws, observed, ci_prob=(0.5, 0.9))
    # median of 1..101 is 51; of 2..202 is 102
    np.testing.assert_allclose(s["median"], [51.0, 102.0])
    np.testing.assert_allclose(s["are"], [11 / 40, 198 / 300])
    # numpy's linear quantiles: q25 of 1..101 = 26, q75 = 76, q5 = 6, q95 = 96
    np.testing.assert_allclose(s["lower_50"], [26.0, 52.0])
    np.testing.assert_allclose(s["upper_50"], [76.0, 152.0])
    np.testing.assert_allclose(s["lower_90"], [6.0, 12.0])
    np.testing.assert_allclose(s["upper_90"], [96.0, 192.0])
    assert s["covered_50"].tolist() == [True, False]
    assert s["covered_90"].tolist() == [True, False]
    np.testing.assert_allclose(s["width_50"], [50 / 40, 100 / 300])
    np.testing.assert_allclose(s["width_90"], [90 / 40, 180 / 300])
    np.testing.assert_allclose(s["pit"], [39 / 101, 1.0])


def test_interval_ends_count_as_covered() -> None:
    draws = np.linspace(1.0, 3.0, 101)[:, None]
    lo = np.quantile(draws, 0.05)
    assert bool(score_draws(draws, np.array([lo]), ci_prob=(0.9,))["covered_90"].iloc[0])


def test_lpd_is_the_gaussian_kde_of_log_draws_minus_log_y() -> None:
    z = np.log(np.array([1.0, 2.0, 2.5, 4.0, 8.0]))
    y = 3.0
    sd = z.std(ddof=1)
    iqr = np.subtract(*np.quantile(z, [0.75, 0.25]))
    h = 0.9 * min(sd, iqr / 1.349) * 5 ** (-0.2)
    expected = np.log(np.mean(stats.norm.pdf(np.log(y), loc=z, scale=h))) - np.log(y)
    got = log_predictive_density(np.exp(z)[:, None], np.array([y]))
    np.testing.assert_allclose(got, [expected], rtol=1e-12)


def test_lpd_recovers_a_known_lognormal_density() -> None:
    rng = np.random.default_rng(0)
    mu, sd = np.log(2.5), 0.05
    draws = np.exp(rng.normal(mu, sd, size=(20000, 3)))
    y = np.array([2.5, 2.6, 2.4])
    exact = stats.lognorm.logpdf(y, s=sd, scale=np.exp(mu))
    np.testing.assert_allclose(log_predictive_density(draws, y), exact, atol=0.05)


def test_lpd_stays_finite_far_in_the_tail_and_handles_linear_scale() -> None:
    draws = np.exp(np.random.default_rng(1).normal(0.0, 0.01, size=(500, 1)))
    far = log_predictive_density(draws, np.array([5.0]))
    assert np.isfinite(far).all() and far[0] < -1000
    lin = np.random.default_rng(2).normal(0.0, 1.0, size=(20000, 1))  # negative draws
    np.testing.assert_allclose(
        log_predictive_density(lin, np.array([0.5])), stats.norm.logpdf(0.5), atol=0.03
    )


def test_aggregates_average_rows_and_average_group_means() -> None:
    rows = pd.DataFrame(
        {
            "family": ["a", "a", "a", "b"],
            "metric": ["m"] * 4,
            "law": ["chinchilla"] * 4,
            "pooling": ["pooled"] * 4,
            "are": [0.01, 0.02, 0.03, 0.10],
            "covered_90": [True, True, True, False],
            "width_90": [0.1, 0.1, 0.1, 0.3],
            "lpd": [1.0, 2.0, 3.0, -2.0],
            "converged": [True] * 4,
        }
    )
    s = aggregate_scores(rows, ["law", "pooling"]).iloc[0]
    assert s["n_rows"] == 4 and s["n_groups"] == 2 and s["n_failed"] == 0
    assert s["mean_are"] == pytest.approx(0.04)
    assert s["median_are"] == pytest.approx(0.025)
    assert s["coverage_90"] == pytest.approx(0.75)
    assert s["mean_lpd"] == pytest.approx(1.0)
    from bayescale.scaling.scoring import average_of_groups

    groups = aggregate_scores(rows, ["family", "metric", "law", "pooling"])
    agg = average_of_groups(groups, ["law", "pooling"]).iloc[0]
    # group a: are 0.02, coverage 1, lpd 2; group b: are 0.10, coverage 0, lpd -2
    assert agg["mean_are"] == pytest.approx(0.06)
    assert agg["coverage_90"] == pytest.approx(0.5)
    assert agg["width_90"] == pytest.approx(0.2)
    assert agg["mean_lpd"] == pytest.approx(0.0)
    assert agg["n_groups"] == 2 and agg["n_rows"] == 4


def test_failed_rows_are_counted_not_averaged() -> None:
    rows = pd.DataFrame(
        {
            "family": ["a", "b"],
            "metric": ["m", "m"],
            "law": ["l", "l"],
            "pooling": ["p", "p"],
            "are": [0.05, np.nan],
            "covered_90": pd.array([True, pd.NA], dtype="boolean"),
            "width_90": [0.2, np.nan],
            "lpd": [0.5, np.nan],
        }
    )
    s = aggregate_scores(rows, ["law", "pooling"]).iloc[0]
    assert (s["n_rows"], s["n_failed"], s["n_groups"]) == (1, 1, 1)
    assert s["coverage_90"] == 1.0 and s["mean_are"] == pytest.approx(0.05)


# -- hold-out parsing and errors (no fitting) --------------------------------------------------
def test_holdout_thresholds_families_labels_and_functions(table) -> None:
    big = table["params"] > 2e8
    np.testing.assert_array_equal(holdout_mask(table, {"params": 2e8}), big)
    many = holdout_mask(table, {"params": 2e8, "tokens": 1e10})
    np.testing.assert_array_equal(many, big | (table["tokens"] > 1e10))
    comp = holdout_mask(table, {"compute": 1e18})
    np.testing.assert_array_equal(comp, 6 * table["params"] * table["tokens"] > 1e18)
    rpj = holdout_mask(table, {"params": 2e8, "family": "fam_b"})
    np.testing.assert_array_equal(rpj, big & (table["family"] == "fam_b"))
    whole = holdout_mask(table, {"family": ["fam_c"]})
    np.testing.assert_array_equal(whole, table["family"] == "fam_c")
    labels = table["model"].iloc[[0, 5]].tolist()
    assert holdout_mask(table, labels).sum() == 2
    fn = holdout_mask(table, lambda d: (d["family"] == "fam_a").to_numpy())
    assert fn.sum() == (table["family"] == "fam_a").sum()


@pytest.mark.parametrize(
    ("holdout", "error", "match"),
    [
        ({"size": 1e9}, SpecificationError, "not understood"),
        ({"params": -1}, SpecificationError, "must be a number > 0"),
        ({"params": 1e8, "family": "fam_z"}, DataError, r"\['fam_z'\] is not in the data"),
        (["no-such-run"], DataError, "not in the 'model' column"),
        (lambda d: [True], SpecificationError, "boolean array"),
        ({}, SpecificationError, "empty"),
    ],
)
def test_bad_holdouts_name_the_problem(table, holdout, error, match) -> None:
    with pytest.raises(error, match=match):
        holdout_mask(table, holdout)


def test_labels_need_a_model_column(table) -> None:
    with pytest.raises(DataError, match="no 'model' column"):
        holdout_mask(table.drop(columns="model"), ["x"])


def test_backtest_rejects_bad_splits_before_fitting(table) -> None:
    with pytest.raises(DataError, match=r"selects no rows.*largest values are params 4e"):
        backtest(table, holdout={"params": 1e12})
    with pytest.raises(DataError, match="no training rows for metric 'loss'"):
        backtest(table, holdout={"params": 1.0})
    # fam_a keeps only its 2e7 runs (3 rows) but 'independent' chinchilla needs 5 per family
    with pytest.raises(DataError, match=r"at least 5 training rows.*\{'fam_a': 3\}"):
        backtest(
            table,
            holdout=lambda d: ((d["family"] == "fam_a") & (d["params"] > 2e7)).to_numpy(),
            pooling="independent",
        )
    one = table[table["family"].isin(["fam_a", "fam_b"])]
    with pytest.raises(SpecificationError, match="no population"):
        backtest(one, holdout={"family": "fam_b"}, pooling="pooled")
    with pytest.raises(SpecificationError, match="ci_prob must"):
        backtest(table, holdout={"params": 2e8}, ci_prob=(0.9, 90))
    with pytest.raises(DataError, match="metric"):
        backtest(table, holdout={"params": 2e8}, metric="acc")


# -- the result with mocked sampling -----------------------------------------------------------
@pytest.fixture(scope="module")
def result(table) -> BacktestResult:
    """Two metrics x two poolings, fam_c held out entirely (a new family)."""
    two = pd.concat([table, table.assign(metric="loss2", value=table["value"] * 1.1)])
    with use_sampler(prior_sampler):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return backtest(
                two,
                holdout=lambda d: ((d["params"] > 2e8) | (d["family"] == "fam_c")).to_numpy(),
                pooling={"shared": "shared", "pooled-exp": {"exponent": "pooled"}},
                ci_prob=(0.5, 0.9),
                keep_fits=True,
                seed=1,
                **FAST,
            )


def test_result_table_has_one_row_per_heldout_row_and_model(result, table) -> None:
    n_held = int(((table["params"] > 2e8) | (table["family"] == "fam_c")).sum())
    assert len(result.table) == n_held * 2 * 2  # 2 metrics x 2 poolings
    expected = {
        "metric",
        "family",
        "model",
        "params",
        "tokens",
        "compute",
        "observed",
        "median",
        "lower_50",
        "upper_50",
        "lower_90",
        "upper_90",
        "are",
        "covered_50",
        "covered_90",
        "width_50",
        "width_90",
        "lpd",
        "pit",
        "extrapolation",
        "law",
        "pooling",
        "converged",
        "diagnostics",
        "error",
        "new_family",
    }
    assert expected <= set(result.table.columns)
    assert set(result.table["pooling"]) == {"shared", "pooled-exp"}
    fam_c = result.table[result.table["family"] == "fam_c"]
    assert (
        fam_c["new_family"].all()
        and not result.table.loc[result.table["family"] != "fam_c", "new_family"].any()
    )
    assert (result.table["extrapolation"] >= 0).all()
    assert result.table["are"].notna().all() and (result.table["error"] == "").all()
    hold = result.holdout.set_index(["metric", "family"])
    assert hold.loc[("loss", "fam_c"), "n_train"] == 0
    assert hold.loc[("loss", "fam_c"), "new_family"]
    assert hold.loc[("loss", "fam_a"), "n_held_out"] == 3
    assert set(result.fits) == {
        (m, "chinchilla", p) for m in ("loss", "loss2") for p in ("shared", "pooled-exp")
    }


def test_result_scores_match_the_table(result) -> None:
    t = result.table
    for _, row in result.scores.iterrows():
        rows = t[(t["law"] == row["law"]) & (t["pooling"] == row["pooling"])]
        assert row["n_rows"] == len(rows)
        assert row["n_groups"] == 6  # 3 families x 2 metrics
        assert row["mean_are"] == pytest.approx(rows["are"].mean())
        assert row["coverage_90"] == pytest.approx(rows["covered_90"].astype(float).mean())
        agg = result.aggregate.set_index(["law", "pooling"]).loc[(row["law"], row["pooling"])]
        group_means = rows.groupby(["family", "metric"])["are"].mean()
        assert agg["mean_are"] == pytest.approx(group_means.mean())
    assert len(result.by_group) == 6 * 2


def test_forecasts_equal_the_fits_own_draws(result) -> None:
    fit = result.fits[("loss", "chinchilla", "shared")]
    rows = result.table[(result.table["metric"] == "loss") & (result.table["pooling"] == "shared")]
    pts = rows[["params", "tokens"]].assign(
        family=np.where(rows["new_family"], NEW_FAMILY, rows["family"])
    )
    draws = fit.forecast_draws(pts, seed=0)["new_run"].values.reshape(-1, len(rows))
    np.testing.assert_allclose(rows["median"], np.median(draws, axis=0))


def test_report_plot_and_csv(result, tmp_path) -> None:
    text = result.report()
    assert "Held out per (metric, family)" in text and "pooled-exp" in text
    assert "mean over (family, metric) groups" in text
    assert repr(result) == text
    fig = result.plot(tmp_path / "bt.png")
    assert (tmp_path / "bt.png").stat().st_size > 10_000
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2
    paths = result.to_csv(tmp_path / "out")
    assert set(paths) == {"table", "scores", "by_group", "aggregate", "holdout"}
    back = pd.read_csv(paths["table"])
    assert len(back) == len(result.table)


def test_a_failing_fit_is_recorded_and_the_rest_kept(table, mock_pymc_sample, monkeypatch) -> None:
    real_fit = bayescale.fit

    def flaky(data, law, *, pooling=None, **kw):
        if pooling == "independent":
            raise RuntimeError("boom")
        return real_fit(data, law, pooling=pooling, **kw)

    monkeypatch.setattr(bayescale, "fit", flaky)
    with pytest.warns(RuntimeWarning, match="pooling 'independent' failed.*boom"):
        res = backtest(
            table,
            holdout={"params": 2e8},
            pooling=("shared", "independent"),
            ci_prob=(0.9,),
            **FAST,
        )
    bad = res.table[res.table["pooling"] == "independent"]
    assert (bad["error"] == "RuntimeError: boom").all() and bad["are"].isna().all()
    good = res.table[res.table["pooling"] == "shared"]
    assert good["are"].notna().all()
    s = res.scores.set_index("pooling")
    assert s.loc["independent", "n_failed"] == 9 and s.loc["independent", "n_rows"] == 0
    assert s.loc["shared", "n_rows"] == 9
    assert "boom" in res.report()


# -- real NUTS on simulated data ---------------------------------------------------------------
@pytest.mark.nuts
def test_backtest_of_the_true_law_is_accurate_and_calibrated() -> None:
    # 36 training runs (N up to 2e8) of 3 families; the 9 runs at N = 4e8 are held out.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = backtest(
            simulate_runs(),
            "chinchilla",
            holdout={"params": 2e8},
            pooling={"default": None},
            seed=3,
            draws=500,
            tune=500,
            chains=2,
            extend_if_slow=False,
        )
    s = res.scores.iloc[0]
    assert s["n_rows"] == 9
    assert s["median_are"] < 0.02
    assert s["coverage_90"] >= 7 / 9
    assert s["mean_lpd"] > 0  # sharper than a unit-scale density for losses near 2-3
