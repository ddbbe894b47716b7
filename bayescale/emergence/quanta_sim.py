r"""The quantization ("quanta") model of neural scaling (Michaud et al. 2023): the simulator.

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
:math:`\beta = \alpha / (\alpha + 1) < \alpha`
(:func:`~bayescale.emergence.quanta.quanta_consistency`).

This module provides the Zipf frequencies and tail masses (:func:`zipf_frequencies`,
:func:`tail_mass`), the simulator (:func:`simulate_quanta`: per-quantum and total loss
curves against :math:`N` or :math:`D`) and simulated observations for the Bayesian fits
(:func:`simulate_quanta_counts`, :func:`simulate_token_losses`). The fits of
:math:`\alpha` and the consistency check of a Chinchilla fit are in
:mod:`bayescale.emergence.quanta`.

``docs/quanta.md`` has the derivations, the likelihoods and what the shipped reference
posteriors say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from bayescale.core import dims
from bayescale.core.errors import SpecificationError

__all__ = [
    "QuantaSimulation",
    "implied_data_exponent",
    "loglog_slope",
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
def check_alpha(alpha: float) -> float:
    """``alpha`` as a float, or a :class:`SpecificationError` unless it is positive."""
    a = float(alpha)
    if not np.isfinite(a) or a <= 0:
        raise SpecificationError(
            f"alpha must be a positive number (the Zipf exponent, p_k ~ k^-(alpha+1)), "
            f"not {alpha!r}; language models have alpha_N of about 0.05 to 0.5"
        )
    return a


def check_n_quanta(n_quanta: int | None) -> int | None:
    """``n_quanta`` as an int (or None), or a :class:`SpecificationError`."""
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
    a = check_alpha(alpha)
    k_max = check_n_quanta(n_quanta)
    assert k_max is not None
    w = np.arange(1, k_max + 1, dtype=float) ** -(a + 1.0)
    return np.asarray(w / w.sum())


def zeta_partial(a: Any, n_quanta: int | None, ops: Any = np) -> Any:
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
    k_max = check_n_quanta(n_quanta)
    if exact:
        if k_max is None or a.ndim:
            raise SpecificationError("exact=True needs a scalar alpha and a finite n_quanta")
        p = zipf_frequencies(float(a), k_max)
        cum = np.concatenate([[0.0], np.cumsum(p)])
        idx = np.clip(np.floor(n).astype(int), 0, k_max)
        return np.asarray(np.clip(1.0 - cum[idx], 0.0, 1.0))
    z = np.vectorize(lambda x: zeta_partial(x, k_max))(a)
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
    a = check_alpha(alpha)
    k_max = check_n_quanta(n_quanta)
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
    z = float(zeta_partial(a, k_max))

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
    a = check_alpha(alpha)
    ns = _positive(sizes, "sizes")
    k_max = check_n_quanta(n_quanta) or 10**7
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
