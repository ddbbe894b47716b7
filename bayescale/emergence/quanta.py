r"""The quantization ("quanta") model of neural scaling (Michaud et al. 2023).

Michaud, Liu, Girit and Tegmark, *The Quantization Model of Neural Scaling*,
NeurIPS 2023, arXiv:2303.13506 (Sec. 2, "Theory"). Skills come in discrete **quanta**
:math:`k = 1, 2, \dots`, ordered by how often the data need them, with Zipf use
frequencies

.. math::

    p_k = \frac{k^{-(\alpha + 1)}}{Z(\alpha)}, \qquad
    Z(\alpha) = \sum_{k=1}^{K} k^{-(\alpha + 1)}
    \quad (K = \infty \text{ in the paper}; \ Z = \zeta(\alpha + 1)).

A sample that needs quantum :math:`k` has loss :math:`b` until the network has learned
that quantum and (about) 0 after. Learning the quanta in order of frequency,

* **parameters**: a network of :math:`N` parameters holds :math:`n(N) = N / C` quanta
  (:math:`C` parameters per quantum), so

  .. math::

      L(N) - L_\infty = b \sum_{k > n} p_k
          \approx \frac{b}{\alpha Z}\, n^{-\alpha} \propto N^{-\alpha_N},
      \qquad \alpha_N = \alpha;

* **data**: quantum :math:`k` is learned once its samples have been seen about
  :math:`\tau` times, :math:`D p_k \ge \tau`, so
  :math:`n(D) = (D / (\tau Z))^{1/(\alpha + 1)}` and

  .. math::

      L(D) - L_\infty \propto n(D)^{-\alpha} \propto D^{-\alpha_D}, \qquad
      \alpha_D = \frac{\alpha}{\alpha + 1} = \frac{\alpha_N}{\alpha_N + 1}.

Each quantum's own loss is a step in :math:`N` or :math:`D` (emergence); their
frequency-weighted sum is a smooth power law. The last relation is a testable
prediction for any Chinchilla fit :math:`L = E + A N^{-\alpha} + B D^{-\beta}`:
:math:`\beta = \alpha / (\alpha + 1) < \alpha` (:func:`quanta_consistency`).

This module provides

* :func:`simulate_quanta`: per-quantum and total loss curves against :math:`N` or
  :math:`D`;
* :func:`fit_zipf_counts`: the posterior of :math:`\alpha` from how often each quantum
  (skill, token type) is used;
* :func:`fit_token_losses`: the posterior of :math:`\alpha` from per-token losses of a
  few model sizes (learned/unlearned mixture whose unlearned share is the Zipf tail
  mass beyond :math:`n(N)`);
* :func:`quanta_consistency`: draw-by-draw :math:`\beta - \alpha / (\alpha + 1)` of a
  Chinchilla fit, a saved fit or a reference posterior.

``docs/quanta.md`` has the derivations, the likelihoods and what the shipped reference
posteriors say.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr

from bayescale.core import dims
from bayescale.core.diagnostics import Diagnostics, check_convergence
from bayescale.core.errors import DataError, SpecificationError
from bayescale.core.sampling import sample_posterior

if TYPE_CHECKING:
    from bayescale.scaling.fitting import ScalingFit

__all__ = [
    "QuantaFit",
    "QuantaSimulation",
    "fit_token_losses",
    "fit_zipf_counts",
    "implied_data_exponent",
    "loglog_slope",
    "quanta_consistency",
    "simulate_quanta",
    "simulate_quanta_counts",
    "simulate_token_losses",
    "tail_mass",
    "zipf_frequencies",
]

#: Number of leading terms summed exactly in :math:`Z(\alpha)`; the rest is the midpoint
#: integral (relative error below 1e-6 for :math:`\alpha \ge 0.05`).
_EXACT_TERMS = 64


# ---------------------------------------------------------------------------------------
# Zipf frequencies and tail masses
# ---------------------------------------------------------------------------------------
def _check_alpha(alpha: float) -> float:
    a = float(alpha)
    if not np.isfinite(a) or a <= 0:
        raise SpecificationError(
            f"alpha must be a positive number (the Zipf exponent, p_k ~ k^-(alpha+1)), "
            f"not {alpha!r}; language models have alpha_N of about 0.05 to 0.5"
        )
    return a


def _check_n_quanta(n_quanta: int | None) -> int | None:
    if n_quanta is None:
        return None
    if int(n_quanta) != n_quanta or n_quanta < 1:
        raise SpecificationError(f"n_quanta must be a positive integer or None, not {n_quanta!r}")
    return int(n_quanta)


def zipf_frequencies(alpha: float, n_quanta: int) -> np.ndarray:
    r"""Use frequencies :math:`p_k = k^{-(\alpha+1)} / \sum_{j \le K} j^{-(\alpha+1)}`.

    Parameters
    ----------
    alpha
        Zipf exponent :math:`\alpha > 0` (the loss exponent :math:`\alpha_N`).
    n_quanta
        Number of quanta :math:`K` (truncation).

    Returns
    -------
    numpy.ndarray
        ``p[k - 1]`` for :math:`k = 1, \dots, K`; sums to 1.
    """
    a = _check_alpha(alpha)
    k_max = _check_n_quanta(n_quanta)
    assert k_max is not None
    w = np.arange(1, k_max + 1, dtype=float) ** -(a + 1.0)
    return np.asarray(w / w.sum())


def _zeta_partial(a: Any, n_quanta: int | None, ops: Any = np) -> Any:
    r""":math:`Z(\alpha) = \sum_{k=1}^{K} k^{-(\alpha+1)}` (``ops``: numpy or pytensor)."""
    m = _EXACT_TERMS if n_quanta is None else min(_EXACT_TERMS, n_quanta)
    head = (
        ops.sum(np.arange(1.0, m + 1.0) ** -(a + 1.0))
        if ops is np
        else ops.sum(ops.as_tensor_variable(np.arange(1.0, m + 1.0)) ** -(a + 1.0))
    )
    if n_quanta is not None and n_quanta <= m:
        return head
    rest = (m + 0.5) ** -a
    if n_quanta is not None:
        rest = rest - (n_quanta + 0.5) ** -a
    return head + rest / a


def tail_mass(
    alpha: float | npt.ArrayLike,
    n_learned: npt.ArrayLike,
    n_quanta: int | None = None,
    *,
    exact: bool = False,
) -> np.ndarray:
    r"""Share of samples whose quantum is not among the first :math:`n` learned.

    .. math::

        u(n) = \frac{\sum_{n < k \le K} k^{-(\alpha+1)}}{Z(\alpha)}
             \approx \frac{(n + \tfrac12)^{-\alpha} - (K + \tfrac12)^{-\alpha}}
                          {\alpha\, Z(\alpha)}

    The midpoint approximation (default) is smooth in :math:`n` and :math:`\alpha` (as
    used in :func:`fit_token_losses`); its relative error is about
    :math:`(\alpha+1)(\alpha+2) / (24 (n + \frac12)^2)`, 0.3% at :math:`n = 10`.

    Parameters
    ----------
    alpha
        Zipf exponent(s), broadcast against ``n_learned``.
    n_learned
        Number of learned quanta :math:`n \ge 0`.
    n_quanta
        Truncation :math:`K` (``None``: infinitely many quanta).
    exact
        Sum the discrete tail exactly (``n`` is floored; needs ``n_quanta``).
    """
    a = np.asarray(alpha, dtype=float)
    if np.any(~np.isfinite(a)) or np.any(a <= 0):
        raise SpecificationError("alpha must be positive and finite")
    n = np.asarray(n_learned, dtype=float)
    if np.any(n < 0):
        raise SpecificationError("the number of learned quanta must be >= 0")
    k_max = _check_n_quanta(n_quanta)
    if exact:
        if k_max is None or a.ndim:
            raise SpecificationError("exact=True needs a scalar alpha and a finite n_quanta")
        p = zipf_frequencies(float(a), k_max)
        cum = np.concatenate([[0.0], np.cumsum(p)])
        idx = np.clip(np.floor(n).astype(int), 0, k_max)
        return np.asarray(np.clip(1.0 - cum[idx], 0.0, 1.0))
    z = np.vectorize(lambda x: _zeta_partial(x, k_max))(a)
    top = (n + 0.5) ** -a
    if k_max is not None:
        top = top - (k_max + 0.5) ** -a
    return np.asarray(np.clip(top / (a * z), 0.0, 1.0))


def implied_data_exponent(alpha: npt.ArrayLike) -> np.ndarray:
    r"""The data exponent the quanta model predicts: :math:`\alpha_D = \alpha/(\alpha+1)`."""
    a = np.asarray(alpha, dtype=float)
    return np.asarray(a / (a + 1.0))


# ---------------------------------------------------------------------------------------
# Simulator
# ---------------------------------------------------------------------------------------
@dataclass
class QuantaSimulation:
    r"""Loss curves of the quanta model.

    Attributes
    ----------
    per_quantum : pandas.DataFrame
        One row per tracked quantum and scale: ``axis`` (``"params"`` or ``"tokens"``),
        ``scale`` (N or D), ``quantum`` (k), ``frequency`` (:math:`p_k`),
        ``learned`` (0 to 1), ``loss`` (mean loss on the samples that need quantum k:
        :math:`b(1 - \text{learned})`, a step) and ``contribution``
        (:math:`p_k \times` ``loss``, its share of the total).
    total : pandas.DataFrame
        One row per scale: ``axis``, ``scale``, ``n_learned`` (quanta learned, possibly
        fractional), ``reducible`` (:math:`\sum_k p_k b (1 - \text{learned}_k)`, over
        all :math:`K` quanta) and ``loss`` (``irreducible`` + ``reducible``).
    alpha, n_quanta
        The Zipf exponent and the number of quanta (``None``: infinitely many).
    """

    per_quantum: pd.DataFrame
    total: pd.DataFrame
    alpha: float
    n_quanta: int | None

    def slope(
        self, axis: str = dims.COL_PARAMS, *, n_min: float = 10.0, n_max_share: float = 0.01
    ) -> float:
        r"""Log-log slope of the reducible loss against ``axis``.

        Only scales where :math:`n_\mathrm{min} \le n \le` ``n_max_share`` :math:`K` are
        used (away from the first few quanta and, for a finite :math:`K`, from the
        truncation). Compare with :math:`-\alpha` (params) and :math:`-\alpha/(\alpha+1)`
        (tokens).
        """
        t = self.total[self.total["axis"] == axis]
        n_max = np.inf if self.n_quanta is None else n_max_share * self.n_quanta
        keep = (t["n_learned"] >= n_min) & (t["n_learned"] <= n_max)
        if keep.sum() < 2:
            raise SpecificationError(
                f"fewer than 2 {axis} scales learn between {n_min:g} and {n_max:g} quanta; "
                f"widen the grid or raise n_quanta"
            )
        return loglog_slope(t.loc[keep, "scale"].to_numpy(), t.loc[keep, "reducible"].to_numpy())


def loglog_slope(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Least-squares slope of ``log y`` against ``log x``."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    return float(np.polyfit(lx, ly, 1)[0])


def _learned(log_ratio: np.ndarray, width: float) -> np.ndarray:
    """Learned share from ``log(scale / threshold)``: a step, or a logistic of ``width``."""
    if width <= 0:
        return (log_ratio >= -1e-12).astype(float)
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(log_ratio / width, -700, 700))))


def simulate_quanta(
    alpha: float,
    *,
    n_quanta: int | None = None,
    sizes: npt.ArrayLike | None = None,
    tokens: npt.ArrayLike | None = None,
    params_per_quantum: float = 1.0,
    tau: float = 1.0,
    loss_per_quantum: float = 1.0,
    irreducible: float = 0.0,
    width: float = 0.0,
    track: int | Sequence[int] = 10,
) -> QuantaSimulation:
    r"""Per-quantum and total loss curves of the quanta model against N and/or D.

    Against parameters, quantum :math:`k` is learned when :math:`k \le n(N) = N / C`;
    against data, when :math:`D p_k \ge \tau`. With ``width > 0`` the step is a
    logistic in log scale, :math:`\sigma(\log(n(N)/k) / w)` or
    :math:`\sigma(\log(D p_k / \tau) / w)`. The total is

    .. math::

        L = L_\infty + b \sum_{k=1}^{K} p_k\,(1 - \text{learned}_k).

    Parameters
    ----------
    alpha
        Zipf exponent :math:`\alpha > 0`; :math:`p_k \propto k^{-(\alpha+1)}`.
    n_quanta
        Number of quanta :math:`K`; ``None`` (default): infinitely many, the quanta far
        beyond the learned ones entering through their exact tail mass (the pure power
        law; a finite :math:`K` bends the curve down as :math:`n` approaches :math:`K`).
    sizes, tokens
        Parameter counts N and/or token counts D at which to evaluate (at least one).
    params_per_quantum
        :math:`C`: parameters needed per quantum.
    tau
        :math:`\tau`: samples of a quantum needed to learn it.
    loss_per_quantum
        :math:`b`: loss on a sample whose quantum is not learned (0 once learned).
    irreducible
        :math:`L_\infty`.
    width
        Width of a smooth step in natural-log units (0: a hard step).
    track
        Quanta whose own curves go in ``per_quantum``: the first ``track`` quanta or an
        explicit list of indices (1-based).

    Returns
    -------
    QuantaSimulation
    """
    a = _check_alpha(alpha)
    k_max = _check_n_quanta(n_quanta)
    if sizes is None and tokens is None:
        raise SpecificationError("give sizes= (parameter counts) and/or tokens= (token counts)")
    for name, v in (
        ("params_per_quantum", params_per_quantum),
        ("tau", tau),
        ("loss_per_quantum", loss_per_quantum),
    ):
        if not float(v) > 0:
            raise SpecificationError(f"{name} must be positive, not {v!r}")
    if width < 0:
        raise SpecificationError(f"width must be >= 0 (0 is a hard step), not {width!r}")
    axes: list[tuple[str, np.ndarray]] = []
    if sizes is not None:
        axes.append((dims.COL_PARAMS, _positive(sizes, "sizes")))
    if tokens is not None:
        axes.append((dims.COL_TOKENS, _positive(tokens, "tokens")))
    z = float(_zeta_partial(a, k_max))

    def n_of(axis: str, x: float) -> float:
        if axis == dims.COL_PARAMS:
            return float(x / params_per_quantum)
        return float((x / (tau * z)) ** (1.0 / (a + 1.0)))

    if k_max is None:
        # Infinitely many quanta: the first k_explicit are explicit, the rest (never
        # learned at these scales) enter through their analytic tail mass.
        # A smooth step still learns quanta up to about n * exp(15 width) (share 3e-7).
        n_top = max(n_of(ax, float(xs.max())) for ax, xs in axes)
        margin = 2.0 if width == 0 else float(np.exp(15.0 * width))
        k_explicit = int(min(max(margin * n_top + 100.0, 1000.0), 20_000_000.0))
        remainder = (k_explicit + 0.5) ** -a / (a * z)
    else:
        k_explicit, remainder = k_max, 0.0
    tracked = (
        np.arange(1, min(int(track), k_explicit) + 1)
        if isinstance(track, (int, np.integer))
        else np.asarray(sorted({int(t) for t in track}), dtype=int)
    )
    if tracked.size and (tracked.min() < 1 or tracked.max() > k_explicit):
        raise SpecificationError(f"tracked quanta must lie in 1..{k_explicit}")
    k_all = np.arange(1, k_explicit + 1, dtype=float)
    p = k_all ** -(a + 1.0) / z
    log_k = np.log(k_all)
    b = float(loss_per_quantum)
    per_rows: list[pd.DataFrame] = []
    tot_rows: list[dict[str, Any]] = []
    for axis, scales in axes:
        for x in scales:
            n = n_of(axis, float(x))
            if axis == dims.COL_PARAMS:
                log_ratio = np.log(n) - log_k
            else:
                log_ratio = np.log(x * p / tau)
            learned = _learned(log_ratio, width)
            reducible = b * (float(np.sum(p * (1.0 - learned))) + remainder)
            tot_rows.append(
                {
                    "axis": axis,
                    "scale": float(x),
                    "n_learned": float(n if k_max is None else min(n, k_max)),
                    "reducible": reducible,
                    "loss": irreducible + reducible,
                }
            )
            if tracked.size:
                lk = learned[tracked - 1]
                per_rows.append(
                    pd.DataFrame(
                        {
                            "axis": axis,
                            "scale": float(x),
                            "quantum": tracked,
                            "frequency": p[tracked - 1],
                            "learned": lk,
                            "loss": b * (1.0 - lk),
                            "contribution": p[tracked - 1] * b * (1.0 - lk),
                        }
                    )
                )
    per_quantum = (
        pd.concat(per_rows, ignore_index=True)
        if per_rows
        else pd.DataFrame(
            columns=["axis", "scale", "quantum", "frequency", "learned", "loss", "contribution"]
        )
    )
    return QuantaSimulation(per_quantum, pd.DataFrame(tot_rows), a, k_max)


def _positive(values: npt.ArrayLike, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.size == 0 or np.any(~np.isfinite(arr)) or np.any(arr <= 0):
        raise SpecificationError(f"{name} must be positive finite numbers")
    return np.asarray(np.sort(arr))


# ---------------------------------------------------------------------------------------
# Simulated observations for the Bayesian fits
# ---------------------------------------------------------------------------------------
def simulate_quanta_counts(
    alpha: float, *, n_quanta: int = 1000, n_samples: int = 20_000, seed: int = 0
) -> pd.DataFrame:
    r"""How often each quantum is used in ``n_samples`` samples: multinomial Zipf counts.

    Returns a table with ``rank`` (the quantum's true index :math:`k`) and ``count``.
    """
    p = zipf_frequencies(alpha, n_quanta)
    counts = np.random.default_rng(seed).multinomial(int(n_samples), p)
    return pd.DataFrame({"rank": np.arange(1, n_quanta + 1), "count": counts})


def simulate_token_losses(
    alpha: float,
    sizes: npt.ArrayLike,
    *,
    params_per_quantum: float,
    n_tokens: int = 1000,
    n_quanta: int | None = 100_000,
    learned: tuple[float, float] = (np.log(0.05), 0.8),
    unlearned: tuple[float, float] = (np.log(3.0), 0.4),
    shared_tokens: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    r"""Per-token losses of models of several sizes under the quanta model.

    Every token needs one quantum :math:`k \sim \mathrm{Zipf}(\alpha, K)`. A model of
    :math:`N` parameters has learned quanta :math:`k \le \lfloor N / C \rfloor`; a
    learned token's loss is log-normal with ``learned = (mu, sigma)`` (of the log loss),
    an unlearned one's with ``unlearned``.

    Parameters
    ----------
    shared_tokens
        Score the same ``n_tokens`` tokens with every model (a ``token`` column, as when
        one evaluation set is scored by every size) or fresh tokens per size.

    Returns
    -------
    pandas.DataFrame
        ``token`` (with ``shared_tokens``), ``params``, ``loss`` and the latent
        ``quantum`` and ``learned`` (truth, not used by the fits).
    """
    a = _check_alpha(alpha)
    ns = _positive(sizes, "sizes")
    k_max = _check_n_quanta(n_quanta) or 10**7
    rng = np.random.default_rng(seed)
    p = zipf_frequencies(a, k_max)
    frames = []
    shared = rng.choice(k_max, size=n_tokens, p=p) + 1 if shared_tokens else None
    # Per-token noise is drawn per (token, size): a token's loss still varies across sizes.
    for size in ns:
        k = shared if shared is not None else rng.choice(k_max, size=n_tokens, p=p) + 1
        is_learned = k <= np.floor(size / params_per_quantum)
        mu = np.where(is_learned, learned[0], unlearned[0])
        sd = np.where(is_learned, learned[1], unlearned[1])
        frame = pd.DataFrame(
            {
                dims.COL_PARAMS: size,
                "loss": np.exp(rng.normal(mu, sd)),
                "quantum": k,
                "learned": is_learned,
            }
        )
        if shared_tokens:
            frame.insert(0, "token", np.arange(n_tokens))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------
# Bayesian fits
# ---------------------------------------------------------------------------------------
@dataclass
class QuantaFit:
    r"""Posterior of the Zipf exponent :math:`\alpha` from :func:`fit_zipf_counts` or
    :func:`fit_token_losses`.

    Attributes
    ----------
    idata : xarray.DataTree
        Posterior (``alpha``, ``alpha_N``, ``alpha_D`` and the nuisance parameters),
        ``sample_stats`` and the data in ``constant_data``.
    diagnostics : Diagnostics
        Divergences, R-hat and bulk ESS of the sampled parameters.
    kind : str
        ``"counts"`` or ``"token_losses"``.
    likelihood : str
        The likelihood used, in words.
    """

    idata: xr.DataTree
    diagnostics: Diagnostics
    kind: str
    likelihood: str
    sampled: list[str] = field(default_factory=list)

    @property
    def posterior(self) -> xr.Dataset:
        return self.idata["posterior"].dataset

    def summary(
        self, *, ci_prob: float = 0.9, ci_kind: str = "eti", var_names: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """ArviZ summary with an explicit interval (default: every scalar parameter)."""
        import arviz as az

        names = (
            list(var_names)
            if var_names
            else [str(v) for v in self.posterior.data_vars if not str(v).startswith("log_")]
        )
        return az.summary(
            self.idata, var_names=names, ci_prob=ci_prob, ci_kind=ci_kind, round_to="none"
        )

    def alpha_interval(self, ci: float = 0.9) -> tuple[float, float]:
        r"""Equal-tailed ``ci`` interval of :math:`\alpha`."""
        draws = self.posterior["alpha"].values.ravel()
        lo, hi = np.quantile(draws, [(1 - ci) / 2, (1 + ci) / 2])
        return float(lo), float(hi)

    def exponents(self, ci: float = 0.9) -> pd.DataFrame:
        r""":math:`\alpha`, :math:`\alpha_N = \alpha` and :math:`\alpha_D = \alpha/(\alpha+1)`
        with mean, median and equal-tailed ``ci`` intervals."""
        rows = []
        for name in ("alpha", "alpha_N", "alpha_D"):
            d = self.posterior[name].values.ravel()
            lo, med, hi = np.quantile(d, [(1 - ci) / 2, 0.5, (1 + ci) / 2])
            rows.append(
                {
                    "exponent": name,
                    "mean": float(d.mean()),
                    "median": float(med),
                    "lower": float(lo),
                    "upper": float(hi),
                    "ci_prob": ci,
                }
            )
        return pd.DataFrame(rows).set_index("exponent")

    def __repr__(self) -> str:
        lo, hi = self.alpha_interval()
        return (
            f"<QuantaFit kind={self.kind!r} alpha 90% [{lo:.3f}, {hi:.3f}] "
            f"diagnostics: {self.diagnostics}>"
        )


def _sample(
    model: Any,
    *,
    draws: int,
    tune: int,
    chains: int,
    seed: int,
    nuts_sampler: str,
    target_accept: float,
    progressbar: bool,
    sampled: list[str],
    kind: str,
    likelihood: str,
) -> QuantaFit:
    idata = sample_posterior(
        model,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        nuts_sampler=nuts_sampler,
        target_accept=target_accept,
        progressbar=progressbar,
    )
    diag = check_convergence(idata, var_names=sampled)
    return QuantaFit(idata, diag, kind, likelihood, sampled)


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
    seed: int = 0,
    nuts_sampler: str = "nutpie",
    target_accept: float = 0.8,
    progressbar: bool = False,
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
        sampled=["log_alpha"],
        kind="counts",
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
    z = _zeta_partial(alpha, n_quanta, ops=pt)
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
    seed: int = 0,
    nuts_sampler: str = "nutpie",
    target_accept: float = 0.8,
    progressbar: bool = False,
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
    """
    import pymc as pm
    import pytensor.tensor as pt

    sizes, loss, token = _validate_token_losses(data)
    k_max = _check_n_quanta(n_quanta)
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
        z = _zeta_partial(alpha, k_max, ops=pt)
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
        sampled=sampled,
        kind="token_losses",
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
    ci: float = 0.9,
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
    ci
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
        ``attrs`` hold ``ci``, ``tolerance`` and ``source``.
    """
    if not 0 < ci < 1:
        raise SpecificationError(f"ci must be in (0, 1), not {ci!r}")
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
    lo_q, hi_q = (1 - ci) / 2, (1 + ci) / 2
    rows = []
    for name, a_draws, b_draws in units:
        a, b = np.asarray(a_draws, dtype=float), np.asarray(b_draws, dtype=float)
        if np.any(a <= 0) or np.any(b <= 0):
            raise SpecificationError(f"non-positive exponent draws for {name!r}")
        pred = a / (a + 1.0)
        diff = b - pred
        with np.errstate(divide="ignore", invalid="ignore"):
            from_beta = np.where(b < 1, b / (1 - b), np.nan)
        d_lo, d_med, d_hi = np.quantile(diff, [lo_q, 0.5, hi_q])
        row: dict[str, Any] = {"family": name}
        for label, v in (("alpha", a), ("beta", b), ("beta_predicted", pred)):
            q = np.quantile(v, [lo_q, 0.5, hi_q])
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
    table.attrs.update({"ci": ci, "tolerance": tolerance, "source": source})
    return table
