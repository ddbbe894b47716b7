r"""The threshold and P(emergent) of each view, read from its accuracy curve.

The two emergence models give their answers to "is this task emergent, and where" through
the one definition of :mod:`bayescale.emergence.criteria`: :class:`SandwichReadings` (the
Slice-and-Sandwich's accuracy curve, a logit-linear map of its Brier slices, plus Wu & Lo's
reading, the easy slices' turn) and :class:`SigmoidReadings` (the sigmoidal law, in closed
form, plus its mid-point). :class:`~bayescale.emergence.sandwich.SandwichFit` and
:class:`~bayescale.emergence.sigmoid.SigmoidFit` inherit them; every table says which view
it came from (column ``view``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bayescale.core.errors import SpecificationError
from bayescale.core.intervals import check_ci_prob, quantiles
from bayescale.emergence.criteria import (
    GRID,
    check_criteria,
    leave_point,
    sigmoid_threshold,
    threshold_row,
)
from bayescale.emergence.criteria import emergence_draws as criteria_draws
from bayescale.emergence.sigmoid_model import LN9, law_of_log_compute

__all__ = ["SandwichReadings", "SigmoidReadings"]


def _expit(v: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * v))


class SandwichReadings:
    """Threshold, P(emergent) and the easy slices' turn of a Slice-and-Sandwich fit.

    Mixed into :class:`~bayescale.emergence.sandwich.SandwichFit`, which provides the
    attributes and curves declared here.
    """

    kind: ClassVar[str]
    task: str
    chance: float | None
    margin: float
    min_jump: float
    max_decades: float
    min_rise: float
    x_range: tuple[float, float]
    horizon: float
    weights: np.ndarray
    easy: np.ndarray
    hard: np.ndarray
    b_ref: float
    dlogit: float

    def _draws(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def slice_curves(self, log_c: ArrayLike) -> np.ndarray:
        raise NotImplementedError

    def group_curve(self, curves: np.ndarray, idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def turn_draws(self) -> dict[str, np.ndarray]:
        r"""Per posterior draw, Wu & Lo's reading: ``turn``, ``x_t`` (the easy slices' turn,
        :math:`\log_{10} C`, NaN without one), ``offset`` (A and B) and ``turn_soar`` (A, B
        and C); module docstring."""
        grid = np.linspace(self.x_range[0], self.horizon, GRID)
        curves = self.slice_curves(grid)
        easy = self.group_curve(curves, self.easy)
        hard = self.group_curve(curves, self.hard)
        overall = curves @ self.weights
        n = easy.shape[0]
        d_easy = np.diff(easy, axis=1)
        is_max = np.zeros_like(easy, dtype=bool)
        is_max[:, 1:-1] = (d_easy[:, :-1] > 0) & (d_easy[:, 1:] <= 0)
        rise = easy - np.minimum.accumulate(easy, axis=1)
        fall = easy - np.minimum.accumulate(easy[:, ::-1], axis=1)[:, ::-1]
        prom = np.where(is_max, np.minimum(rise, fall), -np.inf)
        j_t = np.argmax(prom, axis=1)
        rows = np.arange(n)
        turn = prom[rows, j_t] >= self.min_rise
        before = np.where(np.arange(GRID)[None, :] <= j_t[:, None], easy, np.inf)
        j_0 = np.argmin(before, axis=1)
        x_t, x_0 = grid[j_t], grid[j_0]
        offset = hard[rows, j_t] < hard[rows, j_0]
        x_end = np.minimum(x_t + 1.0, grid[-1])
        j_end = np.clip(np.searchsorted(grid, x_end), 0, GRID - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope_before = (overall[rows, j_t] - overall[rows, j_0]) / (x_t - x_0)
            slope_after = (overall[rows, j_end] - overall[rows, j_t]) / (grid[j_end] - x_t)
        soar = np.nan_to_num(slope_after, nan=np.inf) <= (
            np.nan_to_num(slope_before, nan=-np.inf) - self.min_rise
        )
        return {
            "turn": turn,
            "x_t": np.where(turn, x_t, np.nan),
            "offset": turn & offset,
            "turn_soar": turn & offset & soar,
        }

    def accuracy_curve(self, log_c: ArrayLike) -> np.ndarray:
        r"""Draws of the typical model's accuracy, (sample, point), fitted polynomials alone.

        :math:`\operatorname{logit}^{-1}\big(\alpha + \gamma g (B(x) - \bar B)\big)`, the
        median of the logit-normal map at the overall Brier curve :math:`B` (clipped to
        [0, 1]); no extrapolation term (the curve the threshold is read from).
        """
        d = self._draws()
        overall = np.clip(self.slice_curves(log_c), 0.0, 1.0) @ self.weights
        return _expit(
            d["alpha"][:, None] + d["gamma"][:, None] * self.dlogit * (overall - self.b_ref)
        )

    def _chance(self) -> float:
        if self.chance is None:
            raise SpecificationError(
                f"the threshold and P(emergent) of task {self.task!r} are measured from its "
                "chance accuracy, which this fit does not know: fit with chance=1/n_choices "
                "(0 for exact-match tasks), or set it without refitting: "
                "dataclasses.replace(fit, chance=...)"
            )
        return float(self.chance)

    def threshold_draws(self, *, margin: float | None = None) -> np.ndarray:
        """Per draw, where the typical model's accuracy leaves chance (``x_e``).

        On a grid from the smallest fitted model to :attr:`horizon`
        (:func:`bayescale.emergence.criteria.leave_point`): ``-inf`` when the curve is
        above the level everywhere, ``+inf`` when it has not left chance by the horizon.
        """
        c = self._chance()
        delta = self.margin if margin is None else margin
        check_criteria(delta, self.min_jump, self.max_decades, c)
        grid = np.linspace(self.x_range[0], self.horizon, GRID)
        return leave_point(self.accuracy_curve(grid), grid, c + delta * (1.0 - c))

    def emergence_draws(
        self,
        *,
        max_decades: float | None = None,
        min_jump: float | None = None,
        margin: float | None = None,
        up_to: float | None = None,
    ) -> dict[str, np.ndarray]:
        """Per draw: conditions (i)-(iii) of :mod:`bayescale.emergence.criteria` on the
        accuracy curve from the smallest fitted model to the largest (or ``up_to``, FLOPs),
        and the easy slices' turn (:meth:`turn_draws`)."""
        c = self._chance()
        hi = self.x_range[1] if up_to is None else float(np.log10(float(up_to)))
        grid = np.linspace(self.x_range[0], max(hi, self.x_range[0]), GRID)
        em = criteria_draws(
            self.accuracy_curve(grid),
            grid,
            c,
            margin=self.margin if margin is None else margin,
            min_jump=self.min_jump if min_jump is None else min_jump,
            max_decades=self.max_decades if max_decades is None else max_decades,
        )
        return {**em, **self.turn_draws()}

    def threshold(self, *, ci_prob: float = 0.9) -> pd.DataFrame:
        r"""Posterior of the emergence threshold: where the typical model leaves chance.

        The same definition as :meth:`bayescale.emergence.sigmoid.SigmoidFit.threshold`
        (:mod:`bayescale.emergence.criteria`), on the sandwich's accuracy curve from the
        smallest fitted model to :attr:`horizon`.

        Parameters
        ----------
        ci_prob
            Probability of the equal-tailed interval.

        Returns
        -------
        pandas.DataFrame
            One row, indexed by ``task``:
            :data:`~bayescale.emergence.criteria.THRESHOLD_COLUMNS` (``view`` =
            ``"sandwich"``), then the easy slices' turn, Wu & Lo's reading of the
            threshold: ``turn_log10`` (median over the draws with a turn), ``turn_lower``,
            ``turn_upper`` and ``p_turn`` (share of draws with a turn before the horizon).
        """
        p = check_ci_prob(ci_prob)
        turns = self.turn_draws()
        xt = turns["x_t"][np.isfinite(turns["x_t"])]
        lo, med, hi = quantiles(xt, p) if xt.size else (np.nan, np.nan, np.nan)
        row = threshold_row(
            self.threshold_draws(),
            view=self.kind,
            ci_prob=p,
            margin=self.margin,
            p_emergent=float(self.p_emergent().iloc[0]),
            data_lo=self.x_range[0],
            data_hi=self.x_range[1],
        )
        row.update(
            {
                "turn_log10": float(med),
                "turn_lower": float(lo),
                "turn_upper": float(hi),
                "p_turn": float(turns["turn"].mean()),
            }
        )
        return pd.DataFrame([row], index=pd.Index([self.task], name="task"))

    def emergence(
        self,
        *,
        max_decades: float | None = None,
        min_jump: float | None = None,
        margin: float | None = None,
        up_to: float | None = None,
    ) -> pd.DataFrame:
        """Posterior probabilities of the conditions of emergence.

        Returns
        -------
        pandas.DataFrame
            One row, indexed by ``task``: ``p_flat`` (i), ``p_jump`` (ii), ``p_sharp``
            (iii), ``p_emergent`` (all three, :mod:`bayescale.emergence.criteria`),
            ``rise_decades`` (median), ``view`` (``"sandwich"``), then Wu & Lo's reading:
            ``p_turn`` (A, the easy slices turn), ``p_offset`` (A and B) and
            ``p_turn_soar`` (A, B and C; module docstring).
        """
        em = self.emergence_draws(
            max_decades=max_decades, min_jump=min_jump, margin=margin, up_to=up_to
        )
        row = {
            "p_flat": float(em["flat"].mean()),
            "p_jump": float(em["jump"].mean()),
            "p_sharp": float(em["sharp"].mean()),
            "p_emergent": float(em["emergent"].mean()),
            "rise_decades": float(np.median(em["rise_decades"])),
            "view": self.kind,
            "p_turn": float(em["turn"].mean()),
            "p_offset": float(em["offset"].mean()),
            "p_turn_soar": float(em["turn_soar"].mean()),
        }
        return pd.DataFrame([row], index=pd.Index([self.task], name="task"))

    def p_emergent(
        self,
        *,
        max_decades: float | None = None,
        min_jump: float | None = None,
        margin: float | None = None,
        up_to: float | None = None,
    ) -> pd.Series:
        """Posterior probability that the task is emergent (:mod:`~bayescale.emergence.criteria`).

        Parameters
        ----------
        max_decades, min_jump, margin
            The criterion's options (defaults: the fit's, 2 decades, 0.1, 0.05).
        up_to
            Compute (FLOPs) by which the jump must have happened (default: the largest
            fitted model); beyond the fitted range the polynomials are extrapolated.

        Returns
        -------
        pandas.Series
            Indexed by ``task`` (one entry), named ``p_emergent``.
        """
        em = self.emergence_draws(
            max_decades=max_decades, min_jump=min_jump, margin=margin, up_to=up_to
        )
        return pd.Series(
            [float(em["emergent"].mean())],
            index=pd.Index([self.task], name="task"),
            name="p_emergent",
        )


