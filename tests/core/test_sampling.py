"""The sampling engine: retry policy, injected samplers, log-likelihood (posterior never lost)."""

from __future__ import annotations

import warnings

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from bayescale.core.errors import SpecificationError
from bayescale.core.sampling import (
    SamplingRun,
    run_nuts,
    sample_posterior,
    sample_until_converged,
    use_sampler,
)
from tests.helpers import prior_sampler


@pytest.fixture
def mocked():
    with use_sampler(prior_sampler):
        yield


def _model() -> pm.Model:
    with pm.Model(coords={"obs": range(5)}) as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("y", mu, 1.0, observed=np.arange(5.0), dims="obs")
    return model


def test_adds_the_pointwise_log_likelihood(mocked: None) -> None:
    idata = sample_posterior(_model(), draws=20, tune=10, chains=2, seed=1, log_likelihood=["y"])
    ll = idata["log_likelihood"].dataset["y"]
    assert ll.sizes == {"chain": 2, "draw": 20, "obs": 5}


def test_a_failing_log_likelihood_keeps_the_posterior(mocked: None) -> None:
    with pytest.warns(RuntimeWarning, match="the posterior is kept"):
        idata = sample_posterior(
            _model(), draws=20, tune=10, chains=2, seed=1, log_likelihood=["no_such_variable"]
        )
    assert "mu" in idata["posterior"].dataset
    assert "log_likelihood" not in idata.children


def _tree(chain_means: list[float], draws: int, divergences: int = 0) -> xr.DataTree:
    rng = np.random.default_rng(0)
    mu = np.stack([m + rng.standard_normal(draws) for m in chain_means])
    diverging = np.zeros(mu.shape, dtype=bool)
    diverging[0, :divergences] = True
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset({"mu": (("chain", "draw"), mu)}),
            "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), diverging)}),
        }
    )


def _fake_sampler(trees):
    """A Sampler that returns the next prepared DataTree and records its settings."""
    calls: list[dict] = []

    def sample(model, *, key, draws, tune, chains, seed, target_accept, progressbar, **options):
        calls.append(
            {"draws": draws, "tune": tune, "seed": seed, "target_accept": target_accept, **options}
        )
        return trees(len(calls), draws)

    return sample, calls


def test_slow_mixing_is_sampled_again_with_twice_the_draws() -> None:
    sampler, calls = _fake_sampler(
        lambda n, draws: _tree([0.0, 3.0] if n == 1 else [0.0, 0.0], draws)
    )  # chains disagree, then agree
    notes: list[str] = []
    idata = sample_until_converged(
        None, check_vars=["mu"], draws=500, tune=300, chains=2, seed=7, notes=notes, sampler=sampler
    )
    assert [(c["draws"], c["tune"], c["seed"]) for c in calls] == [(500, 300, 7), (1000, 600, 8)]
    assert idata["posterior"].sizes["draw"] == 1000
    assert len(notes) == 1 and "tune=600, draws=1000" in notes[0] and "R-hat" in notes[0]


@pytest.mark.parametrize("extend", [True, 1, 2, 3])
def test_a_fit_kind_can_allow_more_than_one_longer_run(extend: bool | int) -> None:
    """``extend_if_slow=n``: up to n longer runs, each twice the last, while still slow."""
    sampler, calls = _fake_sampler(
        lambda n, draws: _tree([0.0, 3.0] if n < 3 else [0.0, 0.0], draws)
    )  # chains disagree twice, then agree
    idata, run = run_nuts(
        None,
        check_vars=["mu"],
        draws=500,
        tune=300,
        seed=7,
        sampler=sampler,
        extend_if_slow=extend,
    )
    runs = min(int(extend), 2) + 1
    assert [(c["draws"], c["tune"]) for c in calls] == [(500, 300), (1000, 600), (2000, 1200)][
        :runs
    ]
    assert idata["posterior"].sizes["draw"] == run.draws == 500 * 2 ** (runs - 1)
    assert len(run.reruns) == runs - 1 and "R-hat" in str(run.extended_after)
    if runs == 3:
        assert "the run with tune=600, draws=1000 fell short" in run.reruns[1]


