"""The trimmed cases of ``benchmarks/discrepancy_variants.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from discrepancy_variants import drop_smallest


def test_drop_smallest_trims_the_training_runs_only() -> None:
    """The runs in the smallest fifth of the log range of N leave the fit; the held-out
    runs (and so their distances beyond the data) stay as they are."""
    params = np.array([1e7, 2e7, 5e7, 1e8, 1e9, 1e10])  # log range 1e7..1e10: cut at 10^7.6
    train = pd.DataFrame({"params": params, "tokens": 20 * params, "value": 3.0})
    test = pd.DataFrame({"params": [1e11], "tokens": [2e12], "value": [2.0]})
    kept, held = drop_smallest(lambda: (train, test))()
    assert kept["params"].tolist() == [5e7, 1e8, 1e9, 1e10]
    pd.testing.assert_frame_equal(held, test)
    everything, _ = drop_smallest(lambda: (train, test), share=0.0)()
    assert len(everything) == len(train)


def test_drop_smallest_names_the_runs_without_a_size() -> None:
    train = pd.DataFrame({"params": [1e7, np.nan, 1e9], "value": 3.0})
    with pytest.raises(ValueError, match=r"empty in rows \[1\]"):
        drop_smallest(lambda: (train, train))()
    with pytest.raises(ValueError, match="'params' is missing"):
        drop_smallest(lambda: (train.drop(columns="params"), train))()


def test_the_distance_variants_need_the_compute_distance() -> None:
    from discrepancy_variants import build_model, distance

    cases = pd.DataFrame(
        {
            "source": ["a", "a", "b"],
            "err": [0.01, -0.02, 0.0],
            "sd": [0.01, 0.01, 0.02],
            "d": [1.0, 2.0, 0.5],
            "d_compute": [0.0, 3.0, 0.5],
        }
    )
    np.testing.assert_allclose(distance(cases, 0.25), [0.75, 2.25, 0.5])
    np.testing.assert_allclose(distance(cases.drop(columns="d_compute"), 0.0), cases["d"])
    with pytest.raises(ValueError, match="d_compute"):
        build_model(cases.drop(columns="d_compute"), "mix")
    model = build_model(cases, "heavy")
    assert {"z_t", "w_t"} <= set(model.named_vars)


def test_inside_ratio_range_keeps_runs_in_compute_and_needs_the_column() -> None:
    from discrepancy_variants import inside_ratio_range

    cases = pd.DataFrame({"source": ["a"] * 4, "d_ratio": [0.0, 1.0, 1.5, np.nan]})
    assert inside_ratio_range(cases)["d_ratio"].tolist()[:2] == [0.0, 1.0]
    assert len(inside_ratio_range(cases)) == 3  # the run in compute alone (NaN) stays
    with pytest.raises(ValueError, match="d_ratio"):
        inside_ratio_range(cases.drop(columns="d_ratio"))
