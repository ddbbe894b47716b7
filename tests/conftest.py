"""Fixtures shared by the tests (helpers live in :mod:`tests.helpers`)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from pymc.testing import mock_sample_setup_and_teardown

from bayescale.core.errors import ConvergenceWarning
from bayescale.core.sampling import use_sampler
from tests.helpers import SHARED_DATA, prior_sampler, simulate_runs


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``shared_data`` tests, with the reason, when the shared data are absent."""
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(
        reason=f"shared data absent at {SHARED_DATA} (set BAYESCALE_SHARED_DATA to run these)"
    )
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def runs() -> pd.DataFrame:
    return simulate_runs()


@pytest.fixture
def mock_pymc_sample():
    """Prior draws instead of MCMC for every fit in the test (bayescale's injectable
    sampler, :func:`bayescale.core.sampling.use_sampler`; ``pm.sample`` is replaced too, by
    PyMC's own test helper, for code that calls it directly)."""
    with warnings.catch_warnings(), use_sampler(prior_sampler):
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield from mock_sample_setup_and_teardown()
