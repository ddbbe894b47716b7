r"""The hierarchical model: a pure function from (data, specification) to a PyMC model.

For observation :math:`i` of family :math:`f = f[i]` and configuration :math:`c = c[i]`
(family, N, D and checkpoint step)

.. math::

    \eta_i = \log L_\text{law}(x_i;\ \theta_f) + \sigma_\text{config}\,\epsilon_c, \qquad
    y_i \sim \mathcal D\!\left(\eta_i,\ \sqrt{\sigma^2 + \mathrm{se}_i^2}\right),

where :math:`y_i = \log \text{value}_i` (``space="log"``, the default) or
:math:`y_i = \text{value}_i` with :math:`\eta_i` replaced by :math:`e^{\eta_i}`
(``space="linear"``); :math:`\mathcal D` is Normal or Student-t with fixed
:math:`\nu`; :math:`\mathrm{se}_i` is the known measurement error from
``value_lo``/``value_hi`` (0 when absent).

The configuration term is present only when some configuration was run more than once
(several seeds). Then :math:`\sigma` is the seed-to-seed noise of repeated runs, and
:math:`\sigma_\text{config}\epsilon_c` is what the runs of one configuration share: the
law's misfit there. Repeated runs thus inform the run-to-run noise instead of counting as
independent evidence about the curve. Without repeated runs the two cannot be told apart
and :math:`\sigma` holds both.

With intermediate checkpoints (a training run with several rows), the rows of run
:math:`r` of family :math:`f` also share a run offset
:math:`b_r \sim \mathcal N(0, \sigma_{\text{run},f}^2)`, one scale per family, integrated
out exactly (:func:`run_marginal_logp`), so the checkpoints of one run do not count as
independent evidence either. How :math:`\theta_f` is built from the pooling choices is
in :mod:`bayescale.scaling.priors`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from bayescale.core import dims
from bayescale.core.errors import SpecificationError
from bayescale.scaling.laws import Law, get_law, pytensor_ops
from bayescale.scaling.priors import DataSummary, PriorSpec

if TYPE_CHECKING:
    import pymc as pm

__all__ = [
    "ModelSpec",
    "build_model",
    "config_index",
    "has_replicates",
    "measurement_se",
    "observed_y",
    "prior_hyperparameters",
    "structure_key",
]

LIKELIHOODS = ("normal", "studentt")
PRIOR_HYPER = "hyperparameter"
OBS_COLUMN = "obs_column"


@dataclass
class ModelSpec:
    """Everything besides the data that determines a bayescale model (stored with fits)."""

    law: str
    pooling: dict[str, str]
    priors: dict[str, PriorSpec]
    summary: DataSummary
    likelihood: str = "normal"
    nu: float = 4.0
    space: str = "log"
    interval_prob: float = 0.95
    config_effects: bool = False
    run_effects: bool = False
    #: ``None``: the learned extrapolation discrepancy (:mod:`bayescale.scaling.discrepancy`,
    #: its population draws stored with the fit); a number: the fixed rate of bayescale 0.1.
    extrapolation_rate: float | None = None
    #: The discrepancy reference used when ``extrapolation_rate`` is ``None``.
    discrepancy: str = ""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise SpecificationError(
                f"likelihood must be one of {LIKELIHOODS}, not {self.likelihood!r}"
            )
        if self.likelihood == "studentt" and not self.nu > 0:
            raise SpecificationError(f"Student-t nu must be > 0, not {self.nu}")
        if self.extrapolation_rate is not None and not (
            np.isfinite(self.extrapolation_rate) and self.extrapolation_rate >= 0
        ):
            raise SpecificationError(
                f"extrapolation_rate must be a number >= 0 (or None: the learned discrepancy), "
                f"not {self.extrapolation_rate}"
            )

    @property
    def law_obj(self) -> Law:
        return get_law(self.law)

    def to_json(self) -> str:
        out = asdict(self)
        return json.dumps(out, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        raw: dict[str, Any] = json.loads(text)
        raw["priors"] = {k: PriorSpec(**v) for k, v in raw["priors"].items()}
        raw["summary"] = DataSummary(**raw["summary"])
        return cls(**raw)


def observed_y(ds: xr.Dataset, space: str) -> np.ndarray:
    """The modelled observation: ``log(value)`` in log space, ``value`` otherwise."""
    value = ds["value"].values.astype(float)
    return np.log(value) if space == "log" else value


def measurement_se(ds: xr.Dataset, space: str, interval_prob: float) -> np.ndarray | None:
    """Known standard error of each observation from ``value_lo``/``value_hi``.

    The interval is read as a central normal interval of probability ``interval_prob`` on
    the modelled scale: :math:`\\mathrm{se} = (h - l) / (2 z_{(1+p)/2})`, with
    :math:`l, h` the logs of the ends in log space. Rows without an interval get 0.
    """
    if "value_lo" not in ds:
        return None
    from scipy import stats

    lo = ds["value_lo"].values.astype(float)
    hi = ds["value_hi"].values.astype(float)
    if space == "log":
        lo, hi = np.log(lo), np.log(hi)
    z = stats.norm.ppf(0.5 + interval_prob / 2)
    se = (hi - lo) / (2 * z)
    return np.where(np.isfinite(se), se, 0.0)


def config_index(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Label each observation with its configuration (family, N, D, checkpoint step).

    Returns the unique labels (``"family/N=../D=.."``) and the index of each observation.
    """
    step = (
        ds["checkpoint_step"].values
        if "checkpoint_step" in ds
        else np.full(ds.sizes[dims.OBS], np.nan)
    )
    keys = [
        f"{fam}/N={n:.6g}/D={d:.6g}" + ("" if np.isnan(st) else f"/step={st:.6g}")
        for fam, n, d, st in zip(
            ds["obs_family"].values, ds["params"].values, ds["tokens"].values, step, strict=True
        )
    ]
    labels, idx = np.unique(np.asarray(keys), return_inverse=True)
    return labels, idx.astype(np.int64)