def test_no_longer_run_when_not_allowed_and_a_negative_count_is_refused() -> None:
    sampler, calls = _fake_sampler(lambda n, draws: _tree([0.0, 3.0], draws))
    _, run = run_nuts(None, check_vars=["mu"], seed=7, sampler=sampler, extend_if_slow=False)
    assert len(calls) == 1 and run.reruns == [] and run.extended_after is None
    with pytest.raises(SpecificationError, match="extend_if_slow=-1"):
        run_nuts(None, check_vars=["mu"], sampler=sampler, extend_if_slow=-1)
    with pytest.raises(SpecificationError, match=r"extend_if_slow=1\.5"):
        run_nuts(None, check_vars=["mu"], sampler=sampler, extend_if_slow=1.5)  # type: ignore[arg-type]


def test_passk_fits_allow_two_longer_runs_by_default() -> None:
    """Prior draws (ESS = draws, below 400 at 160 x 2 chains) stay short: 3 runs, 40-80-160."""
    from bayescale import passk

    draws: list[int] = []

    def counting(model, **kw):
        draws.append(kw["draws"])
        return prior_sampler(model, **kw)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = passk.fit(
            passk.example_counts(), draws=40, tune=10, chains=2, progressbar=False, sampler=counting
        )
    assert draws == [40, 80, 160] and fit.sampler["draws"] == 160
    assert sum("sampled again with" in n for n in fit.notes) == 2


def test_divergences_are_not_sampled_away_with_a_chosen_adaptation() -> None:
    sampler, calls = _fake_sampler(lambda n, draws: _tree([0.0, 3.0], draws, divergences=5))
    notes: list[str] = []
    sample_until_converged(
        None,
        check_vars=["mu"],
        draws=500,
        tune=300,
        chains=2,
        seed=7,
        notes=notes,
        sampler=sampler,
        nuts={"adaptation": "diag"},
    )
    assert [c["draws"] for c in calls] == [500] and notes == []


def test_divergences_with_the_default_low_rank_metric_fall_back_to_the_diagonal() -> None:
    sampler, calls = _fake_sampler(
        lambda n, draws: _tree([0.0, 0.0], draws, divergences=5 if n == 1 else 0)
    )
    idata, run = run_nuts(None, check_vars=["mu"], draws=500, tune=300, seed=1, sampler=sampler)
    assert [c["adaptation"] for c in calls] == ["low_rank", "diag"]
    assert run.adaptation == "diag" and "diagonal mass matrix" in run.reruns[0]
    assert idata["sample_stats"].dataset["diverging"].sum() == 0


def test_divergences_left_after_the_diagonal_get_one_run_with_a_higher_target_accept() -> None:
    """``accept_on_divergence``: low-rank, diagonal, then one run at the higher target
    acceptance (recorded); divergences that remain then are reported, never sampled away
    with longer runs."""

    def sample(divergent_runs: int) -> tuple[xr.DataTree, SamplingRun, list[dict]]:
        sampler, calls = _fake_sampler(
            lambda n, draws: _tree([0.0, 0.0], draws, divergences=int(n <= divergent_runs))
        )
        idata, run = run_nuts(
            None, check_vars=["mu"], draws=500, tune=300, seed=1, target_accept=0.9,
            sampler=sampler, accept_on_divergence=0.97,
        )  # fmt: skip
        return idata, run, calls

    idata, run, calls = sample(divergent_runs=2)
    assert [(c["adaptation"], c["target_accept"]) for c in calls] == [
        ("low_rank", 0.9),
        ("diag", 0.9),
        ("diag", 0.97),
    ]
    assert run.target_accept == 0.97 and "target_accept=0.97" in run.reruns[1]
    assert idata["sample_stats"].dataset["diverging"].sum() == 0
    _, run, calls = sample(divergent_runs=99)  # still divergent at 0.97
    assert [c["draws"] for c in calls] == [500, 500, 500] and len(run.reruns) == 2


def test_an_injected_default_sampler_is_used_by_every_fit_in_the_block() -> None:
    sampler, calls = _fake_sampler(lambda n, draws: _tree([0.0, 0.0], draws))
    with use_sampler(sampler):
        sample_posterior(None, draws=50, tune=10, chains=2, seed=3)
    assert len(calls) == 1 and calls[0]["draws"] == 50


def test_an_unknown_sampler_is_refused() -> None:
    with pytest.raises(SpecificationError, match="nuts_sampler"):
        run_nuts(_model(), check_vars=[], nuts_sampler="stan")
