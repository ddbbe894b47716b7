"""The release builds and the built wheel works outside the repository.

Builds the sdist and the wheel from this checkout (``python -m build --no-isolation``: the
test environment's setuptools, no network), checks both with ``twine check --strict``
(metadata, README rendering), installs the wheel into a new virtual environment that
borrows the test environment's dependencies (a ``.pth`` line: no network), and runs it
from a temporary directory, so nothing of the source tree is on the path. Short chains:
this checks packaging, not convergence. ``build`` and ``twine`` are in the ``dev`` extra.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.wheel, pytest.mark.nuts]


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """A folder with the sdist and the wheel built from this checkout by ``python -m build``."""
    work = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(work), str(ROOT)],
        work,
    )
    return work


def test_the_sdist_and_the_wheel_pass_twine_check(dist) -> None:
    from bayescale import __version__

    (sdist,) = dist.glob("bayescale-*.tar.gz")
    (wheel,) = dist.glob("bayescale-*.whl")
    assert sdist.name == f"bayescale-{__version__}.tar.gz"
    assert wheel.name.startswith(f"bayescale-{__version__}-py3-none-any")
    done = _run([sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)], dist)
    assert done.stdout.count("PASSED") == 2, done.stdout


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> Path:
    """A new virtual environment with the wheel built from this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    (wheel,) = dist.glob("bayescale-*.whl")
    env = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(env)], work)
    python = env / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], work
        ).stdout.strip()
    )
    # The dependencies come from this environment, appended after the new site-packages
    # (a plain path, so this environment's editable bayescale is not activated).
    (site / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "-q",
            str(wheel),
        ],
        work,
    )
    return env


def test_the_wheel_holds_the_reference_posteriors_and_imports_from_site_packages(
    installed, tmp_path
) -> None:
    code = (
        "import bayescale; from bayescale.scaling.reference import models_dir; "
        "print(bayescale.__file__); print(models_dir()); "
        "print(sorted(p.name for p in models_dir().iterdir()))"
    )
    out = _run([str(installed / "bin" / "python"), "-c", code], tmp_path).stdout.splitlines()
    assert str(installed) in out[0] and str(ROOT) not in out[0]
    assert out[1].startswith(str(installed)) and out[1].endswith("bayescale/models")
    assert "gadre2024_chinchilla" in out[2]
    version = _run([str(installed / "bin" / "bayescale"), "--version"], tmp_path).stdout
    assert version.startswith("bayescale ")


def test_the_installed_demo_runs_from_another_directory(installed, tmp_path) -> None:
    done = _run(
        [
            str(installed / "bin" / "bayescale"),
            "demo",
            "--draws",
            "150",
            "--tune",
            "150",
            "--out-dir",
            "out",
        ],
        tmp_path,
    )
    assert (tmp_path / "out" / "fit.nc").exists() and (tmp_path / "out" / "forecast.csv").exists()
    assert "compute-optimal" in done.stdout.lower() or "optimal" in done.stdout.lower()


def test_the_installed_fit_finds_its_reference_prior(installed, tmp_path) -> None:
    code = """
import warnings
import bayescale
runs = bayescale.datasets.load("gadre2024", metric="loss_c4_val")
one = runs[(runs["family"] == runs["family"].iloc[0]) & (runs["params"] < 2e8)]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    fit = bayescale.fit(one, prior="gadre2024_chinchilla", draws=150, tune=150, chains=2,
                        progressbar=False, posterior_predictive=False)
print([n for n in fit.notes if "reference" in n][0])
"""
    out = _run([str(installed / "bin" / "python"), "-c", code], tmp_path).stdout
    assert "exponent priors from reference 'gadre2024_chinchilla'" in out
