r"""Bayesian Slice-and-Sandwich: forecast emergence from difficulty slices (Wu & Lo 2024).

Wu and Lo, *U-shaped and Inverted-U Scaling behind Emergent Abilities of Large Language
Models*, ICLR 2025, arXiv:2410.01692 (code: ``tony10101105/ExpEmergence``,
``fit_cluster.py``). The questions of a task are sliced by difficulty (the slice table of
:mod:`bayescale.emergence.slicing`, slice 0 = easiest). On the target-conditioned (TC)
Brier score (lower is better) easy questions first get *worse* with compute (inverse
scaling) and then improve, hard questions improve slowly; the two offset each other, so
the task's accuracy is flat until the easy questions turn, then it soars. Slice-and-
Sandwich fits each slice's trend below a compute cut-off, combines them into the task's
Brier score and maps that to accuracy.

The model (one task; models :math:`i` with training compute :math:`C_i` below the cut-off
:math:`C^*`; :math:`x_i` is :math:`\log_{10} C_i` mapped linearly onto :math:`[-1, 1]`
over the fitted models; :math:`t_s \in [-1, 1]` the difficulty position of slice
:math:`s`, the middle of its questions in the question-weighted order):

.. math::

    f_s(x) &= m_s + d_s\Big(\beta_{s0} + \sum_{k=1}^{K_s} \beta_{sk}\, x^k\Big),
    \qquad \beta_{sk} \sim \mathcal N(0, 1.5/k),
    \ \beta_{s0} \sim \mathcal N(0, 1),\\
    (\mathbf y_{i} - \mathbf m) / \mathbf d &\sim
    \mathcal N_S\big((\mathbf f(x_i) - \mathbf m) / \mathbf d,\ \Sigma\big),
    \qquad \Sigma = \Lambda\Lambda^\top
    + \operatorname{diag}\big(\boldsymbol\sigma^2 + (0.005/\mathbf d)^2\big),\\
    \Lambda &= P L, \quad P_{sj} = \phi_j(t_s)\ (j < J = \min(3, S - 1)),
    \quad L L^\top = \operatorname{diag}(\boldsymbol\tau)\,\Omega\,
    \operatorname{diag}(\boldsymbol\tau),\\
    \Omega &\sim \mathrm{LKJ}(2), \quad \tau_j \sim \mathcal N^+(0, 1),
    \quad \sigma_s \sim \mathcal N^+(0, 0.5),\\
    B(x) &= \sum_s w_s f_s(x), \qquad w_s = n_s / \textstyle\sum_r n_r,\\
    \operatorname{logit} a_i &\sim \mathcal N\big(\alpha + \gamma\,g\,(B(x_i) - \bar B),
    \ \sigma_a\big), \qquad g = 1/(\bar a (1 - \bar a)),
    \ \gamma \sim \mathcal N(-1, 0.5),\ \alpha \sim \mathcal N(\operatorname{logit}\bar a, 0.5),
    \ \sigma_a \sim \mathcal N^+(0, 0.1 g).

:math:`y_{si}` is model :math:`i`'s mean TC Brier score on slice :math:`s` (standardised
by the slice's mean :math:`m_s` and sd :math:`d_s` over the fitted models, so that slices
near 0 or 1 with tiny scatter get the same geometry as the others), :math:`n_s`
the slice's number of questions (so :math:`B` is the task's overall Brier score, the
question-weighted mean of the slices), :math:`a_i` the task's accuracy, :math:`\bar a`
its mean over the fitted models. The easy slices' polynomials have degree
:math:`K_s = K` (default 5), the others :math:`K_s` = ``other_degree`` (default 2, Wu &
Lo's hard-group degree). Higher coefficients are shrunk by their decreasing prior scales.

The slices of one task share correlated residuals (a model better than its compute
suggests on one slice is so on its neighbours), marginalised analytically: factors
whose loadings :math:`\Lambda` are smooth in difficulty, Legendre polynomials
:math:`\phi_j` of degree < 3 in :math:`t_s`, with the Cholesky factor :math:`L` of their
:math:`J \times J` covariance (lower-triangular, positive diagonal, hence unique: no
rotation or sign is left unidentified). It represents a shared offset (constant), an
easy-versus-hard contrast (linear: on mmlu and arithmetic the residuals of easy and hard
slices correlate at -0.8 to -0.9, two blocks) and a middle-versus-ends pattern
(quadratic). :math:`\sigma_s` is the slice's own scatter and 0.005 Brier a measurement
floor. (A full LKJ over the 10 slices mixed badly on tasks whose slices correlate at 0.9;
one free-sign factor was bimodal; one non-negative factor could not represent
arithmetic's two blocks: 343 divergences, R-hat 1.58.) Slices whose scores hardly
vary over the fitted models (sd < 0.01 Brier: every model scores them 0 or 1) are merged
with their closest neighbour before fitting, with a warning and a note
(:attr:`SandwichFit.notes`); they carry no trend, only a degenerate likelihood.

The accuracy is a logit-linear function of the combined Brier *curve* (Wu & Lo's
"sandwich" mapping, their OLS plus mean calibration, made Bayesian and bounded in
:math:`(0, 1)`; :math:`\gamma` is the slope :math:`\mathrm d a / \mathrm d B` at
:math:`\bar a`); given the parameters it does not depend on the model's own slice
residuals, so its pointwise log-likelihood is exactly the logit-normal density
:math:`\log p(a_i \mid C_i, \theta)` on the accuracy scale and PSIS-LOO on it compares
with any law of accuracy against compute (:func:`bayescale.compare`).

**Forecasts past the cut-off.** The data below the cut-off cannot say how wrong a
polynomial's extrapolation is. :meth:`SandwichFit.forecast` adds two terms that are 0
inside the fitted range and grow linearly with the distance from it. (1) To every slice's
standardised curve a change of slope at the edge of the fitted range,
:math:`\delta_s(x) = \kappa_s (|x| - 1)_+`, :math:`\kappa_s = \omega \sum_j \xi_j
\phi_j(t_s) / \sqrt J`, :math:`\xi_j \sim \mathcal N(0, 1)` (smooth in difficulty, so the
easy slices move together), :math:`\omega` = ``extrapolation_sd``. (2) To the accuracy
logit a drift :math:`\rho\, g\, \Delta(C)\, \zeta`, :math:`\zeta \sim \mathcal N(0, 1)`,
:math:`\Delta` the distance in decades of compute from the fitted range, :math:`\rho` =
``accuracy_drift`` (accuracy per decade at :math:`\bar a`): what the Brier curve
cannot carry, e.g. the map's slope :math:`\gamma`, set by its prior when accuracy is flat
below the cut-off. Both scales were estimated by maximum likelihood of the held-out
accuracies (models above Wu & Lo's thresholds) of their nine tasks, each task checked
with the scales estimated on the other eight (``benchmarks/emergence_sandwich.py
--calibrate``, ``docs/emergence.md``): :math:`\omega = 10`, :math:`\rho = 0.25`
(the previous :math:`\omega = 1.5`, the prior scale of the linear coefficient, with no
drift, covered 0.00-0.40 of the held-out accuracies of the emergent tasks in 90%
intervals). Slice forecasts are clipped to :math:`[0, 1]`, the range of a Brier score.
The threshold and P(emergent) use the fitted polynomials alone.

**Emergence threshold.** With :math:`E(x)` the question-weighted Brier curve of the
easy slices (the easiest third of the questions) on a grid of :math:`\log_{10} C` from
the smallest fitted model to the horizon, a *turn* is a local maximum :math:`x_T` of
:math:`E` whose rise before (:math:`E(x_T) - \min_{x \le x_T} E`) and fall after
(:math:`E(x_T) - \min_{x \ge x_T} E`) both reach ``min_rise`` (0.03 Brier); the most
prominent one is the threshold of the draw. :meth:`SandwichFit.threshold` summarises
:math:`x_T` over the draws with a turn and reports :math:`P(\text{turn})`.

**P(emergent)** is the posterior probability of three conditions, each evaluated per
draw: (A) a turn as above (inverted U of the easy slices); (B) the hard slices (hardest
third) improve while the easy ones worsen, :math:`H(x_T) < H(x_0)` with
:math:`x_0 = \arg\min_{x \le x_T} E`; (C) the overall Brier curve improves after the turn
faster than before it: its mean slope over :math:`[x_T, x_T + 1]` (one decade, cut at
the horizon) is below its mean slope over :math:`[x_0, x_T]` by at least ``min_rise``
per decade. See ``docs/emergence.md``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from bayescale.core.diagnostics import Diagnostics, check_convergence
from bayescale.core.errors import DataError, SpecificationError
from bayescale.core.sampling import sample_until_converged

if TYPE_CHECKING:
    import pymc as pm
    from matplotlib.figure import Figure

__all__ = [
    "WU_LO_EMERGENT",
    "WU_LO_ROBUSTNESS_THRESHOLDS",
    "SandwichFit",
    "fit_sandwich",
    "load_wu_lo_slices",
]

#: Wu & Lo's classification of their nine tasks (``utils.basic_parameter["type"]``):
#: six "Emergence" tasks and three "No Emergence" controls.
WU_LO_EMERGENT: dict[str, bool] = {
    "mmlu": True,
    "arithmetic": True,
    "parsinlu_qa_mc": True,
    "hindu_knowledge": True,
    "analogical_similarity": True,
    "conceptual_combinations": True,
    "hellaswag": False,
    "arc": False,
    "abstract_narrative_understanding": False,
}
#: Earlier cut-offs of Wu & Lo's robustness analysis (``fit_parameter``), log10 FLOPs.
WU_LO_ROBUSTNESS_THRESHOLDS: dict[str, tuple[float, ...]] = {
    "mmlu": (22.5, 22.3, 22.1),
    "parsinlu_qa_mc": (23.3, 23.1, 22.9),
    "arithmetic": (22.8, 22.6, 22.4),
}

#: Prior sd of the k-th polynomial coefficient is _COEF_SCALE / k (standardised slice
#: scores, x on [-1, 1]).
_COEF_SCALE = 1.5
_GRID = 241
#: Measurement-noise floor of a slice score (TC Brier), added to the residual variance.
_NOISE_FLOOR = 0.005
#: A slice whose scores vary less than this (sd over the fitted models, TC Brier) is
#: merged with a neighbour: it carries no trend, only a degenerate likelihood.
_MIN_SLICE_SD = 0.01
_SAMPLE = ("chain", "draw")
#: Extrapolation scales past the fitted range (``extrapolation_sd`` omega, standardised
#: slice units per unit of scaled log compute, and ``accuracy_drift`` rho, accuracy per
#: decade at the mean fitted accuracy), estimated by maximum likelihood on the held-out
#: models of Wu & Lo's nine tasks (``benchmarks/emergence_sandwich.py --calibrate``).
_EXTRAPOLATION_SD = 10.0
_ACCURACY_DRIFT = 0.25


# --------------------------------------------------------------------------- data
def load_wu_lo_slices(
    tasks: Sequence[str] | None = None, *, exclude_models: Sequence[str] = ()
) -> pd.DataFrame:
    """The slice table of the shipped data set ``wu_lo2024`` (10 Brier slices per task).

    Uses :func:`bayescale.emergence.slicing.slice_table_from_wu_lo` (slice 0 = group
    ``g0`` = easiest: the lowest mean TC Brier score, checked in the data: strong models
    score best on it).

    Parameters
    ----------
    tasks
        Tasks to keep (default all nine).
    exclude_models
        Models to leave out, e.g. ``slicing.WU_LO_FILTERED_MODELS`` (Wu & Lo's filter of
        probably over-trained small models).
    """
    from bayescale import datasets
    from bayescale.emergence.slicing import slice_table_from_wu_lo

    frame = datasets.load("wu_lo2024")
    if exclude_models:
        frame = frame[~frame["model"].isin(list(exclude_models))].reset_index(drop=True)
    return slice_table_from_wu_lo(frame, tasks)


@dataclass(frozen=True)
class _TaskData:
    """One task's slice Brier scores and accuracy, one row per model, by compute."""

    task: str
    models: np.ndarray
    families: np.ndarray
    log_c: np.ndarray
    briers: np.ndarray  # (model, slice)
    acc: np.ndarray
    weights: np.ndarray
    labels: list[str]


