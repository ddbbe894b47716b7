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

import numpy as np
import xarray as xr

from bayescale.core.errors import ConvergenceWarning

__all__ = ["ESS_BULK_MIN", "RHAT_MAX", "Diagnostics", "check_convergence"]

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
    import arviz_stats  # ArviZ's statistics, without its plotting stack (arviz.summary)

    summary = arviz_stats.summary(
        idata,
        var_names=list(var_names) if var_names else None,
        kind="diagnostics",
        round_to="none",
    )
    rhat = summary["r_hat"].astype(float)
    ess = summary["ess_bulk"].astype(float)
    post = idata["posterior"].dataset
    stats = idata["sample_stats"].dataset if "sample_stats" in idata.children else xr.Dataset()
    divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
    n_samples = int(post.sizes.get("chain", 1) * post.sizes.get("draw", 1))
    diag = Diagnostics(
        divergences=divergences,
        n_samples=n_samples,
        max_rhat=float(np.max(rhat)) if len(rhat) else float("nan"),
        min_ess_bulk=float(np.min(ess)) if len(ess) else float("nan"),
        bad_rhat={str(k): float(v) for k, v in rhat.items() if not v <= RHAT_MAX},
        low_ess={str(k): float(v) for k, v in ess.items() if not v >= ESS_BULK_MIN},
    )
    if warn and not diag.ok:
        warnings.warn(
            "sampling did not converge: " + " ".join(diag.problems()),
            ConvergenceWarning,
            stacklevel=3,
        )
    return diag


def _fmt_rhat(value: float) -> str:
    """R-hat with 3 decimals, or 4 when 3 would hide that it exceeds the threshold."""
    text = f"{value:.3f}"
    return f"{value:.4f}" if value > RHAT_MAX and float(text) <= RHAT_MAX else text
