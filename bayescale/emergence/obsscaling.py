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
from bayescale.emergence.known_tasks import OBSSCALING_EMERGENT

__all__ = ["OBSSCALING_EMERGENT", "load_obsscaling_emergence"]


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
