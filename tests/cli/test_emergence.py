"""``bayescale emergence fit``: options, output, saved fits and errors, with prior draws."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bayescale
from bayescale.cli.emergence import out_paths
from bayescale.cli.main import main
from bayescale.emergence import SandwichFit, SigmoidFit
from tests.emergence.simulate import simulate_questions, simulated_table


def test_fit_prints_the_threshold_of_both_models_and_loo(
    mock_pymc_sample: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "hindu.nc"
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
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0, capsys.readouterr().err
    record = json.loads(capsys.readouterr().out)
    assert record["task"] == "hindu_knowledge"
    assert record["log10_cutoff"] == pytest.approx(22.0)
    for name, cls in (("sandwich", SandwichFit), ("sigmoid", SigmoidFit)):
        assert len(record[name]["threshold_log10"]) == 3  # median, lower, upper
        assert 0 <= record[name]["p_emergent"] <= 1
        saved = tmp_path / f"hindu-{name}.nc"
        assert record[name]["saved"] == str(saved)
        fit = bayescale.load(saved)
        assert type(fit) is cls
        th = fit.threshold(ci_prob=0.9).loc["hindu_knowledge"]
        assert record[name]["view"] == name == th["view"]
        median = record[name]["threshold_log10"][0]  # null: below or beyond the range
        assert median is None or th["log10_threshold"] == pytest.approx(median)
        assert record[name]["alternative"]["what"]
    assert not out.exists()
    assert set(record["loo"]) == {"sandwich", "sigmoid"}


def test_fit_text_plot_and_out(
    mock_pymc_sample: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png, nc = tmp_path / "arc.png", tmp_path / "arc.nc"
    code = main(
        [
            "emergence",
            "fit",
            "--task",
            "arc",
            "--draws",
            "60",
            "--chains",
            "2",
            "--plot",
            str(png),
            "--out",
            str(nc),
        ]
    )
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "emergence threshold (accuracy leaves chance 0.25 by 0.05" in out
    assert "90% interval" in out and "easy slices' turn" in out
    assert "P(emergent)" in out and "diagnostics" in out and f"saved to {nc}" in out
    assert png.stat().st_size > 10_000
    assert type(bayescale.load(nc)) is SandwichFit


def test_fit_reads_a_users_slice_table(
    mock_pymc_sample: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = simulated_table()
    csv = tmp_path / "slices.csv"
    table.to_csv(csv, index=False)
    args = ["emergence", "fit", str(csv), "--task", "sim", "--cutoff", "1e23", "--draws", "60"]
    assert main([*args, "--chains", "2", "--method", "sigmoid"]) == 2
    assert "--chance" in capsys.readouterr().err
    assert main([*args, "--chains", "2"]) == 2  # the sandwich's threshold needs it too
    assert "--chance" in capsys.readouterr().err
    code = main([*args, "--chains", "2", "--method", "both", "--chance", "0.25", "--json"])
    assert code == 0, capsys.readouterr().err
    record = json.loads(capsys.readouterr().out)
    assert record["task"] == "sim" and record["log10_cutoff"] == pytest.approx(23.0)
    n_held = int((table.loc[table["slice"] == -1, "compute"] >= 1e23).sum())
    assert record["sandwich"]["held_out_models"] == n_held
    assert record["sigmoid"]["held_out_models"] == n_held
    assert set(record["loo"]) == {"sandwich", "sigmoid"}
    bad = table.copy()
    bad.loc[3, "compute"] = -1.0
    bad.to_csv(csv, index=False)
    assert main([*args, "--chains", "2", "--chance", "0.25"]) == 2
    err = capsys.readouterr().err
    assert "compute" in err and "line" in err


def test_out_paths_of_both_models() -> None:
    assert out_paths("fit.nc", "sigmoid") == {"sigmoid": Path("fit.nc")}
    assert out_paths("runs/fit.nc", "both") == {
        "sandwich": Path("runs/fit-sandwich.nc"),
        "sigmoid": Path("runs/fit-sigmoid.nc"),
    }
    assert out_paths("fit", "both")["sigmoid"] == Path("fit-sigmoid.nc")


def test_errors_are_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emergence", "fit", "--task", "nope"]) == 2
    assert "no default cut-off" in capsys.readouterr().err
    assert main(["emergence", "fit", "--task", "nope", "--cutoff", "1e22"]) == 2
    err = capsys.readouterr().err
    assert "task 'nope' is not in the data" in err and "mmlu" in err
    assert main(["emergence", "fit", "--task", "mmlu", "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_users_per_question_results_every_model_forecast_plot_and_out(
    mock_pymc_sample: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user's path in one command: per-question results of a task of their own, every
    model fitted (no --cutoff), threshold, P(emergent), a forecast, a plot and --out."""
    results = simulate_questions(n_models=24, n_questions=60, seed=5)
    csv, png, nc = tmp_path / "answers.csv", tmp_path / "fit.png", tmp_path / "fit.nc"
    results.to_csv(csv, index=False)
    args = ["emergence", "fit", str(csv), "--task", "quiz", "--chance", "0.25"]
    options = ["--draws", "60", "--chains", "2", "--n-slices", "5", "--forecast", "1e24"]
    code = main([*args, *options, "--plot", str(png), "--out", str(nc)])
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "(every model)" in out and "emergence threshold" in out and "P(emergent)" in out
    assert "forecast at 1e+24 FLOPs, typical model" in out and "a new model" in out
    assert png.stat().st_size > 10_000
    fit = bayescale.load(nc)
    assert type(fit) is SandwichFit and fit.chance == 0.25
    assert len(fit.weights) == 5 and not fit.data["held_out"].values.any()
    assert fit.data.sizes["model"] == 24
    code = main([*args, *options, "--method", "sigmoid", "--json"])
    assert code == 0, capsys.readouterr().err
    record = json.loads(capsys.readouterr().out)
    assert record["sigmoid"]["held_out_models"] == 0 and record["chance"] == 0.25
    assert {f["quantity"] for f in record["sigmoid"]["forecast"]} == {
        "accuracy",
        "new_model_accuracy",
    }
    # per-question results must hold every question for every model: the error says so
    results.iloc[3:].to_csv(csv, index=False)
    assert main([*args, *options]) == 2
    assert "question" in capsys.readouterr().err
