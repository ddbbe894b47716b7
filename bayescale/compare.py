r"""Compare fits by their predictive accuracy (PSIS-LOO, ArviZ), any kind of fit.

:func:`compare` ranks fits by their expected log pointwise predictive density (ELPD),
estimated with Pareto-smoothed importance-sampling leave-one-out cross-validation
(PSIS-LOO, :func:`arviz.loo`), and weights them by stacking (:func:`arviz.compare`).
bayescale adds what ArviZ cannot know:

* it checks that every fit models **the same observations** (the same
  :meth:`~bayescale.core.results.FitResult.observation_info`, e.g. metric and scale
  ``log``/``linear``; same units of the pointwise log-likelihood, same labels and same
  observed values) and raises :class:`~bayescale.core.errors.SpecificationError` otherwise,
  because ELPDs of different data are not comparable;
* it turns ArviZ's anonymous Pareto-:math:`\hat k` warnings into one
  :class:`ParetoKWarning` per model that names the model, how many units are affected,
  the worst of them (family, N, D) and what to do;
* the returned :class:`Comparison` prints the table with a plain-language reading of it.

Any :class:`~bayescale.core.results.FitResult` with a ``log_likelihood`` group compares:
scaling laws against each other, coverage laws, a Slice-and-Sandwich against a sigmoid
emergence law on the same task's accuracies.

The units are whatever the fit's log-likelihood is pointwise over: training runs
(dim ``obs``) in the common case; configurations (dim ``config``, leave one configuration
out) when repeated runs of a configuration are modelled with integrated offsets; or runs
(leave one run out) when a fit models several checkpoints per run.

See ``docs/comparison.md``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayescale.core import dims
from bayescale.core.errors import SpecificationError

if TYPE_CHECKING:
    from arviz_stats.utils import ELPDData
    from matplotlib.figure import Figure

    from bayescale.core.results import FitResult

__all__ = ["Comparison", "ParetoKWarning", "compare"]

#: ELPD differences smaller than this are treated as negligible (Sivula et al. 2025).
SIMILAR_ELPD = 4.0
#: A difference is called clear when it is also at least this many standard errors.
CLEAR_DSE = 2.0
#: How many of the worst units a Pareto-k warning lists.
_WORST_LISTED = 5
#: ArviZ's own Pareto-k warning, replaced by :class:`ParetoKWarning`.
_ARVIZ_PARETO_MESSAGE = "Estimated shape parameter of Pareto"

_UNIT_NAMES = {
    dims.OBS: ("observation", "observations"),
    dims.CONFIG: ("configuration", "configurations"),
    "run": ("run", "runs"),
}


class ParetoKWarning(UserWarning):
    """Some units have a Pareto k above the threshold: their PSIS-LOO term is unreliable."""


def _unit_words(unit: str) -> tuple[str, str]:
    return _UNIT_NAMES.get(unit, (f"{unit} unit", f"{unit} units"))


# -- what each fit models -----------------------------------------------------------------
@dataclass(frozen=True)
class _Observations:
    """What a fit's pointwise log-likelihood is about: enough to tell if ELPDs compare."""

    info: dict[str, str]
    unit: str
    labels: np.ndarray
    observed: np.ndarray | None

    @property
    def space(self) -> str:
        return self.info.get("space", "linear")


def _log_likelihood_name(fit: FitResult, var_name: str | None) -> str:
    """``var_name``, or the only variable of the fit's ``log_likelihood`` group."""
    if var_name is not None:
        return var_name
    if "log_likelihood" in fit.idata.children:
        names = [str(v) for v in fit.idata["log_likelihood"].dataset.data_vars]
        if len(names) == 1:
            return names[0]
    return dims.OBSERVED


