r"""A Bayesian saturating curve of voting accuracy against the number of samples.

:func:`fit_voting_curve` fits

.. math::

    \operatorname{logit}\text{acc}_m(n) = \ell_{\infty,m} - (\ell_{\infty,m} - \ell_{1,m})\,
    n^{-\gamma}, \qquad \text{acc}_{\infty,m} = \operatorname{logit}^{-1}\ell_{\infty,m},

to accuracies of each model :math:`m` at several :math:`n` (e.g. the tables of
:func:`~bayescale.passk.voting.majority_vote_accuracy`) with a binomial likelihood on the
problems answered correctly, and returns a :class:`VotingCurveFit` (a
:class:`~bayescale.core.results.FitResult` of kind ``"voting_curve"``): accuracy
forecasts at any :math:`n`, the limit :math:`n \to \infty`, PSIS-LOO, a plot, and a file
that :func:`bayescale.load` reads back. ``docs/voting.md`` has the priors, the
parameterisation and a real-data comparison.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayescale.core.diagnostics import Diagnostics, check_convergence
from bayescale.core.errors import DataError, SpecificationError
from bayescale.core.intervals import check_ci_prob, interval_table
from bayescale.core.results import FitResult
from bayescale.core.sampling import Sampler, run_nuts
from bayescale.core.tables import (
    CSV_LINES,
    blank_mask,
    describe_rows,
    fail_rows,
    label_text,
    numeric_column,
    read_table,
)
from bayescale.passk.answers import Source

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DEFAULT_PRIORS", "MIN_POOLED_MODELS", "VotingCurveFit", "fit_voting_curve"]

#: Group of the saved DataTree that holds the fitted table.
DATA_GROUP = "fit_data"
#: Fewest models for which ``pooling="auto"`` pools the gains of :func:`fit_voting_curve`.
MIN_POOLED_MODELS = 5
#: Default priors of :func:`fit_voting_curve` (logit scale for accuracies).
DEFAULT_PRIORS: dict[str, tuple[float, float]] = {
    "logit_first": (0.0, 1.5),  # Normal(mean, sd) of logit acc_1 of every model
    "mu_gain": (0.0, 1.0),  # Normal: mean of logit acc(n_ref) - logit acc_1 at the centre
    "gain_slope": (0.0, 0.5),  # Normal: change of that mean per unit of logit acc_1
    # (nu, s): the gains' deviations from their mean are Student-t with nu degrees of
    # freedom and scale s (a normal of scale sigma_gain, sigma_gain^2 ~ InvGamma(nu/2,
    # nu s^2/2) integrated out)
    "effects_gain": (2.0, 0.1),
    "log_gamma": (np.log(0.7), 0.7),  # Normal: log of the exponent gamma
    "sigma_log_gamma": (0.5, 0.0),  # HalfNormal(sd), only with gamma="per_model"
}


def _curve_table(table: Source) -> tuple[pd.DataFrame, list[str]]:
    """Validate a (model, n, problems correct, problems) table; return it and notes."""
    frame, from_csv = read_table(table)
    csv_lines = frame.attrs.get(CSV_LINES) if from_csv else None

    def where(rows: Sequence[int] | np.ndarray) -> str:
        return describe_rows(rows, csv_lines)

    if len(frame) == 0:
        raise DataError("the accuracy table has no rows; add one row per (model, n).")
    notes: list[str] = []
    if "strategy" in frame.columns:
        kinds = list(pd.unique(frame["strategy"].astype(str)))
        if len(kinds) > 1:
            raise DataError(
                f"column 'strategy' holds {kinds}; fit one strategy at a time, e.g. "
                f"table[table['strategy'] == {kinds[0]!r}]."
            )
    needed = ["model", "n", "n_problems"]
    missing = [c for c in needed if c not in frame.columns]
    if "n_correct" not in frame.columns and "accuracy" not in frame.columns:
        missing.append("n_correct (or accuracy)")
    if missing:
        raise DataError(
            f"missing required column(s) {missing}; the table has columns "
            f"{[str(c) for c in frame.columns]}. An accuracy table needs model, n, n_problems "
            "and n_correct or accuracy (the output of majority_vote_accuracy() has them)."
        )
    blank = np.flatnonzero(blank_mask(frame["model"]))
    if blank.size:
        raise DataError(f"column 'model': empty in {where(blank)}. Give every row a model label.")
    model = pd.Series([label_text(v) for v in frame["model"]], dtype=object)
    whole: dict[str, np.ndarray] = {}
    for col in ("n", "n_problems"):
        num = numeric_column(frame, col, where, required=True)
        bad = np.flatnonzero((num != np.round(num)) | (num < 1))
        if bad.size:
            fail_rows(
                col,
                bad,
                frame[col],
                "not a whole number >= 1",
                f"{col} counts samples per problem (n) or problems (n_problems): fix or "
                "remove those rows.",
                where,
            )
        whole[col] = num.astype(np.int64)
    total = whole["n_problems"]
    if "n_correct" in frame.columns:
        num = numeric_column(frame, "n_correct", where, required=True)
        bad = np.flatnonzero((num != np.round(num)) | (num < 0) | (num > total))
        if bad.size:
            fail_rows(
                "n_correct",
                bad,
                frame["n_correct"],
                "not a whole number between 0 and n_problems",
                "n_correct counts the problems answered correctly: fix or remove those rows.",
                where,
            )
        correct = num.astype(np.int64)
    else:
        acc = numeric_column(frame, "accuracy", where, required=True)
        bad = np.flatnonzero((acc < 0) | (acc > 1))
        if bad.size:
            fail_rows(
                "accuracy",
                bad,
                frame["accuracy"],
                "outside [0, 1]",
                "Give accuracies as proportions (0.42, not 42%): fix or remove those rows.",
                where,
            )
        raw = acc * total
        correct = np.round(raw).astype(np.int64)
        shift = float(np.max(np.abs(raw - correct)))
        if shift > 1e-6:
            notes.append(
                f"rounded accuracy * n_problems to whole problems correct (largest change "
                f"{shift:.2f} problems): expected accuracies of a voting rule are means of "
                "per-problem probabilities, so the binomial likelihood uses the nearest count"
            )
    key = model + "\x00" + pd.Series(whole["n"]).astype(str)
    dup = np.flatnonzero(key.duplicated(keep=False).to_numpy())
    if dup.size:
        raise DataError(
            f"columns 'model', 'n': {where(dup)} repeat a (model, n) pair. Give each model "
            "one row per n (pool repeated evaluations by adding n_correct and n_problems)."
        )
    if np.unique(whole["n"]).size < 2:
        raise DataError(
            f"column 'n': every row has n = {int(whole['n'][0])}; the curve needs accuracies "
            "at two or more sample counts."
        )
    out = pd.DataFrame({"model": model, "n": whole["n"], "n_correct": correct, "n_problems": total})
    return out, notes


def _build_curve_model(
    data: pd.DataFrame, gamma: str, pooling: str, priors: dict, n_ref: float, center: float
) -> Any:
    import pymc as pm

    models = list(pd.unique(data["model"]))
    idx = pd.Index(models).get_indexer(data["model"])
    coords = {"model": models, "obs": np.arange(len(data))}
    pr = priors
    with pm.Model(coords=coords) as model:
        n_obs = pm.Data("n", data["n"].to_numpy(dtype=float), dims="obs")
        total = pm.Data("n_problems", data["n_problems"].to_numpy(dtype=np.int64), dims="obs")
        model_idx = pm.Data("model_idx", idx.astype(np.int64), dims="obs")
        # the first-sample accuracy is measured directly on P problems: no pooling needed
        logit_1 = pm.Normal("logit_acc_first", *pr["logit_first"], dims="model")
        if pooling == "partial":
            # population of gains whose mean may change with ability (logit acc_1)
            mu_g = pm.Normal("mu_gain", *pr["mu_gain"])
            slope = pm.Normal("gain_slope", *pr["gain_slope"])
            mean_g = mu_g + slope * (logit_1 - center)
            # Centred, with the population scale integrated out (a multivariate
            # Student-t): the gains of models measured at many n are pinned by their
            # data, and with a sampled scale both the non-centred form (144 divergences,
            # R-hat 1.16 on five similar simulated curves up to n = 1024) and the centred
            # one (30 to 139) made a funnel. Standardised, so NUTS starts in the bulk.
            nu, scale = pr["effects_gain"]
            n_models = len(models)
            e_gain = pm.MvStudentT(
                "e_gain", nu=nu, mu=np.zeros(n_models), scale=np.eye(n_models), dims="model"
            )
            gain = pm.Deterministic("logit_gain", mean_g + scale * e_gain, dims="model")
        else:
            # Parameters the data pin down: logit accuracy at n = 1 and its change up to
            # n_ref. The limit is derived from them and gamma (sampling it directly
            # couples it to gamma).
            mean_g, sd_g = pr["mu_gain"]
            z_gain = pm.Normal("z_gain", 0.0, 1.0, dims="model")
            gain = pm.Deterministic("logit_gain", mean_g + sd_g * z_gain, dims="model")
        if gamma == "shared":
            log_gamma = pm.Normal("log_gamma", *pr["log_gamma"])
            gam = pm.Deterministic("gamma", pm.math.exp(log_gamma))
            gam_obs = gam
        else:
            mu_lg = pm.Normal("mu_log_gamma", *pr["log_gamma"])
            sd_lg = pm.HalfNormal("sigma_log_gamma", pr["sigma_log_gamma"][0])
            z_lg = pm.Normal("z_log_gamma", 0.0, 1.0, dims="model")
            gam = pm.Deterministic("gamma", pm.math.exp(mu_lg + sd_lg * z_lg), dims="model")
            gam_obs = gam[model_idx]
        # 1 - n_ref^-gamma > 0 because n_ref > 1 and gamma > 0
        ref_span = -pm.math.expm1(-gam * np.log(n_ref))
        logit_inf = pm.Deterministic("logit_acc_inf", logit_1 + gain / ref_span, dims="model")
        pm.Deterministic("acc_first", pm.math.sigmoid(logit_1), dims="model")
        pm.Deterministic("acc_inf", pm.math.sigmoid(logit_inf), dims="model")
        span = -pm.math.expm1(-gam_obs * pm.math.log(n_obs))
        ref_obs = ref_span if gamma == "shared" else ref_span[model_idx]
        logit_acc = logit_1[model_idx] + gain[model_idx] * span / ref_obs
        pm.Binomial(
            "y",
            n=total,
            logit_p=logit_acc,
            observed=data["n_correct"].to_numpy(np.int64),
            dims="obs",
        )
    return model


def _sampled_names(gamma: str, pooling: str) -> list[str]:
    """Free parameters of the curve model (whose diagnostics decide a rerun)."""
    names = ["logit_acc_first"]
    if pooling == "partial":
        names += ["e_gain", "mu_gain", "gain_slope"]
    else:
        names.append("z_gain")
    if gamma == "shared":
        names.append("log_gamma")
    else:
        names += ["mu_log_gamma", "sigma_log_gamma", "z_log_gamma"]
    return names


class VotingCurveFit(FitResult):
    r"""Posterior of the saturating accuracy curve of :func:`fit_voting_curve`.

    Attributes
    ----------
    idata : xarray.DataTree
        ``posterior``, ``sample_stats``, ``log_likelihood``, ``observed_data`` (``y``, the
        problems correct per row) and ``fit_data`` (the table).
    data : pandas.DataFrame
        The validated table: ``model``, ``n``, ``n_correct``, ``n_problems``.
    diagnostics : Diagnostics
        Divergences, R-hat and bulk ESS (:func:`bayescale.core.diagnostics.check_convergence`).
    gamma, pooling, n_ref, center
        The specification used (``center``: the centre of :math:`\operatorname{logit}
        \text{acc}_1` in the gain regression).
    priors : dict
        The priors used (:data:`DEFAULT_PRIORS` with the overrides).
    notes : list of str
        What was rounded or chosen on the user's behalf.
    sampler : dict
        NUTS settings of the last run.
    """

    kind = "voting_curve"

    def __init__(
        self,
        idata: xr.DataTree,
        data: pd.DataFrame,
        diagnostics: Diagnostics | None,
        *,
        gamma: str,
        pooling: str,
        n_ref: float,
        center: float = 0.0,
        priors: Mapping[str, tuple[float, float]] | None = None,
        notes: Sequence[str] = (),
        sampler: Mapping[str, Any] | None = None,
    ) -> None:
        self.idata = idata
        self.data = data
        self.diagnostics = diagnostics
        self.gamma = gamma
        self.pooling = pooling
        self.n_ref = float(n_ref)
        self.center = float(center)
        self.priors = {k: (float(v[0]), float(v[1])) for k, v in (priors or {}).items()}
        self.notes = list(notes)
        self.sampler = dict(sampler or {})

    @property
    def models(self) -> list[str]:
        """Model labels in order of first appearance."""
        return [str(m) for m in self.idata["posterior"].dataset["model"].values]

    def title(self) -> str:
        return (
            f"VotingCurveFit: {len(self.models)} model(s), {len(self.data)} (model, n) rows; "
            f"gamma={self.gamma!r}, pooling={self.pooling!r}, n_ref={self.n_ref:g}"
        )

    def observation_info(self) -> dict[str, str]:
        return {"metric": "problems correct", "space": "count"}

    def _sampled(self) -> list[str]:
        return _sampled_names(self.gamma, self.pooling)

    def parameter_names(self) -> list[str]:
        """Reported variables: ``acc_first``, ``acc_inf``, ``logit_gain``, ``gamma`` and,
        with ``pooling="partial"``, the population of gains."""
        names = ["acc_first", "acc_inf", "logit_gain", "gamma"]
        if self.pooling == "partial":
            names += ["mu_gain", "gain_slope", "sigma_gain"]
        return names

    def summary(
        self, *, ci_prob: float = 0.9, var_names: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Posterior summary (:func:`arviz.summary`, equal-tailed ``ci_prob`` intervals) of
        :meth:`parameter_names` (or ``var_names``)."""
        import arviz as az

        return az.summary(
            self.idata,
            var_names=list(var_names or self.parameter_names()),
            ci_prob=check_ci_prob(ci_prob),
            ci_kind="eti",
            round_to="none",
        )

    def curve_draws(self, n: int | Sequence[float] | np.ndarray) -> xr.DataArray:
        r"""Posterior draws of :math:`\text{acc}(n)` with dims (chain, draw, model, n).

        ``n`` may contain ``numpy.inf`` (the saturation limit :math:`\text{acc}_\infty`).
        """
        post = self.idata["posterior"].dataset
        sizes = np.atleast_1d(np.asarray(n, dtype=float))
        if sizes.ndim != 1 or np.any(np.isnan(sizes)) or np.any(sizes < 1):
            raise SpecificationError(f"n must be numbers >= 1 (or inf), not {n!r}")
        nn = xr.DataArray(sizes, dims="n", coords={"n": sizes})
        gam = post["gamma"]
        logit_1, logit_inf = post["logit_acc_first"], post["logit_acc_inf"]
        shrink = np.exp(-gam * np.log(nn))
        logit = logit_inf - (logit_inf - logit_1) * shrink
        acc = xr.apply_ufunc(lambda v: 1.0 / (1.0 + np.exp(-v)), logit)
        return acc.transpose("chain", "draw", "model", "n").rename("accuracy")

    def predict(
        self,
        n: int | Sequence[float] | np.ndarray,
        *,
        ci_prob: float = 0.9,
        include_limit: bool = True,
    ) -> pd.DataFrame:
        r"""Posterior mean, median and equal-tailed interval of the accuracy at ``n``.

        Parameters
        ----------
        n
            Sample counts (>= 1); may be new values.
        ci_prob
            Probability of the equal-tailed credible interval.
        include_limit
            Append the rows ``n = inf`` (the saturation limit :math:`\text{acc}_\infty`).

        Returns
        -------
        pandas.DataFrame
            ``model``, ``n``, then :data:`~bayescale.core.intervals.FORECAST_COLUMNS`
            (``quantity == "accuracy"``). The band describes the population accuracy on
            problems like the evaluated ones (not a new evaluation's binomial noise).
        """
        p = check_ci_prob(ci_prob)
        sizes = list(np.atleast_1d(np.asarray(n, dtype=float)))
        if include_limit and np.inf not in sizes:
            sizes.append(np.inf)
        return interval_table(self.curve_draws(sizes), ci_prob=p)

    def plot(self, path: str | os.PathLike[str] | None = None, **kwargs: Any) -> Figure:
        """Accuracy against n with credible bands over the data
        (:func:`~bayescale.passk.plotting.plot_voting_curve`; ``**kwargs`` go there)."""
        from bayescale.passk.plotting import plot_voting_curve

        return plot_voting_curve(self, path=path, **kwargs)

    def _state(self) -> dict[str, Any]:
        return {
            "gamma": self.gamma,
            "pooling": self.pooling,
            "n_ref": self.n_ref,
            "center": self.center,
            "priors": self.priors,
            "sampler": self.sampler,
        }

    @classmethod
    def _from_tree(cls, tree: xr.DataTree, state: Mapping[str, Any]) -> VotingCurveFit:
        table = tree[DATA_GROUP].dataset
        data = pd.DataFrame(
            {
                "model": pd.Series(table["model_label"].values.astype(str), dtype=object),
                **{c: table[c].values.astype(np.int64) for c in ("n", "n_correct", "n_problems")},
            }
        )
        result = cls(
            tree,
            data,
            None,
            gamma=str(state["gamma"]),
            pooling=str(state["pooling"]),
            n_ref=float(state["n_ref"]),
            center=float(state["center"]),
            priors=state.get("priors"),
            sampler=state.get("sampler"),
        )
        result.diagnostics = check_convergence(tree, var_names=result._sampled(), warn=False)
        return result

    def __repr__(self) -> str:
        return (
            f"<VotingCurveFit models={len(self.models)} rows={len(self.data)} "
            f"gamma={self.gamma!r} pooling={self.pooling!r} diagnostics: {self.diagnostics}>"
        )


