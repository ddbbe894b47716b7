r"""The hierarchical model: a pure function from (data, specification) to a PyMC model.

For observation :math:`i` of family :math:`f = f[i]` and seed :math:`s = s[i]`

.. math::

    \eta_i = \log L_\text{law}(x_i;\ \theta_f) + \sigma_\text{seed}\,\epsilon_s, \qquad
    y_i \sim \mathcal D\!\left(\eta_i,\ \sqrt{\sigma^2 + \mathrm{se}_i^2}\right),

where :math:`y_i = \log \text{value}_i` (``space="log"``, the default) or
:math:`y_i = \text{value}_i` with :math:`\eta_i` replaced by :math:`e^{\eta_i}`
(``space="linear"``); :math:`\mathcal D` is Normal or Student-t with fixed
:math:`\nu`; :math:`\mathrm{se}_i` is the known measurement error from
``value_lo``/``value_hi`` (0 when absent) and the seed term is present only when some
family has two or more seeds. How :math:`\theta_f` is built from the pooling choices is in
:mod:`bayescale.priors`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from scipy import stats

from bayescale import dims
from bayescale.errors import SpecificationError
from bayescale.laws import Law, get_law, pytensor_ops
from bayescale.priors import DataSummary, PriorSpec

if TYPE_CHECKING:
    import pymc as pm

__all__ = ["ModelSpec", "build_model", "measurement_se", "observed_y"]

LIKELIHOODS = ("normal", "studentt")


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
    seed_effects: bool = False
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise SpecificationError(
                f"likelihood must be one of {LIKELIHOODS}, not {self.likelihood!r}"
            )
        if self.likelihood == "studentt" and not self.nu > 0:
            raise SpecificationError(f"Student-t nu must be > 0, not {self.nu}")

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
    lo = ds["value_lo"].values.astype(float)
    hi = ds["value_hi"].values.astype(float)
    if space == "log":
        lo, hi = np.log(lo), np.log(hi)
    z = stats.norm.ppf(0.5 + interval_prob / 2)
    se = (hi - lo) / (2 * z)
    return np.where(np.isfinite(se), se, 0.0)


def _param_block(
    pm_mod: Any, pt: Any, name: str, raw: str, positive: bool, prior: PriorSpec, how: str
) -> Any:
    """Create the variables of one law parameter; return its value per family (or scalar)."""
    if how == "shared":
        z = pm_mod.Normal(raw, prior.mu, prior.sigma)
        return pm_mod.Deterministic(name, pt.exp(z)) if positive else z
    if how == "independent":
        z = pm_mod.Normal(raw, prior.mu, prior.sigma, dims=dims.FAMILY)
    elif how == "pooled":
        mean = pm_mod.Normal(f"{raw}_mu", prior.mu, prior.sigma)
        tau = pm_mod.HalfNormal(f"{raw}_tau", prior.group_sigma)
        offset = pm_mod.ZeroSumNormal(f"{raw}_offset", sigma=1.0, dims=dims.FAMILY)
        z = pm_mod.Deterministic(raw, mean + tau * offset, dims=dims.FAMILY)
    else:  # pragma: no cover - resolve_pooling guards this
        raise SpecificationError(f"unknown pooling {how!r}")
    return pm_mod.Deterministic(name, pt.exp(z), dims=dims.FAMILY) if positive else z


def build_model(ds: xr.Dataset, spec: ModelSpec) -> pm.Model:
    """Build the PyMC model of ``spec`` on validated data ``ds`` (nothing is sampled).

    Parameters
    ----------
    ds
        Output of :func:`bayescale.data.validate`.
    spec
        Law, pooling, priors, likelihood and data summary.

    Returns
    -------
    pymc.Model
        Coordinates ``obs``, ``family`` (and ``seed`` with seed effects); data containers
        ``u_<input>`` (centred log scales), ``family_idx``, ``seed_idx``,
        ``measurement_se``; observed variable ``y``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    law = spec.law_obj
    coords: dict[str, Any] = {
        dims.OBS: ds[dims.OBS].values,
        dims.FAMILY: ds[dims.FAMILY].values,
    }
    if spec.seed_effects:
        coords[dims.SEED] = ds[dims.SEED].values
    with pm.Model(coords=coords) as model:
        u = {
            x: pm.Data(
                f"u_{x}", np.log(ds[x].values) - spec.summary.log_ref[x], dims=dims.OBS
            )
            for x in law.inputs
        }
        family_idx = pm.Data("family_idx", ds["family_idx"].values, dims=dims.OBS)
        theta: dict[str, Any] = {}
        for p in law.parameters:
            value = _param_block(
                pm, pt, p.name, p.raw_name, p.positive, spec.priors[p.name], spec.pooling[p.name]
            )
            theta[p.name] = value if spec.pooling[p.name] == "shared" else value[family_idx]
        eta = law.log_mean(pytensor_ops(), theta, u)
        if spec.seed_effects:
            seed_idx = pm.Data("seed_idx", ds["seed_idx"].values, dims=dims.OBS)
            seed_sigma = pm.HalfNormal("seed_sigma", spec.priors["seed_sigma"].sigma)
            seed_offset = pm.Normal("seed_offset", 0.0, 1.0, dims=dims.SEED)
            eta = eta + seed_sigma * seed_offset[seed_idx]
        mu = eta if spec.space == "log" else pt.exp(eta)
        sigma = pm.HalfNormal("sigma", spec.priors["sigma"].sigma)
        se = measurement_se(ds, spec.space, spec.interval_prob)
        if se is not None:
            se_data = pm.Data("measurement_se", se, dims=dims.OBS)
            scale = pt.sqrt(sigma**2 + se_data**2)
        else:
            scale = sigma
        y = pm.Data("y_observed", observed_y(ds, spec.space), dims=dims.OBS)
        if spec.likelihood == "normal":
            pm.Normal(dims.OBSERVED, mu=mu, sigma=scale, observed=y, dims=dims.OBS)
        else:
            pm.StudentT(dims.OBSERVED, nu=spec.nu, mu=mu, sigma=scale, observed=y, dims=dims.OBS)
    return model
