"""Emergence: difficulty slices, Slice-and-Sandwich, sigmoidal emergence, the quanta model.

Downstream accuracy that stalls and then jumps (``docs/emergence.md``):

* :mod:`~bayescale.emergence.slicing`: questions sliced by difficulty (how well the models
  do on each), the target-conditioned Brier score, per-slice performance against compute;
  the shipped Wu & Lo (2024) data as a slice table (:func:`slice_table_from_wu_lo`).
* :mod:`~bayescale.emergence.sandwich`: a Bayesian Slice-and-Sandwich (Wu & Lo 2024): each
  slice's trend against log compute below a cut-off, the combined forecast beyond it, the
  emergence threshold (where the easy slice turns) as a posterior, and P(emergent).
* :mod:`~bayescale.emergence.sigmoid`: a sigmoidal law with a chance floor and a ceiling,
  hierarchical across tasks, with each task's threshold posterior.
* :mod:`~bayescale.emergence.quanta`: the quantization model (Michaud et al. 2023):
  Zipf-distributed quanta, a Bayesian fit of the Zipf exponent, and a consistency check of
  a chinchilla fit's exponents.

Data flow: slice table (DataFrame) -> PyMC model -> ``DataTree`` in a fit object ->
thresholds, forecasts, plots; both emergence models expose the same pointwise
log-likelihood of overall accuracy, so :func:`arviz.compare` ranks them.
"""

from __future__ import annotations

from bayescale.emergence.quanta import (
    QuantaFit,
    fit_token_losses,
    fit_zipf_counts,
    quanta_consistency,
    simulate_quanta,
)
from bayescale.emergence.sandwich import SandwichFit, fit_sandwich, load_wu_lo_slices
from bayescale.emergence.sigmoid import (
    SigmoidFit,
    emergence_table,
    fit_sigmoid,
    load_obsscaling_emergence,
    load_wu_lo_emergence,
)
from bayescale.emergence.slicing import (
    WU_LO_FILTERED_MODELS,
    WU_LO_TASKS,
    WU_LO_THRESHOLD,
    difficulty_scores,
    slice_performance,
    slice_questions,
    slice_table_from_wu_lo,
    target_conditioned_brier,
    validate_slice_table,
)

__all__ = [
    "WU_LO_FILTERED_MODELS",
    "WU_LO_TASKS",
    "WU_LO_THRESHOLD",
    "QuantaFit",
    "SandwichFit",
    "SigmoidFit",
    "difficulty_scores",
    "emergence_table",
    "fit_sandwich",
    "fit_sigmoid",
    "fit_token_losses",
    "fit_zipf_counts",
    "load_obsscaling_emergence",
    "load_wu_lo_emergence",
    "load_wu_lo_slices",
    "quanta_consistency",
    "simulate_quanta",
    "slice_performance",
    "slice_questions",
    "slice_table_from_wu_lo",
    "target_conditioned_brier",
    "validate_slice_table",
]
