"""Baselines that ``benchmarks/speed.py`` times side by side with :func:`bayescale.fit`.

1. **Grid of L-BFGS starts on a Huber loss, plus bootstrap** — the practice of Hoffmann et
   al. (2022) as replicated by Besiroglu et al. (2024), "Chinchilla Scaling: A replication
   attempt" (arXiv:2404.10102; code: github.com/epoch-research/analyzing-chinchilla,
   ``data_analysis.ipynb``). With ``p = (a, b, e, alpha, beta)``,

   .. math::

       \\hat L_i = \\mathrm{LSE}(a - \\alpha \\log N_i,\\ b - \\beta \\log D_i,\\ e), \\qquad
       \\min_p \\sum_i \\mathrm{Huber}_\\delta(\\log L_i - \\hat L_i), \\quad \\delta = 10^{-3},

   minimised with L-BFGS-B from every start of the grid
   ``alpha, beta in {0, .5, ..., 2}``, ``e in {-1, -.5, ..., 1}``,
   ``a, b in {0, 5, ..., 25}`` (5 x 5 x 5 x 6 x 6 = 4,500 starts); the best objective
   wins. Epoch's notebook drops the 5 points of highest loss first (``exclude_top=5``)
   and draws 4,000 bootstrap resamples of the points, refitting each from one fixed start
   (there: Hoffmann's estimates; here: the best grid fit) and taking percentile
   intervals. The grid can be reduced (:func:`start_grid`) and each bootstrap refit can
   use the best of a few random grid starts (Epoch's "best-of-5" variant).

   Differences from Epoch's code, on purpose: the objective has an analytic gradient
   (``jac="analytic"``, default); Epoch's grid passes no gradient, so L-BFGS-B uses
   finite differences (``jac="numeric"`` reproduces that: ~6x the objective calls).
   The analytic gradient makes the baseline *faster*, i.e. the comparison stricter.

2. **Naive PyMC model** (:func:`naive_chinchilla_model`, :func:`naive_hierarchical_model`):
   the same law written the common way, with raw ``log A``, ``log B`` (not around a
   reference scale), sampled with default ``pm.sample`` settings (which pick nutpie when
   it is installed; ``target_accept=0.8``, 1000 + 1000 draws, 4 chains).

Also :func:`simulate_chinchilla` (data from known parameters, for calibration) and
:func:`load_epoch_chinchilla` (Epoch's digitised Hoffmann et al. points; not shipped with
bayescale: no licence, read from ``../shared/data`` or ``$BAYESCALE_EPOCH_CSV``).
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize

__all__ = [
    "EPOCH_CSV",
    "HOFFMANN_TRUTH",
    "BootstrapResult",
    "GridResult",
    "bootstrap",
    "fit_grid",
    "huber",
    "huber_objective",
    "load_epoch_chinchilla",
    "log_pred",
    "naive_chinchilla_model",
    "naive_hierarchical_model",
    "percentile_intervals",
    "predict_loss",
    "simulate_chinchilla",
    "start_grid",
]

EPOCH_CSV = Path(
    os.environ.get(
        "BAYESCALE_EPOCH_CSV",
        str(
            Path(__file__).resolve().parents[2]
            / "shared"
            / "data"
            / "epoch2024_chinchilla"
            / "svg_extracted_data.csv"
        ),
    )
)
#: Besiroglu et al. (2024) estimates on the Hoffmann points (their Table 1, excluding the
#: 5 highest-loss points): used as the known truth of simulated data.
HOFFMANN_TRUTH = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
PARAM_NAMES = ("a", "b", "e", "alpha", "beta")


# --------------------------------------------------------------------------- data
def load_epoch_chinchilla(path: str | os.PathLike[str] | None = None) -> pd.DataFrame | None:
    """Epoch's digitised Hoffmann et al. (2022) points as a bayescale long table, or None.

    ``tokens = FLOP / (6 N)`` as in Epoch's notebook. The file has no licence: it is read
    from where it lies, never copied into the package.
    """
    path = Path(path) if path is not None else EPOCH_CSV
    if not path.is_file():
        return None
    raw = pd.read_csv(path)
    raw = raw[["Model Size", "Training FLOP", "loss"]].dropna()
    params = raw["Model Size"].to_numpy(float)
    tokens = raw["Training FLOP"].to_numpy(float) / (6.0 * params)
    return pd.DataFrame(
        {
            "family": "hoffmann2022",
            "params": params,
            "tokens": tokens,
            "value": raw["loss"].to_numpy(float),
        }
    )


def predict_loss(theta: dict[str, float], params: Any, tokens: Any) -> np.ndarray:
    """``E + A N^-alpha + B D^-beta`` (natural parameters)."""
    n = np.asarray(params, float)
    d = np.asarray(tokens, float)
    return theta["E"] + theta["A"] * n ** -theta["alpha"] + theta["B"] * d ** -theta["beta"]


def simulate_chinchilla(
    n: int = 240,
    *,
    theta: dict[str, float] | None = None,
    sigma: float = 0.02,
    seed: int = 0,
    design: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Losses from the Chinchilla law with log-normal noise ``sigma`` on a known truth.

    The design is ``design`` (its ``params`` and ``tokens``) when given, else ``n`` points
    on IsoFLOP profiles like Hoffmann et al.'s: 9 budgets from 6e18 to 3e21 FLOP, model
    sizes log-spaced around each budget's optimum, ``D = C / (6 N)``.
    """
    theta = dict(HOFFMANN_TRUTH if theta is None else theta)
    rng = np.random.default_rng(seed)
    if design is not None:
        params = design["params"].to_numpy(float)
        tokens = design["tokens"].to_numpy(float)
    else:
        budgets = np.logspace(np.log10(6e18), np.log10(3e21), 9)
        per = int(np.ceil(n / budgets.size))
        params_l, tokens_l = [], []
        for c in budgets:
            n_opt = 0.09 * c**0.5  # roughly 20 tokens per parameter
            sizes = n_opt * np.logspace(-1.0, 1.0, per) * np.exp(rng.normal(0, 0.05, per))
            params_l.append(sizes)
            tokens_l.append(c / (6.0 * sizes))
        params = np.concatenate(params_l)[:n]
        tokens = np.concatenate(tokens_l)[:n]
    loss = predict_loss(theta, params, tokens) * np.exp(rng.normal(0.0, sigma, params.size))
    return pd.DataFrame({"family": "simulated", "params": params, "tokens": tokens, "value": loss})