def _observations(name: str, fit: FitResult, var_name: str | None) -> _Observations:
    tree = fit.idata
    if "log_likelihood" not in tree.children:
        raise SpecificationError(
            f"fit {name!r} has no log_likelihood group, so its ELPD cannot be estimated. "
            "Compute it with `pymc.compute_log_likelihood(fit.idata, model=fit.model())` "
            "or refit."
        )
    ll = tree["log_likelihood"].dataset
    var_name = _log_likelihood_name(fit, var_name)
    if var_name not in ll:
        raise SpecificationError(
            f"fit {name!r} has no log-likelihood variable {var_name!r} "
            f"(it has {sorted(map(str, ll.data_vars))}); pass var_name=..."
        )
    unit_dims = [d for d in ll[var_name].dims if d not in dims.SAMPLE_DIMS]
    if len(unit_dims) != 1:
        raise SpecificationError(
            f"fit {name!r}: the log-likelihood {var_name!r} has dims {unit_dims} besides "
            "chain and draw; bayescale compares fits whose log-likelihood has exactly one "
            "unit dimension (obs, config or run)."
        )
    unit = str(unit_dims[0])
    da = ll[var_name]
    labels = (
        np.asarray(da[unit].values) if unit in da.coords else np.arange(da.sizes[unit])
    ).astype(str)
    observed = None
    if "observed_data" in tree.children and var_name in tree["observed_data"].dataset:
        observed = np.asarray(tree["observed_data"].dataset[var_name].values, dtype=float)
    return _Observations(
        info={str(k): str(v) for k, v in fit.observation_info().items()},
        unit=unit,
        labels=labels,
        observed=observed,
    )


def _differences(a: _Observations, b: _Observations) -> list[str]:
    """How the observations of fit ``b`` differ from those of fit ``a`` (empty: same)."""
    out = []
    for key in sorted(set(a.info) | set(b.info)):
        if key == "space":
            continue
        va, vb = a.info.get(key, "<not stated>"), b.info.get(key, "<not stated>")
        if va != vb:
            out.append(f"{key} {vb!r} instead of {va!r}")
    if a.space != b.space:
        out.append(
            f"space {b.space!r} instead of {a.space!r} (the log-likelihood of a log-space fit "
            "is a density of log(value); put both on the value scale with the Jacobian, "
            "docs/laws.md)"
        )
    if a.unit != b.unit:
        wa, wb = _unit_words(a.unit)[1], _unit_words(b.unit)[1]
        out.append(
            f"log-likelihood per {b.unit!r} ({wb}) instead of per {a.unit!r} ({wa}): "
            "one predicts each unit of its own kind, the other a different set "
            "(e.g. a Student-t fit of repeated runs is per run, a Normal one per "
            "configuration mean)"
        )
    elif a.labels.shape != b.labels.shape:
        out.append(f"{b.labels.size} {b.unit} units instead of {a.labels.size}")
    elif not np.array_equal(a.labels, b.labels):
        diff = np.flatnonzero(a.labels != b.labels)
        out.append(
            f"different {a.unit} labels at {diff.size} positions (first: "
            f"{b.labels[diff[0]]!r} instead of {a.labels[diff[0]]!r})"
        )
    elif (
        a.space == b.space
        and a.observed is not None
        and b.observed is not None
        and (
            a.observed.shape != b.observed.shape
            or not np.allclose(a.observed, b.observed, rtol=1e-9, atol=0.0, equal_nan=True)
        )
    ):
        out.append("different observed values for the same units")
    return out


def check_same_observations(fits: Mapping[str, FitResult], var_name: str | None = None) -> str:
    """Raise unless every fit models the same observations; return the unit dimension.

    Parameters
    ----------
    fits
        Fits by name.
    var_name
        Observed variable of the ``log_likelihood`` group (default: its only variable, or
        ``"y"``).

    Returns
    -------
    str
        The dimension the log-likelihood is pointwise over (``obs``, ``config``, ``run``).

    Raises
    ------
    SpecificationError
        Naming each fit that differs from the first one and how.
    """
    names = list(fits)
    obs = {name: _observations(name, fits[name], var_name) for name in names}
    ref = names[0]
    problems = []
    for name in names[1:]:
        diff = _differences(obs[ref], obs[name])
        if diff:
            problems.append(f"{name!r} differs from {ref!r}: " + "; ".join(diff))
    if problems:
        raise SpecificationError(
            "these fits do not model the same observations, so their ELPDs are not "
            "comparable (an ELPD is a sum over the observations it predicts). "
            + " | ".join(problems)
            + ". Fit every model to the same table, metric and space."
        )
    return obs[ref].unit


