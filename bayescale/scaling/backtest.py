r"""Back-tests: fit on some runs, forecast the held-out ones, score the forecasts.

:func:`backtest` splits a table of training runs into a training part and held-out runs
(usually the largest ones), fits every requested (metric, law, pooling) combination with
:func:`bayescale.fit` on the training part, forecasts a **new run** (quantity
``new_run`` of :meth:`~bayescale.scaling.fitting.ScalingFit.forecast_draws`, which includes run
noise and the extrapolation term) at every held-out run, and scores each forecast against
the observed value :math:`y`. With :math:`\tilde y^{(s)}`, :math:`s = 1..S`, the new-run
draws at a held-out run:

* **ARE**, the absolute relative error of the posterior median (Choshen et al. 2024,
  "A Hitchhiker's Guide to Scaling Law Estimation"):
  :math:`\mathrm{ARE} = |\operatorname{median}_s \tilde y^{(s)} - y| / y`;
* **coverage** at level :math:`p`: whether :math:`y` lies in the equal-tailed interval
  :math:`[q_{(1-p)/2}, q_{(1+p)/2}]` of the draws (ends included); over many runs the
  fraction covered should be close to :math:`p`;
* **relative width** at level :math:`p`: :math:`(q_{(1+p)/2} - q_{(1-p)/2}) / y`;
* **lpd**, the log predictive density of :math:`y`, estimated by a Gaussian kernel density
  of the log draws :math:`z_s = \log \tilde y^{(s)}` (see :func:`log_predictive_density`):
  :math:`\mathrm{lpd} = \log \frac{1}{S}\sum_s \phi_h(\log y - z_s) - \log y`, the density
  of the value itself (the Jacobian :math:`-\log y` is the same for every model of one
  held-out run, so differences between models are differences of log-scale densities);
* **PIT**, the fraction of draws below :math:`y` (uniform for a calibrated forecast).

The scoring functions (:func:`~bayescale.scaling.scoring.score_draws`,
:func:`~bayescale.scaling.scoring.log_predictive_density`,
:func:`~bayescale.scaling.scoring.aggregate_scores`) are pure NumPy/pandas
(:mod:`bayescale.scaling.scoring`), so they are tested without MCMC.

Aggregation. :attr:`BacktestResult.scores` pools every scored held-out run of a model
(law x pooling); :attr:`BacktestResult.by_group` has the same figures per
(family, metric) group; :attr:`BacktestResult.aggregate` averages the **group means**, so
every (family, metric) pair counts once and a family with many held-out runs does not
dominate.

A fit that raises, or that does not converge, does not stop the back-test: its rows
carry the error message or the diagnostics string (``error``, ``diagnostics``,
``converged``) and a warning names the combination. Fits that raised have no scores and
are left out of the aggregates (the ``n_rows``/``n_failed`` columns show it).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayescale.core import dims
from bayescale.core.errors import ConvergenceWarning, DataError, SpecificationError
from bayescale.scaling.data import read_table, validate
from bayescale.scaling.forecast import NEW_FAMILY
from bayescale.scaling.laws import Law, get_law
from bayescale.scaling.priors import resolve_pooling
from bayescale.scaling.scoring import (
    DEFAULT_CI,
    aggregate_scores,
    average_of_groups,
    check_levels,
    level_label,
    log_predictive_density,
    score_draws,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bayescale.scaling.fitting import ScalingFit

__all__ = [
    "BacktestResult",
    "aggregate_scores",
    "backtest",
    "holdout_mask",
    "log_predictive_density",
    "score_draws",
]

#: Default pooling choices compared.
DEFAULT_POOLING: tuple[str, ...] = ("shared", "pooled", "independent")
_SCALE_KEYS = (dims.COL_PARAMS, dims.COL_TOKENS, dims.COL_COMPUTE)
_HOLDOUT_KEYS = (*_SCALE_KEYS, dims.COL_FAMILY)

type PoolingLike = str | Mapping[str, str] | None
type HoldoutLike = Mapping[str, Any] | Sequence[str] | str | Callable[[pd.DataFrame], Any]


def _run_labels(frame: pd.DataFrame) -> pd.Series:
    """The ``model`` column when present, else ``family/N=..,D=..`` (plus seed, step)."""
    if dims.COL_MODEL in frame and frame[dims.COL_MODEL].notna().all():
        return frame[dims.COL_MODEL].astype(str)
    lab = (
        frame[dims.COL_FAMILY].astype(str)
        + "/N="
        + frame[dims.COL_PARAMS].map(lambda v: f"{float(v):.4g}")
        + ",D="
        + frame[dims.COL_TOKENS].map(lambda v: f"{float(v):.4g}")
    )
    if dims.COL_SEED in frame:
        seed = frame[dims.COL_SEED]
        lab = lab + np.where(seed.notna(), ",seed=" + seed.astype(str), "")
    if dims.COL_STEP in frame:
        step = frame[dims.COL_STEP]
        lab = lab + np.where(step.notna(), ",step=" + step.astype(str), "")
    if dims.COL_MODEL in frame:
        lab = frame[dims.COL_MODEL].astype(str).where(frame[dims.COL_MODEL].notna(), lab)
    return pd.Series(lab, index=frame.index, dtype=object)


def holdout_mask(frame: pd.DataFrame, holdout: HoldoutLike) -> np.ndarray:
    """Which rows of ``frame`` are held out.

    Parameters
    ----------
    frame
        The table in the long format (``compute`` may be missing: 6 N D is used).
    holdout
        * a mapping of thresholds: ``{"params": 1e9}`` holds out every row with
          ``params > 1e9``; ``"tokens"`` and ``"compute"`` likewise. With several
          thresholds a row is held out when it exceeds **any** of them (training keeps
          the runs inside every bound). An optional ``"family"`` (a label or a list)
          restricts the hold-out to those families: ``{"params": 1e9, "family": "rpj"}``
          holds out only rpj's large runs. ``{"family": "rpj"}`` alone holds out the
          whole family (forecast as a new family);
        * a sequence of run labels (the ``model`` column) -> exactly those runs
          (every metric and checkpoint of them);
        * a callable ``f(frame) -> bool array`` -> the rows where it is true.

    Returns
    -------
    numpy.ndarray
        Boolean mask, one entry per row.
    """
    n = len(frame)
    if callable(holdout):
        mask = np.asarray(holdout(frame))
        if mask.shape != (n,) or mask.dtype != bool:
            raise SpecificationError(
                f"a holdout function must return a boolean array with one entry per row "
                f"({n}); it returned shape {mask.shape} and dtype {mask.dtype}. Return e.g. "
                "df['params'] > 1e9."
            )
        return mask
    if isinstance(holdout, Mapping):
        unknown = [k for k in holdout if k not in _HOLDOUT_KEYS]
        if unknown:
            raise SpecificationError(
                f"holdout keys {unknown} are not understood; use thresholds on "
                f"{list(_SCALE_KEYS)} (rows above them are held out) and optionally "
                "'family', e.g. {'params': 1e9, 'family': 'rpj'}; or pass a list of run "
                "labels or a function of the table"
            )
        mask = np.zeros(n, dtype=bool)
        scale_keys = [k for k in _SCALE_KEYS if k in holdout]
        for key in scale_keys:
            try:
                cut = float(holdout[key])
            except (TypeError, ValueError):
                cut = np.nan
            if not (np.isfinite(cut) and cut > 0):
                raise SpecificationError(
                    f"holdout threshold {key!r} must be a number > 0 (rows with {key} "
                    f"above it are held out), not {holdout[key]!r}"
                )
            values = _scale_column(frame, key)
            mask |= values > cut
        if dims.COL_FAMILY in holdout:
            fams = holdout[dims.COL_FAMILY]
            fams = [fams] if isinstance(fams, str) else [str(f) for f in fams]
            labels = frame[dims.COL_FAMILY].astype(str)
            missing = sorted(set(fams) - set(labels))
            if missing:
                raise DataError(
                    f"holdout family {missing} is not in the data, whose families are "
                    f"{sorted(set(labels))}"
                )
            in_fam = labels.isin(fams).to_numpy()
            mask = (mask & in_fam) if scale_keys else in_fam
        elif not scale_keys:
            raise SpecificationError("holdout mapping is empty; give e.g. {'params': 1e9}")
        return mask
    labels_wanted = [holdout] if isinstance(holdout, str) else list(holdout)
    if not labels_wanted:
        raise SpecificationError("holdout is an empty list of run labels")
    if dims.COL_MODEL not in frame:
        raise DataError(
            "holdout lists run labels, but the table has no 'model' column to match them "
            "against. Add a 'model' column, or hold out by threshold ({'params': 1e9}) or "
            "with a function of the table."
        )
    model = frame[dims.COL_MODEL].astype(str)
    wanted = [str(x) for x in labels_wanted]
    missing = sorted(set(wanted) - set(model))
    if missing:
        raise DataError(
            f"holdout run label(s) {missing[:8]}{' ...' if len(missing) > 8 else ''} are "
            "not in the 'model' column; check the spelling (case-sensitive)"
        )
    return model.isin(wanted).to_numpy()


def _scale_column(frame: pd.DataFrame, key: str) -> np.ndarray:
    if key == dims.COL_COMPUTE:
        six_nd = (
            6.0 * frame[dims.COL_PARAMS].to_numpy(float) * frame[dims.COL_TOKENS].to_numpy(float)
        )
        if dims.COL_COMPUTE in frame:
            given = pd.to_numeric(frame[dims.COL_COMPUTE], errors="coerce").to_numpy(float)
            return np.where(np.isfinite(given), given, six_nd)
        return six_nd
    return pd.to_numeric(frame[key], errors="coerce").to_numpy(float)


# -- model choices ----------------------------------------------------------------------------
def _law_list(law: str | Law | Sequence[str | Law]) -> list[Law]:
    items = [law] if isinstance(law, str | Law) else list(law)
    if not items:
        raise SpecificationError("law is an empty sequence; give e.g. 'chinchilla'")
    laws = [get_law(x) for x in items]
    specs = [x.spec for x in laws]
    if len(set(specs)) != len(specs):
        raise SpecificationError(f"law lists the same law twice: {specs}")
    return laws


def _pooling_name(p: PoolingLike) -> str:
    if p is None:
        return "default"
    if isinstance(p, str):
        return p
    return ",".join(f"{k}={v}" for k, v in p.items())


def _pooling_dict(pooling: Any, laws: Sequence[Law]) -> dict[str, PoolingLike]:
    """Named pooling choices from a string, a fit-style dict, a sequence or a name map."""
    if pooling is None or isinstance(pooling, str):
        return {_pooling_name(pooling): pooling}
    if isinstance(pooling, Mapping):
        values = list(pooling.values())
        keys_of_laws = set()
        for law in laws:
            keys_of_laws |= set(law.parameter_names) | {p.kind for p in law.parameters}
        fit_style = all(isinstance(v, str) for v in values) and set(pooling) <= keys_of_laws
        if fit_style:
            return {_pooling_name(pooling): dict(pooling)}
        return {str(k): v for k, v in pooling.items()}
    items = list(pooling)
    if not items:
        raise SpecificationError("pooling is an empty sequence; give e.g. ('shared', 'pooled')")
    out = {_pooling_name(p): p for p in items}
    if len(out) != len(items):
        raise SpecificationError(f"pooling lists the same choice twice: {items}")
    return out


def _free_per_family(law: Law, pooling: PoolingLike, n_families: int) -> int:
    """Number of parameters fitted separately for each family (``independent``)."""
    resolved, _ = resolve_pooling(law, pooling, n_families)
    return sum(1 for v in resolved.values() if v == "independent")


# -- result -----------------------------------------------------------------------------------
@dataclass
class BacktestResult:
    """Scores of a back-test (see :func:`backtest`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per held-out row x model (law, pooling): ``metric``, ``family``,
        ``model`` (run label), ``params``, ``tokens``, ``compute``, ``new_family``,
        ``extrapolation`` (e-folds beyond the training data), ``observed``, ``median``,
        ``lower_<p>``/``upper_<p>``, ``are``, ``covered_<p>``, ``width_<p>``, ``lpd``,
        ``pit``, ``law``, ``pooling``, ``converged``, ``diagnostics``, ``error``.
    scores : pandas.DataFrame
        Per (law, pooling): averages over every scored row (:func:`aggregate_scores`).
    by_group : pandas.DataFrame
        Per (family, metric, law, pooling).
    aggregate : pandas.DataFrame
        Per (law, pooling): the mean over (family, metric) groups of the group means, so
        that every group counts once whatever its number of held-out rows.
    holdout : pandas.DataFrame
        Per (metric, family): training and held-out row counts and whether the family is
        forecast as a new family.
    fits : dict
        ``(metric, law, pooling) -> ScalingFit`` (``None`` for a fit that raised), when
        ``keep_fits=True``.
    ci_prob : tuple of float
        The interval levels scored.
    runtime : dict
        Seconds per ``(metric, law, pooling)`` fit and forecast.
    """

    table: pd.DataFrame
    scores: pd.DataFrame
    by_group: pd.DataFrame
    aggregate: pd.DataFrame
    holdout: pd.DataFrame
    ci_prob: tuple[float, ...]
    fits: dict[tuple[str, str, str], ScalingFit | None] = field(default_factory=dict)
    runtime: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def report(self, *, levels: Sequence[float] | None = None, digits: int = 3) -> str:
        """Plain-text tables: hold-out counts, scores over rows and over groups."""
        levels = tuple(levels) if levels is not None else self.ci_prob
        labs = [level_label(p) for p in levels]

        def pick(frame: pd.DataFrame, extra: Sequence[str]) -> pd.DataFrame:
            cols = [*extra]
            cols += [c for c in ("n_rows", "n_groups", "n_failed", "n_unconverged") if c in frame]
            cols += [c for c in ("mean_are", "median_are") if c in frame]
            cols += [f"coverage_{lab}" for lab in labs if f"coverage_{lab}" in frame]
            cols += [f"width_{lab}" for lab in labs if f"width_{lab}" in frame]
            cols += [c for c in ("mean_lpd",) if c in frame]
            return frame[[c for c in cols if c in frame]]

        def fmt(frame: pd.DataFrame) -> str:
            if frame.empty:
                return "(none)"
            return frame.to_string(index=False, float_format=lambda v: f"{v:.{digits}g}")

        hold = self.holdout
        lines = [
            f"Back-test: {len(self.table)} forecasts of {hold['n_held_out'].sum()} held-out "
            f"rows ({hold['metric'].nunique()} metric(s)), levels {list(self.ci_prob)}",
            "",
            "Held out per (metric, family):",
            fmt(hold),
            "",
            "Scores over held-out rows (per law x pooling):",
            fmt(pick(self.scores, ["law", "pooling"])),
            "",
            "Aggregate: mean over (family, metric) groups of the group means:",
            fmt(pick(self.aggregate, ["law", "pooling", "n_groups_failed"])),
        ]
        bad = self.table.drop_duplicates(["metric", "law", "pooling"])
        bad = bad[(bad["error"] != "") | ~bad["converged"].astype(bool)]
        if len(bad):
            lines += ["", "Fits that failed or did not converge:"]
            for _, r in bad.iterrows():
                why = r["error"] or r["diagnostics"]
                lines.append(f"  {r['metric']} / {r['law']} / {r['pooling']}: {why}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.report()

    def plot(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Figure:
        """Predicted against observed values, one log-log panel per model
        (:func:`bayescale.scaling.check_plots.plot_backtest`)."""
        from bayescale.scaling.check_plots import plot_backtest

        kwargs.setdefault("ci_prob", 0.9 if 0.9 in self.ci_prob else self.ci_prob[-1])
        return plot_backtest(self.table, path=path, **kwargs)

    def to_csv(self, directory: str | os.PathLike[str], *, prefix: str = "") -> dict[str, Path]:
        """Write ``table``, ``scores``, ``by_group``, ``aggregate`` and ``holdout`` as CSV.

        Returns the written paths by name; the directory is created.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name in ("table", "scores", "by_group", "aggregate", "holdout"):
            path = out / f"{prefix}{name}.csv"
            getattr(self, name).to_csv(path, index=False)
            paths[name] = path
        return paths


# -- the back-test ----------------------------------------------------------------------------
@dataclass
class _Job:
    metric: str
    law: Law
    pooling_name: str
    pooling: PoolingLike
    train: Any  # validated xr.Dataset
    test: pd.DataFrame


def _prepare(
    data: str | os.PathLike[str] | pd.DataFrame,
) -> pd.DataFrame:
    frame, _ = read_table(data)
    for col in (dims.COL_FAMILY, dims.COL_PARAMS, dims.COL_TOKENS, dims.COL_VALUE):
        if col not in frame:
            raise DataError(
                f"missing required column {col!r}; the table has {list(frame.columns)} "
                "(see docs/data_format.md)"
            )
    if dims.COL_METRIC not in frame:
        frame[dims.COL_METRIC] = dims.COL_VALUE
    frame[dims.COL_METRIC] = frame[dims.COL_METRIC].astype(str)
    frame[dims.COL_FAMILY] = frame[dims.COL_FAMILY].astype(str)
    return frame


def _metrics(frame: pd.DataFrame, metric: str | Sequence[str] | None) -> list[str]:
    present = list(pd.unique(frame[dims.COL_METRIC]))
    if metric is None:
        return present
    wanted = [metric] if isinstance(metric, str) else [str(m) for m in metric]
    missing = [m for m in wanted if m not in present]
    if missing:
        raise DataError(
            f"metric(s) {missing} are not in column 'metric', which holds {present[:20]}"
        )
    return wanted


def backtest(
    data: str | os.PathLike[str] | pd.DataFrame,
    law: str | Law | Sequence[str | Law] = "chinchilla",
    *,
    holdout: HoldoutLike,
    pooling: PoolingLike | Sequence[PoolingLike] | Mapping[str, PoolingLike] = DEFAULT_POOLING,
    metric: str | Sequence[str] | None = None,
    ci_prob: Sequence[float] = DEFAULT_CI,
    keep_fits: bool = False,
    min_train_rows: int | None = None,
    forecast_seed: int = 0,
    **fit_kwargs: Any,
) -> BacktestResult:
    r"""Fit on the training runs, forecast the held-out runs, and score the forecasts.

    Every (metric, law, pooling) combination is one :func:`bayescale.fit` on the training
    rows of that metric. At each held-out row, the new-run draws of
    :meth:`~bayescale.scaling.fitting.ScalingFit.forecast_draws` (for the row's own family; a
    family without training rows is forecast as a new family from the population) are
    scored with :func:`score_draws`: ARE of the median :math:`|\mathrm{med} - y|/y`,
    coverage and relative width :math:`(u - l)/y` of each equal-tailed interval, log
    predictive density (kernel density of the log draws) and PIT.

    Parameters
    ----------
    data
        Table in the long format (DataFrame or CSV path); it may hold several metrics.
    law
        A law name or :class:`~bayescale.scaling.laws.Law`, or a sequence of them (compared side
        by side).
    holdout
        Which rows are held out (see :func:`holdout_mask`): thresholds
        ``{"params": 1e9}`` (rows above are held out; ``"tokens"``, ``"compute"``
        likewise, any exceeded threshold holds a row out) optionally restricted with
        ``"family"``; a list of run labels (``model`` column); or a function of the table
        returning a boolean mask.
    pooling
        One pooling choice as in :func:`bayescale.fit` (a string, a dict per parameter or
        kind, or ``None`` for the default), a sequence of them, or ``{name: choice}``.
        Default: every parameter ``"shared"``, ``"pooled"`` and ``"independent"``.
    metric
        A metric, a list of metrics, or ``None`` for every metric of the table; each is
        back-tested separately.
    ci_prob
        Interval probabilities scored.
    keep_fits
        Keep every :class:`~bayescale.scaling.fitting.ScalingFit` in ``result.fits``.
    min_train_rows
        Fewest training rows a family that has training rows must have. ``None``: the
        number of law parameters fitted separately per family (``independent`` ones after
        resolving the pooling), at least 1; e.g. 3 for Chinchilla with the default pooling,
        5 with ``"independent"``, 1 with ``"pooled"`` or ``"shared"``.
    forecast_seed
        Seed of the new-run draws.
    **fit_kwargs
        Passed to :func:`bayescale.fit` (``seed``, ``draws``, ``tune``, ``chains``,
        ``likelihood``, ``space``, ``interval_prob``, ``extrapolation_rate``...).
        ``progressbar`` defaults to ``False``.

    Returns
    -------
    BacktestResult

    Raises
    ------
    SpecificationError
        For a malformed ``holdout``, ``pooling``, ``law`` or ``ci_prob``, or a held-out family
        that is absent from a one-family training set (no population to draw it from).
    DataError
        When nothing is held out, nothing is left to train on, or a family has fewer
        training rows than the law needs (the message gives the counts and the fixes).
    """
    levels = check_levels(ci_prob)
    fit_kwargs.setdefault("progressbar", False)
    space = str(fit_kwargs.get("space", "log"))
    interval_prob = float(fit_kwargs.get("interval_prob", 0.95))
    laws = _law_list(law)
    poolings = _pooling_dict(pooling, laws)
    frame = _prepare(data)
    metrics = _metrics(frame, metric)
    mask_all = holdout_mask(frame, holdout)
    frame["_run"] = _run_labels(frame)

    jobs: list[_Job] = []
    hold_rows = []
    skipped: list[str] = []
    for m in metrics:
        sub = frame[frame[dims.COL_METRIC] == m]
        mask = mask_all[(frame[dims.COL_METRIC] == m).to_numpy()]
        train, test = sub[~mask], sub[mask]
        if test.empty:
            skipped.append(m)
            continue
        if train.empty:
            raise DataError(
                f"holdout leaves no training rows for metric {m!r} ({len(test)} rows, all "
                "held out). Raise the threshold or hold out fewer runs."
            )
        train_fams = list(pd.unique(train[dims.COL_FAMILY]))
        n_train = train[dims.COL_FAMILY].value_counts()
        n_test = test[dims.COL_FAMILY].value_counts()
        for fam in pd.unique(sub[dims.COL_FAMILY]):
            hold_rows.append(
                {
                    "metric": m,
                    "family": fam,
                    "n_train": int(n_train.get(fam, 0)),
                    "n_held_out": int(n_test.get(fam, 0)),
                    "new_family": bool(n_test.get(fam, 0) and not n_train.get(fam, 0)),
                }
            )
        new_fams = sorted(set(test[dims.COL_FAMILY]) - set(train_fams))
        if new_fams and len(train_fams) == 1:
            raise SpecificationError(
                f"metric {m!r}: held-out family {new_fams} has no training rows and the "
                f"training data hold one family ({train_fams[0]!r}), so there is no population "
                "to draw a new family from. Keep some runs of that family in training, or "
                "train on several families."
            )
        for lw in laws:
            for pname, pchoice in poolings.items():
                need = (
                    max(1, _free_per_family(lw, pchoice, len(train_fams)))
                    if min_train_rows is None
                    else int(min_train_rows)
                )
                thin = {f: int(k) for f, k in n_train.items() if k < need}
                if thin:
                    raise DataError(
                        f"metric {m!r}, law {lw.spec!r}, pooling {pname!r}: the law needs at "
                        f"least {need} training rows per family (one per parameter fitted "
                        f"separately per family), but {thin} have fewer. Hold out fewer runs "
                        "of those families (raise the threshold, or restrict it with "
                        "holdout={'family': ...}), pool or share their parameters, or pass "
                        "min_train_rows= to allow it."
                    )
                train_ds = validate(
                    train.drop(columns=["_run"]),
                    metric=m,
                    inputs=lw.inputs,
                    space=space,
                    min_rows_per_family=1,
                    interval_prob=interval_prob,
                )
                jobs.append(_Job(m, lw, pname, pchoice, train_ds, test))
    if not jobs:
        raise DataError(
            f"holdout selects no rows of metric(s) {metrics}: nothing to forecast. Lower the "
            "threshold (the largest values are "
            + ", ".join(
                f"{k} {float(_scale_column(frame, k).max()):.3g}"
                for k in (dims.COL_PARAMS, dims.COL_TOKENS)
            )
            + ") or list the runs to hold out."
        )
    if skipped:
        warnings.warn(
            f"holdout selects no rows of metric(s) {skipped}; they are not back-tested",
            UserWarning,
            stacklevel=2,
        )

    import bayescale

    tables = []
    fits: dict[tuple[str, str, str], ScalingFit | None] = {}
    runtime: dict[tuple[str, str, str], float] = {}
    for job in jobs:
        key = (job.metric, job.law.spec, job.pooling_name)
        start = time.perf_counter()
        fitted: ScalingFit | None = None
        error = ""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            try:
                fitted = bayescale.fit(job.train, job.law, pooling=job.pooling, **fit_kwargs)
                part = _score_fit(fitted, job.test, levels, seed=forecast_seed)
            except Exception as exc:  # a failed fit must not lose the other results
                error = f"{type(exc).__name__}: {exc}"
                part = _empty_scores(job.test, levels)
        for w in caught:
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        converged = bool(fitted is not None and fitted.diagnostics and fitted.diagnostics.ok)
        diag = str(fitted.diagnostics) if fitted is not None and fitted.diagnostics else ""
        if error:
            warnings.warn(
                f"back-test fit of metric {job.metric!r}, law {job.law.spec!r}, pooling "
                f"{job.pooling_name!r} failed ({error}); its rows are recorded without scores",
                RuntimeWarning,
                stacklevel=2,
            )
        elif not converged:
            warnings.warn(
                f"back-test fit of metric {job.metric!r}, law {job.law.spec!r}, pooling "
                f"{job.pooling_name!r} did not converge ({diag}); its scores are kept and "
                "flagged converged=False",
                ConvergenceWarning,
                stacklevel=2,
            )
        part["law"] = job.law.spec
        part["pooling"] = job.pooling_name
        part["converged"] = converged
        part["diagnostics"] = diag
        part["error"] = error
        tables.append(part)
        runtime[key] = time.perf_counter() - start
        if keep_fits:
            fits[key] = fitted
    table = pd.concat(tables, ignore_index=True)
    table["model_id"] = table["law"] + "/" + table["pooling"]
    scores = aggregate_scores(table, ["law", "pooling"])
    by_group = aggregate_scores(table, ["family", "metric", "law", "pooling"])
    aggregate = average_of_groups(by_group, ["law", "pooling"])
    return BacktestResult(
        table=table,
        scores=scores,
        by_group=by_group,
        aggregate=aggregate,
        holdout=pd.DataFrame(hold_rows),
        ci_prob=levels,
        fits=fits,
        runtime=runtime,
    )


def _row_info(test: pd.DataFrame, fitted_families: Sequence[str] | None) -> pd.DataFrame:
    info = pd.DataFrame(
        {
            "metric": test[dims.COL_METRIC].to_numpy(),
            "family": test[dims.COL_FAMILY].to_numpy(),
            "model": test["_run"].to_numpy(),
            "params": test[dims.COL_PARAMS].to_numpy(float),
            "tokens": test[dims.COL_TOKENS].to_numpy(float),
            "compute": _scale_column(test, dims.COL_COMPUTE),
        }
    )
    if fitted_families is not None:
        info["new_family"] = ~info["family"].isin(list(fitted_families))
    return info


def _empty_scores(test: pd.DataFrame, levels: Sequence[float]) -> pd.DataFrame:
    info = _row_info(test, None)
    info["new_family"] = np.nan
    info["extrapolation"] = np.nan
    observed = test[dims.COL_VALUE].to_numpy(float)
    cols = score_draws(np.tile(observed, (2, 1)), observed, ci_prob=levels).columns
    empty = pd.DataFrame(np.nan, index=info.index, columns=cols)
    empty["observed"] = observed
    for c in cols:
        if c.startswith("covered_"):
            empty[c] = pd.array([pd.NA] * len(info), dtype="boolean")
    return pd.concat([info, empty], axis=1)


def _score_fit(
    fitted: ScalingFit, test: pd.DataFrame, levels: Sequence[float], *, seed: int
) -> pd.DataFrame:
    info = _row_info(test, fitted.families)
    points = info[[dims.COL_PARAMS, dims.COL_TOKENS, dims.COL_COMPUTE]].copy()
    points[dims.COL_FAMILY] = np.where(info["new_family"], NEW_FAMILY, info["family"])
    draws = fitted.forecast_draws(points, seed=seed)
    new_run = draws["new_run"].transpose(..., dims.POINT).values.reshape(-1, len(points))
    scored = score_draws(new_run, test[dims.COL_VALUE].to_numpy(float), ci_prob=levels)
    info["extrapolation"] = np.asarray(draws["extrapolation"].values, dtype=float)
    out = pd.concat([info, scored], axis=1)
    for c in out.columns:
        if c.startswith("covered_"):
            out[c] = out[c].astype("boolean")
    return out
