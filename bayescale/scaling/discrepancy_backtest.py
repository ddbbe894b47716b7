r"""Leave-one-source-out back-test of the extrapolation discrepancy.

For each source :math:`s`, the discrepancy (:func:`~bayescale.scaling.discrepancy.fit_discrepancy`)
is fitted to the held-out cases of every *other* source, and the predictive distribution
of each run of :math:`s` is the fit's own spread plus the population's discrepancy:
:math:`e \sim v\,\epsilon + \delta`. The baseline is a fixed zero-mean rate,
:math:`\delta = \lambda d\,\epsilon` (bayescale 0.1). :func:`score` gives, per run, the
signed and absolute relative error of the forecast median, whether the 50 % and 90 %
intervals cover, the 90 % half-width in percent of the median and the PIT.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from bayescale.core.errors import ConvergenceWarning
from bayescale.scaling.discrepancy import DiscrepancyFit, discrepancy_draws, fit_discrepancy
from bayescale.scaling.spread_calibration import spread_factor_draws

__all__ = ["FIXED_RATE", "leave_one_source_out", "score"]

#: bayescale 0.1's fixed extrapolation rate, the baseline.
FIXED_RATE = 0.02
N_DRAWS = 4000


def _predictive(cases: pd.DataFrame, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draws of the log error of each case under a forecast: the fit's spread plus ``delta``."""
    sd = cases["sd"].to_numpy(float)[None, :]
    return sd * rng.standard_normal((delta.shape[0], len(cases))) + delta


def score(cases: pd.DataFrame, pred: np.ndarray, method: str) -> pd.DataFrame:
    """Per-run scores of predictive draws ``pred`` (draws x runs) of the log error."""
    err = cases["err"].to_numpy(float)
    med = np.median(pred, axis=0)
    out = cases[[c for c in ("source", "case", "d", "d_compute", "d_ratio") if c in cases]].copy()
    out["method"] = method
    out["signed_%"] = 100 * (np.exp(-(err - med)) - 1)  # forecast / observed - 1
    out["are_%"] = np.abs(out["signed_%"])
    for p in (0.5, 0.9):
        lo, hi = np.quantile(pred, [(1 - p) / 2, (1 + p) / 2], axis=0)
        out[f"cov{int(100 * p)}"] = (err >= lo) & (err <= hi)
        if p == 0.9:
            out["halfwidth90_%"] = 100 * (np.exp(hi - med) - np.exp(lo - med)) / 2
    out["pit"] = (pred < err[None, :]).mean(axis=0)
    return out


def leave_one_source_out(
    cases: pd.DataFrame,
    *,
    seed: int = 0,
    fit: Callable[..., DiscrepancyFit] = fit_discrepancy,
    verbose: bool = True,
    also: Mapping[str, pd.DataFrame] | None = None,
    inner: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Scores of the learned discrepancy (fitted without each source) and the fixed rate.

    ``fit`` fits the discrepancy to a cases table (default :func:`fit_discrepancy`); it
    is never given the rows of the source being scored. ``also`` holds other case tables
    of the same runs (e.g. the stacking mixture of several laws), scored with the same
    discrepancy as method ``"learned (LOSO), <name>"``. ``inner`` holds the inner cases of
    each case (:func:`~bayescale.scaling.discrepancy_build.build_cases` with ``inner=True``:
    forecasts of the largest *training* runs of the case from the rest); with it, method
    ``"learned (LOSO), own spread"`` scales each case's own spread by the factor calibrated
    on its inner cases (:func:`~bayescale.scaling.spread_calibration.spread_factor_draws`,
    with the population fitted without the source as its prior).
    """
    rng = np.random.default_rng(seed)
    frames = []
    for source in sorted(cases["source"].unique()):
        held = cases[cases["source"] == source].reset_index(drop=True)
        others = cases[cases["source"] != source]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            learned = fit(others, seed=seed)
        population = learned.population_draws()
        delta = discrepancy_draws(population, held["d"].to_numpy(float), rng, n=N_DRAWS)
        frames.append(score(held, _predictive(held, delta, rng), "learned (LOSO)"))
        for name, table in (also or {}).items():
            other = table[table["source"] == source].reset_index(drop=True)
            if other.empty:
                continue
            more = discrepancy_draws(population, other["d"].to_numpy(float), rng, n=N_DRAWS)
            frames.append(score(other, _predictive(other, more, rng), f"learned (LOSO), {name}"))
        if inner is not None:
            for label, part in held.groupby("case", sort=False):
                mine = inner[inner["case"] == label]
                if mine.empty:
                    continue
                part = part.reset_index(drop=True)
                factor, _ = spread_factor_draws(mine, population, n_draws=N_DRAWS, seed=rng)
                more = discrepancy_draws(population, part["d"].to_numpy(float), rng, n=N_DRAWS)
                pred = factor[:, None] * _predictive(part, np.zeros_like(more), rng) + more
                frames.append(score(part, pred, "learned (LOSO), own spread"))
        fixed = (
            FIXED_RATE
            * held["d"].to_numpy(float)[None, :]
            * rng.standard_normal((N_DRAWS, len(held)))
        )
        frames.append(score(held, _predictive(held, fixed, rng), f"fixed rate {FIXED_RATE}"))
        if verbose:
            print(f"{source}: {len(held)} runs; fitted on {len(others)}: {learned.diagnostics}")
    return pd.concat(frames, ignore_index=True)