# --------------------------------------------------------------------------- objective
def huber(r: np.ndarray, delta: float) -> np.ndarray:
    """Huber loss of residuals ``r`` (quadratic inside ``delta``, linear outside)."""
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def log_pred(p: np.ndarray, log_n: np.ndarray, log_d: np.ndarray) -> np.ndarray:
    """``LSE(a - alpha log N, b - beta log D, e)``: the law's log loss."""
    a, b, e, alpha, beta = p
    t = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
    m = t.max(axis=0)
    return m + np.log(np.exp(t - m).sum(axis=0))


def huber_objective(
    p: np.ndarray, log_n: np.ndarray, log_d: np.ndarray, log_l: np.ndarray, delta: float = 1e-3
) -> tuple[float, np.ndarray]:
    """Sum of Huber losses of log-space residuals and its analytic gradient in ``p``."""
    a, b, e, alpha, beta = p
    t = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
    m = t.max(axis=0)
    w = np.exp(t - m)
    s = w.sum(axis=0)
    pred = m + np.log(s)
    w /= s
    r = log_l - pred
    value = float(huber(r, delta).sum())
    g = -np.clip(r, -delta, delta)  # d huber / d pred
    grad = np.array(
        [
            (g * w[0]).sum(),
            (g * w[1]).sum(),
            (g * w[2]).sum(),
            -(g * w[0] * log_n).sum(),
            -(g * w[1] * log_d).sum(),
        ]
    )
    return value, grad


def _value_only(p: np.ndarray, *args: Any) -> float:
    return huber_objective(p, *args)[0]


def _minimise(p0: np.ndarray, args: tuple, jac: str, method: str = "L-BFGS-B") -> Any:
    if jac == "analytic":
        return minimize(huber_objective, p0, args=args, jac=True, method=method)
    if jac == "numeric":
        return minimize(_value_only, p0, args=args, method=method)  # finite differences
    raise ValueError(f"jac must be 'analytic' or 'numeric', not {jac!r}")


# --------------------------------------------------------------------------- grid
def start_grid(size: str | int = "full", seed: int = 0) -> np.ndarray:
    """Initialisations ``(a, b, e, alpha, beta)``, one per row.

    ``"full"``: Hoffmann/Epoch's 4,500-start grid. ``"reduced"``: every other value of
    each axis (3 x 3 x 3 x 3 x 3 = 243 starts). An int ``k``: ``k`` starts drawn without
    replacement from the full grid (seeded).
    """
    alpha = np.arange(0, 2.5, 0.5)
    beta = np.arange(0, 2.5, 0.5)
    e = np.arange(-1, 1.5, 0.5)
    a = np.arange(0, 30, 5)
    b = np.arange(0, 30, 5)
    if size == "reduced":
        alpha, beta, e, a, b = alpha[::2], beta[::2], e[::2], a[::2], b[::2]
    # Epoch's loop order: product(alpha, beta, e, a, b), stored as [a, b, e, alpha, beta].
    rows = np.array(
        [[ai, bi, ei, al, be] for al, be, ei, ai, bi in itertools.product(alpha, beta, e, a, b)]
    )
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        rng = np.random.default_rng(seed)
        rows = rows[rng.choice(len(rows), size=min(int(size), len(rows)), replace=False)]
    elif size not in ("full", "reduced"):
        raise ValueError(f"grid size must be 'full', 'reduced' or an int, not {size!r}")
    return rows


