"""Command line tests: ``main([...])`` in-process, with PyMC's mocked sampling (no MCMC)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayescale as bs
from bayescale.cli.main import main, parse_pooling
from bayescale.core.errors import ConvergenceWarning, SpecificationError
from bayescale.core.sampling import use_sampler
from bayescale.scaling.discrepancy import DISCREPANCY_REFERENCE
from bayescale.scaling.reference import models_dir
from bayescale.scaling.report import render_table
from tests.helpers import prior_sampler

pytestmark = [
    pytest.mark.filterwarnings("ignore::bayescale.core.errors.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


@pytest.fixture
def mock_pymc_sample() -> Iterator[None]:
    """Prior draws instead of MCMC for the duration of one test (the injected sampler)."""
    with use_sampler(prior_sampler):
        yield


#: Known chinchilla parameters (conventional scale) per family.
TRUE = {
    "fam_a": {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 410.0, "beta": 0.28},
    "fam_b": {"E": 1.9, "A": 500.0, "alpha": 0.32, "B": 380.0, "beta": 0.29},
    "fam_c": {"E": 1.8, "A": 450.0, "alpha": 0.36, "B": 450.0, "beta": 0.27},
}
FAST = ["--draws", "30", "--tune", "1", "--chains", "2", "--quiet"]


def simulate_csv(path: Path, *, rng_seed: int = 0) -> Path:
    """3 families x 8 runs (4 sizes x 2 token ratios) from a chinchilla law, 1% noise."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for family, t in TRUE.items():
        for n in (2e7, 6e7, 2e8, 6e8):
            for ratio in (10.0, 40.0):
                d = n * ratio
                loss = t["E"] + t["A"] * n ** -t["alpha"] + t["B"] * d ** -t["beta"]
                rows.append(
                    {
                        "family": family,
                        "params": n,
                        "tokens": d,
                        "metric": "loss",
                        "value": loss * np.exp(rng.normal(0, 0.01)),
                    }
                )
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def runs_csv(workdir: Path) -> Path:
    return simulate_csv(workdir / "runs.csv")


@pytest.fixture(scope="module")
def fitted(workdir: Path, runs_csv: Path) -> tuple[Path, str]:
    """One mocked ``bayescale fit`` shared by the module: (fit path, printed report)."""
    out = workdir / "fit.nc"
    with use_sampler(prior_sampler), pytest.MonkeyPatch.context() as mp:
        captured: list[str] = []
        mp.setattr(sys, "stdout", _Recorder(captured))
        code = main(["fit", str(runs_csv), "--out", str(out), "--metric", "loss", *FAST])
    assert code == 0
    return out, "".join(captured)


class _Recorder:
    """A minimal text stream that keeps what is written (capsys is function-scoped)."""

    def __init__(self, sink: list[str]) -> None:
        self.sink = sink

    def write(self, text: str) -> int:
        self.sink.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_clean_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert err.startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


# -- fit ---------------------------------------------------------------------------------
def test_fit_writes_a_loadable_file_and_reports(fitted: tuple[Path, str]) -> None:
    path, report = fitted
    fit = bs.load(path)
    assert fit.families == ["fam_a", "fam_b", "fam_c"]
    assert fit.data.sizes["obs"] == 24
    assert fit.metric == "loss"
    assert "90% equal-tailed intervals" in report
    assert "alpha[fam_a]" in report
    assert "MCMC diagnostics:" in report
    assert f"Wrote {path}" in report


