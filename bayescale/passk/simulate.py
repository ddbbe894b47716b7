r"""Simulate per-problem attempt counts from known Beta parameters, and the shipped example.

The real repeated-sampling data this package is tested on (Brown et al. 2024, Pythia on
MATH) has no stated licence, so the package ships a simulated table instead:
``bayescale/passk/data/simulated_counts.csv``, drawn by :func:`simulate_counts` with the
defaults below and :data:`EXAMPLE_SEED`, plus ``simulated_truth.json`` with the true
values. Rebuild both with ``python -m bayescale.passk.simulate``.

For model size :math:`N` (with :math:`x = \log N - \log 10^9`):

.. math::

    \log a = \log a_0 + s_a x, \quad \log b = \log b_0 + s_b x, \quad
    \operatorname{logit} \pi = \ell_0 + s_\pi x, \\
    p_j \sim \pi\,\delta_0 + (1 - \pi)\,\mathrm{Beta}(a, b), \quad
    c_j \sim \mathrm{Binomial}(n, p_j).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "EXAMPLE_SEED",
    "TRUTH",
    "example_counts",
    "example_truth",
    "simulate_counts",
    "simulate_shared_counts",
]

#: Seed of the shipped example.
EXAMPLE_SEED = 20261123
#: True parameters of the shipped example (see the module docstring).
TRUTH: dict[str, Any] = {
    "sizes": [1.0e8, 3.0e8, 1.0e9, 3.0e9, 1.0e10],
    "log_params_ref": float(np.log(1e9)),
    "a0": 0.25,
    "slope_a": 0.08,
    "b0": 20.0,
    "slope_b": -0.35,
    "logit_pi0": -3.0,
    "slope_pi": -0.3,
    "n_problems": 200,
    "n_samples": 100,
    "tokens_per_sample": 500,
}


def _beta_params(params: np.ndarray, truth: dict[str, Any]) -> tuple[np.ndarray, ...]:
    x = np.log(params) - truth["log_params_ref"]
    a = truth["a0"] * np.exp(truth["slope_a"] * x)
    b = truth["b0"] * np.exp(truth["slope_b"] * x)
    pi = 1.0 / (1.0 + np.exp(-(truth["logit_pi0"] + truth["slope_pi"] * x)))
    return a, b, pi


def simulate_counts(
    sizes: Sequence[float] | None = None,
    *,
    n_problems: int | None = None,
    n_samples: int | None = None,
    truth: dict[str, Any] | None = None,
    seed: int | np.random.Generator | None = EXAMPLE_SEED,
) -> pd.DataFrame:
    """Draw a counts table: one row per (model, problem) with ``n_samples`` attempts.

    Parameters
    ----------
    sizes
        Model sizes N (default: ``TRUTH["sizes"]``).
    n_problems, n_samples
        Problems per model and attempts per problem (defaults from ``truth``).
    truth
        The true parameters (keys of :data:`TRUTH`; missing keys taken from it).
    seed
        Random seed or generator.

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``problem``, ``n_samples``, ``n_correct``, ``params``,
        ``compute_per_sample`` (:math:`2 N T` for ``tokens_per_sample`` tokens) and
        ``p_true`` (the problem's true success probability).
    """
    t = {**TRUTH, **(truth or {})}
    sizes_arr = np.asarray(sizes if sizes is not None else t["sizes"], dtype=float)
    n_prob = int(n_problems if n_problems is not None else t["n_problems"])
    n_att = int(n_samples if n_samples is not None else t["n_samples"])
    rng = np.random.default_rng(seed)
    a, b, pi = _beta_params(sizes_arr, t)
    frames = []
    for size, a_m, b_m, pi_m in zip(sizes_arr, a, b, pi, strict=True):
        p = rng.beta(a_m, b_m, size=n_prob)
        p[rng.random(n_prob) < pi_m] = 0.0
        frames.append(
            pd.DataFrame(
                {
                    "model": f"sim-{size:.0e}".replace("+0", "").replace("+", ""),
                    "problem": [f"q{j:03d}" for j in range(n_prob)],
                    "n_samples": n_att,
                    "n_correct": rng.binomial(n_att, p),
                    "params": size,
                    "compute_per_sample": 2.0 * size * t["tokens_per_sample"],
                    "p_true": p,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def simulate_shared_counts(
    sizes: Sequence[float] = (1e8, 4e8, 1.6e9, 6.4e9),
    *,
    n_problems: int = 60,
    n_samples: int = 100,
    log_a: Sequence[float] | None = None,
    log_b: Sequence[float] | None = None,
    sigma_d: float = 1.5,
    pi: float = 0.1,
    seed: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    r"""Counts from the shared-difficulty model (:mod:`bayescale.passk.shared`).

    Problem :math:`j` has difficulty :math:`d_j \sim \mathcal N(0, \sigma_d^2)`, shared by
    every model, and no model can solve it with probability :math:`\pi`; otherwise model
    :math:`m` solves it with probability :math:`p_{mj} \sim \mathrm{Beta}(a_m, b_m
    e^{d_j})`, and :math:`c_{mj} \sim \mathrm{Binomial}(n, p_{mj})`.

    Parameters
    ----------
    sizes
        Model sizes N (one model each).
    n_problems, n_samples
        Problems, and attempts per problem and model.
    log_a, log_b
        Per model (defaults: :math:`\log a` from -0.7 to 0.5 and :math:`\log b` from 5 to
        4 across the sizes).
    sigma_d
        Spread of the difficulties.
    pi
        Share of problems that no model can solve.
    seed
        Random seed or generator.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``problem``, ``n_samples``, ``n_correct``, ``params``, and the truth:
        ``p_true``, ``d_true``, ``never_true`` (the problem is never solvable), ``a_true``,
        ``b_true``.
    """
    rng = np.random.default_rng(seed)
    sizes_arr = np.asarray(sizes, dtype=float)
    n_models = sizes_arr.size
    la = np.asarray(log_a if log_a is not None else np.linspace(-0.7, 0.5, n_models))
    lb = np.asarray(log_b if log_b is not None else np.linspace(5.0, 4.0, n_models))
    d = rng.normal(0.0, sigma_d, size=n_problems)
    never = rng.random(n_problems) < pi
    frames = []
    for m, size in enumerate(sizes_arr):
        p = rng.beta(np.exp(la[m]), np.exp(lb[m] + d))
        p[never] = 0.0
        frames.append(
            pd.DataFrame(
                {
                    "model": f"m{m}",
                    "problem": [f"q{j:03d}" for j in range(n_problems)],
                    "n_samples": n_samples,
                    "n_correct": rng.binomial(n_samples, p),
                    "params": size,
                    "p_true": p,
                    "d_true": d,
                    "never_true": never,
                    "a_true": float(np.exp(la[m])),
                    "b_true": float(np.exp(lb[m])),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def example_truth() -> dict[str, Any]:
    """The true parameters of the shipped example, with a, b, pi per model."""
    text = resources.files(__package__).joinpath("data/simulated_truth.json").read_text()
    out: dict[str, Any] = json.loads(text)
    return out


def example_counts() -> pd.DataFrame:
    """The shipped simulated counts (5 sizes x 200 problems x 100 attempts).

    ``p_true`` holds each problem's true success probability (drop it before fitting,
    or keep it: :func:`bayescale.passk.validate_counts` ignores unknown columns).
    """
    path = resources.files(__package__).joinpath("data/simulated_counts.csv")
    with path.open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle)


def _build(folder: Path) -> None:
    frame = simulate_counts()
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "simulated_counts.csv", index=False, float_format="%.6g")
    sizes = np.asarray(TRUTH["sizes"])
    a, b, pi = _beta_params(sizes, TRUTH)
    models = list(pd.unique(frame["model"]))
    record = {
        **TRUTH,
        "seed": EXAMPLE_SEED,
        "models": {
            m: {"params": float(s), "a": float(x), "b": float(y), "pi": float(z)}
            for m, s, x, y, z in zip(models, sizes, a, b, pi, strict=True)
        },
    }
    (folder / "simulated_truth.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    _build(Path(__file__).parent / "data")
    print("wrote", Path(__file__).parent / "data")