def _task_data(table: pd.DataFrame, task: str | None) -> _TaskData:
    need = ["task", "model", "compute", "slice", "metric", "value"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise DataError(
            f"the slice table lacks column(s) {missing}; pass the output of "
            "bayescale.emergence.slicing (e.g. slice_table_from_wu_lo())."
        )
    tasks = list(pd.unique(table["task"]))
    if task is None:
        if len(tasks) != 1:
            raise SpecificationError(f"the table holds tasks {tasks}: pass task=... (one of them)")
        task = str(tasks[0])
    if task not in tasks:
        raise DataError(f"task {task!r} is not in the slice table (it has {tasks})")
    sub = table[table["task"] == task]
    sl = sub[(sub["metric"] == "brier") & (sub["slice"] >= 0)]
    acc = sub[(sub["metric"] == "acc") & (sub["slice"] == -1)]
    if sl.empty or acc.empty:
        raise DataError(
            f"task {task!r} needs Brier slice rows (metric 'brier', slice >= 0) and overall "
            "accuracy rows (metric 'acc', slice -1); found "
            f"{len(sl)} and {len(acc)}. Build the table with bayescale.emergence.slicing."
        )
    wide = sl.pivot_table(index="model", columns="slice", values="value", aggfunc="mean")
    n_slices = wide.shape[1]
    if n_slices < 3:
        raise DataError(f"task {task!r} has {n_slices} Brier slices; the sandwich needs >= 3")
    if "n_questions" in sl.columns and sl["n_questions"].notna().all():
        counts = sl.groupby("slice")["n_questions"].first().reindex(wide.columns)
        weights = counts.to_numpy(float) / counts.sum()
    else:
        weights = np.full(n_slices, 1.0 / n_slices)
    labels = (
        sl.groupby("slice")["slice_label"].first().reindex(wide.columns).astype(str).tolist()
        if "slice_label" in sl.columns
        else [str(s) for s in wide.columns]
    )
    meta = sub.groupby("model").agg(
        compute=("compute", "first"),
        family=("family", "first") if "family" in sub.columns else ("model", "first"),
    )
    a = acc.groupby("model")["value"].mean()
    frame = wide.join(a.rename("acc"), how="inner").join(meta, how="inner").dropna()
    dropped = sorted(set(wide.index) | set(a.index) - set(frame.index))
    if len(frame) < len(set(wide.index) | set(a.index)):
        warnings.warn(
            f"task {task!r}: left out model(s) without every slice and accuracy: {dropped[:8]}",
            stacklevel=3,
        )
    if (frame["compute"] <= 0).any():
        raise DataError(f"task {task!r}: compute must be > 0 (training FLOPs)")
    frame = frame.reset_index().sort_values(["compute", "model"], kind="stable")
    return _TaskData(
        task=task,
        models=frame["model"].astype(str).to_numpy(),
        families=frame["family"].astype(str).to_numpy(),
        log_c=np.log10(frame["compute"].to_numpy(float)),
        briers=frame[list(wide.columns)].to_numpy(float),
        acc=frame["acc"].to_numpy(float),
        weights=weights,
        labels=labels,
    )


def _slice_scaling(briers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd (floored) of each slice over the fitted models: the model's units."""
    loc = briers.mean(axis=0)
    scale = np.maximum(briers.std(axis=0), 0.01)
    return loc, scale


def _merge_degenerate(
    briers_fit: np.ndarray, weights: np.ndarray, min_sd: float
) -> tuple[list[list[int]], list[str]]:
    """Groups of adjacent slices such that every group varies over the fitted models.

    A slice whose question-weighted scores have sd < ``min_sd`` over the fitted models (all
    models score it alike, e.g. 0.000 or 1.000) is merged with the neighbour whose mean is
    closest; repeated until none is left or three slices remain. Returns the groups
    (original slice indices) and a note per merge.
    """
    groups = [[j] for j in range(briers_fit.shape[1])]
    notes: list[str] = []

    def scores(g: list[int]) -> np.ndarray:
        w = weights[g] / weights[g].sum()
        return briers_fit[:, g] @ w

    while len(groups) > 3:
        sds = np.array([scores(g).std() for g in groups])
        k = int(np.argmin(sds))
        if sds[k] >= min_sd:
            break
        nbrs = [j for j in (k - 1, k + 1) if 0 <= j < len(groups)]
        mean_k = scores(groups[k]).mean()
        j = min(nbrs, key=lambda m: abs(scores(groups[m]).mean() - mean_k))
        notes.append(
            f"slice(s) {groups[k]} (sd {sds[k]:.4f} < {min_sd} over the fitted models, "
            f"mean {mean_k:.3f}) merged with neighbour {groups[j]}"
        )
        lo, hi = sorted((j, k))
        groups[lo : hi + 1] = [sorted(groups[lo] + groups[hi])]
    return groups, notes


def _groups(weights: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Easy and hard slices: those whose middle question lies in the first/last fraction."""
    cum = np.cumsum(weights)
    mid = cum - weights / 2
    easy = np.flatnonzero(mid <= fraction)
    hard = np.flatnonzero(mid >= 1 - fraction)
    if easy.size == 0:
        easy = np.array([0])
    if hard.size == 0:
        hard = np.array([len(weights) - 1])
    return easy, hard


# --------------------------------------------------------------------------- model
def _degree_mask(slice_degree: np.ndarray, degree: int) -> np.ndarray:
    """(slice, power) indicator of the coefficients each slice's polynomial uses."""
    return (np.arange(1, degree + 1)[None, :] <= np.asarray(slice_degree)[:, None]).astype(float)


def _difficulty_basis(weights: np.ndarray) -> np.ndarray:
    """Legendre polynomials of degree < J in the slices' difficulty position, (slice, J).

    The position of a slice is the middle of its questions in the question-weighted order
    of difficulty, mapped onto [-1, 1]; J = min(3, S - 1) so that the factors and the
    slices' own scatter stay distinguishable.
    """
    mid = np.cumsum(weights) - weights / 2
    t = 2.0 * mid - 1.0
    n_basis = min(3, len(weights) - 1)
    return np.polynomial.legendre.legvander(t, n_basis - 1)


def _build_model(
    x: np.ndarray,
    briers: np.ndarray,
    acc: np.ndarray,
    weights: np.ndarray,
    degree: int,
    slice_degree: np.ndarray,
) -> pm.Model:
    import pymc as pm
    import pytensor.tensor as pt

    n, n_slices = briers.shape
    coords = {
        "obs": np.arange(n),
        "slice": np.arange(n_slices),
        "power": np.arange(1, degree + 1),
        "factor": np.arange(_difficulty_basis(weights).shape[1]),
    }
    powers = np.stack([x**k for k in range(1, degree + 1)], axis=1)
    b_ref = float(np.mean(briers @ weights))
    loc, scale = _slice_scaling(briers)
    z_obs = (briers - loc) / scale
    floor_var = (_NOISE_FLOOR / scale) ** 2
    with pm.Model(coords=coords) as model:
        beta0 = pm.Normal("beta0", mu=0.0, sigma=1.0, dims="slice")
        coef_sd = _COEF_SCALE / np.arange(1, degree + 1)
        # slice s uses the coefficients of powers 1..K_s only (K_s = its degree)
        rows, cols = np.nonzero(_degree_mask(slice_degree, degree))
        model.add_coord("coef", np.arange(len(rows)))
        coef = pm.Normal("beta_coef", 0.0, coef_sd[cols], dims="coef")
        beta = pm.Deterministic(
            "beta",
            pt.set_subtensor(pt.zeros((n_slices, degree))[rows, cols], coef),
            dims=("slice", "power"),
        )
        f_std = beta0[None, :] + pt.dot(powers, beta.T)
        # Residuals: factors whose loadings are smooth in difficulty, marginalised
        # analytically. The loadings are Lambda = P L with P the Legendre polynomials of
        # degree < J in the slices' difficulty position and L the (unique, lower-triangular,
        # positive-diagonal) Cholesky factor of their J x J covariance: no rotation or sign
        # is left unidentified, and a model better than its compute suggests may be so on
        # the easy slices and worse on the hard ones (mmlu, arithmetic: two blocks).
        basis = _difficulty_basis(weights)
        n_basis = basis.shape[1]
        chol, _, _ = pm.LKJCholeskyCov(
            "resid_chol",
            eta=2.0,
            n=n_basis,
            sd_dist=pm.HalfNormal.dist(1.0, size=n_basis),
            compute_corr=True,
            store_in_trace=False,
        )
        lam = pm.Deterministic("loading", pt.dot(basis, chol), dims=("slice", "factor"))
        sigma = pm.HalfNormal("sigma_slice", 0.5, dims="slice")
        cov = pt.dot(lam, lam.T) + pt.diag(sigma**2 + floor_var)
        pm.MvNormal("brier", mu=f_std, cov=cov, observed=z_obs, dims=("obs", "slice"))
        curve = pt.dot(loc[None, :] + scale[None, :] * f_std, weights)
        # Accuracy: logit-normal around a logit-linear map of the combined Brier curve.
        # gamma is the slope d acc / d Brier at the fitted models' mean accuracy.
        a_bar = float(np.clip(acc.mean(), 0.02, 0.98))
        dlogit = 1.0 / (a_bar * (1.0 - a_bar))
        alpha = pm.Normal("alpha", mu=float(np.log(a_bar / (1 - a_bar))), sigma=0.5)
        gamma = pm.Normal("gamma", mu=-1.0, sigma=0.5)
        sigma_acc = pm.HalfNormal("sigma_acc", sigma=0.1 * dlogit)
        pm.LogitNormal(
            "y",
            mu=alpha + gamma * dlogit * (curve - b_ref),
            sigma=sigma_acc,
            observed=acc,
            dims="obs",
        )
    model.dlogit = dlogit  # type: ignore[attr-defined]
    model.b_ref = b_ref  # type: ignore[attr-defined]
    return model


# --------------------------------------------------------------------------- result
@dataclass
class SandwichFit:
    """Posterior of a Bayesian Slice-and-Sandwich fit of one task.

    Attributes
    ----------
    idata : xarray.DataTree
        ``posterior``, ``sample_stats``, ``log_likelihood`` (``y``: overall accuracy of
        the fitted models, dim ``obs`` ordered by compute then model, coords ``model`` and
        ``compute``), ``observed_data``.
    task : str
        The task.
    cutoff : float
        Compute cut-off (FLOPs): models with compute below it were fitted.
    diagnostics : Diagnostics
        Convergence of the fit.
    data : xarray.Dataset
        Every model of the task (fitted and held out): ``log_c``, ``brier`` (model,
        slice), ``acc``, ``held_out``.
    weights : numpy.ndarray
        Question shares of the slices (after merging degenerate ones).
    slice_groups : list of list of int
        The input slices each fitted slice is made of (``[[0, 1, 2], [3], ...]``: input
        slices 0-2, which every fitted model scored alike, were merged).
    notes : list of str
        What was done to the data (merged slices), also shown by :meth:`summary`.
    easy, hard : numpy.ndarray
        Indices of the easy and hard slices.
    """

    idata: xr.DataTree
    task: str
    cutoff: float
    diagnostics: Diagnostics
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
    extrapolation_sd: float = _EXTRAPOLATION_SD
    accuracy_drift: float = _ACCURACY_DRIFT
    metric: str = "acc"
    spec: Any = field(default_factory=lambda: SimpleNamespace(space="linear"))

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

    def _extrapolation(self, log_c: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
        r"""Draws of the slice curves' deviation beyond the fitted range, (sample, point, slice).

        :math:`\delta_s(x) = \kappa_s\,(|x| - 1)_+` in standardised units, with
        :math:`\kappa_s = \omega \sum_j \xi_j \phi_j(t_s) / \sqrt J`,
        :math:`\xi_j \sim \mathcal N(0, 1)` per draw: a change of every slice's slope at
        the edge of the data, smooth in difficulty, of scale
        :math:`\omega` = ``extrapolation_sd``. The data below the cut-off say nothing on
        it (it is 0 inside the fitted range); its scale was estimated on held-out models
        (module docstring).
        """
        x = self._x(log_c)
        dist = np.maximum(np.abs(x) - 1.0, 0.0)
        if self.extrapolation_sd <= 0 or not dist.any():
            return np.zeros((n, len(x), len(self.weights)))
        basis = _difficulty_basis(self.weights)
        xi = rng.standard_normal((n, basis.shape[1]))
        kappa = self.extrapolation_sd * (xi @ basis.T) / np.sqrt(basis.shape[1])
        return kappa[:, None, :] * dist[None, :, None] * self.slice_scale

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
        curves = np.clip(curves + self._extrapolation(log_c, rng, n), 0.0, 1.0)
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

    def _group(self, curves: np.ndarray, idx: np.ndarray) -> np.ndarray:
        w = self.weights[idx]
        return curves[..., idx] @ (w / w.sum())

    def _emergence_draws(self) -> dict[str, np.ndarray]:
        grid = np.linspace(self.x_range[0], self.horizon, _GRID)
        curves = self.slice_curves(grid)
        easy = self._group(curves, self.easy)
        hard = self._group(curves, self.hard)
        overall = curves @ self.weights
        n = easy.shape[0]
        d_easy = np.diff(easy, axis=1)
        is_max = np.zeros_like(easy, dtype=bool)
        is_max[:, 1:-1] = (d_easy[:, :-1] > 0) & (d_easy[:, 1:] <= 0)
        rise = easy - np.minimum.accumulate(easy, axis=1)
        fall = easy - np.minimum.accumulate(easy[:, ::-1], axis=1)[:, ::-1]
        prom = np.where(is_max, np.minimum(rise, fall), -np.inf)
        j_t = np.argmax(prom, axis=1)
        rows = np.arange(n)
        turn = prom[rows, j_t] >= self.min_rise
        before = np.where(np.arange(_GRID)[None, :] <= j_t[:, None], easy, np.inf)
        j_0 = np.argmin(before, axis=1)
        x_t, x_0 = grid[j_t], grid[j_0]
        offset = hard[rows, j_t] < hard[rows, j_0]
        x_end = np.minimum(x_t + 1.0, grid[-1])
        j_end = np.clip(np.searchsorted(grid, x_end), 0, _GRID - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope_before = (overall[rows, j_t] - overall[rows, j_0]) / (x_t - x_0)
            slope_after = (overall[rows, j_end] - overall[rows, j_t]) / (grid[j_end] - x_t)
        soar = np.nan_to_num(slope_after, nan=np.inf) <= (
            np.nan_to_num(slope_before, nan=-np.inf) - self.min_rise
        )
        return {
            "turn": turn,
            "x_t": np.where(turn, x_t, np.nan),
            "offset": turn & offset,
            "emergent": turn & offset & soar,
        }

    # -- public summaries -------------------------------------------------------------------
    def threshold(self, ci: float = 0.9) -> dict[str, float]:
        r"""Posterior of the emergence threshold :math:`\log_{10} C_T` (FLOPs).

        Parameters
        ----------
        ci
            Probability of the equal-tailed interval.

        Returns
        -------
        dict
            ``median``, ``lower``, ``upper`` (log10 FLOPs, over the draws with a turn;
            NaN when none has one), ``p_turn`` (share of draws with a turn between the
            smallest fitted model and the horizon), ``ci``.
        """
        _check_ci(ci)
        em = self._emergence_draws()
        xt = em["x_t"][np.isfinite(em["x_t"])]
        q = (1 - ci) / 2
        if xt.size:
            lo, med, hi = np.quantile(xt, [q, 0.5, 1 - q])
        else:
            lo = med = hi = np.nan
        return {
            "median": float(med),
            "lower": float(lo),
            "upper": float(hi),
            "p_turn": float(em["turn"].mean()),
            "ci": ci,
        }

    def emergence(self) -> dict[str, float]:
        """Posterior probabilities of the conditions of emergence (module docstring).

        ``p_turn`` (A), ``p_offset`` (A and B), ``p_emergent`` (A, B and C).
        """
        em = self._emergence_draws()
        return {
            "p_turn": float(em["turn"].mean()),
            "p_offset": float(em["offset"].mean()),
            "p_emergent": float(em["emergent"].mean()),
        }

    def p_emergent(self) -> float:
        """Posterior probability that the task is emergent (conditions A, B and C)."""
        return self.emergence()["p_emergent"]

    def forecast(
        self, compute: ArrayLike, ci: float = 0.9, *, seed: int | None = 0
    ) -> pd.DataFrame:
        r"""Forecast the overall Brier score, accuracy and each slice at given compute.

        Parameters
        ----------
        compute
            Training compute (FLOPs, > 0).
        ci
            Probability of the equal-tailed intervals.
        seed
            Seed of the noise draws of the predictive intervals.

        Returns
        -------
        pandas.DataFrame
            One row per compute and quantity (``"acc"``, ``"brier"`` = overall TC Brier,
            ``"slice_<s>"``): ``compute``, ``log_c``, ``quantity``, ``median``, ``lower``,
            ``upper`` (the curve: for Brier the mean of models of that compute, for
            accuracy the typical model's, its logit-normal median) and ``pred_lower``,
            ``pred_upper`` (a new model of that compute: adds the residual scatter).
            Past the fitted range both include the extrapolation term (module docstring);
            accuracies lie in (0, 1), Brier scores in [0, 1].
        """
        _check_ci(ci)
        c = np.atleast_1d(np.asarray(compute, float))
        if not np.all(c > 0):
            raise SpecificationError("compute must be > 0 (training FLOPs)")
        log_c = np.log10(c)
        d = self._draws()
        rng = np.random.default_rng(seed)
        eta, curves, sigma_acc, drift_sd = self._accuracy_logit(log_c, rng)
        n, p, s = curves.shape
        n_f = d["loading"].shape[2]
        eps = np.einsum("nsf,npf->nps", d["loading"], rng.standard_normal((n, p, n_f)))
        eps = eps + d["sigma_slice"][:, None, :] * rng.standard_normal((n, p, s))
        eps = eps * self.slice_scale + _NOISE_FLOOR * rng.standard_normal((n, p, s))
        pred = np.clip(curves + eps, 0.0, 1.0)
        overall = curves @ self.weights
        # the accuracy drift past the fitted range: one slope per draw (a curve)
        eta = eta + drift_sd[None, :] * rng.standard_normal((n, 1))
        acc = _expit(eta)
        acc_pred = _expit(eta + sigma_acc[:, None] * rng.standard_normal((n, p)))
        q = [(1 - ci) / 2, 0.5, 1 - (1 - ci) / 2]
        rows = []

        def add(name: str, mean: np.ndarray, new: np.ndarray) -> None:
            lo, med, hi = np.quantile(mean, q, axis=0)
            plo, _, phi = np.quantile(new, q, axis=0)
            for i in range(p):
                rows.append((c[i], log_c[i], name, med[i], lo[i], hi[i], plo[i], phi[i]))

        add("acc", acc, acc_pred)
        add("brier", overall, pred @ self.weights)
        for j in range(s):
            add(f"slice_{j}", curves[..., j], pred[..., j])
        cols = ["compute", "log_c", "quantity", "median", "lower", "upper"]
        return pd.DataFrame(rows, columns=[*cols, "pred_lower", "pred_upper"])

    def held_out_check(self, ci: float = 0.9) -> pd.DataFrame:
        """Forecasts of the held-out models (compute >= cut-off) against what they scored.

        Returns one row per held-out model: ``model``, ``log_c``, ``acc`` (observed),
        ``acc_median``, ``acc_lower``, ``acc_upper`` (predictive interval of a new model),
        ``covered``, and the same for ``brier``.
        """
        held = self.data["held_out"].values
        if not held.any():
            return pd.DataFrame()
        log_c = self.data["log_c"].values[held]
        fc = self.forecast(10**log_c, ci)
        out = pd.DataFrame({"model": self.data["model"].values[held].astype(str), "log_c": log_c})
        observed = {
            "acc": self.data["acc"].values[held],
            "brier": self.data["brier"].values[held] @ self.weights,
        }
        for name, obs in observed.items():
            f = fc[fc["quantity"] == name]
            out[name] = obs
            out[f"{name}_median"] = f["median"].to_numpy()
            out[f"{name}_lower"] = f["pred_lower"].to_numpy()
            out[f"{name}_upper"] = f["pred_upper"].to_numpy()
            out[f"{name}_covered"] = (obs >= out[f"{name}_lower"]) & (obs <= out[f"{name}_upper"])
        return out

    def summary(self, ci: float = 0.9) -> str:
        """Threshold, emergence probabilities, held-out errors and diagnostics as text."""
        th = self.threshold(ci)
        em = self.emergence()
        lines = [
            f"Slice-and-Sandwich fit of {self.task!r}: {int((~self.data['held_out']).sum())} "
            f"models below the cut-off 10^{np.log10(self.cutoff):.2f} FLOPs, "
            f"{len(self.weights)} slices, polynomial degree {self.degree} (easy) / "
            f"{int(self.slice_degree.min()) if len(self.slice_degree) else self.degree} (others)",
            f"threshold log10 C: median {th['median']:.2f}, {ci:.0%} interval "
            f"[{th['lower']:.2f}, {th['upper']:.2f}], P(turn in range) {th['p_turn']:.2f}",
            f"P(turn) {em['p_turn']:.2f}, P(turn and offset) {em['p_offset']:.2f}, "
            f"P(emergent) {em['p_emergent']:.2f}",
        ]
        check = self.held_out_check(ci)
        if len(check):
            err = (check["acc_median"] - check["acc"]).abs()
            lines.append(
                f"held out ({len(check)} models): accuracy MAE {err.mean():.3f}, "
                f"{ci:.0%} coverage {check['acc_covered'].mean():.2f}"
            )
        lines.extend(f"note: {note}" for note in self.notes)
        lines.append(f"diagnostics: {self.diagnostics}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, path: str | os.PathLike[str] | None = None, ci: float = 0.9) -> Figure:
        """Slice trends, easy/hard groups with the threshold, and the sandwich forecast.

        Four panels: (1) every slice's data and posterior median trend; (2) the easy and
        hard groups with credible bands, the cut-off and the threshold's posterior (its
        interval shaded, its density on a twin axis); (3) the overall Brier score and (4)
        the accuracy forecast with the curve's credible band and a new model's predictive
        band, fitted models filled and held-out models open.
        """
        from matplotlib.figure import Figure

        from bayescale.scaling.plotting import save_figure

        _check_ci(ci)
        held = self.data["held_out"].values
        log_c = self.data["log_c"].values
        br = self.data["brier"].values
        grid = np.linspace(min(self.x_range[0], log_c.min()), self.horizon, 120)
        fc = self.forecast(10**grid, ci)
        curves = self.slice_curves(grid)
        q = [(1 - ci) / 2, 0.5, 1 - (1 - ci) / 2]
        fig = Figure(figsize=(12, 9), layout="constrained")
        axes = fig.subplots(2, 2)
        cutoff = np.log10(self.cutoff)
        from matplotlib import colormaps

        cmap = colormaps["viridis"]
        ax = axes[0, 0]
        n_s = br.shape[1]
        for j in range(n_s):
            col = cmap(j / max(n_s - 1, 1))
            ax.scatter(log_c[~held], br[~held, j], s=8, color=col)
            ax.scatter(log_c[held], br[held, j], s=8, facecolors="none", edgecolors=col)
            ax.plot(grid, np.median(curves[..., j], axis=0), color=col, lw=1.2)
        ax.set_title(f"{self.task}: TC Brier per slice (dark = easy)")
        ax2 = axes[0, 1]
        th = self.threshold(ci)
        for idx, name, col in ((self.easy, "easy", "C3"), (self.hard, "hard", "C0")):
            g = self._group(curves, idx)
            lo, med, hi = np.quantile(g, q, axis=0)
            obs = br[:, idx] @ (self.weights[idx] / self.weights[idx].sum())
            ax2.fill_between(grid, lo, hi, color=col, alpha=0.25)
            ax2.plot(grid, med, color=col, label=f"{name} slices")
            ax2.scatter(log_c[~held], obs[~held], s=10, color=col)
            ax2.scatter(log_c[held], obs[held], s=10, facecolors="none", edgecolors=col)
        if np.isfinite(th["median"]):
            ax2.axvspan(th["lower"], th["upper"], color="0.6", alpha=0.25, label="threshold CI")
            ax2.axvline(th["median"], color="0.3", ls="--", lw=1)
            xt = self._emergence_draws()["x_t"]
            twin = ax2.twinx()
            twin.hist(xt[np.isfinite(xt)], bins=40, density=True, color="0.4", alpha=0.3)
            twin.set_ylabel("threshold density")
        ax2.set_title(
            f"easy vs hard (P(turn) = {th['p_turn']:.2f}, P(emergent) = {self.p_emergent():.2f})"
        )
        ax2.legend(loc="best", fontsize=8)
        for ax3, name, obs in (
            (axes[1, 0], "brier", br @ self.weights),
            (axes[1, 1], "acc", self.data["acc"].values),
        ):
            f = fc[fc["quantity"] == name]
            ax3.fill_between(
                grid,
                f["pred_lower"],
                f["pred_upper"],
                color="C2",
                alpha=0.12,
                label=f"new model {ci:.0%}",
            )
            ax3.fill_between(
                grid, f["lower"], f["upper"], color="C2", alpha=0.3, label=f"curve {ci:.0%}"
            )
            ax3.plot(grid, f["median"], color="C2", label="median")
            ax3.scatter(log_c[~held], obs[~held], s=12, color="k", label="fitted")
            ax3.scatter(
                log_c[held], obs[held], s=14, facecolors="none", edgecolors="C1", label="held out"
            )
            ax3.set_title(
                f"sandwich forecast: {'overall TC Brier' if name == 'brier' else 'accuracy'}"
            )
            ax3.legend(loc="best", fontsize=8)
        for a in axes.flat:
            a.axvline(cutoff, color="k", ls=":", lw=1)
            a.set_xlabel("log10 training compute (FLOPs)")
        return save_figure(fig, path)


def _expit(v: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * v))


def _check_ci(ci: float) -> None:
    if not 0 < ci < 1:
        raise SpecificationError(f"ci must be in (0, 1), not {ci!r}")


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
    min_slice_sd: float = _MIN_SLICE_SD,
    extrapolation_sd: float = _EXTRAPOLATION_SD,
    accuracy_drift: float = _ACCURACY_DRIFT,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    target_accept: float = 0.95,
    nuts_sampler: str = "nutpie",
    progressbar: bool = False,
    warn: bool = True,
    extend_if_slow: bool = True,
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
        Largest :math:`\log_{10} C` searched for a turn (default: the largest model of
        the table, or one decade past the cut-off when none is held out).
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
    draws, tune, chains, seed, target_accept, nuts_sampler, progressbar
        Passed to :func:`pymc.sample` (``target_accept`` 0.95 as in
        :func:`bayescale.fit`: the default 0.8 left 1-2 divergences on
        analogical_similarity).
    warn
        Warn (:class:`~bayescale.core.errors.ConvergenceWarning`) when the fit does not meet
        the convergence thresholds (:func:`bayescale.core.diagnostics.check_convergence`).
    extend_if_slow
        When R-hat or bulk ESS fall short without divergences, sample once more with
        twice ``tune`` and ``draws`` (as :func:`bayescale.fit`); noted in ``fit.notes``.

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
    if not (isinstance(degree, int) and 1 <= degree <= 8):
        raise SpecificationError(f"degree must be an integer in 1..8, not {degree!r}")
    if other_degree is not None and not (
        isinstance(other_degree, int) and 1 <= other_degree <= degree
    ):
        raise SpecificationError(
            f"other_degree must be None or an integer in 1..degree, not {other_degree!r}"
        )
    if not (np.isfinite(min_slice_sd) and min_slice_sd >= 0):
        raise SpecificationError(f"min_slice_sd must be >= 0, not {min_slice_sd!r}")
    if not (np.isfinite(extrapolation_sd) and extrapolation_sd >= 0):
        raise SpecificationError(f"extrapolation_sd must be >= 0, not {extrapolation_sd!r}")
    if not (np.isfinite(accuracy_drift) and accuracy_drift >= 0):
        raise SpecificationError(f"accuracy_drift must be >= 0, not {accuracy_drift!r}")
    if not 0 < easy_fraction <= 0.5:
        raise SpecificationError(f"easy_fraction must be in (0, 0.5], not {easy_fraction!r}")
    if not (np.isfinite(cutoff) and cutoff > 0):
        raise SpecificationError(f"cutoff must be a compute in FLOPs > 0, not {cutoff!r}")
    td = _task_data(table, task)
    log_cut = float(np.log10(cutoff))
    fit_mask = td.log_c < log_cut
    n_fit = int(fit_mask.sum())
    if n_fit < degree + 5:
        raise DataError(
            f"task {td.task!r}: only {n_fit} models below the cut-off 10^{log_cut:.2f} FLOPs; "
            f"degree {degree} needs at least {degree + 5}. Raise the cut-off or lower degree."
        )
    acc_fit = td.acc[fit_mask]
    if not np.all((acc_fit > 0) & (acc_fit < 1)):
        raise DataError(
            f"task {td.task!r}: accuracies must lie strictly between 0 and 1 (the map is "
            f"logit-normal); found {acc_fit.min():.3f}..{acc_fit.max():.3f}"
        )
    lo, hi = float(td.log_c[fit_mask].min()), float(td.log_c[fit_mask].max())
    if hi - lo < 0.5:
        raise DataError(
            f"task {td.task!r}: the models below the cut-off span {hi - lo:.2f} decades of "
            "compute; a trend needs at least 0.5."
        )
    if horizon is None:
        horizon = float(td.log_c.max()) if (~fit_mask).any() else log_cut + 1.0
    horizon = max(float(horizon), hi)
    x = 2.0 * (td.log_c[fit_mask] - lo) / (hi - lo) - 1.0
    groups, notes = _merge_degenerate(td.briers[fit_mask], td.weights, min_slice_sd)
    weights = np.array([td.weights[g].sum() for g in groups])
    briers = np.stack([td.briers[:, g] @ (td.weights[g] / td.weights[g].sum()) for g in groups], 1)
    labels = ["+".join(td.labels[j] for j in g) for g in groups]
    for note in notes:
        warnings.warn(f"task {td.task!r}: {note}", UserWarning, stacklevel=2)
    easy, hard = _groups(weights, easy_fraction)
    slice_degree = np.full(len(weights), degree if other_degree is None else other_degree)
    slice_degree[easy] = degree
    model = _build_model(x, briers[fit_mask], td.acc[fit_mask], weights, degree, slice_degree)
    sampled = ["beta0", "beta_coef", "resid_chol", "sigma_slice", "alpha", "gamma", "sigma_acc"]
    idata = sample_until_converged(
        model,
        check_vars=sampled,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        extend_if_slow=extend_if_slow,
        notes=notes,
        target_accept=target_accept,
        nuts_sampler=nuts_sampler,
        progressbar=progressbar,
        log_likelihood=["y"],
    )
    obs_coords = {
        "model": ("obs", td.models[fit_mask]),
        "compute": ("obs", 10 ** td.log_c[fit_mask]),
    }
    for group in ("log_likelihood", "observed_data"):
        idata[group] = idata[group].dataset.assign_coords(obs_coords)
    post = idata["posterior"].dataset
    diag = check_convergence(idata, var_names=[v for v in sampled if v in post], warn=warn)
    loc, scale = _slice_scaling(briers[fit_mask])
    data = xr.Dataset(
        {
            "log_c": ("model", td.log_c),
            "brier": (("model", "slice"), briers),
            "acc": ("model", td.acc),
            "held_out": ("model", ~fit_mask),
            "family": ("model", td.families),
        },
        coords={
            "model": td.models,
            "slice": np.arange(briers.shape[1]),
            "slice_label": ("slice", labels),
        },
    )
    return SandwichFit(
        idata=idata,
        task=td.task,
        cutoff=float(cutoff),
        diagnostics=diag,
        data=data,
        weights=weights,
        easy=easy,
        hard=hard,
        degree=degree,
        slice_degree=slice_degree,
        x_range=(lo, hi),
        b_ref=float(model.b_ref),  # type: ignore[attr-defined]
        dlogit=float(model.dlogit),  # type: ignore[attr-defined]
        extrapolation_sd=float(extrapolation_sd),
        accuracy_drift=float(accuracy_drift),
        horizon=horizon,
        slice_loc=loc,
        slice_scale=scale,
        min_rise=min_rise,
        labels=labels,
        slice_groups=groups,
        notes=notes,
    )
