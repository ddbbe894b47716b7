r"""The hierarchical Beta-binomial model of per-problem success (Levi 2024), as PyMC code.

Model :math:`m` (with :math:`N_m` parameters) attempts problem :math:`j` :math:`n_{mj}`
times and gets :math:`c_{mj}` right. Each problem has its own success probability,
drawn from a zero-inflated Beta population of that model:

.. math::

    p_{mj} &\sim \pi_m \, \delta_0 + (1 - \pi_m)\, \mathrm{Beta}(a_m, b_m), \\
    c_{mj} \mid p_{mj} &\sim \mathrm{Binomial}(n_{mj}, p_{mj}),

with :math:`p_{mj}` integrated out exactly (the Beta-binomial). :math:`\pi_m` is the
share of problems the model never solves, however many attempts it makes. The Beta
parameters vary smoothly with scale, :math:`x_m = \log N_m - \overline{\log N}`, with
model-level deviations partially pooled:

.. math::

    \log a_m &= \mu_a + \beta_a x_m + s_a (B w_a)_m, \\
    \log b_m &= \mu_b + \beta_b x_m + s_b (B w_b)_m, \\
    \operatorname{logit} \pi_m &= \mu_\pi + \beta_\pi x_m.

The deviations are the part of i.i.d. :math:`\mathcal N(0, \tau^2)` model effects that
the trend cannot absorb: :math:`B` is an orthonormal basis of the complement of
:math:`\operatorname{span}\{1, x\}` (:func:`bayescale.passk.shared.effect_basis`), so the
intercept, slope and effects are not redundant. Their scale :math:`\tau = s\sqrt\lambda`,
:math:`\lambda \sim \mathrm{InvGamma}(\nu/2, \nu/2)` (``effects_a = (nu, s)``), is
integrated out: :math:`w` is a multivariate Student-t of :math:`\nu` degrees of freedom,
sampled centred and standardised, as in the shared-difficulty model. (A sampled
:math:`\tau \sim \mathrm{HalfNormal}(0.3)` with non-centred effects made a funnel where
:math:`\tau` approaches 0: divergences at PyMC's ``target_accept=0.8`` on the Pythia MATH
counts, so the default was 0.9, and 15 gradients per iteration instead of 12; see
``docs/passk.md``.) A model not yet seen differs from the fitted trend by a fresh effect
plus the trend's own error, variance :math:`\tau^2 (1 + 1/M + x^2 / \sum_m x_m^2)` for
:math:`M` fitted models, with :math:`\tau` drawn from its conditional posterior
(:meth:`bayescale.passk.PassKFit.beta_draws`).

Coverage after :math:`k` attempts is then :math:`\text{pass@}k = (1-\pi)\bigl(1 -
B(a, b+k)/B(a, b)\bigr)`, and the inference loss of the solvable problems decays as
:math:`\Gamma(a+b)/\Gamma(b)\, k^{-a}`: :math:`a` is the inference-loss exponent
(:mod:`bayescale.passk.curves`).

Without ``params`` (or with one model) the trend terms are left out; with fewer than three
models the model-level deviations are too (they would not be identified).

This is ``model="beta"`` of :func:`bayescale.passk.fit`: problems are exchangeable within a
model. ``model="shared_difficulty"`` (:mod:`bayescale.passk.shared`) gives each problem a
difficulty shared across the models; :class:`PassKSpec` records which.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from scipy.special import gammaln

from bayescale.core import dims
from bayescale.core.errors import SpecificationError

if TYPE_CHECKING:
    import pymc as pm

__all__ = [
    "CELL",
    "DEFAULT_PRIORS",
    "MODELS",
    "PassKSpec",
    "build_passk_model",
    "cell_log_likelihood",
    "cells",
    "effect_scale_draws",
    "make_passk_spec",
    "structure_key",
]

#: The pass@k models :func:`bayescale.passk.fit` offers (``model=``).
MODELS = ("beta", "shared_difficulty")

#: Dimension of the distinct (model, n_samples, n_correct) cells the likelihood sums over.
CELL = "cell"

#: Default priors: (mean, sd) of Normals, and (degrees of freedom :math:`\nu`, scale
#: :math:`s`) of the Student-t model effects ``effects_*`` (their scale integrated out;
#: :math:`\nu = 4, s = 0.25` puts the typical scale near 0.25, like the HalfNormal(0.3)
#: on a sampled scale that it replaces).
#: ``a`` and ``b`` are on the log scale, ``pi`` on the logit scale; slopes are per e-fold
#: of N. ``a`` near 0.3 and ``b`` near 10 (mean success rate 3%) match published
#: repeated-sampling studies; each prior spans about two orders of magnitude.
DEFAULT_PRIORS: dict[str, tuple[float, float]] = {
    "mu_a": (float(np.log(0.3)), 1.0),
    "mu_b": (float(np.log(10.0)), 2.0),
    "mu_pi": (-2.0, 1.5),
    "slope_a": (0.0, 0.5),
    "slope_b": (0.0, 0.5),
    "slope_pi": (0.0, 0.5),
    "effects_a": (4.0, 0.25),
    "effects_b": (4.0, 0.25),
}


@dataclass
class PassKSpec:
    """Everything that defines a pass@k model besides the data."""

    trend: bool
    model_effects: bool
    zero_inflation: bool
    log_params_center: float
    priors: dict[str, tuple[float, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: ``"beta"`` (this module) or ``"shared_difficulty"`` (:mod:`bayescale.passk.shared`).
    model: str = "beta"
    #: Difficulty distribution of the shared-difficulty model (``"skewed"``, ``"normal"``;
    #: ``"flexible"`` in files of bayescale 0.2, withdrawn since; ``"normal"`` in the
    #: per-model model, which has none, and in files written before the field was recorded).
    difficulty: str = "normal"
    #: Shared-difficulty model: each problem's difficulty changes with model size.
    problem_slopes: bool = False
    #: Number of models (the size of the model-effect basis depends on it; 0 in fits
    #: saved before it was recorded).
    n_models: int = 0

    def to_json(self) -> str:
        """Serialise (for the attributes of a saved fit)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> PassKSpec:
        raw = json.loads(text)
        raw["priors"] = {k: tuple(v) for k, v in raw["priors"].items()}
        return cls(**raw)

    @property
    def n_effects(self) -> int:
        """Dimension of the model effects the trend cannot absorb (0 without effects)."""
        if not self.model_effects:
            return 0
        return max(self.n_models - (2 if self.trend else 1), 0)

    @property
    def shared(self) -> bool:
        """Whether problems have a difficulty shared across models."""
        return self.model == "shared_difficulty"

    def sampled_names(self) -> list[str]:
        """Free parameters of the model (for convergence checks)."""
        if self.shared:
            from bayescale.passk.shared import shared_sampled_names

            return shared_sampled_names(self)
        names = ["mu_a", "mu_b"]
        if self.trend:
            names += ["slope_a", "slope_b"]
        if self.model_effects and self.n_effects:
            names += ["e_a", "e_b"]
        if self.zero_inflation:
            names += ["mu_pi"] + (["slope_pi"] if self.trend else [])
        return names


