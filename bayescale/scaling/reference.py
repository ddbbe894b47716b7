r"""Reference posteriors: fits on the shipped data sets, reused as priors for new families.

A reference is a fit of one law to one shipped data set with every setting written down
(:class:`ReferenceSpec`). Built references live in the top-level ``models/`` folder, one
folder per reference::

    models/<name>/spec.json      the specification (data set, metric, law, pooling,
                                 checkpoint filter, sampler settings) and diagnostics
    models/<name>/fit.nc         the posterior and its training data (ScalingFit.save)
    models/<name>/summary.csv    az.summary of the parameters (90% equal-tailed intervals)

Rebuild them with (:mod:`bayescale.scaling.reference_build`)::

    python -m bayescale.scaling.reference_build build            # every reference
    python -m bayescale.scaling.reference_build build gadre2024_chinchilla

The population distribution of exponents
----------------------------------------
``bayescale.fit(data, prior="<reference>")`` turns a reference's posterior into the prior
of the exponents (parameters of kind ``"exponent"``: :math:`\alpha`, :math:`\beta`) of the
new fit. For an exponent pooled across the reference's :math:`F` families, with
population mean :math:`m` and scale :math:`\tau` on the log scale, the exponent of a new
family is :math:`z_\text{new} = m + \tau\sqrt{1 + 1/F}\,\epsilon`, whose moments over the
reference posterior are

.. math::

    \mathbb E[z_\text{new}] = \mathbb E[m], \qquad
    \operatorname{Var}[z_\text{new}] = \operatorname{Var}[m]
        + (1 + 1/F)\,\mathbb E[\tau^2].

The new fit then uses

* for an exponent fitted ``shared`` or ``independent`` (or a one-family fit):
  :math:`z \sim \mathcal N(\mathbb E[z_\text{new}], \mathrm{sd}[z_\text{new}])`, the
  population predictive of one new family;
* for an exponent ``pooled`` across the new fit's families: the population mean
  :math:`m \sim \mathcal N(\mathbb E[m], \mathrm{sd}[m])` and the population scale
  :math:`\tau \sim \mathrm{HalfNormal}(\sqrt{\mathbb E[\tau^2]})`.

An exponent the reference fitted ``shared`` gives :math:`\mathcal N(\mathbb E[z],
\mathrm{sd}[z])`, one ``independent`` the mean and spread of its family values
(:math:`\operatorname{Var}[z_\text{new}] = \operatorname{Var}_f \mathbb E[z_f] +
\mathbb E_f \operatorname{Var}[z_f]`). Offsets and scales are not transferred: they depend
on the data set's metric and units. Priors given explicitly with ``priors=`` win.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from bayescale.core.errors import SpecificationError
from bayescale.scaling.laws import Law, get_law
from bayescale.scaling.priors import PriorSpec

if TYPE_CHECKING:
    from bayescale.scaling.fitting import ScalingFit

__all__ = [
    "REFERENCES",
    "ReferenceSpec",
    "exponent_priors",
    "load_reference",
    "models_dir",
    "population_exponents",
]

#: Environment variable naming the folder of reference posteriors (default: ``models/``
#: at the top of the repository).
MODELS_ENV = "BAYESCALE_MODELS"


@dataclass(frozen=True)
class ReferenceSpec:
    """Everything that determines a reference posterior.

    Attributes
    ----------
    name
        Folder name under ``models/`` and the value of ``fit(prior=...)``.
    dataset, metric
        Shipped data set (:func:`bayescale.datasets.load`) and metric.
    law
        Law name (:func:`bayescale.get_law`).
    pooling
        Pooling passed to :func:`bayescale.fit` (``None``: the default, exponents pooled).
    families
        Families kept (``None``: all).
    checkpoints
        Keyword arguments of :func:`bayescale.scaling.checkpoints.drop_early_checkpoints`, or
        ``None`` to keep every row.
    thin
        Largest number of checkpoints kept per run
        (:func:`bayescale.scaling.checkpoints.thin_checkpoints`), or ``None``.
    sampler
        Keyword arguments of :func:`bayescale.fit` for sampling (draws, tune, chains, seed,
        nuts_sampler, target_accept).
    description
        One sentence for humans.
    """

    name: str
    dataset: str
    metric: str
    law: str
    description: str
    pooling: dict[str, str] | None = None
    families: tuple[str, ...] | None = None
    checkpoints: dict[str, Any] | None = None
    thin: int | None = None
    sampler: dict[str, Any] = field(
        default_factory=lambda: {
            "draws": 1000,
            "tune": 1000,
            "chains": 4,
            "seed": 0,
            "nuts_sampler": "nutpie",
            "target_accept": 0.95,
        }
    )


#: The references shipped in ``models/``.
REFERENCES: dict[str, ReferenceSpec] = {
    spec.name: spec
    for spec in (
        ReferenceSpec(
            name="gadre2024_chinchilla",
            dataset="gadre2024",
            metric="loss_c4_val",
            law="chinchilla",
            description=(
                "C4 validation loss of 104 runs on three corpora (Gadre et al. 2024), "
                "exponents pooled across corpora."
            ),
        ),
        ReferenceSpec(
            name="colpret2024_chinchilla",
            dataset="colpret2024",
            metric="loss",
            law="chinchilla",
            description=(
                "Loss curves of five ColPret model families with three or more sizes "
                "(Choshen et al. 2024), checkpoints before 10B tokens dropped, at most 12 "
                "per run, exponents pooled across families."
            ),
            families=(
                "GPT-3",
                "OPT",
                "OLMo",
                "datablations-c4-1ep",
                "datablations-oscar-1ep",
            ),
            checkpoints={"min_tokens": 1e10},
            thin=12,
        ),
    )
}


def models_dir() -> Path:
    """The folder holding reference posteriors.

    ``$BAYESCALE_MODELS`` when set; else ``bayescale/models`` inside an installed package
    (the wheel ships the repository's top-level ``models/`` there as package data); else
    ``<repo>/models`` in a source checkout (an editable install).
    """
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env)
    package = Path(__file__).resolve().parents[1]
    installed = package / "models"
    if installed.is_dir():
        return installed
    return package.parent / "models"


def _folder(reference: str | os.PathLike[str]) -> Path:
    path = Path(reference)
    if path.is_dir():
        return path
    name = str(reference)
    folder = models_dir() / name
    if (folder / "fit.nc").exists():
        return folder
    known = sorted(REFERENCES)
    built = sorted(p.name for p in models_dir().glob("*") if (p / "fit.nc").exists())
    hint = (
        f"'{name}' is a known reference that has not been built here: run "
        f"`python -m bayescale.scaling.reference_build build {name}`"
        if name in REFERENCES
        else f"known references are {known}"
    )
    raise SpecificationError(
        f"no reference posterior {name!r} in {str(models_dir())!r} (built: {built}); {hint}. "
        f"Set ${MODELS_ENV} to another folder, or pass the path of a reference folder."
    )


def load_reference(reference: str | os.PathLike[str]) -> ScalingFit:
    """Load a reference posterior by name (under :func:`models_dir`) or folder path."""
    from bayescale.core.results import load

    path = _folder(reference) / "fit.nc"
    fit = load(path)
    if fit.kind != "scaling":
        raise SpecificationError(f"{str(path)!r} holds a {fit.kind!r} fit, not a scaling law")
    return cast("ScalingFit", fit)


def population_exponents(fit: ScalingFit) -> dict[str, dict[str, Any]]:
    r"""Moments of the log exponents of a new family under a fit's population.

    Returns
    -------
    dict
        ``name -> {"mean", "sd", "m_mean", "m_sd", "tau_rms", "n_families", "pooling"}``
        for every parameter of kind ``"exponent"``: ``mean``/``sd`` of
        :math:`z_\text{new}`, and for pooled exponents the posterior mean and sd of the
        population mean :math:`m` and :math:`\sqrt{\mathbb E[\tau^2]}`.
    """
    post = fit.posterior
    n_fam = len(fit.families)
    out: dict[str, dict[str, Any]] = {}
    for p in fit.law.parameters:
        if p.kind != "exponent":
            continue
        how = fit.spec.pooling[p.name]
        raw = post[p.raw_name].values if p.raw_name in post else None
        if how == "pooled":
            m = post[f"{p.raw_name}_mu"].values.ravel()
            tau2 = float(np.mean(post[f"{p.raw_name}_tau"].values ** 2))
            var = float(np.var(m)) + (1 + 1 / n_fam) * tau2
            out[p.name] = {
                "mean": float(np.mean(m)),
                "sd": float(np.sqrt(var)),
                "m_mean": float(np.mean(m)),
                "m_sd": float(np.std(m)),
                "tau_rms": float(np.sqrt(tau2)),
            }
        else:
            assert raw is not None
            values = raw.reshape(raw.shape[0] * raw.shape[1], -1)
            fam_means = values.mean(axis=0)
            var = float(np.var(fam_means) + np.mean(np.var(values, axis=0)))
            out[p.name] = {"mean": float(np.mean(fam_means)), "sd": float(np.sqrt(var))}
        out[p.name].update(n_families=n_fam, pooling=how)
    return out


def exponent_priors(
    reference: str | os.PathLike[str] | ScalingFit,
    law: str | Law,
    pooling: Mapping[str, str],
) -> dict[str, PriorSpec]:
    """Priors of a new fit's exponents from a reference population (module docstring).

    Parameters
    ----------
    reference
        Reference name, folder, or a fitted :class:`~bayescale.ScalingFit`.
    law
        The new fit's law; its exponents must have the reference's names.
    pooling
        The new fit's resolved pooling (parameter -> ``shared``/``pooled``/``independent``).

    Returns
    -------
    dict of str to PriorSpec
        One entry per exponent of ``law``.
    """
    from bayescale.core.results import FitResult

    ref = (
        cast("ScalingFit", reference)
        if isinstance(reference, FitResult)
        else load_reference(reference)
    )
    pop = population_exponents(ref)
    law_obj = get_law(law)
    exps = [p.name for p in law_obj.parameters if p.kind == "exponent"]
    missing = [e for e in exps if e not in pop]
    if missing:
        raise SpecificationError(
            f"the reference ({ref.spec.law}) has no exponent(s) {missing} of law "
            f"{law_obj.name!r}; it has {sorted(pop)}. Use a reference fitted with a law "
            "that shares those exponents."
        )
    out: dict[str, PriorSpec] = {}
    for name in exps:
        moments = pop[name]
        if pooling.get(name) == "pooled" and "m_mean" in moments:
            out[name] = PriorSpec(
                mu=moments["m_mean"],
                sigma=max(moments["m_sd"], 1e-3),
                group_sigma=max(moments["tau_rms"], 1e-3),
            )
        else:
            out[name] = PriorSpec(mu=moments["mean"], sigma=max(moments["sd"], 1e-3))
    return out
