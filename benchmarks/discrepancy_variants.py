r"""Alternatives to the shipped extrapolation discrepancy, leaving one source out.

The shipped model (:mod:`bayescale.scaling.discrepancy`) adds to the fit's own predictive
spread :math:`v_i` a drift and a spread that grow with the distance :math:`d_i`:

.. math:: e_i \sim \mathcal N\!\left(\mu_s d_i,\ \sqrt{v_i^2 + \sigma_s^2 d_i^2 + \kappa^2}\right).

Its 90 % intervals cover too often at 1-2 e-folds (``docs/forecasting.md``). This script
scores, side by side and in one run, the alternatives tried against that (each fitted to
the cases of all *other* sources and scored on the held-out one, exactly as
:func:`bayescale.scaling.discrepancy_backtest.leave_one_source_out`):

``spread factor``
    :math:`v_i` replaced by :math:`c\,v_i`, :math:`\log c \sim \mathcal N(0, 0.5)`, one
    factor for every source (the fits' own new-run spread is wider than their held-out
    errors for several sources).
``spread factor, pooled``
    the same with a factor per source, :math:`\log c_s = g_0 + \tau_c u_s`,
    :math:`\tau_c \sim \mathrm{HalfNormal}(0.3)`, a new source drawing its own.
``drift with the fit's spread``
    a random drift proportional to the fit's spread, :math:`\rho\,v_i d_i` added in
    quadrature, :math:`\rho \sim \mathrm{HalfNormal}(1)` (a law that fits its runs badly
    might extrapolate worse).
``spread growing as d^p``
    the random drift :math:`\sigma_s d_i^p` instead of :math:`\sigma_s d_i`,
    :math:`p \sim \mathrm{LogNormal}(0, 0.5)` (if errors grew faster than the distance,
    the intervals at 1-2 e-folds could be narrower than at 2-3).
``distance in compute``
    :math:`d_i` replaced by the e-folds of training *compute* beyond the data,
    :math:`d^C_i = \max(0, \log C_i - \log \max_\text{train} C)` (column ``d_compute``
    of the cases), the distance the issue bins by.
``distance mixed``
    :math:`(1 - \omega) d_i + \omega d^C_i`, :math:`\omega \sim \mathrm{Beta}(1, 1)`: the
    data choose between the two distances.
``heavy-tailed sources``
    the per-source drift and spread offsets :math:`z_s, w_s` Student-t with 3 degrees of
    freedom instead of normal (a source like Pythia's or Gadre et al.'s is an outlier
    without widening the population for every new source).
``learned inside the D/N range``
    the shipped model learned only from the cases at most one e-fold outside their
    training range of tokens per parameter (``d_ratio``; Epoch's undertrained runs are
    the rest) and scored on all of them.
``Student-t case fits``
    the shipped model on cases whose laws were fitted with ``likelihood="studentt"``
    (built through ``fit_many`` into ``--studentt-fits``, reused by a later run).
``one exponent for N and D``
    the shipped model on cases whose Chinchilla laws are ``chinchilla_tied``
    (:math:`\beta = \alpha`, Gadre et al. 2024; built into ``--tied-fits``; the cases in
    compute keep their law).
``smallest runs left out``
    the shipped model on cases whose laws were fitted without the runs in the smallest
    fifth of the log range of :math:`N` of each training set (:func:`drop_smallest`; the
    Hitchhiker's Guide, Choshen et al. 2024, advises fitting the larger models), the
    held-out runs and their distances unchanged (built into ``--trimmed-fits``).

Usage::

    .venv/bin/python benchmarks/discrepancy_variants.py --cases bench_out/cases.csv
    .venv/bin/python benchmarks/discrepancy_variants.py --cases bench_out/cases.csv \
        --variants trimmed

About 9 minutes on 2 cores with the case fits present (54 leave-one-source-out fits
of the discrepancy models), plus 3.5 minutes for the 17 Student-t case fits and 4.5
minutes for the 17 trimmed case fits the first time (2 minutes for the tied ones).
``--variants`` picks some of ``factor``, ``pooled``, ``rho``, ``power``, ``compute``,
``mix``, ``heavy``, ``inrange``, ``studentt``, ``tied`` and ``trimmed`` (default: all);
the shipped model and the fixed rate are always scored beside them.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayescale.core.errors import ConvergenceWarning
from bayescale.core.sampling import run_nuts
from bayescale.scaling.discrepancy import declare_population
from bayescale.scaling.discrepancy_backtest import N_DRAWS, leave_one_source_out, score
from bayescale.scaling.discrepancy_build import CASES, build_cases

VARIANTS = {
    "spread factor": "global",
    "spread factor, pooled": "pooled",
    "drift with the fit's spread": "rho",
    "spread growing as d^p": "power",
    "distance in compute": "compute",
    "distance mixed": "mix",
    "heavy-tailed sources": "heavy",
    "learned inside the D/N range": "inrange",
}
#: ``--variants`` names of :data:`VARIANTS` and of the variants with their own case fits.
CHOICES = {
    "factor": "global",
    "pooled": "pooled",
    "rho": "rho",
    "power": "power",
    "compute": "compute",
    "mix": "mix",
    "heavy": "heavy",
    "inrange": "inrange",
    "studentt": "studentt",
    "tied": "tied",
    "trimmed": "trimmed",
}
#: Share of each training set's log range of N left out by :func:`drop_smallest`.
SMALLEST_SHARE = 0.2
PARAMETERS = (
    "mu0",
    "tau_mu",
    "lam0",
    "tau_sigma",
    "kappa",
    "g0",
    "tau_c",
    "rho",
    "power",
    "omega",
)
#: The ``inrange`` variant learns from cases at most this many e-folds outside their
#: training range of tokens per parameter.
INRANGE_LIMIT = 1.0
#: Degrees of freedom of the source offsets of the ``heavy`` variant.
HEAVY_NU = 3.0


def drop_smallest(
    load: Callable[[], tuple[pd.DataFrame, pd.DataFrame]], share: float = SMALLEST_SHARE
) -> Callable[[], tuple[pd.DataFrame, pd.DataFrame]]:
    r"""A case's loader whose training runs keep :math:`\log N \ge \log N_{\min} +
    s\,(\log N_{\max} - \log N_{\min})` (:math:`s` = ``share``); the held-out runs, and so
    their distances beyond the largest training run, are unchanged."""

    def load_trimmed() -> tuple[pd.DataFrame, pd.DataFrame]:
        train, test = load()
        if "params" not in train or train["params"].isna().any():
            rows = [] if "params" not in train else np.flatnonzero(train["params"].isna()).tolist()
            raise ValueError(
                "drop_smallest needs the parameters of every training run: column 'params' "
                + ("is missing" if "params" not in train else f"is empty in rows {rows}")
                + "; leave this case out of the trimmed variant or give its runs' N"
            )
        log_n = np.log(train["params"].to_numpy(float))
        keep = log_n >= log_n.min() + share * (log_n.max() - log_n.min())
        return train[keep].reset_index(drop=True), test

    return load_trimmed


def build_model(cases: pd.DataFrame, variant: str) -> Any:
    """The shipped discrepancy model with one of the alterations of :data:`VARIANTS`."""
    import pymc as pm

    if variant in ("compute", "mix") and "d_compute" not in cases:
        raise ValueError(
            f"variant {variant!r} needs the cases' column 'd_compute' (e-folds of compute "
            "beyond the data); cases written before it existed lack it: build them again "
            "(benchmarks/extrapolation_check.py without --cases reuses the saved case fits)"
        )
    sources = sorted(cases["source"].unique())
    idx = cases["source"].map({s: i for i, s in enumerate(sources)}).to_numpy()
    sd = cases["sd"].to_numpy(float)
    zero = pm.math.constant(0.0)
    with pm.Model(coords={"source": sources}) as model:
        p = declare_population()  # the shipped model's parameters and priors
        if variant in ("compute", "mix"):
            omega = pm.Beta("omega", 1.0, 1.0) if variant == "mix" else pm.math.constant(1.0)
            if variant == "compute":
                omega = pm.Deterministic("omega", omega)
        else:
            omega = pm.Deterministic("omega", zero)
        d = distance(cases, omega)
        if variant == "heavy":  # Student-t offsets in place of the (then unused) normal ones
            p["z"] = pm.StudentT("z_t", nu=HEAVY_NU, mu=0.0, sigma=1.0, dims="source")
            p["w"] = pm.StudentT("w_t", nu=HEAVY_NU, mu=0.0, sigma=1.0, dims="source")
        if variant in ("global", "pooled"):
            g0 = pm.Normal("g0", 0.0, 0.5)
        else:
            g0 = pm.Deterministic("g0", zero)
        if variant == "pooled":
            tau_c = pm.HalfNormal("tau_c", 0.3)
            u = pm.Normal("u", 0.0, 1.0, dims="source")
            factor = pm.math.exp(g0 + tau_c * u)[idx]
        else:
            tau_c = pm.Deterministic("tau_c", zero)
            factor = pm.math.exp(g0)
        rho = pm.HalfNormal("rho", 1.0) if variant == "rho" else pm.Deterministic("rho", zero)
        if variant == "power":
            power = pm.LogNormal("power", 0.0, 0.5)
        else:
            power = pm.Deterministic("power", pm.math.constant(1.0))
        mu_s = p["mu0"] + p["tau_mu"] * p["z"]
        sigma_s = pm.math.exp(p["lam0"] + p["tau_sigma"] * p["w"])
        scale = pm.math.sqrt(
            (factor * sd) ** 2
            + (sigma_s[idx] * d**power) ** 2
            + (rho * sd * d) ** 2
            + p["kappa"] ** 2
        )
        pm.Normal("err", mu_s[idx] * d, scale, observed=cases["err"].to_numpy(float))
    return model


def inside_ratio_range(cases: pd.DataFrame, limit: float = INRANGE_LIMIT) -> pd.DataFrame:
    """The cases whose tokens per parameter lie at most ``limit`` e-folds outside their
    training range (``d_ratio``; cases in compute alone, ``NaN``, are kept)."""
    if "d_ratio" not in cases:
        raise ValueError(
            "the 'inrange' variant needs the cases' column 'd_ratio'; cases written before "
            "it existed lack it: build them again (benchmarks/extrapolation_check.py "
            "without --cases reuses the saved case fits)"
        )
    return cases[~(cases["d_ratio"] > limit)]


def distance(cases: pd.DataFrame, omega: Any) -> Any:
    r"""The distance a variant uses: :math:`(1 - \omega) d + \omega d^C` (``omega`` 0 is the
    shipped model's ``d``, the only one a cases table without ``d_compute`` allows)."""
    d = cases["d"].to_numpy(float)
    if "d_compute" not in cases:
        return d
    return (1.0 - omega) * d + omega * cases["d_compute"].to_numpy(float)


def predictive(
    held: pd.DataFrame, posterior: dict[str, np.ndarray], rng: np.random.Generator, variant: str
) -> np.ndarray:
    """Draws of the log error of each held-out run under a variant, for a new source."""
    n = N_DRAWS
    pick = rng.integers(len(posterior["mu0"]), size=n)
    p = {k: posterior[k][pick][:, None] for k in PARAMETERS}
    d = distance(held, p["omega"])
    d = np.broadcast_to(d, (n, len(held)))
    sd = held["sd"].to_numpy(float)[None, :]

    def noise() -> np.ndarray:
        return rng.standard_normal((n, d.shape[1]))

    def offset() -> np.ndarray:  # a new source's standardised drift or spread offset
        if variant == "heavy":
            return rng.standard_t(HEAVY_NU, (n, 1))
        return rng.standard_normal((n, 1))

    mu_new = p["mu0"] + p["tau_mu"] * offset()
    sigma_new = np.exp(p["lam0"] + p["tau_sigma"] * offset())
    factor = np.exp(p["g0"] + p["tau_c"] * rng.standard_normal((n, 1)))
    return (
        factor * sd * noise()
        + mu_new * d
        + sigma_new * d ** p["power"] * noise()
        + p["rho"] * sd * d * noise()
        + p["kappa"] * noise()
    )


def variant_scores(cases: pd.DataFrame, name: str, variant: str, seed: int = 0) -> pd.DataFrame:
    """Leave-one-source-out scores of one variant (fitted without the scored source)."""
    rng = np.random.default_rng(seed)
    frames = []
    for source in sorted(cases["source"].unique()):
        held = cases[cases["source"] == source].reset_index(drop=True)
        others = cases[cases["source"] != source]
        if variant == "inrange":
            others = inside_ratio_range(others)
        idata, _ = run_nuts(
            build_model(others, variant),
            check_vars=["mu0", "tau_mu", "lam0", "tau_sigma", "kappa"],
            seed=seed,
            target_accept=0.9,
        )
        post = idata["posterior"].dataset.stack(sample=("chain", "draw"))
        posterior = {k: np.asarray(post[k].values, dtype=float) for k in PARAMETERS}
        posterior = {k: np.broadcast_to(v, post.sizes["sample"]) for k, v in posterior.items()}
        frames.append(score(held, predictive(held, posterior, rng, variant), name))
        divergences = int(idata["sample_stats"].dataset["diverging"].sum())
        means = ", ".join(
            f"{k} {posterior[k].mean():.3f}" for k in ("g0", "tau_c", "rho", "power", "omega")
        )
        print(f"{name}: {source} held out, {divergences} divergences; {means}", flush=True)
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from extrapolation_check import report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=Path("bench_out/cases.csv"))
    parser.add_argument("--fits", type=Path, default=Path("bench_out/loss_case_fits"))
    parser.add_argument("--studentt-cases", type=Path, default=Path("bench_out/cases_t.csv"))
    parser.add_argument("--studentt-fits", type=Path, default=Path("bench_out/loss_case_fits_t"))
    parser.add_argument("--tied-cases", type=Path, default=Path("bench_out/cases_tied.csv"))
    parser.add_argument("--tied-fits", type=Path, default=Path("bench_out/loss_case_fits_tied"))
    parser.add_argument("--trimmed-cases", type=Path, default=Path("bench_out/cases_trim.csv"))
    parser.add_argument("--trimmed-fits", type=Path, default=Path("bench_out/loss_case_fits_trim"))
    parser.add_argument("--out", type=Path, default=Path("bench_out/discrepancy_variants.csv"))
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=sorted(CHOICES),
        default=sorted(CHOICES),
        help="the variants to score beside the shipped model (default: all)",
    )
    args = parser.parse_args()
    chosen = {CHOICES[v] for v in args.variants}
    start = time.perf_counter()
    trimmed_cases = [replace(case, load=drop_smallest(case.load)) for case in CASES]
    tied_cases = [
        replace(case, law="chinchilla_tied") if case.law == "chinchilla" else case for case in CASES
    ]
    builds = {
        "shipped": (args.cases, args.fits, None, None),
        "studentt": (args.studentt_cases, args.studentt_fits, {"likelihood": "studentt"}, None),
        "trimmed": (args.trimmed_cases, args.trimmed_fits, None, trimmed_cases),
        "tied": (args.tied_cases, args.tied_fits, None, tied_cases),
    }
    tables = {}
    for name, (path, fits, options, case_list) in builds.items():
        if name != "shipped" and name not in chosen:
            continue
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            table = build_cases(case_list, fits_dir=fits, fit_options=options)
            table.to_csv(path, index=False)
        tables[name] = pd.read_csv(path)
    cases = tables["shipped"]
    labels = {
        "studentt": "learned, Student-t case fits",
        "trimmed": "learned, smallest runs left out",
        "tied": "learned, chinchilla_tied",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        frames = [leave_one_source_out(cases)]
        for name, label in labels.items():
            if name in tables:
                other = leave_one_source_out(tables[name])
                other = other[other["method"] == "learned (LOSO)"]
                frames.append(other.assign(method=label))
        for name, variant in VARIANTS.items():
            if variant in chosen:
                frames.append(variant_scores(cases, name, variant))
    frame = pd.concat(frames, ignore_index=True)
    print(f"{time.perf_counter() - start:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    report(frame, per_source=bool({"trimmed", "tied"} & chosen))
    converged = {
        p: f"{t.groupby('case')['converged'].first().sum()} of {t['case'].nunique()}"
        for p, t in tables.items()
    }
    print(f"\ncase fits that converged: {converged}")


if __name__ == "__main__":
    main()
