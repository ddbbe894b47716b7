"""``bayescale.sampling.sample_posterior``: NUTS plus log-likelihood, posterior never lost."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from pymc.testing import mock_sample_setup_and_teardown

from bayescale.sampling import sample_posterior


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