def make_passk_spec(
    ds: xr.Dataset,
    *,
    zero_inflation: bool = True,
    trend: bool | None = None,
    model_effects: bool | None = None,
    priors: dict[str, tuple[float, float]] | None = None,
    model: str = "beta",
    difficulty: str | None = None,
    problem_slopes: bool | None = None,
) -> PassKSpec:
    """Resolve the defaults of :func:`bayescale.passk.fit` against validated counts."""
    from bayescale.passk.shared import (
        DEFAULT_DIFFICULTY,
        DIFFICULTIES,
        SHARED_PRIORS,
        WITHDRAWN_DIFFICULTIES,
        check_sigma_d_prior,
    )

    if model not in MODELS:
        raise SpecificationError(f"model must be one of {MODELS}, not {model!r}")
    if difficulty is None:  # each model's default (the per-model model has none)
        difficulty = DEFAULT_DIFFICULTY if model == "shared_difficulty" else "normal"
    if difficulty in WITHDRAWN_DIFFICULTIES:
        raise SpecificationError(WITHDRAWN_DIFFICULTIES[difficulty])
    if difficulty not in DIFFICULTIES:
        raise SpecificationError(f"difficulty must be one of {DIFFICULTIES}, not {difficulty!r}")
    if model != "shared_difficulty" and difficulty != "normal":
        raise SpecificationError(
            f"difficulty={difficulty!r} is an option of model='shared_difficulty' (the "
            "per-model Beta model has no problem difficulties)"
        )
    n_models = ds.sizes[dims.MODEL]
    if model == "shared_difficulty":
        families = sorted({str(f) for f in ds["family"].values if str(f)})
        if len(families) > 1:
            raise SpecificationError(
                f"model='shared_difficulty' shares each problem's difficulty and the trend in "
                f"size across the models of one family, but the counts hold {len(families)} "
                f"families ({families[:4]}). Fit each family on its own, e.g. "
                "counts[counts['family'] == 'NAME']."
            )
    params = ds["params"].values.astype(float)
    has_params = bool(np.all(np.isfinite(params)))
    distinct = len(np.unique(params)) if has_params else 0
    notes: list[str] = []
    if trend is None:
        trend = has_params and distinct >= 2
        if not has_params and n_models > 1:
            notes.append(
                "no 'params' for every model: the Beta parameters do not vary with scale, "
                "so forecasts for a new model size are not available"
            )
    elif trend and not (has_params and distinct >= 2):
        missing = [str(m) for m, p in zip(ds[dims.MODEL].values, params, strict=True) if not p > 0]
        raise SpecificationError(
            "trend=True needs 'params' for every model and at least two different sizes"
            + (f"; 'params' is missing for {missing}" if missing else "")
        )
    if model_effects is None:
        model_effects = n_models >= 3
    elif model_effects and n_models < 2:
        raise SpecificationError("model_effects=True needs at least two models")
    defaults = SHARED_PRIORS if model == "shared_difficulty" else DEFAULT_PRIORS
    unknown = set(priors or {}) - set(defaults)
    if unknown:
        raise SpecificationError(
            f"unknown prior(s) {sorted(unknown)}; model={model!r} has {sorted(defaults)}"
        )
    resolved = {**defaults, **{k: tuple(map(float, v)) for k, v in (priors or {}).items()}}
    if model == "shared_difficulty":
        check_sigma_d_prior(*resolved["sigma_d"])
    center = float(np.mean(np.log(params))) if trend else 0.0
    return PassKSpec(
        trend=bool(trend),
        model_effects=bool(model_effects),
        zero_inflation=bool(zero_inflation),
        log_params_center=center,
        priors={k: (float(v[0]), float(v[1])) for k, v in resolved.items()},
        notes=notes,
        model=model,
        difficulty=difficulty,
        n_models=int(n_models),
        problem_slopes=bool(
            model == "shared_difficulty"
            and trend
            and (problem_slopes if problem_slopes is not None else False)
        ),
    )


