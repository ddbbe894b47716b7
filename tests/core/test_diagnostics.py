"""bayescale's own R-hat and bulk ESS against ArviZ's (``arviz_stats.summary``)."""

from __future__ import annotations

import warnings

import arviz_stats
import numpy as np
import pytest
import xarray as xr

from bayescale.core.diagnostics import check_convergence, diagnostics_table, ess_bulk, rhat_rank
from bayescale.core.errors import ConvergenceWarning


def _posterior(rng: np.random.Generator, chains: int = 4, draws: int = 500) -> xr.Dataset:
    """Well mixed, autocorrelated, stuck, tied and discrete draws with labelled dims."""
    white = rng.normal(size=(chains, draws))
    ar = np.zeros((chains, draws))
    for t in range(1, draws):  # AR(1), rho = 0.9: ESS far below the draws
        ar[:, t] = 0.9 * ar[:, t - 1] + rng.normal(size=chains)
    shifted = rng.normal(size=(chains, draws)) + np.arange(chains)[:, None]  # chains disagree
    ties = rng.integers(0, 3, size=(chains, draws)).astype(float)  # many tied ranks
    matrix = rng.standard_t(3, size=(chains, draws, 2, 3))
    return xr.Dataset(
        {
            "white": (("chain", "draw"), white),
            "ar": (("chain", "draw"), ar),
            "shifted": (("chain", "draw"), shifted),
            "ties": (("chain", "draw"), ties),
            "constant": (("chain", "draw"), np.full((chains, draws), 2.5)),
            "theta": (("chain", "draw", "family", "k"), matrix),
        },
        coords={
            "chain": np.arange(chains),
            "draw": np.arange(draws),
            "family": ["rpj", "c4"],
            "k": [0, 1, 2],
        },
    )


@pytest.mark.parametrize(("chains", "draws"), [(4, 500), (2, 101), (1, 300)])
def test_rhat_and_ess_match_arviz(chains, draws):
    post = _posterior(np.random.default_rng(chains * 1000 + draws), chains, draws)
    tree = xr.DataTree.from_dict({"posterior": post})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = arviz_stats.summary(tree, kind="diagnostics", round_to="none")
    rhat, ess = diagnostics_table(post)
    assert list(rhat) == [str(i) for i in ref.index]  # the same labels, in the same order
    np.testing.assert_allclose(list(rhat.values()), ref["r_hat"].astype(float), rtol=1e-10)
    np.testing.assert_allclose(list(ess.values()), ref["ess_bulk"].astype(float), rtol=1e-8)
    assert ess["ar"] < 0.2 * ess["white"]
    if chains > 1:
        assert rhat["shifted"] > 1.1 and rhat["white"] < 1.02


def test_invalid_draws_give_nan():
    assert np.isnan(rhat_rank(np.ones((1, 100))))  # one chain
    assert np.isnan(ess_bulk(np.ones((4, 3))))  # fewer than 4 draws
    bad = np.random.default_rng(0).normal(size=(4, 100))
    bad[2, 5] = np.nan
    assert np.isnan(rhat_rank(bad)) and np.isnan(ess_bulk(bad))


def test_check_convergence_names_the_failing_variables():
    rng = np.random.default_rng(1)
    post = _posterior(rng)[["white", "shifted", "ar"]]
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((4, 500), bool))})
    tree = xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})
    with pytest.warns(ConvergenceWarning, match="shifted"):
        diag = check_convergence(tree)
    assert not diag.ok and "shifted" in diag.bad_rhat and "white" not in diag.bad_rhat
    assert "ar" in diag.low_ess and diag.max_rhat == diag.bad_rhat["shifted"]
    ok = check_convergence(tree, var_names=["white"], warn=False)
    assert ok.ok and ok.divergences == 0 and ok.n_samples == 2000
