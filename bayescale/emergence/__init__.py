"""Emergence: difficulty slices, Slice-and-Sandwich, sigmoidal emergence, the quanta model.

Downstream accuracy that stalls and then jumps (``docs/emergence.md``):

* :mod:`~bayescale.emergence.slice_table`: the slice table every part reads (a task's
  models scored on slices of its questions, by difficulty): its format, checks, merging;
* :mod:`~bayescale.emergence.slicing`: questions sliced by difficulty (how well the models
  do on each), the target-conditioned Brier score, per-slice performance against compute;
* :mod:`~bayescale.emergence.wu_lo` and :mod:`~bayescale.emergence.obsscaling`: the shipped
  Wu & Lo (2024) and ObsScaling (2024) data as slice and accuracy tables;
* :mod:`~bayescale.emergence.sandwich` (model: :mod:`~bayescale.emergence.sandwich_model`):
  a Bayesian Slice-and-Sandwich (Wu & Lo 2024): each slice's trend against log compute
  below a cut-off, the combined forecast beyond it, the emergence threshold and
  P(emergent) as posteriors (and Wu & Lo's reading: where the easy slices turn);
* :mod:`~bayescale.emergence.criteria`: the one definition of the threshold (where the
  typical model's accuracy leaves chance by a margin) and of P(emergent), which both
  models read from their accuracy curves, and :func:`thresholds` to put them side by side;
* :mod:`~bayescale.emergence.sigmoid` (model: :mod:`~bayescale.emergence.sigmoid_model`,
  data: :mod:`~bayescale.emergence.table`): a sigmoidal law with a chance floor and a
  ceiling, hierarchical across tasks, with each task's threshold posterior;
* :mod:`~bayescale.emergence.quanta` (simulator: :mod:`~bayescale.emergence.quanta_sim`): the
  quantization model (Michaud et al. 2023): Zipf-distributed quanta, a Bayesian fit of the
  Zipf exponent, and a consistency check of a chinchilla fit's exponents.

Data flow: slice table (DataFrame) -> PyMC model -> ``DataTree`` in a fit object
(:class:`SandwichFit`, :class:`SigmoidFit`, :class:`QuantaFit`, each a
:class:`bayescale.FitResult`: ``summary``, ``report``, ``plot``, ``save`` /
:func:`bayescale.load`) -> thresholds, forecasts, plots. Both emergence models expose the
same pointwise log-likelihood of one task's overall accuracy, so :func:`bayescale.compare`
ranks them.
"""

from __future__ import annotations

from bayescale.emergence.criteria import MARGIN, MAX_DECADES, MIN_JUMP, thresholds
from bayescale.emergence.obsscaling import OBSSCALING_EMERGENT, load_obsscaling_emergence
from bayescale.emergence.quanta import (
    QuantaFit,
    fit_token_losses,
    fit_zipf_counts,
    quanta_consistency,
)
from bayescale.emergence.quanta_sim import (
    simulate_quanta,
    simulate_quanta_counts,
    simulate_token_losses,
    tail_mass,
    zipf_frequencies,
)
from bayescale.emergence.sandwich import SandwichFit, fit_sandwich
from bayescale.emergence.sigmoid import COMPUTE_DRIFT, SigmoidFit, fit_sigmoid
from bayescale.emergence.sigmoid_model import sigmoid_law
from bayescale.emergence.slice_table import (
    merge_slices,
    slice_table_to_dataset,
    validate_slice_table,
)
from bayescale.emergence.slicing import (
    difficulty_scores,
    slice_performance,
    slice_questions,
    target_conditioned_brier,
)
from bayescale.emergence.table import KNOWN_CHANCE, emergence_table
from bayescale.emergence.wu_lo import (
    WU_LO_CHANCE,
    WU_LO_EMERGENT,
    WU_LO_FILTERED_MODELS,
    WU_LO_TASKS,
    WU_LO_THRESHOLD,
    load_wu_lo_emergence,
    load_wu_lo_slices,
    slice_table_from_wu_lo,
    slice_table_from_wu_lo_source,
)

__all__ = [
    "COMPUTE_DRIFT",
    "KNOWN_CHANCE",
    "MARGIN",
    "MAX_DECADES",
    "MIN_JUMP",
    "OBSSCALING_EMERGENT",
    "WU_LO_CHANCE",
    "WU_LO_EMERGENT",
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
    "merge_slices",
    "quanta_consistency",
    "sigmoid_law",
    "simulate_quanta",
    "simulate_quanta_counts",
    "simulate_token_losses",
    "slice_performance",
    "slice_questions",
    "slice_table_from_wu_lo",
    "slice_table_from_wu_lo_source",
    "slice_table_to_dataset",
    "tail_mass",
    "target_conditioned_brier",
    "thresholds",
    "validate_slice_table",
    "zipf_frequencies",
]
