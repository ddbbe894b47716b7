"""Run every script under ``examples/`` as a user would, and check what it prints.

Each script runs in a subprocess (``sys.executable``, working directory = repository root)
with ``--out`` pointing to a temporary folder. The scripts fit real models with the default
sampler settings; on a 2-core machine shared with other jobs they took 25 s
(``new_family.py``) to 100 s (``checkpoints_seeds.py``, ``compute_optimal.py``) each, and
2 to 3 minutes for ``compare_laws.py`` (five models). The same scripts are the pages of the
documentation's example gallery (``docs/conf.py``, sphinx-gallery). Select or skip them
with ``-m example`` / ``-m "not example"``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

#: Text each script must print, and files it must write into ``--out``.
EXPECTED: dict[str, tuple[list[str], list[str]]] = {
    "quickstart.py": (
        [
            "Diagnostics: divergences 0",
            ": ok",
            "eti90_lb",
            "new_run",
            "<new family>",
            "tokens_per_param",
            "reloaded fit forecasts identically: True",
        ],
        ["quickstart_fit.nc", "quickstart_fit.png"],
    ),
    "compare_laws.py": (
        [
            "Pareto k diagnostics",
            "az.compare",
            "elpd_diff",
            "weight",
            "chinchilla_pooled",
            "chinchilla_independent",
            "chinchilla_shared",
            "power_law_compute",
            "broken_power_law_compute",
            "Interpretation:",
        ],
        ["compare_laws.png", "compare_laws.csv", "compare_laws_best_fit.png"],
    ),
    "inference_scaling.py": (
        [
            "Diagnostics: divergences 0",
            ": ok",
            "Inference-loss exponent",
            "N=3e10",
            "Compute-optimal model",
            "prob_best",
            "reloaded fit forecasts identically: True",
        ],
        [
            "inference_scaling_fit.nc",
            "inference_scaling_coverage.png",
            "inference_scaling_frontier.png",
        ],
    ),
    "new_family.py": (
        [
            "rw_original keeps N",
            "divergences 0",
            "mean ARE %",
            "rw_original (2 runs)",
            "new family (0 runs)",
        ],
        ["new_family_fit.png"],
    ),
    "checkpoints_seeds.py": (
        [
            "dropped before 10B tokens",
            "divergences 0",
            "run_sigma[standard]",
            "new_run",
            "seed_share",
        ],
        ["checkpoints_seeds_fit.png"],
    ),
    "compute_optimal.py": (
        [
            "divergences 0",
            "alpha[rw-base-long-kaplan-standard]",
            "rw-base-short-chinchilla-standard",
            "the allocation is an extrapolation",
        ],
        ["compute_optimal_params.png", "compute_optimal_fit.png"],
    ),
    "voting_compute.py": (
        ["best_of_n", "majority", "divergences 0", "exact limit", "prob_best", "runner_up"],
        ["voting_curve.png", "voting_compute_frontier.png"],
    ),
    "emergence.py": (
        [
            "divergences 0",
            "p_emergent",
            "P(emergent) below the cut-off",
            "held-out models inside the 90% interval",
        ],
        ["emergence_mmlu_all.png", "emergence_mmlu_cutoff.png"],
    ),
    "fit_many_dask.py": (
        ["3 tasks:", "all 3 fits converged", "second run: reused 3 of 3 fits"],
        ["fit_many_dask_rpj.png", "fit_many_dask/results.csv"],
    ),
}


def test_every_example_has_expectations() -> None:
    """A new example must get its expected output listed here."""
    assert sorted(p.name for p in EXAMPLES) == sorted(EXPECTED)


@pytest.mark.example
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    """The script exits with 0, prints the expected text and writes its files.

    Parameters
    ----------
    script
        Path of the example script.
    tmp_path
        Output folder passed as ``--out``.
    """
    result = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, (
        f"{script.name} failed with exit code {result.returncode}\n"
        f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    )
    texts, files = EXPECTED[script.name]
    missing = [t for t in texts if t not in result.stdout]
    assert not missing, f"{script.name} did not print {missing}\nstdout:\n{result.stdout}"
    for name in files:
        path = tmp_path / name
        assert path.is_file() and path.stat().st_size > 0, f"{script.name} did not write {name}"
