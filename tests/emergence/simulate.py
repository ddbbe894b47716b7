"""Simulated data of the emergence tests: a slice table with a turn, sigmoidal accuracies."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayescale.emergence.sigmoid_model import sigmoid_law


def simulated_table(n_models: int = 40, seed: int = 3, saturated: bool = False) -> pd.DataFrame:
    """A task with an inverted-U easy slice turning at log10 C = 22.5 and a U hard slice.

    ``saturated`` adds a seventh, hardest slice that every model scores 1.000 (as on
    hellaswag), which the fit must merge with its neighbour.
    """
    rng = np.random.default_rng(seed)
    log_c = np.sort(rng.uniform(20.0, 24.0, n_models))
    n_slices = 6
    difficulty = np.linspace(0.0, 1.0, n_slices)
    t = log_c[:, None] - 22.5
    easy_shape = 0.5 - 0.12 * t**2  # rises to a peak at 22.5, then falls
    hard_shape = 0.8 - 0.08 * (t + 1.5)  # improves steadily
    briers = (1 - difficulty) * easy_shape + difficulty * hard_shape
    # a model-level offset shared by the slices (as in the real data) plus slice noise
    shared = rng.normal(0, 0.02, (n_models, 1))
    briers = np.clip(briers + shared + rng.normal(0, 0.01, briers.shape), 0.0, 1.0)
    overall = briers.mean(axis=1)
    if saturated:
        briers = np.column_stack([briers, np.ones(n_models)])
        n_slices += 1
    acc = 0.25 + 1.2 * (0.55 - overall) + rng.normal(0, 0.01, n_models)
    rows = []
    for i in range(n_models):
        base = {"task": "sim", "model": f"m{i:02d}", "family": "f", "compute": 10 ** log_c[i]}
        for s in range(n_slices):
            rows.append(
                {
                    **base,
                    "slice": s,
                    "n_slices": n_slices,
                    "slice_label": f"s{s}",
                    "metric": "brier",
                    "value": briers[i, s],
                    "n_questions": 100.0,
                }
            )
        rows.append(
            {
                **base,
                "slice": -1,
                "n_slices": n_slices,
                "slice_label": "overall",
                "metric": "acc",
                "value": acc[i],
                "n_questions": 600.0,
            }
        )
    return pd.DataFrame(rows)


#: Simulated tasks: (log10 C*, width in decades, chance, ceiling, questions); the first three
#: jump below :data:`CUTOFF` (both sides of the jump fitted), ``late`` after it.
TRUTH = {
    "sharp_mc": (22.4, 0.2, 0.25, 0.8, 1000),
    "sharp_gen": (22.9, 0.25, 0.0, 0.6, 500),
    "smooth": (21.8, 0.9, 0.25, 0.85, 2000),
    # only the flat side below the cut-off: it leaves chance at 10^24.08, past 10^23.5
    "late": (24.6, 0.2, 0.25, 0.8, 1000),
}
KAPPA = 300.0
CUTOFF = 10**23.5


def simulate(n_models: int = 40, seed: int = 3) -> pd.DataFrame:
    """Accuracies drawn from the beta-binomial sigmoid law of :data:`TRUTH`."""
    rng = np.random.default_rng(seed)
    rows = []
    for task, (lt, w, c, h, n) in TRUTH.items():
        log_c = np.sort(rng.uniform(20.0, 24.2, n_models))
        p = sigmoid_law(10**log_c, lt, w, c, h)
        own = rng.beta(p * KAPPA, (1 - p) * KAPPA)
        k = rng.binomial(n, own)
        for i, (lc, ki) in enumerate(zip(log_c, k, strict=True)):
            rows.append(
                {
                    "task": task,
                    "model": f"m{i:02d}",
                    "compute": 10**lc,
                    "value": ki / n,
                    "n_questions": n,
                    "chance": c,
                }
            )
    return pd.DataFrame(rows)


#: A simulated emergent task of per-question results (:func:`simulate_questions`): every
#: question j jumps from chance towards ``ceiling`` at its own log10 compute
#: q_j ~ N(midpoint, spread) with width ``width`` (decades), so the typical model's accuracy
#: is chance + (ceiling - chance) mean_j sigmoid((x - q_j) / width).
QUIZ = {"chance": 0.25, "ceiling": 0.9, "midpoint": 22.6, "spread": 0.25, "width": 0.12}


def quiz_accuracy(log_c: np.ndarray, q_mid: np.ndarray) -> np.ndarray:
    """The typical model's accuracy of :func:`simulate_questions` at ``log_c``."""
    c, h, w = QUIZ["chance"], QUIZ["ceiling"], QUIZ["width"]
    z = (np.asarray(log_c, float)[:, None] - q_mid[None, :]) / w
    return c + (h - c) * (1 / (1 + np.exp(-z))).mean(axis=1)


def quiz_threshold(q_mid: np.ndarray, margin: float = 0.05) -> float:
    """Where :func:`quiz_accuracy` is ``margin`` of the range above chance (bisection)."""
    chance = QUIZ["chance"]
    level = chance + margin * (1 - chance)
    lo, hi = 10.0, 35.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if quiz_accuracy(np.array([mid]), q_mid)[0] < level:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def simulate_questions(
    n_models: int = 40,
    n_questions: int = 200,
    seed: int = 0,
    task: str = "quiz",
    lo: float = 20.0,
    hi: float = 24.0,
) -> pd.DataFrame:
    """Per-question results of an emergent task (:data:`QUIZ`): ``task``, ``model``,
    ``family``, ``compute``, ``question``, ``prob`` (the model's probability of the right
    answer, renormalised over the choices), ``correct``. ``attrs["q_mid"]`` holds the
    questions' own jump points (for :func:`quiz_threshold`)."""
    rng = np.random.default_rng(seed)
    c, h, mid, spread, width = (
        QUIZ[k] for k in ("chance", "ceiling", "midpoint", "spread", "width")
    )
    log_c = np.sort(rng.uniform(lo, hi, n_models))
    q_mid = rng.normal(mid, spread, n_questions)
    # models differ a little in effective compute (data, architecture)
    x = log_c + rng.normal(0.0, 0.05, n_models)
    prob = c + (h - c) / (1 + np.exp(-(x[:, None] - q_mid[None, :]) / width))
    correct = rng.random(prob.shape) < prob
    frame = pd.DataFrame(
        {
            "task": task,
            "model": np.repeat([f"m{i:02d}" for i in range(n_models)], n_questions),
            "family": "f",
            "compute": np.repeat(10**log_c, n_questions),
            "question": np.tile(np.arange(n_questions), n_models),
            "prob": prob.ravel(),
            "correct": correct.ravel().astype(int),
        }
    )
    frame.attrs["q_mid"] = q_mid
    return frame