def zibb_logp(
    c: Any,
    n: Any,
    log_a: Any,
    log_b: Any,
    logit_pi: Any | None,
    log_binom: Any = None,
    log_beta_ab: Any = None,
) -> Any:
    r"""Log-probability of :math:`c` successes in :math:`n` under the zero-inflated Beta-binomial.

        .. math::

            \log \mathrm{BB}(c \mid n, a, b) = \log\binom{n}{c} + \log B(c + a, n - c + b)
            - \log B(a, b),

        mixed with a point mass at :math:`c = 0` of weight :math:`\pi` (``logit_pi``; ``None``
        for no zero inflation). ``log_binom`` and ``log_beta_ab`` may pass
    :math:`\log\binom{n}{c}` and :math:`\log B(a, b)` precomputed.
        PyTensor tensors in, a PyTensor tensor out.
    """
    import pytensor.tensor as pt

    a = pt.exp(log_a)
    b = pt.exp(log_b)
    if log_binom is None:
        log_binom = pt.gammaln(n + 1) - pt.gammaln(c + 1) - pt.gammaln(n - c + 1)
    if log_beta_ab is None:
        log_beta_ab = pt.gammaln(a) + pt.gammaln(b) - pt.gammaln(a + b)
    lbb = (
        log_binom + pt.gammaln(c + a) + pt.gammaln(n - c + b) - pt.gammaln(n + a + b) - log_beta_ab
    )
    if logit_pi is None:
        return lbb
    log_pi = -pt.softplus(-logit_pi)
    log_1m_pi = -pt.softplus(logit_pi)
    return pt.switch(pt.eq(c, 0), pt.logaddexp(log_pi, log_1m_pi + lbb), log_1m_pi + lbb)


