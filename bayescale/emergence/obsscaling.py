"""ObsScaling (Ruan et al. 2024): its emergent BIG-bench style accuracies as an emergence table.

Ruan, Maddison and Hashimoto, *Observational Scaling Laws and the Predictability of Language
Model Performance*, arXiv:2405.10938. The shipped data set ``obsscaling2024``
holds their models' scores; :func:`load_obsscaling_emergence` keeps the seven emergent
metrics that are accuracies, with their chance levels and question counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from bayescale.core.errors import DataError

__all__ = ["OBSSCALING_EMERGENT", "load_obsscaling_emergence"]

#: ObsScaling (Ruan et al. 2024) emergent BIG-bench style metrics that are accuracies:
#: metric -> (chance, number of questions). Arithmetic, word unscrambling and IPA
#: transliteration are generative (exact match, chance 0); ParsiNLU QA has 4 choices. The
#: question counts are those that make every shipped value a whole count (IPA: 1003; two
#: Qwen 72B values are multiples of 1/1000 and are rounded). ``ipa_transliterate_2_bleu`` is
#: a BLEU score, not an accuracy, and is left out.
OBSSCALING_EMERGENT: dict[str, tuple[float, int]] = {
    "arithmetic_2da_2_acc": (0.0, 2000),
    "arithmetic_2dm_2_acc": (0.0, 2000),
    "arithmetic_3da_2_acc": (0.0, 2000),
    "arithmetic_3ds_2_acc": (0.0, 2000),
    "word_unscrambling_2_exact_match": (0.0, 2000),
    "ipa_transliterate_2_exact_match": (0.0, 1003),
    "parsinlu_qa_2_acc": (0.25, 1050),
}


def load_obsscaling_emergence(metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """ObsScaling's emergent BIG-bench style accuracies (shipped ``obsscaling2024``).

    Parameters
    ----------
    metrics
        Metrics of :data:`OBSSCALING_EMERGENT` to keep (default all seven).
    """
    from bayescale import datasets
    from bayescale.emergence.table import emergence_table

    metrics = list(metrics) if metrics is not None else list(OBSSCALING_EMERGENT)
    unknown = [m for m in metrics if m not in OBSSCALING_EMERGENT]
    if unknown:
        raise DataError(
            f"metric(s) {unknown} are not accuracies of the ObsScaling emergent tasks; choose "
            f"from {list(OBSSCALING_EMERGENT)}"
        )
    frame = datasets.load("obsscaling2024")
    frame = frame[frame["metric"].isin(metrics)].dropna(subset=["value", "compute"])
    frame = frame.rename(columns={"metric": "task"})
    return emergence_table(
        frame,
        chance={m: OBSSCALING_EMERGENT[m][0] for m in metrics},
        n_questions={m: OBSSCALING_EMERGENT[m][1] for m in metrics},
        tasks=metrics,
    )
