r"""The Slice-and-Sandwich model (Wu & Lo 2024): its data, its PyMC model, its defaults.

Wu and Lo, *U-shaped and Inverted-U Scaling behind Emergent Abilities of Large Language
Models*, ICLR 2025, arXiv:2410.01692 (code: ``tony10101105/ExpEmergence``,
``fit_cluster.py``). The questions of a task are sliced by difficulty (the slice table of
:mod:`bayescale.emergence.slice_table`, slice 0 = easiest). On the target-conditioned (TC)
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
(:attr:`~bayescale.emergence.sandwich.SandwichFit.notes`); they carry no trend, only a
degenerate likelihood.

The accuracy is a logit-linear function of the combined Brier *curve* (Wu & Lo's
"sandwich" mapping, their OLS plus mean calibration, made Bayesian and bounded in
:math:`(0, 1)`; :math:`\gamma` is the slope :math:`\mathrm d a / \mathrm d B` at
:math:`\bar a`); given the parameters it does not depend on the model's own slice
residuals, so its pointwise log-likelihood is exactly the logit-normal density
:math:`\log p(a_i \mid C_i, \theta)` on the accuracy scale and PSIS-LOO on it compares
with any law of accuracy against compute (:func:`bayescale.compare`).

**Forecasts past the cut-off.** The data below the cut-off cannot say how wrong a
polynomial's extrapolation is. :meth:`~bayescale.emergence.sandwich.SandwichFit.forecast`
adds two terms that are 0 inside the fitted range and grow linearly with the distance from
it. (1) To every slice's standardised curve a change of slope at the edge of the fitted
range,
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

The fit and what it gives (threshold, P(emergent), forecasts past the cut-off) are in
:mod:`bayescale.emergence.sandwich`; this module holds the task's data
(:func:`task_data`), the merging of degenerate slices, the easy and hard groups and the
PyMC model (:func:`build_model`) and the extrapolation term
(:func:`extrapolation_draws`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.errors import DataError, SpecificationError

if TYPE_CHECKING:
    import pymc as pm

__all__ = [
    "ACCURACY_DRIFT",
    "EXTRAPOLATION_SD",
    "MIN_SLICE_SD",
    "NOISE_FLOOR",
    "SAMPLED",
    "PreparedTask",
    "TaskData",
    "accuracy_log_likelihood",
    "accuracy_map",
    "build_model",
    "degree_mask",
    "difficulty_basis",
    "easy_hard_slices",
    "extrapolation_draws",
    "merge_degenerate_slices",
    "prepare_task",
    "slice_scaling",
    "task_data",
]

#: Prior sd of the k-th polynomial coefficient is COEF_SCALE / k (standardised slice
#: scores, x on [-1, 1]).
COEF_SCALE = 1.5
#: Measurement-noise floor of a slice score (TC Brier), added to the residual variance.
NOISE_FLOOR = 0.005
#: A slice whose scores vary less than this (sd over the fitted models, TC Brier) is
#: merged with a neighbour: it carries no trend, only a degenerate likelihood.
MIN_SLICE_SD = 0.01
#: Extrapolation scales past the fitted range (``extrapolation_sd`` omega, standardised
#: slice units per unit of scaled log compute, and ``accuracy_drift`` rho, accuracy per
#: decade at the mean fitted accuracy), estimated by maximum likelihood on the held-out
#: models of Wu & Lo's nine tasks (``benchmarks/emergence_sandwich.py --calibrate``).
EXTRAPOLATION_SD = 10.0
ACCURACY_DRIFT = 0.25
#: The sampled variables (their diagnostics decide a rerun and are reported).
SAMPLED = ("beta0", "beta_coef", "resid_chol", "sigma_slice", "alpha", "gamma", "sigma_acc")


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class TaskData:
    """One task's slice Brier scores and accuracy, one row per model, by compute."""

    task: str
    models: np.ndarray
    families: np.ndarray
    log_c: np.ndarray
    briers: np.ndarray  # (model, slice)
    acc: np.ndarray
    weights: np.ndarray
    labels: list[str]
    n_questions: np.ndarray | None = None  # of the overall accuracy, per model (NaN: unknown)