# -- Pareto k ------------------------------------------------------------------------------
def _unit_details(fit: FitResult, unit: str, labels: np.ndarray) -> pd.DataFrame:
    """Family, N and D of each unit where a scaling fit's data tell them (NaN otherwise)."""
    frame = pd.DataFrame(
        {"family": pd.Series([None] * len(labels), dtype=object), "params": np.nan},
        index=pd.Index(labels, name="unit"),
    )
    frame["tokens"] = np.nan
    data = getattr(fit, "data", None)
    if fit.kind != "scaling" or data is None:
        return frame
    try:
        if unit == dims.OBS:
            sel = data.isel({dims.OBS: _positions(data[dims.OBS], labels)})
            frame["family"] = sel["obs_family"].values.astype(str)
            frame["params"] = sel["params"].values.astype(float)
            frame["tokens"] = sel["tokens"].values.astype(float)
        else:
            if unit == dims.CONFIG:
                from bayescale.scaling.model import config_index

                config_labels, idx = config_index(data)
                key = np.asarray(config_labels)[idx].astype(str)
            elif f"obs_{unit}" in data.coords:
                key = data[f"obs_{unit}"].values.astype(str)
            else:
                return frame
            rows = pd.DataFrame(
                {
                    "unit": key,
                    "family": data["obs_family"].values.astype(str),
                    "params": data["params"].values.astype(float),
                    "tokens": data["tokens"].values.astype(float),
                }
            ).groupby("unit", sort=False)
            first = rows.first()
            # A unit spanning several N or D (a run's checkpoints) gets no single value.
            for col in ("params", "tokens"):
                first.loc[rows[col].nunique() > 1, col] = np.nan
            frame.update(first.reindex(frame.index))
    except (KeyError, ValueError, IndexError):
        pass
    return frame


def _positions(coord: Any, labels: np.ndarray) -> np.ndarray:
    as_str = np.asarray(coord.values).astype(str)
    lookup = {v: i for i, v in enumerate(as_str)}
    return np.asarray([lookup[str(v)] for v in labels], dtype=int)


def _pareto_frame(name: str, fit: FitResult, loo: ELPDData, unit: str) -> pd.DataFrame:
    k = loo.pareto_k
    labels = (np.asarray(k[unit].values) if unit in k.coords else np.arange(k.sizes[unit])).astype(
        str
    )
    frame = _unit_details(fit, unit, labels).reset_index()
    frame.insert(0, "model", name)
    frame.insert(2, "k", np.asarray(k.transpose(unit).values, dtype=float))
    return frame


def _is_high(k: pd.Series, threshold: float) -> pd.Series:
    """k above the threshold, or not finite (PSIS failed): the LOO term is unreliable."""
    return ~(k <= threshold)


def _describe_unit(row: pd.Series, unit: str) -> str:
    parts = []
    if isinstance(row["family"], str):
        parts.append(str(row["family"]))
    if np.isfinite(row["params"]):
        parts.append(f"N={row['params']:.3g}")
    if np.isfinite(row["tokens"]):
        parts.append(f"D={row['tokens']:.3g}")
    # Configuration labels already spell out family, N and D.
    where = f" ({', '.join(parts)})" if parts and unit != dims.CONFIG else ""
    return f"{unit} {row['unit']}{where}: k={row['k']:.2f}"


