"""Simulation-based calibration (SBC) of bayescale's chinchilla model and its forecasts.

SBC (Talts et al. 2018; Modrák et al. 2023) checks the fitting machinery against itself:
draw parameters from the prior, simulate a data set from them with the model's own
likelihood, fit, and record where the true parameters fall among the posterior draws. If
prior, likelihood and sampler agree, every rank is uniform. The same replications give
the coverage of extrapolated forecasts: the true curve and a new run simulated from the
truth at 3x, 10x and 30x the largest training N (same tokens-per-parameter ratios) should
fall inside the fit's 50 % and 90 % intervals at the nominal rates.

The design is shaped like a small real sweep (Gadre et al. 2024, small end): 3 families x
5 model sizes (N = 2e7 ... 5e8) x 3 tokens-per-parameter ratios (D/N = 5, 20, 80), with
one run per configuration (``single``) or two seeds per configuration (``seeds``, which
adds the ``config_sigma`` term). A third design, ``checkpoints``, has intermediate
checkpoints: 3 families x 4 sizes (N = 2e7 ... 5e8), one run each to D = 20 N, measured at
20, 35, 50, 70 and 100 % of its tokens (``checkpoint_step`` 1-5, a ``model`` label per
run), so the model has a run offset per run with one scale ``run_sigma`` per family,
integrated out in the likelihood.

How (one spec, fixed across replications):

1. The reference data set is the design with values from one plausible chinchilla curve;
   ``make_spec(validate(reference), chinchilla)`` gives the default (data-driven) priors
   once. Every replication is fitted with exactly that spec, so the prior is the same
   for all of them (refitting with ``bayescale.fit`` would re-derive the priors from each
   simulated data set, which is not SBC).
2. ``pm.sample_prior_predictive`` on ``build_model(reference, spec)`` draws the true
   parameters and the simulated observations (with replicated configurations: the
   configuration means and within sums of squares; the two runs are rebuilt from them,
   which is exact because the runs of a configuration are exchangeable normals; with
   checkpoints the observed variable is drawn by the run-marginal ``CustomDist``'s NumPy
   ``random``, offsets included).
3. A draw whose simulated losses leave ``[0.5, 20]`` is rejected and the next one used.
   The criterion reads only the simulated data, so ranks stay uniform (for every accepted
   data set the posterior is still the posterior under the unchanged prior); it changes
   which true parameters get tested, and the rejection rate is reported.
4. The model of each replication is ``build_model(simulated, spec)``; nutpie compiles the
   model once per design and each replication swaps in its data (``with_data``): the same
   density that ``bayescale.fit`` samples, at a fraction of the compile time (checked for
   the checkpoint design's ``CustomDist`` likelihood too: with the same seed the swapped
   model gives the same draws as a model compiled on the replication's data). NUTS
   settings are bayescale's (``target_accept=0.95``), with shorter chains.
5. Ranks: the number of (thinned, :data:`RANK_DRAWS`) posterior draws below the truth, for
   every family-level law parameter, the population means and scales and the noise
   scales. Forecasts: :func:`bayescale.scaling.forecast.forecast_draws` with the spec's
   ``extrapolation_rate`` (0.02) and with 0. A new run drawn from the truth gets a new
   configuration offset (``seeds``) or a new run offset of its family's ``run_sigma``
   (``checkpoints``), as the forecast's new run does.

Usage::

    .venv/bin/python benchmarks/calibration_sbc.py --designs single seeds  # ~30 min
    # one design, merged with the other designs' results already in --out:
    .venv/bin/python benchmarks/calibration_sbc.py --designs checkpoints --merge \\
        --reps 1000 --max-minutes 24
    .venv/bin/python benchmarks/calibration_sbc.py --quick          # a minute, smoke test
    .venv/bin/python benchmarks/calibration_sbc.py --plot-only      # redraw from results

Results go to ``--out`` (CSV per design, summary JSON) and figures to ``--figures``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]

FAMILIES = ("fam_a", "fam_b", "fam_c")
SIZES = (2e7, 5e7, 1e8, 2e8, 5e8)
RATIOS = (5.0, 20.0, 80.0)
#: Values of the reference data set (its smallest and median loss set the default priors).
REFERENCE = {"E": 1.8, "A": 450.0, "alpha": 0.34, "B": 410.0, "beta": 0.28}
#: Design name -> runs (seeds) per configuration.
DESIGNS = {"single": 1, "seeds": 2, "checkpoints": 1}
#: Design ``checkpoints``: one run per family and size at D/N = 20, each measured at
#: 5 checkpoints (fractions of its final tokens), so the run offsets are modelled.
CHECKPOINT_SIZES = (2e7, 6e7, 1.7e8, 5e8)
CHECKPOINT_RATIO = 20.0
CHECKPOINT_FRACTIONS = (0.2, 0.35, 0.5, 0.7, 1.0)
FACTORS = (3.0, 10.0, 30.0)
LEVELS = (0.5, 0.9)
NOMINAL_GRID = np.round(np.arange(0.05, 1.0, 0.05), 2)
LOSS_BOUNDS = (0.5, 20.0)
RANK_DRAWS = 199  # L: ranks take L + 1 = 200 values
BINS = 20
#: A replication counts as converged with no divergence, R-hat <= 1.01 and bulk ESS >= 200
#: (10 % of 4 x 500 draws, as bayescale's own 400 is of its default 4 x 1000).
RHAT_MAX = 1.01
ESS_MIN = 200.0


# -- design and priors ------------------------------------------------------------------
def design_frame(seeds: int = 1) -> pd.DataFrame:
    """The reference data set: every configuration, ``seeds`` runs each."""
    rows = []
    for fam in FAMILIES:
        for n in SIZES:
            for ratio in RATIOS:
                d = n * ratio
                value = (
                    REFERENCE["E"]
                    + REFERENCE["A"] * n ** -REFERENCE["alpha"]
                    + REFERENCE["B"] * d ** -REFERENCE["beta"]
                )
                for s in range(seeds):
                    rows.append(
                        {
                            "family": fam,
                            "seed": s if seeds > 1 else None,
                            "params": n,
                            "tokens": d,
                            "metric": "loss",
                            "value": value,
                        }
                    )
    return pd.DataFrame(rows)


def checkpoint_frame() -> pd.DataFrame:
    """The reference data set of design ``checkpoints``: every family x size trained once
    to D = 20 N, with rows at :data:`CHECKPOINT_FRACTIONS` of the final tokens
    (``checkpoint_step`` 1, 2, ...) and one ``model`` label per run."""
    rows = []
    for fam in FAMILIES:
        for n in CHECKPOINT_SIZES:
            for step, frac in enumerate(CHECKPOINT_FRACTIONS, start=1):
                d = frac * CHECKPOINT_RATIO * n
                value = (
                    REFERENCE["E"]
                    + REFERENCE["A"] * n ** -REFERENCE["alpha"]
                    + REFERENCE["B"] * d ** -REFERENCE["beta"]
                )
                rows.append(
                    {
                        "family": fam,
                        "model": f"{fam}-{n:.2g}",
                        "params": n,
                        "tokens": d,
                        "checkpoint_step": step,
                        "metric": "loss",
                        "value": value,
                    }
                )
    return pd.DataFrame(rows)


def design_data(name: str) -> pd.DataFrame:
    """The reference data set of a design in :data:`DESIGNS`."""
    if name == "checkpoints":
        return checkpoint_frame()
    return design_frame(DESIGNS[name])


def reference_spec(frame: pd.DataFrame, law: str = "chinchilla") -> tuple[Any, Any]:
    """Validated reference data and its :class:`~bayescale.scaling.model.ModelSpec`
    (fixed priors)."""
    from bayescale.scaling.data import validate
    from bayescale.scaling.fitting import make_spec
    from bayescale.scaling.laws import get_law

    law_obj = get_law(law)
    ds = validate(frame, inputs=law_obj.inputs)
    return ds, make_spec(ds, law_obj, extrapolation_rate=0.02)  # the 0.1 default it measures


def forecast_points(factors: Sequence[float] = FACTORS) -> pd.DataFrame:
    """Every family x ratio at ``factor`` times the largest training N, D = ratio x N."""
    rows = [
        {
            "family": fam,
            "factor": f,
            "ratio": r,
            "params": f * max(SIZES),
            "tokens": f * max(SIZES) * r,
        }
        for f in factors
        for r in RATIOS
        for fam in FAMILIES
    ]
    return pd.DataFrame(rows)


def rank_names(spec: Any, prior: Mapping[str, Any]) -> list[str]:
    """Quantities whose ranks are recorded: law parameters (natural scale), population
    means and scales of pooled parameters, noise scales."""
    names = [p.name for p in spec.law_obj.parameters]
    for p in spec.law_obj.parameters:
        if spec.pooling[p.name] == "pooled":
            names += [f"{p.raw_name}_mu", f"{p.raw_name}_tau"]
    names += [n for n in ("sigma", "config_sigma", "run_sigma") if n in prior]
    return names


# -- simulation -------------------------------------------------------------------------
def runs_from_summaries(
    ybar: np.ndarray, within: np.ndarray, counts: np.ndarray, rng: np.random.Generator
) -> list[np.ndarray]:
    """Rebuild the runs of each configuration from its mean and within sum of squares.

    For exchangeable normal runs, given the mean and the sum of squares the deviations are
    uniform on the sphere of radius sqrt(S) in the zero-sum subspace; ``within`` has one
    entry per configuration with two or more runs, in order.
    """
    out = []
    k = 0
    for mean, n in zip(ybar, counts.astype(int), strict=True):
        if n == 1:
            out.append(np.array([mean]))
            continue
        z = rng.standard_normal(n)
        z -= z.mean()
        out.append(mean + np.sqrt(within[k]) * z / np.linalg.norm(z))
        k += 1
    return out


def simulated_log_values(
    ds: Any, spec: Any, ppd: Mapping[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Log values per observation of ``ds`` from one prior-predictive draw."""
    from bayescale.core import dims
    from bayescale.scaling.model import config_index

    y = np.asarray(ppd[dims.OBSERVED], dtype=float)
    if not spec.config_effects or spec.likelihood != "normal":
        return y
    _, idx = config_index(ds)
    counts = np.bincount(idx)
    runs = runs_from_summaries(y, np.asarray(ppd["y_within"], dtype=float), counts, rng)
    out = np.empty(len(idx))
    for c, values in enumerate(runs):
        out[idx == c] = values
    return out


