r"""The sigmoidal emergence law, hierarchical across tasks: the law, its PyMC model, its likelihood.

The accuracy of a model with training compute :math:`C` on task :math:`t` follows a logistic
step in :math:`\log_{10} C` from the task's chance level :math:`c_t` to a ceiling
:math:`h_t`:

.. math::

    a_t(C) = c_t + (h_t - c_t)\,
        \sigma\!\left(\frac{\log_{10} C - \log_{10} C^*_t}{w_t}\right),
    \qquad \sigma(z) = \frac{1}{1 + e^{-z}},

with :math:`C^*_t` the **mid-point** of the rise (the compute at which the task is half-way
from chance to its ceiling; the emergence threshold is where it leaves chance,
:mod:`bayescale.emergence.criteria`) and :math:`w_t` the **width** in decades of compute: the rise
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
* **target_accept 0.95** (default of :func:`~bayescale.emergence.sigmoid.fit_sigmoid`):
  with all of the above at 0.9, the full Wu & Lo fit kept one divergence in 4000 draws in
  the upper tail of :math:`\tau_h` (still-rising ceilings running to 1 on the logit scale).

**Families** (``family_effects=True``; off by default). Models of one family convert
compute into capability alike (Ruan et al. 2024); each family :math:`f` gets a compute
offset :math:`e_f \sim \mathcal N(0, \sigma_f)`, :math:`\sigma_f \sim \mathcal N^+(0.5)`
decades (non-centred), shared by every task: model :math:`i` of family :math:`f(i)` follows
the law at :math:`\log_{10} C_i + e_{f(i)}`. A model without a family is its own. The law,
the threshold and P(emergent) are the typical family's (:math:`e = 0`).

**A population of tasks** (``population=``). Instead of its own hierarchy, every task may be
a new member of the population of an earlier hierarchical fit: :func:`population_prior`
turns that fit's posterior into normal priors of the per-task quantities (the predictive
:math:`\mathcal N(\mu, \tau)` averaged over the posterior, moment-matched: mean
:math:`\mathrm E[\mu]`, variance :math:`\mathrm E[\tau^2] + \operatorname{Var}[\mu]`;
the onset in absolute :math:`\log_{10}` FLOPs). The "cut" form of the hierarchy: the new
task does not inform the population.

The 10% point :math:`x_{10,t} = \log_{10} C^*_t - w_t \ln 9` is stored as ``onset``. (The
earlier parameterisations measured in ``docs/emergence_sigmoid.md``, the 10% point or the
threshold centred, or the onset as a "lead" in widths before the largest model, are no
longer in the code; bayescale/emergence/sigmoid.py at commit 1800ec7 has them.)

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
compares with continuous laws of accuracy (e.g. the Slice-and-Sandwich's logit-normal) on the same
observed values.

**Forecasts beyond the fitted range.** The models below a cut-off cannot say how wrong the
law's extrapolation is: when a jump that has not started comes, and how fast. Fitted on
Wu & Lo's tasks below their thresholds, the law's 90% predictive interval covered 0.35 of
the held-out models, while the full-data law's covered 0.82: the misses are the law's
extrapolation, not the scatter model. :meth:`~bayescale.emergence.sigmoid.SigmoidFit.forecast`,
``held_out_check`` and ``log_score`` therefore evaluate the
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
(``SigmoidFit.log_score``), each task's coverage checked with the :math:`s` estimated on
the other tasks (``benchmarks/emergence_sigmoid.py --calibrate``,
``docs/emergence_sigmoid.md``); the default is the pooled estimate on Wu & Lo's nine
tasks below their thresholds, :math:`s = 4.5` (:data:`COMPUTE_DRIFT`): held-out 90%
coverage 0.34 -> 0.89 leave-one-task-out, with bands 0.6-0.7 wide on the emergent tasks
(arithmetic stays at 0.21: its fitted ceiling is the plateau before its second jump).
ObsScaling below 1e23, where most rises had begun, gives :math:`s = 0.75` (coverage
0.74 -> 0.91); there the default over-widens (coverage 1.00). The threshold and
P(emergent) use the fitted law alone.

The fit (:func:`~bayescale.emergence.sigmoid.fit_sigmoid`), the emergence criterion and the
forecasts are in :mod:`bayescale.emergence.sigmoid`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from bayescale.core.errors import DataError, SpecificationError
from bayescale.emergence.table import emergence_table

if TYPE_CHECKING:
    import pymc as pm

__all__ = [
    "COMPUTE_DRIFT",
    "DERIVED",
    "LN9",
    "SAMPLED",
    "PreparedTable",
    "accuracy_log_density",
    "build_model",
    "check_compute_drift",
    "effective_log_compute",
    "law_of_log_compute",
    "pointwise_log_likelihood",
    "predict_accuracy",
    "prepare_table",
    "sigmoid_law",
    "task_cutoffs",
]

#: :math:`\ln 9`: the 10%-to-90% rise of the law takes :math:`2 w \ln 9` decades.
LN9 = float(np.log(9.0))
#: Default ``compute_drift`` :math:`s` (module docstring): the pooled maximum-likelihood
#: estimate on the held-out models of Wu & Lo's nine tasks below their thresholds
#: (``benchmarks/emergence_sigmoid.py --calibrate``; docs/emergence_sigmoid.md).
COMPUTE_DRIFT = 4.5
#: Accuracies are kept this far from 0 and 1 in the likelihood.
EPS = 1e-9
#: The fixed spread of the tasks' log(w - w_min) around the population's (module docstring).
W_TAU = 0.5
#: Prior scale (decades of compute) of the families' compute-efficiency offsets.
FAMILY_SCALE = 0.5
#: Floors of the width (decades) and of the jump (fraction of the range above chance), and
#: the absolute rise :math:`\alpha` that defines the sampled onset (module docstring).
W_MIN, H_MIN, A_ABS = 0.1, 0.1, 0.05
#: The sampled variables (with one task, only the ``mu_*`` of the population).
SAMPLED = (
    "mu_o",
    "tau_o",
    "o_task",
    "mu_w",
    "z_w",
    "mu_h",
    "tau_h",
    "z_h",
    "mu_k",
    "tau_k",
    "z_k",
    "sigma_family",
    "z_family",
)
#: The per-task quantities derived from them (dim ``task``).
DERIVED = ("midpoint", "onset", "width", "ceiling", "kappa")


# --------------------------------------------------------------------------- the law
def sigmoid_law(
    compute: ArrayLike,
    log10_midpoint: ArrayLike,
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
    log10_midpoint
        :math:`\log_{10} C^*`, the mid-point of the rise.
    width
        :math:`w` in decades of compute (> 0).
    chance, ceiling
        Floor :math:`c` and ceiling :math:`h` of the accuracy.
    """
    return law_of_log_compute(
        np.log10(np.asarray(compute, float)), log10_midpoint, width, chance, ceiling
    )