def _pareto_message(name: str, frame: pd.DataFrame, unit: str, threshold: float) -> str:
    bad = frame[_is_high(frame["k"], threshold)].sort_values(
        "k", ascending=False, na_position="first"
    )
    one, many = _unit_words(unit)
    worst = "; ".join(_describe_unit(r, unit) for _, r in bad.head(_WORST_LISTED).iterrows())
    more = f"; and {len(bad) - _WORST_LISTED} more" if len(bad) > _WORST_LISTED else ""
    left_out = {
        dims.OBS: "one observation",
        dims.CONFIG: "one configuration",
        "run": "one run",
    }.get(unit, f"one {one}")
    return (
        f"model {name!r}: {len(bad)} of {len(frame)} {many} have Pareto k > {threshold:g}"
        f"{' or undefined' if bad['k'].isna().any() else ''} (worst: {worst}{more}). "
        f"PSIS-LOO cannot approximate leaving out {left_out} there (the posterior moves "
        "too much without it), so this model's ELPD is unreliable and usually too "
        "optimistic. Such units are often outlying runs: refit with a robust "
        "likelihood (likelihood='studentt'), or check the comparison with exact "
        "leave-one-out refits of those units or K-fold cross-validation "
        "(arviz.loo_kfold); docs/comparison.md."
    )


