"""The quanta model: simulator scaling, single-quantum steps, alpha recovery, consistency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayescale.core.errors import DataError, SpecificationError
from bayescale.emergence import quanta as q
from bayescale.emergence import quanta_sim as qs

ALPHA = 0.5


# -- simulator ------------------------------------------------------------------------
@pytest.mark.parametrize("width", [0.0, 0.3])
def test_total_loss_follows_n_and_d_power_laws(width: float) -> None:
    sim = qs.simulate_quanta(
        ALPHA,
        sizes=np.logspace(1, 4, 10),
        tokens=np.logspace(3, 8, 10),
        tau=10.0,
        width=width,
    )
    assert sim.slope("params") == pytest.approx(-ALPHA, abs=0.01)
    assert sim.slope("tokens") == pytest.approx(-ALPHA / (ALPHA + 1), abs=0.01)
    # and not the other exponent: the check can fail
    assert abs(sim.slope("tokens") + ALPHA) > 0.1


def test_truncation_bends_the_curve() -> None:
    """With finitely many quanta the loss falls faster than N^-alpha near K."""
    sim = qs.simulate_quanta(ALPHA, n_quanta=2000, sizes=np.logspace(2.5, 3.2, 6))
    assert sim.slope("params", n_max_share=1.0) < -ALPHA - 0.1


def test_single_quantum_is_a_step_and_the_sum_is_smooth() -> None:
    sizes = np.logspace(0, 3, 61)
    sim = qs.simulate_quanta(ALPHA, sizes=sizes, track=[20], loss_per_quantum=2.0)
    one = sim.per_quantum.sort_values("scale")
    below, above = one[one["scale"] < 20], one[one["scale"] >= 20]
    assert np.allclose(below["loss"], 2.0) and np.allclose(above["loss"], 0.0)
    # the whole drop happens between two neighbouring grid points
    assert np.count_nonzero(np.diff(one["loss"].to_numpy())) == 1
    total = sim.total.sort_values("scale")["reducible"].to_numpy()
    assert np.all(np.diff(total) <= 0)
    # the total's largest relative drop per grid step is small (smooth), the quantum's is 100%
    assert np.max(-np.diff(np.log(total[20:]))) < 0.2


def test_smooth_step_is_centred_on_the_threshold() -> None:
    sim = qs.simulate_quanta(ALPHA, sizes=[5.0, 10.0, 20.0], track=[10], width=0.2)
    learned = sim.per_quantum.sort_values("scale")["learned"].to_numpy()
    assert learned[0] < 0.05 and learned[1] == pytest.approx(0.5) and learned[2] > 0.95


def test_data_axis_learns_quantum_when_seen_tau_times() -> None:
    p = qs.zipf_frequencies(ALPHA, 1000)
    tau = 50.0
    d_needed = tau / p[9]  # quantum 10
    sim = qs.simulate_quanta(
        ALPHA, n_quanta=1000, tokens=[0.99 * d_needed, 1.01 * d_needed], tau=tau, track=[10]
    )
    assert sim.per_quantum["learned"].tolist() == [0.0, 1.0]


def test_tail_mass_midpoint_matches_exact_sum() -> None:
    n = np.array([3, 10, 100, 1000])
    approx = qs.tail_mass(ALPHA, n, 100_000)
    exact = qs.tail_mass(ALPHA, n, 100_000, exact=True)
    assert np.allclose(approx, exact, rtol=0.01)


# -- errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.0, -0.3, float("nan")])
def test_alpha_must_be_positive(alpha: float) -> None:
    with pytest.raises(SpecificationError, match="alpha must be a positive"):
        qs.simulate_quanta(alpha, sizes=[10.0])


def test_simulator_needs_an_axis() -> None:
    with pytest.raises(SpecificationError, match="sizes="):
        qs.simulate_quanta(ALPHA)


def test_counts_and_token_losses_are_validated() -> None:
    with pytest.raises(DataError, match="non-negative integers"):
        q.fit_zipf_counts([5, -1, 2])
    with pytest.raises(DataError, match="'count' column"):
        q.fit_zipf_counts(pd.DataFrame({"n": [1, 2]}))
    one_size = pd.DataFrame({"params": [1e6] * 3, "loss": [0.1, 2.0, 3.0]})
    with pytest.raises(DataError, match="at least 2 model sizes"):
        q.fit_token_losses(one_size)
    zero = pd.DataFrame({"params": [1e6, 1e7], "loss": [0.0, 1.0]})
    with pytest.raises(DataError, match="positive and finite"):
        q.fit_token_losses(zero)


# -- consistency check ----------------------------------------------------------------
def _fake_posterior(alpha: np.ndarray, beta: np.ndarray) -> xr.Dataset:
    fam = ["a", "b"]
    shape = (2, alpha.shape[-1] // 4, 2)
    return xr.Dataset(
        {
            "alpha": (("chain", "draw", "family"), alpha.reshape(shape)),
            "beta": (("chain", "draw", "family"), beta.reshape(shape)),
        },
        coords={"family": fam},
    )


class _FitLike:
    """Anything with a ``posterior`` Dataset works (a ScalingFit has one)."""

    def __init__(self, post: xr.Dataset) -> None:
        self.posterior = post


def test_consistency_agrees_when_beta_is_alpha_over_alpha_plus_one() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0.34, 0.01, size=4000)
    post = _fake_posterior(a, a / (a + 1) + rng.normal(0, 0.003, size=4000))
    table = q.quanta_consistency(_FitLike(post), ci_prob=0.9)
    assert list(table.index) == ["a", "b"]
    assert (table["verdict"] == "consistent").all()
    assert (table["p_agree"] > 0.95).all()
    assert table.attrs["ci_prob"] == 0.9


def test_consistency_flags_beta_equal_alpha() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0.34, 0.01, size=4000)
    table = q.quanta_consistency(_fake_posterior(a, a.copy()), ci_prob=0.9)
    assert (table["verdict"] == "beta above alpha/(alpha+1)").all()
    assert (table["p_agree"] < 0.01).all() and (table["p_beta_above"] > 0.99).all()
    assert table.loc["a", "diff"] == pytest.approx(0.34 - 0.34 / 1.34, abs=0.01)


def test_consistency_needs_alpha_and_beta() -> None:
    post = xr.Dataset({"alpha": (("chain", "draw"), np.full((2, 5), 0.3))})
    with pytest.raises(SpecificationError, match="data exponent 'beta'"):
        q.quanta_consistency(post)
    with pytest.raises(SpecificationError, match="no reference posterior"):
        q.quanta_consistency("no_such_reference_anywhere")


def test_consistency_on_the_gadre_reference() -> None:
    """The shipped reference: beta (~0.25) sits above alpha/(alpha+1) (~0.19)."""
    table = q.quanta_consistency("gadre2024_chinchilla", ci_prob=0.9)
    assert "population" in table.index and len(table) == 4
    pop = table.loc["population"]
    assert pop["beta_predicted"] == pytest.approx(pop["alpha"] / (1 + pop["alpha"]), rel=0.02)
    assert pop["diff_lower"] > 0  # what the reference says (docs/quanta.md)


# -- Bayesian recovery (real NUTS) ----------------------------------------------------
@pytest.fixture(scope="module")
def counts_fit() -> q.QuantaFit:
    counts = qs.simulate_quanta_counts(ALPHA, n_quanta=1000, n_samples=20_000, seed=1)
    return q.fit_zipf_counts(counts, draws=1000, tune=500, chains=2, seed=1)


@pytest.fixture(scope="module")
def token_fit() -> q.QuantaFit:
    data = qs.simulate_token_losses(
        ALPHA,
        [1e4, 3e4, 1e5, 3e5, 1e6],
        params_per_quantum=1e4,
        n_tokens=1000,
        n_quanta=None,
        shared_tokens=False,
        seed=2,
    )
    return q.fit_token_losses(data, draws=500, tune=500, chains=2, seed=1)


@pytest.mark.nuts
def test_alpha_recovered_from_counts(counts_fit: q.QuantaFit) -> None:
    assert counts_fit.diagnostics.ok, str(counts_fit.diagnostics)
    lo, hi = counts_fit.alpha_interval(ci_prob=0.9)
    assert lo < ALPHA < hi and hi - lo < 0.05


@pytest.mark.nuts
def test_alpha_recovered_from_token_losses(token_fit: q.QuantaFit) -> None:
    assert token_fit.diagnostics.ok, str(token_fit.diagnostics)
    lo, hi = token_fit.alpha_interval(ci_prob=0.9)
    assert lo < ALPHA < hi and hi - lo < 0.2
    ex = token_fit.exponents(ci_prob=0.9)
    assert ex.loc["alpha_D", "median"] == pytest.approx(
        ex.loc["alpha", "median"] / (1 + ex.loc["alpha", "median"]), rel=1e-6
    )
    c = token_fit.posterior["params_per_quantum"].values
    assert np.quantile(c, 0.05) < 1e4 < np.quantile(c, 0.95)
    summary = token_fit.summary(ci_prob=0.9)
    assert {"alpha", "alpha_N", "alpha_D"} <= set(summary.index)
