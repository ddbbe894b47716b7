r"""The extrapolation discrepancy: how far real runs beyond the data depart from a fitted law.

A law fitted to small runs and evaluated at a larger one is wrong by more than its
posterior knows: the functional form drifts from the truth beyond the data, and a
separately trained run differs from the runs of the sweep it is compared with. This
module learns that error from many held-out runs of many sources, so a forecast of a new
source carries the population's discrepancy with its uncertainty.

Cases
-----
For a held-out run :math:`i` of source :math:`s`, fitted *without* any extrapolation term,

* :math:`e_i = \log y_i - \operatorname{median}_k \log \tilde y^{(k)}_i`, the error of the
  forecast median on the log scale (negative: the forecast was too high);
* :math:`v_i = \operatorname{sd}_k \log \tilde y^{(k)}_i`, the fit's own predictive spread;
* :math:`d_i \ge 0`, the distance beyond the training data in e-folds
  (:func:`bayescale.scaling.forecast.extrapolation_distance`).

Model
-----
.. math::

    e_i &\sim \mathcal N\!\left(\mu_s d_i,\ \sqrt{v_i^2 + \sigma_s^2 d_i^2 + \kappa^2}\right)\\
    \mu_s &= \mu_0 + \tau_\mu z_s, \qquad z_s \sim \mathcal N(0, 1)\\
    \log \sigma_s &= \lambda_0 + \tau_\sigma w_s, \qquad w_s \sim \mathcal N(0, 1)

:math:`\mu_s d` is the systematic part (a bias that grows with the distance, the same sign
for every run of a source), :math:`\sigma_s d` the random part, and :math:`\kappa` the
spread of a separately trained run around the sweep it is forecast from (seeds,
schedules, batch sizes), present even at :math:`d = 0`. (A per-source factor on the
fit's own spread :math:`v_i` was tried: it sharpened over-wide sources but made the
population predictive a heavy scale mixture and brought divergences;
``docs/forecasting.md``.) Sources are partially pooled (non-centred), so a new source gets
the population's discrepancy:

.. math::

    \delta = \mu_\text{new} d + \sigma_\text{new} d\,\epsilon_1 + \kappa\,\epsilon_2,\quad
    \mu_\text{new} \sim \mathcal N(\mu_0, \tau_\mu),\
    \log\sigma_\text{new} \sim \mathcal N(\lambda_0, \tau_\sigma),

added to the log of every new-run forecast draw
(:func:`bayescale.scaling.forecast.forecast_draws`). Priors:
:math:`\mu_0 \sim \mathcal N(0, 0.02)`, :math:`\tau_\mu \sim \mathrm{HalfNormal}(0.01)`,
:math:`\lambda_0 \sim \mathcal N(\log 0.02, 1)`,
:math:`\tau_\sigma \sim \mathrm{HalfNormal}(0.5)`,
:math:`\kappa \sim \mathrm{HalfNormal}(0.02)`.

The shipped estimate is the reference ``extrapolation_discrepancy`` in ``models/``
(:func:`load_discrepancy`; rebuilt by ``python -m bayescale.scaling.discrepancy_build``),
validated leaving one source out in ``benchmarks/extrapolation_check.py``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.diagnostics import check_convergence
from bayescale.core.errors import DataError, FitFileError, SpecificationError
from bayescale.core.results import FitResult
from bayescale.core.sampling import Sampler, run_nuts

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CASE_COLUMNS",
    "DISCREPANCY_REFERENCE",
    "POPULATION_GROUP",
    "DiscrepancyFit",
    "declare_population",
    "fit_discrepancy",
    "load_discrepancy",
    "load_population",
]

#: Columns of a table of held-out cases (:func:`fit_discrepancy`).
CASE_COLUMNS = ("source", "err", "sd", "d")
#: Name of the shipped reference in ``models/``.
DISCREPANCY_REFERENCE = "extrapolation_discrepancy"
#: Group of a scaling fit's DataTree holding the population draws it forecasts with.
POPULATION_GROUP = "extrapolation_discrepancy"
#: Population parameters, in the order of the ``parameter`` dimension of the draws.
POPULATION = ("mu0", "tau_mu", "lam0", "tau_sigma", "kappa")
_SAMPLED = ("mu0", "tau_mu", "z", "lam0", "tau_sigma", "w", "kappa")


def _validate_cases(cases: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in CASE_COLUMNS if c not in cases]
    if missing:
        raise DataError(
            f"the cases table lacks column(s) {missing}; it needs {list(CASE_COLUMNS)}: one "
            "row per held-out run with its source, log error of the forecast median, the "
            "fit's predictive sd (log scale) and the distance beyond the data (e-folds)"
        )
    frame = cases.reset_index(drop=True)
    for col in ("err", "sd", "d"):
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DataError(
                f"column {col!r}: not a finite number in rows {bad[:8].tolist()} (0-based); "
                "fix or remove those rows"
            )
        frame[col] = values
    for col, low in (("sd", 0.0), ("d", 0.0)):
        bad = np.flatnonzero(frame[col].to_numpy() < low)
        if bad.size:
            raise DataError(f"column {col!r}: negative in rows {bad[:8].tolist()} (0-based)")
    if frame.empty:
        raise DataError("the cases table has no rows")
    frame["source"] = frame["source"].astype(str)
    return frame


def declare_population() -> dict[str, Any]:
    """Declare the population and per-source parameters with their priors (module
    docstring) in the PyMC model being built, which needs a ``source`` coordinate; returns
    them by name (``mu0``, ``tau_mu``, ``z``, ``lam0``, ``tau_sigma``, ``w``, ``kappa``).

    The discrepancy model is built on them, and so are the alternatives scored against it
    in ``benchmarks/discrepancy_variants.py``.
    """
    import pymc as pm

    return {
        "mu0": pm.Normal("mu0", 0.0, 0.02),
        "tau_mu": pm.HalfNormal("tau_mu", 0.01),
        "z": pm.Normal("z", 0.0, 1.0, dims="source"),
        "lam0": pm.Normal("lam0", np.log(0.02), 1.0),
        "tau_sigma": pm.HalfNormal("tau_sigma", 0.5),
        "w": pm.Normal("w", 0.0, 1.0, dims="source"),
        "kappa": pm.HalfNormal("kappa", 0.02),
    }


def _build_model(cases: pd.DataFrame) -> Any:
    import pymc as pm

    sources = sorted(cases["source"].unique())
    idx = cases["source"].map({s: i for i, s in enumerate(sources)}).to_numpy()
    coords = {"source": sources, "case": np.arange(len(cases))}
    with pm.Model(coords=coords) as model:
        d = pm.Data("d", cases["d"].to_numpy(float), dims="case")
        sd = pm.Data("sd", cases["sd"].to_numpy(float), dims="case")
        p = declare_population()
        mu_s = pm.Deterministic("mu_source", p["mu0"] + p["tau_mu"] * p["z"], dims="source")
        sigma_s = pm.Deterministic(
            "sigma_source", pm.math.exp(p["lam0"] + p["tau_sigma"] * p["w"]), dims="source"
        )
        scale = pm.math.sqrt(sd**2 + (sigma_s[idx] * d) ** 2 + p["kappa"] ** 2)
        pm.Normal("err", mu_s[idx] * d, scale, observed=cases["err"].to_numpy(float), dims="case")
    return model


class DiscrepancyFit(FitResult):
    """Posterior of the extrapolation discrepancy across sources (see the module docstring).

    Attributes
    ----------
    idata : xarray.DataTree
        ``posterior`` (population and per-source parameters), ``sample_stats``,
        ``observed_data``, ``log_likelihood`` (per case) and ``cases`` (the table).
    cases : pandas.DataFrame
        The held-out cases it was fitted to.
    """

    kind = "discrepancy"

    def __init__(self, idata: xr.DataTree, cases: pd.DataFrame, notes: list[str] | None = None):
        self.idata = idata
        self.cases = cases
        self.notes = list(notes or [])
        self.diagnostics = check_convergence(idata, var_names=list(_SAMPLED), warn=False)

    @property
    def sources(self) -> list[str]:
        return [str(s) for s in self.idata["posterior"].dataset["source"].values]

    def title(self) -> str:
        return (
            f"DiscrepancyFit: extrapolation discrepancy from {len(self.cases)} held-out runs "
            f"of {len(self.sources)} sources"
        )

    def observation_info(self) -> dict[str, str]:
        return {"metric": "log error of the forecast median", "space": "log"}

    def summary(self, *, ci_prob: float = 0.9) -> pd.DataFrame:
        """ArviZ summary of the population parameters and each source's drift and spread."""
        import arviz as az

        return az.summary(
            self.idata,
            var_names=[*POPULATION, "mu_source", "sigma_source"],
            ci_prob=ci_prob,
            ci_kind="eti",
            round_to="none",
        )

    def population_draws(self) -> xr.Dataset:
        """Posterior draws of the population parameters, stacked on dim ``sample``."""
        post = self.idata["posterior"].dataset[list(POPULATION)]
        stacked = post.stack(sample=("chain", "draw"))
        return xr.Dataset(
            {k: ("sample", np.asarray(stacked[k].values, dtype=float)) for k in POPULATION}
        )

    def forecast(
        self,
        d: Sequence[float] | np.ndarray,
        *,
        ci_prob: float = 0.9,
        seed: int | None = 0,
    ) -> pd.DataFrame:
        r"""The discrepancy :math:`\delta` of a run of a new source at distances ``d``.

        Returns the long tidy table of :func:`bayescale.core.intervals.interval_table`
        (``d``, ``quantity == "discrepancy"``, ``mean``, ``median``, ``lower``, ``upper``,
        ``ci_prob``), on the log scale (``0.01`` is 1 % above the law).
        """
        from bayescale.core.intervals import interval_table

        dist = np.atleast_1d(np.asarray(d, dtype=float))
        delta = discrepancy_draws(self.population_draws(), dist, np.random.default_rng(seed))
        da = xr.DataArray(delta, dims=("sample", "d"), coords={"d": dist}, name="discrepancy")
        return interval_table(da, ci_prob=ci_prob, sample_dims=("sample",))

    def plot(self, path: str | os.PathLike[str] | None = None) -> Figure:
        """Held-out log errors against distance, with the population's 50 % and 90 % bands."""
        from matplotlib.figure import Figure

        from bayescale.core.plots import band, save_figure

        fig = Figure(figsize=(6.4, 4.2), layout="constrained")
        ax = fig.add_subplot()
        grid = np.linspace(0.0, max(float(self.cases["d"].max()), 1.0) * 1.05, 60)
        delta = discrepancy_draws(self.population_draws(), grid, np.random.default_rng(0))
        band(ax, grid, delta, ci_prob=0.9, color="C0", alpha=0.18, label="90% new source")
        band(ax, grid, delta, ci_prob=0.5, color="C0", alpha=0.3, median=False)
        for i, (source, frame) in enumerate(self.cases.groupby("source", sort=True)):
            ax.plot(frame["d"], frame["err"], "o", ms=3, color=f"C{(i + 1) % 10}", label=source)
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.set_xlabel("distance beyond the training data d (e-folds)")
        ax.set_ylabel("log(observed) - log(forecast median)")
        ax.legend(fontsize=7, ncols=2)
        return save_figure(fig, path)

    def _state(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _from_tree(cls, tree: xr.DataTree, state: Mapping[str, Any]) -> Self:
        if "cases" not in tree.children:
            raise FitFileError("the file holds no table of cases")
        cases = tree["cases"].dataset.to_dataframe().reset_index(drop=True)
        return cls(tree, cases)


def discrepancy_draws(
    population: xr.Dataset, d: np.ndarray, rng: np.random.Generator, n: int | None = None
) -> np.ndarray:
    r"""Draws of :math:`\delta` at distances ``d`` for a run of a new source.

    One population draw per output draw (resampled when ``n`` exceeds them). Returns an
    array of shape ``(n, len(d))``.
    """
    size = population.sizes["sample"]
    n = size if n is None else int(n)
    pick = rng.permutation(size) if n == size else rng.integers(size, size=n)
    p = {k: population[k].values[pick][:, None] for k in POPULATION}
    mu_new = p["mu0"] + p["tau_mu"] * rng.standard_normal((n, 1))
    sigma_new = np.exp(p["lam0"] + p["tau_sigma"] * rng.standard_normal((n, 1)))
    d = np.asarray(d, dtype=float)[None, :]
    return (
        mu_new * d
        + sigma_new * d * rng.standard_normal((n, d.shape[1]))
        + p["kappa"] * rng.standard_normal((n, d.shape[1]))
    )


def fit_discrepancy(
    cases: pd.DataFrame,
    *,
    seed: int = 0,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    target_accept: float = 0.9,
    progressbar: bool = False,
    sampler: Sampler | None = None,
) -> DiscrepancyFit:
    """Fit the discrepancy model to held-out cases (columns :data:`CASE_COLUMNS`).

    ``target_accept=0.9``: the per-source scales are non-centred, which removes the funnel;
    the remaining curvature is where few sources inform :math:`\\tau_\\sigma`.
    """
    frame = _validate_cases(cases)
    if frame["source"].nunique() < 2:
        raise SpecificationError(
            "the discrepancy is learned across sources: give held-out cases of at least two"
        )
    model = _build_model(frame)
    notes: list[str] = []
    idata, _ = run_nuts(
        model,
        check_vars=list(_SAMPLED),
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        target_accept=target_accept,
        progressbar=progressbar,
        sampler=sampler,
        notes=notes,
        log_likelihood=["err"],
    )
    idata["cases"] = xr.Dataset.from_dataframe(frame.reset_index(drop=True))
    result = DiscrepancyFit(idata, frame, notes)
    return result


def _discrepancy_path(reference: str | os.PathLike[str]) -> Path:
    from bayescale.scaling.reference import models_dir

    path = Path(reference)
    if path.is_dir():
        path = path / "fit.nc"
    elif not path.suffix:
        path = models_dir() / str(reference) / "fit.nc"
    if not path.exists():
        raise SpecificationError(
            f"no extrapolation discrepancy at {str(path)!r}; rebuild it with "
            "`python -m bayescale.scaling.discrepancy_build`, or pass extrapolation_rate= "
            "(a fixed rate) to bayescale.fit"
        )
    return path


def load_discrepancy(reference: str | os.PathLike[str] = DISCREPANCY_REFERENCE) -> DiscrepancyFit:
    """The shipped discrepancy (reference ``extrapolation_discrepancy`` in ``models/``), or
    one at a given folder or file."""
    from bayescale.core.results import load

    path = _discrepancy_path(reference)
    fit = load(path)
    if not isinstance(fit, DiscrepancyFit):
        raise SpecificationError(f"{str(path)!r} holds a {fit.kind!r} fit, not a discrepancy")
    return fit


def load_population(reference: str | os.PathLike[str] = DISCREPANCY_REFERENCE) -> xr.Dataset:
    """The population draws of a saved discrepancy: ``load_discrepancy(reference)
    .population_draws()``, read without decoding the whole file.

    A scaling fit needs only these five variables of the reference. They are read with
    :mod:`h5py` (plain float64 arrays of dims ``(chain, draw)``, as
    :meth:`DiscrepancyFit.save` writes them), which spares a fit the netCDF decoding of
    every group and the imports it brings (``docs/speed.md``), and kept for the process
    (keyed by the file's path, inode, size and modification time; each call returns its
    own copy). A file of any other layout is loaded in full with :func:`load_discrepancy`.
    """
    path = _discrepancy_path(reference).resolve()
    st = path.stat()
    return _population_from_file(str(path), st.st_ino, st.st_size, st.st_mtime_ns).copy(deep=True)


@functools.lru_cache(maxsize=8)
def _population_from_file(path: str, inode: int, size: int, mtime_ns: int) -> xr.Dataset:
    from bayescale.core.results import KIND_ATTR

    arrays: dict[str, np.ndarray] = {}
    try:
        import h5py

        with h5py.File(path, "r") as f:
            kind = f.attrs.get(KIND_ATTR)
            kind = kind.decode() if isinstance(kind, bytes) else kind
            names = POPULATION if kind == DiscrepancyFit.kind and "posterior" in f else ()
            for name in names:
                var = f["posterior"][name]
                shape = (f["posterior"]["chain"].size, f["posterior"]["draw"].size)
                encoded = {"scale_factor", "add_offset", "units", "calendar"} & set(var.attrs)
                if var.shape != shape or var.dtype != np.float64 or encoded:
                    break
                arrays[name] = np.asarray(var[...], dtype=float).ravel()  # (chain, draw) order
    except (OSError, KeyError, ImportError):
        arrays = {}
    if len(arrays) != len(POPULATION) or len({a.size for a in arrays.values()}) != 1:
        return load_discrepancy(path).population_draws()
    return xr.Dataset({k: ("sample", arrays[k]) for k in POPULATION})