# -- the result ----------------------------------------------------------------------------
@dataclass
class Comparison:
    """Result of :func:`compare`: the ArviZ table, per-model LOO and Pareto diagnostics.

    Attributes
    ----------
    table : pandas.DataFrame
        Output of :func:`arviz.compare`, best model first: ``rank``, ``elpd_diff``
        (difference to the best), ``dse`` (its standard error), ``p_worse``,
        ``diag_diff``, ``diag_elpd``, ``p`` (effective number of parameters), ``elpd``,
        ``se``, ``weight``.
    loo : dict of str to arviz_stats.ELPDData
        Pointwise PSIS-LOO result of each model (``elpd_i``, ``pareto_k``, ``good_k``...).
    pareto_k : pandas.DataFrame
        One row per model and unit: ``model``, ``unit`` (label along :attr:`unit`), ``k``,
        and ``family``, ``params``, ``tokens`` where the data define them.
    unit : str
        Dimension of the pointwise log-likelihood (``obs``, ``config`` or ``run``).
    metric : str
        The metric every fit models.
    space : str
        ``"log"`` (ELPD of log values) or ``"linear"``.
    method : str
        How the weights were computed (``"stacking"`` by default).
    pareto_k_max : float
        Threshold of the Pareto k warnings.
    fits : dict of str to FitResult
        The compared fits, by name (``cmp.fits[cmp.best]`` is the best one).
    """

    table: pd.DataFrame
    loo: dict[str, ELPDData]
    pareto_k: pd.DataFrame
    unit: str
    metric: str
    space: str
    method: str = "stacking"
    pareto_k_max: float = 0.7
    fits: dict[str, FitResult] = field(default_factory=dict, repr=False)

    @property
    def weights(self) -> pd.Series:
        """Weights of the models (stacking by default; they sum to 1), best model first."""
        return self.table["weight"].astype(float)

    @property
    def best(self) -> str:
        """Name of the model with the highest ELPD."""
        return str(self.table.index[0])

    @property
    def high_k(self) -> dict[str, int]:
        """Number of units with Pareto k above :attr:`pareto_k_max`, by model."""
        high = _is_high(self.pareto_k["k"], self.pareto_k_max)
        counts = high.groupby(self.pareto_k["model"]).sum()
        return {str(m): int(counts.get(m, 0)) for m in self.table.index}

    def _diff_to_best(self, name: str) -> tuple[float, float]:
        """ELPD shortfall of ``name`` behind the best model and its standard error.

        From the pointwise ELPDs (as ArviZ does), so it holds also when the table's
        ``elpd_diff`` is relative to a ``reference`` model.
        """
        best = self.loo.get(self.best)
        other = self.loo.get(name)
        if best is None or other is None or best.elpd_i is None or other.elpd_i is None:
            row = self.table.loc[name]
            return abs(float(row["elpd_diff"])), float(row["dse"])
        d = np.ravel(np.asarray(best.elpd_i)) - np.ravel(np.asarray(other.elpd_i))
        d = d[np.isfinite(d)]
        return float(d.sum()), float(np.sqrt(d.size * np.var(d)))

    def interpretation(self) -> str:
        """What the table says, in a few sentences.

        A model whose ELPD is within 4 of the best predicts about as well (differences
        below 4 are within the noise of the estimate); one further behind is *lower*, and
        *clearly worse* when the difference is also at least twice its standard error
        ``dse``. Stacking weights are not model probabilities.
        """
        cmp = self.table
        best = self.best
        similar, worse, clearly = [], [], []
        for name in cmp.index[1:]:
            diff, dse = self._diff_to_best(str(name))
            item = f"{name} ({diff:.1f} ± {dse:.1f} lower)"
            if diff < SIMILAR_ELPD:
                similar.append(item)
            elif diff < CLEAR_DSE * dse:
                worse.append(item)
            else:
                clearly.append(item)
        text = [f"{best} has the highest ELPD."]
        if similar:
            text.append(
                f"About as good (ELPD within {SIMILAR_ELPD:g}, i.e. indistinguishable): "
                + ", ".join(similar)
                + "."
            )
        if worse:
            text.append(
                f"Lower by more than {SIMILAR_ELPD:g}, but by less than {CLEAR_DSE:g} "
                "standard errors: " + ", ".join(worse) + "."
            )
        if clearly:
            text.append(
                f"Clearly worse (by more than {SIMILAR_ELPD:g} and {CLEAR_DSE:g} dse): "
                + ", ".join(clearly)
                + "."
            )
        text.append(
            f"The weights ({self.method}) say how to combine the models' predictions, not "
            "how probable each model is: models that predict alike can split or trade "
            "their weight, and a worse model can get weight for the few units it predicts "
            "better."
        )
        n_units = len(self.pareto_k) // max(len(self.table), 1)
        flagged = [f"{m} ({n} of {n_units})" for m, n in self.high_k.items() if n]
        if flagged:
            many = _unit_words(self.unit)[1]
            text.append(
                f"Pareto k > {self.pareto_k_max:g} for some {many} in {', '.join(flagged)}: "
                "those ELPDs are unreliable (usually too optimistic); before relying on a "
                "small difference, refit with likelihood='studentt' or check with exact "
                "leave-one-out refits or K-fold cross-validation."
            )
        return " ".join(text)

    def summary(self) -> str:
        """The comparison table, the Pareto k counts and :meth:`interpretation` as text."""
        one, many = _unit_words(self.unit)
        n_units = int(next(iter(self.loo.values())).n_data_points) if self.loo else 0
        scale = "log(value)" if self.space == "log" else "value"
        cols = ["rank", "elpd", "se", "elpd_diff", "dse", "p_worse", "p_better", "p", "weight"]
        cols.append("diag_elpd")
        k_max = self.pareto_k.groupby("model")["k"].max()
        shown = self.table[[c for c in cols if c in self.table.columns]]
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            table = shown.to_string(float_format="{:.2f}".format)
        lines = [
            f"PSIS-LOO comparison of {len(self.table)} models of {self.metric!r} "
            f"(ELPD of {scale}, {n_units} {many}, leave one {one} out; "
            f"weights: {self.method})",
            table,
            f"Pareto k > {self.pareto_k_max:g}: "
            + ", ".join(
                f"{m} {n} of {n_units} (max {k_max[m]:.2f})" for m, n in self.high_k.items()
            ),
            "",
            "Interpretation: " + self.interpretation(),
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"<Comparison of {list(self.table.index)} best={self.best!r} "
            f"unit={self.unit!r} method={self.method!r}>"
        )

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write :attr:`table` (with the model names as the first column) to a CSV file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.table.rename_axis("model").to_csv(path)
        return path

    def plot(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Figure:
        """ELPD difference to the best model ± its standard error, per model.

        See :func:`bayescale.scaling.check_plots.plot_compare` (``**kwargs`` go there).
        """
        from bayescale.scaling.check_plots import plot_compare

        return plot_compare(self, path=path, **kwargs)


# -- the function --------------------------------------------------------------------------
def compare(
    fits: Mapping[str, FitResult],
    *,
    method: str = "stacking",
    pareto_k_max: float = 0.7,
    warn: bool = True,
    **az_kwargs: Any,
) -> Comparison:
    r"""Rank fits by PSIS-LOO ELPD and weight them (a checked :func:`arviz.compare`).

    Parameters
    ----------
    fits
        Fits by name (at least two, any :class:`~bayescale.core.results.FitResult` kind),
        all of the same observations: same data rows (or configurations, or runs), same
        :meth:`~bayescale.core.results.FitResult.observation_info` (metric, ``space``).
        They may differ in law, pooling, priors, likelihood and kind of model.
    method
        Weights: ``"stacking"`` (default), ``"BB-pseudo-BMA"`` or ``"pseudo-BMA"``
        (:func:`arviz.compare`).
    pareto_k_max
        Warn when a unit's Pareto :math:`\hat k` exceeds this. 0.7 is the threshold of
        Vehtari et al. (2024) for 2200 draws or more; ArviZ's ``diag_elpd`` column uses
        :math:`\min(1 - 1/\log_{10} S, 0.7)` for :math:`S` draws.
    warn
        Emit one :class:`ParetoKWarning` per model with high Pareto k values. ArviZ's own
        (anonymous) Pareto warnings are always suppressed.
    **az_kwargs
        ``var_name`` (the observed variable; default: the only variable of the
        ``log_likelihood`` group, or ``"y"``) and other arguments of
        :func:`arviz.compare` (``reference``, ``round_to``; numbers are kept unrounded
        unless ``round_to`` is given).

    Returns
    -------
    Comparison
        ``.table``, ``.loo``, ``.pareto_k``, ``.weights``, ``.best``, ``.plot()``,
        ``.summary()``, ``.to_csv()``.

    Raises
    ------
    SpecificationError
        Fewer than two fits, a fit without ``log_likelihood``, or fits that do not model
        the same observations (the message names the fits and the difference).
    """
    import arviz as az

    if len(fits) < 2:
        raise SpecificationError(f"compare needs at least two fits, got {len(fits)}")
    fits = {str(name): fit for name, fit in fits.items()}
    chosen = az_kwargs.pop("var_name", None)
    az_kwargs.setdefault("round_to", "none")
    unit = check_same_observations(fits, chosen)
    var_name = _log_likelihood_name(next(iter(fits.values())), chosen)

    loos: dict[str, ELPDData] = {}
    frames = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_ARVIZ_PARETO_MESSAGE)
        for name, fit in fits.items():
            loos[name] = az.loo(fit.idata, pointwise=True, var_name=var_name)
            frames.append(_pareto_frame(name, fit, loos[name], unit))
        table = az.compare(loos, method=method, **az_kwargs)
    pareto = pd.concat(frames, ignore_index=True)
    first = next(iter(fits.values()))
    result = Comparison(
        table=table,
        loo=loos,
        pareto_k=pareto,
        unit=unit,
        metric=str(first.observation_info().get("metric", first.kind)),
        space=str(first.observation_info().get("space", "linear")),
        method=method,
        pareto_k_max=float(pareto_k_max),
        fits=dict(fits),
    )
    if warn:
        for name in fits:
            frame = pareto[pareto["model"] == name]
            if _is_high(frame["k"], pareto_k_max).any():
                warnings.warn(
                    _pareto_message(name, frame, unit, pareto_k_max), ParetoKWarning, stacklevel=2
                )
    return result
