r"""Default priors, pooling choices and the data summary they are scaled to.

Each law parameter :math:`\theta` is sampled on an unconstrained scale
:math:`z = \log\theta` for positive parameters (so its prior is log-normal) and
:math:`z = \theta` otherwise, with a normal prior :math:`z \sim \mathcal N(\mu, \sigma)`.

Pooling, per parameter, across the ``family`` dimension:

``shared``
    one value for every family, :math:`z \sim \mathcal N(\mu, \sigma)`.
``independent``
    one value per family, each :math:`z_f \sim \mathcal N(\mu, \sigma)`.
``pooled``
    family values drawn from a population, written non-centred:
    :math:`m \sim \mathcal N(\mu, \sigma)`, :math:`\tau \sim \mathrm{HalfNormal}(s_g)`,
    :math:`\epsilon_f \sim \mathcal N(0, 1)`, :math:`z_f = m + \tau \epsilon_f`.

Defaults: exponents ``pooled``, offsets and scales ``independent``, shape parameters
(break location and sharpness) ``shared``. Priors are resolved in one line of precedence:
the user's values beat the data-driven defaults below.

====================  ==========================================  =====================
kind                  prior of the unconstrained value            group scale :math:`s_g`
====================  ==========================================  =====================
offset ``E``          :math:`\mathcal N(\log(0.6\,y_\min), 0.5)`       0.2
scale ``A_ref``       :math:`\mathcal N(\log(0.5\,(\tilde y - 0.6\,y_\min)), 1)`   0.5
exponent              :math:`\mathcal N(\log 0.3, 0.5)`                 0.1
``delta``             :math:`\mathcal N(0, 0.3)`                         0.2
``log_break``         :math:`\mathcal N(0, 0.5\,\mathrm{sd}(u))`         0.2
``sharpness``         :math:`\mathcal N(\log 0.5, 0.5)`                  0.2
====================  ==========================================  =====================

(:math:`y_\min` and :math:`\tilde y` are the smallest and the median observed value;
:math:`\mathrm{sd}(u)` the spread of the centred log scale.) The break of a broken power
law is kept inside the data: a break the data do not bracket cannot be estimated, and a
wider prior (``sd(u)``) let chains settle in different modes (R-hat 1.53 on simulated data).
The noise scale is :math:`\sigma \sim \mathrm{HalfNormal}(0.05)` in log space (5 % relative
error; :math:`0.05\,\tilde y` in linear space); the scale of the offsets shared by
repeated runs of one configuration is :math:`\mathrm{HalfNormal}(0.02)`, and so is that
of the offsets shared by the checkpoints of one run, per family (likewise scaled): runs
of one configuration are expected to differ by a few per cent at most. The population scale of
exponents, :math:`s_g = 0.1`, says that exponents of different families differ by about
10 %; with
three families the data cannot pin :math:`\tau` down and a vague prior produces the funnel
that made a naive model diverge (``docs/pooling.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np
import xarray as xr

from bayescale.core.errors import SpecificationError
from bayescale.scaling.laws import Law

__all__ = [
    "DataSummary",
    "PriorSpec",
    "default_pooling",
    "default_prior",
    "resolve_pooling",
    "resolve_priors",
]

Pooling = Literal["shared", "pooled", "independent"]
POOLING_CHOICES: tuple[str, ...] = ("shared", "pooled", "independent")
NOISE_KEYS = ("sigma", "config_sigma", "run_sigma")


@dataclass(frozen=True)
class PriorSpec:
    """Normal prior on a parameter's unconstrained value, and its population scale.

    For the noise scales ``sigma``, ``config_sigma`` and ``run_sigma`` only ``sigma`` is
    used: the scale of a half-normal prior.
    """

    mu: float = 0.0
    sigma: float = 1.0
    group_sigma: float = 0.2

    def __post_init__(self) -> None:
        for name in ("sigma", "group_sigma"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise SpecificationError(f"prior {name} must be a positive number, not {value}")
        if not np.isfinite(self.mu):
            raise SpecificationError(f"prior mu must be finite, not {self.mu}")


@dataclass(frozen=True)
class DataSummary:
    """What the data-driven defaults are scaled to (stored with every fit)."""

    y_min: float
    y_median: float
    log_ref: dict[str, float]
    u_sd: dict[str, float]
    space: str
    #: log of the largest value of each input in the training data (where extrapolation
    #: starts; see :mod:`bayescale.scaling.forecast`).
    log_max: dict[str, float] = field(default_factory=dict)
    #: the same per family: a family's forecasts extrapolate from its own largest run.
    family_log_max: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def from_dataset(cls, ds: xr.Dataset, inputs: tuple[str, ...]) -> DataSummary:
        value = ds["value"].values
        log_ref: dict[str, float] = {}
        u_sd: dict[str, float] = {}
        log_max: dict[str, float] = {}
        for col in inputs:
            logs = np.log(ds[col].values)
            log_ref[col] = float(np.mean(logs))
            u_sd[col] = float(max(np.std(logs), 1e-3))
            log_max[col] = float(np.max(logs))
        family_log_max: dict[str, dict[str, float]] = {}
        if "obs_family" in ds.coords:
            fam = ds["obs_family"].values.astype(str)
            for name in np.unique(fam):
                rows = fam == name
                family_log_max[str(name)] = {
                    col: float(np.max(np.log(ds[col].values[rows]))) for col in inputs
                }
        return cls(
            y_min=float(np.min(value)),
            y_median=float(np.median(value)),
            log_ref=log_ref,
            u_sd=u_sd,
            space=str(ds.attrs.get("space", "log")),
            log_max=log_max,
            family_log_max=family_log_max,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_prior(law: Law, name: str, summary: DataSummary) -> PriorSpec:
    """The data-driven default prior of parameter (or noise scale) ``name``."""
    ymin = max(summary.y_min, 1e-12)
    ymed = max(summary.y_median, ymin)
    if name == "sigma":
        scale = 0.05 if summary.space == "log" else 0.05 * abs(ymed)
        return PriorSpec(sigma=scale)
    if name == "config_sigma":
        scale = 0.02 if summary.space == "log" else 0.02 * abs(ymed)
        return PriorSpec(sigma=scale)
    if name == "run_sigma":
        scale = 0.02 if summary.space == "log" else 0.02 * abs(ymed)
        return PriorSpec(sigma=scale)
    param = law.parameter(name)
    if param.kind == "offset":
        return PriorSpec(mu=float(np.log(0.6 * ymin)), sigma=0.5, group_sigma=0.2)
    if param.kind == "scale":
        reducible = max(ymed - 0.6 * ymin, 0.05 * ymed)
        return PriorSpec(mu=float(np.log(0.5 * reducible)), sigma=1.0, group_sigma=0.5)
    if param.kind == "exponent":
        return PriorSpec(mu=float(np.log(0.3)), sigma=0.5, group_sigma=0.1)
    if name == "delta":
        return PriorSpec(mu=0.0, sigma=0.3, group_sigma=0.2)
    if name == "log_break":
        return PriorSpec(mu=0.0, sigma=0.5 * float(max(summary.u_sd.values())), group_sigma=0.2)
    if name == "sharpness":
        return PriorSpec(mu=float(np.log(0.5)), sigma=0.5, group_sigma=0.2)
    raise SpecificationError(f"no default prior for parameter {name!r} of {law.name}")


def resolve_priors(
    law: Law,
    summary: DataSummary,
    priors: Mapping[str, PriorSpec | Mapping[str, float]] | None = None,
) -> dict[str, PriorSpec]:
    """Priors for every parameter and noise scale: the user's beat the data-driven defaults.

    ``priors`` maps a parameter name (or ``"sigma"``, ``"config_sigma"``, ``"run_sigma"``)
    to a :class:`PriorSpec` or a dict with any of ``mu``, ``sigma``, ``group_sigma``; keys left
    out keep their defaults.
    """
    names = [*law.parameter_names, *NOISE_KEYS]
    priors = dict(priors or {})
    unknown = sorted(set(priors) - set(names))
    if unknown:
        raise SpecificationError(
            f"priors given for {unknown}, which {law.name!r} does not have; it has {names}"
        )
    out: dict[str, PriorSpec] = {}
    for name in names:
        default = default_prior(law, name, summary)
        user = priors.get(name)
        if user is None:
            out[name] = default
        elif isinstance(user, PriorSpec):
            out[name] = user
        else:
            bad = sorted(set(user) - {"mu", "sigma", "group_sigma"})
            if bad:
                raise SpecificationError(
                    f"prior of {name!r} has unknown keys {bad}; use mu, sigma, group_sigma"
                )
            out[name] = replace(default, **{k: float(v) for k, v in user.items()})
    return out


def default_pooling(law: Law) -> dict[str, str]:
    """Exponents pooled, offsets and scales per family, shape parameters shared."""
    choice = {"exponent": "pooled", "offset": "independent", "scale": "independent"}
    return {p.name: choice.get(p.kind, "shared") for p in law.parameters}


def resolve_pooling(
    law: Law, pooling: Mapping[str, str] | str | None, n_families: int
) -> tuple[dict[str, str], list[str]]:
    """Pooling per parameter, from defaults, then kinds, then names.

    ``pooling`` may be one choice for every parameter (``"shared"``), or a dict whose keys
    are parameter names or parameter kinds (``"exponent"``, ``"offset"``, ``"scale"``,
    ``"shape"``); a name beats a kind. With one family every choice is the same model and
    ``pooled`` is turned into ``independent`` (reported in the returned notes).
    """
    out = default_pooling(law)
    if isinstance(pooling, str):
        pooling = {p.name: pooling for p in law.parameters}
    pooling = dict(pooling or {})
    kinds = {p.kind for p in law.parameters}
    for key, choice in pooling.items():
        if choice not in POOLING_CHOICES:
            raise SpecificationError(
                f"pooling of {key!r} is {choice!r}; choose one of {POOLING_CHOICES}"
            )
        if key not in kinds and key not in law.parameter_names:
            raise SpecificationError(
                f"pooling key {key!r} is neither a parameter {law.parameter_names} "
                f"nor a kind {sorted(kinds)} of {law.name!r}"
            )
    for key, choice in pooling.items():
        if key in kinds and key not in law.parameter_names:
            for p in law.parameters:
                if p.kind == key:
                    out[p.name] = choice
    for key, choice in pooling.items():
        if key in law.parameter_names:
            out[key] = choice
    notes: list[str] = []
    if n_families == 1:
        turned = [k for k, v in out.items() if v == "pooled"]
        if turned:
            notes.append(f"one family: fitted {turned} per family instead of pooled")
        out = {k: ("independent" if v == "pooled" else v) for k, v in out.items()}
    return out, notes