def accept(values: np.ndarray, bounds: tuple[float, float] = LOSS_BOUNDS) -> bool:
    """Whether every simulated loss lies inside ``bounds`` (a criterion on data only)."""
    return bool(np.all((values >= bounds[0]) & (values <= bounds[1])))


# -- statistics -------------------------------------------------------------------------
def thin(draws: np.ndarray, n: int = RANK_DRAWS) -> np.ndarray:
    """``n`` evenly spaced draws of a flattened (chain x draw) array (first axis)."""
    idx = np.linspace(0, draws.shape[0] - 1, n).round().astype(int)
    return draws[idx]


def rank_of(truth: np.ndarray | float, draws: np.ndarray) -> np.ndarray:
    """SBC rank: number of draws (first axis) below the truth, in ``0 .. len(draws)``."""
    return np.sum(np.asarray(draws) < np.asarray(truth), axis=0)


def chi2_uniform(ranks: np.ndarray, n_draws: int = RANK_DRAWS, bins: int = BINS) -> float:
    """p-value of a chi-square test that ranks in ``0..n_draws`` are uniform, in ``bins``
    equal bins (``n_draws + 1`` must be a multiple of ``bins``)."""
    ranks = np.asarray(ranks)
    if (n_draws + 1) % bins:
        raise ValueError(f"{n_draws + 1} rank values do not split into {bins} equal bins")
    counts = np.bincount(ranks * bins // (n_draws + 1), minlength=bins)
    return float(stats.chisquare(counts).pvalue)


def uniform_band(n: int, bins: int = BINS, prob: float = 0.99) -> tuple[float, float]:
    """Central ``prob`` interval of one bin's count when ``n`` ranks are uniform."""
    dist = stats.binom(n, 1.0 / bins)
    return float(dist.ppf((1 - prob) / 2)), float(dist.ppf((1 + prob) / 2))


def pit(truth: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Fraction of forecast draws (first axis) below the truth."""
    return np.mean(np.asarray(draws) < np.asarray(truth), axis=0)


def interval_covers(truth: np.ndarray, draws: np.ndarray, prob: float) -> np.ndarray:
    """Whether the equal-tailed ``prob`` interval of ``draws`` (first axis, the quantiles
    of :func:`bayescale.scaling.forecast.summarise`) contains the truth."""
    lo, hi = np.quantile(draws, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    return (truth >= lo) & (truth <= hi)


def coverage_from_pit(pits: np.ndarray, prob: float) -> float:
    """Coverage of central ``prob`` intervals from PIT values."""
    pits = np.asarray(pits)
    return float(np.mean(np.abs(pits - 0.5) <= prob / 2 + 1e-12))


def cluster_se(covered: np.ndarray, cluster: np.ndarray) -> float:
    """Standard error of a coverage fraction whose points are grouped in replications
    (points of one replication share a fit, so they are not independent)."""
    frame = pd.DataFrame({"c": np.asarray(covered, dtype=float), "g": cluster})
    per = frame.groupby("g")["c"].mean()
    return float(per.std(ddof=1) / np.sqrt(len(per))) if len(per) > 1 else float("nan")


# -- one design -------------------------------------------------------------------------
def run_design(
    name: str,
    seeds: int,
    reps: int,
    *,
    seed: int,
    draws: int,
    tune: int,
    chains: int,
    max_minutes: float | None = None,
    log: Any = print,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """SBC replications of one design: (ranks and convergence, forecast checks, info).

    ``seeds`` runs per configuration (designs ``single`` and ``seeds``); the design named
    ``checkpoints`` uses :func:`checkpoint_frame`. With ``max_minutes`` no replication
    is started once that much wall time has passed (fewer than ``reps`` may be run; the
    replications run are the first ones of the same sequence, so they stay i.i.d.).
    """
    import nutpie
    import pymc as pm

    from bayescale.core import dims
    from bayescale.core.diagnostics import check_convergence
    from bayescale.scaling.forecast import forecast_draws
    from bayescale.scaling.model import build_model

    wall_start = time.perf_counter()
    frame = checkpoint_frame() if name == "checkpoints" else design_frame(seeds)
    ref_ds, spec = reference_spec(frame)
    law = spec.law_obj
    ref_model = build_model(ref_ds, spec)
    rng = np.random.default_rng(seed)
    pool = max(4 * reps, 50)
    with ref_model:
        prior = pm.sample_prior_predictive(draws=pool, random_seed=int(rng.integers(2**31)))
    prior_ds = prior["prior"].dataset.isel(chain=0)
    ppd_ds = prior["prior_predictive"].dataset.isel(chain=0)
    names = rank_names(spec, prior_ds)
    sampled = [v.name for v in ref_model.free_RVs]
    start = time.perf_counter()
    compiled = nutpie.compile_pymc_model(ref_model, backend="numba")
    compile_seconds = time.perf_counter() - start
    points = forecast_points()
    spec0 = dataclasses.replace(spec, extrapolation_rate=0.0)
    fam_idx = {f: i for i, f in enumerate(ref_ds["family"].values)}
    rank_rows: list[dict[str, Any]] = []
    fc_rows: list[dict[str, Any]] = []
    considered = rejected = 0
    k = 0
    for rep in range(reps):
        if max_minutes is not None and time.perf_counter() - wall_start > 60 * max_minutes:
            log(f"[{name}] time budget of {max_minutes:g} min used: {rep} replications")
            break
        # next accepted prior draw
        while True:
            if k >= pool:
                raise RuntimeError(f"{pool} prior draws used up ({rejected} rejected)")
            ppd = {v: ppd_ds[v].values[k] for v in ppd_ds.data_vars}
            logv = simulated_log_values(ref_ds, spec, ppd, rng)
            considered += 1
            k += 1
            if accept(np.exp(logv)):
                break
            rejected += 1
        truth = prior_ds.isel(draw=k - 1)
        ds = ref_ds.assign(value=(ref_ds["value"].dims, np.exp(logv)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = build_model(ds, spec)
        data = {v.name: v.get_value() for v in model.data_vars}
        t0 = time.perf_counter()
        sample_seed = int(rng.integers(2**31))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = nutpie.sample(
                compiled.with_data(**data),
                draws=draws,
                tune=tune,
                chains=chains,
                seed=sample_seed,
                target_accept=0.95,
                save_warmup=False,
                progress_bar=False,
            )
            diag = check_convergence(idata, var_names=sampled, warn=False)
        seconds = time.perf_counter() - t0
        post = idata["posterior"].dataset
        row: dict[str, Any] = {
            "design": name,
            "rep": rep,
            "prior_draw": k - 1,
            "sample_seed": sample_seed,
            "divergences": diag.divergences,
            "max_rhat": diag.max_rhat,
            "min_ess_bulk": diag.min_ess_bulk,
            "worst_rhat_var": max(diag.bad_rhat, key=diag.bad_rhat.get) if diag.bad_rhat else "",
            "seconds": seconds,
            "min_loss": float(np.exp(logv.min())),
            "max_loss": float(np.exp(logv.max())),
        }
        row["converged"] = bool(
            row["divergences"] == 0
            and row["max_rhat"] <= RHAT_MAX
            and row["min_ess_bulk"] >= ESS_MIN
        )
        for q in names:
            flat = post[q].stack(sample=("chain", "draw")).transpose("sample", ...).values
            ranks = rank_of(truth[q].values, thin(flat))
            if "family" in post[q].dims:
                for fam, r in zip(post[q]["family"].values, np.atleast_1d(ranks), strict=True):
                    row[f"{q}[{fam}]"] = int(r)
            else:
                row[q] = int(ranks)
        rank_rows.append(row)
        # forecasts at 3x, 10x, 30x the largest N
        theta = {
            p.name: np.array(
                [
                    float(truth[p.name].values[fam_idx[f]])
                    if "family" in truth[p.name].dims
                    else float(truth[p.name].values)
                    for f in points["family"]
                ]
            )
            for p in law.parameters
        }
        x = {c: points[c].to_numpy(float) for c in law.inputs}
        true_curve = law.predict(theta, x, spec.summary.log_ref)
        eta = np.log(true_curve) + float(truth["sigma"]) * rng.standard_normal(len(points))
        if "config_sigma" in truth:
            eta = eta + float(truth["config_sigma"]) * rng.standard_normal(len(points))
        if "run_sigma" in truth:  # a new run's offset, with its family's scale
            tau = truth["run_sigma"].values[[fam_idx[f] for f in points["family"]]]
            eta = eta + tau * rng.standard_normal(len(points))
        new_run = np.exp(eta)
        fc_seed = int(rng.integers(2**31))
        pts = points[["family", *law.inputs]]
        families = [str(f) for f in post["family"].values]
        fd = forecast_draws(post, spec, pts, fitted=families, seed=fc_seed)
        fd0 = forecast_draws(post, spec0, pts, fitted=families, seed=fc_seed)
        curve = fd["curve"].values.reshape(-1, len(points))
        new = fd["new_run"].values.reshape(-1, len(points))
        new0 = fd0["new_run"].values.reshape(-1, len(points))
        for quantity, sample, target in (
            ("curve", curve, true_curve),
            ("new_run", new, new_run),
            ("new_run_rate0", new0, new_run),
        ):
            p_it = pit(target, sample)
            cov = {lv: interval_covers(target, sample, lv) for lv in LEVELS}
            for i in range(len(points)):
                fc_rows.append(
                    {
                        "design": name,
                        "rep": rep,
                        "converged": row["converged"],
                        "quantity": quantity,
                        "family": points["family"].iloc[i],
                        "factor": points["factor"].iloc[i],
                        "ratio": points["ratio"].iloc[i],
                        "extrapolation": float(fd["extrapolation"].values[i]),
                        "truth": float(target[i]),
                        "pit": float(p_it[i]),
                        **{f"cov{int(lv * 100)}": bool(cov[lv][i]) for lv in LEVELS},
                    }
                )
        log(
            f"[{name}] rep {rep + 1}/{reps}: {seconds:.1f}s, div {diag.divergences}, "
            f"R-hat {diag.max_rhat:.3f}, ESS {diag.min_ess_bulk:.0f}"
        )
    info = {
        "design": name,
        "seeds_per_config": seeds,
        "observations": int(ds.sizes["obs"]),
        "config_effects": bool(spec.config_effects),
        "run_effects": bool(spec.run_effects),
        "runs": int(ref_ds.sizes[dims.RUN]) if dims.RUN in ref_ds.sizes else None,
        "replications": len(rank_rows),
        "priors": {k: dataclasses.asdict(v) for k, v in spec.priors.items()},
        "pooling": spec.pooling,
        "extrapolation_rate": spec.extrapolation_rate,
        "prior_draws_considered": considered,
        "prior_draws_rejected": rejected,
        "rejection_rate": rejected / considered if considered else float("nan"),
        "compile_seconds": compile_seconds,
        "wall_seconds": time.perf_counter() - wall_start,
        "max_minutes": max_minutes,
        "rank_quantities": [c for c in rank_rows[0] if "[" in c or c in names] if rank_rows else [],
    }
    return pd.DataFrame(rank_rows), pd.DataFrame(fc_rows), info


# -- summaries --------------------------------------------------------------------------
def rank_columns(ranks: pd.DataFrame) -> list[str]:
    skip = {
        "design",
        "rep",
        "prior_draw",
        "sample_seed",
        "divergences",
        "max_rhat",
        "min_ess_bulk",
        "worst_rhat_var",
        "seconds",
        "min_loss",
        "max_loss",
        "converged",
    }
    return [c for c in ranks.columns if c not in skip]


def uniformity_table(ranks: pd.DataFrame) -> pd.DataFrame:
    """Chi-square p-values per quantity, all replications and converged only."""
    rows = []
    for design, group in ranks.groupby("design", sort=False):
        ok = group[group["converged"]]
        for col in rank_columns(group):
            values = group[col].dropna().astype(int).to_numpy()
            if values.size == 0:
                continue
            rows.append(
                {
                    "design": design,
                    "quantity": col,
                    "n": len(values),
                    "mean_rank_frac": values.mean() / RANK_DRAWS,
                    "p_all": chi2_uniform(values),
                    "n_converged": int(ok[col].notna().sum()),
                    "p_converged": chi2_uniform(ok[col].dropna().astype(int).to_numpy())
                    if len(ok)
                    else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def coverage_table(fc: pd.DataFrame, *, converged_only: bool = False) -> pd.DataFrame:
    """Coverage of 50 % and 90 % intervals per design, factor and quantity (cluster SEs)."""
    if converged_only:
        fc = fc[fc["converged"]]
    rows = []
    for (design, factor, quantity), g in fc.groupby(["design", "factor", "quantity"], sort=False):
        row = {"design": design, "factor": factor, "quantity": quantity, "points": len(g)}
        for lv in LEVELS:
            col = f"cov{int(lv * 100)}"
            row[col] = g[col].mean()
            row[f"{col}_se"] = cluster_se(g[col].to_numpy(), g["rep"].to_numpy())
        rows.append(row)
    return pd.DataFrame(rows)


# -- figures ----------------------------------------------------------------------------
def plot_ranks(ranks: pd.DataFrame, design: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    group = ranks[ranks["design"] == design]
    cols = rank_columns(group)
    cols = [c for c in cols if group[c].notna().any()]
    ncol = 5
    nrow = int(np.ceil(len(cols) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.6 * ncol, 1.9 * nrow), sharex=True)
    axes = np.atleast_1d(axes).ravel()
    n = len(group)
    lo, hi = uniform_band(n)
    edges = np.linspace(0, RANK_DRAWS + 1, BINS + 1)
    for ax, col in zip(axes, cols, strict=False):
        values = group[col].dropna().astype(int).to_numpy()
        ax.axhspan(lo, hi, color="0.85", zorder=0)
        ax.axhline(n / BINS, color="0.5", lw=0.8, zorder=1)
        ax.hist(values, bins=edges, color="C0", edgecolor="white", lw=0.4, zorder=2)
        p = chi2_uniform(values)
        ax.set_title(f"{col}  (p={p:.2f})", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in axes[len(cols) :]:
        ax.axis("off")
    fig.suptitle(
        f"SBC rank histograms, design '{design}' ({n} replications, {RANK_DRAWS} draws; "
        "grey: 99% band of a uniform bin count)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ecdf_band(n: int, prob: float = 0.95, sims: int = 4000, seed: int = 0) -> float:
    """Half-width of a simultaneous ``prob`` band for ECDF - identity of ``n`` uniforms."""
    rng = np.random.default_rng(seed)
    u = np.sort(rng.random((sims, n)), axis=1)
    i = np.arange(1, n + 1) / n
    dev = np.maximum(np.abs(i - u), np.abs(i - 1 / n - u)).max(axis=1)
    return float(np.quantile(dev, prob))


def plot_ecdf(ranks: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    designs = list(dict.fromkeys(ranks["design"]))
    fig, axes = plt.subplots(1, len(designs), figsize=(5.5 * len(designs), 3.8), squeeze=False)
    grid = np.linspace(0, 1, 201)
    # one colour per kind of quantity across all panels (the last noise scales: black, navy)
    kinds = list(
        dict.fromkeys(
            c.split("[")[0]
            for d in designs
            for c in rank_columns(ranks[ranks["design"] == d])
            if ranks.loc[ranks["design"] == d, c].notna().any()
        )
    )
    palette = [plt.cm.tab10(i) for i in range(10)] + ["k", "navy", "lime"]
    for ax, design in zip(axes[0], designs, strict=True):
        group = ranks[ranks["design"] == design]
        cols = [c for c in rank_columns(group) if group[c].notna().any()]
        n = len(group)
        band = ecdf_band(n)
        ax.fill_between(grid, -band, band, color="0.85", label="95% simultaneous band")
        styles = ["-", "--", ":"]
        for col in cols:
            u = (group[col].to_numpy(float) + 0.5) / (RANK_DRAWS + 1)
            ecdf = np.searchsorted(np.sort(u), grid, side="right") / len(u)
            kind = col.split("[")[0]
            fam = col[len(kind) :].strip("[]")
            style = styles[FAMILIES.index(fam) % 3] if fam in FAMILIES else "-"
            first = "[" not in col or fam == FAMILIES[0]
            ax.plot(
                grid,
                ecdf - grid,
                lw=0.9,
                ls=style,
                color=palette[kinds.index(kind) % len(palette)],
                label=kind if first else None,
            )
        ax.axhline(0, color="k", lw=0.6)
        ax.set_title(f"design '{design}' ({n} replications)", fontsize=9)
        ax.set_xlabel("fractional rank")
        ax.set_ylabel("ECDF − uniform")
    labelled: dict[str, Any] = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            labelled.setdefault(label, handle)
    axes[0][-1].legend(
        labelled.values(),
        labelled.keys(),
        fontsize=7,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        title="line style: fam_a / b / c",
        title_fontsize=7,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


QUANTITY_LABEL = {
    "curve": "curve (true law)",
    "new_run": "new run, λ = 0.02 (default)",
    "new_run_rate0": "new run, λ = 0",
}


def plot_coverage(fc: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    designs = list(dict.fromkeys(fc["design"]))
    factors = sorted(fc["factor"].unique())
    fig, axes = plt.subplots(
        len(designs), len(factors), figsize=(3.4 * len(factors), 3.2 * len(designs)), squeeze=False
    )
    for r, design in enumerate(designs):
        for c, factor in enumerate(factors):
            ax = axes[r][c]
            g = fc[(fc["design"] == design) & (fc["factor"] == factor)]
            n_reps = g["rep"].nunique()
            half = 2.58 * np.sqrt(NOMINAL_GRID * (1 - NOMINAL_GRID) / max(n_reps, 1))
            ax.fill_between(NOMINAL_GRID, NOMINAL_GRID - half, NOMINAL_GRID + half, color="0.88")
            ax.plot([0, 1], [0, 1], color="k", lw=0.6)
            for j, quantity in enumerate(QUANTITY_LABEL):
                q = g[g["quantity"] == quantity]["pit"].to_numpy()
                if q.size == 0:
                    continue
                cov = [coverage_from_pit(q, p) for p in NOMINAL_GRID]
                ax.plot(
                    NOMINAL_GRID,
                    cov,
                    marker="o",
                    ms=2.5,
                    lw=1.2,
                    color=f"C{j}",
                    label=QUANTITY_LABEL[quantity],
                )
            ax.set_title(f"{design}: {factor:g}x largest N ({n_reps} reps)", fontsize=9)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_aspect("equal")
            if r == len(designs) - 1:
                ax.set_xlabel("nominal coverage")
            if c == 0:
                ax.set_ylabel("observed coverage")
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle(
        "Coverage of central intervals of extrapolated forecasts "
        "(grey: ±2.58 binomial SE with one point per replication)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def make_figures(ranks: pd.DataFrame, fc: pd.DataFrame, figdir: Path) -> list[Path]:
    figdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for design in dict.fromkeys(ranks["design"]):
        p = figdir / f"calibration_ranks_{design}.png"
        plot_ranks(ranks, design, p)
        paths.append(p)
    p = figdir / "calibration_ecdf.png"
    plot_ecdf(ranks, p)
    paths.append(p)
    p = figdir / "calibration_coverage.png"
    plot_coverage(fc, p)
    paths.append(p)
    return paths


def report(ranks: pd.DataFrame, fc: pd.DataFrame, infos: Sequence[Mapping[str, Any]]) -> str:
    """The plain-text summary printed at the end (and written to ``summary.txt``)."""
    lines = []
    pd.set_option("display.width", 160)
    for info in infos:
        d = info["design"]
        g = ranks[ranks["design"] == d]
        runs = info.get("runs")
        if info.get("run_effects") and runs:
            size = f"{info['observations']} rows ({runs} runs with checkpoints) each"
        else:
            size = f"{info['observations']} runs each"
        lines.append(
            f"design {d}: {len(g)} replications, {size}; prior draws "
            f"rejected (loss outside {LOSS_BOUNDS}): {info['prior_draws_rejected']} of "
            f"{info['prior_draws_considered']} ({info['rejection_rate']:.1%})"
        )
        lines.append(
            f"  converged (0 div, R-hat <= {RHAT_MAX}, ESS >= {ESS_MIN:.0f}): "
            f"{int(g['converged'].sum())} of {len(g)}; with divergences: "
            f"{int((g['divergences'] > 0).sum())}; R-hat > {RHAT_MAX}: "
            f"{int((g['max_rhat'] > RHAT_MAX).sum())}; R-hat > 1.05: "
            f"{int((g['max_rhat'] > 1.05).sum())}; ESS < {ESS_MIN:.0f}: "
            f"{int((g['min_ess_bulk'] < ESS_MIN).sum())}; median {g['seconds'].median():.1f} s "
            "per fit"
        )
    lines.append("")
    lines.append("rank uniformity (chi-square, 20 bins):")
    table = uniformity_table(ranks)
    lines.append(table.to_string(index=False, float_format="%.3f"))
    for design, g in table.groupby("design", sort=False):
        lines.append(
            f"{design}: smallest p {g['p_all'].min():.3f} (all), "
            f"{g['p_converged'].min():.3f} (converged) over {len(g)} tests; "
            f"Bonferroni 5% threshold {0.05 / len(g):.4f}"
        )
    for only in (False, True):
        lines.append("")
        lines.append(
            "forecast coverage" + (" (converged replications only)" if only else " (all)") + ":"
        )
        lines.append(
            coverage_table(fc, converged_only=only).to_string(index=False, float_format="%.3f")
        )
    return "\n".join(lines)


def load_results(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """``ranks.csv``, ``forecasts.csv`` and ``info.json`` of an earlier run in ``out``."""
    ranks = pd.read_csv(out / "ranks.csv")
    fc = pd.read_csv(out / "forecasts.csv")
    infos = json.loads((out / "info.json").read_text())
    return ranks, fc, infos


def save_results(
    out: Path, ranks: pd.DataFrame, fc: pd.DataFrame, infos: Sequence[Mapping[str, Any]]
) -> None:
    ranks.to_csv(out / "ranks.csv", index=False)
    fc.to_csv(out / "forecasts.csv", index=False)
    (out / "info.json").write_text(json.dumps(list(infos), indent=1))


def merge_results(
    old: tuple[pd.DataFrame, pd.DataFrame, Sequence[Mapping[str, Any]]],
    new: tuple[Sequence[pd.DataFrame], Sequence[pd.DataFrame], Sequence[Mapping[str, Any]]],
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Results of earlier designs (``old``: ranks, forecasts, infos) with those of newly
    run designs (``new``: lists of the same), a design run anew replacing its old rows.
    Designs are ordered as in :data:`DESIGNS` (unknown ones last)."""
    new_ranks = pd.concat(new[0]) if len(new[0]) else pd.DataFrame()
    new_fc = pd.concat(new[1]) if len(new[1]) else pd.DataFrame()
    fresh = {info["design"] for info in new[2]}
    infos = [dict(i) for i in old[2] if i["design"] not in fresh] + [dict(i) for i in new[2]]
    order = {d: k for k, d in enumerate(DESIGNS)}

    def combine(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
        if len(before):
            before = before[~before["design"].isin(fresh)]
        both = pd.concat([f for f in (before, after) if len(f)], ignore_index=True)
        key = both["design"].map(lambda d: order.get(d, len(order)))
        return both.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)

    infos.sort(key=lambda i: order.get(i["design"], len(order)))
    return combine(old[0], new_ranks), combine(old[1], new_fc), infos


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=150, help="replications per design")
    parser.add_argument("--designs", nargs="*", default=list(DESIGNS), choices=list(DESIGNS))
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the results of the other designs already in --out and add (or replace) "
        "those of --designs",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="per design: start no new replication after this much wall time",
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sbc")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs" / "figures")
    parser.add_argument("--quick", action="store_true", help="4 replications, short chains")
    parser.add_argument("--plot-only", action="store_true", help="redraw from --out results")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.quick:
        args.reps, args.draws, args.tune = 4, 200, 200
    if args.plot_only:
        ranks, fc, infos = load_results(args.out)
    else:
        start = time.perf_counter()
        if args.merge:
            old_ranks, old_fc, old_infos = load_results(args.out)
        else:
            old_ranks, old_fc, old_infos = pd.DataFrame(), pd.DataFrame(), []
        new_ranks, new_fc, new_infos = [], [], []
        for design in args.designs:
            # the seed offset is the design's position in DESIGNS, so a design run alone
            # (--merge) draws the same replications as in a full run
            r, f, info = run_design(
                design,
                DESIGNS[design],
                args.reps,
                seed=args.seed + list(DESIGNS).index(design),
                draws=args.draws,
                tune=args.tune,
                chains=args.chains,
                max_minutes=args.max_minutes,
            )
            new_ranks.append(r)
            new_fc.append(f)
            new_infos.append(info)
            # write as we go, so a long run leaves results behind
            ranks, fc, infos = merge_results(
                (old_ranks, old_fc, old_infos), (new_ranks, new_fc, new_infos)
            )
            save_results(args.out, ranks, fc, infos)
        total = time.perf_counter() - start
        if not args.merge:
            infos[0]["total_seconds"] = total
        save_results(args.out, ranks, fc, infos)
        print(f"total {total / 60:.1f} min")
    text = report(ranks, fc, infos)
    (args.out / "summary.txt").write_text(text + "\n")
    print(text)
    if not args.quick:
        for p in make_figures(ranks, fc, args.figures):
            print("wrote", p)
    else:
        for p in make_figures(ranks, fc, args.out / "figures"):
            print("wrote", p)


if __name__ == "__main__":
    main()
