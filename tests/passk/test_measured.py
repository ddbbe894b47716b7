"""Coverage as it will be measured (:mod:`bayescale.passk.measured`): the unbiased
estimate once each problem has its final attempts, drawn from the posterior of ``p``.

The function is checked against what it must reproduce exactly (no attempts to come: the
estimate of the made counts; the estimator is unbiased: the mean of the draws is the
expected coverage; at ``k = n`` each problem is a coin), and the API of
``PassKFit.coverage(attempts=...)`` on fits with prior draws instead of MCMC.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from bayescale import passk
from bayescale.core.diagnostics import ConvergenceWarning
from bayescale.core.errors import SpecificationError
from bayescale.passk.curves import observed_coverage
from bayescale.passk.measured import measured_coverage
from tests.helpers import prior_sampler


def test_nothing_left_to_attempt_gives_the_estimate_of_the_made_counts() -> None:
    rng = np.random.default_rng(0)
    n = np.array([50, 80, 100, 100])
    c = np.array([0, 3, 40, 100])
    p = rng.uniform(size=(7, 4))
    out = measured_coverage(p, np.array([1.0, 10.0, 50.0]), n_made=n, c_made=c, n_total=n, rng=rng)
    _, want = passk.coverage_curve(n, c, [1, 10, 50])
    np.testing.assert_allclose(out, np.broadcast_to(want, out.shape), rtol=1e-9)


def test_the_draws_average_to_the_expected_coverage() -> None:
    # the estimator is unbiased: over the binomial attempts its mean is 1 - (1 - p)^k
    rng = np.random.default_rng(1)
    p = np.tile(rng.beta(0.4, 20.0, size=200), (4000, 1))
    k = np.array([10.0, 100.0, 1000.0])
    zeros = np.zeros(200)
    out = measured_coverage(p, k, n_made=zeros, c_made=zeros, n_total=np.full(200, 1000), rng=rng)
    want = observed_coverage(p[:1], k)[0]
    se = out.std(axis=0) / np.sqrt(out.shape[0])
    assert np.all(np.abs(out.mean(axis=0) - want) < 4 * se + 1e-12)
    # at k = n every problem is solved or not: a coin of probability 1 - (1 - p)^n
    q = 1.0 - (1.0 - p[0]) ** 1000
    assert out[:, 2].var() == pytest.approx(np.sum(q * (1 - q)) / 200**2, rel=0.1)
    # at k << n the estimate averages over subsets of the attempts: far less spread
    assert out[:, 0].var() < 0.2 * out[:, 2].var()


def test_a_certain_problem_is_solved_at_every_k_without_a_warning() -> None:
    p = np.array([[1.0, 0.0, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = observed_coverage(p, np.array([0.0, 1.0, 2.0, 1e6]))
    np.testing.assert_allclose(out[0], [0.0, 0.5, (1 + 0.75) / 3, (1 + 1) / 3], atol=1e-12)


def test_made_attempts_are_kept() -> None:
    # a problem solved once in the made attempts stays solved at k = n_total
    rng = np.random.default_rng(2)
    p = np.full((500, 2), 1e-9)
    out = measured_coverage(
        p, np.array([1000.0]), n_made=np.array([100, 100]), c_made=np.array([1, 0]),
        n_total=np.array([1000, 1000]), rng=rng,
    )  # fmt: skip
    np.testing.assert_allclose(out[:, 0], 0.5, atol=1e-6)


@pytest.fixture(scope="module")
def fits() -> dict[str, passk.PassKFit]:
    counts = passk.simulate_shared_counts(n_problems=30, n_samples=50, seed=3)
    options = {"draws": 60, "chains": 2, "progressbar": False, "extend_if_slow": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        return {
            model: passk.fit(counts, model=model, sampler=prior_sampler, **options)  # type: ignore[arg-type]
            for model in ("beta", "shared_difficulty")
        }


@pytest.mark.parametrize("model", ["beta", "shared_difficulty"])
def test_measured_forecasts_are_wider_where_attempts_remain(
    fits: dict[str, passk.PassKFit], model: str
) -> None:
    fit = fits[model]
    counts = fit.counts_frame()
    table = counts[["model", "problem"]].assign(n_samples=2000)
    measured = fit.coverage([2000.0], seed=4, attempts=table).set_index("model")
    same = fit.coverage([2000.0], seed=4, attempts=2000).set_index("model")
    pd.testing.assert_frame_equal(measured, same)
    # the same draws of p (same seed), plus the spread of the 1,950 attempts to come
    expected = fit.coverage_draws([2000.0], seed=4).values
    noise = fit.coverage_draws([2000.0], seed=4, attempts=2000).values - expected
    assert noise.std() > 0.01
    # with no attempts to come the forecast is the estimate of the fitted counts
    now = fit.coverage([50.0], attempts=counts).set_index("model")
    for label, g in counts.groupby("model"):
        _, want = passk.coverage_curve(g["n_samples"], g["n_correct"], [50])
        assert now.loc[label, "lower"] == pytest.approx(want[0])
        assert now.loc[label, "upper"] == pytest.approx(want[0])


def test_measured_forecast_of_a_new_size(fits: dict[str, passk.PassKFit]) -> None:
    fit = fits["shared_difficulty"]
    table = fit.coverage([500.0], params={"N=1e10": 1e10}, attempts=500)
    assert table["model"].tolist() == ["N=1e10"]
    assert 0.0 <= table["lower"].iloc[0] <= table["upper"].iloc[0] <= 1.0


def test_bad_attempts_say_what_to_do(fits: dict[str, passk.PassKFit]) -> None:
    fit = fits["beta"]
    counts = fit.counts_frame()
    with pytest.raises(SpecificationError, match="fewer than the 50 already made"):
        fit.coverage([10.0], attempts=20)
    with pytest.raises(SpecificationError, match="k = 5000 exceeds"):
        fit.coverage([5000.0], attempts=1000)
    with pytest.raises(SpecificationError, match="no row for model"):
        fit.coverage([10.0], attempts=counts.iloc[1:])
    with pytest.raises(SpecificationError, match="whole number"):
        fit.coverage([10.0], attempts=100.5)
    with pytest.raises(SpecificationError, match="whole number or a table"):
        fit.coverage([10.0], attempts="many")  # type: ignore[arg-type]
    with pytest.raises(SpecificationError, match="more than one row"):
        fit.coverage([10.0], attempts=pd.concat([counts, counts.iloc[:1]]))
    with pytest.raises(SpecificationError, match="lacks column"):
        fit.coverage([10.0], attempts=counts.drop(columns="n_samples"))
    with pytest.raises(SpecificationError, match="problems='observed'"):
        fit.coverage([10.0], attempts=100, problems="population")