def test_fit_reads_a_pooling_list(
    mock_pymc_sample: None, runs_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pooled.nc"
    argv = ["fit", str(runs_csv), "--out", str(out), "--pooling", "alpha=shared,beta=pooled"]
    code, stdout, err = run([*argv, *FAST], capsys)
    assert code == 0, err
    pooling = bs.load(out).spec.pooling
    assert pooling["alpha"] == "shared"
    assert pooling["beta"] == "pooled"
    assert pooling["E"] == "independent"
    assert "alpha " in stdout and "alpha[fam_a]" not in stdout  # one shared alpha


def test_fit_calibrate_spread_saves_the_factor(
    mock_pymc_sample: None, runs_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "calibrated.nc"
    argv = ["fit", str(runs_csv), "--out", str(out), "--calibrate-spread", *FAST]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # prior draws never converge
        code, stdout, err = run(argv, capsys)
    assert code == 0, err
    assert "note: new-run spread calibrated on the fit's own" in stdout
    assert "spread_calibration" in bs.load(out).idata.children


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("shared", "shared"),
        (" independent ", "independent"),
        ("alpha=shared,beta=pooled", {"alpha": "shared", "beta": "pooled"}),
        ("exponent = pooled, E=independent", {"exponent": "pooled", "E": "independent"}),
    ],
)
def test_parse_pooling(text: str | None, expected: object) -> None:
    assert parse_pooling(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("sharde", "sharde"),
        ("alpha=shard", "alpha=shard"),
        ("alpha=shared,alpha=pooled", "twice"),
        ("alpha=shared,beta", "'beta'"),
    ],
)
def test_parse_pooling_rejects_bad_text(text: str, needle: str) -> None:
    with pytest.raises(SpecificationError, match=needle):
        parse_pooling(text)


