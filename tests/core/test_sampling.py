"""``bayescale.core.sampling.sample_posterior``: NUTS plus log-likelihood, posterior never lost."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from pymc.testing import mock_sample_setup_and_teardown

from bayescale.core.sampling import sample_posterior


@pytest.fixture
def mocked():
    yield from mock_sample_setup_and_teardown()


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


def test_slow_mixing_is_sampled_again_with_twice_the_draws(monkeypatch) -> None:
    import bayescale.core.sampling as sampling

    calls: list[tuple[int, int, object]] = []

    def fake(model, *, draws, tune, chains, seed, **options):
        calls.append((draws, tune, seed))
        means = [0.0, 3.0] if len(calls) == 1 else [0.0, 0.0]  # chains disagree, then agree
        return _tree(means, draws)

    monkeypatch.setattr(sampling, "sample_posterior", fake)
    notes: list[str] = []
    idata = sampling.sample_until_converged(
        None, check_vars=["mu"], draws=500, tune=300, chains=2, seed=7, notes=notes
    )
    assert calls == [(500, 300, 7), (1000, 600, 8)]
    assert idata["posterior"].sizes["draw"] == 1000
    assert len(notes) == 1 and "tune=600, draws=1000" in notes[0] and "R-hat" in notes[0]


def test_divergences_are_not_sampled_away(monkeypatch) -> None:
    import bayescale.core.sampling as sampling

    calls: list[int] = []

    def fake(model, *, draws, tune, chains, seed, **options):
        calls.append(draws)
        return _tree([0.0, 3.0], draws, divergences=5)

    monkeypatch.setattr(sampling, "sample_posterior", fake)
    notes: list[str] = []
    sampling.sample_until_converged(
        None, check_vars=["mu"], draws=500, tune=300, chains=2, seed=7, notes=notes
    )
    assert calls == [500] and notes == []