def fit_voting_curve(
    table: Source,
    *,
    gamma: Literal["shared", "per_model"] = "shared",
    pooling: Literal["auto", "partial", "none"] = "auto",
    priors: dict[str, tuple[float, float]] | None = None,
    n_ref: float | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int = 0,
    nuts_sampler: str = "nutpie",
    target_accept: float = 0.8,
    progressbar: bool = False,
    warn_convergence: bool = True,
    extend_if_slow: bool = True,
    sampler: Sampler | None = None,
    **sampler_kwargs: Any,
) -> VotingCurveFit:
    r"""Fit a saturating curve of accuracy against the number of samples ``n`` with NUTS.

    .. math::

        \operatorname{logit}\text{acc}(n) = \ell_\infty - (\ell_\infty - \ell_1)\,n^{-\gamma},
        \qquad \text{acc}_\infty = \operatorname{logit}^{-1}\ell_\infty

    Parameters
    ----------
    table
        DataFrame or CSV path with ``model``, ``n``, ``n_problems`` and ``n_correct`` (or
        ``accuracy``, then ``n_correct = round(accuracy * n_problems)``, noted). The output
        of :func:`~bayescale.passk.voting.majority_vote_accuracy` (one strategy) can be
        passed directly.
    gamma
        ``"shared"``: one exponent for all models (needed when models have few values of
        ``n``); ``"per_model"``: exponents partially pooled on the log scale (non-centred).
    pooling
        ``"partial"``: the logit gains of the models are drawn from a population normal
        whose scale (integrated out; drawn afterwards as ``sigma_gain``) and mean (linear
        in ``logit acc_1``) are estimated; ``"none"``:
        independent N(0, 1) priors (used automatically for a single model); ``"auto"``
        (default): ``"partial"`` with :data:`MIN_POOLED_MODELS` or more models, else
        ``"none"`` (with two to four groups the population scale is barely identified and
        its funnel slows NUTS down).
    priors
        Overrides of :data:`DEFAULT_PRIORS` (``(mean, sd)`` of a normal, ``(sd, 0)`` of a
        half-normal, ``(nu, s)`` of the gains' Student-t).
    n_ref
        Reference sample count of the gain parameter (default: the largest ``n`` in the
        table).
    draws, tune, chains, nuts_sampler, progressbar
        NUTS settings (per chain), passed to :func:`bayescale.core.sampling.run_nuts`.
    seed
        Seed of the first NUTS run (a rerun ``i`` uses ``seed + i``).
    target_accept
        NUTS target acceptance rate. The default 0.8 (PyMC's) suffices for this
        parameterisation: with the gain from :math:`n = 1` to :math:`n_\text{ref}`
        sampled instead of the limit, the simulated recovery data gave no divergences
        (the limit sampled directly gave 12 to 64, ``docs/voting.md``).
    warn_convergence
        Warn (:class:`~bayescale.core.errors.ConvergenceWarning`) when diagnostics fall short.
    extend_if_slow
        On slow mixing without divergences, sample once more with twice ``tune`` and
        ``draws`` (bayescale's retry policy, :mod:`bayescale.core.sampling`; noted in
        ``fit.notes``).
    sampler
        Draws instead of NUTS (a :class:`~bayescale.core.sampling.Sampler`; tests pass
        prior draws).
    **sampler_kwargs
        ``nuts={...}`` and ``cores``; other options go to :func:`pymc.sample`.

    Returns
    -------
    VotingCurveFit

    Notes
    -----
    Per model :math:`m` and observation :math:`i` (sample count :math:`n_i`, :math:`P_i`
    problems, :math:`y_i` correct), with :math:`s(n) = 1 - n^{-\gamma}`:

    .. math::

        \ell_{1,m} &\sim \mathcal N(0, 1.5), \qquad
        g_m = \mu_g + \beta_g(\ell_{1,m} - \bar\ell_1) + s_g\,e_m, \qquad
        e_m \mid \lambda \sim \mathcal N(0, 1/\lambda),\
        \lambda \sim \text{Gamma}(\nu/2, \nu/2),
        \qquad
        \ell_{\infty,m} = \ell_{1,m} + \frac{g_m}{s(n_\text{ref})},\\
        \operatorname{logit}\text{acc}_m(n) &= \ell_{1,m} + g_m\,\frac{s(n)}{s(n_\text{ref})},
        \qquad y_i \sim \text{Binomial}\bigl(P_i, \text{acc}_{m_i}(n_i)\bigr),

    so :math:`g_m` is the logit gain from :math:`n = 1` to :math:`n_\text{ref}` (what the
    data measure) and the limit :math:`\text{acc}_\infty` is derived from it and
    :math:`\gamma`; sampling the limit directly couples it to :math:`\gamma` and gave
    divergences. The first-sample accuracy is measured directly on :math:`P` problems, so
    it is not pooled; the gains are pooled around a mean that may change with ability
    (:math:`\bar\ell_1`: mean empirical logit accuracy at the smallest ``n``; on GSM8K
    weak models lose from voting and strong ones gain). Priors (:data:`DEFAULT_PRIORS`):
    :math:`\mu_g \sim \mathcal N(0, 1)`,
    :math:`\beta_g \sim \mathcal N(0, 0.5)`, :math:`\nu = 4, s_g = 0.25` (the gains'
    population scale :math:`\sigma_g = s_g/\sqrt\lambda`, :math:`\sigma_g^2 \sim
    \text{InvGamma}(\nu/2, \nu s_g^2/2)`, typically near 0.25, is integrated out in the
    model: a multivariate Student-t of the :math:`e_m`, sampled centred, which gave no
    funnel where a sampled scale did; ``sigma_gain`` is drawn afterwards from its exact
    conditional, :func:`_add_gain_scale`),
    :math:`\log\gamma \sim \mathcal N(\log 0.7, 0.7)` (with ``gamma="per_model"``:
    :math:`\log\gamma_m = \mu + \tau z_m`, :math:`\tau \sim \text{HalfNormal}(0.5)`).
    With ``pooling="none"`` the population parameters are fixed (:math:`g_m \sim \mathcal
    N(0, 1)`). The curve may fall (voting hurts when a wrong answer is the plurality:
    :math:`g_m < 0`).

    The binomial treats the :math:`P` problems as a sample from a population of problems:
    the variance of a mean of per-problem win probabilities is at most
    :math:`\text{acc}(1-\text{acc})/P`, so it is conservative for one evaluation.
    Accuracies of one model at several :math:`n` on the same problems are positively
    correlated, which the independent binomials ignore (intervals are somewhat narrow when
    many ``n`` share problems). With only two values of ``n`` per model, :math:`\gamma`
    (and hence :math:`\text{acc}_\infty`) is informed by its prior alone.
    """
    data, notes = _curve_table(table)
    if gamma not in ("shared", "per_model"):
        raise SpecificationError(f"gamma must be 'shared' or 'per_model', not {gamma!r}")
    if pooling not in ("auto", "partial", "none"):
        raise SpecificationError(f"pooling must be 'auto', 'partial' or 'none', not {pooling!r}")
    prior = dict(DEFAULT_PRIORS)
    for key, value in (priors or {}).items():
        if key not in DEFAULT_PRIORS:
            raise SpecificationError(
                f"unknown prior {key!r}; the priors are {sorted(DEFAULT_PRIORS)}"
            )
        prior[key] = (float(value[0]), float(value[1]))
    n_models = data["model"].nunique()
    if pooling == "auto":
        pooling = "partial" if n_models >= MIN_POOLED_MODELS else "none"
    elif pooling == "partial" and n_models < 2:
        pooling = "none"
        notes.append("one model: pooling='none' (a population scale needs several models)")
    if gamma == "per_model":
        per = data.groupby("model")["n"].nunique()
        few = per[per < 3]
        if len(few):
            notes.append(
                f"gamma='per_model' with fewer than 3 values of n for {len(few)} model(s): "
                "their exponents follow the population prior"
            )

    observed_n = data["n"].to_numpy(dtype=float)
    ref = float(observed_n.max()) if n_ref is None else float(n_ref)
    if not ref > 1 or not np.isfinite(ref):
        raise SpecificationError(f"n_ref must be a finite number > 1, not {n_ref!r}")
    first = data.loc[data.groupby("model", sort=False)["n"].idxmin()]
    frac = (first["n_correct"] + 0.5) / (first["n_problems"] + 1.0)
    center = float(np.mean(np.log(frac / (1 - frac))))
    model = _build_curve_model(data, gamma, pooling, prior, ref, center)
    nuts = dict(sampler_kwargs.pop("nuts", None) or {})
    cores = sampler_kwargs.pop("cores", None)
    idata, run = run_nuts(
        model,
        check_vars=_sampled_names(gamma, pooling),
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        target_accept=target_accept,
        progressbar=progressbar,
        nuts_sampler=nuts_sampler,
        nuts=nuts,
        cores=cores,
        extend_if_slow=extend_if_slow,
        log_likelihood=["y"],
        sampler=sampler,
        notes=notes,
        **sampler_kwargs,
    )
    idata[DATA_GROUP] = _table_dataset(data)
    if pooling == "partial":
        _add_gain_scale(idata, prior["effects_gain"], seed)
    diag = check_convergence(idata, var_names=_sampled_names(gamma, pooling), warn=warn_convergence)
    return VotingCurveFit(
        idata,
        data,
        diag,
        gamma=gamma,
        pooling=pooling,
        n_ref=ref,
        center=center,
        priors=prior,
        notes=notes,
        sampler=run.as_dict(),
    )