def _zibb_random(
    n: np.ndarray,
    log_a: np.ndarray,
    log_b: np.ndarray,
    logit_pi: np.ndarray,
    log_binom: np.ndarray,
    log_beta_ab: np.ndarray,
    weight: np.ndarray,
    rng: np.random.Generator | None = None,
    size: tuple[int, ...] | None = None,
) -> np.ndarray:
    rng = rng or np.random.default_rng()
    shape = size or np.broadcast_shapes(np.shape(n), np.shape(log_a), np.shape(log_b))
    p = rng.beta(np.exp(log_a), np.exp(log_b), size=shape)
    never = rng.random(shape) < 1.0 / (1.0 + np.exp(-np.asarray(logit_pi)))
    return np.where(never, 0, rng.binomial(np.broadcast_to(n, shape), p))


def build_passk_model(ds: xr.Dataset, spec: PassKSpec) -> pm.Model:
    """Build the PyMC model of ``spec.model`` for validated counts ``ds``: this module's
    per-model Beta model, or :func:`bayescale.passk.shared.build_shared_model`."""
    import pymc as pm

    if spec.shared:
        from bayescale.passk.shared import build_shared_model

        return build_shared_model(ds, spec)

    n_models = ds.sizes[dims.MODEL]
    cell_model, cell_n, cell_c, weight, _ = cells(ds)
    # The cells' dim is defined by the pm.Data containers (not fixed by coords), so new
    # counts of the same structure reuse the compiled model (passk.model.structure_key).
    coords = {dims.MODEL: [str(m) for m in ds[dims.MODEL].values]}
    pr = spec.priors
    with pm.Model(coords=coords) as model:
        midx = pm.Data("cell_model_idx", cell_model, dims=CELL)
        n = pm.Data("cell_n_samples", cell_n, dims=CELL)
        w = pm.Data("cell_weight", weight.astype(float), dims=CELL)
        x_val = (
            np.log(ds["params"].values.astype(float)) - spec.log_params_center
            if spec.trend
            else np.zeros(n_models)
        )
        x = pm.Data("log_params_centered", x_val, dims=dims.MODEL)

        n_effects = spec.n_effects
        if n_effects:
            from bayescale.passk.shared import EFFECT, effect_basis

            model.add_coord(EFFECT, np.arange(n_effects))
            basis = pm.Data(
                "effect_basis", effect_basis(x_val, spec.trend), dims=(dims.MODEL, EFFECT)
            )

        def linear(name: str) -> Any:
            mu = pm.Normal(f"mu_{name}", *pr[f"mu_{name}"])
            out = mu + 0.0 * x
            if spec.trend:
                out = out + pm.Normal(f"slope_{name}", *pr[f"slope_{name}"]) * x
            if n_effects and name in ("a", "b"):
                # centred and standardised, the scale integrated out (module docstring)
                nu, scale = pr[f"effects_{name}"]
                effects = pm.MvStudentT(
                    f"e_{name}", nu=nu, mu=np.zeros(n_effects), scale=np.eye(n_effects), dims=EFFECT
                )
                out = out + scale * pm.math.dot(basis, effects)
            return out

        log_a = pm.Deterministic("log_a", linear("a"), dims=dims.MODEL)
        log_b = pm.Deterministic("log_b", linear("b"), dims=dims.MODEL)
        pm.Deterministic("a", pm.math.exp(log_a), dims=dims.MODEL)
        pm.Deterministic("b", pm.math.exp(log_b), dims=dims.MODEL)
        if spec.zero_inflation:
            logit_pi = pm.Deterministic("logit_pi", linear("pi"), dims=dims.MODEL)
            pm.Deterministic("pi", pm.math.sigmoid(logit_pi), dims=dims.MODEL)
            lp_obs = logit_pi[midx]
        else:
            lp_obs = -40.0 + 0.0 * n  # no zero inflation: pi = 0 for the sampler's RNG

        log_binom = pm.Data(
            "cell_log_binom",
            gammaln(cell_n + 1.0) - gammaln(cell_c + 1.0) - gammaln(cell_n - cell_c + 1.0),
            dims=CELL,
        )

        a_m, b_m = pm.math.exp(log_a), pm.math.exp(log_b)
        log_beta_ab = pm.math.gammaln(a_m) + pm.math.gammaln(b_m) - pm.math.gammaln(a_m + b_m)

        def logp(
            value: Any, n: Any, la: Any, lb: Any, lp: Any, lbin: Any, lbab: Any, w: Any
        ) -> Any:
            zi = lp if spec.zero_inflation else None
            return w * zibb_logp(value, n, la, lb, zi, lbin, lbab)

        pm.CustomDist(
            dims.OBSERVED,
            n,
            log_a[midx],
            log_b[midx],
            lp_obs,
            log_binom,
            log_beta_ab[midx],
            w,
            logp=logp,
            random=_zibb_random,
            observed=pm.Data("cell_n_correct", cell_c, dims=CELL),
            dims=CELL,
        )
    return model


