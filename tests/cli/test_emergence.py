"""``bayescale emergence fit``: options, output and errors, with PyMC's mocked sampling."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from pymc.testing import mock_sample_setup_and_teardown

from bayescale.cli.main import main
from bayescale.core.errors import ConvergenceWarning


@pytest.fixture
def mocked():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Numba will use object mode")
        yield from mock_sample_setup_and_teardown()


def test_fit_prints_the_threshold_of_both_models_and_loo(
    mocked: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "emergence",
            "fit",
            "--task",
            "hindu_knowledge",
            "--method",
            "both",
            "--draws",
            "60",
            "--chains",
            "2",
            "--json",
        ]
    )
    assert code == 0, capsys.readouterr().err
    record = json.loads(capsys.readouterr().out)
    assert record["task"] == "hindu_knowledge"
    assert record["log10_cutoff"] == pytest.approx(22.0)
    for name in ("sandwich", "sigmoid"):
        assert len(record[name]["threshold_log10"]) == 3  # median, lower, upper
        assert 0 <= record[name]["p_emergent"] <= 1
    assert set(record["loo"]) == {"sandwich", "sigmoid"}


def test_fit_text_and_plot(
    mocked: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "arc.png"
    code = main(
        ["emergence", "fit", "--task", "arc", "--draws", "60", "--chains", "2", "--plot", str(png)]
    )
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "emergence threshold (easy slice turns)" in out and "90% interval" in out
    assert "P(emergent)" in out and "diagnostics" in out
    assert png.stat().st_size > 10_000


def test_errors_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emergence", "fit", "--task", "nope"]) == 2
    assert "no default cut-off" in capsys.readouterr().err
    assert main(["emergence", "fit", "--task", "nope", "--cutoff", "1e22"]) == 2
    err = capsys.readouterr().err
    assert "task 'nope' is not in the data" in err and "mmlu" in err
