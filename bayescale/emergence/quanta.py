r"""Bayesian fits of the quanta model's Zipf exponent, and its check on Chinchilla fits.

The quantization model (Michaud et al. 2023; the model and its simulator are in
:mod:`bayescale.emergence.quanta_sim`) makes a network's loss a sum over discrete skills
("quanta") whose use frequencies follow a Zipf law :math:`p_k \propto k^{-(\alpha+1)}`; the
parameter exponent is :math:`\alpha_N = \alpha` and the data exponent
:math:`\alpha_D = \alpha / (\alpha + 1)`. This module estimates :math:`\alpha`:

* :func:`fit_zipf_counts`: from how often each quantum (skill, token type) is used;
* :func:`fit_token_losses`: from per-token losses of a few model sizes (learned/unlearned
  mixture whose unlearned share is the Zipf tail mass beyond :math:`n(N)`);

both return a :class:`QuantaFit` (kind ``"quanta"``: it saves, loads, summarises and plots
as every bayescale fit). :func:`quanta_consistency` checks a Chinchilla fit's exponents
draw by draw against :math:`\beta = \alpha / (\alpha + 1)`. ``docs/quanta.md`` has the
derivations, the likelihoods and what the shipped reference posteriors say.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from bayescale.core import dims
from bayescale.core.diagnostics import Diagnostics, check_convergence
from bayescale.core.errors import DataError, SpecificationError
from bayescale.core.intervals import check_ci_prob, interval_table, quantiles
from bayescale.core.results import FitResult
from bayescale.core.sampling import Sampler, run_nuts
from bayescale.emergence.quanta_sim import check_n_quanta, zeta_partial

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayescale.scaling.fitting import ScalingFit

__all__ = ["HasPosterior", "QuantaFit", "fit_token_losses", "fit_zipf_counts", "quanta_consistency"]

#: The kinds of data a :class:`QuantaFit` was fitted to.
DATA_KINDS = ("counts", "token_losses")


# ---------------------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------------------
@dataclass(repr=False)
class QuantaFit(FitResult):
    r"""Posterior of the Zipf exponent :math:`\alpha` from :func:`fit_zipf_counts` or
    :func:`fit_token_losses`.

    Attributes
    ----------
    idata : xarray.DataTree
        Posterior (``alpha``, ``alpha_N``, ``alpha_D`` and the nuisance parameters),
        ``sample_stats`` and, for counts, the data in ``constant_data``.
    diagnostics : Diagnostics
        Divergences, R-hat and bulk ESS of the sampled parameters.
    data_kind : str
        What was fitted: ``"counts"`` or ``"token_losses"``.
    likelihood : str
        The likelihood used, in words.
    sampled : list of str
        The sampled parameters (whose diagnostics are reported).
    notes : list of str
        What the fit decided on the user's behalf (a second, longer run).
    sampler : dict
        NUTS settings of the run (:meth:`bayescale.core.sampling.SamplingRun.as_dict`).
    """

    kind = "quanta"

    idata: xr.DataTree
    diagnostics: Diagnostics | None
    data_kind: str
    likelihood: str
    sampled: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sampler: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.data_kind not in DATA_KINDS:
            raise SpecificationError(
                f"data_kind must be one of {DATA_KINDS}, not {self.data_kind!r}"
            )

    @property
    def posterior(self) -> xr.Dataset:
        """The ``posterior`` group as a Dataset."""
        return self.idata["posterior"].dataset

    def summary(
        self,
        *,
        ci_prob: float = 0.9,
        ci_kind: str = "eti",
        var_names: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """ArviZ summary with an explicit interval (default: every parameter not on the
        log scale: ``alpha``, ``alpha_N``, ``alpha_D`` and the nuisance parameters)."""
        import arviz as az

        names = (
            list(var_names)
            if var_names
            else [str(v) for v in self.posterior.data_vars if not str(v).startswith("log_")]
        )
        return az.summary(
            self.idata,
            var_names=names,
            ci_prob=check_ci_prob(ci_prob),
            ci_kind=ci_kind,
            round_to="none",
        )

    def alpha_interval(self, *, ci_prob: float = 0.9) -> tuple[float, float]:
        r"""Equal-tailed ``ci_prob`` interval of :math:`\alpha`."""
        lo, _, hi = quantiles(self.posterior["alpha"].values.ravel(), ci_prob)
        return float(lo), float(hi)

    def exponents(self, *, ci_prob: float = 0.9) -> pd.DataFrame:
        r""":math:`\alpha`, :math:`\alpha_N = \alpha` and :math:`\alpha_D = \alpha/(\alpha+1)`.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``exponent``: ``mean``, ``median``, ``lower``, ``upper``
            (equal-tailed ``ci_prob`` interval) and ``ci_prob``.
        """
        draws = {name: self.posterior[name] for name in ("alpha", "alpha_N", "alpha_D")}
        table = interval_table(draws, ci_prob=ci_prob)
        return table.rename(columns={"quantity": "exponent"}).set_index("exponent")

    def title(self) -> str:
        return f"QuantaFit (quanta): Zipf exponent from {self.data_kind.replace('_', ' ')}"

    def __repr__(self) -> str:
        lo, hi = self.alpha_interval()
        return (
            f"<QuantaFit data_kind={self.data_kind!r} alpha 90% [{lo:.3f}, {hi:.3f}] "
            f"diagnostics: {self.diagnostics}>"
        )

    def plot(self, path: str | os.PathLike[str] | None = None, *, ci_prob: float = 0.9) -> Figure:
        """The fitted data with the Zipf fit, and the exponents' posterior
        (:func:`bayescale.emergence.plots.plot_quanta`)."""
        from bayescale.emergence.plots import plot_quanta

        return plot_quanta(self, path, ci_prob=ci_prob)

    def _state(self) -> dict[str, Any]:
        return {
            "data_kind": self.data_kind,
            "likelihood": self.likelihood,
            "sampled": list(self.sampled),
            "sampler": self.sampler,
        }

    @classmethod
    def _from_tree(cls, tree: xr.DataTree, state: Mapping[str, Any]) -> Self:
        sampled = [str(v) for v in state["sampled"]]
        return cls(
            idata=tree,
            diagnostics=check_convergence(tree, var_names=sampled, warn=False),
            data_kind=str(state["data_kind"]),
            likelihood=str(state["likelihood"]),
            sampled=sampled,
            sampler=dict(state.get("sampler", {})),
        )


def _sample(
    model: Any,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int | None,
    nuts_sampler: str,
    target_accept: float,
    progressbar: bool,
    warn: bool,
    extend_if_slow: bool,
    sampler: Sampler | None,
    sampled: list[str],
    data_kind: str,
    likelihood: str,
) -> QuantaFit:
    notes: list[str] = []
    idata, run = run_nuts(
        model,
        check_vars=sampled,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        nuts_sampler=nuts_sampler,
        target_accept=target_accept,
        progressbar=progressbar,
        extend_if_slow=extend_if_slow,
        notes=notes,
        sampler=sampler,
    )
    diag = check_convergence(idata, var_names=sampled, warn=warn)
    return QuantaFit(
        idata=idata,
        diagnostics=diag,
        data_kind=data_kind,
        likelihood=likelihood,
        sampled=sampled,
        notes=notes,
        sampler=run.as_dict(),
    )


def _alpha_prior(prior: tuple[float, float]) -> Any:
    import pymc as pm

    log_alpha = pm.Normal("log_alpha", mu=float(prior[0]), sigma=float(prior[1]))
    alpha = pm.Deterministic("alpha", pm.math.exp(log_alpha))
    pm.Deterministic("alpha_N", alpha)
    pm.Deterministic("alpha_D", alpha / (alpha + 1.0))
    return alpha


def fit_zipf_counts(
    counts: pd.DataFrame | npt.ArrayLike,
    *,
    ranks: npt.ArrayLike | None = None,
    prior: tuple[float, float] = (np.log(0.5), 1.0),
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = 0,
    nuts_sampler: str = "nutpie",
    target_accept: float = 0.8,
    progressbar: bool = False,
    warn: bool = True,
    extend_if_slow: bool = True,
    sampler: Sampler | None = None,
) -> QuantaFit:
    r"""Posterior of the Zipf exponent from how often each quantum is used.

    With :math:`c_k` uses of quantum :math:`k \in S` (the ranks given), the counts are
    multinomial with :math:`p_k \propto k^{-(\alpha+1)}` restricted to :math:`S`:

    .. math::

        \log p(c \mid \alpha) = -(\alpha + 1) \sum_{k \in S} c_k \log k
            - C \log \sum_{k \in S} k^{-(\alpha+1)} + \text{const},
        \qquad C = \sum_k c_k,

    so :math:`(\sum_k c_k \log k, C)` are sufficient and the fit is one-dimensional
    (prior :math:`\log\alpha \sim \mathcal N(\text{prior})`). Quanta never observed must
    be passed with count 0: :math:`S` is the truncation.

    The ranks must be the quanta's *frequency order* known independently of these
    counts (e.g. from another corpus). Ranking by the same counts biases the tail
    (order statistics of noisy counts look flatter); restrict ``ranks`` to quanta with
    large counts in that case.

    Parameters
    ----------
    counts
        Counts per quantum: an array (ranks 1..K) or a table with ``count`` and
        optionally ``rank`` columns.
    ranks
        Ranks of ``counts`` when it is an array (default 1..K).
    prior
        Mean and sd of :math:`\log\alpha`.
    draws, tune, chains, seed, nuts_sampler, progressbar
        NUTS settings (:func:`bayescale.core.sampling.run_nuts`, with its retry policy;
        ``seed`` 0 by default, ``None`` for a fresh one).
    target_accept
        0.8 (NUTS's default): the posterior is one-dimensional and nearly
        Gaussian in :math:`\log\alpha` (the simulated recovery test converges without
        divergences).
    warn
        Warn (:class:`~bayescale.core.errors.ConvergenceWarning`) when the diagnostics fail.
    extend_if_slow
        When R-hat or bulk ESS fall short without divergences, sample once more with
        twice ``tune`` and ``draws``; noted in ``fit.notes``.
    sampler
        Draws instead of NUTS (a :class:`bayescale.core.sampling.Sampler`; tests pass
        prior draws).

    Returns
    -------
    QuantaFit
    """
    import pymc as pm
    import pytensor.tensor as pt

    c, k = _validate_counts(counts, ranks)
    stat = float(np.sum(c * np.log(k)))
    total = float(c.sum())
    with pm.Model(coords={"quantum": k.astype(int)}) as model:
        pm.Data("count", c, dims="quantum")
        pm.Data("rank", k, dims="quantum")
        alpha = _alpha_prior(prior)
        log_z = pt.log(pt.sum(pt.as_tensor_variable(k) ** -(alpha + 1.0)))
        pm.Potential("zipf_loglik", -(alpha + 1.0) * stat - total * log_z)
    return _sample(
        model,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        nuts_sampler=nuts_sampler,
        target_accept=target_accept,
        progressbar=progressbar,
        warn=warn,
        extend_if_slow=extend_if_slow,
        sampler=sampler,
        sampled=["log_alpha"],
        data_kind="counts",
        likelihood="multinomial Zipf over the given ranks",
    )


def _validate_counts(
    counts: pd.DataFrame | npt.ArrayLike, ranks: npt.ArrayLike | None
) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(counts, pd.DataFrame):
        if "count" not in counts.columns:
            raise DataError(
                f"the counts table needs a 'count' column (uses per quantum); it has "
                f"{list(counts.columns)}"
            )
        c = counts["count"].to_numpy(dtype=float)
        k = counts["rank"].to_numpy(dtype=float) if "rank" in counts.columns else None
    else:
        c = np.asarray(counts, dtype=float).ravel()
        k = None
    if ranks is not None:
        k = np.asarray(ranks, dtype=float).ravel()
    if k is None:
        k = np.arange(1, len(c) + 1, dtype=float)
    if len(k) != len(c):
        raise DataError(f"{len(c)} counts but {len(k)} ranks; give one rank per count")
    bad = np.flatnonzero(~np.isfinite(c) | (c < 0) | (c != np.round(c)))
    if bad.size:
        raise DataError(
            f"counts must be non-negative integers; rows {bad[:5].tolist()} have "
            f"{c[bad[:5]].tolist()}"
        )
    bad = np.flatnonzero(~np.isfinite(k) | (k < 1) | (k != np.round(k)))
    if bad.size or len(np.unique(k)) != len(k):
        raise DataError("ranks must be distinct integers >= 1 (the quanta's frequency order)")
    if len(c) < 2 or c.sum() == 0:
        raise DataError("need at least 2 quanta and a positive total count")
    return c, k


def _log_tail_pt(alpha: Any, n: Any, n_quanta: int | None) -> Any:
    """Log of the unlearned share :func:`tail_mass` (midpoint form), in PyTensor."""
    import pytensor.tensor as pt

    top = (n + 0.5) ** -alpha
    if n_quanta is not None:
        top = top - (n_quanta + 0.5) ** -alpha
    z = zeta_partial(alpha, n_quanta, ops=pt)
    u = top / (alpha * z)
    return pt.log(pt.clip(u, 1e-300, 1.0))


def fit_token_losses(
    data: pd.DataFrame,
    *,
    n_quanta: int | None = None,
    prior: tuple[float, float] = (np.log(0.5), 1.0),
    share_prior: tuple[float, float] = (0.0, 2.0),
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = 0,
    nuts_sampler: str = "nutpie",
    target_accept: float = 0.8,
    progressbar: bool = False,
    warn: bool = True,
    extend_if_slow: bool = True,
    sampler: Sampler | None = None,
) -> QuantaFit:
    r"""Posterior of the Zipf exponent from per-token losses of several model sizes.

    A model of size :math:`N_j` has learned the first :math:`n_j = N_j / C` quanta, so
    a share :math:`u_j = u(n_j)` of tokens (:func:`tail_mass`) is still unlearned. A
    token's loss is log-normal, :math:`\mathcal{LN}(\mu_L, \sigma_L)` when learned and
    :math:`\mathcal{LN}(\mu_U, \sigma_U)` with :math:`\mu_U = \mu_L + \delta`,
    :math:`\delta > 0`, when not. With :math:`u_j` falling as
    :math:`n_j^{-\alpha}` across sizes, the slope of the unlearned share against
    :math:`\log N` identifies :math:`\alpha`; :math:`n_j` is parameterised at the
    geometric-mean size :math:`N_\mathrm{ref}`, :math:`n_j = n_\mathrm{ref} N_j /
    N_\mathrm{ref}` (as the laws are in :mod:`bayescale.scaling.laws`), through the unlearned
    share there: :math:`\operatorname{logit} u_\mathrm{ref}` is sampled and
    :math:`n_\mathrm{ref}` solves :math:`u(n_\mathrm{ref}) = u_\mathrm{ref}`, because
    :math:`(\alpha, \log n_\mathrm{ref})` lie on a ridge of constant
    :math:`u_\mathrm{ref}` while :math:`(\alpha, u_\mathrm{ref})` are nearly
    independent. :math:`C = N_\mathrm{ref} / n_\mathrm{ref}` is reported as
    ``params_per_quantum``.

    * **Independent tokens** (no ``token`` column): per size a two-component mixture,

      .. math:: p(\ell) = (1 - u_j)\,\mathcal{LN}(\ell \mid \mu_L, \sigma_L)
                + u_j\,\mathcal{LN}(\ell \mid \mu_U, \sigma_U).

    * **Shared tokens** (a ``token`` column; each token scored by every size): the
      quanta model is nested (a quantum learned at :math:`N_j` stays learned at
      larger sizes), so each token has a latent first size :math:`j^*` at which it is
      learned, :math:`P(j^* = j) = u_{j-1} - u_j` (:math:`u_0 = 1`,
      :math:`j^* = J + 1`: never, probability :math:`u_J`), marginalised exactly:

      .. math:: p(\ell_{i\cdot}) = \sum_{j=1}^{J+1} (u_{j-1} - u_j)
                \prod_{s < j} \mathcal{LN}(\ell_{is} \mid \mu_U, \sigma_U)
                \prod_{s \ge j} \mathcal{LN}(\ell_{is} \mid \mu_L, \sigma_L).

    Parameters
    ----------
    data
        ``params`` and ``loss`` (> 0) per token and model size, optionally ``token``.
    n_quanta
        Truncation :math:`K` of the Zipf law (``None``: infinitely many quanta).
    prior
        Mean and sd of :math:`\log \alpha`.
    share_prior
        Mean and sd of :math:`\operatorname{logit} u_\mathrm{ref}`, the unlearned share
        at the geometric-mean size.
    draws, tune, chains, seed, nuts_sampler, progressbar
        NUTS settings (:func:`bayescale.core.sampling.run_nuts`, with its retry policy;
        ``seed`` 0 by default, ``None`` for a fresh one).
    target_accept
        0.8 (NUTS's default): sampling the unlearned share at the reference size
        instead of :math:`n_\mathrm{ref}` removes the :math:`(\alpha, \log n_\mathrm{ref})`
        ridge, and the simulated recovery test converges without divergences.
    warn
        Warn (:class:`~bayescale.core.errors.ConvergenceWarning`) when the diagnostics fail.
    extend_if_slow
        When R-hat or bulk ESS fall short without divergences, sample once more with
        twice ``tune`` and ``draws``; noted in ``fit.notes``.
    sampler
        Draws instead of NUTS (a :class:`bayescale.core.sampling.Sampler`; tests pass
        prior draws).

    Returns
    -------
    QuantaFit
    """
    import pymc as pm
    import pytensor.tensor as pt

    sizes, loss, token = _validate_token_losses(data)
    k_max = check_n_quanta(n_quanta)
    log_sizes = np.log(sizes)
    centre = float(log_sizes.mean())
    log_loss = np.log(loss)
    q25, q75 = np.quantile(log_loss, [0.25, 0.75])
    spread = float(np.std(log_loss)) or 1.0
    coords = {"size": sizes}
    with pm.Model(coords=coords) as model:
        alpha = _alpha_prior(prior)
        # Sample the unlearned share at the reference size (what the mixture sees
        # directly) rather than n_ref: (alpha, log n_ref) lie on a ridge of constant
        # u_ref = n_ref^-alpha / (alpha Z), (alpha, u_ref) are nearly orthogonal.
        logit_u_ref = pm.Normal("logit_u_ref", mu=share_prior[0], sigma=share_prior[1])
        u_ref = pt.sigmoid(logit_u_ref)
        z = zeta_partial(alpha, k_max, ops=pt)
        floor = 0.0 if k_max is None else (k_max + 0.5) ** -alpha
        n_ref = pt.maximum((u_ref * alpha * z + floor) ** (-1.0 / alpha) - 0.5, 1e-3)
        n = pm.Deterministic("n_learned", n_ref * np.exp(log_sizes - centre), dims="size")
        log_u = _log_tail_pt(alpha, n, k_max)
        u = pm.Deterministic("unlearned_share", pt.exp(log_u), dims="size")
        pm.Deterministic("params_per_quantum", np.exp(centre) / n_ref)
        mu_l = pm.Normal("mu_learned", mu=float(q25), sigma=2.0 * spread)
        log_gap = pm.Normal("log_gap", mu=float(np.log(max(q75 - q25, 0.1))), sigma=1.0)
        mu_u = pm.Deterministic("mu_unlearned", mu_l + pt.exp(log_gap))
        s_l = pm.HalfNormal("sigma_learned", sigma=2.0 * spread)
        s_u = pm.HalfNormal("sigma_unlearned", sigma=2.0 * spread)

        def lognormal_logp(mu: Any, sd: Any, x: np.ndarray) -> Any:
            lx = np.log(x)
            return -lx - pt.log(sd) - 0.5 * np.log(2 * np.pi) - 0.5 * ((lx - mu) / sd) ** 2

        if token is None:
            idx = np.searchsorted(sizes, data[dims.COL_PARAMS].to_numpy(dtype=float))
            lp_l = pt.log1p(-pt.clip(u, 0.0, 1.0 - 1e-12))[idx] + lognormal_logp(mu_l, s_l, loss)
            lp_u = log_u[idx] + lognormal_logp(mu_u, s_u, loss)
            pm.Potential("token_loglik", pt.sum(pt.logaddexp(lp_l, lp_u)))
            likelihood = "independent tokens: learned/unlearned log-normal mixture per size"
        else:
            # loss matrix tokens x sizes (validated complete)
            ll_l = lognormal_logp(mu_l, s_l, token)  # (I, J)
            ll_u = lognormal_logp(mu_u, s_u, token)
            n_tok, n_size = token.shape
            zeros = pt.zeros((n_tok, 1))
            prefix_u = pt.concatenate([zeros, pt.cumsum(ll_u, axis=1)], axis=1)  # s < j
            prefix_l = pt.concatenate([zeros, pt.cumsum(ll_l, axis=1)], axis=1)
            suffix_l = pt.sum(ll_l, axis=1, keepdims=True) - prefix_l  # s >= j
            u_ext = pt.concatenate([pt.ones(1), u, pt.zeros(1)])
            w = pt.clip(u_ext[:-1] - u_ext[1:], 1e-300, 1.0)  # j = 1..J+1
            terms = pt.log(w)[None, :] + prefix_u + suffix_l
            pm.Potential("token_loglik", pt.sum(pt.logsumexp(terms, axis=1)))
            likelihood = (
                f"shared tokens ({n_tok} x {n_size} sizes): nested quanta, first "
                "learned size marginalised"
            )
    sampled = [
        "log_alpha",
        "logit_u_ref",
        "mu_learned",
        "log_gap",
        "sigma_learned",
        "sigma_unlearned",
    ]
    return _sample(
        model,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        nuts_sampler=nuts_sampler,
        target_accept=target_accept,
        progressbar=progressbar,
        warn=warn,
        extend_if_slow=extend_if_slow,
        sampler=sampler,
        sampled=sampled,
        data_kind="token_losses",
        likelihood=likelihood,
    )


def _validate_token_losses(
    data: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if not isinstance(data, pd.DataFrame):
        raise DataError("token losses must be a DataFrame with 'params' and 'loss' columns")
    missing = [c for c in (dims.COL_PARAMS, "loss") if c not in data.columns]
    if missing:
        raise DataError(
            f"token-loss table lacks {missing}; it needs one row per token and model size "
            f"with 'params' (model size N) and 'loss' (> 0), optionally 'token'"
        )
    params = data[dims.COL_PARAMS].to_numpy(dtype=float)
    loss = data["loss"].to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(loss) | (loss <= 0))
    if bad.size:
        raise DataError(
            f"'loss' must be positive and finite (log-normal components); rows "
            f"{bad[:5].tolist()} have {loss[bad[:5]].tolist()}. Clip exact zeros to a "
            f"small value such as 1e-6"
        )
    bad = np.flatnonzero(~np.isfinite(params) | (params <= 0))
    if bad.size:
        raise DataError(f"'params' must be positive; rows {bad[:5].tolist()} are not")
    sizes = np.unique(params)
    if len(sizes) < 2:
        raise DataError(
            "need per-token losses of at least 2 model sizes (the unlearned share must "
            "change with N to identify alpha); 3 or more are better"
        )
    token_matrix = None
    if "token" in data.columns:
        wide = data.pivot_table(
            index="token", columns=dims.COL_PARAMS, values="loss", aggfunc="first"
        )
        counts = data.groupby(["token", dims.COL_PARAMS]).size()
        if (counts > 1).any():
            raise DataError("each (token, params) pair must appear once")
        if wide.isna().any().any():
            raise DataError(
                "with a 'token' column every token must be scored by every model size; "
                "drop incomplete tokens or remove the 'token' column (independent tokens)"
            )
        token_matrix = wide[sizes].to_numpy(dtype=float)
    return sizes, loss, token_matrix


# ---------------------------------------------------------------------------------------
# Consistency of a Chinchilla fit with the quanta model
# ---------------------------------------------------------------------------------------
class HasPosterior(Protocol):
    """Anything with a ``posterior`` Dataset (a :class:`~bayescale.scaling.fitting.ScalingFit`)."""

    @property
    def posterior(self) -> xr.Dataset: ...


def _resolve_posterior(fit: Any) -> tuple[xr.Dataset, str]:
    if isinstance(fit, (str, os.PathLike)):
        path = Path(fit)
        if path.is_dir():
            path = path / "fit.nc"
        if path.exists():
            from bayescale.scaling.fitting import load

            return load(path).posterior, str(fit)
        from bayescale.scaling.reference import load_reference

        try:
            return load_reference(str(fit)).posterior, str(fit)
        except SpecificationError:
            raise
        except Exception as exc:
            raise SpecificationError(
                f"{str(fit)!r} is neither a fit file, a folder with fit.nc, nor a "
                f"reference name (python -m bayescale.scaling.reference list): {exc}"
            ) from exc
    if isinstance(fit, xr.DataTree):
        return fit["posterior"].dataset, "DataTree"
    if isinstance(fit, xr.Dataset):
        return fit, "Dataset"
    post = getattr(fit, "posterior", None)
    if isinstance(post, xr.Dataset):
        return post, type(fit).__name__
    raise SpecificationError(
        f"quanta_consistency needs a ScalingFit, a DataTree/Dataset posterior, a fit path "
        f"or a reference name, not {type(fit).__name__}"
    )


def quanta_consistency(
    fit: ScalingFit | HasPosterior | str | os.PathLike[str] | xr.DataTree | xr.Dataset,
    *,
    ci_prob: float = 0.9,
    tolerance: float = 0.02,
) -> pd.DataFrame:
    r"""Does a Chinchilla fit obey the quanta model's :math:`\beta = \alpha/(\alpha+1)`?

    For every posterior draw and family,

    .. math::

        \Delta = \beta - \frac{\alpha}{\alpha + 1},

    with :math:`\alpha` the parameter exponent and :math:`\beta` the data exponent of
    :math:`L = E + A N^{-\alpha} + B D^{-\beta}`. For exponents pooled across families
    a ``population`` row uses the population medians :math:`e^{\mu_{\log\alpha}}` and
    :math:`e^{\mu_{\log\beta}}`.

    Parameters
    ----------
    fit
        A :class:`~bayescale.scaling.fitting.ScalingFit`, a saved fit (``.nc`` or a folder with
        ``fit.nc``), a reference name (``"gadre2024_chinchilla"``), or a posterior
        DataTree/Dataset with ``alpha`` and ``beta``.
    ci_prob
        Probability of the equal-tailed intervals.
    tolerance
        Half-width of "agreement": the table reports :math:`P(|\Delta| < \text{tol})`.

    Returns
    -------
    pandas.DataFrame
        One row per family (and ``population``): ``alpha``, ``beta``,
        ``beta_predicted`` (:math:`\alpha/(\alpha+1)`), ``diff`` (:math:`\Delta`) as
        median with ``_lower``/``_upper`` bounds, ``p_agree``
        (:math:`P(|\Delta| < \text{tol})`), ``p_beta_above`` (:math:`P(\Delta > 0)`),
        ``alpha_from_beta`` (median of :math:`\beta/(1-\beta)`, the Zipf exponent the
        data exponent implies; NaN where :math:`\beta \ge 1`) and ``verdict``.
        ``attrs`` hold ``ci_prob``, ``tolerance`` and ``source``.
    """
    p = check_ci_prob(ci_prob)
    if not tolerance > 0:
        raise SpecificationError(f"tolerance must be positive, not {tolerance!r}")
    post, source = _resolve_posterior(fit)
    missing = [v for v in ("alpha", "beta") if v not in post]
    if missing:
        raise SpecificationError(
            f"the posterior has no {missing}: quanta_consistency needs a fit with a "
            f"parameter exponent 'alpha' and a data exponent 'beta' (law='chinchilla'); "
            f"it has {sorted(str(v) for v in post.data_vars)}"
        )
    units: list[tuple[str, np.ndarray, np.ndarray]] = []
    alpha, beta = post["alpha"], post["beta"]
    fams = (
        alpha[dims.FAMILY].values
        if dims.FAMILY in alpha.dims
        else (beta[dims.FAMILY].values if dims.FAMILY in beta.dims else None)
    )
    if fams is None:
        units.append(("all", alpha.values.ravel(), beta.values.ravel()))
    else:
        for f in fams:
            a_fam = alpha.sel({dims.FAMILY: f}) if dims.FAMILY in alpha.dims else alpha
            b_fam = beta.sel({dims.FAMILY: f}) if dims.FAMILY in beta.dims else beta
            units.append((str(f), a_fam.values.ravel(), b_fam.values.ravel()))
    if "log_alpha_mu" in post or "log_beta_mu" in post:
        a_pop = (
            np.exp(post["log_alpha_mu"].values.ravel())
            if "log_alpha_mu" in post
            else (alpha.values.ravel() if fams is None or dims.FAMILY not in alpha.dims else None)
        )
        b_pop = (
            np.exp(post["log_beta_mu"].values.ravel())
            if "log_beta_mu" in post
            else (beta.values.ravel() if fams is None or dims.FAMILY not in beta.dims else None)
        )
        if a_pop is not None and b_pop is not None:
            units.append(("population", a_pop, b_pop))
    rows = []
    for name, a_draws, b_draws in units:
        a, b = np.asarray(a_draws, dtype=float), np.asarray(b_draws, dtype=float)
        if np.any(a <= 0) or np.any(b <= 0):
            raise SpecificationError(f"non-positive exponent draws for {name!r}")
        pred = a / (a + 1.0)
        diff = b - pred
        with np.errstate(divide="ignore", invalid="ignore"):
            from_beta = np.where(b < 1, b / (1 - b), np.nan)
        d_lo, d_med, d_hi = quantiles(diff, p)
        row: dict[str, Any] = {"family": name}
        for label, v in (("alpha", a), ("beta", b), ("beta_predicted", pred)):
            q = quantiles(v, p)
            row[label] = float(q[1])
            row[f"{label}_lower"] = float(q[0])
            row[f"{label}_upper"] = float(q[2])
        row.update(
            {
                "diff": float(d_med),
                "diff_lower": float(d_lo),
                "diff_upper": float(d_hi),
                "p_agree": float(np.mean(np.abs(diff) < tolerance)),
                "p_beta_above": float(np.mean(diff > 0)),
                "alpha_from_beta": float(np.nanmedian(from_beta))
                if np.isfinite(from_beta).any()
                else float("nan"),
                "verdict": (
                    "beta above alpha/(alpha+1)"
                    if d_lo > 0
                    else "beta below alpha/(alpha+1)"
                    if d_hi < 0
                    else "consistent"
                ),
            }
        )
        rows.append(row)
    table = pd.DataFrame(rows).set_index("family")
    table.attrs.update({"ci_prob": p, "tolerance": tolerance, "source": source})
    return table