def test_unknown_pooling_key_is_a_clean_error(
    runs_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["fit", str(runs_csv), "--out", str(tmp_path / "x.nc")]
    code, _, err = run([*argv, "--pooling", "alpha=shared,gamma=pooled"], capsys)
    assert_clean_error(code, err, "gamma", "alpha")
    assert not (tmp_path / "x.nc").exists()


def _write_bad_csv(path: Path, case: str, good: Path) -> Path:
    frame = pd.read_csv(good)
    if case == "missing_column":
        frame = frame.drop(columns="tokens")
    elif case == "negative_params":
        frame.loc[5, "params"] = -1e8
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("case", "extra", "needles"),
    [
        ("missing_column", [], ["'tokens'", "column"]),
        ("negative_params", [], ["'params'", "row 5", "CSV line 7"]),
        ("good", ["--law", "chinchillax"], ["unknown law", "chinchillax"]),
        ("good", ["--metric", "accuracy"], ["'accuracy'", "metric"]),
        ("good", ["--sampler", "blackjax"], []),
    ],
)
def test_fit_rejects_bad_input_cleanly(
    case: str,
    extra: list[str],
    needles: list[str],
    runs_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import importlib.util

    if "blackjax" in extra and importlib.util.find_spec("blackjax") is not None:
        pytest.skip("blackjax is installed")
    data = runs_csv if case == "good" else _write_bad_csv(tmp_path / "bad.csv", case, runs_csv)
    code, _, err = run(["fit", str(data), "--out", str(tmp_path / "x.nc"), *extra], capsys)
    assert_clean_error(code, err, *needles)


def test_fit_of_a_missing_file_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.csv"
    code, _, err = run(["fit", str(missing), "--out", str(tmp_path / "x.nc")], capsys)
    assert_clean_error(code, err, "nope.csv", "does not exist")


def test_fit_refuses_an_unwritable_output_before_sampling(
    runs_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["fit", str(runs_csv), "--out", str(tmp_path)], capsys)
    assert_clean_error(code, err, "directory")


# -- forecast ----------------------------------------------------------------------------
def test_forecast_json_has_both_quantities(
    fitted: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = fitted
    argv = ["forecast", str(path), "--params", "7e9", "1e9", "--tokens", "1.4e11", "--json"]
    code, out, err = run([*argv, "--family", "fam_a"], capsys)
    assert code == 0, err
    records = json.loads(out)
    assert len(records) == 4
    assert {r["quantity"] for r in records} == {"curve", "new_run"}
    for rec in records:
        assert rec["lower"] <= rec["median"] <= rec["upper"]
        assert rec["family"] == "fam_a"
        assert rec["tokens"] == 1.4e11
        assert rec["ci_prob"] == 0.9
        assert rec["metric"] == "loss"
    assert sorted({r["params"] for r in records}) == [1e9, 7e9]


def test_forecast_table_explains_curve_and_new_run(
    fitted: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = fitted
    argv = ["forecast", str(path), "--params", "7e9", "--tokens", "1.4e11", "--ci", "0.8"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "80% equal-tailed" in out
    assert "curve   = the fitted law" in out
    assert "new_run = one new training run" in out
    assert "<new family>" in out  # no --family: a family not in the fit
    assert "7.00e9" in out and "1.40e11" in out


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--params", "7e9", "--tokens", "1e10", "--family", "fam_z"], ["'fam_z'", "fam_a"]),
        (["--params", "7e9"], ["--tokens"]),
        (["--params", "1e9", "2e9", "3e9", "--tokens", "1e10", "2e10"], ["same number"]),
        (["--params", "-1e9", "--tokens", "1e10"], ["'params'", "> 0"]),
        (["--params", "1e9", "--tokens", "1e10", "--compute", "6e19"], ["--compute"]),
    ],
)
def test_forecast_rejects_bad_points_cleanly(
    extra: list[str],
    needles: list[str],
    fitted: tuple[Path, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(["forecast", str(fitted[0]), *extra], capsys)
    assert_clean_error(code, err, *needles)


@pytest.mark.parametrize("command", ["forecast", "optimal", "summary"])
@pytest.mark.parametrize("kind", ["missing", "not_bayescale", "not_netcdf"])
def test_bad_fit_files_are_clean_errors(
    command: str, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"{kind}.nc"
    if kind == "not_bayescale":
        xr.Dataset({"a": ("x", [1.0, 2.0])}).to_netcdf(path, engine="h5netcdf")
    elif kind == "not_netcdf":
        path.write_text("family,params\n")
    extra = ["--params", "1e9", "--tokens", "1e10"] if command == "forecast" else []
    if command == "optimal":
        extra = ["--compute", "1e22"]
    code, _, err = run([command, str(path), *extra], capsys)
    needle = {"missing": "no fit file", "not_bayescale": "written by another program"}.get(
        kind, "it is a text file (starting 'family,params')"
    )
    assert_clean_error(code, err, path.name, needle)


# -- optimal -----------------------------------------------------------------------------
def test_optimal_table_and_json(
    fitted: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(fitted[0])
    code, out, err = run(["optimal", path, "--compute", "1e22", "1e23"], capsys)
    assert code == 0, err
    assert "budget C = 1.00e22 FLOPs" in out and "budget C = 1.00e23 FLOPs" in out
    assert "N*" in out and "D*/N*" in out
    for family in ("fam_a", "fam_b", "fam_c"):
        assert family in out

    code, out, err = run(
        ["optimal", path, "--compute", "1e22", "--family", "fam_b", "--json"], capsys
    )
    assert code == 0, err
    records = json.loads(out)
    assert {r["quantity"] for r in records} == {"params", "tokens", "tokens_per_param", "loss"}
    assert {r["family"] for r in records} == {"fam_b"}
    by_q = {r["quantity"]: r for r in records}
    for rec in records:
        assert rec["lower"] <= rec["median"] <= rec["upper"]
    # C = 6 N D holds draw by draw, so it holds for the medians up to the skew of the ratio
    assert by_q["params"]["median"] * by_q["tokens"]["median"] * 6 == pytest.approx(1e22, rel=0.5)


def test_optimal_needs_the_chinchilla_law(
    mock_pymc_sample: None, workdir: Path, runs_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = workdir / "power.nc"
    code, _, err = run(
        ["fit", str(runs_csv), "--out", str(out), "--law", "power_law", *FAST], capsys
    )
    assert code == 0, err
    code, _, err = run(["optimal", str(out), "--compute", "1e22"], capsys)
    assert_clean_error(code, err, "chinchilla")
    # a one-variable law of params: --tokens is refused, --params alone works
    code, _, err = run(["forecast", str(out), "--params", "1e9", "--tokens", "1e10"], capsys)
    assert_clean_error(code, err, "--tokens")
    code, stdout, err = run(["forecast", str(out), "--params", "1e9", "--family", "fam_c"], capsys)
    assert code == 0, err
    assert "fam_c" in stdout


# -- general -----------------------------------------------------------------------------
def test_help_and_usage_errors_return_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "forecast" in capsys.readouterr().out
    assert main([]) == 2
    assert main(["fit", "runs.csv"]) == 2  # --out is required
    assert "--out" in capsys.readouterr().err


def test_import_is_light() -> None:
    code = (
        "import sys, bayescale.cli.main; "
        "print(sorted(m for m in ('pymc', 'arviz', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_render_table_aligns_columns() -> None:
    text = render_table(["a", "bb"], [["x", "1"], ["yyy", "22"]])
    lines = text.splitlines()
    assert lines[0] == "  a    bb"
    assert lines[2] == "  x     1"
    assert lines[3] == "  yyy  22"


# -- demo --------------------------------------------------------------------------------
@pytest.fixture
def demo_result(mock_pymc_sample: None, tmp_path: Path) -> Iterator[tuple[dict, str]]:
    import io

    from bayescale.cli.demo import run_demo

    stream = io.StringIO()
    result = run_demo(tmp_path / "demo", draws=20, tune=1, chains=2, progressbar=False, out=stream)
    yield result, stream.getvalue()


def test_demo_holds_out_the_large_runs(demo_result: tuple[dict, str]) -> None:
    result, report = demo_result
    heldout = result["heldout"]
    assert len(heldout) == 9
    assert (heldout["params"] > 1e9).all()
    assert set(heldout["family"]) == {"c4_original", "rpj", "rw_original"}
    expected = {"family", "params", "tokens", "actual", "median", "lower", "upper", "covered"}
    assert expected <= set(heldout.columns)
    assert "abs_rel_error" in heldout
    assert result["fit"].data.sizes["obs"] == 95
    assert result["heldout_stacked"] is None  # only with stacked=True
    calibrated = result["heldout_calibrated"]  # the fit's spread calibrated on its largest runs
    assert len(calibrated) == 9
    np.testing.assert_allclose(calibrated["actual"], heldout["actual"])
    assert "calibrated on the fit's own largest runs" in report
    assert "the 23 runs above them" in report
    spec = json.loads((models_dir() / DISCREPANCY_REFERENCE / "spec.json").read_text())
    learned_from = f"learned from {spec['heldout_runs']} held-out larger runs\n  of "
    assert learned_from + f"{len(spec['sources'])} sources" in report  # the shipped reference's
    for key in ("fit_path", "forecast_path"):
        assert Path(result[key]).exists()
    assert pd.read_csv(result["forecast_path"]).shape[0] == 9
    assert bs.load(result["fit_path"]).families == ["c4_original", "rpj", "rw_original"]
    import importlib.util

    if importlib.util.find_spec("bayescale.scaling.plotting") is not None:
        assert result["plot_path"] is not None, report
        assert Path(result["plot_path"]).exists()
    assert "the 9 runs with N > 1e9" in report
    assert "coverage:" in report and "median absolute relative error" in report
    assert "budget C = 1.00e22 FLOPs" in report
    assert "<new family>" in report


def test_demo_stacked_forecasts_the_same_runs_with_three_laws(
    mock_pymc_sample: None, tmp_path: Path
) -> None:
    """``run_demo(stacked=True)`` (``bayescale demo --stacked``): the held-out table again,
    for the stacking mixture of chinchilla and the laws of ``STACKED_LAWS``, with their
    weights (sampling mocked)."""
    import io

    from bayescale.cli.demo import STACKED_LAWS, run_demo
    from bayescale.cli.main import build_parser

    assert build_parser().parse_args(["demo", "--stacked"]).stacked
    stream = io.StringIO()
    result = run_demo(
        tmp_path / "d", draws=20, tune=1, chains=2, progressbar=False, stacked=True, out=stream
    )
    report = stream.getvalue()
    stacked = report.split("The same runs, stacked over three laws", 1)[1]
    assert all(law in stacked for law in STACKED_LAWS)
    weights = stacked.split("stacking weights", 1)[1].splitlines()[0]
    shares = [float(part.split()[-1]) for part in weights.split(":", 1)[1].split(",")]
    assert len(shares) == 3 and abs(sum(shares) - 1.0) < 0.02
    assert "coverage:" in stacked and "mean ARE:" in stacked
    single, mixed = result["heldout"], result["heldout_stacked"]
    assert len(mixed) == len(single) == 9
    assert (mixed["actual"].to_numpy() == single["actual"].to_numpy()).all()
    assert (mixed["lower"] <= mixed["median"]).all() and (mixed["median"] <= mixed["upper"]).all()


# -- fit options: checkpoints and reference priors ---------------------------------------
def test_min_tokens_without_checkpoints_is_a_clean_error(
    runs_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["fit", str(runs_csv), "--out", str(tmp_path / "x.nc"), "--min-tokens", "1e9"]
    code, _, err = run([*argv, "--metric", "loss"], capsys)
    assert_clean_error(code, err, "checkpoint_step", "no intermediate checkpoints")


def test_unknown_reference_prior_is_a_clean_error(
    runs_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], mock_pymc_sample: None
) -> None:
    argv = ["fit", str(runs_csv), "--out", str(tmp_path / "x.nc"), "--metric", "loss"]
    code, _, err = run([*argv, "--prior", "no_such_reference", *FAST], capsys)
    assert_clean_error(code, err, "no_such_reference", "known references")


def test_min_tokens_reports_the_removed_checkpoints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mock_pymc_sample: None
) -> None:
    rows = [
        {
            "family": fam,
            "model": f"{fam}-{n:.0e}",
            "params": n,
            "tokens": frac * 40 * n,
            "checkpoint_step": step,
            "value": 2.0 + 400 * n**-0.34 + 400 * (frac * 40 * n) ** -0.28,
        }
        for fam in ("a", "b")
        for n in (1e8, 3e8, 1e9)
        for step, frac in enumerate((0.1, 0.3, 1.0))
    ]
    path = tmp_path / "ckpt.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    argv = ["fit", str(path), "--out", str(tmp_path / "c.nc"), "--min-tokens", "1e10", *FAST]
    code, out, _ = run(argv, capsys)
    assert code == 0
    # below 1e10 tokens per family: two checkpoints each of the 1e8 run (whose final,
    # 4e9, is kept) and of the 3e8 run, one of the 1e9 run
    assert "checkpoints: removed 10 of 18 rows before 1e+10 tokens (a 5, b 5)" in out
    assert "runs kept 6 of 6" in out


# -- summary (any kind) ------------------------------------------------------------------
def test_summary_reports_any_kind_of_fit(
    fitted: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = fitted
    code, out, _ = run(["summary", str(path)], capsys)
    assert code == 0 and "ScalingFit" in out and "Posterior summary" in out
    code, out, _ = run(["summary", str(path), "--csv", "--ci-prob", "0.5"], capsys)
    assert code == 0 and "eti50_lb" in out.splitlines()[0]
    with use_sampler(prior_sampler):
        counts = bs.passk.example_counts()
        passk_fit = bs.passk.fit(counts, draws=30, tune=10, chains=1, progressbar=False)
    passk_path = passk_fit.save(tmp_path / "passk.nc")
    code, out, _ = run(["summary", str(passk_path)], capsys)
    assert code == 0 and "PassKFit" in out
    code, _, err = run(["forecast", str(passk_path), "--params", "1e9", "--tokens", "1e10"], capsys)
    assert_clean_error(code, err, "'passk' fit", "bayescale passk forecast")