@dataclass
class GridResult:
    """Best fit over a grid of starts."""

    params: np.ndarray  # (a, b, e, alpha, beta)
    objective: float
    n_starts: int
    share_at_optimum: float  # starts whose optimum is within tol of the best
    n_fev: int  # objective evaluations (with gradient when analytic)
    seconds: float
    objectives: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))

    @property
    def natural(self) -> dict[str, float]:
        return to_natural(self.params)


def to_natural(p: np.ndarray) -> dict[str, float]:
    a, b, e, alpha, beta = p
    return {
        "A": float(np.exp(a)),
        "B": float(np.exp(b)),
        "E": float(np.exp(e)),
        "alpha": float(alpha),
        "beta": float(beta),
    }


def _arrays(df: pd.DataFrame, exclude_top: int = 0) -> tuple[np.ndarray, ...]:
    n = df["params"].to_numpy(float)
    d = df["tokens"].to_numpy(float)
    loss = df["value"].to_numpy(float)
    keep = np.ones(loss.size, bool)
    if exclude_top:
        # Epoch: keep points with loss < the exclude_top-th highest loss
        keep = loss < np.sort(loss)[-exclude_top]
    return np.log(n[keep]), np.log(d[keep]), np.log(loss[keep])


def fit_grid(
    df: pd.DataFrame,
    starts: np.ndarray | str | int = "full",
    *,
    delta: float = 1e-3,
    jac: str = "analytic",
    exclude_top: int = 0,
    tol: float = 1e-3,
) -> GridResult:
    """Minimise the Huber objective from every start; keep the best successful run."""
    if not isinstance(starts, np.ndarray):
        starts = start_grid(starts)
    args = (*_arrays(df, exclude_top), delta)
    t0 = time.perf_counter()
    best_f, best_x, n_fev = np.inf, None, 0
    objectives = np.full(len(starts), np.inf)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for i, p0 in enumerate(starts):
            res = _minimise(np.asarray(p0, float), args, jac)
            n_fev += int(res.nfev)
            if np.isfinite(res.fun):
                objectives[i] = res.fun
            if res.success and res.fun < best_f:
                best_f, best_x = float(res.fun), res.x
    if best_x is None:  # no start reported success: take the lowest objective
        i = int(np.argmin(objectives))
        best_x = _minimise(np.asarray(starts[i], float), args, jac).x
        best_f = float(objectives[i])
    share = float(np.mean(objectives <= best_f + tol * abs(best_f)))
    return GridResult(
        params=np.asarray(best_x, float),
        objective=best_f,
        n_starts=len(starts),
        share_at_optimum=share,
        n_fev=n_fev,
        seconds=time.perf_counter() - t0,
        objectives=objectives,
    )


# --------------------------------------------------------------------------- bootstrap
@dataclass
class BootstrapResult:
    """Bootstrap refits: one row ``(a, b, e, alpha, beta)`` per resample."""

    draws: np.ndarray
    n_boot: int
    n_fev: int
    seconds: float

    def natural(self) -> dict[str, np.ndarray]:
        d = self.draws
        return {
            "A": np.exp(d[:, 0]),
            "B": np.exp(d[:, 1]),
            "E": np.exp(d[:, 2]),
            "alpha": d[:, 3],
            "beta": d[:, 4],
        }


