"""MCMC convergence checks run after every fit.

A fit passes when, for every variable of the posterior,

* there are no divergent transitions,
* the rank-normalised split R-hat is at most :data:`RHAT_MAX` (1.01), and
* the bulk effective sample size is at least :data:`ESS_BULK_MIN` (400),

following Vehtari et al. (2021), "Rank-normalization, folding, and localization: an
improved R-hat". Otherwise a :class:`~bayescale.core.errors.ConvergenceWarning` names the
variables that fall short and what to do (``docs/diagnostics.md``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from bayescale.core.errors import ConvergenceWarning

__all__ = [
    "ESS_BULK_MIN",
    "RHAT_MAX",
    "Diagnostics",
    "check_convergence",
    "diagnostics_table",
    "ess_bulk",
    "rhat_rank",
]

RHAT_MAX = 1.01
ESS_BULK_MIN = 400.0


@dataclass
class Diagnostics:
    """Convergence figures of one fit."""

    divergences: int
    n_samples: int
    max_rhat: float
    min_ess_bulk: float
    bad_rhat: dict[str, float] = field(default_factory=dict)
    low_ess: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every threshold holds."""
        return self.divergences == 0 and not self.bad_rhat and not self.low_ess

    def problems(self) -> list[str]:
        """One sentence per failed check, naming variables and the remedy."""
        out = []
        if self.divergences:
            out.append(
                f"{self.divergences} divergent transitions of {self.n_samples} draws: the "
                "posterior has regions NUTS cannot follow. Look at pair plots of the "
                "parameters named below; tighten priors or share a parameter across "
                "families (pooling='shared') rather than only raising target_accept."
            )
        if self.bad_rhat:
            names = ", ".join(f"{k} ({_fmt_rhat(v)})" for k, v in _worst(self.bad_rhat, True))
            out.append(
                f"R-hat above {RHAT_MAX} for {names}: chains disagree. Run more tuning "
                "and draws (tune=2000, draws=2000) or more informative priors."
            )
        if self.low_ess:
            names = ", ".join(f"{k} ({v:.0f})" for k, v in _worst(self.low_ess, False))
            out.append(
                f"bulk ESS below {ESS_BULK_MIN:.0f} for {names}: intervals are noisy. "
                "Run more draws (draws=2000) or reparameterise."
            )
        return out

    def __str__(self) -> str:
        status = "ok" if self.ok else "NOT CONVERGED"
        return (
            f"divergences {self.divergences}, max R-hat {_fmt_rhat(self.max_rhat)} "
            f"(<= {RHAT_MAX}), "
            f"min bulk ESS {self.min_ess_bulk:.0f} (>= {ESS_BULK_MIN:.0f}): {status}"
        )


def _worst(values: dict[str, float], high: bool, limit: int = 6) -> list[tuple[str, float]]:
    items = sorted(values.items(), key=lambda kv: kv[1], reverse=high)
    return items[:limit]


def check_convergence(
    idata: xr.DataTree,
    *,
    var_names: Sequence[str] | None = None,
    warn: bool = True,
) -> Diagnostics:
    """Compute divergences, R-hat and bulk ESS of a posterior and warn when they fall short.

    Parameters
    ----------
    idata
        A DataTree with ``posterior`` and ``sample_stats`` groups.
    var_names
        Variables to check (default: every posterior variable).
    warn
        Emit a :class:`~bayescale.core.errors.ConvergenceWarning` when a check fails.
    """
    post = idata["posterior"].dataset
    rhat, ess = diagnostics_table(post, var_names)
    stats = idata["sample_stats"].dataset if "sample_stats" in idata.children else xr.Dataset()
    divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
    n_samples = int(post.sizes.get("chain", 1) * post.sizes.get("draw", 1))
    diag = Diagnostics(
        divergences=divergences,
        n_samples=n_samples,
        max_rhat=_finite_extreme(rhat, max),
        min_ess_bulk=_finite_extreme(ess, min),
        bad_rhat={k: v for k, v in rhat.items() if not v <= RHAT_MAX},
        low_ess={k: v for k, v in ess.items() if not v >= ESS_BULK_MIN},
    )
    if warn and not diag.ok:
        warnings.warn(
            "sampling did not converge: " + " ".join(diag.problems()),
            ConvergenceWarning,
            stacklevel=3,
        )
    return diag


def _finite_extreme(values: dict[str, float], pick: Any) -> float:
    """The largest (``max``) or smallest (``min``) value that is not NaN (NaN if none)."""
    finite = [v for v in values.values() if not np.isnan(v)]
    return float(pick(finite)) if finite else float("nan")


def diagnostics_table(
    posterior: xr.Dataset, var_names: Sequence[str] | None = None
) -> tuple[dict[str, float], dict[str, float]]:
    """Rank-normalised split R-hat and bulk ESS of every scalar of ``posterior``.

    Keys are ArviZ's labels (``"alpha"``, ``"theta[rpj]"``, ``"x[a, 2]"``); the values are
    those of ``arviz_stats.summary(kind="diagnostics")`` (the tests compare them), computed
    here with NumPy alone so that a fit does not import ArviZ's statistics and SciPy's.
    """
    names = [str(v) for v in (var_names or posterior.data_vars)]
    rhat: dict[str, float] = {}
    ess: dict[str, float] = {}
    for name in names:
        da = posterior[name]
        extra = [d for d in da.dims if d not in ("chain", "draw")]
        values = da.transpose("chain", "draw", *extra).values
        if not extra:
            rhat[name] = rhat_rank(values)
            ess[name] = ess_bulk(values)
            continue
        labels = [
            np.asarray(da[d].values) if d in da.coords else np.arange(da.sizes[d]) for d in extra
        ]
        for index in np.ndindex(*values.shape[2:]):
            label = (
                f"{name}[{', '.join(str(lab[i]) for lab, i in zip(labels, index, strict=True))}]"
            )
            chains = values[(slice(None), slice(None), *index)]
            rhat[label] = rhat_rank(chains)
            ess[label] = ess_bulk(chains)
    return rhat, ess


