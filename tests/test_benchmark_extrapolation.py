"""The coverage interval over fits of ``benchmarks/extrapolation_check.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from extrapolation_check import _summary, cluster_interval


def _runs(covered_per_fit: list[list[bool]]) -> pd.DataFrame:
    rows = [{"case": f"fit{i}", "cov90": c} for i, runs in enumerate(covered_per_fit) for c in runs]
    return pd.DataFrame(rows)


def test_runs_of_one_fit_move_together() -> None:
    """Resampled by fit, not by run: one fit of 90 covered runs and one of 10 missed runs
    can give any coverage from 0 to 1; ten fits of ten runs, each 9 of 10 covered, only 0.9."""
    lumpy = _runs([[True] * 90, [False] * 10])
    low, high = cluster_interval(lumpy)
    assert low == 0.0 and high == 1.0
    even = _runs([[True] * 9 + [False]] * 10)
    assert cluster_interval(even) == (0.9, 0.9)
    # the pass@k back-test's names: one fit per key, "covered" per forecast
    renamed = lumpy.rename(columns={"case": "key", "cov90": "covered"})
    assert cluster_interval(renamed, column="covered", cluster="key") == (low, high)


def test_summary_counts_fits_and_gives_the_interval() -> None:
    frame = _runs([[True] * 3, [True, False]])
    for col, value in (("are_%", 1.0), ("signed_%", 0.0), ("cov50", True), ("halfwidth90_%", 2.0)):
        frame[col] = value
    frame["method"] = "m"
    table = _summary(frame, ["method"])
    assert table.loc["m", "runs"] == 5 and table.loc["m", "fits"] == 2
    assert table.loc["m", "cov90"] == 0.8
    assert table.loc["m", "cov90_fits_90%"] == "[0.50, 1.00]"


def test_reliability_from_pit_and_the_figure(tmp_path) -> None:
    """Uniform PIT values are calibrated at every level; the figure (per method and per
    source, small sources pooled) is written."""
    import numpy as np
    from extrapolation_check import _reliability, figures

    levels = np.array([0.5, 0.9])
    pit = (np.arange(1000) + 0.5) / 1000
    np.testing.assert_allclose(_reliability(pit, levels), levels, atol=0.002)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "method": np.repeat(["a", "b"], 60),
            "source": np.tile(np.repeat(["big", "small1", "small2"], [40, 10, 10]), 2),
            "pit": rng.uniform(size=120),
        }
    )
    figures(frame, tmp_path)
    assert (tmp_path / "extrapolation_calibration.png").stat().st_size > 10_000


def test_report_bins_by_compute_and_by_tokens_per_parameter(capsys) -> None:
    """Every table is printed from a frame with both extra distances; the one by tokens
    per parameter only for the learned method and without runs in compute alone."""
    import numpy as np
    from extrapolation_check import report

    n = 8
    frame = pd.DataFrame(
        {
            "source": ["s1"] * 4 + ["s2"] * 4,
            "case": ["c1"] * 4 + ["c2"] * 4,
            "d": [0.5, 1.5, 2.5, 3.5] * 2,
            "d_compute": [0.0, 0.5, 1.5, 4.0] * 2,
            "d_ratio": [0.0, 0.5, 2.5, np.nan] * 2,
            "method": ["learned (LOSO)"] * 4 + ["other"] * 4,
            "signed_%": 1.0,
            "are_%": 1.0,
            "cov50": [True] * n,
            "cov90": [True, True, False, True] * 2,
            "halfwidth90_%": 2.0,
        }
    )
    report(frame)
    out = capsys.readouterr().out
    assert "per bin of e-folds of training compute" in out
    table = out.split("tokens per parameter outside the training range ==")[1]
    table = table.split("== overall")[0]
    assert "inside" in table and "2+" in table and "other" not in table
    report(frame.drop(columns=["d_compute", "d_ratio"]), per_source=False)
    assert "training compute" not in capsys.readouterr().out