def cells(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group identical rows: the likelihood is evaluated once per distinct (model, n, c).

    Rows of one model with the same ``n_samples`` and ``n_correct`` contribute the same
    log-likelihood, so the model sums ``weight`` copies of one term. On the Pythia MATH
    counts this cuts 896 rows to 429 cells (to 75 with 100 attempts per problem), and the
    cost of a gradient with them. Returns the model index, n and c of each cell, its
    number of rows, and the cell of every row.
    """
    keys = np.stack(
        [ds["model_idx"].values, ds["n_samples"].values, ds["n_correct"].values], axis=1
    )
    uniq, row_cell, weight = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return uniq[:, 0], uniq[:, 1], uniq[:, 2], weight, row_cell.ravel()


def cell_log_likelihood(posterior: xr.Dataset, ds: xr.Dataset, spec: PassKSpec) -> xr.DataArray:
    r"""The per-model model's log-likelihood of every cell, per draw, in NumPy.

    The term :func:`build_passk_model` adds for cell :math:`(m, n, c)` of weight :math:`w`
    (:func:`cells`): :math:`w \log \mathrm{ZIBB}(c \mid n, a_m, b_m, \pi_m)` (:func:`zibb_logp`),
    from the posterior's ``log_a``, ``log_b`` and ``logit_pi``; what
    :func:`pymc.compute_log_likelihood` returns for the model (the tests compare them),
    without compiling a PyTensor function for it (0.7 s of a fit).

    Returns
    -------
    xarray.DataArray
        Dims ``(chain, draw, cell)``.
    """
    model_idx, n, c, weight, _ = cells(ds)
    n, c = n.astype(float), c.astype(float)
    # per model (chain, draw, model), then per cell: the terms of a model's a and b alone
    # are computed once per model, not once per cell
    a_m = np.exp(posterior["log_a"].transpose("chain", "draw", dims.MODEL).values)
    b_m = np.exp(posterior["log_b"].transpose("chain", "draw", dims.MODEL).values)
    log_beta_m = gammaln(a_m) + gammaln(b_m) - gammaln(a_m + b_m)
    a, b = a_m[..., model_idx], b_m[..., model_idx]
    log_binom = gammaln(n + 1.0) - gammaln(c + 1.0) - gammaln(n - c + 1.0)
    lbb = (
        log_binom
        + gammaln(c + a)
        + gammaln(n - c + b)
        - gammaln(n + a + b)
        - log_beta_m[..., model_idx]
    )
    if spec.zero_inflation:
        lp = posterior["logit_pi"].transpose("chain", "draw", dims.MODEL).values
        log_pi = (-np.logaddexp(0.0, -lp))[..., model_idx]
        log_1m_pi = (-np.logaddexp(0.0, lp))[..., model_idx]
        zero = c == 0
        lbb = log_1m_pi + lbb
        lbb[..., zero] = np.logaddexp(log_pi[..., zero], lbb[..., zero])
    return xr.DataArray(
        weight * lbb,
        dims=("chain", "draw", CELL),
        coords={"chain": posterior["chain"].values, "draw": posterior["draw"].values},
    )


def effect_scale_draws(
    post: xr.Dataset, spec: PassKSpec, name: str, rng: np.random.Generator
) -> xr.DataArray:
    r"""Draws of the scale :math:`\tau` of the model effects of ``a`` or ``b``.

    Both pass@k models integrate it out (Student-t effects, this module and
    :mod:`bayescale.passk.shared`); a draw comes from its conditional posterior given the
    :math:`K` standardised effects :math:`w` in ``post`` (the effects are :math:`s w`):
    :math:`\tau = s\sqrt\lambda`, :math:`\lambda \sim \mathrm{InvGamma}((\nu + K)/2,
    (\nu + |w|^2)/2)`, with :math:`(\nu, s)` the prior ``effects_{name}`` of ``spec``.
    (Per-model fits saved before December 2026 sampled it: ``tau_a``, ``tau_b``.)
    """
    if f"tau_{name}" in post:
        return post[f"tau_{name}"]
    nu, s = spec.priors[f"effects_{name}"]
    if f"e_{name}" not in post:
        shape_ = (post.sizes["chain"], post.sizes["draw"])
        prior_lam = (nu / 2.0) / rng.gamma(nu / 2.0, size=shape_)
        return xr.DataArray(s * np.sqrt(prior_lam), dims=("chain", "draw"))
    # the effects are s w with w ~ t_nu(0, I): w | lambda ~ N(0, lambda I) and
    # lambda | w ~ InvGamma((nu + K)/2, (nu + |w|^2)/2); tau = s sqrt(lambda)
    w = post[f"e_{name}"]
    k = w.shape[-1]
    sq = (w**2).sum(str(w.dims[-1]))
    lam: xr.DataArray = (nu + sq) / 2.0 / rng.gamma((nu + k) / 2.0, size=sq.shape)
    return s * lam**0.5


def structure_key(ds: xr.Dataset, spec: PassKSpec) -> tuple[Any, ...]:
    """What the compiled model of ``spec`` depends on besides its data.

    The compile-once cache of :mod:`bayescale.core.compiled` reuses a compiled model for
    new counts with the same key. ``model="beta"``: the options, the priors and the number
    of models (not the number of problems or cells, which are ``pm.Data``);
    ``"shared_difficulty"``: also the numbers of problems and of rows.
    """
    if not spec.shared:
        return (
            "passk",
            spec.model,
            2,  # the graph's version (bayescale.passk.model.build_passk_model)
            spec.trend,
            spec.model_effects,
            spec.zero_inflation,
            tuple(sorted(spec.priors.items())),
            ds.sizes[dims.MODEL],
        )
    from bayescale.passk.shared import problem_cells

    cells = problem_cells(ds)
    return (
        "passk",
        spec.model,
        spec.difficulty,
        spec.problem_slopes,
        spec.trend,
        spec.model_effects,
        spec.zero_inflation,
        tuple(sorted(spec.priors.items())),
        ds.sizes[dims.MODEL],
        cells.problems.size,
        ds.sizes[dims.OBS],
    )