def bootstrap(
    df: pd.DataFrame,
    start: np.ndarray,
    n_boot: int = 4000,
    *,
    delta: float = 1e-3,
    jac: str = "analytic",
    exclude_top: int = 0,
    best_of: int = 0,
    method: str = "BFGS",
    seed: int = 42,
) -> BootstrapResult:
    """Resample points with replacement and refit each resample.

    Each refit starts at ``start`` (Epoch: one BFGS run from a fixed start); with
    ``best_of=k`` it also tries ``k`` random starts drawn from the full grid's axes and
    keeps the lowest objective (Epoch's "grid best-of-5").

    ``method="BFGS"`` as in Epoch's bootstrap. L-BFGS-B (used for the grid, as there)
    stops after a few iterations from a good start on this objective (its relative
    reduction test ``factr`` trips: the Huber sum is ~1e-3), which leaves every refit at
    the start and makes the intervals ~30x too narrow (measured: SD of alpha 0.0005 with
    L-BFGS-B, 0.015 with BFGS, on the Hoffmann points).
    """
    log_n, log_d, log_l = _arrays(df, exclude_top)
    rng = np.random.default_rng(seed)
    grid = start_grid("full")
    t0 = time.perf_counter()
    draws = np.empty((n_boot, 5))
    n_fev = 0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k in range(n_boot):
            idx = rng.integers(0, log_l.size, log_l.size)
            args = (log_n[idx], log_d[idx], log_l[idx], delta)
            res = _minimise(np.asarray(start, float), args, jac, method)
            n_fev += int(res.nfev)
            best = res
            for p0 in grid[rng.integers(0, len(grid), best_of)]:
                alt = _minimise(p0, args, jac, method)
                n_fev += int(alt.nfev)
                if alt.fun < best.fun:
                    best = alt
            draws[k] = best.x
    return BootstrapResult(
        draws=draws, n_boot=n_boot, n_fev=n_fev, seconds=time.perf_counter() - t0
    )


def percentile_intervals(
    boot: BootstrapResult, prob: float = 0.9, points: pd.DataFrame | None = None
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of the natural parameters and of the law at ``points``."""
    q = [50 * (1 - prob), 50 * (1 + prob)]
    out = {k: tuple(np.percentile(v, q)) for k, v in boot.natural().items()}
    if points is not None:
        nat = boot.natural()
        for i, (n, d) in enumerate(zip(points["params"], points["tokens"], strict=True)):
            loss = nat["E"] + nat["A"] * n ** -nat["alpha"] + nat["B"] * d ** -nat["beta"]
            out[f"loss_{i}"] = tuple(np.percentile(loss, q))
    return out


# --------------------------------------------------------------------------- naive PyMC
def naive_chinchilla_model(df: pd.DataFrame) -> Any:
    """The Chinchilla law in plain PyMC, written the common way.

    Raw ``log A``, ``log B`` (the terms are ``exp(a - alpha log N)``, so ``a`` and
    ``alpha`` are strongly correlated), log-normal likelihood, weakly informative priors.
    """
    import pymc as pm

    log_n, log_d, log_l = _arrays(df)
    with pm.Model() as model:
        a = pm.Normal("log_A", 6.0, 3.0)
        b = pm.Normal("log_B", 6.0, 3.0)
        e = pm.Normal("log_E", 0.0, 1.0)
        alpha = pm.HalfNormal("alpha", 1.0)
        beta = pm.HalfNormal("beta", 1.0)
        sigma = pm.HalfNormal("sigma", 0.1)
        mu = pm.math.logsumexp(
            pm.math.stack([a - alpha * log_n, b - beta * log_d, e + 0.0 * log_n]), axis=0
        )[0]
        pm.Normal("y", mu=mu, sigma=sigma, observed=log_l)
    return model


def naive_hierarchical_model(df: pd.DataFrame) -> Any:
    """Three-corpus version: per-family raw ``log A``, ``log B``, ``log E``; exponents
    partially pooled with a non-centred normal on the log scale, ``tau ~ HalfNormal(1)``."""
    import pymc as pm

    fam_codes, families = pd.factorize(df["family"])
    log_n, log_d, log_l = _arrays(df)
    coords = {"family": list(families)}
    with pm.Model(coords=coords) as model:
        a = pm.Normal("log_A", 6.0, 3.0, dims="family")
        b = pm.Normal("log_B", 6.0, 3.0, dims="family")
        e = pm.Normal("log_E", 0.0, 1.0, dims="family")
        exps = {}
        for name in ("alpha", "beta"):
            mu = pm.Normal(f"log_{name}_mu", np.log(0.3), 0.5)
            tau = pm.HalfNormal(f"log_{name}_tau", 1.0)
            z = pm.Normal(f"log_{name}_z", 0.0, 1.0, dims="family")
            exps[name] = pm.Deterministic(name, pm.math.exp(mu + tau * z), dims="family")
        sigma = pm.HalfNormal("sigma", 0.1)
        f = fam_codes
        mu = pm.math.logsumexp(
            pm.math.stack(
                [
                    a[f] - exps["alpha"][f] * log_n,
                    b[f] - exps["beta"][f] * log_d,
                    e[f] + 0.0 * log_n,
                ]
            ),
            axis=0,
        )[0]
        pm.Normal("y", mu=mu, sigma=sigma, observed=log_l)
    return model
