r"""Sigmoidal emergence law, hierarchical across tasks: the fit, P(emergent), forecasts.

The accuracy of a model with training compute :math:`C` on task :math:`t` follows a logistic
step in :math:`\log_{10} C` from the task's chance level :math:`c_t` to a ceiling
:math:`h_t`,

.. math::

    a_t(C) = c_t + (h_t - c_t)\,
        \sigma\!\left(\frac{\log_{10} C - \log_{10} C^*_t}{w_t}\right),

with :math:`C^*_t` the **mid-point** of the rise and :math:`w_t` the **width** in decades of
compute. :func:`fit_sigmoid` fits it to one or more tasks (the hierarchy, the priors, the
beta-binomial likelihood and why each piece is there: :mod:`bayescale.emergence.sigmoid_model`)
and returns a :class:`SigmoidFit`. Its pointwise log-likelihood is a density of each fitted
model's accuracy, so a one-task fit (or :meth:`SigmoidFit.for_task` of a joint one) compares
with a Slice-and-Sandwich of the same task by :func:`bayescale.compare`.

**Threshold and P(emergent)** are the ones both emergence models share
(:mod:`bayescale.emergence.criteria`, :class:`~bayescale.emergence.readings.SigmoidReadings`):
where the typical model's law leaves chance by a margin (in closed form, the law's absolute
onset), and whether, over the fitted range, it was flat first, jumped by ``min_jump`` and
did so within ``max_decades`` (10% to 90% of the rise seen). The criterion does not use
:math:`C^*` or :math:`h_t` directly: when a task is still rising at the largest model, its
ceiling and hence its mid-point are extrapolations, while the onset, the growth rate
:math:`1/w_t` of the lower tail and the rise seen so far are constrained by the data. The
mid-point :math:`C^*` is reported as an alternative reading.

**Borrowing strength.** ``fit_sigmoid(table, population=other_fit)`` fits new tasks as
members of the population of tasks of an earlier hierarchical fit
(:meth:`SigmoidFit.population_prior`): a task still at chance learns how fast rises are
and how high they go from tasks that already jumped. ``family_effects=True`` adds a compute
offset per model family, shared by every task.

**Forecasts beyond the fitted range** evaluate the law at an *effective* compute whose
distance from each task's fitted range is uncertain by a log-normal factor of scale
``compute_drift`` (:data:`COMPUTE_DRIFT`, estimated on held-out models): the model and its
calibration are in :mod:`bayescale.emergence.sigmoid_model`. The threshold and
P(emergent) use the fitted law alone.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from bayescale.core.diagnostics import Diagnostics, check_convergence
from bayescale.core.errors import DataError, FitFileError, SpecificationError
from bayescale.core.intervals import FORECAST_COLUMNS, check_ci_prob, interval_table, quantiles
from bayescale.core.results import FitResult
from bayescale.core.sampling import Sampler, run_nuts
from bayescale.emergence.criteria import (
    MARGIN,
    MAX_DECADES,
    MIN_JUMP,
    check_criteria,
)
from bayescale.emergence.readings import SigmoidReadings
from bayescale.emergence.sigmoid_model import (
    COMPUTE_DRIFT,
    DERIVED,
    EPS,
    SAMPLED,
    accuracy_log_density,
    check_compute_drift,
    effective_log_compute,
    family_labels,
    law_of_log_compute,
    population_prior,
    predict_accuracy,
    prepare_table,
)
from bayescale.emergence.summaries import HELD_OUT_COLUMNS, held_out_scores, posterior_summary

if TYPE_CHECKING:
    from arviz_stats.utils import ELPDData
    from matplotlib.figure import Figure

__all__ = ["COMPUTE_DRIFT", "DATA_GROUP", "SigmoidFit", "fit_sigmoid"]

_SAMPLE = ("chain", "draw")
#: Gauss-Hermite nodes over the drift's zeta in :meth:`SigmoidFit.log_score`.
_GH_NODES = 16
#: DataTree group holding the accuracy table (fitted and held-out rows).
DATA_GROUP = "fit_data"
#: Population parameters reported by :meth:`SigmoidFit.summary` (those the fit has).
_POPULATION = ("mu_o", "tau_o", "mu_w", "mu_h", "tau_h", "mu_k", "tau_k", "sigma_family")


# --------------------------------------------------------------------------- result
@dataclass(repr=False)
class SigmoidFit(SigmoidReadings, FitResult):
    """Posterior of a hierarchical sigmoidal emergence fit.

    Attributes
    ----------
    idata : xarray.DataTree
        ``posterior`` (population parameters ``mu_*``, ``tau_*``, per-task ``z_*``, the
        absolute onset ``o_task`` (:math:`x_a - x_{\\text{ref}}`) and the derived
        ``log10_threshold``, ``onset`` (10% point of the rise, :math:`\\log_{10}` FLOPs),
        ``width`` (decades), ``ceiling``, ``kappa``, dim ``task``), ``sample_stats``,
        ``log_likelihood`` (``y``, dim ``obs``: every fitted observation, ordered by task,
        compute, model; coords ``task``, ``model``, ``compute``), ``observed_data``
        (``y``: the accuracies) and ``fit_data`` (:attr:`data`).
    tasks : list of str
        Tasks, in the order of the ``task`` dim.
    data : pandas.DataFrame
        Every row of the table (fitted and held out), with ``held_out``.
    cutoff : dict
        Compute cut-off per task (FLOPs; ``inf`` when every model was fitted).
    diagnostics : Diagnostics
        Convergence of the fit.
    x_ref : float
        Reference :math:`\\log_{10} C` (mean of the fitted models).
    chance : dict
        Chance accuracy per task.
    max_decades, min_jump, margin : float
        Defaults of the threshold and of the emergence criterion
        (:mod:`bayescale.emergence.criteria`).
    notes : list of str
        What the fit did that the user should know (a second, longer run).
    population : dict or None
        The prior each task was given as a new member of a population estimated on other
        tasks (``fit_sigmoid(..., population=...)``; :meth:`population_prior`), or None.
    compute_drift : float
        Scale :math:`s` of the log-normal drift of the effective compute beyond each task's
        fitted range (module docstring; default :data:`COMPUTE_DRIFT`). Forecast-time only:
        ``dataclasses.replace(fit, compute_drift=s)`` rescales it without a refit; 0 turns
        it off.
    sampler : dict
        NUTS settings of the run (:meth:`bayescale.core.sampling.SamplingRun.as_dict`).
    """

    kind = "sigmoid"

    idata: xr.DataTree
    tasks: list[str]
    data: pd.DataFrame
    cutoff: dict[str, float]
    diagnostics: Diagnostics | None
    x_ref: float
    chance: dict[str, float] = field(default_factory=dict)
    max_decades: float = MAX_DECADES
    min_jump: float = MIN_JUMP
    notes: list[str] = field(default_factory=list)
    compute_drift: float = COMPUTE_DRIFT
    sampler: dict[str, Any] = field(default_factory=dict)
    margin: float = MARGIN
    population: dict[str, tuple[float, float]] | None = None

    def __post_init__(self) -> None:
        check_compute_drift(self.compute_drift)
        check_criteria(self.margin, self.min_jump, self.max_decades)
        if DATA_GROUP not in self.idata.children:
            rows = self.data.reset_index(drop=True).rename_axis("row")
            self.idata[DATA_GROUP] = xr.Dataset.from_dataframe(rows)

    # -- draws -----------------------------------------------------------------------------
    def _draws(self) -> dict[str, np.ndarray]:
        post = self.idata["posterior"].dataset.stack(sample=_SAMPLE)
        out = {
            v: post[v].transpose("sample", "task").values
            for v in ("midpoint", "width", "ceiling", "kappa")
        }
        if "family_offset" in post:
            out["family_offset"] = post["family_offset"].transpose("sample", "family").values
            out["sigma_family"] = post["sigma_family"].values
        return out

    @property
    def families(self) -> list[str]:
        """Families whose compute offsets were estimated (empty: none)."""
        post = self.idata["posterior"].dataset
        return [str(f) for f in post["family"].values] if "family" in post.coords else []

    def _offsets(
        self,
        d: dict[str, np.ndarray],
        families: Sequence[str | None],
        rng: np.random.Generator,
    ) -> np.ndarray:
        r"""Compute offsets (decades) per draw and point, (sample, point).

        A fitted family's posterior offset; a family the fit has not seen (or ``None``:
        any model) a draw of the population :math:`\mathcal N(0, \sigma_f)`; 0 without
        family offsets.
        """
        n = d["width"].shape[0]
        out = np.zeros((n, len(families)))
        if "family_offset" not in d:
            return out
        index = {f: i for i, f in enumerate(self.families)}
        for col, fam in enumerate(families):
            if fam is not None and fam in index:
                out[:, col] = d["family_offset"][:, index[fam]]
            else:
                out[:, col] = d["sigma_family"] * rng.standard_normal(n)
        return out

    def _task_index(self, task: str) -> int:
        if task not in self.tasks:
            raise DataError(f"task {task!r} was not fitted; the fit holds {self.tasks}")
        return self.tasks.index(task)

    def _fitted(self, task: str) -> pd.DataFrame:
        d = self.data
        return d[(d["task"] == task) & ~d["held_out"]]

    def fitted_range(self, task: str) -> tuple[float, float]:
        r""":math:`\log_{10}` compute of the task's smallest and largest fitted models."""
        self._task_index(task)
        lc = np.log10(self._fitted(task)["compute"].to_numpy(float))
        return float(lc.min()), float(lc.max())

    def beyond(self, task: str, compute: ArrayLike) -> np.ndarray:
        r"""Decades of compute :math:`\Delta` from the task's fitted range (0 inside)."""
        lo, hi = self.fitted_range(task)
        x = np.log10(np.asarray(compute, float))
        return np.maximum(x - hi, 0.0) + np.maximum(lo - x, 0.0)

    def _effective_x(self, task: str, log_c: np.ndarray, zeta: ArrayLike) -> np.ndarray:
        r"""Effective :math:`\log_{10} C` per drift draw and point: (len(zeta), len(log_c))."""
        lo, hi = self.fitted_range(task)
        return effective_log_compute(log_c, lo, hi, zeta, self.compute_drift)

    def _curves(
        self,
        d: dict[str, np.ndarray],
        task: str,
        log_c: np.ndarray,
        zeta: ArrayLike,
        offset: np.ndarray | None = None,
    ) -> np.ndarray:
        """The law per posterior draw (zeta one per draw) with the drift: (sample, point).

        ``offset`` (sample, point): the models' family compute offsets (default 0, the
        typical family).
        """
        j = self._task_index(task)
        x = self._effective_x(task, log_c, zeta)
        if offset is not None:
            x = x + offset
        return law_of_log_compute(
            x,
            d["midpoint"][:, j, None],
            d["width"][:, j, None],
            self.chance[task],
            d["ceiling"][:, j, None],
        )

    def population_prior(self) -> dict[str, tuple[float, float]]:
        r"""The prior of a new task drawn from this fit's population of tasks.

        ``{"o": (mean, sd), "w": ..., "h": ..., "k": ...}``: the absolute onset
        (:math:`\log_{10}` FLOPs), :math:`\log(w - 0.1)`, the ceiling's logit and
        :math:`\log\kappa`, each the population predictive moment-matched to a normal
        (:func:`bayescale.emergence.sigmoid_model.population_prior`). Pass it (or the
        fit) as ``fit_sigmoid(new_table, population=...)`` to fit new tasks that borrow
        what flat data cannot say (how fast a rise is, how high it goes, where onsets lie)
        from these tasks, without refitting them.
        """
        return population_prior(self.idata["posterior"].dataset, self.x_ref)

    # -- forecasts -------------------------------------------------------------------------
    def forecast(
        self,
        compute: ArrayLike,
        *,
        ci_prob: float = 0.9,
        task: str | Sequence[str] | None = None,
        n_questions: float | None = None,
        family: str | None = None,
        seed: int | None = 0,
    ) -> pd.DataFrame:
        """Posterior of the law and of a new model's accuracy at the given compute.

        Beyond a task's fitted compute range both include the extrapolation drift of
        ``compute_drift`` (module docstring); inside it they are the fitted law's.

        Parameters
        ----------
        compute
            Training compute in FLOPs (> 0), one or more values.
        ci_prob
            Probability of the equal-tailed intervals.
        task
            Task(s) to forecast (default all).
        n_questions
            Questions a new model is scored on (default: the task's median in the data;
            Beta predictive when unknown).
        family
            The new model's family: a fitted family's compute offset is used; default (or
            a family the fit has not seen) a draw of the families' spread. The law
            (``"accuracy"``) is the typical family's either way.
        seed
            Seed of the predictive draws.

        Returns
        -------
        pandas.DataFrame
            Columns ``task``, ``compute``, then
            :data:`~bayescale.core.intervals.FORECAST_COLUMNS`; per task and compute a row
            of ``quantity`` ``"accuracy"`` (the law :math:`a_t(C)`) and one of
            ``"new_model_accuracy"`` (a new model's observed accuracy, with model-to-model
            scatter and question sampling).
        """
        p = check_ci_prob(ci_prob)
        c = np.atleast_1d(np.asarray(compute, float))
        if c.ndim != 1 or not (np.all(np.isfinite(c)) and np.all(c > 0)):
            raise SpecificationError("compute must be one or more positive FLOPs values")
        tasks = [task] if isinstance(task, str) else list(task) if task is not None else self.tasks
        d = self._draws()
        rng = np.random.default_rng(seed)
        frames = []
        for t in tasks:
            j = self._task_index(t)
            zeta = rng.standard_normal(d["width"].shape[0])
            curve = self._curves(d, t, np.log10(c), zeta)
            own = self._curves(d, t, np.log10(c), zeta, self._offsets(d, [family] * len(c), rng))
            pred = predict_accuracy(own, d["kappa"][:, j, None], self._n_new(t, n_questions), rng)
            arrays = {
                name: xr.DataArray(v, dims=("sample", "point"), coords={"compute": ("point", c)})
                for name, v in (("accuracy", curve), ("new_model_accuracy", pred))
            }
            frame = interval_table(arrays, ci_prob=p, sample_dims=("sample",))
            frame.insert(0, "task", t)
            frames.append(frame[["task", "compute", *FORECAST_COLUMNS]])
        return pd.concat(frames, ignore_index=True)

    def _n_new(self, task: str, n_questions: float | None) -> float:
        if n_questions is not None:
            return float(n_questions)
        n = self.data.loc[self.data["task"] == task, "n_questions"]
        return float(n.median()) if n.notna().all() else float("nan")

    def held_out_check(self, *, ci_prob: float = 0.9, seed: int | None = 0) -> pd.DataFrame:
        """Forecast every held-out model (compute at or above its task's cut-off).

        Returns
        -------
        pandas.DataFrame
            One row per held-out (task, model):
            :data:`~bayescale.emergence.summaries.HELD_OUT_COLUMNS`: ``compute``, ``value``
            (observed accuracy), ``median`` (the law, at the model's family offset where
            the fit has one), ``pred_median``, ``pred_lower``,
            ``pred_upper`` (predictive interval of a new model with the row's number of
            questions, extrapolation drift included), ``error`` (``value - pred_median``),
            ``covered``, ``beyond`` (decades of compute past the fitted range), ``ci_prob``.
        """
        p = check_ci_prob(ci_prob)
        d = self._draws()
        rng = np.random.default_rng(seed)
        held = self.data[self.data["held_out"]]
        rows = []
        for t, g in held.groupby("task", sort=False):
            j = self._task_index(str(t))
            zeta = rng.standard_normal(d["width"].shape[0])
            offset = self._offsets(d, list(family_labels(g)), rng)
            curve = self._curves(d, str(t), np.log10(g["compute"].to_numpy(float)), zeta, offset)
            pred = predict_accuracy(curve, d["kappa"][:, j, None], g["n_questions"].to_numpy(), rng)
            lo, med, hi = quantiles(pred, p, axis=0)
            out = g[["task", "model", "family", "compute", "value"]].copy()
            out["median"] = np.median(curve, axis=0)
            out["pred_median"] = med
            out["pred_lower"] = lo
            out["pred_upper"] = hi
            out["error"] = out["value"] - out["pred_median"]
            out["covered"] = (out["value"] >= lo) & (out["value"] <= hi)
            out["beyond"] = self.beyond(str(t), g["compute"].to_numpy(float))
            out["ci_prob"] = p
            rows.append(out)
        if not rows:
            return pd.DataFrame(columns=list(HELD_OUT_COLUMNS))
        return pd.concat(rows, ignore_index=True)[list(HELD_OUT_COLUMNS)]

    def log_score(
        self,
        task: str,
        compute: ArrayLike,
        value: ArrayLike,
        n_questions: ArrayLike | None = None,
        family: Sequence[str | None] | str | None = None,
        seed: int | None = 0,
    ) -> np.ndarray:
        r"""Log predictive density of observed accuracies of new models of a task.

        .. math::

            \log p(a \mid C) = \log \frac1N \sum_n \sum_q \omega_q\,
                p\big(a \mid a_{t,n}(x_{\text{eff}}(C, \zeta_q)),\ \kappa_{t,n}\big)

        over the :math:`N` posterior draws and Gauss-Hermite nodes :math:`(\zeta_q,
        \omega_q)` of the drift (exact up to quadrature; the law alone inside the fitted
        range), :math:`p` the beta-binomial mass of :math:`k = a n` plus :math:`\log n`
        (the accuracy-scale density of the stored log-likelihood) or, without
        ``n_questions``, the Beta density. The scoring rule by which ``compute_drift`` was
        estimated (``benchmarks/emergence_sigmoid.py --calibrate``).

        Parameters
        ----------
        task
            A fitted task.
        compute, value
            Training FLOPs (> 0) and observed accuracies in [0, 1], same length.
        n_questions
            Questions per value (one number or one per value; default: the task's median
            in the data). NaN: Beta density of the accuracy.
        family
            The models' families (one for all or one per value): a fitted family's
            compute offset; otherwise one draw of the families' spread per posterior draw
            (seeded by ``seed``). Ignored by a fit without family offsets.
        seed
            Seed of those draws.

        Returns
        -------
        numpy.ndarray
            One log density per value.
        """
        self._task_index(task)
        x = np.log10(np.atleast_1d(np.asarray(compute, float)))
        a = np.atleast_1d(np.asarray(value, float))
        if x.shape != a.shape or x.ndim != 1 or not np.all(np.isfinite(x)):
            raise SpecificationError(
                "compute and value must be equally long 1-d arrays of positive FLOPs and accuracies"
            )
        if not np.all((a >= 0) & (a <= 1)):
            raise SpecificationError(f"accuracies must lie in [0, 1], not {a[(a < 0) | (a > 1)]}")
        n_default = self._n_new(task, None)
        n = np.broadcast_to(
            np.asarray(n_default if n_questions is None else n_questions, float), a.shape
        )
        beta_rows = ~np.isfinite(n)
        if np.any(beta_rows & ((a <= 0) | (a >= 1))):
            raise SpecificationError(
                "an accuracy of exactly 0 or 1 has no Beta density: give n_questions"
            )
        d = self._draws()
        j = self._task_index(task)
        nodes, weights = np.polynomial.hermite_e.hermegauss(_GH_NODES)
        weights = weights / weights.sum()
        kappa = d["kappa"][:, j, None]
        out = np.empty(len(a))
        lt, w, h = (d[v][:, j, None] for v in ("midpoint", "width", "ceiling"))
        fams = [family] * len(a) if family is None or isinstance(family, str) else list(family)
        if len(fams) != len(a):
            raise SpecificationError("family must be one name or one per value")
        offsets = self._offsets(d, fams, np.random.default_rng(seed))
        for i in range(len(a)):
            if self.compute_drift > 0 and self.beyond(task, 10 ** x[i : i + 1])[0] > 0:
                zs, ws = nodes, weights
            else:
                zs, ws = np.zeros(1), np.ones(1)
            x_eff = self._effective_x(task, x[i : i + 1], zs)[:, 0]  # one per node
            x_own = x_eff[None, :] + offsets[:, i, None]  # (sample, node)
            p = np.clip(law_of_log_compute(x_own, lt, w, self.chance[task], h), EPS, 1 - EPS)
            lp = accuracy_log_density(p, kappa, a[i], n[i])
            lw = lp + np.log(ws)[None, :]  # (sample, node)
            top = lw.max()
            out[i] = top + np.log(np.exp(lw - top).sum() / lw.shape[0])
        return out

    def forecast_scores(self, *, ci_prob: float = 0.9) -> pd.DataFrame:
        """Per task: held-out models, mean absolute error of a new model's predictive median
        (``error`` of :meth:`held_out_check`), and coverage of its ``ci_prob`` interval."""
        return held_out_scores(self.held_out_check(ci_prob=ci_prob), median="pred_median")

    # -- one task, LOO -----------------------------------------------------------------------
    def for_task(self, task: str) -> SigmoidFit:
        """The fit restricted to one task: the same layout as a one-task fit.

        The posterior keeps the population parameters and the task's own (``task`` dim of
        length 1); ``log_likelihood`` and ``observed_data`` hold the task's fitted
        observations, ``obs`` numbered 0..n-1 in (compute, model) order, the layout of
        :class:`~bayescale.emergence.sandwich.SandwichFit` of the same task, so that
        ``bayescale.compare({"sandwich": s, "sigmoid": fit.for_task(task)})`` compares
        them on the same accuracies. The diagnostics are those of the joint fit.
        """
        self._task_index(task)
        groups: dict[str, xr.Dataset] = {}
        for name in ("log_likelihood", "observed_data"):
            if name in self.idata.children:
                ds = self.idata[name].dataset
                keep = np.flatnonzero(ds["task"].values == task)
                groups[name] = ds.isel(obs=keep).assign_coords(obs=np.arange(keep.size))
        groups["posterior"] = self.idata["posterior"].dataset.sel(task=[task])
        if "sample_stats" in self.idata.children:
            groups["sample_stats"] = self.idata["sample_stats"].dataset
        data = self.data[self.data["task"] == task].reset_index(drop=True)
        notes = list(self.notes)
        if len(self.tasks) > 1:
            notes.append(f"task {task!r} of a joint fit of {len(self.tasks)} tasks")
        return SigmoidFit(
            idata=xr.DataTree.from_dict({f"/{k}": v for k, v in groups.items()}),
            tasks=[task],
            data=data,
            cutoff={task: self.cutoff[task]},
            diagnostics=self.diagnostics,
            x_ref=self.x_ref,
            chance={task: self.chance[task]},
            max_decades=self.max_decades,
            min_jump=self.min_jump,
            margin=self.margin,
            notes=notes,
            compute_drift=self.compute_drift,
            sampler=dict(self.sampler),
        )

    def task_log_likelihood(self, task: str) -> xr.DataTree:
        """DataTree of :meth:`for_task` (``posterior``, ``sample_stats``, ``log_likelihood``,
        ``observed_data`` and ``fit_data`` of one task), e.g. for :func:`arviz.loo`."""
        return self.for_task(task).idata

    def loo(self, task: str | None = None, **kwargs: Any) -> ELPDData:
        """PSIS-LOO of the fit (all observations) or of one task's observations."""
        import arviz as az

        tree = self.idata if task is None else self.task_log_likelihood(task)
        return az.loo(tree, var_name="y", **kwargs)

    # -- the contract ------------------------------------------------------------------------
    def summary(self, *, ci_prob: float = 0.9) -> pd.DataFrame:
        r"""Posterior summary: population parameters, each task's law, threshold, P(emergent).

        Rows ``mu_*``/``tau_*`` (population, where the fit has them) and ``sigma_family``
        (the spread of the families' compute offsets, where estimated), then per task
        ``midpoint[t]`` (:math:`\log_{10} C^*`), ``onset[t]`` (10% point), ``width[t]``,
        ``ceiling[t]``, ``kappa[t]``, the derived ``log10_threshold[t]`` (where the typical
        model's accuracy leaves chance, :mod:`bayescale.emergence.criteria`) and
        ``p_emergent[t]`` (the indicator of conditions (i)-(iii): its ``mean`` is the
        probability, ``mcse_mean`` its Monte Carlo error). ArviZ's columns
        (:func:`arviz.summary`, equal-tailed intervals, unrounded).
        """
        post = self.idata["posterior"].dataset
        names = [v for v in (*_POPULATION, *DERIVED) if v in post]
        shape = (post.sizes["chain"], post.sizes["draw"], len(self.tasks))
        coords = {"chain": post["chain"].values, "draw": post["draw"].values, "task": self.tasks}

        def derived(values: np.ndarray) -> xr.DataArray:
            return xr.DataArray(values.reshape(shape), dims=(*_SAMPLE, "task"), coords=coords)

        xe = self.threshold_draws()
        return posterior_summary(
            self.idata,
            names,
            {
                "log10_threshold": derived(np.where(np.isfinite(xe), xe, np.nan)),
                "p_emergent": derived(self.emergent_draws().astype(float)),
            },
            ci_prob=ci_prob,
        )

    def title(self) -> str:
        return f"sigmoidal emergence fit of {len(self.tasks)} task(s)"

    def report(self, *, ci_prob: float = 0.9) -> str:
        """Thresholds, widths, ceilings, P(emergent), forecast scores and diagnostics."""
        p = check_ci_prob(ci_prob)
        th = self.threshold(ci_prob=p)
        lines = [
            f"{self.title()}; {p:.0%} intervals; {self.diagnostics}",
            f"threshold: log10 FLOPs where the typical model's accuracy leaves chance by "
            f"{self.margin:g} of the range above it; C*: mid-point of the rise",
            f"{'task':34s} {'threshold [interval]':>24s} {'C*':>6s} {'w (dec)':>8s} "
            f"{'ceiling':>8s} {'chance':>6s} {'P(emerg)':>8s}",
        ]
        for t, r in th.iterrows():
            lines.append(
                f"{t!s:34.34s} {r.log10_threshold:7.2f} [{r.log10_lower:6.2f}, "
                f"{r.log10_upper:6.2f}] {r.midpoint_log10:6.2f} {r.width:8.2f} "
                f"{r.ceiling:8.3f} {r.chance:6.3f} {r.p_emergent:8.2f}"
            )
        if self.families:
            sigma = float(np.median(self._draws()["sigma_family"]))
            lines.append(
                f"compute offsets of {len(self.families)} families: spread sigma_family "
                f"{sigma:.2f} decades (median)"
            )
        sc = self.forecast_scores(ci_prob=p)
        if not sc.empty:
            lines.append(
                "held-out forecasts (models at or above the cut-off; extrapolation drift "
                f"compute_drift = {self.compute_drift:g}):"
            )
            for t, r in sc.iterrows():
                lines.append(
                    f"  {t!s:32.32s} n={int(r.n_held_out):3d}  MAE {r.mae:.3f}  "
                    f"{p:.0%} coverage {r.coverage:.2f}"
                )
        if self.diagnostics is not None and not self.diagnostics.ok:
            lines.append("NOT CONVERGED: " + " ".join(self.diagnostics.problems()))
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<SigmoidFit tasks={self.tasks} diagnostics: {self.diagnostics}>"

    def observation_info(self) -> dict[str, str]:
        """The log-likelihood scores the tasks' accuracies on the accuracy scale."""
        return {"metric": "accuracy", "space": "linear", "task": ",".join(self.tasks)}

    def _state(self) -> dict[str, Any]:
        return {
            "tasks": list(self.tasks),
            "cutoff": dict(self.cutoff),
            "x_ref": self.x_ref,
            "chance": dict(self.chance),
            "max_decades": self.max_decades,
            "min_jump": self.min_jump,
            "margin": self.margin,
            "compute_drift": self.compute_drift,
            "sampler": self.sampler,
            "population": self.population,
        }

    @classmethod
    def _from_tree(cls, tree: xr.DataTree, state: Mapping[str, Any]) -> Self:
        if DATA_GROUP not in tree.children:
            raise FitFileError(f"the file holds no {DATA_GROUP!r} group (the accuracy table)")
        data = tree[DATA_GROUP].dataset.to_dataframe().reset_index(drop=True)
        for col in ("task", "model", "family"):
            data[col] = data[col].astype(str)
        data["held_out"] = data["held_out"].astype(bool)
        post = tree["posterior"].dataset
        if "midpoint" not in post and "log10_threshold" in post:
            # files written before the threshold was defined on the accuracy curve
            tree["posterior"] = post = post.rename({"log10_threshold": "midpoint"})
        names = [v for v in (*SAMPLED, *DERIVED) if v in post]
        return cls(
            idata=tree,
            tasks=[str(t) for t in state["tasks"]],
            data=data,
            cutoff={str(k): float(v) for k, v in state["cutoff"].items()},
            diagnostics=check_convergence(tree, var_names=names, warn=False),
            x_ref=float(state["x_ref"]),
            chance={str(k): float(v) for k, v in state["chance"].items()},
            max_decades=float(state["max_decades"]),
            min_jump=float(state["min_jump"]),
            margin=float(state.get("margin", MARGIN)),
            population=(
                None
                if state.get("population") is None
                else {k: (float(v[0]), float(v[1])) for k, v in state["population"].items()}
            ),
            compute_drift=float(state["compute_drift"]),
            sampler=dict(state.get("sampler", {})),
        )

    def plot(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        ci_prob: float = 0.9,
        ncols: int = 3,
    ) -> Figure:
        """Accuracy against log compute per task with bands, chance floor and threshold.

        See :func:`bayescale.emergence.plots.plot_sigmoid`.
        """
        from bayescale.emergence.plots import plot_sigmoid

        return plot_sigmoid(self, path, ci_prob=ci_prob, ncols=ncols)