def task_data(table: pd.DataFrame, task: str | None) -> TaskData:
    """One task of a slice table: Brier slices and overall accuracy per model, by compute.

    Models lacking a slice or the accuracy are left out with a warning; the slices'
    weights are their question shares (equal when ``n_questions`` is unknown).

    Raises
    ------
    DataError
        Missing columns, an unknown task, fewer than 3 Brier slices, no accuracy rows or a
        compute that is not positive.
    SpecificationError
        ``task`` left out while the table holds several tasks.
    """
    need = ["task", "model", "compute", "slice", "metric", "value"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise DataError(
            f"the slice table lacks column(s) {missing}; pass a slice table "
            "(bayescale.emergence.slice_table: e.g. slice_performance() of your per-question "
            "results, or load_wu_lo_slices())."
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
    n_acc = (
        acc.groupby("model")["n_questions"].mean()
        if "n_questions" in acc.columns
        else pd.Series(np.nan, index=a.index)
    )
    frame = wide.join(a.rename("acc"), how="inner").join(meta, how="inner").dropna()
    frame = frame.join(n_acc.rename("n_acc"))
    dropped = sorted((set(wide.index) | set(a.index)) - set(frame.index))
    if len(frame) < len(set(wide.index) | set(a.index)):
        warnings.warn(
            f"task {task!r}: left out model(s) without every slice and accuracy: {dropped[:8]}",
            stacklevel=4,
        )
    if (frame["compute"] <= 0).any():
        raise DataError(f"task {task!r}: compute must be > 0 (training FLOPs)")
    frame = frame.reset_index().sort_values(["compute", "model"], kind="stable")
    return TaskData(
        task=task,
        models=frame["model"].astype(str).to_numpy(),
        families=frame["family"].astype(str).to_numpy(),
        log_c=np.log10(frame["compute"].to_numpy(float)),
        briers=frame[list(wide.columns)].to_numpy(float),
        acc=frame["acc"].to_numpy(float),
        weights=weights,
        labels=labels,
        n_questions=frame["n_acc"].to_numpy(float),
    )


def _clip_saturated(td: TaskData, fit_mask: np.ndarray) -> tuple[TaskData, list[str]]:
    """Accuracies of exactly 0 or 1 of the fitted models, where the number of questions
    is known, read as 1/(2n) and 1 - 1/(2n) (half a question): the logit-normal map has no
    density at 0 or 1. Returns the data and a note naming the models."""
    n = td.n_questions if td.n_questions is not None else np.full(len(td.acc), np.nan)
    edge = fit_mask & ((td.acc <= 0) | (td.acc >= 1)) & np.isfinite(n) & (n >= 1)
    if not edge.any():
        return td, []
    half = 0.5 / n[edge]
    acc = td.acc.copy()
    acc[edge] = np.clip(acc[edge], half, 1 - half)
    names = ", ".join(td.models[edge][:6]) + (" ..." if edge.sum() > 6 else "")
    note = (
        f"accuracy of exactly 0 or 1 read as half a question from it (1/(2n)) for "
        f"{int(edge.sum())} fitted model(s): {names}"
    )
    return replace(td, acc=acc), [note]


def slice_scaling(briers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd (floored) of each slice over the fitted models: the model's units."""
    loc = briers.mean(axis=0)
    scale = np.maximum(briers.std(axis=0), 0.01)
    return loc, scale


def merge_degenerate_slices(
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


def easy_hard_slices(weights: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
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


@dataclass(frozen=True)
class PreparedTask:
    r"""One task's data as the model sees them (:func:`prepare_task`).

    Attributes
    ----------
    data : TaskData
        Every model of the task, with the input slices.
    fit_mask : numpy.ndarray
        The models below the cut-off (fitted).
    x_range : tuple of float
        :math:`\log_{10} C` of the smallest and largest fitted models.
    horizon : float
        Largest :math:`\log_{10} C` searched for a turn.
    groups : list of list of int
        Input slices making each fitted slice (degenerate ones merged).
    weights, briers, labels
        Question shares, Brier scores (every model, fitted slice) and labels of the
        fitted slices.
    easy, hard, slice_degree : numpy.ndarray
        The easy and hard slices, and each slice's polynomial degree.
    notes : list of str
        The merges.
    """

    data: TaskData
    fit_mask: np.ndarray
    x_range: tuple[float, float]
    horizon: float
    groups: list[list[int]]
    weights: np.ndarray
    briers: np.ndarray
    labels: list[str]
    easy: np.ndarray
    hard: np.ndarray
    slice_degree: np.ndarray
    notes: list[str]

    @property
    def x(self) -> np.ndarray:
        """Scaled log compute of the fitted models, on [-1, 1]."""
        lo, hi = self.x_range
        return 2.0 * (self.data.log_c[self.fit_mask] - lo) / (hi - lo) - 1.0


def prepare_task(
    table: pd.DataFrame,
    task: str | None,
    *,
    cutoff: float,
    degree: int,
    other_degree: int | None,
    easy_fraction: float,
    horizon: float | None,
    min_slice_sd: float,
) -> PreparedTask:
    """Check the options and one task's data; merge degenerate slices; find the groups.

    The arguments are those of :func:`bayescale.emergence.sandwich.fit_sandwich`.

    Raises
    ------
    DataError
        Missing columns, slices or accuracy, accuracies of 0 or 1, too few models below
        the cut-off or a fitted range under half a decade.
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
    if not 0 < easy_fraction <= 0.5:
        raise SpecificationError(f"easy_fraction must be in (0, 0.5], not {easy_fraction!r}")
    if not (np.isfinite(cutoff) and cutoff > 0):
        raise SpecificationError(f"cutoff must be a compute in FLOPs > 0, not {cutoff!r}")
    td = task_data(table, task)
    log_cut = float(np.log10(cutoff))
    fit_mask = td.log_c < log_cut
    n_fit = int(fit_mask.sum())
    if n_fit < degree + 5:
        raise DataError(
            f"task {td.task!r}: only {n_fit} models below the cut-off 10^{log_cut:.2f} FLOPs; "
            f"degree {degree} needs at least {degree + 5}. Raise the cut-off or lower degree."
        )
    td, clip_notes = _clip_saturated(td, fit_mask)
    acc_fit = td.acc[fit_mask]
    if not np.all((acc_fit > 0) & (acc_fit < 1)):
        raise DataError(
            f"task {td.task!r}: accuracies must lie strictly between 0 and 1 (the map is "
            f"logit-normal); found {acc_fit.min():.3f}..{acc_fit.max():.3f}. Give the "
            "overall accuracy rows their n_questions: an accuracy of 0 or 1 out of n "
            "questions is then read as 1/(2n) or 1 - 1/(2n)."
        )
    lo, hi = float(td.log_c[fit_mask].min()), float(td.log_c[fit_mask].max())
    if hi - lo < 0.5:
        raise DataError(
            f"task {td.task!r}: the models below the cut-off span {hi - lo:.2f} decades of "
            "compute; a trend needs at least 0.5."
        )
    if horizon is None:
        horizon = float(td.log_c.max())
    groups, notes = merge_degenerate_slices(td.briers[fit_mask], td.weights, min_slice_sd)
    notes = clip_notes + notes
    weights = np.array([td.weights[g].sum() for g in groups])
    easy, hard = easy_hard_slices(weights, easy_fraction)
    slice_degree = np.full(len(weights), degree if other_degree is None else other_degree)
    slice_degree[easy] = degree
    return PreparedTask(
        data=td,
        fit_mask=fit_mask,
        x_range=(lo, hi),
        horizon=max(float(horizon), hi),
        groups=groups,
        weights=weights,
        briers=np.stack(
            [td.briers[:, g] @ (td.weights[g] / td.weights[g].sum()) for g in groups], 1
        ),
        labels=["+".join(td.labels[j] for j in g) for g in groups],
        easy=easy,
        hard=hard,
        slice_degree=slice_degree,
        notes=notes,
    )


# --------------------------------------------------------------------------- model
def degree_mask(slice_degree: np.ndarray, degree: int) -> np.ndarray:
    """(slice, power) indicator of the coefficients each slice's polynomial uses."""
    return (np.arange(1, degree + 1)[None, :] <= np.asarray(slice_degree)[:, None]).astype(float)


def difficulty_basis(weights: np.ndarray) -> np.ndarray:
    """Legendre polynomials of degree < J in the slices' difficulty position, (slice, J).

    The position of a slice is the middle of its questions in the question-weighted order
    of difficulty, mapped onto [-1, 1]; J = min(3, S - 1) so that the factors and the
    slices' own scatter stay distinguishable.
    """
    mid = np.cumsum(weights) - weights / 2
    t = 2.0 * mid - 1.0
    n_basis = min(3, len(weights) - 1)
    return np.polynomial.legendre.legvander(t, n_basis - 1)


def accuracy_map(
    briers: np.ndarray, acc: np.ndarray, weights: np.ndarray
) -> tuple[float, float, float]:
    r"""The accuracy map's constants: :math:`\bar B` (mean combined Brier score of the
    fitted models), :math:`g = 1 / (\bar a (1 - \bar a))` and :math:`\operatorname{logit}
    \bar a` (:math:`\bar a` their mean accuracy, clipped to [0.02, 0.98])."""
    b_ref = float(np.mean(briers @ weights))
    a_bar = float(np.clip(np.mean(acc), 0.02, 0.98))
    return b_ref, 1.0 / (a_bar * (1.0 - a_bar)), float(np.log(a_bar / (1.0 - a_bar)))


def accuracy_log_likelihood(
    post: xr.Dataset,
    x: np.ndarray,
    briers: np.ndarray,
    acc: np.ndarray,
    weights: np.ndarray,
) -> xr.DataArray:
    r"""Pointwise log-likelihood of the fitted models' accuracies, in NumPy.

    What :func:`pymc.compute_log_likelihood` gives for ``y`` of :func:`build_model` (the
    logit-normal accuracy around the accuracy map of the combined Brier curve), without
    compiling a PyTensor function for it:

    .. math::

        \log p(a_i) = \log\mathcal N\bigl(\operatorname{logit} a_i \mid \alpha + \gamma g
        (B(x_i) - \bar B),\ \sigma_a\bigr) - \log a_i - \log(1 - a_i),\quad
        B(x) = \textstyle\sum_s w_s \bigl(\ell_s + s_s f_s(x)\bigr).

    Parameters
    ----------
    post
        Posterior with ``beta0`` (chain, draw, slice), ``beta`` (chain, draw, slice,
        power), ``alpha``, ``gamma`` and ``sigma_acc``.
    x, briers, acc, weights
        As for :func:`build_model`.

    Returns
    -------
    xarray.DataArray
        Dims ``(chain, draw, obs)``, named ``y``.
    """
    b_ref, dlogit, _ = accuracy_map(briers, acc, weights)
    loc, scale = slice_scaling(briers)
    beta = post["beta"].values  # (chain, draw, slice, power)
    powers = np.stack([x**k for k in range(1, beta.shape[-1] + 1)], axis=1)  # (obs, power)
    f_std = post["beta0"].values[:, :, None, :] + np.einsum("op,cdsp->cdos", powers, beta)
    curve = (loc + scale * f_std) @ np.asarray(weights, float)  # (chain, draw, obs)
    alpha, gamma, sigma = (post[k].values[:, :, None] for k in ("alpha", "gamma", "sigma_acc"))
    mu = alpha + gamma * dlogit * (curve - b_ref)
    a = np.asarray(acc, float)
    z = (np.log(a / (1.0 - a)) - mu) / sigma
    ll = -0.5 * z**2 - np.log(sigma) - 0.5 * np.log(2.0 * np.pi) - np.log(a) - np.log1p(-a)
    return xr.DataArray(ll, dims=("chain", "draw", "obs"), name="y")


def build_model(
    x: np.ndarray,
    briers: np.ndarray,
    acc: np.ndarray,
    weights: np.ndarray,
    degree: int,
    slice_degree: np.ndarray,
) -> pm.Model:
    r"""The PyMC model of the module docstring for one task's fitted models.

    Parameters
    ----------
    x
        Scaled log compute of the fitted models, on [-1, 1].
    briers
        Their slice TC Brier scores, (model, slice).
    acc
        Their overall accuracies, in (0, 1).
    weights
        Question shares of the slices.
    degree
        Largest polynomial degree :math:`K`.
    slice_degree
        Each slice's degree :math:`K_s \le K`.

    Returns
    -------
    pymc.Model
        With attributes ``dlogit`` (:math:`g`), ``b_ref`` (:math:`\bar B`) and
        ``structure_key``: what the compiled model depends on besides its ``pm.Data``
        containers (the slices, degrees and difficulty factors; not the number of models
        or their values), so that :mod:`bayescale.core.compiled` compiles it once and
        reuses it with new data.
    """
    import pymc as pm
    import pytensor.tensor as pt

    n_slices = briers.shape[1]
    basis = difficulty_basis(weights)
    n_basis = basis.shape[1]
    coords = {
        "slice": np.arange(n_slices),
        "power": np.arange(1, degree + 1),
        "factor": np.arange(n_basis),
    }
    powers = np.stack([x**k for k in range(1, degree + 1)], axis=1)
    b_ref, dlogit, logit_a_bar = accuracy_map(briers, acc, weights)
    loc, scale = slice_scaling(briers)
    z_obs = (briers - loc) / scale
    floor_var = (NOISE_FLOOR / scale) ** 2
    # Every data-dependent number is a pm.Data container (the dim "obs" is defined by the
    # data): a model of the same structure compiles once and is reused with new data
    # (bayescale.core.compiled, key below).
    with pm.Model(coords=coords) as model:
        powers_d = pm.Data("powers", powers, dims=("obs", "power"), shape=(None, degree))
        basis_d = pm.Data("difficulty_basis", basis, dims=("slice", "factor"), shape=basis.shape)
        loc_d = pm.Data("slice_loc", loc, dims="slice", shape=(n_slices,))
        scale_d = pm.Data("slice_scale", scale, dims="slice", shape=(n_slices,))
        floor_d = pm.Data("noise_floor_var", floor_var, dims="slice", shape=(n_slices,))
        weights_d = pm.Data(
            "slice_weight", np.asarray(weights, float), dims="slice", shape=(n_slices,)
        )
        # b_ref, g = dlogit and the prior mean of alpha, logit(a_bar)
        acc_map = pm.Data("accuracy_map", np.array([b_ref, dlogit, logit_a_bar]), shape=(3,))
        beta0 = pm.Normal("beta0", mu=0.0, sigma=1.0, dims="slice")
        coef_sd = COEF_SCALE / np.arange(1, degree + 1)
        # slice s uses the coefficients of powers 1..K_s only (K_s = its degree)
        rows, cols = np.nonzero(degree_mask(slice_degree, degree))
        model.add_coord("coef", np.arange(len(rows)))
        coef = pm.Normal("beta_coef", 0.0, coef_sd[cols], dims="coef")
        beta = pm.Deterministic(
            "beta",
            pt.set_subtensor(pt.zeros((n_slices, degree))[rows, cols], coef),
            dims=("slice", "power"),
        )
        f_std = beta0[None, :] + pt.dot(powers_d, beta.T)
        # Residuals: factors whose loadings are smooth in difficulty, marginalised
        # analytically. The loadings are Lambda = P L with P the Legendre polynomials of
        # degree < J in the slices' difficulty position and L the (unique, lower-triangular,
        # positive-diagonal) Cholesky factor of their J x J covariance: no rotation or sign
        # is left unidentified, and a model better than its compute suggests may be so on
        # the easy slices and worse on the hard ones (mmlu, arithmetic: two blocks).
        chol, _, _ = pm.LKJCholeskyCov(
            "resid_chol",
            eta=2.0,
            n=n_basis,
            sd_dist=pm.HalfNormal.dist(1.0, size=n_basis),
            compute_corr=True,
            store_in_trace=False,
        )
        lam = pm.Deterministic("loading", pt.dot(basis_d, chol), dims=("slice", "factor"))
        sigma = pm.HalfNormal("sigma_slice", 0.5, dims="slice")
        cov = pt.dot(lam, lam.T) + pt.diag(sigma**2 + floor_d)
        pm.MvNormal(
            "brier",
            mu=f_std,
            cov=cov,
            observed=pm.Data("brier_std", z_obs, dims=("obs", "slice"), shape=(None, n_slices)),
            dims=("obs", "slice"),
        )
        curve = pt.dot(loc_d[None, :] + scale_d[None, :] * f_std, weights_d)
        # Accuracy: logit-normal around a logit-linear map of the combined Brier curve.
        # gamma is the slope d acc / d Brier at the fitted models' mean accuracy.
        alpha = pm.Normal("alpha", mu=acc_map[2], sigma=0.5)
        gamma = pm.Normal("gamma", mu=-1.0, sigma=0.5)
        sigma_acc = pm.HalfNormal("sigma_acc", sigma=0.1 * acc_map[1])
        pm.LogitNormal(
            "y",
            mu=alpha + gamma * acc_map[1] * (curve - acc_map[0]),
            sigma=sigma_acc,
            observed=pm.Data("accuracy", np.asarray(acc, float), dims="obs"),
            dims="obs",
        )
    model.dlogit = dlogit  # type: ignore[attr-defined]
    model.b_ref = b_ref  # type: ignore[attr-defined]
    #: what the compiled model depends on besides its data (bayescale.core.compiled)
    model.structure_key = (  # type: ignore[attr-defined]
        "emergence.sandwich",
        1,  # the graph's version: change it with the model above
        n_slices,
        degree,
        tuple(int(d) for d in slice_degree),
        n_basis,
    )
    return model


# --------------------------------------------------------------------------- result


def extrapolation_draws(
    x: np.ndarray,
    weights: np.ndarray,
    slice_scale: np.ndarray,
    extrapolation_sd: float,
    rng: np.random.Generator,
    n: int,
) -> np.ndarray:
    r"""Draws of the slice curves' deviation beyond the fitted range, (sample, point, slice).

    :math:`\delta_s(x) = \kappa_s\,(|x| - 1)_+` in standardised units (times the slices'
    scales ``slice_scale`` here), with :math:`\kappa_s = \omega \sum_j \xi_j \phi_j(t_s) /
    \sqrt J`, :math:`\xi_j \sim \mathcal N(0, 1)` per draw: a change of every slice's slope at
    the edge of the data, smooth in difficulty, of scale :math:`\omega` =
    ``extrapolation_sd``. The data below the cut-off say nothing on it (it is 0 inside the
    fitted range, :math:`|x| \le 1`); its scale was estimated on held-out models (module
    docstring).
    """
    dist = np.maximum(np.abs(x) - 1.0, 0.0)
    if extrapolation_sd <= 0 or not dist.any():
        return np.zeros((n, len(x), len(weights)))
    basis = difficulty_basis(weights)
    xi = rng.standard_normal((n, basis.shape[1]))
    kappa = extrapolation_sd * (xi @ basis.T) / np.sqrt(basis.shape[1])
    out: np.ndarray = kappa[:, None, :] * dist[None, :, None] * slice_scale
    return out
