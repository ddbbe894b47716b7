"""Figures of the emergence fits: the Slice-and-Sandwich, the sigmoidal law, the quanta fits.

Each function draws one fit on a new :class:`matplotlib.figure.Figure` (no pyplot, no GUI
backend), writes it to ``path`` when given and returns it; the fits' ``plot`` methods call
them. Bands are equal-tailed ``ci_prob`` intervals of the posterior draws.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from bayescale.core.intervals import check_ci_prob
from bayescale.core.plots import band, save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayescale.emergence.quanta import QuantaFit
    from bayescale.emergence.sandwich import SandwichFit
    from bayescale.emergence.sigmoid import SigmoidFit

__all__ = ["plot_quanta", "plot_sandwich", "plot_sigmoid"]

_XLABEL = "log10 training compute (FLOPs)"


def plot_sandwich(
    fit: SandwichFit, path: str | os.PathLike[str] | None = None, *, ci_prob: float = 0.9
) -> Figure:
    """Slice trends, easy/hard groups with the threshold, and the sandwich forecast.

    Four panels: (1) every slice's data and posterior median trend; (2) the easy and hard
    groups with credible bands, the cut-off and the easy slices' turn (Wu & Lo's reading:
    its interval shaded, its density on a twin axis); (3) the overall Brier score and (4)
    the accuracy forecast with the curve's credible band and a new model's predictive band,
    fitted models filled and held-out models open, the chance level and the emergence
    threshold (where the accuracy leaves chance; interval shaded, median dashed) when the
    fit knows the chance level.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    p = check_ci_prob(ci_prob)
    held = fit.data["held_out"].values
    log_c = fit.data["log_c"].values
    br = fit.data["brier"].values
    grid = np.linspace(min(fit.x_range[0], log_c.min()), fit.horizon, 120)
    fc = fit.forecast(10**grid, ci_prob=p)
    curves = fit.slice_curves(grid)
    fig = Figure(figsize=(12, 9), layout="constrained")
    axes = fig.subplots(2, 2)
    cmap = colormaps["viridis"]
    ax = axes[0, 0]
    n_s = br.shape[1]
    for j in range(n_s):
        col = cmap(j / max(n_s - 1, 1))
        ax.scatter(log_c[~held], br[~held, j], s=8, color=col)
        ax.scatter(log_c[held], br[held, j], s=8, facecolors="none", edgecolors=col)
        ax.plot(grid, np.median(curves[..., j], axis=0), color=col, lw=1.2)
    ax.set_title(f"{fit.task}: TC Brier per slice (dark = easy)")
    ax2 = axes[0, 1]
    xt = fit.turn_draws()["x_t"]
    turn = xt[np.isfinite(xt)]
    for idx, name, col in ((fit.easy, "easy", "C3"), (fit.hard, "hard", "C0")):
        band(ax2, grid, fit.group_curve(curves, idx), ci_prob=p, color=col, label=f"{name} slices")
        obs = br[:, idx] @ (fit.weights[idx] / fit.weights[idx].sum())
        ax2.scatter(log_c[~held], obs[~held], s=10, color=col)
        ax2.scatter(log_c[held], obs[held], s=10, facecolors="none", edgecolors=col)
    if turn.size:
        lo, hi = np.quantile(turn, [(1 - p) / 2, (1 + p) / 2])
        ax2.axvspan(lo, hi, color="0.6", alpha=0.25, label=f"turn {p:.0%}")
        ax2.axvline(float(np.median(turn)), color="0.3", ls="--", lw=1)
        twin = ax2.twinx()
        twin.hist(turn, bins=40, density=True, color="0.4", alpha=0.3)
        twin.set_ylabel("turn density")
    ax2.set_title(f"easy vs hard slices (P(turn) = {np.isfinite(xt).mean():.2f})")
    ax2.legend(loc="best", fontsize=8)
    for ax3, name, obs in (
        (axes[1, 0], "brier", br @ fit.weights),
        (axes[1, 1], "accuracy", fit.data["acc"].values),
    ):
        curve = fc[fc["quantity"] == name]
        new = fc[fc["quantity"] == f"new_model_{name}"]
        ax3.fill_between(
            grid, new["lower"], new["upper"], color="C2", alpha=0.12, label=f"new model {p:.0%}"
        )
        ax3.fill_between(
            grid, curve["lower"], curve["upper"], color="C2", alpha=0.3, label=f"curve {p:.0%}"
        )
        ax3.plot(grid, curve["median"], color="C2", label="median")
        ax3.scatter(log_c[~held], obs[~held], s=12, color="k", label="fitted")
        ax3.scatter(
            log_c[held], obs[held], s=14, facecolors="none", edgecolors="C1", label="held out"
        )
        title = "overall TC Brier" if name == "brier" else "accuracy"
        if name == "accuracy" and fit.chance is not None:
            th = fit.threshold(ci_prob=p).iloc[0]
            ax3.axhline(fit.chance, color="C3", ls="--", lw=1, label="chance")
            if np.isfinite(th["log10_lower"]) and np.isfinite(th["log10_upper"]):
                ax3.axvspan(
                    th["log10_lower"],
                    th["log10_upper"],
                    color="0.6",
                    alpha=0.25,
                    label=f"threshold {p:.0%}",
                )
            if np.isfinite(th["log10_threshold"]):
                ax3.axvline(th["log10_threshold"], color="0.3", ls="--", lw=1)
            title += f" (P(emergent) = {th['p_emergent']:.2f})"
        ax3.set_title(f"sandwich forecast: {title}")
        ax3.legend(loc="best", fontsize=8)
    for a in axes.flat:
        a.axvline(np.log10(fit.cutoff), color="k", ls=":", lw=1)
        a.set_xlabel(_XLABEL)
    return save_figure(fig, path)