# --------------------------------------------------------------------------- fitting
def fit_sigmoid(
    table: pd.DataFrame,
    *,
    cutoff: float | Mapping[str, float] | None = None,
    chance: float | Mapping[str, float] | None = None,
    n_questions: float | Mapping[str, float] | None = None,
    tasks: Sequence[str] | None = None,
    min_models: int = 5,
    max_decades: float = MAX_DECADES,
    min_jump: float = MIN_JUMP,
    margin: float = MARGIN,
    family_effects: bool = False,
    population: SigmoidFit | Mapping[str, Sequence[float]] | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    target_accept: float = 0.95,
    seed: int | None = 0,
    nuts_sampler: str = "nutpie",
    progressbar: bool = False,
    warn: bool = True,
    extend_if_slow: bool = True,
    compute_drift: float = COMPUTE_DRIFT,
    sampler: Sampler | None = None,
) -> SigmoidFit:
    r"""Fit the hierarchical sigmoidal emergence law to one or more tasks.

    Parameters
    ----------
    table
        Accuracy table (see :func:`~bayescale.emergence.table.emergence_table`) or a
        slice table.
    cutoff
        Compute cut-off in FLOPs, one for all tasks or per task: models with compute strictly
        below it are fitted, the others held out (scored by
        :meth:`SigmoidFit.held_out_check`). Default: fit every model.
    chance, n_questions, tasks
        See :func:`~bayescale.emergence.table.emergence_table`.
    min_models
        Fewest fitted models per task.
    max_decades, min_jump, margin
        Defaults of the threshold and of the emergence criterion
        (:mod:`bayescale.emergence.criteria`, :meth:`SigmoidFit.p_emergent`).
    family_effects
        Estimate a compute offset per model family (column ``family``), shared by every
        task (:mod:`bayescale.emergence.sigmoid_model`, "Families"); a model without a
        family is its own. Needs at least two families among the fitted models.
    population
        Borrow strength from tasks fitted before: a hierarchical :class:`SigmoidFit` of
        other tasks (or its :meth:`SigmoidFit.population_prior`). Every task of ``table``
        is then a new member of that population: its onset, width, ceiling and
        overdispersion get the population's predictive as prior, so a task whose models
        are all still at chance learns how fast rises are and how high they go from tasks
        that already jumped. Default: the tasks of ``table`` are their own population.
    draws, tune, chains, seed, nuts_sampler, progressbar
        NUTS settings (:func:`bayescale.core.sampling.run_nuts`; ``seed`` 0 by default,
        ``None`` for a fresh one).
    target_accept
        0.95: at 0.9 the full Wu & Lo fit kept one divergence in 4000 draws
        (:mod:`bayescale.emergence.sigmoid_model`).
    warn
        Warn (:class:`~bayescale.core.errors.ConvergenceWarning`) when the diagnostics fail.
    extend_if_slow
        When R-hat or bulk ESS fall short without divergences, sample once more with
        twice ``tune`` and ``draws`` (as :func:`bayescale.fit`); noted in ``fit.notes``.
    compute_drift
        Scale :math:`s` of the extrapolation drift of forecasts beyond each task's fitted
        compute range (module docstring; default :data:`COMPUTE_DRIFT`, estimated on
        held-out models). Forecast-time only: it changes no posterior and no
        log-likelihood; 0 turns it off.
    sampler
        Draws instead of NUTS (a :class:`bayescale.core.sampling.Sampler`; tests pass
        prior draws).

    Returns
    -------
    SigmoidFit

    Raises
    ------
    DataError
        Invalid table, or fewer than ``min_models`` fitted models in a task, or fitted
        models spanning less than half a decade of compute.
    SpecificationError
        Invalid cut-off, chance level or option.
    """
    check_criteria(margin, min_jump, max_decades)
    check_compute_drift(compute_drift)
    prep = prepare_table(
        table,
        cutoff=cutoff,
        chance=chance,
        n_questions=n_questions,
        tasks=tasks,
        min_models=min_models,
        family_effects=family_effects,
        population=population.population_prior()
        if isinstance(population, SigmoidFit)
        else population,
    )
    model = prep.model()
    notes: list[str] = []
    idata, run = run_nuts(
        model,
        check_vars=[*SAMPLED, *DERIVED],
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
    post = idata["posterior"].dataset
    idata["log_likelihood"], idata["observed_data"] = prep.likelihood_groups(post)
    names = [v for v in (*SAMPLED, *DERIVED) if v in post]
    with warnings.catch_warnings():
        if not warn:
            warnings.simplefilter("ignore")
        diag = check_convergence(idata, var_names=names, warn=warn)
    return SigmoidFit(
        idata=idata,
        tasks=prep.tasks,
        data=prep.data,
        cutoff=prep.cutoff,
        diagnostics=diag,
        x_ref=prep.x_ref,
        chance=prep.chance_by_task,
        max_decades=max_decades,
        min_jump=min_jump,
        margin=margin,
        notes=notes,
        compute_drift=float(compute_drift),
        sampler=run.as_dict(),
        population=prep.population,
    )
