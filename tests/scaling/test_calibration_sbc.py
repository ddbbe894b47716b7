"""The pure parts of the simulation-based calibration script (benchmarks/calibration_sbc.py),
and one tiny real replication."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "calibration_sbc.py"
_SPEC = importlib.util.spec_from_file_location("calibration_sbc", _PATH)
sbc = importlib.util.module_from_spec(_SPEC)
sys.modules["calibration_sbc"] = sbc
_SPEC.loader.exec_module(sbc)


def test_rank_counts_draws_below_the_truth() -> None:
    draws = np.array([[0.1, 5.0], [0.2, 6.0], [0.3, 7.0], [0.4, 8.0]])
    assert sbc.rank_of(np.array([0.25, 100.0]), draws).tolist() == [2, 4]
    assert int(sbc.rank_of(0.0, draws[:, 0])) == 0


def test_thin_keeps_ends_and_count() -> None:
    flat = np.arange(2000)
    kept = sbc.thin(flat, 199)
    assert kept.shape == (199,) and kept[0] == 0 and kept[-1] == 1999
    assert np.all(np.diff(kept) > 0)


def test_ranks_of_exact_posterior_draws_are_uniform() -> None:
    # Draw truth and "posterior" from the same distribution: the SBC ideal.
    rng = np.random.default_rng(0)
    truth = rng.standard_normal(2000)
    draws = rng.standard_normal((sbc.RANK_DRAWS, 2000))
    ranks = sbc.rank_of(truth, draws)
    assert ranks.min() >= 0 and ranks.max() <= sbc.RANK_DRAWS
    assert sbc.chi2_uniform(ranks) > 0.001


def test_chi_square_flags_too_narrow_posteriors() -> None:
    rng = np.random.default_rng(1)
    truth = rng.standard_normal(500)
    draws = 0.5 * rng.standard_normal((sbc.RANK_DRAWS, 500))  # overconfident
    assert sbc.chi2_uniform(sbc.rank_of(truth, draws)) < 1e-6


def test_chi_square_needs_equal_bins() -> None:
    with pytest.raises(ValueError, match="equal bins"):
        sbc.chi2_uniform(np.arange(10), n_draws=10, bins=20)


def test_uniform_band_brackets_the_expected_count() -> None:
    lo, hi = sbc.uniform_band(200, bins=20, prob=0.99)
    assert lo < 10 < hi
    assert (lo, hi) == (3.0, 19.0)


def test_interval_coverage_matches_pit_coverage() -> None:
    rng = np.random.default_rng(2)
    draws = rng.standard_normal((4000, 300))
    truth = 1.3 * rng.standard_normal(300)  # wider than the forecast: undercoverage
    pits = sbc.pit(truth, draws)
    for prob in (0.5, 0.9):
        direct = sbc.interval_covers(truth, draws, prob).mean()
        assert abs(direct - sbc.coverage_from_pit(pits, prob)) < 0.01
    assert sbc.interval_covers(truth, draws, 0.9).mean() < 0.9
    assert sbc.coverage_from_pit(np.array([0.5, 0.04, 0.96, 0.2]), 0.9) == 0.5


def test_cluster_standard_error() -> None:
    covered = np.array([1, 1, 0, 0, 1, 0])
    reps = np.array([0, 0, 1, 1, 2, 2])
    # replication means 1, 0, 0.5: sd 0.5, se 0.5 / sqrt(3)
    assert sbc.cluster_se(covered, reps) == pytest.approx(0.5 / np.sqrt(3))


def test_runs_rebuilt_from_mean_and_sum_of_squares() -> None:
    rng = np.random.default_rng(3)
    ybar = np.array([1.0, 2.0, 3.0])
    counts = np.array([2, 1, 3])
    within = np.array([0.02, 0.5])
    runs = sbc.runs_from_summaries(ybar, within, counts, rng)
    assert [len(r) for r in runs] == [2, 1, 3]
    for r, m in zip(runs, ybar, strict=True):
        assert r.mean() == pytest.approx(m)
    assert np.sum((runs[0] - 1.0) ** 2) == pytest.approx(0.02)
    assert np.sum((runs[2] - 3.0) ** 2) == pytest.approx(0.5)


def test_acceptance_reads_only_the_bounds() -> None:
    assert sbc.accept(np.array([0.6, 3.0, 19.9]))
    assert not sbc.accept(np.array([0.4, 3.0]))
    assert not sbc.accept(np.array([3.0, 25.0]))


def test_design_and_forecast_points() -> None:
    single, seeds = sbc.design_frame(1), sbc.design_frame(2)
    assert len(single) == 45 and len(seeds) == 90
    pts = sbc.forecast_points()
    assert len(pts) == 3 * 3 * 3
    assert set(pts["params"]) == {f * 5e8 for f in sbc.FACTORS}
    assert np.allclose(pts["tokens"] / pts["params"], pts["ratio"])


@pytest.mark.nuts
def test_one_tiny_replication_runs() -> None:
    ranks, fc, info = sbc.run_design(
        "single", 1, 1, seed=1, draws=100, tune=100, chains=2, log=lambda *a: None
    )
    assert len(ranks) == 1
    cols = sbc.rank_columns(ranks)
    assert "sigma" in cols and "E[fam_a]" in cols
    assert ranks[cols].to_numpy().min() >= 0
    assert ranks[cols].to_numpy().max() <= sbc.RANK_DRAWS
    assert set(fc["quantity"]) == {"curve", "new_run", "new_run_rate0"}
    assert len(fc) == 3 * len(sbc.forecast_points())
    assert info["prior_draws_considered"] >= 1


def test_checkpoint_design_has_runs_of_five_checkpoints() -> None:
    frame = sbc.checkpoint_frame()
    assert len(frame) == 3 * 4 * 5
    assert sorted(set(frame["checkpoint_step"])) == [1, 2, 3, 4, 5]
    final = frame[frame["checkpoint_step"] == 5]
    assert np.allclose(final["tokens"] / final["params"], sbc.CHECKPOINT_RATIO)
    for _, run in frame.groupby("model"):
        assert len(run) == 5 and run["params"].nunique() == 1
        frac = run["tokens"].to_numpy() / run["tokens"].max()
        assert np.allclose(frac, sbc.CHECKPOINT_FRACTIONS)
        assert np.all(np.diff(run["value"].to_numpy()) < 0)  # loss falls during training
    ds, spec = sbc.reference_spec(frame)
    assert spec.run_effects and not spec.config_effects
    assert ds.sizes["run"] == 12
    assert np.bincount(ds["run_idx"].values).tolist() == [5] * 12
    assert sbc.design_data("checkpoints").equals(frame)
    assert len(sbc.design_data("seeds")) == 90


def test_merge_replaces_a_design_and_keeps_the_others() -> None:
    import pandas as pd

    def part(design: str, n: int, extra: str) -> pd.DataFrame:
        return pd.DataFrame({"design": [design] * n, "rep": range(n), extra: 1.0})

    old_ranks = pd.concat([part("single", 3, "sigma"), part("checkpoints", 2, "run_sigma")])
    old_fc = pd.concat([part("single", 4, "pit"), part("checkpoints", 1, "pit")])
    old_infos = [{"design": "single", "x": 1}, {"design": "checkpoints", "x": 0}]
    new = (
        [part("checkpoints", 5, "run_sigma")],
        [part("checkpoints", 6, "pit")],
        [{"design": "checkpoints", "x": 2}],
    )
    ranks, fc, infos = sbc.merge_results((old_ranks, old_fc, old_infos), new)
    assert ranks["design"].tolist() == ["single"] * 3 + ["checkpoints"] * 5
    assert fc["design"].tolist() == ["single"] * 4 + ["checkpoints"] * 6
    assert infos == [{"design": "single", "x": 1}, {"design": "checkpoints", "x": 2}]
    # a new design is ordered as in DESIGNS, before or after the old ones
    ranks2, _, infos2 = sbc.merge_results(
        (
            part("checkpoints", 2, "run_sigma"),
            part("checkpoints", 1, "pit"),
            [{"design": "checkpoints"}],
        ),
        ([part("seeds", 2, "config_sigma")], [part("seeds", 1, "pit")], [{"design": "seeds"}]),
    )
    assert ranks2["design"].tolist() == ["seeds", "seeds", "checkpoints", "checkpoints"]
    assert [i["design"] for i in infos2] == ["seeds", "checkpoints"]
    assert ranks2["config_sigma"].isna().sum() == 2