def _invalid(ary: np.ndarray, min_chains: int) -> bool:
    """ArviZ's validity rule: NaN anywhere, too few chains or fewer than 4 draws."""
    return bool(np.isnan(ary).any() or ary.shape[0] < min_chains or ary.shape[1] < 4)


def _split_chains(ary: np.ndarray) -> np.ndarray:
    half = ary.shape[1] // 2
    return np.vstack((ary[:, :half], ary[:, -half:]))


def _z_scale(ary: np.ndarray) -> np.ndarray:
    r"""Rank-normalise: :math:`z = \Phi^{-1}((r - 3/8) / (S + 1/4))`, average ranks of ties."""
    from scipy.special import ndtri

    flat = ary.ravel()
    order = np.argsort(flat, kind="mergesort")
    ordered = flat[order]
    new = np.r_[True, ordered[1:] != ordered[:-1]]
    dense = np.cumsum(new)
    bounds = np.r_[np.flatnonzero(new), flat.size]
    ranks = np.empty(flat.size)
    ranks[order] = 0.5 * (bounds[dense] + bounds[dense - 1] + 1)
    return np.asarray(ndtri((ranks - 3 / 8) / (flat.size + 1 / 4))).reshape(ary.shape)


def _rhat(ary: np.ndarray) -> float:
    n = ary.shape[1]
    between = n * np.var(np.mean(ary, axis=1), ddof=1)
    within = np.mean(np.var(ary, axis=1, ddof=1))
    with np.errstate(invalid="ignore", divide="ignore"):  # constant draws: NaN, as ArviZ
        return float(np.sqrt((between / within + n - 1) / n))


def rhat_rank(ary: np.ndarray) -> float:
    r"""Rank-normalised split R-hat of ``(chain, draw)`` draws (Vehtari et al. 2021).

    :math:`\hat R = \max(\hat R_\text{bulk}, \hat R_\text{tail})`, the split R-hat of the
    rank-normalised draws and of the rank-normalised folded draws
    :math:`|\theta - \operatorname{median}\theta|`, with
    :math:`\hat R = \sqrt{(B/W + n - 1)/n}` for split chains of :math:`n` draws, :math:`B`
    :math:`n` times the variance of the chain means and :math:`W` the mean within-chain
    variance. NaN with fewer than 2 chains or 4 draws, or NaN draws.
    """
    ary = np.asarray(ary, dtype=float)
    if _invalid(ary, 2):
        return float("nan")
    split = _split_chains(ary)
    bulk = _rhat(_z_scale(split))
    tail = _rhat(_z_scale(np.abs(split - np.median(split))))
    return max(bulk, tail)


def ess_bulk(ary: np.ndarray) -> float:
    r"""Bulk effective sample size of ``(chain, draw)`` draws (Vehtari et al. 2021).

    The effective sample size of the rank-normalised split chains:
    :math:`S / \hat\tau`, with :math:`\hat\tau = -1 + 2\sum_t \hat\rho_t` summed by
    Geyer's initial monotone sequence over the autocorrelations combined across chains.
    NaN with fewer than 4 draws or NaN draws.
    """
    ary = np.asarray(ary, dtype=float)
    if _invalid(ary, 1):
        return float("nan")
    return _ess(_z_scale(_split_chains(ary)))


def _ess(ary: np.ndarray) -> float:
    if np.max(ary) - np.min(ary) < np.finfo(float).resolution:
        return float(ary.size)
    n_chain, n_draw = ary.shape
    centred = ary - ary.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=2 * n_draw, axis=1)
    acov = np.fft.irfft(spectrum * np.conjugate(spectrum), n=2 * n_draw, axis=1)[:, :n_draw]
    acov /= n_draw
    mean_acov = acov.mean(axis=0)
    mean_var = mean_acov[0] * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus += np.var(ary.mean(axis=1), ddof=1)
    rho = np.zeros(n_draw)
    rho_even = 1.0
    rho[0] = rho_even
    rho_odd = 1.0 - (mean_var - mean_acov[1]) / var_plus
    rho[1] = rho_odd
    # Geyer's initial positive sequence
    t = 1
    while t < n_draw - 3 and rho_even + rho_odd > 0.0:
        rho_even = 1.0 - (mean_var - mean_acov[t + 1]) / var_plus
        rho_odd = 1.0 - (mean_var - mean_acov[t + 2]) / var_plus
        if rho_even + rho_odd >= 0:
            rho[t + 1] = rho_even
            rho[t + 2] = rho_odd
        t += 2
    max_t = t - 2
    if rho_even > 0:
        rho[max_t + 1] = rho_even
    # Geyer's initial monotone sequence
    t = 1
    while t <= max_t - 2:
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0
            rho[t + 2] = rho[t + 1]
        t += 2
    size = n_chain * n_draw
    tau = -1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1 : max_t + 2])
    tau = max(tau, 1 / np.log10(size))
    return float("nan") if np.isnan(rho).any() else float(size / tau)


def _fmt_rhat(value: float) -> str:
    """R-hat with 3 decimals, or 4 when 3 would hide that it exceeds the threshold."""
    text = f"{value:.3f}"
    return f"{value:.4f}" if value > RHAT_MAX and float(text) <= RHAT_MAX else text