def _add_gain_scale(
    idata: xr.DataTree, effects: tuple[float, float], seed: int | np.random.Generator | None
) -> None:
    r"""Draw the population scale of the gains, :math:`\sigma_g`, into the posterior.

    The model integrates :math:`\sigma_g` out: :math:`e \mid \lambda \sim \mathcal N(0,
    I/\lambda)`, :math:`\lambda \sim \text{Gamma}(\nu/2, \nu/2)` and
    :math:`\sigma_g = s_g/\sqrt\lambda`. Given a posterior draw of the :math:`M` standardised
    deviations :math:`e`, :math:`\lambda \mid e \sim \text{Gamma}((\nu + M)/2,\
    (\nu + e^\top e)/2)` exactly, so one draw of it per posterior draw is a draw of the
    joint posterior (seeded with the fit's seed).
    """
    nu, scale = effects
    post = idata["posterior"].to_dataset()
    e = post["e_gain"].transpose("chain", "draw", ...).values
    rng = np.random.default_rng(seed)
    shape_ = (nu + e.shape[-1]) / 2.0
    rate = (nu + np.sum(e**2, axis=-1)) / 2.0
    lam = rng.gamma(shape_, 1.0 / rate)
    post["sigma_gain"] = (("chain", "draw"), scale / np.sqrt(lam))
    idata["posterior"] = xr.DataTree(post)


def _table_dataset(data: pd.DataFrame) -> xr.Dataset:
    """The fitted table as a Dataset along ``obs`` (the ``fit_data`` group of the fit)."""
    return xr.Dataset(
        {
            "model_label": ("obs", data["model"].to_numpy(dtype=str)),
            **{
                c: ("obs", data[c].to_numpy(dtype=np.int64))
                for c in ("n", "n_correct", "n_problems")
            },
        }
    )