def has_replicates(ds: xr.Dataset) -> bool:
    """Whether some configuration was run more than once (e.g. with several seeds)."""
    _, idx = config_index(ds)
    return bool(np.bincount(idx).max() > 1)


def replicate_statistics(
    y: np.ndarray, se: np.ndarray | None, config_idx: np.ndarray
) -> dict[str, np.ndarray]:
    """Per configuration: run count, mean, within sum of squares and mean squared error."""
    n = np.bincount(config_idx).astype(float)
    mean = np.bincount(config_idx, weights=y) / n
    ss = np.bincount(config_idx, weights=(y - mean[config_idx]) ** 2)
    se2 = np.zeros_like(y) if se is None else se**2
    return {
        "n": n,
        "mean": mean,
        "ss": ss,
        "se2": np.bincount(config_idx, weights=se2) / n,
        "first": np.unique(config_idx, return_index=True)[1],
    }


def _marginal_replicates(
    pm_mod: Any,
    pt: Any,
    mu: Any,
    sigma: Any,
    config_sigma: Any,
    y: np.ndarray,
    se: np.ndarray | None,
    config_idx: np.ndarray,
) -> None:
    r"""Normal likelihood with the configuration offsets integrated out.

    For configuration :math:`c` run :math:`n_c` times with mean :math:`\bar y_c` and
    within sum of squares :math:`S_c`, the joint density of its runs factorises into

    .. math::

        \bar y_c \sim \mathcal N\!\left(\eta_c,
            \sqrt{\sigma_\text{config}^2 + v_c / n_c}\right), \qquad
        S_c \sim \mathrm{Gamma}\!\left(\tfrac{n_c - 1}{2},\ \tfrac{1}{2 v_c}\right),

    with :math:`v_c = \sigma^2 + \overline{\mathrm{se}^2}_c` (exact when the known
    measurement errors of a configuration's runs are equal). No offsets are sampled: the
    non-centred offsets mixed poorly (R-hat 1.05 on simulated replicates), the centred ones
    made :math:`\sigma_\text{config}` a funnel. The observed variable ``y`` then has dim
    ``config`` (configuration means), and ``y_within`` holds :math:`S_c` of the replicated
    configurations; pointwise log-likelihoods are per configuration (leave one
    configuration out).
    """
    stats = replicate_statistics(y, se, config_idx)
    rep = stats["n"] > 1
    model = pm_mod.modelcontext(None)
    model.add_coord(dims.REPLICATED, np.asarray(model.coords[dims.CONFIG])[rep])
    n = pm_mod.Data("config_n", stats["n"], dims=dims.CONFIG)
    se2 = pm_mod.Data("config_se2", stats["se2"], dims=dims.CONFIG)
    ybar = pm_mod.Data("y_observed", stats["mean"], dims=dims.CONFIG)
    ss = pm_mod.Data(
        "y_within_observed", np.maximum(stats["ss"][rep], 1e-300), dims=dims.REPLICATED
    )
    run_var = sigma**2 + se2
    mu_c = mu[stats["first"]]
    pm_mod.Normal(
        dims.OBSERVED,
        mu=mu_c,
        sigma=pt.sqrt(config_sigma**2 + run_var / n),
        observed=ybar,
        dims=dims.CONFIG,
    )
    pm_mod.Gamma(
        "y_within",
        alpha=(n[rep] - 1) / 2,
        beta=1 / (2 * run_var[rep]),
        observed=ss,
        dims=dims.REPLICATED,
    )