def law_of_log_compute(
    log_c: ArrayLike,
    log10_midpoint: ArrayLike,
    width: ArrayLike,
    chance: ArrayLike,
    ceiling: ArrayLike,
) -> np.ndarray:
    r""":func:`sigmoid_law` of :math:`\log_{10} C` (no overflow far beyond the data)."""
    z = (np.asarray(log_c, float) - np.asarray(log10_midpoint, float)) / np.asarray(width, float)
    c = np.asarray(chance, float)
    return c + (np.asarray(ceiling, float) - c) * (0.5 * (1.0 + np.tanh(0.5 * z)))


# --------------------------------------------------------------------------- data
def task_cutoffs(cutoff: float | Mapping[str, float] | None, tasks: list[str]) -> dict[str, float]:
    """The compute cut-off (FLOPs) of every task: one for all, per task, or ``inf``."""
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


@dataclass(frozen=True)
class PreparedTable:
    r"""An accuracy table as the model sees it (:func:`prepare_table`).

    Attributes
    ----------
    data : pandas.DataFrame
        Every row (:func:`~bayescale.emergence.table.emergence_table`), with ``held_out``.
    tasks : list of str
        The tasks, in order.
    cutoff : dict
        Compute cut-off per task (FLOPs).
    fit : pandas.DataFrame
        The fitted rows (compute below the cut-off), in task, compute, model order.
    x_ref : float
        Mean :math:`\log_{10} C` of the fitted rows.
    families : list of str
        The model families whose compute offsets are estimated (empty: no offsets). A
        model without a family is its own.
    """

    data: pd.DataFrame
    tasks: list[str]
    cutoff: dict[str, float]
    fit: pd.DataFrame
    x_ref: float
    families: list[str] = field(default_factory=list)
    population: dict[str, tuple[float, float]] | None = None

    @property
    def log_c(self) -> np.ndarray:
        return np.log10(self.fit["compute"].to_numpy(float))

    @property
    def task_idx(self) -> np.ndarray:
        return self.fit["task"].map({t: i for i, t in enumerate(self.tasks)}).to_numpy(int)

    @property
    def family_idx(self) -> np.ndarray | None:
        """Index of each fitted row's family in :attr:`families` (None without offsets)."""
        if not self.families:
            return None
        index = {f: i for i, f in enumerate(self.families)}
        return family_labels(self.fit).map(index).to_numpy(int)

    @property
    def chance(self) -> np.ndarray:
        """Chance accuracy per task (of the fitted rows)."""
        f = self.fit
        return np.array([float(f.loc[f["task"] == t, "chance"].iloc[0]) for t in self.tasks])

    @property
    def chance_by_task(self) -> dict[str, float]:
        return {t: float(c) for t, c in zip(self.tasks, self.chance, strict=True)}

    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Questions (NaN when unknown), correct answers and accuracy of each fitted row."""
        n = self.fit["n_questions"].to_numpy(float)
        value = self.fit["value"].to_numpy(float)
        k = np.where(np.isfinite(n), np.round(value * np.nan_to_num(n)), 0.0)
        return n, k, value

    def model(self) -> pm.Model:
        """The PyMC model of the fitted rows (:func:`build_model`)."""
        n, k, value = self.counts()
        return build_model(
            self.log_c - self.x_ref,
            self.task_idx,
            self.chance,
            n,
            k,
            value,
            self.tasks,
            self.x_ref,
            family_idx=self.family_idx,
            families=self.families,
            population=self.population,
        )

    def likelihood_groups(self, post: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
        """``log_likelihood`` and ``observed_data`` (``y``, dim ``obs`` with coords
        ``task``, ``model``, ``compute``) under the posterior ``post``."""
        n, k, value = self.counts()
        ll = pointwise_log_likelihood(
            post, self.log_c, self.task_idx, self.chance, n, k, value, self.family_idx
        )
        obs = {
            "obs": np.arange(len(self.fit)),
            "task": ("obs", self.fit["task"].to_numpy().astype(str)),
            "model": ("obs", self.fit["model"].to_numpy().astype(str)),
            "compute": ("obs", self.fit["compute"].to_numpy(float)),
        }
        log_lik = xr.Dataset(
            {"y": (("chain", "draw", "obs"), ll)},
            coords={"chain": post["chain"], "draw": post["draw"], **obs},
        )
        return log_lik, xr.Dataset({"y": ("obs", value)}, coords=obs)


def prepare_table(
    table: pd.DataFrame,
    *,
    cutoff: float | Mapping[str, float] | None,
    chance: float | Mapping[str, float] | None,
    n_questions: float | Mapping[str, float] | None,
    tasks: Sequence[str] | None,
    min_models: int,
    family_effects: bool = False,
    population: Mapping[str, Sequence[float]] | None = None,
) -> PreparedTable:
    """Check an accuracy table and split it at the cut-offs (arguments of
    :func:`~bayescale.emergence.sigmoid.fit_sigmoid`).

    Raises
    ------
    DataError
        An invalid table, fewer than ``min_models`` fitted models in a task, or fitted
        models spanning less than half a decade of compute.
    SpecificationError
        An invalid cut-off, chance level or ``min_models``.
    """
    if not (isinstance(min_models, int) and min_models >= 3):
        raise SpecificationError(f"min_models must be an integer >= 3, not {min_models!r}")
    data = emergence_table(table, chance=chance, n_questions=n_questions, tasks=tasks)
    task_list = list(pd.unique(data["task"]))
    cuts = task_cutoffs(cutoff, task_list)
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
    x_ref = float(np.mean(np.log10(fit["compute"].to_numpy(float))))
    families: list[str] = []
    named = fit["family"].astype(str)
    if family_effects and named[named != ""].nunique() >= 2:
        families = sorted(pd.unique(family_labels(fit)))
    return PreparedTable(
        data=data,
        tasks=task_list,
        cutoff=cuts,
        fit=fit,
        x_ref=x_ref,
        families=families,
        population=None if population is None else check_population(population),
    )


#: The per-task quantities of the hierarchy: onset x_a (absolute log10 FLOPs), log(w - w_min),
#: the ceiling's logit and log kappa (module docstring).
POPULATION_KEYS = ("o", "w", "h", "k")


def check_population(population: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, float]]:
    """``population`` as ``{key: (mean, sd)}`` for :data:`POPULATION_KEYS`, or an error."""
    if not isinstance(population, Mapping):
        raise SpecificationError(
            "population must be a SigmoidFit of other tasks or its population_prior() dict, "
            f"not {type(population).__name__}"
        )
    out = {}
    for key in POPULATION_KEYS:
        value = population.get(key)
        try:
            loc, scale = (float(v) for v in value)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise SpecificationError(
                f"population[{key!r}] must be a (mean, sd) pair, not {value!r}; the keys are "
                f"{POPULATION_KEYS} (SigmoidFit.population_prior() gives them)"
            ) from None
        if not (np.isfinite(loc) and np.isfinite(scale) and scale > 0):
            raise SpecificationError(f"population[{key!r}] = {value!r}: need a finite mean, sd > 0")
        out[key] = (loc, scale)
    return out


def population_prior(post: xr.Dataset, x_ref: float) -> dict[str, tuple[float, float]]:
    r"""The prior of a new task from a hierarchical fit: each per-task quantity's population
    predictive, :math:`\mathcal N(\mu, \tau)` averaged over the posterior, as a normal
    of the same mean and variance (:math:`\mathrm E[\mu]`,
    :math:`\mathrm E[\tau^2] + \operatorname{Var}[\mu]`).

    Raises
    ------
    SpecificationError
        The fit has no population (a one-task fit, or one fitted with a population).
    """
    missing = [
        v for v in ("mu_o", "tau_o", "mu_w", "mu_h", "tau_h", "mu_k", "tau_k") if v not in post
    ]
    if missing:
        raise SpecificationError(
            f"a population needs a hierarchical fit of two or more tasks (this fit lacks {missing})"
        )
    out = {}
    for key, tau in (("o", "tau_o"), ("w", None), ("h", "tau_h"), ("k", "tau_k")):
        mu = post[f"mu_{key}"].values.ravel()
        t2 = W_TAU**2 if tau is None else float(np.mean(post[tau].values.ravel() ** 2))
        loc = float(mu.mean()) + (x_ref if key == "o" else 0.0)
        out[key] = (loc, float(np.sqrt(t2 + mu.var())))
    return out


def family_labels(frame: pd.DataFrame) -> pd.Series:
    """Each row's family, its model's name where the family is unknown (``""``)."""
    fam = frame["family"].astype(str)
    return fam.where(fam != "", "model:" + frame["model"].astype(str))


# --------------------------------------------------------------------------- model
def build_model(
    x: np.ndarray,
    task_idx: np.ndarray,
    chance: np.ndarray,
    n: np.ndarray,
    k: np.ndarray,
    value: np.ndarray,
    tasks: list[str],
    x_ref: float,
    *,
    family_idx: np.ndarray | None = None,
    families: Sequence[str] = (),
    population: Mapping[str, tuple[float, float]] | None = None,
) -> pm.Model:
    r"""The PyMC model of the module docstring.

    Parameters
    ----------
    x
        :math:`\log_{10} C - x_{\text{ref}}` of every fitted observation.
    task_idx
        Index of each observation's task in ``tasks``.
    chance
        Chance accuracy :math:`c_t` per task.
    n, k, value
        Questions (NaN when unknown: Beta likelihood of ``value``), correct answers and
        accuracy of each observation.
    tasks
        The task names (dim ``task``).
    x_ref
        :math:`x_{\text{ref}}`, added back to the stored thresholds and onsets.
    family_idx, families
        Each observation's family and the families (module docstring, **Families**);
        none: no compute offsets.
    population
        Prior of every task as a new member of a population estimated on other tasks
        (:func:`population_prior`): ``{"o": (mean, sd), "w": ..., "h": ..., "k": ...}``,
        the onset ``o`` in absolute :math:`\log_{10}` FLOPs. None: the hierarchy above.

    Returns
    -------
    pymc.Model
        Every data-dependent number in a ``pm.Data`` container, and an attribute
        ``structure_key``: what the compiled model depends on besides those data (number
        of tasks and of families, population prior or hierarchy, which likelihoods), so
        that :mod:`bayescale.core.compiled` compiles a structure once and reuses it.
    """
    import pymc as pm
    import pytensor.tensor as pt

    n_tasks = len(tasks)
    pooled = n_tasks > 1
    has_n = np.isfinite(n)
    count_rows, prop_rows = np.flatnonzero(has_n), np.flatnonzero(~has_n)
    # Every data-dependent number is a pm.Data container (the dim "obs" is defined by
    # the data, not fixed by coords): a model of the same structure compiles once and is
    # reused with new data (bayescale.core.compiled, key below).
    coords: dict[str, Any] = {"task": tasks}
    if family_idx is not None:
        coords["family"] = list(families)
    with pm.Model(coords=coords) as model:
        x_data = pm.Data("log_compute", np.asarray(x, float), dims="obs")
        t_idx = pm.Data("task_idx", np.asarray(task_idx, np.int64), dims="obs")
        ref = pm.Data("x_ref", float(x_ref))
        if family_idx is not None:
            # compute-efficiency offsets of the families, shared by every task
            f_idx = pm.Data("family_idx", np.asarray(family_idx, np.int64), dims="obs")
            sigma_f = pm.HalfNormal("sigma_family", FAMILY_SCALE)
            z_f = pm.Normal("z_family", 0.0, 1.0, dims="family")
            offset = pm.Deterministic("family_offset", sigma_f * z_f, dims="family")
            x_data = x_data + offset[f_idx]
        if population is not None:
            names = ("o", "w", "h", "k")
            locs = [population[v][0] - (x_ref if v == "o" else 0.0) for v in names]
            # the population's onsets are absolute log10 FLOPs
            pop_loc = pm.Data("population_loc", np.asarray(locs, float), shape=(4,))
            scales = [float(population[v][1]) for v in names]
            pop_scale = pm.Data("population_scale", np.asarray(scales, float), shape=(4,))
            pop_pos = {v: i for i, v in enumerate(names)}

        def level(
            name: str, mu_loc: float, mu_sd: float, tau_sd: float, *, centred: bool, fixed: bool
        ) -> Any:
            """Per-task values around a population mean (the mean alone with one task), or
            each task a new draw of a population estimated on other tasks."""
            if population is not None:
                loc, scale = pop_loc[pop_pos[name]], pop_scale[pop_pos[name]]
                if centred:
                    return pm.Normal(f"{name}_task", loc, scale, dims="task")
                z = pm.Normal(f"z_{name}", 0.0, 1.0, dims="task")
                return loc + scale * z
            mu = pm.Normal(f"mu_{name}", mu_loc, mu_sd)
            if not pooled:
                return pt.repeat(mu, n_tasks)
            tau = tau_sd if fixed else pm.HalfNormal(f"tau_{name}", tau_sd)
            if centred:
                return pm.Normal(f"{name}_task", mu, tau, dims="task")
            z = pm.Normal(f"z_{name}", 0.0, 1.0, dims="task")
            return mu + tau * z

        log_w = level("w", -1.39, 0.5, W_TAU, centred=False, fixed=True)
        width = pm.Deterministic("width", W_MIN + pt.exp(log_w), dims="task")
        h_logit = level("h", 1.0, 1.0, 1.0, centred=False, fixed=False)
        # fraction of the range above chance reached at the ceiling, >= H_MIN
        frac = H_MIN + (1.0 - H_MIN) * pm.math.invlogit(h_logit)
        c_t = pm.Data("chance", np.asarray(chance, float), dims="task", shape=(n_tasks,))
        ceiling = pm.Deterministic("ceiling", c_t + (1.0 - c_t) * frac, dims="task")
        # x_a: where the law is A_ABS * (1 - c) above chance, whatever the ceiling;
        # a - c = (1 - c) frac sigma((x - m) / w) gives m = x_a - w logit(A_ABS / frac)
        x_a = level("o", 0.0, 1.5, 1.0, centred=True, fixed=False)
        m = x_a - width * pt.log(A_ABS / (frac - A_ABS))
        pm.Deterministic("onset", m - width * LN9 + ref, dims="task")
        log_k = level("k", float(np.log(100.0)), 1.0, 0.5, centred=False, fixed=False)
        kappa = pm.Deterministic("kappa", pt.exp(log_k), dims="task")
        pm.Deterministic("midpoint", m + ref, dims="task")
        c_i = c_t[t_idx]
        acc = c_i + (ceiling[t_idx] - c_i) * pm.math.sigmoid((x_data - m[t_idx]) / width[t_idx])
        acc = pt.clip(acc, EPS, 1.0 - EPS)
        kap = kappa[t_idx]
        if count_rows.size:
            idx = pm.Data("count_rows", count_rows)
            pm.BetaBinomial(
                "y_count",
                n=pm.Data("n_questions", n[count_rows].astype(np.int64)),
                alpha=acc[idx] * kap[idx],
                beta=(1.0 - acc[idx]) * kap[idx],
                observed=pm.Data("n_correct", k[count_rows].astype(np.int64)),
            )
        if prop_rows.size:
            idx = pm.Data("proportion_rows", prop_rows)
            pm.Beta(
                "y_prop",
                alpha=acc[idx] * kap[idx],
                beta=(1.0 - acc[idx]) * kap[idx],
                observed=pm.Data("accuracy", np.asarray(value, float)[prop_rows]),
            )
    #: what the compiled model depends on besides its data (bayescale.core.compiled)
    model.structure_key = (  # type: ignore[attr-defined]
        "emergence.sigmoid",
        1,  # the graph's version: change it with the model above
        n_tasks,
        family_idx is not None and len(families),
        population is not None,
        bool(count_rows.size),
        bool(prop_rows.size),
    )
    return model


# --------------------------------------------------------------------------- likelihood
def pointwise_log_likelihood(
    post: xr.Dataset,
    log_c: np.ndarray,
    task_idx: np.ndarray,
    chance: np.ndarray,
    n: np.ndarray,
    k: np.ndarray,
    value: np.ndarray,
    family_idx: np.ndarray | None = None,
) -> np.ndarray:
    r"""Pointwise log density of each accuracy (chain, draw, obs), on the accuracy scale.

    The beta-binomial mass of :math:`k_i` plus :math:`\log n_i` (the density of
    :math:`k_i / n_i` on its lattice), or the Beta density of the accuracy where
    :math:`n_i` is unknown (NaN), under the posterior draws of ``post``.
    """
    from scipy import stats

    lt = post["midpoint"].transpose("chain", "draw", "task").values[..., task_idx]
    w = post["width"].transpose("chain", "draw", "task").values[..., task_idx]
    h = post["ceiling"].transpose("chain", "draw", "task").values[..., task_idx]
    kap = post["kappa"].transpose("chain", "draw", "task").values[..., task_idx]
    x = np.broadcast_to(np.asarray(log_c, float), lt.shape)
    if family_idx is not None:
        off = post["family_offset"].transpose("chain", "draw", "family").values
        x = x + off[..., family_idx]
    p = np.clip(law_of_log_compute(x, lt, w, chance[task_idx], h), EPS, 1 - EPS)
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


def predict_accuracy(
    curve: np.ndarray, kappa: np.ndarray, n: Any, rng: np.random.Generator
) -> np.ndarray:
    """Accuracy of a new model: Beta scatter around the law, then binomial question noise.

    ``curve`` (sample, point) holds the law, ``kappa`` the overdispersion per draw, ``n``
    the questions (per point, NaN: the model's own accuracy, without question noise).

    Each compute value (column) gets its own child generator, so its draws do not depend
    on the other columns' values (the same at a compute inside the fitted range with or
    without the extrapolation drift, and whatever else is forecast alongside).
    """
    p = np.clip(curve, EPS, 1 - EPS)
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


def accuracy_log_density(p: np.ndarray, kappa: np.ndarray, value: float, n: float) -> np.ndarray:
    r"""Log density of one observed accuracy under laws ``p`` and overdispersions ``kappa``.

    The beta-binomial mass of :math:`k = \operatorname{round}(a n)` correct answers out of
    :math:`n` plus :math:`\log n` (the density of :math:`k/n` on its lattice, as in
    :func:`pointwise_log_likelihood`), or, when ``n`` is NaN, the Beta density of the
    accuracy :math:`a` = ``value``; elementwise over ``p`` and ``kappa`` (broadcast).
    """
    from scipy import special

    al, be = p * kappa, (1 - p) * kappa
    if not np.isfinite(n):
        out: np.ndarray = (
            (al - 1) * np.log(value) + (be - 1) * np.log1p(-value) - special.betaln(al, be)
        )
        return out
    k = np.round(value * n)
    return np.asarray(
        special.gammaln(n + 1)
        - special.gammaln(k + 1)
        - special.gammaln(n - k + 1)
        + special.betaln(k + al, n - k + be)
        - special.betaln(al, be)
        + np.log(n)
    )


def check_compute_drift(compute_drift: float) -> None:
    """Raise unless ``compute_drift`` is a number >= 0 (the forecasts' drift scale)."""
    try:
        ok = bool(np.isfinite(float(compute_drift)) and float(compute_drift) >= 0)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise SpecificationError(
            "compute_drift must be a number >= 0 (0 turns the extrapolation drift off), "
            f"not {compute_drift!r}"
        )


def effective_log_compute(
    log_c: ArrayLike, lo: float, hi: float, zeta: ArrayLike, compute_drift: float
) -> np.ndarray:
    r"""Effective :math:`\log_{10} C` per drift draw and point: (len(zeta), len(log_c)).

    :math:`x_{\text{eff}} = x_{\text{hi}} + (x - x_{\text{hi}})\, e^{s\zeta}` above the
    fitted range :math:`[x_{\text{lo}}, x_{\text{hi}}]`, the mirror image below it,
    :math:`x` inside (module docstring; :math:`s` = ``compute_drift``).
    """
    x = np.asarray(log_c, float)[None, :]
    factor = np.exp(compute_drift * np.asarray(zeta, float))[:, None]
    above = hi + (x - hi) * factor
    below = lo - (lo - x) * factor
    out: np.ndarray = np.where(
        x > hi, above, np.where(x < lo, below, np.broadcast_to(x, above.shape))
    )
    return out
