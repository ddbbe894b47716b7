r"""Sigmoidal emergence law, hierarchical across tasks.

The accuracy of a model with training compute :math:`C` on task :math:`t` follows a logistic
step in :math:`\log_{10} C` from the task's chance level :math:`c_t` to a ceiling
:math:`h_t`:

.. math::

    a_t(C) = c_t + (h_t - c_t)\,
        \sigma\!\left(\frac{\log_{10} C - \log_{10} C^*_t}{w_t}\right),
    \qquad \sigma(z) = \frac{1}{1 + e^{-z}},

with :math:`C^*_t` the **emergence threshold** (the compute at which the task is half-way
from chance to its ceiling) and :math:`w_t` the **width** in decades of compute: the rise
from 10% to 90% of :math:`h_t - c_t` takes :math:`D_t = 2 w_t \ln 9 \approx 4.39\, w_t`
decades.

Hierarchy (:math:`x_{\text{ref}}` is the mean :math:`\log_{10} C` of the fitted
models, :math:`\operatorname{logit}^{-1}` the logistic function). The threshold is sampled
through the **absolute onset** :math:`x_{a,t}`, the compute at which the law is
:math:`\alpha = 0.05` of the range :math:`1 - c_t` above chance, *whatever the ceiling*.
With :math:`f_t = (h_t - c_t)/(1 - c_t)` the fraction of the range the task reaches,

.. math::

    \log_{10} C^*_t = x_{a,t} - w_t \operatorname{logit}(\alpha / f_t),
    \qquad a_t(10^{x_{a,t}}) = c_t + \alpha (1 - c_t),

and the hierarchy is

.. math::

    x_{a,t} - x_{\text{ref}} &\sim \mathcal N(\mu_o, \tau_o),
        & \mu_o &\sim \mathcal N(0, 1.5), & \tau_o &\sim \mathcal N^+(1),\\
    \log(w_t - w_{\min}) &= \mu_w + \tau_w z_{w,t},
        & \mu_w &\sim \mathcal N(\log 0.25, 0.5), & \tau_w &= 0.5 \text{ (fixed)},\\
    f_t &= f_{\min} + (1 - f_{\min})\operatorname{logit}^{-1}(\mu_h + \tau_h z_{h,t}),
        & \mu_h &\sim \mathcal N(1, 1), & \tau_h &\sim \mathcal N^+(1),\\
    \log \kappa_t &= \mu_\kappa + \tau_\kappa z_{\kappa,t},
        & \mu_\kappa &\sim \mathcal N(\log 100, 1), & \tau_\kappa &\sim \mathcal N^+(0.5),

with :math:`w_{\min} = 0.1` decade, :math:`f_{\min} = 0.1`, all :math:`z \sim \mathcal N(0,
1)`, :math:`h_t = c_t + (1 - c_t) f_t`. With a single task the population scales are dropped
(:math:`\tau = 0`). The onsets are *centred* (pinned by the data to a fraction of a decade,
decades apart across tasks); widths, ceilings and overdispersions are non-centred (a centred
ceiling gave 136 divergences, a centred :math:`\kappa` 70: funnels at :math:`\tau \to 0`).
Why each piece (measured; docs/emergence_sigmoid.md):

* **Absolute onset.** Where the data see only the lower tail of a rise,
  :math:`a - c \approx (h - c)\, e^{(x - \log_{10} C^*)/w}`: the ceiling and any onset defined
  as a *fraction* of :math:`h - c` (e.g. the 10% point) trade off along a curved ridge (the
  divergences of the ObsScaling cut-off fit, at word unscrambling's and ParsiNLU's
  ceilings). The compute at a fixed *absolute* rise above chance is what such data pin,
  independently of :math:`h`; when every model is at chance the data say
  :math:`x_a \gtrsim x_{\max}`, again independently of :math:`h` and :math:`w`.
* **Jump floor** :math:`f_{\min} = 0.1` (the default ``min_jump`` of the emergence criterion):
  the law describes a jump of at least a tenth of the range; without it :math:`h \to c`
  makes a flat curve for which the onset is free (divergences at small ceilings), and
  :math:`\alpha < f_{\min}` keeps :math:`x_a` defined.
* **Width floor** :math:`w_{\min} = 0.1` decade (a 10%-90% rise of at least 0.44 decade, a
  factor 2.8 in compute): below it widths are not resolvable with training-compute
  estimates (:math:`6ND`, uncertain by tens of percent) and model spacings of 0.1 to 0.3
  decade, and the likelihood's curvature grows as :math:`1/w` when a rise lies between two
  models (Wu & Lo arithmetic below its cut-off: the funnel :math:`w \to 0`). With the floor
  the prior median width is unchanged (0.35 decade).
* **Fixed width scatter** :math:`\tau_w = 0.5` (tasks' widths scatter by a factor 1.65):
  with a free :math:`\tau_w \sim \mathcal N^+(0.35)` its posterior spanned its prior and the
  divergences sat in its tails (large :math:`\tau_w` with one task's width at the floor);
  the full-data fits give log-width spreads of 0.65 (Wu & Lo) and 0.1 (ObsScaling).
* **target_accept 0.95** (default of :func:`fit_sigmoid`): with all of the above at 0.9, the
  full Wu & Lo fit kept one divergence in 4000 draws in the upper tail of :math:`\tau_h`
  (still-rising ceilings running to 1 on the logit scale).

``_MODEL_OPTIONS`` switches back to the earlier parameterisations (``onset="onset"``: the 10%
point :math:`x_{10}` centred; ``onset="threshold"``; ``onset="lead"``) and priors for
comparison. The 10% point :math:`x_{10,t} = \log_{10} C^*_t - w_t \ln 9` is stored as
``onset``.

Likelihood: model :math:`i` answers :math:`k_i` of the task's :math:`n_i` questions
correctly; its *own* success probability scatters around the law (families and data mixes
differ at equal compute), which makes the count beta-binomial,

.. math::

    k_i \sim \operatorname{BetaBinomial}\big(n_i,\ a_t(C_i)\,\kappa_t,\
        (1 - a_t(C_i))\,\kappa_t\big),

so the variance of the accuracy :math:`k_i/n_i` is
:math:`a(1-a)\,[1/n_i + (1 - 1/n_i)/(\kappa_t + 1)]`: question sampling (binomial, dominant
for tasks of ~100 questions) plus model-to-model scatter (dominant for MMLU's 14,042). When
:math:`n_i` is unknown, the accuracy itself is :math:`\operatorname{Beta}(a\kappa,
(1-a)\kappa)`. A binomial alone would give MMLU a standard deviation of 0.004 around the
curve where models scatter by 0.03 to 0.05; a Gaussian ignores the bounds and the shrinking
scatter near 0 and 1 (exact zeros of generative tasks).

The pointwise log-likelihood stored in ``log_likelihood`` (variable ``y``) is on the
**accuracy scale**: the beta-binomial mass of :math:`k_i` plus :math:`\log n_i`, i.e. the
density of the proportion :math:`k_i/n_i` on its lattice of spacing :math:`1/n_i`, so PSIS-LOO
compares with continuous laws of accuracy (e.g. the Slice-and-Sandwich's Normal) on the same
observed values.

**Emergence.** Per posterior draw a task is *emergent* when (i) the 10% point of its rise,
:math:`x_{10} = \log_{10} C^*_t - w_t \ln 9`, lies above the smallest fitted model (the data
contain models still at chance), (ii) the law has risen by at least ``min_jump`` (default
0.1 accuracy) above chance by the largest fitted model, :math:`a_t(C_{\max}) - c_t \ge`
``min_jump`` (the jump is observed, not extrapolated), and (iii) the 10%-to-90% rise takes
at most ``max_decades`` (default 2) decades of compute. :meth:`SigmoidFit.p_emergent` is the
posterior probability of (i)-(iii). The criterion does not use :math:`C^*` or :math:`h_t`
directly: when a task is still rising at the largest model, its ceiling and hence its
mid-point are extrapolations, while the onset, the growth rate :math:`1/w_t` of the lower
tail and the rise seen so far are constrained by the data.

**Forecasts beyond the fitted range.** The models below a cut-off cannot say how wrong the
law's extrapolation is: when a jump that has not started comes, and how fast. Fitted on
Wu & Lo's tasks below their thresholds, the law's 90% predictive interval covered 0.35 of
the held-out models, while the full-data law's covered 0.82: the misses are the law's
extrapolation, not the scatter model. :meth:`SigmoidFit.forecast`,
:meth:`SigmoidFit.held_out_check` and :meth:`SigmoidFit.log_score` therefore evaluate the
law, beyond the fitted compute range :math:`[x_{\text{lo},t}, x_{\text{hi},t}]` of task
:math:`t` (:math:`\log_{10}` FLOPs of its smallest and largest fitted models), at an
*effective* compute whose distance from the range is uncertain by a log-normal factor,

.. math::

    x_{\text{eff}} = x_{\text{hi},t} + \Delta(x)\, e^{s \zeta}\ \ (x > x_{\text{hi},t}),
    \qquad x_{\text{eff}} = x_{\text{lo},t} - \Delta(x)\, e^{s \zeta}\ \
    (x < x_{\text{lo},t}), \qquad x_{\text{eff}} = x \text{ inside},

with :math:`\Delta(x)` the decades of compute from the fitted range, :math:`\zeta \sim
\mathcal N(0, 1)` one per posterior draw (shared by all compute values of the draw, so
each draw's curve stays monotone) and :math:`s` = ``compute_drift``: the law's clock beyond
the data runs :math:`e^{s\zeta}` times faster or slower. It is 0 inside the fitted range
(the bands there, the pointwise log-likelihood and PSIS-LOO are unchanged), grows with the
distance from it, keeps every draw between chance and its ceiling, and acts at forecast
time only (no refit). In the lower tail of a rise, where
:math:`\operatorname{logit}((a - c)/(h - c)) \approx (x - \log_{10} C^*)/w`, it is a drift of
the accuracy logit of scale :math:`\approx \Delta\, s / w` per draw, the sigmoid's analogue
of the Slice-and-Sandwich's ``accuracy_drift``; unlike an additive logit drift it does not
move a task on its plateau (controls) and it lifts a task at chance towards its jump.
:math:`s` was estimated by maximum likelihood of the held-out models' accuracies
(:meth:`SigmoidFit.log_score`), each task's coverage checked with the :math:`s` estimated on
the other tasks (``benchmarks/emergence_sigmoid.py --calibrate``,
``docs/emergence_sigmoid.md``); the default is the pooled estimate on Wu & Lo's nine
tasks below their thresholds, :math:`s = 4.5` (:data:`COMPUTE_DRIFT`): held-out 90%
coverage 0.34 -> 0.89 leave-one-task-out, with bands 0.6-0.7 wide on the emergent tasks
(arithmetic stays at 0.21: its fitted ceiling is the plateau before its second jump).
ObsScaling below 1e23, where most rises had begun, gives :math:`s = 0.75` (coverage
0.74 -> 0.91); there the default over-widens (coverage 1.00). The threshold and
P(emergent) use the fitted law alone.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
    from arviz_stats.utils import ELPDData
    from matplotlib.figure import Figure

__all__ = [
    "COMPUTE_DRIFT",
    "KNOWN_CHANCE",
    "OBSSCALING_EMERGENT",
    "WU_LO_CHANCE",
    "SigmoidFit",
    "emergence_table",
    "fit_sigmoid",
    "load_obsscaling_emergence",
    "load_wu_lo_emergence",
    "sigmoid_law",
]

#: Chance accuracy of Wu & Lo's nine multiple-choice tasks (1 / number of choices): BIG-bench
#: ``arithmetic`` and ``analogical_similarity`` offer 7 choices, ``abstract_narrative_
#: understanding`` (9 distractors) 10, the others 4 (ARC: 4 for almost all questions).
WU_LO_CHANCE: dict[str, float] = {
    "mmlu": 0.25,
    "arithmetic": 1 / 7,
    "parsinlu_qa_mc": 0.25,
    "hindu_knowledge": 0.25,
    "analogical_similarity": 1 / 7,
    "conceptual_combinations": 0.25,
    "hellaswag": 0.25,
    "arc": 0.25,
    "abstract_narrative_understanding": 0.1,
}
#: ObsScaling (Ruan et al. 2024) emergent BIG-bench style metrics that are accuracies:
#: metric -> (chance, number of questions). Arithmetic, word unscrambling and IPA
#: transliteration are generative (exact match, chance 0); ParsiNLU QA has 4 choices. The
#: question counts are those that make every shipped value a whole count (IPA: 1003; two
#: Qwen 72B values are multiples of 1/1000 and are rounded). ``ipa_transliterate_2_bleu`` is
#: a BLEU score, not an accuracy, and is left out.
OBSSCALING_EMERGENT: dict[str, tuple[float, int]] = {
    "arithmetic_2da_2_acc": (0.0, 2000),
    "arithmetic_2dm_2_acc": (0.0, 2000),
    "arithmetic_3da_2_acc": (0.0, 2000),
    "arithmetic_3ds_2_acc": (0.0, 2000),
    "word_unscrambling_2_exact_match": (0.0, 2000),
    "ipa_transliterate_2_exact_match": (0.0, 1003),
    "parsinlu_qa_2_acc": (0.25, 1050),
}
#: Chance levels used when a table gives none for a task with one of these names.
KNOWN_CHANCE: dict[str, float] = {
    **WU_LO_CHANCE,
    **{k: v[0] for k, v in OBSSCALING_EMERGENT.items()},
}

_SAMPLE = ("chain", "draw")
_LN9 = float(np.log(9.0))
_EPS = 1e-9
#: Default ``compute_drift`` :math:`s` (module docstring): the pooled maximum-likelihood
#: estimate on the held-out models of Wu & Lo's nine tasks below their thresholds
#: (``benchmarks/emergence_sigmoid.py --calibrate``; docs/emergence_sigmoid.md).
COMPUTE_DRIFT = 4.5
#: Gauss-Hermite nodes over the drift's zeta in :meth:`SigmoidFit.log_score`.
_GH_NODES = 16
_FREE = (
    "mu_o",
    "tau_o",
    "lead",
    "o_task",
    "mu_m",
    "tau_m",
    "m_task",
    "mu_w",
    "tau_w",
    "z_w",
    "w_task",
    "mu_h",
    "tau_h",
    "z_h",
    "h_task",
    "mu_k",
    "tau_k",
    "z_k",
)
_DERIVED = ("log10_threshold", "onset", "width", "ceiling", "kappa")


# --------------------------------------------------------------------------- the law
def sigmoid_law(
    compute: ArrayLike,
    log10_threshold: ArrayLike,
    width: ArrayLike,
    chance: ArrayLike,
    ceiling: ArrayLike,
) -> np.ndarray:
    r"""Accuracy of the sigmoidal emergence law (broadcasting numpy arrays).

    .. math::

        a(C) = c + (h - c)\,\sigma\big((\log_{10} C - \log_{10} C^*) / w\big)

    Parameters
    ----------
    compute
        Training compute :math:`C` in FLOPs (> 0).
    log10_threshold
        :math:`\log_{10} C^*`.
    width
        :math:`w` in decades of compute (> 0).
    chance, ceiling
        Floor :math:`c` and ceiling :math:`h` of the accuracy.
    """
    return _law_x(np.log10(np.asarray(compute, float)), log10_threshold, width, chance, ceiling)


def _law_x(
    log_c: ArrayLike,
    log10_threshold: ArrayLike,
    width: ArrayLike,
    chance: ArrayLike,
    ceiling: ArrayLike,
) -> np.ndarray:
    r""":func:`sigmoid_law` of :math:`\log_{10} C` (no overflow far beyond the data)."""
    z = (np.asarray(log_c, float) - np.asarray(log10_threshold, float)) / np.asarray(width, float)
    c = np.asarray(chance, float)
    return c + (np.asarray(ceiling, float) - c) * (0.5 * (1.0 + np.tanh(0.5 * z)))


# --------------------------------------------------------------------------- data
def emergence_table(
    table: pd.DataFrame,
    *,
    chance: float | Mapping[str, float] | None = None,
    n_questions: float | Mapping[str, float] | None = None,
    tasks: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Validate and normalise an accuracy table for :func:`fit_sigmoid`.

    Parameters
    ----------
    table
        One row per (task, model): ``task``, ``model``, ``compute`` (training FLOPs, > 0),
        ``value`` (accuracy in [0, 1]), optional ``n_questions``, ``chance`` and ``family``.
        A slice table of :mod:`bayescale.emergence.slicing` is accepted: its overall accuracy
        rows (``slice == -1``, ``metric == "acc"``) are used.
    chance
        Chance accuracy, one number or per task; overrides a ``chance`` column. Tasks without
        either fall back to :data:`KNOWN_CHANCE`.
    n_questions
        Questions per task, one number or per task; overrides an ``n_questions`` column.
        Without it the task gets a Beta likelihood on the accuracy.
    tasks
        Tasks to keep, in this order (default: all, in order of appearance).

    Returns
    -------
    pandas.DataFrame
        Columns ``task``, ``model``, ``family``, ``compute``, ``value``, ``n_questions``
        (NaN when unknown), ``chance``, sorted by task (in ``tasks`` order), compute, model.

    Raises
    ------
    DataError
        Missing columns, non-positive compute, accuracies outside [0, 1], duplicate
        (task, model) rows, unknown tasks.
    SpecificationError
        A task without a chance level, or a chance level outside [0, 1).
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"pass a pandas DataFrame, not {type(table).__name__}")
    frame = table
    if "slice" in frame.columns and "metric" in frame.columns:
        frame = frame[(frame["slice"] == -1) & (frame["metric"] == "acc")]
        if frame.empty:
            raise DataError(
                "the slice table has no overall accuracy rows (slice == -1, metric == 'acc'); "
                "build it with bayescale.emergence.slicing.slice_table_from_wu_lo()."
            )
    need = ["task", "model", "compute", "value"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing column(s) {missing}; the table has {[str(c) for c in frame.columns]}. "
            "Give one row per (task, model) with task, model, compute (FLOPs) and value "
            "(accuracy in [0, 1])."
        )
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame(
        {
            "task": frame["task"].astype(str).to_numpy(),
            "model": frame["model"].astype(str).to_numpy(),
            "family": (
                frame["family"].fillna("").astype(str).to_numpy()
                if "family" in frame.columns
                else np.full(len(frame), "", dtype=object)
            ),
            "compute": pd.to_numeric(frame["compute"], errors="coerce").to_numpy(float),
            "value": pd.to_numeric(frame["value"], errors="coerce").to_numpy(float),
        }
    )
    present = list(pd.unique(out["task"]))
    if tasks is not None:
        unknown = [t for t in tasks if t not in present]
        if unknown:
            raise DataError(f"task(s) {unknown} not in the table; it holds {present}")
        keep = out["task"].isin(list(tasks)).to_numpy()
        out, frame = out[keep].reset_index(drop=True), frame[keep].reset_index(drop=True)
        order = list(tasks)
    else:
        order = present
    if out.empty:
        raise DataError("the table has no rows")
    bad = np.flatnonzero(~(np.isfinite(out["compute"]) & (out["compute"] > 0)))
    if bad.size:
        raise DataError(
            f"column 'compute': not a positive number in rows {bad[:8].tolist()} (values "
            f"{frame['compute'].iloc[bad[:4]].tolist()}). Give training FLOPs > 0 or drop them."
        )
    bad = np.flatnonzero(~(np.isfinite(out["value"]) & (out["value"] >= 0) & (out["value"] <= 1)))
    if bad.size:
        raise DataError(
            f"column 'value': not an accuracy in [0, 1] in rows {bad[:8].tolist()} (values "
            f"{frame['value'].iloc[bad[:4]].tolist()}). Convert percentages to proportions; "
            "drop rows without a score."
        )
    dup = out.duplicated(["task", "model"], keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        raise DataError(
            f"duplicate (task, model) rows {rows[:8].tolist()} (e.g. "
            f"{out.loc[rows[0], 'task']!r}, {out.loc[rows[0], 'model']!r}): keep one score per "
            "model and task (average seeds first)."
        )
    out["n_questions"] = _per_task(out, frame, "n_questions", n_questions)
    bad = np.flatnonzero(out["n_questions"].notna() & ~(out["n_questions"] >= 1))
    if bad.size:
        raise DataError(
            f"column 'n_questions': not a count >= 1 in rows {bad[:8].tolist()}; leave it "
            "empty when unknown."
        )
    out["n_questions"] = np.round(out["n_questions"].to_numpy(float))
    out["chance"] = _per_task(out, frame, "chance", chance)
    lacking = [t for t in order if out.loc[out["task"] == t, "chance"].isna().any()]
    fallback = {t: KNOWN_CHANCE[t] for t in lacking if t in KNOWN_CHANCE}
    if fallback:
        fill = out["task"].map(fallback).astype(float)
        out["chance"] = out["chance"].fillna(fill)
    still = [t for t in lacking if t not in fallback]
    if still:
        raise SpecificationError(
            f"no chance level for task(s) {still}: pass chance={{task: 1 / n_choices}} (0 for "
            "generative exact-match tasks) or add a 'chance' column."
        )
    if ((out["chance"] < 0) | (out["chance"] >= 1)).any():
        raise SpecificationError("chance levels must lie in [0, 1)")
    for t in order:
        c = out.loc[out["task"] == t, "chance"]
        if c.nunique() > 1:
            raise DataError(f"task {t!r}: the 'chance' column must be constant within a task")
    unknown_n = out["n_questions"].isna() & ((out["value"] <= 0) | (out["value"] >= 1))
    if unknown_n.any():
        rows = np.flatnonzero(unknown_n)
        raise DataError(
            f"accuracy exactly 0 or 1 in rows {rows[:8].tolist()} of task(s) "
            f"{sorted(set(out.loc[unknown_n, 'task']))} without n_questions: the Beta "
            "likelihood needs values inside (0, 1). Give n_questions (beta-binomial)."
        )
    out["_t"] = out["task"].map({t: i for i, t in enumerate(order)})
    out = out.sort_values(["_t", "compute", "model"], kind="stable").drop(columns="_t")
    return out.reset_index(drop=True)


def _per_task(
    out: pd.DataFrame,
    frame: pd.DataFrame,
    col: str,
    arg: float | Mapping[str, float] | None,
) -> pd.Series:
    values = (
        pd.to_numeric(frame[col], errors="coerce").astype(float)
        if col in frame.columns
        else pd.Series(np.nan, index=out.index)
    )
    if arg is None:
        return values
    if isinstance(arg, Mapping):
        mapped = out["task"].map({str(k): float(v) for k, v in arg.items()}).astype(float)
        return mapped.fillna(values)
    return pd.Series(float(arg), index=out.index)


def load_wu_lo_emergence(exclude_models: Sequence[str] = ()) -> pd.DataFrame:
    """Overall accuracies of Wu & Lo's nine tasks (shipped ``wu_lo2024``) as an emergence table.

    ``n_questions`` is each task's number of questions (from the difficulty-group labels),
    ``chance`` :data:`WU_LO_CHANCE`.

    Parameters
    ----------
    exclude_models
        Models to leave out (e.g. ``slicing.WU_LO_FILTERED_MODELS``).
    """
    from bayescale import datasets
    from bayescale.emergence.slicing import slice_table_from_wu_lo

    frame = datasets.load("wu_lo2024")
    if exclude_models:
        frame = frame[~frame["model"].isin(list(exclude_models))].reset_index(drop=True)
    table = slice_table_from_wu_lo(frame)
    return emergence_table(table, chance=WU_LO_CHANCE)


def load_obsscaling_emergence(metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """ObsScaling's emergent BIG-bench style accuracies (shipped ``obsscaling2024``).

    Parameters
    ----------
    metrics
        Metrics of :data:`OBSSCALING_EMERGENT` to keep (default all seven).
    """
    from bayescale import datasets

    metrics = list(metrics) if metrics is not None else list(OBSSCALING_EMERGENT)
    unknown = [m for m in metrics if m not in OBSSCALING_EMERGENT]
    if unknown:
        raise DataError(
            f"metric(s) {unknown} are not accuracies of the ObsScaling emergent tasks; choose "
            f"from {list(OBSSCALING_EMERGENT)}"
        )
    frame = datasets.load("obsscaling2024")
    frame = frame[frame["metric"].isin(metrics)].dropna(subset=["value", "compute"])
    frame = frame.rename(columns={"metric": "task"})
    return emergence_table(
        frame,
        chance={m: OBSSCALING_EMERGENT[m][0] for m in metrics},
        n_questions={m: OBSSCALING_EMERGENT[m][1] for m in metrics},
        tasks=metrics,
    )


# --------------------------------------------------------------------------- model
#: Options of the model, switchable for experiments (see docs/emergence_sigmoid.md).
_MODEL_OPTIONS: dict[str, Any] = {
    "onset": "absolute",
    "w_mu": (-1.39, 0.5),
    "w_tau": 0.5,
    "w_tau_fixed": True,
    "h_mu": (1.0, 1.0),
    "h_tau": 1.0,
    "w_centred": False,
    "h_centred": False,
    "w_min": 0.1,
    "h_min": 0.1,
    "a_abs": 0.05,
}


def _build_model(
    x: np.ndarray,
    task_idx: np.ndarray,
    chance: np.ndarray,
    n: np.ndarray,
    k: np.ndarray,
    value: np.ndarray,
    tasks: list[str],
    x_ref: float,
) -> pm.Model:
    import pymc as pm
    import pytensor.tensor as pt

    opt = _MODEL_OPTIONS
    n_tasks = len(tasks)
    pooled = n_tasks > 1
    coords = {"task": tasks, "obs": np.arange(len(x))}
    # largest fitted model of each task (centred log10 C)
    x_hi = np.array([x[task_idx == j].max() for j in range(n_tasks)])
    with pm.Model(coords=coords) as model:

        def level(
            name: str,
            mu_loc: float,
            mu_sd: float,
            tau_sd: float,
            centred: bool = False,
            fixed: bool = False,
        ) -> Any:
            mu = pm.Normal(f"mu_{name}", mu_loc, mu_sd)
            if not pooled:
                return pt.repeat(mu, n_tasks)
            tau = tau_sd if fixed else pm.HalfNormal(f"tau_{name}", tau_sd)
            if centred:
                return pm.Normal(f"{name}_task", mu, tau, dims="task")
            z = pm.Normal(f"z_{name}", 0.0, 1.0, dims="task")
            return mu + tau * z

        log_w = level(
            "w",
            opt["w_mu"][0],
            opt["w_mu"][1],
            opt["w_tau"],
            centred=opt["w_centred"],
            fixed=opt["w_tau_fixed"],
        )
        width = pm.Deterministic("width", opt["w_min"] + pt.exp(log_w), dims="task")
        h_logit = level("h", opt["h_mu"][0], opt["h_mu"][1], opt["h_tau"], centred=opt["h_centred"])
        # fraction of the range above chance reached at the ceiling, >= h_min
        frac = opt["h_min"] + (1.0 - opt["h_min"]) * pm.math.invlogit(h_logit)
        c_t = pt.as_tensor_variable(chance)
        ceiling = pm.Deterministic("ceiling", c_t + (1.0 - c_t) * frac, dims="task")
        mode = opt["onset"]
        if mode == "lead":
            # onset = x_hi - lead * width: "lead" counts widths from the onset to the largest
            # fitted model, so the wall "the rise has not reached the data" is lead ~ const
            lead = pm.Flat("lead", dims="task")
            onset = pm.Deterministic(
                "onset", pt.as_tensor_variable(x_hi) - lead * width, dims="task"
            )
            if pooled:
                mu_o = pm.Normal("mu_o", 0.0, 1.5)
                tau_o = pm.HalfNormal("tau_o", 1.0)
                prior = pm.logp(pm.Normal.dist(mu_o, tau_o), onset)
            else:
                prior = pm.logp(pm.Normal.dist(0.0, 1.5), onset)
            # prior density of the onset, plus log |d onset / d lead| = log w
            pm.Potential("onset_prior", pt.sum(prior) + pt.sum(pt.log(width)))
            m = onset + width * _LN9
        elif mode == "absolute":
            # x_a: where the law is a_abs * (1 - c) above chance, whatever the ceiling;
            # a - c = (1 - c) frac sigma((x - m) / w) gives m = x_a - w logit(a_abs / frac)
            x_a = level("o", 0.0, 1.5, 1.0, centred=True)
            a_abs = opt["a_abs"]
            m = x_a - width * pt.log(a_abs / (frac - a_abs))
            pm.Deterministic("onset", m - width * _LN9 + x_ref, dims="task")
        elif mode == "onset":
            onset = level("o", 0.0, 1.5, 1.0, centred=True)
            m = onset + width * _LN9
        else:
            m = level("m", 0.0, 1.5, 1.0, centred=True)
        log_k = level("k", float(np.log(100.0)), 1.0, 0.5)
        kappa = pm.Deterministic("kappa", pt.exp(log_k), dims="task")
        pm.Deterministic("log10_threshold", m + x_ref, dims="task")
        c_i = c_t[task_idx]
        acc = c_i + (ceiling[task_idx] - c_i) * pm.math.sigmoid((x - m[task_idx]) / width[task_idx])
        acc = pt.clip(acc, _EPS, 1.0 - _EPS)
        kap = kappa[task_idx]
        has_n = np.isfinite(n)
        if has_n.any():
            idx = np.flatnonzero(has_n)
            pm.BetaBinomial(
                "y_count",
                n=n[idx].astype(int),
                alpha=acc[idx] * kap[idx],
                beta=(1.0 - acc[idx]) * kap[idx],
                observed=k[idx].astype(int),
            )
        if (~has_n).any():
            idx = np.flatnonzero(~has_n)
            pm.Beta(
                "y_prop",
                alpha=acc[idx] * kap[idx],
                beta=(1.0 - acc[idx]) * kap[idx],
                observed=value[idx],
            )
    return model


# --------------------------------------------------------------------------- result
@dataclass
class SigmoidFit:
    """Posterior of a hierarchical sigmoidal emergence fit.

    Attributes
    ----------
    idata : xarray.DataTree
        ``posterior`` (population parameters ``mu_*``, ``tau_*``, per-task ``z_*``, the
        absolute onset ``o_task`` (:math:`x_a - x_{\\text{ref}}`) and the derived
        ``log10_threshold``, ``onset`` (10% point of the rise, :math:`\\log_{10}` FLOPs),
        ``width`` (decades), ``ceiling``, ``kappa``, dim ``task``), ``sample_stats``,
        ``log_likelihood`` (``y``, dim ``obs``: every fitted observation, ordered by task,
        compute, model; coords ``task``, ``model``, ``compute``) and ``observed_data``
        (``y``: the accuracies).
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
    notes : list of str
        What the fit did that the user should know (a second, longer run).
    compute_drift : float
        Scale :math:`s` of the log-normal drift of the effective compute beyond each task's
        fitted range (module docstring; default :data:`COMPUTE_DRIFT`). Forecast-time only:
        ``dataclasses.replace(fit, compute_drift=s)`` rescales it without a refit; 0 turns
        it off.
    """

    idata: xr.DataTree
    tasks: list[str]
    data: pd.DataFrame
    cutoff: dict[str, float]
    diagnostics: Diagnostics
    x_ref: float
    chance: dict[str, float] = field(default_factory=dict)
    max_decades: float = 2.0
    min_jump: float = 0.1
    notes: list[str] = field(default_factory=list)
    compute_drift: float = COMPUTE_DRIFT

    def __post_init__(self) -> None:
        _check_drift(self.compute_drift)

    # -- draws -----------------------------------------------------------------------------
    def _draws(self) -> dict[str, np.ndarray]:
        post = self.idata["posterior"].dataset.stack(sample=_SAMPLE)
        return {
            v: post[v].transpose("sample", "task").values
            for v in ("log10_threshold", "width", "ceiling", "kappa")
        }

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
        x = np.asarray(log_c, float)[None, :]
        factor = np.exp(self.compute_drift * np.asarray(zeta, float))[:, None]
        above = hi + (x - hi) * factor
        below = lo - (lo - x) * factor
        return np.where(x > hi, above, np.where(x < lo, below, np.broadcast_to(x, above.shape)))

    def _curves(
        self, d: dict[str, np.ndarray], task: str, log_c: np.ndarray, zeta: ArrayLike
    ) -> np.ndarray:
        """The law per posterior draw (zeta one per draw) with the drift: (sample, point)."""
        j = self._task_index(task)
        return _law_x(
            self._effective_x(task, log_c, zeta),
            d["log10_threshold"][:, j, None],
            d["width"][:, j, None],
            self.chance[task],
            d["ceiling"][:, j, None],
        )

    # -- thresholds and emergence --------------------------------------------------------
    def emergent_draws(
        self,
        max_decades: float | None = None,
        min_jump: float | None = None,
        up_to: float | Mapping[str, float] | None = None,
    ) -> np.ndarray:
        """Per draw and task (``sample`` x ``task``), whether conditions (i)-(iii) hold."""
        max_decades = self.max_decades if max_decades is None else max_decades
        min_jump = self.min_jump if min_jump is None else min_jump
        d = self._draws()
        lo = np.array([np.log10(self._fitted(t)["compute"].min()) for t in self.tasks])
        if up_to is None:
            hi = np.array([np.log10(self._fitted(t)["compute"].max()) for t in self.tasks])
        elif isinstance(up_to, Mapping):
            hi = np.array([np.log10(float(up_to[t])) for t in self.tasks])
        else:
            hi = np.full(len(self.tasks), np.log10(float(up_to)))
        chance = np.array([self.chance[t] for t in self.tasks])
        x10 = d["log10_threshold"] - d["width"] * _LN9
        top = sigmoid_law(10**hi, d["log10_threshold"], d["width"], chance, d["ceiling"])
        out: np.ndarray = (
            (x10 > lo) & (top - chance >= min_jump) & (2 * _LN9 * d["width"] <= max_decades)
        )
        return out

    def p_emergent(
        self,
        max_decades: float | None = None,
        min_jump: float | None = None,
        up_to: float | Mapping[str, float] | None = None,
    ) -> pd.Series:
        """Posterior probability that each task is emergent (module docstring, (i)-(iii)).

        Parameters
        ----------
        max_decades
            Largest 10%-to-90% rise, in decades of compute, that counts as a jump
            (default 2: a factor of 100 in compute).
        min_jump
            Smallest rise above chance, by ``up_to``, that counts (default 0.1 accuracy).
        up_to
            Compute (FLOPs; one value or per task) by which the jump must have happened
            (default: the largest fitted model of each task). A larger value asks whether
            the law *predicts* emergence by then.
        """
        e = self.emergent_draws(max_decades, min_jump, up_to)
        return pd.Series(e.mean(axis=0), index=pd.Index(self.tasks, name="task"))

    def threshold(self, ci: float = 0.9) -> pd.DataFrame:
        r"""Posterior of each task's threshold :math:`C^*` and width.

        Parameters
        ----------
        ci
            Probability of the equal-tailed credible intervals.

        Returns
        -------
        pandas.DataFrame
            One row per task: ``log10_threshold`` (median), ``log10_lower``,
            ``log10_upper``, ``threshold`` (median :math:`C^*` in FLOPs), ``lower``,
            ``upper``, ``width`` (median, decades), ``width_lower``, ``width_upper``,
            ``rise_decades`` (median 10%-to-90% rise), ``ceiling`` (median), ``ceiling_lower``,
            ``ceiling_upper``, ``chance``, ``p_emergent``, ``data_lo``/``data_hi``
            (:math:`\log_{10} C` range of the fitted models).
        """
        _check_ci(ci)
        q = [(1 - ci) / 2, 0.5, 1 - (1 - ci) / 2]
        d = self._draws()
        lt = np.quantile(d["log10_threshold"], q, axis=0)
        wd = np.quantile(d["width"], q, axis=0)
        ce = np.quantile(d["ceiling"], q, axis=0)
        pe = self.p_emergent()
        rows = []
        for j, t in enumerate(self.tasks):
            f = self._fitted(t)
            rows.append(
                {
                    "task": t,
                    "log10_threshold": lt[1, j],
                    "log10_lower": lt[0, j],
                    "log10_upper": lt[2, j],
                    "threshold": 10 ** lt[1, j],
                    "lower": 10 ** lt[0, j],
                    "upper": 10 ** lt[2, j],
                    "width": wd[1, j],
                    "width_lower": wd[0, j],
                    "width_upper": wd[2, j],
                    "rise_decades": 2 * _LN9 * wd[1, j],
                    "ceiling": ce[1, j],
                    "ceiling_lower": ce[0, j],
                    "ceiling_upper": ce[2, j],
                    "chance": self.chance[t],
                    "p_emergent": float(pe[t]),
                    "data_lo": float(np.log10(f["compute"].min())),
                    "data_hi": float(np.log10(f["compute"].max())),
                }
            )
        return pd.DataFrame(rows).set_index("task")

    # -- forecasts -------------------------------------------------------------------------
    def forecast(
        self,
        compute: ArrayLike,
        ci: float = 0.9,
        task: str | Sequence[str] | None = None,
        *,
        n_questions: float | None = None,
        seed: int | None = 0,
    ) -> pd.DataFrame:
        """Posterior of the law and of a new model's accuracy at the given compute.

        Beyond a task's fitted compute range both include the extrapolation drift of
        ``compute_drift`` (module docstring); inside it they are the fitted law's.

        Parameters
        ----------
        compute
            Training compute in FLOPs (> 0), one or more values.
        ci
            Probability of the equal-tailed intervals.
        task
            Task(s) to forecast (default all).
        n_questions
            Questions a new model is scored on (default: the task's median in the data;
            Beta predictive when unknown).
        seed
            Seed of the predictive draws.

        Returns
        -------
        pandas.DataFrame
            One row per (task, compute): ``log10_compute``, ``mean``, ``median``, ``lower``,
            ``upper`` (the law :math:`a_t(C)`), ``pred_median``, ``pred_lower``,
            ``pred_upper`` (a new model's observed accuracy, with model-to-model scatter and
            question sampling), ``chance``.
        """
        _check_ci(ci)
        c = np.atleast_1d(np.asarray(compute, float))
        if c.ndim != 1 or not (np.all(np.isfinite(c)) and np.all(c > 0)):
            raise SpecificationError("compute must be one or more positive FLOPs values")
        tasks = [task] if isinstance(task, str) else list(task) if task is not None else self.tasks
        d = self._draws()
        rng = np.random.default_rng(seed)
        q = [(1 - ci) / 2, 0.5, 1 - (1 - ci) / 2]
        frames = []
        for t in tasks:
            j = self._task_index(t)
            ch = self.chance[t]
            zeta = rng.standard_normal(d["width"].shape[0])
            curve = self._curves(d, t, np.log10(c), zeta)
            pred = _predict(curve, d["kappa"][:, j, None], self._n_new(t, n_questions), rng)
            cq = np.quantile(curve, q, axis=0)
            pq = np.quantile(pred, q, axis=0)
            frames.append(
                pd.DataFrame(
                    {
                        "task": t,
                        "compute": c,
                        "log10_compute": np.log10(c),
                        "mean": curve.mean(axis=0),
                        "median": cq[1],
                        "lower": cq[0],
                        "upper": cq[2],
                        "pred_median": pq[1],
                        "pred_lower": pq[0],
                        "pred_upper": pq[2],
                        "chance": ch,
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    def _n_new(self, task: str, n_questions: float | None) -> float:
        if n_questions is not None:
            return float(n_questions)
        n = self.data.loc[self.data["task"] == task, "n_questions"]
        return float(n.median()) if n.notna().all() else float("nan")

    def held_out_check(self, ci: float = 0.9, *, seed: int | None = 0) -> pd.DataFrame:
        """Forecast every held-out model (compute at or above its task's cut-off).

        Returns
        -------
        pandas.DataFrame
            One row per held-out (task, model): ``compute``, ``value`` (observed accuracy),
            ``pred_median``, ``pred_lower``, ``pred_upper`` (predictive interval of a new
            model with the row's number of questions, extrapolation drift included),
            ``median`` (the law), ``error`` (``value - pred_median``), ``covered``,
            ``beyond`` (decades of compute past the fitted range).
        """
        _check_ci(ci)
        d = self._draws()
        rng = np.random.default_rng(seed)
        q = [(1 - ci) / 2, 0.5, 1 - (1 - ci) / 2]
        held = self.data[self.data["held_out"]]
        rows = []
        for t, g in held.groupby("task", sort=False):
            j = self._task_index(str(t))
            zeta = rng.standard_normal(d["width"].shape[0])
            curve = self._curves(d, str(t), np.log10(g["compute"].to_numpy(float)), zeta)
            pred = _predict(curve, d["kappa"][:, j, None], g["n_questions"].to_numpy(), rng)
            pq = np.quantile(pred, q, axis=0)
            out = g[["task", "model", "family", "compute", "value"]].copy()
            out["median"] = np.median(curve, axis=0)
            out["pred_median"] = pq[1]
            out["pred_lower"] = pq[0]
            out["pred_upper"] = pq[2]
            out["error"] = out["value"] - out["pred_median"]
            out["covered"] = (out["value"] >= pq[0]) & (out["value"] <= pq[2])
            out["beyond"] = self.beyond(str(t), g["compute"].to_numpy(float))
            rows.append(out)
        if not rows:
            return pd.DataFrame(
                columns=[
                    "task",
                    "model",
                    "family",
                    "compute",
                    "value",
                    "median",
                    "pred_median",
                    "pred_lower",
                    "pred_upper",
                    "error",
                    "covered",
                    "beyond",
                ]
            )
        return pd.concat(rows, ignore_index=True)

    def log_score(
        self,
        task: str,
        compute: ArrayLike,
        value: ArrayLike,
        n_questions: ArrayLike | None = None,
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

        Returns
        -------
        numpy.ndarray
            One log density per value.
        """
        from scipy import special

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
        k = np.round(a * np.nan_to_num(n))
        out = np.empty(len(a))
        lt, w, h = (d[v][:, j, None] for v in ("log10_threshold", "width", "ceiling"))
        for i in range(len(a)):
            if self.compute_drift > 0 and self.beyond(task, 10 ** x[i : i + 1])[0] > 0:
                zs, ws = nodes, weights
            else:
                zs, ws = np.zeros(1), np.ones(1)
            x_eff = self._effective_x(task, x[i : i + 1], zs)[:, 0]  # one per node
            p = np.clip(_law_x(x_eff[None, :], lt, w, self.chance[task], h), _EPS, 1 - _EPS)
            al, be = p * kappa, (1 - p) * kappa
            if beta_rows[i]:
                lp = (al - 1) * np.log(a[i]) + (be - 1) * np.log1p(-a[i]) - special.betaln(al, be)
            else:
                ni = n[i]
                lp = (
                    special.gammaln(ni + 1)
                    - special.gammaln(k[i] + 1)
                    - special.gammaln(ni - k[i] + 1)
                    + special.betaln(k[i] + al, ni - k[i] + be)
                    - special.betaln(al, be)
                    + np.log(ni)
                )
            lw = lp + np.log(ws)[None, :]  # (sample, node)
            top = lw.max()
            out[i] = top + np.log(np.exp(lw - top).sum() / lw.shape[0])
        return out

    def forecast_scores(self, ci: float = 0.9) -> pd.DataFrame:
        """Per task: held-out models, mean absolute error of the predictive median, coverage."""
        h = self.held_out_check(ci)
        if h.empty:
            return pd.DataFrame(columns=["n_held_out", "mae", "coverage"])
        return h.groupby("task", sort=False).agg(
            n_held_out=("value", "size"),
            mae=("error", lambda e: float(np.mean(np.abs(e)))),
            coverage=("covered", "mean"),
        )

    # -- LOO -------------------------------------------------------------------------------
    def task_log_likelihood(self, task: str) -> xr.DataTree:
        """DataTree restricted to one task's fitted observations, for PSIS-LOO comparison.

        Groups ``posterior``, ``sample_stats``, ``log_likelihood`` and ``observed_data``;
        ``y`` has dim ``obs`` (0..n-1) = the task's overall accuracies of the models below
        the cut-off, ordered by (compute, model) ascending, with coords ``model`` and
        ``compute`` on ``obs``. The log-likelihood is a density on the accuracy scale.
        """
        self._task_index(task)
        ll = self.idata["log_likelihood"].dataset
        mask = ll["task"].values == task
        groups: dict[str, xr.Dataset] = {}
        for name in ("log_likelihood", "observed_data"):
            ds = self.idata[name].dataset.isel(obs=np.flatnonzero(mask))
            ds = ds.drop_vars("task").assign_coords(obs=np.arange(int(mask.sum())))
            groups[name] = ds
        groups["posterior"] = self.idata["posterior"].dataset.sel(task=[task])
        if "sample_stats" in self.idata.children:
            groups["sample_stats"] = self.idata["sample_stats"].dataset
        return xr.DataTree.from_dict({f"/{k}": v for k, v in groups.items()})

    def loo(self, task: str | None = None) -> ELPDData:
        """PSIS-LOO of the fit (all observations) or of one task's observations."""
        import arviz as az

        tree = self.idata if task is None else self.task_log_likelihood(task)
        return az.loo(tree, var_name="y")

    # -- reporting -------------------------------------------------------------------------
    def summary(self, ci: float = 0.9) -> str:
        """Thresholds, widths, ceilings, P(emergent), forecast scores and diagnostics."""
        th = self.threshold(ci)
        lines = [
            f"sigmoidal emergence fit of {len(self.tasks)} task(s); {ci:.0%} intervals; "
            f"{self.diagnostics}",
            f"{'task':34s} {'log10 C* [interval]':>24s} {'w (dec)':>8s} {'ceiling':>8s} "
            f"{'chance':>6s} {'P(emerg)':>8s}",
        ]
        for t, r in th.iterrows():
            lines.append(
                f"{t!s:34.34s} {r.log10_threshold:7.2f} [{r.log10_lower:6.2f}, "
                f"{r.log10_upper:6.2f}] {r.width:8.2f} {r.ceiling:8.3f} {r.chance:6.3f} "
                f"{r.p_emergent:8.2f}"
            )
        sc = self.forecast_scores(ci)
        if not sc.empty:
            lines.append(
                "held-out forecasts (models at or above the cut-off; extrapolation drift "
                f"compute_drift = {self.compute_drift:g}):"
            )
            for t, r in sc.iterrows():
                lines.append(
                    f"  {t!s:32.32s} n={int(r.n_held_out):3d}  MAE {r.mae:.3f}  "
                    f"{ci:.0%} coverage {r.coverage:.2f}"
                )
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(
        self, path: str | os.PathLike[str] | None = None, ci: float = 0.9, ncols: int = 3
    ) -> Figure:
        """Accuracy against log compute per task with bands, chance floor and threshold.

        Each panel: fitted models (filled) and held-out models (open), the law's median and
        ``ci`` band, a new model's predictive band (lighter; both with the extrapolation
        drift beyond the fitted range), the chance floor (dashed), the
        cut-off (dotted) and the threshold's ``ci`` interval (grey span, median dashed).
        """
        from matplotlib.figure import Figure

        from bayescale.scaling.plotting import save_figure

        _check_ci(ci)
        th = self.threshold(ci)
        n = len(self.tasks)
        ncols = max(1, min(ncols, n))
        nrows = int(np.ceil(n / ncols))
        fig = Figure(figsize=(4.2 * ncols, 3.3 * nrows), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
        for ax, t in zip(axes, self.tasks, strict=False):
            g = self.data[self.data["task"] == t]
            lc = np.log10(g["compute"].to_numpy())
            grid = np.linspace(lc.min() - 0.3, lc.max() + 0.3, 120)
            fc = self.forecast(10**grid, ci, task=t)
            r = th.loc[t]
            ax.axvspan(r.log10_lower, r.log10_upper, color="0.6", alpha=0.25, label=f"C* {ci:.0%}")
            ax.axvline(r.log10_threshold, color="0.3", ls="--", lw=1)
            ax.fill_between(
                grid,
                fc["pred_lower"],
                fc["pred_upper"],
                color="C0",
                alpha=0.12,
                label=f"new model {ci:.0%}",
            )
            ax.fill_between(
                grid, fc["lower"], fc["upper"], color="C0", alpha=0.3, label=f"law {ci:.0%}"
            )
            ax.plot(grid, fc["median"], color="C0")
            held = g["held_out"].to_numpy()
            ax.scatter(lc[~held], g["value"].to_numpy()[~held], s=10, color="k", label="fitted")
            if held.any():
                ax.scatter(
                    lc[held],
                    g["value"].to_numpy()[held],
                    s=14,
                    facecolors="none",
                    edgecolors="C3",
                    label="held out",
                )
            cut = self.cutoff.get(t, np.inf)
            if np.isfinite(cut):
                ax.axvline(np.log10(cut), color="k", ls=":", lw=1)
            ax.axhline(self.chance[t], color="C3", ls="--", lw=1, label="chance")
            ax.set_xlim(grid[0], grid[-1])
            ax.set_title(f"{t}\nP(emergent) = {r.p_emergent:.2f}", fontsize=9)
            ax.set_xlabel("log10 training compute (FLOPs)")
            ax.set_ylabel("accuracy")
        for ax in axes[n:]:
            ax.set_visible(False)
        axes[0].legend(loc="upper left", fontsize=7)
        return save_figure(fig, path)


def _predict(curve: np.ndarray, kappa: np.ndarray, n: Any, rng: np.random.Generator) -> np.ndarray:
    """Accuracy of a new model: Beta scatter around the law, then binomial question noise.

    Each compute value (column) gets its own child generator, so its draws do not depend
    on the other columns' values (the same at a compute inside the fitted range with or
    without the extrapolation drift, and whatever else is forecast alongside).
    """
    p = np.clip(curve, _EPS, 1 - _EPS)
    n_arr = np.broadcast_to(np.asarray(n, float), curve.shape)
    kap = np.broadcast_to(kappa, curve.shape)
    out = np.empty_like(p)
    for col, g in enumerate(rng.spawn(curve.shape[1])):
        own = g.beta(p[:, col] * kap[:, col], (1 - p[:, col]) * kap[:, col])
        nn = n_arr[:, col]
        known = np.isfinite(nn)
        out[:, col] = own
        if known.any():
            ni = nn[known].astype(np.int64)
            out[known, col] = g.binomial(ni, own[known]) / ni
    return out


def _check_ci(ci: float) -> None:
    if not 0 < ci < 1:
        raise SpecificationError(f"ci must be in (0, 1), not {ci!r}")


def _check_drift(compute_drift: float) -> None:
    try:
        ok = bool(np.isfinite(float(compute_drift)) and float(compute_drift) >= 0)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise SpecificationError(
            "compute_drift must be a number >= 0 (0 turns the extrapolation drift off), "
            f"not {compute_drift!r}"
        )


def _cutoffs(cutoff: float | Mapping[str, float] | None, tasks: list[str]) -> dict[str, float]:
    if cutoff is None:
        return {t: float("inf") for t in tasks}
    if isinstance(cutoff, Mapping):
        missing = [t for t in tasks if t not in cutoff]
        if missing:
            raise SpecificationError(
                f"cutoff gives no value for task(s) {missing}: give every task a cut-off "
                "(FLOPs) or one number for all."
            )
        out = {t: float(cutoff[t]) for t in tasks}
    else:
        out = {t: float(cutoff) for t in tasks}
    bad = {t: v for t, v in out.items() if not v > 0}
    if bad:
        raise SpecificationError(f"cutoff must be a compute in FLOPs > 0, not {bad}")
    return out


# --------------------------------------------------------------------------- fitting
def fit_sigmoid(
    table: pd.DataFrame,
    *,
    cutoff: float | Mapping[str, float] | None = None,
    chance: float | Mapping[str, float] | None = None,
    n_questions: float | Mapping[str, float] | None = None,
    tasks: Sequence[str] | None = None,
    min_models: int = 5,
    max_decades: float = 2.0,
    min_jump: float = 0.1,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    target_accept: float = 0.95,
    seed: int | None = None,
    nuts_sampler: str = "nutpie",
    progressbar: bool = False,
    warn: bool = True,
    extend_if_slow: bool = True,
    compute_drift: float = COMPUTE_DRIFT,
) -> SigmoidFit:
    r"""Fit the hierarchical sigmoidal emergence law to one or more tasks.

    Parameters
    ----------
    table
        Accuracy table (see :func:`emergence_table`) or a slice table.
    cutoff
        Compute cut-off in FLOPs, one for all tasks or per task: models with compute strictly
        below it are fitted, the others held out (scored by
        :meth:`SigmoidFit.held_out_check`). Default: fit every model.
    chance, n_questions, tasks
        See :func:`emergence_table`.
    min_models
        Fewest fitted models per task.
    max_decades, min_jump
        Defaults of the emergence criterion (:meth:`SigmoidFit.p_emergent`).
    draws, tune, chains, target_accept, seed, nuts_sampler, progressbar
        Passed to :func:`pymc.sample` (``target_accept`` 0.95: see the module docstring).
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
    if not (isinstance(min_models, int) and min_models >= 3):
        raise SpecificationError(f"min_models must be an integer >= 3, not {min_models!r}")
    if not max_decades > 0 or not 0 <= min_jump < 1:
        raise SpecificationError("max_decades must be > 0 and min_jump in [0, 1)")
    _check_drift(compute_drift)
    data = emergence_table(table, chance=chance, n_questions=n_questions, tasks=tasks)
    task_list = list(pd.unique(data["task"]))
    cuts = _cutoffs(cutoff, task_list)
    data["held_out"] = data["compute"].to_numpy() >= data["task"].map(cuts).to_numpy(float)
    fit = data[~data["held_out"]].reset_index(drop=True)
    for t in task_list:
        f = fit[fit["task"] == t]
        if len(f) < min_models:
            raise DataError(
                f"task {t!r}: {len(f)} model(s) below the cut-off "
                f"{cuts[t]:.3g} FLOPs; at least {min_models} are needed. Raise the cut-off."
            )
        span = np.log10(f["compute"].max()) - np.log10(f["compute"].min())
        if span < 0.5:
            raise DataError(
                f"task {t!r}: the fitted models span {span:.2f} decades of compute; the law "
                "needs at least 0.5. Add smaller or larger models."
            )
    log_c = np.log10(fit["compute"].to_numpy(float))
    x_ref = float(np.mean(log_c))
    task_idx = fit["task"].map({t: i for i, t in enumerate(task_list)}).to_numpy(int)
    chance_t = np.array([float(fit.loc[fit["task"] == t, "chance"].iloc[0]) for t in task_list])
    n = fit["n_questions"].to_numpy(float)
    value = fit["value"].to_numpy(float)
    k = np.where(np.isfinite(n), np.round(value * np.nan_to_num(n)), 0.0)
    model = _build_model(log_c - x_ref, task_idx, chance_t, n, k, value, task_list, x_ref)
    notes: list[str] = []
    idata = sample_until_converged(
        model,
        check_vars=[*_FREE, *_DERIVED],
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        extend_if_slow=extend_if_slow,
        notes=notes,
        target_accept=target_accept,
        nuts_sampler=nuts_sampler,
        progressbar=progressbar,
    )
    post = idata["posterior"].dataset
    ll = _log_likelihood(post, log_c, task_idx, chance_t, n, k, value)
    obs_coords = {
        "task": ("obs", fit["task"].to_numpy().astype(str)),
        "model": ("obs", fit["model"].to_numpy().astype(str)),
        "compute": ("obs", fit["compute"].to_numpy(float)),
    }
    idata["log_likelihood"] = xr.Dataset(
        {"y": (("chain", "draw", "obs"), ll)},
        coords={
            "chain": post["chain"],
            "draw": post["draw"],
            "obs": np.arange(len(fit)),
            **obs_coords,
        },
    )
    idata["observed_data"] = xr.Dataset(
        {"y": ("obs", value)}, coords={"obs": np.arange(len(fit)), **obs_coords}
    )
    names = [v for v in (*_FREE, *_DERIVED) if v in post]
    with warnings.catch_warnings():
        if not warn:
            warnings.simplefilter("ignore")
        diag = check_convergence(idata, var_names=names, warn=warn)
    chance_map = {t: float(c) for t, c in zip(task_list, chance_t, strict=True)}
    for t in task_list:  # held-out-only rows keep their own chance (constant per task)
        chance_map.setdefault(t, float(data.loc[data["task"] == t, "chance"].iloc[0]))
    return SigmoidFit(
        idata=idata,
        tasks=task_list,
        data=data,
        cutoff=cuts,
        diagnostics=diag,
        x_ref=x_ref,
        chance=chance_map,
        max_decades=max_decades,
        min_jump=min_jump,
        notes=notes,
        compute_drift=float(compute_drift),
    )


def _log_likelihood(
    post: xr.Dataset,
    log_c: np.ndarray,
    task_idx: np.ndarray,
    chance: np.ndarray,
    n: np.ndarray,
    k: np.ndarray,
    value: np.ndarray,
) -> np.ndarray:
    """Pointwise log density of each accuracy (chain, draw, obs), on the accuracy scale."""
    from scipy import stats

    lt = post["log10_threshold"].transpose("chain", "draw", "task").values[..., task_idx]
    w = post["width"].transpose("chain", "draw", "task").values[..., task_idx]
    h = post["ceiling"].transpose("chain", "draw", "task").values[..., task_idx]
    kap = post["kappa"].transpose("chain", "draw", "task").values[..., task_idx]
    p = np.clip(sigmoid_law(10**log_c, lt, w, chance[task_idx], h), _EPS, 1 - _EPS)
    a, b = p * kap, (1 - p) * kap
    has_n = np.isfinite(n)
    out = np.empty_like(p)
    if has_n.any():
        nn = n[has_n]
        out[..., has_n] = stats.betabinom.logpmf(
            k[has_n], nn, a[..., has_n], b[..., has_n]
        ) + np.log(nn)
    if (~has_n).any():
        out[..., ~has_n] = stats.beta.logpdf(value[~has_n], a[..., ~has_n], b[..., ~has_n])
    return out