class SigmoidReadings:
    """Threshold and P(emergent) of a sigmoidal emergence fit, with the law's mid-point.

    Mixed into :class:`~bayescale.emergence.sigmoid.SigmoidFit`, which provides the
    attributes and draws declared here.
    """

    kind: ClassVar[str]
    tasks: list[str]
    chance: dict[str, float]
    margin: float
    min_jump: float
    max_decades: float

    def _draws(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def fitted_range(self, task: str) -> tuple[float, float]:
        raise NotImplementedError

    def threshold_draws(self, *, margin: float | None = None) -> np.ndarray:
        r"""Per draw and task (``sample`` x ``task``), the threshold :math:`x_e`.

        :math:`x^* + w\,\operatorname{logit}(\delta / f)`: where the typical model's
        accuracy leaves chance by ``margin`` :math:`\delta` of the range above it
        (:mod:`bayescale.emergence.criteria`; ``+inf`` where the ceiling is below that).
        """
        delta = self.margin if margin is None else margin
        check_criteria(delta, self.min_jump, self.max_decades)
        d = self._draws()
        chance = np.array([self.chance[t] for t in self.tasks])
        return sigmoid_threshold(d["midpoint"], d["width"], chance, d["ceiling"], delta)

    def _upper_ends(self, up_to: float | Mapping[str, float] | None) -> dict[str, float]:
        if up_to is None:
            return {t: self.fitted_range(t)[1] for t in self.tasks}
        if isinstance(up_to, Mapping):
            missing = [t for t in self.tasks if t not in up_to]
            if missing:
                raise SpecificationError(f"up_to gives no compute for task(s) {missing}")
            return {t: float(np.log10(float(up_to[t]))) for t in self.tasks}
        return {t: float(np.log10(float(up_to))) for t in self.tasks}

    def emergence_draws(
        self,
        *,
        max_decades: float | None = None,
        min_jump: float | None = None,
        margin: float | None = None,
        up_to: float | Mapping[str, float] | None = None,
    ) -> dict[str, np.ndarray]:
        """Conditions (i)-(iii) of :mod:`bayescale.emergence.criteria` per draw and task.

        The typical model's law on a grid from each task's smallest fitted model to its
        largest (or ``up_to``). Returns the arrays of
        :func:`~bayescale.emergence.criteria.emergence_draws`, each (sample, task).
        """
        options = {
            "max_decades": self.max_decades if max_decades is None else max_decades,
            "min_jump": self.min_jump if min_jump is None else min_jump,
            "margin": self.margin if margin is None else margin,
        }
        d = self._draws()
        ends = self._upper_ends(up_to)
        parts: dict[str, list[np.ndarray]] = {}
        for j, t in enumerate(self.tasks):
            lo = self.fitted_range(t)[0]
            grid = np.linspace(lo, max(ends[t], lo), GRID)
            curves = law_of_log_compute(
                grid[None, :],
                d["midpoint"][:, j, None],
                d["width"][:, j, None],
                self.chance[t],
                d["ceiling"][:, j, None],
            )
            for key, value in criteria_draws(curves, grid, self.chance[t], **options).items():
                parts.setdefault(key, []).append(value)
        return {k: np.stack(v, axis=1) for k, v in parts.items()}

    def emergent_draws(
        self,
        *,
        max_decades: float | None = None,
        min_jump: float | None = None,
        margin: float | None = None,
        up_to: float | Mapping[str, float] | None = None,
    ) -> np.ndarray:
        """Per draw and task (``sample`` x ``task``), whether conditions (i)-(iii) hold."""
        em = self.emergence_draws(
            max_decades=max_decades, min_jump=min_jump, margin=margin, up_to=up_to
        )
        out: np.ndarray = em["emergent"]
        return out

    def emergence(
        self,
        *,
        max_decades: float | None = None,
        min_jump: float | None = None,
        margin: float | None = None,
        up_to: float | Mapping[str, float] | None = None,
    ) -> pd.DataFrame:
        """Posterior probabilities of the conditions of emergence, per task.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``task``: ``p_flat`` (i), ``p_jump`` (ii), ``p_sharp`` (iii),
            ``p_emergent`` (all three), ``rise_decades`` (median 10%-90% rise seen by
            the end of the range) and ``view`` (``"sigmoid"``).
        """
        em = self.emergence_draws(
            max_decades=max_decades, min_jump=min_jump, margin=margin, up_to=up_to
        )
        return pd.DataFrame(
            {
                "p_flat": em["flat"].mean(axis=0),
                "p_jump": em["jump"].mean(axis=0),
                "p_sharp": em["sharp"].mean(axis=0),
                "p_emergent": em["emergent"].mean(axis=0),
                "rise_decades": np.median(em["rise_decades"], axis=0),
                "view": self.kind,
            },
            index=pd.Index(self.tasks, name="task"),
        )

    def p_emergent(
        self,
        *,
        max_decades: float | None = None,
        min_jump: float | None = None,
        margin: float | None = None,
        up_to: float | Mapping[str, float] | None = None,
    ) -> pd.Series:
        """Posterior probability that each task is emergent (:mod:`~bayescale.emergence.criteria`).

        Parameters
        ----------
        max_decades
            Largest 10%-to-90% rise, in decades of compute, that counts as sharp
            (default 2: a factor of 100 in compute).
        min_jump
            Smallest rise above chance, by the end of the range, that counts (default 0.1
            accuracy).
        margin
            Share of the range above chance that the threshold marks (default 0.05).
        up_to
            Compute (FLOPs; one value or per task) by which the jump must have happened
            (default: the largest fitted model of each task). A larger value asks whether
            the law *predicts* emergence by then.

        Returns
        -------
        pandas.Series
            Indexed by ``task``, named ``p_emergent``.
        """
        e = self.emergent_draws(
            max_decades=max_decades, min_jump=min_jump, margin=margin, up_to=up_to
        )
        return pd.Series(e.mean(axis=0), index=pd.Index(self.tasks, name="task"), name="p_emergent")

    def threshold(self, *, ci_prob: float = 0.9) -> pd.DataFrame:
        r"""Posterior of each task's emergence threshold (and of the law's mid-point).

        The threshold is where the typical model's accuracy leaves chance by
        :attr:`margin` of the range above it (:mod:`bayescale.emergence.criteria`), the
        same definition as :meth:`bayescale.emergence.sandwich.SandwichFit.threshold`.

        Parameters
        ----------
        ci_prob
            Probability of the equal-tailed credible intervals.

        Returns
        -------
        pandas.DataFrame
            One row per task (index ``task``):
            :data:`~bayescale.emergence.criteria.THRESHOLD_COLUMNS` (``view`` =
            ``"sigmoid"``), then the law's own: ``midpoint_log10`` (median
            :math:`\log_{10} C^*`, the half-way point of the rise, an alternative
            reading), ``midpoint_lower``, ``midpoint_upper``, ``width`` (median,
            decades), ``width_lower``, ``width_upper``, ``rise_decades`` (median 10%-90%
            rise of the law), ``ceiling`` (median), ``ceiling_lower``, ``ceiling_upper``,
            ``chance``.
        """
        p = check_ci_prob(ci_prob)
        d = self._draws()
        xe = self.threshold_draws()
        mp = quantiles(d["midpoint"], p, axis=0)
        wd = quantiles(d["width"], p, axis=0)
        ce = quantiles(d["ceiling"], p, axis=0)
        pe = self.p_emergent()
        rows = []
        for j, t in enumerate(self.tasks):
            lo, hi = self.fitted_range(t)
            row = threshold_row(
                xe[:, j],
                view=self.kind,
                ci_prob=p,
                margin=self.margin,
                p_emergent=float(pe[t]),
                data_lo=lo,
                data_hi=hi,
            )
            row.update(
                {
                    "task": t,
                    "midpoint_log10": mp[1, j],
                    "midpoint_lower": mp[0, j],
                    "midpoint_upper": mp[2, j],
                    "width": wd[1, j],
                    "width_lower": wd[0, j],
                    "width_upper": wd[2, j],
                    "rise_decades": 2 * LN9 * wd[1, j],
                    "ceiling": ce[1, j],
                    "ceiling_lower": ce[0, j],
                    "ceiling_upper": ce[2, j],
                    "chance": self.chance[t],
                }
            )
            rows.append(row)
        return pd.DataFrame(rows).set_index("task")
