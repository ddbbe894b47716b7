r"""Bayesian Slice-and-Sandwich: forecast emergence from difficulty slices (Wu & Lo 2024).

Wu and Lo, *U-shaped and Inverted-U Scaling behind Emergent Abilities of Large Language
Models*, ICLR 2025, arXiv:2410.01692 (code: ``tony10101105/ExpEmergence``,
``fit_cluster.py``). The questions of a task are sliced by difficulty (the slice table of
:mod:`bayescale.emergence.slice_table`, slice 0 = easiest). On the target-conditioned (TC)
Brier score (lower is better) easy questions first get *worse* with compute (inverse
scaling) and then improve, hard questions improve slowly; the two offset each other, so
the task's accuracy is flat until the easy questions turn, then it soars. Slice-and-
Sandwich fits each slice's trend below a compute cut-off, combines them into the task's
Brier score and maps that to accuracy: :func:`fit_sandwich` returns a
:class:`SandwichFit`. The model, its priors and why each piece is there are in
:mod:`bayescale.emergence.sandwich_model`; its pointwise log-likelihood is the
logit-normal density of each fitted model's accuracy, so :func:`bayescale.compare` ranks
it against any law of the same task's accuracies (e.g. a one-task
:class:`~bayescale.emergence.sigmoid.SigmoidFit`).

**Forecasts past the cut-off** (:meth:`SandwichFit.forecast`) widen with the distance from
the fitted range: a change of the slices' slopes at its edge (scale ``extrapolation_sd``)
and a drift of the accuracy logit (scale ``accuracy_drift``), both estimated on Wu & Lo's
held-out models (:mod:`bayescale.emergence.sandwich_model`). The threshold and
P(emergent) use the fitted polynomials alone.

**Threshold and P(emergent)** are the ones both emergence models share
(:mod:`bayescale.emergence.criteria`): where the typical model's accuracy curve leaves
chance by a margin, and whether it was flat first, jumped and did so sharply, read from
the sandwich's accuracy curve (:class:`~bayescale.emergence.readings.SandwichReadings`;
the task's chance level is needed: ``chance=``). Beside them, **Wu & Lo's reading**: with
:math:`E(x)` the question-weighted Brier curve of the easy slices (the easiest third of the
questions) on a grid of :math:`\log_{10} C` from the smallest fitted model to the horizon,
a *turn* is a local maximum :math:`x_T` of :math:`E` whose rise before
(:math:`E(x_T) - \min_{x \le x_T} E`) and fall after (:math:`E(x_T) - \min_{x \ge x_T} E`)
both reach ``min_rise`` (0.03 Brier), the most prominent one per draw (``turn_log10`` of
:meth:`SandwichFit.threshold`, ``p_turn``); (B) the hard slices (hardest third) improve
while the easy ones worsen, :math:`H(x_T) < H(x_0)` with :math:`x_0 = \arg\min_{x \le x_T}
E`; (C) the overall Brier curve improves after the turn faster than before it: its mean
slope over :math:`[x_T, x_T + 1]` (one decade, cut at the horizon) is below its mean slope
over :math:`[x_0, x_T]` by at least ``min_rise`` per decade; ``p_turn_soar`` of
:meth:`SandwichFit.emergence` is P(A, B and C). See ``docs/emergence.md``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from bayescale.core.diagnostics import Diagnostics, check_convergence
from bayescale.core.errors import FitFileError, SpecificationError
from bayescale.core.intervals import FORECAST_COLUMNS, check_ci_prob, interval_table
from bayescale.core.results import FitResult
from bayescale.core.sampling import Sampler, run_nuts
from bayescale.emergence.criteria import (
    MARGIN,
    MAX_DECADES,
    MIN_JUMP,
    check_criteria,
)
from bayescale.emergence.readings import SandwichReadings
from bayescale.emergence.sandwich_model import (
    ACCURACY_DRIFT,
    EXTRAPOLATION_SD,
    MIN_SLICE_SD,
    NOISE_FLOOR,
    SAMPLED,
    accuracy_log_likelihood,
    build_model,
    extrapolation_draws,
    prepare_task,
    slice_scaling,
)
from bayescale.emergence.summaries import HELD_OUT_COLUMNS, held_out_scores, posterior_summary
from bayescale.emergence.table import KNOWN_CHANCE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DATA_GROUP", "SandwichFit", "fit_sandwich"]

#: DataTree group holding every model of the task (fitted and held out).
DATA_GROUP = "fit_data"
_SAMPLE = ("chain", "draw")


def _expit(v: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * v))


# --------------------------------------------------------------------------- result
@dataclass(repr=False)
class SandwichFit(SandwichReadings, FitResult):
    """Posterior of a Bayesian Slice-and-Sandwich fit of one task.

    Attributes
    ----------
    idata : xarray.DataTree
        ``posterior``, ``sample_stats``, ``log_likelihood`` (``y``: overall accuracy of
        the fitted models, dim ``obs`` ordered by compute then model, coords ``task``,
        ``model`` and ``compute``), ``observed_data`` and ``fit_data`` (:attr:`data`).
    task : str
        The task.
    cutoff : float
        Compute cut-off (FLOPs): models with compute below it were fitted.
    diagnostics : Diagnostics
        Convergence of the sampled variables.
    data : xarray.Dataset
        Every model of the task (fitted and held out): ``log_c``, ``brier`` (model,
        slice), ``acc``, ``held_out``, ``family``.
    weights : numpy.ndarray
        Question shares of the slices (after merging degenerate ones).
    easy, hard : numpy.ndarray
        Indices of the easy and hard slices.
    degree : int
        Polynomial degree of the easy slices (``slice_degree``: every slice's).
    x_range : tuple of float
        :math:`\\log_{10} C` of the smallest and largest fitted models.
    b_ref : float
        Mean overall Brier score of the fitted models (:math:`\\bar B`).
    horizon : float
        Largest :math:`\\log_{10} C` searched for a turn.
    slice_groups : list of list of int
        The input slices each fitted slice is made of (``[[0, 1, 2], [3], ...]``: input
        slices 0-2, which every fitted model scored alike, were merged).
    notes : list of str
        What was done to the data (merged slices) and to the sampling (a second run).
    extrapolation_sd, accuracy_drift : float
        Scales :math:`\\omega` and :math:`\\rho` of the forecasts past the fitted range
        (module docstring); forecast-time only: ``dataclasses.replace(fit,
        extrapolation_sd=..., accuracy_drift=...)`` changes them without a refit.
    sampler : dict
        NUTS settings of the run (:meth:`bayescale.core.sampling.SamplingRun.as_dict`).
    chance : float or None
        The task's chance accuracy, which the threshold and P(emergent) are measured from
        (:mod:`bayescale.emergence.criteria`); ``None`` when unknown (then they raise,
        saying to give it: ``dataclasses.replace(fit, chance=...)`` needs no refit).
    margin, min_jump, max_decades : float
        Defaults of the threshold and of the emergence criterion
        (:mod:`bayescale.emergence.criteria`).
    """

    kind = "sandwich"

    idata: xr.DataTree
    task: str
    cutoff: float
    diagnostics: Diagnostics | None
    data: xr.Dataset
    weights: np.ndarray
    easy: np.ndarray
    hard: np.ndarray
    degree: int
    x_range: tuple[float, float]
    b_ref: float
    horizon: float
    slice_loc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    slice_scale: np.ndarray = field(default_factory=lambda: np.ones(0))
    min_rise: float = 0.03
    labels: list[str] = field(default_factory=list)
    slice_groups: list[list[int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    slice_degree: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    dlogit: float = 1.0
    extrapolation_sd: float = EXTRAPOLATION_SD
    accuracy_drift: float = ACCURACY_DRIFT
    sampler: dict[str, Any] = field(default_factory=dict)
    chance: float | None = None
    margin: float = MARGIN
    min_jump: float = MIN_JUMP
    max_decades: float = MAX_DECADES

    def __post_init__(self) -> None:
        for name in ("extrapolation_sd", "accuracy_drift"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise SpecificationError(f"{name} must be >= 0, not {value!r}")
        check_criteria(self.margin, self.min_jump, self.max_decades, self.chance)
        if DATA_GROUP not in self.idata.children:
            self.idata[DATA_GROUP] = self.data

    # -- posterior curves -----------------------------------------------------------------
    def _draws(self) -> dict[str, np.ndarray]:
        post = self.idata["posterior"].dataset.stack(sample=_SAMPLE)
        return {
            "beta0": post["beta0"].transpose("sample", "slice").values,
            "beta": post["beta"].transpose("sample", "slice", "power").values,
            "alpha": post["alpha"].values,
            "gamma": post["gamma"].values,
            "sigma_acc": post["sigma_acc"].values,
            "loading": post["loading"].transpose("sample", "slice", "factor").values,
            "sigma_slice": post["sigma_slice"].transpose("sample", "slice").values,
        }

    def _x(self, log_c: np.ndarray) -> np.ndarray:
        lo, hi = self.x_range
        return 2.0 * (np.asarray(log_c, float) - lo) / (hi - lo) - 1.0

    def slice_curves(self, log_c: ArrayLike) -> np.ndarray:
        """Posterior draws of every slice's Brier curve: array (sample, point, slice)."""
        d = self._draws()
        x = self._x(np.atleast_1d(np.asarray(log_c, float)))
        powers = np.stack([x**k for k in range(1, self.degree + 1)], axis=1)
        std = d["beta0"][:, None, :] + np.einsum("pk,nsk->nps", powers, d["beta"])
        return self.slice_loc + self.slice_scale * std

    def _beyond(self, log_c: np.ndarray) -> np.ndarray:
        """Distance (decades of compute) of each point outside the fitted range; 0 inside."""
        lo, hi = self.x_range
        log_c = np.asarray(log_c, float)
        return np.maximum(log_c - hi, 0.0) + np.maximum(lo - log_c, 0.0)

    def _accuracy_logit(
        self, log_c: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Draws of the accuracy logit (with the slice extrapolation term), the slice curves,
        the residual sd and the drift sd on the logit scale: (n, p), (n, p, s), (n,), (p,)."""
        d = self._draws()
        curves = self.slice_curves(log_c)  # (n, p, s)
        n = curves.shape[0]
        # a TC Brier score lies in [0, 1]: so do the forecast curves and new models
        extra = extrapolation_draws(
            self._x(log_c), self.weights, self.slice_scale, self.extrapolation_sd, rng, n
        )
        curves = np.clip(curves + extra, 0.0, 1.0)
        overall = curves @ self.weights
        eta = d["alpha"][:, None] + d["gamma"][:, None] * self.dlogit * (overall - self.b_ref)
        drift_sd = self.accuracy_drift * self.dlogit * self._beyond(log_c)
        return eta, curves, d["sigma_acc"], drift_sd

    def log_score(self, compute: ArrayLike, acc: ArrayLike, *, seed: int | None = 0) -> np.ndarray:
        r"""Log predictive density of observed accuracies of new models of given compute.

        :math:`\log p(a \mid C) = \log \frac1N \sum_n \mathcal N\big(\operatorname{logit}
        a;\ \eta_n(C),\ \sigma_{a,n}^2 + (\rho\, g\, \Delta(C))^2\big) -
        \log\big(a(1 - a)\big)` over the posterior draws :math:`n` (with one draw of
        the slice extrapolation term each; the accuracy drift is Gaussian and integrated
        exactly). The scoring rule by which ``extrapolation_sd`` and ``accuracy_drift``
        were estimated (``benchmarks/emergence_sandwich.py --calibrate``).

        Returns
        -------
        numpy.ndarray
            One log density per point (accuracy scale, Jacobian included).
        """
        log_c = np.log10(np.atleast_1d(np.asarray(compute, float)))
        a = np.atleast_1d(np.asarray(acc, float))
        if not np.all((a > 0) & (a < 1)):
            raise SpecificationError("accuracies must lie strictly between 0 and 1")
        eta, _, sigma_acc, drift_sd = self._accuracy_logit(log_c, np.random.default_rng(seed))
        var = sigma_acc[:, None] ** 2 + drift_sd[None, :] ** 2
        z = np.log(a / (1 - a))
        lp = -0.5 * (z - eta) ** 2 / var - 0.5 * np.log(2 * np.pi * var)
        top = lp.max(axis=0)
        mix = top + np.log(np.mean(np.exp(lp - top), axis=0))
        return mix - np.log(a * (1 - a))

    def group_curve(self, curves: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Question-weighted mean of the slices ``idx`` (e.g. :attr:`easy`) of ``curves``."""
        w = self.weights[idx]
        return curves[..., idx] @ (w / w.sum())

    # -- forecasts ----------------------------------------------------------------------------
    def forecast(
        self, compute: ArrayLike, *, ci_prob: float = 0.9, seed: int | None = 0
    ) -> pd.DataFrame:
        r"""Forecast accuracy, the overall Brier score and each slice at given compute.

        Parameters
        ----------
        compute
            Training compute (FLOPs, > 0).
        ci_prob
            Probability of the equal-tailed intervals.
        seed
            Seed of the extrapolation and noise draws.

        Returns
        -------
        pandas.DataFrame
            Columns ``task``, ``compute``, then
            :data:`~bayescale.core.intervals.FORECAST_COLUMNS`; one row per compute and
            ``quantity``: ``"accuracy"`` (the accuracy of a typical model of that compute,
            the curve's logit-normal median), ``"new_model_accuracy"`` (a new model's:
            adds the residual scatter), ``"brier"`` (the overall TC Brier curve, the mean
            of models of that compute), ``"new_model_brier"``, ``"slice_<s>"`` and
            ``"new_model_slice_<s>"`` (slice :math:`s`'s TC Brier score). Past the fitted
            range every quantity includes the extrapolation terms (module docstring);
            accuracies lie in (0, 1), Brier scores in [0, 1].
        """
        p = check_ci_prob(ci_prob)
        c = np.atleast_1d(np.asarray(compute, float))
        if c.ndim != 1 or not (np.all(np.isfinite(c)) and np.all(c > 0)):
            raise SpecificationError("compute must be one or more training FLOPs values > 0")
        log_c = np.log10(c)
        d = self._draws()
        rng = np.random.default_rng(seed)
        eta, curves, sigma_acc, drift_sd = self._accuracy_logit(log_c, rng)
        n, n_p, s = curves.shape
        n_f = d["loading"].shape[2]
        eps = np.einsum("nsf,npf->nps", d["loading"], rng.standard_normal((n, n_p, n_f)))
        eps = eps + d["sigma_slice"][:, None, :] * rng.standard_normal((n, n_p, s))
        eps = eps * self.slice_scale + NOISE_FLOOR * rng.standard_normal((n, n_p, s))
        pred = np.clip(curves + eps, 0.0, 1.0)
        # the accuracy drift past the fitted range: one slope per draw (a curve)
        eta = eta + drift_sd[None, :] * rng.standard_normal((n, 1))
        draws = {
            "accuracy": _expit(eta),
            "new_model_accuracy": _expit(eta + sigma_acc[:, None] * rng.standard_normal((n, n_p))),
            "brier": curves @ self.weights,
            "new_model_brier": pred @ self.weights,
        }
        for j in range(s):
            draws[f"slice_{j}"] = curves[..., j]
            draws[f"new_model_slice_{j}"] = pred[..., j]
        arrays = {
            k: xr.DataArray(v, dims=("sample", "point"), coords={"compute": ("point", c)})
            for k, v in draws.items()
        }
        table = interval_table(arrays, ci_prob=p, sample_dims=("sample",))
        table.insert(0, "task", self.task)
        return table[["task", "compute", *FORECAST_COLUMNS]]

    def held_out_check(self, *, ci_prob: float = 0.9, seed: int | None = 0) -> pd.DataFrame:
        """Forecasts of the held-out models (compute >= cut-off) against what they scored.

        Returns
        -------
        pandas.DataFrame
            One row per held-out model:
            :data:`~bayescale.emergence.summaries.HELD_OUT_COLUMNS` (``value`` the observed
            accuracy, ``median`` the accuracy curve's median, ``pred_*`` a new model's
            predictive median and interval, ``covered`` whether it holds ``value``,
            ``error`` = ``value - pred_median``, ``beyond`` the decades past the fitted
            range), then the same for the overall TC Brier score: ``brier``,
            ``brier_median``, ``brier_pred_median``, ``brier_pred_lower``,
            ``brier_pred_upper``, ``brier_covered``.
        """
        held = self.data["held_out"].values
        parts = ("", "_median", "_pred_median", "_pred_lower", "_pred_upper", "_covered")
        brier_cols = [f"brier{s}" for s in parts]
        if not held.any():
            return pd.DataFrame(columns=[*HELD_OUT_COLUMNS, *brier_cols])
        log_c = self.data["log_c"].values[held]
        fc = self.forecast(10**log_c, ci_prob=ci_prob, seed=seed)
        out = pd.DataFrame(
            {
                "task": self.task,
                "model": self.data["model"].values[held].astype(str),
                "family": self.data["family"].values[held].astype(str),
                "compute": 10**log_c,
            }
        )
        accuracy = self.data["acc"].values[held]
        brier = self.data["brier"].values[held] @ self.weights
        for prefix, quantity, obs in (("", "accuracy", accuracy), ("brier_", "brier", brier)):
            curve = fc[fc["quantity"] == quantity]
            new = fc[fc["quantity"] == f"new_model_{quantity}"]
            lower, upper = new["lower"].to_numpy(), new["upper"].to_numpy()
            out["value" if quantity == "accuracy" else "brier"] = obs
            out[f"{prefix}median"] = curve["median"].to_numpy()
            out[f"{prefix}pred_median"] = new["median"].to_numpy()
            out[f"{prefix}pred_lower"] = lower
            out[f"{prefix}pred_upper"] = upper
            out[f"{prefix}covered"] = (obs >= lower) & (obs <= upper)
        out["error"] = out["value"] - out["pred_median"]
        out["beyond"] = self._beyond(log_c)
        out["ci_prob"] = check_ci_prob(ci_prob)
        return out[[*HELD_OUT_COLUMNS, *brier_cols]]

    def forecast_scores(self, *, ci_prob: float = 0.9) -> pd.DataFrame:
        """Held-out models, mean absolute error of the accuracy curve's median, coverage.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``task``: ``n_held_out``, ``mae`` (of ``median``, the typical
            model's accuracy, against the observed accuracies) and ``coverage`` (share
            inside a new model's ``ci_prob`` predictive interval); no row when no model
            was held out.
        """
        return held_out_scores(self.held_out_check(ci_prob=ci_prob), median="median")

    # -- the contract -------------------------------------------------------------------------
    def summary(self, *, ci_prob: float = 0.9) -> pd.DataFrame:
        r"""Posterior summary: the accuracy map, the slices' scatter and the emergence figures.

        Rows ``alpha``, ``gamma``, ``sigma_acc`` (the logit-linear map from the overall
        Brier curve to accuracy), ``sigma_slice[s]``, then the derived ``log10_threshold``
        (where the typical model's accuracy leaves chance, over the draws where it does so
        inside the range searched; :mod:`bayescale.emergence.criteria`) and
        ``p_emergent`` (when :attr:`chance` is known), ``log10_turn`` (the easy slices'
        turn, over the draws with one) and the indicators ``p_turn``, ``p_offset``,
        ``p_turn_soar`` (their ``mean`` is the probability, ``mcse_mean`` its Monte Carlo
        error). ArviZ's columns (:func:`arviz.summary`, equal-tailed intervals,
        unrounded).
        """
        turns = self.turn_draws()
        post = self.idata["posterior"].dataset
        shape = (post.sizes["chain"], post.sizes["draw"])
        coords = {"chain": post["chain"].values, "draw": post["draw"].values}

        def derived(values: np.ndarray) -> xr.DataArray:
            return xr.DataArray(
                np.reshape(values, shape).astype(float), dims=_SAMPLE, coords=coords
            )

        rows: dict[str, xr.DataArray] = {}
        if self.chance is not None:
            xe = self.threshold_draws()
            rows["log10_threshold"] = derived(np.where(np.isfinite(xe), xe, np.nan))
            rows["p_emergent"] = derived(self.emergence_draws()["emergent"])
        rows["log10_turn"] = derived(turns["x_t"])
        for name in ("turn", "offset", "turn_soar"):
            rows[f"p_{name}"] = derived(turns[name])
        return posterior_summary(
            self.idata, ["alpha", "gamma", "sigma_acc", "sigma_slice"], rows, ci_prob=ci_prob
        )

    def title(self) -> str:
        n_fit = int((~self.data["held_out"].values).sum())
        others = int(self.slice_degree.min()) if len(self.slice_degree) else self.degree
        return (
            f"Slice-and-Sandwich fit of {self.task!r}: {n_fit} models below the cut-off "
            f"10^{np.log10(self.cutoff):.2f} FLOPs, {len(self.weights)} slices, polynomial "
            f"degree {self.degree} (easy) / {others} (others)"
        )

    def report(self, *, ci_prob: float = 0.9) -> str:
        """Threshold, emergence probabilities, held-out errors, the summary and diagnostics."""
        p = check_ci_prob(ci_prob)
        lines = [self.title()]
        turns = self.turn_draws()
        xt = turns["x_t"][np.isfinite(turns["x_t"])]
        turn = (
            f"median {np.median(xt):.2f}, {p:.0%} interval "
            f"[{np.quantile(xt, (1 - p) / 2):.2f}, {np.quantile(xt, (1 + p) / 2):.2f}]"
            if xt.size
            else "none"
        )
        if self.chance is None:
            lines.append(
                "threshold and P(emergent): not computed, the task's chance accuracy is "
                "unknown (fit with chance=..., or dataclasses.replace(fit, chance=...))"
            )
        else:
            th = self.threshold(ci_prob=p).iloc[0]
            em = self.emergence().iloc[0]
            lines += [
                f"threshold log10 C (accuracy leaves chance {self.chance:.3g} by "
                f"{self.margin:g} of the range): median {th['log10_threshold']:.2f}, "
                f"{p:.0%} interval [{th['log10_lower']:.2f}, {th['log10_upper']:.2f}]",
                f"P(emergent) {em['p_emergent']:.2f} (flat first {em['p_flat']:.2f}, a jump "
                f"{em['p_jump']:.2f}, sharp {em['p_sharp']:.2f})",
            ]
        lines.append(
            f"easy slices' turn log10 C: {turn}; P(turn) {turns['turn'].mean():.2f}, "
            f"P(turn and offset) {turns['offset'].mean():.2f}, P(turn, offset and soar) "
            f"{turns['turn_soar'].mean():.2f}"
        )
        scores = self.forecast_scores(ci_prob=p)
        if len(scores):
            r = scores.iloc[0]
            lines.append(
                f"held out ({int(r['n_held_out'])} models): accuracy MAE {r['mae']:.3f}, "
                f"{p:.0%} coverage {r['coverage']:.2f}"
            )
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            table = self.summary(ci_prob=p).to_string(float_format=lambda x: f"{x:.4g}")
        lines += ["", table, ""]
        lines.extend(f"note: {note}" for note in self.notes)
        lines.append(f"diagnostics: {self.diagnostics}")
        if self.diagnostics is not None and not self.diagnostics.ok:
            lines.append("  NOT CONVERGED: " + " ".join(self.diagnostics.problems()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<SandwichFit task={self.task!r} cutoff=10^{np.log10(self.cutoff):.2f} "
            f"slices={len(self.weights)} diagnostics: {self.diagnostics}>"
        )

    def observation_info(self) -> dict[str, str]:
        """The log-likelihood scores the task's overall accuracies on the accuracy scale."""
        return {"metric": "accuracy", "space": "linear", "task": self.task}

    def observed(self) -> xr.DataArray:
        """The fitted models' overall accuracies (``y``), which the log-likelihood scores."""
        return self.idata["observed_data"].dataset["y"]

    def _state(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "cutoff": self.cutoff,
            "weights": self.weights.tolist(),
            "easy": np.asarray(self.easy).tolist(),
            "hard": np.asarray(self.hard).tolist(),
            "degree": int(self.degree),
            "x_range": list(self.x_range),
            "b_ref": self.b_ref,
            "horizon": self.horizon,
            "slice_loc": np.asarray(self.slice_loc).tolist(),
            "slice_scale": np.asarray(self.slice_scale).tolist(),
            "min_rise": self.min_rise,
            "labels": list(self.labels),
            "slice_groups": [list(map(int, g)) for g in self.slice_groups],
            "slice_degree": np.asarray(self.slice_degree).tolist(),
            "dlogit": self.dlogit,
            "extrapolation_sd": self.extrapolation_sd,
            "accuracy_drift": self.accuracy_drift,
            "sampler": self.sampler,
            "chance": self.chance,
            "margin": self.margin,
            "min_jump": self.min_jump,
            "max_decades": self.max_decades,
        }

    @classmethod
    def _from_tree(cls, tree: xr.DataTree, state: Mapping[str, Any]) -> Self:
        if DATA_GROUP not in tree.children:
            raise FitFileError(f"the file holds no {DATA_GROUP!r} group (the task's models)")
        data = tree[DATA_GROUP].dataset.copy()
        diag = check_convergence(
            tree, var_names=[v for v in SAMPLED if v in tree["posterior"].dataset], warn=False
        )
        lo, hi = state["x_range"]
        return cls(
            idata=tree,
            task=str(state["task"]),
            cutoff=float(state["cutoff"]),
            diagnostics=diag,
            data=data,
            weights=np.asarray(state["weights"], float),
            easy=np.asarray(state["easy"], int),
            hard=np.asarray(state["hard"], int),
            degree=int(state["degree"]),
            x_range=(float(lo), float(hi)),
            b_ref=float(state["b_ref"]),
            horizon=float(state["horizon"]),
            slice_loc=np.asarray(state["slice_loc"], float),
            slice_scale=np.asarray(state["slice_scale"], float),
            min_rise=float(state["min_rise"]),
            labels=[str(s) for s in state["labels"]],
            slice_groups=[[int(j) for j in g] for g in state["slice_groups"]],
            slice_degree=np.asarray(state["slice_degree"], int),
            dlogit=float(state["dlogit"]),
            extrapolation_sd=float(state["extrapolation_sd"]),
            accuracy_drift=float(state["accuracy_drift"]),
            sampler=dict(state.get("sampler", {})),
            chance=None if state.get("chance") is None else float(state["chance"]),
            margin=float(state.get("margin", MARGIN)),
            min_jump=float(state.get("min_jump", MIN_JUMP)),
            max_decades=float(state.get("max_decades", MAX_DECADES)),
        )

    def plot(self, path: str | os.PathLike[str] | None = None, *, ci_prob: float = 0.9) -> Figure:
        """Slice trends, easy/hard groups with the threshold, and the sandwich forecast.

        See :func:`bayescale.emergence.plots.plot_sandwich`.
        """
        from bayescale.emergence.plots import plot_sandwich

        return plot_sandwich(self, path, ci_prob=ci_prob)


# --------------------------------------------------------------------------- fitting
def fit_sandwich(
    table: pd.DataFrame,
    task: str | None = None,
    *,
    cutoff: float,
    degree: int = 5,
    other_degree: int | None = 2,
    easy_fraction: float = 1 / 3,
    min_rise: float = 0.03,
    horizon: float | None = None,
    min_slice_sd: float = MIN_SLICE_SD,
    extrapolation_sd: float = EXTRAPOLATION_SD,
    accuracy_drift: float = ACCURACY_DRIFT,
    chance: float | None = None,
    margin: float = MARGIN,
    min_jump: float = MIN_JUMP,
    max_decades: float = MAX_DECADES,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = 0,
    target_accept: float = 0.95,
    nuts_sampler: str = "nutpie",
    progressbar: bool = False,
    warn: bool = True,
    extend_if_slow: bool = True,
    sampler: Sampler | None = None,
) -> SandwichFit:
    r"""Fit a Bayesian Slice-and-Sandwich to one task of a slice table.

    Parameters
    ----------
    table
        Slice table (:mod:`bayescale.emergence.slicing`): Brier slices (``metric``
        ``"brier"``, ``slice`` 0 = easiest) and the overall accuracy (``metric`` ``"acc"``,
        ``slice`` -1) of every model.
    task
        The task (may be left out when the table holds one).
    cutoff
        Compute cut-off :math:`C^*` (FLOPs): models with compute below it are fitted, the
        others are held out (kept for plots and :meth:`SandwichFit.held_out_check`).
    degree
        Degree :math:`K` of every slice's polynomial in scaled log compute (Wu & Lo: 5
        for the easy, 2 for the hard group); higher terms are shrunk. Used by the easy
        slices (and by all when ``other_degree`` is None).
    other_degree
        Degree of the other slices (default 2, Wu & Lo's hard-group degree): they trend
        monotonically, and a degree-5 polynomial of them extrapolates wildly past the
        cut-off.
    easy_fraction
        Share of the questions forming the easy group (and the hard group).
    min_rise
        Smallest rise and fall (TC Brier) of the easy curve that counts as a turn.
    horizon
        Largest :math:`\log_{10} C` searched for the threshold and a turn (default: the
        largest model of the table, fitted or held out; beyond the fitted models the
        polynomials are extrapolated).
    min_slice_sd
        Slices whose scores vary less than this (TC Brier sd over the fitted models) are
        merged with their closest neighbour, with a warning and a note (``fit.notes``);
        0 turns merging off.
    extrapolation_sd
        Scale :math:`\omega` of the change of the slices' slopes beyond the fitted range
        (standardised slice units per unit of scaled log compute; default 10, estimated by
        maximum likelihood on Wu & Lo's held-out models, module docstring): forecasts
        past the cut-off widen with the distance from the data. 0 turns it off.
    accuracy_drift
        Scale :math:`\rho` of the drift of the accuracy logit beyond the fitted range
        (accuracy per decade of compute at the fitted models' mean accuracy; default
        0.25, estimated with ``extrapolation_sd``). 0 turns it off (both 0: the bands
        of the polynomials alone).
    chance
        The task's chance accuracy (1 / number of choices; 0 for exact-match tasks), from
        which the threshold and P(emergent) are measured. Default: the known value for
        Wu & Lo's and ObsScaling's tasks
        (:data:`~bayescale.emergence.table.KNOWN_CHANCE`), otherwise unknown (the fit
        runs; :meth:`SandwichFit.threshold` then says to give it).
    margin, min_jump, max_decades
        The threshold's margin and the emergence criterion
        (:mod:`bayescale.emergence.criteria`).
    draws, tune, chains, seed, nuts_sampler, progressbar
        NUTS settings (:func:`bayescale.core.sampling.run_nuts`; ``seed`` 0 by default,
        ``None`` for a fresh one).
    target_accept
        0.95 (as in :func:`bayescale.fit`): the default 0.8 left 1-2 divergences on
        analogical_similarity.
    warn
        Warn (:class:`~bayescale.core.errors.ConvergenceWarning`) when the fit does not meet
        the convergence thresholds (:func:`bayescale.core.diagnostics.check_convergence`).
    extend_if_slow
        When R-hat or bulk ESS fall short without divergences, sample once more with
        twice ``tune`` and ``draws`` (as :func:`bayescale.fit`); noted in ``fit.notes``.
    sampler
        Draws instead of NUTS (a :class:`bayescale.core.sampling.Sampler`; tests pass
        prior draws).

    Returns
    -------
    SandwichFit

    Raises
    ------
    DataError
        Missing columns, slices or accuracy, or too few models below the cut-off.
    SpecificationError
        Invalid options.
    """
    for name, value in (("extrapolation_sd", extrapolation_sd), ("accuracy_drift", accuracy_drift)):
        if not (np.isfinite(value) and value >= 0):
            raise SpecificationError(f"{name} must be >= 0, not {value!r}")
    check_criteria(margin, min_jump, max_decades, chance)
    prep = prepare_task(
        table,
        task,
        cutoff=cutoff,
        degree=degree,
        other_degree=other_degree,
        easy_fraction=easy_fraction,
        horizon=horizon,
        min_slice_sd=min_slice_sd,
    )
    td, fit_mask, notes = prep.data, prep.fit_mask, list(prep.notes)
    for note in notes:
        warnings.warn(f"task {td.task!r}: {note}", UserWarning, stacklevel=2)
    model = build_model(
        prep.x, prep.briers[fit_mask], td.acc[fit_mask], prep.weights, degree, prep.slice_degree
    )
    idata, run = run_nuts(
        model,
        check_vars=SAMPLED,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        target_accept=target_accept,
        nuts_sampler=nuts_sampler,
        progressbar=progressbar,
        extend_if_slow=extend_if_slow,
        notes=notes,
        sampler=sampler,
        key=model.structure_key,  # type: ignore[attr-defined]
    )
    # in NumPy: PyMC would compile a function for it (0.5-1 s of a warm fresh process)
    ll = accuracy_log_likelihood(
        idata["posterior"].dataset, prep.x, prep.briers[fit_mask], td.acc[fit_mask], prep.weights
    )
    idata["log_likelihood"] = xr.Dataset({"y": ll})
    n_fit = int(fit_mask.sum())
    obs_coords = {
        "task": ("obs", np.full(n_fit, td.task, dtype=object)),
        "model": ("obs", td.models[fit_mask]),
        "compute": ("obs", 10 ** td.log_c[fit_mask]),
    }
    for group in ("log_likelihood", "observed_data"):
        idata[group] = idata[group].dataset.assign_coords(obs_coords)
    post = idata["posterior"].dataset
    diag = check_convergence(idata, var_names=[v for v in SAMPLED if v in post], warn=warn)
    loc, scale = slice_scaling(prep.briers[fit_mask])
    data = xr.Dataset(
        {
            "log_c": ("model", td.log_c),
            "brier": (("model", "slice"), prep.briers),
            "acc": ("model", td.acc),
            "held_out": ("model", ~fit_mask),
            "family": ("model", td.families),
        },
        coords={
            "model": td.models,
            "slice": np.arange(prep.briers.shape[1]),
            "slice_label": ("slice", prep.labels),
        },
    )
    return SandwichFit(
        idata=idata,
        task=td.task,
        cutoff=float(cutoff),
        diagnostics=diag,
        data=data,
        weights=prep.weights,
        easy=prep.easy,
        hard=prep.hard,
        degree=degree,
        slice_degree=prep.slice_degree,
        x_range=prep.x_range,
        b_ref=float(model.b_ref),  # type: ignore[attr-defined]
        dlogit=float(model.dlogit),  # type: ignore[attr-defined]
        extrapolation_sd=float(extrapolation_sd),
        accuracy_drift=float(accuracy_drift),
        horizon=prep.horizon,
        slice_loc=loc,
        slice_scale=scale,
        min_rise=min_rise,
        labels=prep.labels,
        slice_groups=prep.groups,
        notes=notes,
        sampler=run.as_dict(),
        chance=KNOWN_CHANCE.get(td.task) if chance is None else float(chance),
        margin=margin,
        min_jump=min_jump,
        max_decades=max_decades,
    )
