"""Fast tests of the baselines timed by ``benchmarks/speed.py`` (``benchmarks/baselines.py``).

No MCMC here: the naive PyMC models are only built and their log-density evaluated.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import baselines

TRUTH = baselines.HOFFMANN_TRUTH


@pytest.fixture(scope="module")
def noiseless() -> pd.DataFrame:
    return baselines.simulate_chinchilla(120, sigma=1e-4, seed=1)


def test_start_grid_sizes() -> None:
    full = baselines.start_grid("full")
    assert full.shape == (4500, 5)
    assert baselines.start_grid("reduced").shape == (243, 5)
    sub = baselines.start_grid(17, seed=3)
    assert sub.shape == (17, 5)
    # drawn from the full grid
    assert {tuple(r) for r in sub} <= {tuple(r) for r in full}
    # columns are (a, b, e, alpha, beta): a and b run to 25, the exponents to 2
    assert full[:, 0].max() == 25 and full[:, 3].max() == 2.0 and full[:, 2].min() == -1
    with pytest.raises(ValueError):
        baselines.start_grid("huge")


def test_huber_is_quadratic_then_linear() -> None:
    r = np.array([0.0, 5e-4, -5e-4, 0.01, -0.01])
    h = baselines.huber(r, 1e-3)
    np.testing.assert_allclose(h[:3], 0.5 * r[:3] ** 2)
    np.testing.assert_allclose(h[3:], 1e-3 * (0.01 - 0.5e-3))


def test_log_pred_matches_law(noiseless: pd.DataFrame) -> None:
    p = [*np.log([TRUTH["A"], TRUTH["B"], TRUTH["E"]]).tolist(), TRUTH["alpha"], TRUTH["beta"]]
    pred = baselines.log_pred(
        np.array(p), np.log(noiseless["params"].values), np.log(noiseless["tokens"].values)
    )
    law = baselines.predict_loss(TRUTH, noiseless["params"], noiseless["tokens"])
    np.testing.assert_allclose(np.exp(pred), law, rtol=1e-12)


def test_analytic_gradient_matches_finite_differences(noiseless: pd.DataFrame) -> None:
    args = (
        np.log(noiseless["params"].values),
        np.log(noiseless["tokens"].values),
        np.log(noiseless["value"].values) + 0.05 * np.sin(np.arange(len(noiseless))),
        1e-3,
    )

    def f(p: np.ndarray) -> float:
        return baselines.huber_objective(p, *args)[0]

    def g(p: np.ndarray) -> np.ndarray:
        return baselines.huber_objective(p, *args)[1]

    for p0 in ([6.0, 7.0, 0.5, 0.3, 0.35], [2.0, 3.0, -0.5, 0.1, 0.2]):
        p0 = np.array(p0)
        assert check_grad(f, g, p0, epsilon=1e-7) < 1e-5 * (1 + np.abs(g(p0)).max())


@pytest.mark.parametrize("jac", ["analytic", "numeric"])
def test_grid_recovers_known_parameters(noiseless: pd.DataFrame, jac: str) -> None:
    starts = baselines.start_grid("reduced")
    # a small slice keeps it fast; it must include a start that reaches the optimum
    res = baselines.fit_grid(noiseless, starts[::4], jac=jac)
    nat = res.natural
    assert nat["alpha"] == pytest.approx(TRUTH["alpha"], abs=0.01)
    assert nat["beta"] == pytest.approx(TRUTH["beta"], abs=0.01)
    assert nat["E"] == pytest.approx(TRUTH["E"], rel=0.02)
    assert 0 < res.share_at_optimum <= 1
    assert res.n_starts == len(starts[::4]) and res.n_fev > 0


def test_exclude_top_drops_highest_losses() -> None:
    df = baselines.simulate_chinchilla(50, seed=2)
    log_n, _, log_l = baselines._arrays(df, exclude_top=5)
    assert log_n.size == 45
    assert np.exp(log_l).max() < np.sort(df["value"].values)[-5]


def test_bootstrap_intervals_cover_truth() -> None:
    df = baselines.simulate_chinchilla(240, sigma=0.01, seed=3)
    start = np.r_[np.log([TRUTH["A"], TRUTH["B"], TRUTH["E"]]), TRUTH["alpha"], TRUTH["beta"]]
    boot = baselines.bootstrap(df, start, n_boot=40, seed=0)
    assert boot.draws.shape == (40, 5) and np.isfinite(boot.draws).all()
    far = pd.DataFrame({"params": [1e11], "tokens": [3e12]})
    ci = baselines.percentile_intervals(boot, 0.9, points=far)
    for k in ("alpha", "beta"):
        lo, hi = ci[k]
        assert lo < hi
        assert lo - 0.05 < TRUTH[k] < hi + 0.05
    lo, hi = ci["loss_0"]
    truth_far = baselines.predict_loss(TRUTH, [1e11], [3e12])[0]
    assert lo < hi and lo * 0.97 < truth_far < hi * 1.03
    # refits move: the intervals are not degenerate (L-BFGS-B's early stop made them so)
    assert boot.draws[:, 3].std() > 1e-3


def test_bootstrap_best_of_uses_extra_starts() -> None:
    df = baselines.simulate_chinchilla(60, sigma=0.01, seed=4)
    start = np.r_[np.log([TRUTH["A"], TRUTH["B"], TRUTH["E"]]), TRUTH["alpha"], TRUTH["beta"]]
    one = baselines.bootstrap(df, start, n_boot=3, seed=0)
    best3 = baselines.bootstrap(df, start, n_boot=3, seed=0, best_of=2)
    assert best3.n_fev > one.n_fev


def test_simulate_design_and_noise() -> None:
    df = baselines.simulate_chinchilla(240, seed=0)
    assert len(df) == 240 and (df["value"] > TRUTH["E"] * 0.9).all()
    design = df[["params", "tokens"]].iloc[:30]
    again = baselines.simulate_chinchilla(seed=5, design=design)
    np.testing.assert_array_equal(again["params"].values, design["params"].values)


def test_load_epoch_absent_returns_none(tmp_path: Path) -> None:
    assert baselines.load_epoch_chinchilla(tmp_path / "missing.csv") is None


def test_load_epoch_format(tmp_path: Path) -> None:
    csv = tmp_path / "svg.csv"
    pd.DataFrame(
        {"Model Size": [1e8, 2e8], "Training FLOP": [6e18, 1.2e19], "loss": [3.0, 2.9]}
    ).to_csv(csv, index=False)
    df = baselines.load_epoch_chinchilla(csv)
    assert list(df.columns) == ["family", "params", "tokens", "value"]
    np.testing.assert_allclose(df["tokens"], [1e10, 1e10])


def test_naive_models_build_and_evaluate() -> None:
    pytest.importorskip("pymc")
    df = baselines.simulate_chinchilla(30, seed=0)
    m = baselines.naive_chinchilla_model(df)
    assert {"log_A", "log_B", "log_E", "alpha", "beta", "sigma"} <= set(m.named_vars)
    assert np.isfinite(m.compile_logp()(m.initial_point()))
    df3 = pd.concat(
        [baselines.simulate_chinchilla(20, seed=s).assign(family=f"f{s}") for s in range(3)]
    )
    h = baselines.naive_hierarchical_model(df3)
    assert h.coords["family"] == ("f0", "f1", "f2")
    assert np.isfinite(h.compile_logp()(h.initial_point()))


def test_epoch_points_when_present() -> None:
    """On the real points (when present; never shipped) the grid finds Epoch's optimum."""
    df = baselines.load_epoch_chinchilla()
    if df is None:
        pytest.skip(f"{baselines.EPOCH_CSV} absent (not shipped: no licence)")
    assert len(df) == 245
    res = baselines.fit_grid(df, baselines.start_grid("reduced")[:60], exclude_top=5)
    # Besiroglu et al. (2024): alpha 0.3478, beta 0.3658, E 1.817
    assert res.natural["alpha"] == pytest.approx(0.348, abs=0.01)
    assert res.natural["E"] == pytest.approx(1.817, abs=0.03)
