"""Inference-time scaling: pass@k as attempts grow, voting, compute-optimal inference.

Data flow: a counts table (one row per model and problem: ``n_samples`` attempts,
``n_correct`` correct) -> :func:`validate_counts` (an ``xarray.Dataset``) -> a
hierarchical zero-inflated Beta-binomial model (PyMC: per model,
:mod:`bayescale.passk.model`, or with each problem's difficulty shared across the sizes,
``model="shared_difficulty"``, :mod:`bayescale.passk.shared`) -> NUTS -> :class:`PassKFit`
(an ArviZ ``DataTree``) -> coverage forecasts at any k, the inference-loss exponent,
attempts for a target coverage, plots (:mod:`bayescale.passk.plotting`), where to sample
next (:func:`sampling_advice`) and compute-optimal choices (:mod:`bayescale.passk.compute`,
:mod:`bayescale.passk.allocation`). :func:`mle_coverage` is the maximum-likelihood
baseline of the literature (:mod:`bayescale.passk.mle`).

Three kinds of fit, each a :class:`bayescale.core.results.FitResult` (``summary``,
``report``, ``plot``, ``loo``, ``save``; :func:`bayescale.load` reads them back):
:class:`PassKFit` (kind ``"passk"``, the counts of every problem),
:class:`CoverageLawFit` (``"coverage_law"``, :mod:`bayescale.passk.coverage_laws`: a law of
each model's coverage curve) and :class:`VotingCurveFit` (``"voting_curve"``,
:mod:`bayescale.passk.voting_curve`: accuracy of voting against the number of samples;
:mod:`bayescale.passk.voting` computes those accuracies). Forecasts are long tables with
:data:`bayescale.core.intervals.FORECAST_COLUMNS`.

>>> from bayescale import passk
>>> counts = passk.example_counts()
>>> fit = passk.fit(counts)                             # doctest: +SKIP
>>> fit.coverage([1_000, 1_000_000], ci_prob=0.9)       # doctest: +SKIP
>>> fit.attempts_for(0.5, cost_per_attempt=1e12)         # doctest: +SKIP

``docs/passk.md`` has the model, its checks on real data and the command line.
"""

from __future__ import annotations

from bayescale.passk.advice import SamplingAdvice, expected_variance_reduction, sampling_advice
from bayescale.passk.allocation import best_allocation, optimal_model_by_budget
from bayescale.passk.compute import (
    accuracy_vs_compute,
    inference_flops,
    pareto_frontier,
    plot_compute_frontier,
)
from bayescale.passk.counts import to_counts_frame, validate_counts
from bayescale.passk.coverage_laws import (
    CoverageLawFit,
    compare_coverage_laws,
    empirical_exponent,
    fit_coverage_law,
)
from bayescale.passk.estimator import coverage_curve, pass_at_k, subsample_counts
from bayescale.passk.fitting import PassKFit, fit, load
from bayescale.passk.mle import beta_binomial_mle, mle_coverage
from bayescale.passk.plotting import plot_coverage, plot_coverage_law, plot_voting_curve
from bayescale.passk.simulate import (
    example_counts,
    example_truth,
    simulate_counts,
    simulate_shared_counts,
)
from bayescale.passk.voting import (
    best_of_n_accuracy,
    majority_vote_accuracy,
    validate_answers,
    voting_limit,
    weighted_vote_accuracy,
)
from bayescale.passk.voting_curve import VotingCurveFit, fit_voting_curve

__all__ = [
    "CoverageLawFit",
    "PassKFit",
    "SamplingAdvice",
    "VotingCurveFit",
    "accuracy_vs_compute",
    "best_allocation",
    "best_of_n_accuracy",
    "beta_binomial_mle",
    "compare_coverage_laws",
    "coverage_curve",
    "empirical_exponent",
    "example_counts",
    "example_truth",
    "expected_variance_reduction",
    "fit",
    "fit_coverage_law",
    "fit_voting_curve",
    "inference_flops",
    "load",
    "majority_vote_accuracy",
    "mle_coverage",
    "optimal_model_by_budget",
    "pareto_frontier",
    "pass_at_k",
    "plot_compute_frontier",
    "plot_coverage",
    "plot_coverage_law",
    "plot_voting_curve",
    "sampling_advice",
    "simulate_counts",
    "simulate_shared_counts",
    "subsample_counts",
    "to_counts_frame",
    "validate_answers",
    "validate_counts",
    "voting_limit",
    "weighted_vote_accuracy",
]