def run_order(run_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort observations by run: the permutation, its inverse and each sorted row's run start.

    Returns ``order`` (sorted position -> observation), ``position`` (observation ->
    sorted position) and ``start`` (sorted position -> sorted position of the first row
    of the same run).
    """
    order = np.argsort(run_idx, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    sorted_runs = run_idx[order]
    first = np.r_[True, sorted_runs[1:] != sorted_runs[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
    return order, position, start


def run_marginal_logp(
    ops: Any, value: Any, mu: Any, var: Any, tau: Any, run_idx: np.ndarray
) -> Any:
    r"""Pointwise log density of observations whose run offsets are integrated out.

    Within run :math:`r` the residuals :math:`e_i = y_i - \eta_i` share an offset
    :math:`b_r \sim \mathcal N(0, \tau^2)` and have independent noise of variance
    :math:`v_i`, so the run is jointly normal with covariance
    :math:`\mathrm{diag}(v) + \tau^2 \mathbf 1 \mathbf 1^\top`. Its density is written as
    the product of sequential conditionals (rows in data order within a run):

    .. math::

        e_j \mid e_{<j} \sim \mathcal N\!\left(m_j,\ \sqrt{v_j + V_j}\right), \quad
        V_j = \frac{\tau^2}{1 + \tau^2 \sum_{k<j} v_k^{-1}}, \quad
        m_j = V_j \sum_{k<j} e_k / v_k,

    which is exact, costs :math:`O(n)` with cumulative sums and never samples an offset
    (a non-centred offset per run mixes badly when a run has many checkpoints; a centred
    one makes :math:`\tau` a funnel). The sum over a run's rows is that run's joint log
    density; summed per run, the values give leave-one-run-out LOO.

    ``tau`` is a scalar or one value per observation (equal within a run: the scale of
    the run's family). ``ops`` is ``pytensor.tensor`` or ``numpy``.
    """
    order, position, start = run_order(np.asarray(run_idx))
    e = (value - mu)[order]
    v = var[order]
    if getattr(tau, "ndim", 0):
        tau = tau[order]
    w = 1.0 / v
    cw = ops.cumsum(w) - w
    cew = ops.cumsum(e * w) - e * w
    sw = cw - cw[start]
    sew = cew - cew[start]
    t2 = tau**2
    denom = 1.0 + t2 * sw
    mean = t2 * sew / denom
    total = v + t2 / denom
    lp = -0.5 * (np.log(2 * np.pi) + ops.log(total) + (e - mean) ** 2 / total)
    return lp[position]


def _run_marginal(
    pm_mod: Any,
    pt: Any,
    mu: Any,
    var: Any,
    run_sigma: Any,
    y: np.ndarray,
    run_idx: np.ndarray,
) -> None:
    """Observed ``y`` with run offsets integrated out (see :func:`run_marginal_logp`)."""
    run_idx = np.asarray(run_idx, dtype=np.int64)

    def logp(value: Any, mu_: Any, var_: Any, tau_: Any) -> Any:
        return run_marginal_logp(pt, value, mu_, var_, tau_, run_idx)

    def random(
        mu_: np.ndarray,
        var_: np.ndarray,
        tau_: np.ndarray,
        rng: np.random.Generator | None = None,
        size: tuple[int, ...] | None = None,
    ) -> np.ndarray:
        rng = rng or np.random.default_rng()
        tau_obs = np.broadcast_to(tau_, run_idx.shape)
        first = np.unique(run_idx, return_index=True)[1]
        offsets = np.zeros(int(run_idx.max()) + 1)
        offsets[run_idx[first]] = tau_obs[first] * rng.standard_normal(first.size)
        mean = np.broadcast_to(mu_, run_idx.shape) + offsets[run_idx]
        return mean + np.sqrt(var_) * rng.standard_normal(run_idx.shape)

    y_data = pm_mod.Data("y_observed", y, dims=dims.OBS)
    pm_mod.CustomDist(
        dims.OBSERVED,
        mu,
        var,
        run_sigma,
        logp=logp,
        random=random,
        observed=y_data,
        dims=dims.OBS,
    )


def prior_hyperparameters(spec: ModelSpec) -> dict[str, float]:
    """The prior hyper-parameters of ``spec``, in the order of the ``prior_hyper`` data.

    Keys are ``<raw>.mu``, ``<raw>.sigma`` and (pooled) ``<raw>.tau`` for each law
    parameter, then ``sigma.sigma`` and, when modelled, ``config_sigma.sigma`` and
    ``run_sigma.sigma``. Priors are centred on the data (:mod:`bayescale.scaling.priors`), so
    they change with the data set; held in one data container (dim ``hyperparameter``) they
    leave the compiled model unchanged (:mod:`bayescale.core.compiled`). One vector, not a
    container each: every container is one more argument of the compiled function, and
    eleven scalar containers added 3.5 s to Numba's compile of a chinchilla model.
    """
    law = spec.law_obj
    out: dict[str, float] = {}
    for p in law.parameters:
        prior = spec.priors[p.name]
        out[f"{p.raw_name}.mu"] = float(prior.mu)
        out[f"{p.raw_name}.sigma"] = float(prior.sigma)
        if spec.pooling[p.name] == "pooled":
            out[f"{p.raw_name}.tau"] = float(prior.group_sigma)
    out["sigma.sigma"] = float(spec.priors["sigma"].sigma)
    if spec.config_effects:
        out["config_sigma.sigma"] = float(spec.priors["config_sigma"].sigma)
    if spec.run_effects:
        out["run_sigma.sigma"] = float(spec.priors.get("run_sigma", PriorSpec(sigma=0.02)).sigma)
    return out


def _param_block(
    pm_mod: Any, pt: Any, name: str, raw: str, positive: bool, hyper: Mapping[str, Any], how: str
) -> Any:
    """Create the variables of one law parameter; return its value per family (or scalar).

    ``hyper`` maps ``<raw>.mu``, ``<raw>.sigma`` and ``<raw>.tau`` to the prior's
    location and scales (elements of the ``prior_hyper`` data container).
    """
    mu, sd = hyper[f"{raw}.mu"], hyper[f"{raw}.sigma"]
    if how == "shared":
        z = pm_mod.Normal(raw, mu, sd)
        return pm_mod.Deterministic(name, pt.exp(z)) if positive else z
    if how == "independent":
        z = pm_mod.Normal(raw, mu, sd, dims=dims.FAMILY)
    elif how == "pooled":
        mean = pm_mod.Normal(f"{raw}_mu", mu, sd)
        tau = pm_mod.HalfNormal(f"{raw}_tau", hyper[f"{raw}.tau"])
        offset = pm_mod.ZeroSumNormal(f"{raw}_offset", sigma=1.0, dims=dims.FAMILY)
        z = pm_mod.Deterministic(raw, mean + tau * offset, dims=dims.FAMILY)
    else:  # pragma: no cover - resolve_pooling guards this
        raise SpecificationError(f"unknown pooling {how!r}")
    return pm_mod.Deterministic(name, pt.exp(z), dims=dims.FAMILY) if positive else z


def structure_key(ds: xr.Dataset, spec: ModelSpec) -> tuple[Any, ...]:
    """What determines the *compiled* model of :func:`build_model`, besides data containers.

    Two (data, specification) pairs with equal keys build models that differ only in the
    values of their ``pm.Data`` containers (observations, centred inputs, family index,
    measurement errors, prior hyper-parameters), so one compiled model serves both
    (:mod:`bayescale.core.compiled`). The key holds the law, pooling, likelihood, scale and
    the number of families; the number of observations is free. Repeated runs and
    checkpoints bake their grouping into the graph, so it is part of the key.
    """
    key: list[Any] = [
        spec.law,
        tuple(sorted(spec.pooling.items())),
        spec.likelihood,
        float(spec.nu),
        spec.space,
        bool(spec.config_effects),
        bool(spec.run_effects),
        "value_lo" in ds,
        int(ds.sizes[dims.FAMILY]),
    ]
    if spec.config_effects:
        key.append(hashlib.sha1(config_index(ds)[1].tobytes()).hexdigest())
    if spec.run_effects:
        run_idx = np.asarray(ds["run_idx"].values, np.int64)
        key.append(hashlib.sha1(run_idx.tobytes()).hexdigest())
        key.append(int(ds.sizes[dims.RUN]))
    return tuple(key)


def build_model(ds: xr.Dataset, spec: ModelSpec) -> pm.Model:
    """Build the PyMC model of ``spec`` on validated data ``ds`` (nothing is sampled).

    Parameters
    ----------
    ds
        Output of :func:`bayescale.scaling.data.validate`.
    spec
        Law, pooling, priors, likelihood and data summary.

    Returns
    -------
    pymc.Model
        Coordinates ``obs``, ``family`` (and ``config`` with repeated runs); data
        containers ``obs_data`` (dims ``obs``, ``obs_column``: the centred log inputs
        ``u_<input>``, the observation ``y`` and, with intervals, ``measurement_se``),
        ``prior_hyper``, ``family_idx`` (several families), ``config_idx``, ``run_idx``;
        observed variable ``y``.

    Notes
    -----
    Every per-observation float is a column of the one ``obs_data`` matrix, so PyTensor
    knows they have the same length and drops its run-time broadcast checks; with one
    family the parameters are scalars rather than indexed by ``family_idx``. Together
    these cut the compile of a chinchilla model on 245 points in a process with empty
    caches from 11.4 s to 8.4 s (``docs/speed.md``).
    """
    import pymc as pm
    import pytensor.tensor as pt

    law = spec.law_obj
    coords: dict[str, Any] = {
        dims.OBS: ds[dims.OBS].values,
        dims.FAMILY: ds[dims.FAMILY].values,
    }
    if spec.config_effects:
        config_labels, config_idx = config_index(ds)
        coords[dims.CONFIG] = config_labels
    if spec.run_effects:
        coords[dims.RUN] = ds[dims.RUN].values
    hyper_values = prior_hyperparameters(spec)
    coords[PRIOR_HYPER] = list(hyper_values)
    with pm.Model(coords=coords) as model:
        hyper_data = pm.Data("prior_hyper", np.array(list(hyper_values.values())), dims=PRIOR_HYPER)
        hyper = {name: hyper_data[i] for i, name in enumerate(hyper_values)}
        se = measurement_se(ds, spec.space, spec.interval_prob)
        y_values = observed_y(ds, spec.space)
        column = {f"u_{x}": np.log(ds[x].values) - spec.summary.log_ref[x] for x in law.inputs}
        column["y"] = y_values
        if se is not None:
            column["measurement_se"] = se
        model.add_coord(OBS_COLUMN, list(column))
        obs_data = pm.Data(
            "obs_data", np.column_stack(list(column.values())), dims=(dims.OBS, OBS_COLUMN)
        )
        col = {name: obs_data[:, i] for i, name in enumerate(column)}
        u = {x: col[f"u_{x}"] for x in law.inputs}
        one_family = ds.sizes[dims.FAMILY] == 1
        if not one_family:
            family_idx = pm.Data("family_idx", ds["family_idx"].values, dims=dims.OBS)
        theta: dict[str, Any] = {}
        for p in law.parameters:
            value = _param_block(
                pm, pt, p.name, p.raw_name, p.positive, hyper, spec.pooling[p.name]
            )
            if spec.pooling[p.name] == "shared":
                theta[p.name] = value
            else:
                theta[p.name] = value[0] if one_family else value[family_idx]
        eta = law.log_mean(pytensor_ops(), theta, u)
        mu = eta if spec.space == "log" else pt.exp(eta)
        sigma = pm.HalfNormal("sigma", hyper["sigma.sigma"])
        if spec.config_effects:
            config_sigma = pm.HalfNormal("config_sigma", hyper["config_sigma.sigma"])
        if spec.run_effects:
            # One scale per family: a family whose runs stray from the law must not
            # loosen the runs of the others (a shared scale let 0.24 from one family
            # free the level of every run, and a family with one run lost its curve).
            run_sigma = pm.HalfNormal("run_sigma", hyper["run_sigma.sigma"], dims=dims.FAMILY)
            # per observation, as run_marginal_logp reorders it with the rows
            run_tau = pt.zeros_like(mu) + run_sigma[0] if one_family else run_sigma[family_idx]
        if spec.config_effects and spec.likelihood == "normal" and not spec.run_effects:
            _marginal_replicates(pm, pt, mu, sigma, config_sigma, y_values, se, config_idx)
            return model
        if spec.config_effects:
            idx = pm.Data("config_idx", config_idx, dims=dims.OBS)
            config_offset = pm.Normal("config_offset", 0.0, 1.0, dims=dims.CONFIG)
            shift = config_sigma * config_offset[idx]
            mu = mu + shift if spec.space == "log" else pt.exp(eta + shift)
        if se is not None:
            scale = pt.sqrt(sigma**2 + col["measurement_se"] ** 2)
        else:
            scale = sigma
        run_idx = ds["run_idx"].values if spec.run_effects else np.zeros(0, dtype=np.int64)
        if spec.run_effects and spec.likelihood == "normal":
            var = pt.zeros_like(mu) + scale**2
            _run_marginal(pm, pt, mu, var, run_tau, y_values, run_idx)
            return model
        if spec.run_effects:
            r_idx = pm.Data("run_idx", run_idx, dims=dims.OBS)
            run_offset = pm.Normal("run_offset", 0.0, 1.0, dims=dims.RUN)
            shift = run_tau * run_offset[r_idx]
            mu = mu + shift
        y = col["y"]
        if spec.likelihood == "normal":
            pm.Normal(dims.OBSERVED, mu=mu, sigma=scale, observed=y, dims=dims.OBS)
        else:
            pm.StudentT(dims.OBSERVED, nu=spec.nu, mu=mu, sigma=scale, observed=y, dims=dims.OBS)
    return model