def plot_sigmoid(
    fit: SigmoidFit,
    path: str | os.PathLike[str] | None = None,
    *,
    ci_prob: float = 0.9,
    ncols: int = 3,
) -> Figure:
    """Accuracy against log compute per task with bands, chance floor and threshold.

    Each panel: fitted models (filled) and held-out models (open), the law's median and
    ``ci_prob`` band, a new model's predictive band (lighter; both with the extrapolation
    drift beyond the fitted range), the chance floor (dashed), the cut-off (dotted), the
    threshold's ``ci_prob`` interval (grey span, median dashed: where the accuracy leaves
    chance) and the law's mid-point (dotted grey).
    """
    from matplotlib.figure import Figure

    p = check_ci_prob(ci_prob)
    th = fit.threshold(ci_prob=p)
    n = len(fit.tasks)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(4.2 * ncols, 3.3 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, t in zip(axes, fit.tasks, strict=False):
        g = fit.data[fit.data["task"] == t]
        lc = np.log10(g["compute"].to_numpy())
        grid = np.linspace(lc.min() - 0.3, lc.max() + 0.3, 120)
        fc = fit.forecast(10**grid, ci_prob=p, task=t)
        law = fc[fc["quantity"] == "accuracy"]
        new = fc[fc["quantity"] == "new_model_accuracy"]
        r = th.loc[t]
        if np.isfinite(r.log10_lower) and np.isfinite(r.log10_upper):
            ax.axvspan(
                r.log10_lower, r.log10_upper, color="0.6", alpha=0.25, label=f"threshold {p:.0%}"
            )
        if np.isfinite(r.log10_threshold):
            ax.axvline(r.log10_threshold, color="0.3", ls="--", lw=1)
        ax.axvline(r.midpoint_log10, color="0.5", ls=":", lw=1, label="mid-point C*")
        ax.fill_between(
            grid, new["lower"], new["upper"], color="C0", alpha=0.12, label=f"new model {p:.0%}"
        )
        ax.fill_between(
            grid, law["lower"], law["upper"], color="C0", alpha=0.3, label=f"law {p:.0%}"
        )
        ax.plot(grid, law["median"], color="C0")
        held = g["held_out"].to_numpy()
        value = g["value"].to_numpy()
        ax.scatter(lc[~held], value[~held], s=10, color="k", label="fitted")
        if held.any():
            ax.scatter(
                lc[held], value[held], s=14, facecolors="none", edgecolors="C3", label="held out"
            )
        cut = fit.cutoff.get(t, np.inf)
        if np.isfinite(cut):
            ax.axvline(np.log10(cut), color="k", ls=":", lw=1)
        ax.axhline(fit.chance[t], color="C3", ls="--", lw=1, label="chance")
        ax.set_xlim(grid[0], grid[-1])
        ax.set_title(f"{t}\nP(emergent) = {r.p_emergent:.2f}", fontsize=9)
        ax.set_xlabel(_XLABEL)
        ax.set_ylabel("accuracy")
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].legend(loc="upper left", fontsize=7)
    return save_figure(fig, path)


def plot_quanta(
    fit: QuantaFit, path: str | os.PathLike[str] | None = None, *, ci_prob: float = 0.9
) -> Figure:
    r"""The data the Zipf exponent was fitted to, with the fit, and the exponents' posterior.

    Left: for a fit of use counts, the observed share of each quantum against its rank
    (log-log; quanta never used are left out) with the fitted Zipf frequencies
    :math:`p_k \propto k^{-(\alpha+1)}` (median and ``ci_prob`` band); for a fit of token
    losses, the unlearned share :math:`u(N)` against model size. Right: the posterior
    densities of :math:`\alpha_N = \alpha` and :math:`\alpha_D = \alpha/(\alpha+1)`.
    """
    from matplotlib.figure import Figure

    p = check_ci_prob(ci_prob)
    post = fit.idata["posterior"].dataset
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    alpha = post["alpha"].values.reshape(-1)
    if fit.data_kind == "counts" and "constant_data" in fit.idata.children:
        data = fit.idata["constant_data"].dataset
        rank = np.asarray(data["rank"].values, float)
        count = np.asarray(data["count"].values, float)
        used = count > 0
        left.scatter(rank[used], count[used] / count.sum(), s=8, color="k", label="observed")
        logits = -(alpha[:, None] + 1.0) * np.log(rank)[None, :]
        logits -= logits.max(axis=1, keepdims=True)
        share = np.exp(logits)
        share /= share.sum(axis=1, keepdims=True)
        order = np.argsort(rank)
        band(left, rank[order], share[:, order], ci_prob=p, color="C0", label="Zipf fit")
        left.set_xlabel("rank k")
        left.set_ylabel("share of uses")
        left.set_title("quanta use frequencies")
    else:
        u = post["unlearned_share"]
        sizes = np.asarray(u["size"].values, float)
        draws = u.transpose("chain", "draw", "size").values.reshape(-1, sizes.size)
        band(left, sizes, draws, ci_prob=p, color="C0", label="unlearned share")
        left.set_xlabel("model size N (parameters)")
        left.set_ylabel("share of tokens unlearned")
        left.set_title("unlearned share u(N)")
    left.set_xscale("log")
    left.set_yscale("log")
    left.legend(loc="best", fontsize=8)
    for values, name, col in ((alpha, "alpha_N", "C0"), (alpha / (alpha + 1.0), "alpha_D", "C1")):
        right.hist(values, bins=50, density=True, alpha=0.5, color=col, label=name)
    right.set_xlabel("exponent")
    right.set_title(f"posterior ({fit.data_kind})")
    right.legend(loc="best", fontsize=8)
    return save_figure(fig, path)
