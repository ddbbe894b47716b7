"""Wu & Lo (2024): their nine tasks, thresholds and difficulty slices, as bayescale tables.

Wu and Lo, *U-shaped and Inverted-U Scaling behind Emergent Abilities of Large Language
Models*, ICLR 2025, arXiv:2410.01692 (code: ``tony10101105/ExpEmergence``). The shipped
data set ``wu_lo2024`` holds their models' TC Brier scores on ten difficulty groups and
overall accuracy of nine tasks; this module turns it (or their source files) into a slice
table (:mod:`bayescale.emergence.slice_table`) and an accuracy table
(:func:`bayescale.emergence.table.emergence_table`), with their constants: the tasks, the
thresholds (which are also their cut-offs), the models they filter out, each task's chance
level and their classification of the tasks as emergent or not.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from bayescale.core.errors import DataError
from bayescale.core.tables import fail_rows
from bayescale.emergence.known_tasks import WU_LO_CHANCE
from bayescale.emergence.slice_table import (
    OVERALL_LABEL,
    OVERALL_SLICE,
    finish_table,
    joined,
    label_count,
    merge_slices,
    require_columns,
    validate_slice_table,
    where_rows,
)

__all__ = [
    "WU_LO_CHANCE",
    "WU_LO_EMERGENT",
    "WU_LO_FILTERED_MODELS",
    "WU_LO_ROBUSTNESS_THRESHOLDS",
    "WU_LO_TASKS",
    "WU_LO_THRESHOLD",
    "load_wu_lo_emergence",
    "load_wu_lo_slices",
    "slice_table_from_wu_lo",
    "slice_table_from_wu_lo_source",
]

#: The nine tasks of Wu & Lo (2024), in the order of the source's ``utils.py``.
WU_LO_TASKS: tuple[str, ...] = (
    "mmlu",
    "arithmetic",
    "parsinlu_qa_mc",
    "hindu_knowledge",
    "analogical_similarity",
    "conceptual_combinations",
    "hellaswag",
    "arc",
    "abstract_narrative_understanding",
)
#: Wu & Lo's threshold per task in training FLOPs (``utils.py``: ``10**threshold`` in units of
#: 1e21 FLOPs). It is both the emergence threshold of the six "Emergence" tasks and the compute
#: cut-off of the models that define question difficulty (the ``<max>`` in the file names);
#: hellaswag, arc and abstract_narrative_understanding are their "No Emergence" controls.
WU_LO_THRESHOLD: dict[str, float] = {
    "mmlu": 10**1.5 * 1e21,
    "arithmetic": 10**1.8 * 1e21,
    "parsinlu_qa_mc": 10**2.3 * 1e21,
    "hindu_knowledge": 10**1.0 * 1e21,
    "analogical_similarity": 10**2.0 * 1e21,
    "conceptual_combinations": 10**1.5 * 1e21,
    "hellaswag": 10**2.3 * 1e21,
    "arc": 10**2.3 * 1e21,
    "abstract_narrative_understanding": 10**2.3 * 1e21,
}
#: Models Wu & Lo leave out of their plots and fits as "probably over-trained small models"
#: (``utils.model_filter``). Not removed by default; pass them as ``exclude_models``.
WU_LO_FILTERED_MODELS: tuple[str, ...] = (
    "microsoft/phi-1_5",
    "microsoft/phi-2",
    "Qwen/Qwen1.5-0.5B",
    "Qwen/Qwen1.5-1.8B",
    "Qwen/Qwen1.5-4B",
    "stabilityai/stablelm-2-1_6b",
    "meta-llama/Meta-Llama-3-8B",
)
#: Wu & Lo's classification of their nine tasks (``utils.basic_parameter["type"]``):
#: six "Emergence" tasks and three "No Emergence" controls.
WU_LO_EMERGENT: dict[str, bool] = {
    "mmlu": True,
    "arithmetic": True,
    "parsinlu_qa_mc": True,
    "hindu_knowledge": True,
    "analogical_similarity": True,
    "conceptual_combinations": True,
    "hellaswag": False,
    "arc": False,
    "abstract_narrative_understanding": False,
}
#: Earlier cut-offs of Wu & Lo's robustness analysis (``fit_parameter``), log10 FLOPs.
WU_LO_ROBUSTNESS_THRESHOLDS: dict[str, tuple[float, ...]] = {
    "mmlu": (22.5, 22.3, 22.1),
    "parsinlu_qa_mc": (23.3, 23.1, 22.9),
    "arithmetic": (22.8, 22.6, 22.4),
}


# --------------------------------------------------------------------------- slice tables
def slice_table_from_wu_lo(
    frame: pd.DataFrame | None = None,
    tasks: Sequence[str] | None = None,
    *,
    n_slices: int = 10,
    exclude_models: Sequence[str] = (),
) -> pd.DataFrame:
    """Turn the shipped data set ``wu_lo2024`` into a slice table, slice 0 = easiest.

    The source orders questions differently in its two kinds of file (checked in its code,
    ``evaluation/<task>/<task>_question_grouping*.py``, and in the data):

    * ``g<k>_brier``: questions sorted by *increasing* mean TC Brier score of the models
      below the threshold, so **g0 is the easiest** group: ``slice = k``.
    * ``g<k>_acc`` (mmlu, arithmetic, parsinlu_qa_mc): questions sorted by *increasing* mean
      accuracy, so **g0 is the hardest** group: ``slice = 9 - k``. These accuracy slices are a
      different partition of the questions (by accuracy, not TC Brier difficulty);
      ``slice_label`` keeps the source label (its index range in the source's accuracy order).

    ``n_questions`` is read from the label (``"0_1404"`` holds 1404 questions); overall rows
    (``slice=-1``) have all the task's questions. Compute is the data set's 6ND, which equals
    the source's ``FLOPs (1E21)`` x 1e21.

    Parameters
    ----------
    frame
        The long table of ``bayescale.datasets.load("wu_lo2024")`` (loaded when None).
    tasks
        Tasks to keep (default all nine, :data:`WU_LO_TASKS`).
    n_slices
        10 (the shipped groups) or fewer: adjacent groups merged with :func:`merge_slices`
        (for 3 this approximates Wu & Lo's 3-group files; the exact ones are read by
        :func:`slice_table_from_wu_lo_source`).
    exclude_models
        Models to leave out (e.g. :data:`WU_LO_FILTERED_MODELS`); reported in the notes.

    Returns
    -------
    pandas.DataFrame
        The slice table; ``attrs["notes"]`` says what was done.
    """
    from bayescale import datasets

    if frame is None:
        frame = datasets.load("wu_lo2024")
    groups: dict[str, dict[str, str]] = datasets.provenance("wu_lo2024")["groups"]
    require_columns(
        frame,
        ["model", "family", "compute", "metric", "value"],
        "wu_lo2024 table",
        "Pass bayescale.datasets.load('wu_lo2024').",
    )
    parts = frame["metric"].astype(str).str.extract(r"^([^/]+)/(g\d+|overall)_(brier|acc)$")
    bad = np.flatnonzero(parts[0].isna().to_numpy())
    if bad.size:
        fail_rows(
            "metric",
            bad,
            frame["metric"],
            "not of the form <task>/<g<k>|overall>_<brier|acc>",
            "Pass the wu_lo2024 data set unchanged.",
            where_rows,
        )
    all_tasks = list(pd.unique(parts[0]))
    if tasks is None:
        tasks = all_tasks
    unknown = [t for t in tasks if t not in all_tasks]
    if unknown:
        raise DataError(f"task(s) {unknown} not in the data; it has {all_tasks}")
    notes: list[str] = []
    keep = parts[0].isin(list(tasks)).to_numpy()
    drop = frame["model"].isin(list(exclude_models)).to_numpy()
    if (keep & drop).any():
        ms = pd.unique(frame.loc[keep & drop, "model"])
        notes.append(f"left out model(s) {joined(ms)} (exclude_models)")
    keep = keep & ~drop
    sub = frame.loc[keep]
    p = parts.loc[keep]
    n_groups = {t: len(groups[t]) for t in tasks}
    label = [
        OVERALL_LABEL if g == "overall" else groups[t][g] for t, g in zip(p[0], p[1], strict=True)
    ]
    k = np.array([-1 if g == "overall" else int(g[1:]) for g in p[1]])
    ng = np.array([n_groups[t] for t in p[0]])
    is_acc = (p[2] == "acc").to_numpy()
    slice_ = np.where(k < 0, OVERALL_SLICE, np.where(is_acc, ng - 1 - k, k))
    total = {
        t: max(label_count(v) + int(v.split("_")[0]) for v in groups[t].values()) for t in tasks
    }
    n_q = [
        total[t] if lab == OVERALL_LABEL else label_count(lab)
        for t, lab in zip(p[0], label, strict=True)
    ]
    fam = sub["family"].astype(object).where(sub["family"].notna(), "")
    table = pd.DataFrame(
        {
            "task": p[0].to_numpy(),
            "model": sub["model"].astype(str).to_numpy(),
            "family": fam.astype(str).to_numpy(),
            "compute": sub["compute"].to_numpy(dtype=float),
            "slice": slice_,
            "n_slices": ng,
            "slice_label": label,
            "metric": p[2].to_numpy(),
            "value": sub["value"].to_numpy(dtype=float),
            "n_questions": n_q,
        }
    )
    notes.append(
        "wu_lo2024: brier groups g0..g9 -> slices 0..9 (g0 easiest: lowest mean TC Brier); "
        "acc groups g0..g9 -> slices 9..0 (source sorts by increasing accuracy, g0 hardest); "
        "acc slices partition the questions by accuracy, brier slices by TC Brier"
    )
    out = validate_slice_table(finish_table(table, notes))
    if n_slices != 10:
        out = merge_slices(out, n_slices)
    return out


def slice_table_from_wu_lo_source(
    directory: str | os.PathLike[str],
    n_slices: Literal[3, 10] = 10,
    tasks: Sequence[str] | None = None,
    *,
    cutoff: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Read Wu & Lo's source CSV files (``data/<task>/`` of ExpEmergence) into a slice table.

    Reads ``<task>_instance_brier_-1000_<max>_<n>_redist.csv`` (TC Brier per group, overall
    ``brier`` and ``acc``) and, for 10 groups, ``acc_<task>_..._10_redist.csv`` (accuracy per
    accuracy-ordered group), with the same ordering rules as :func:`slice_table_from_wu_lo`.
    Rows without model name, model size or data size (Mistral-7B, DeciLM-7B; duplicated GPT-2
    rows) and missing values are left out and listed in the notes; compute is
    ``FLOPs (1E21)`` x 1e21.

    Parameters
    ----------
    directory
        The folder holding one sub-folder per task (e.g.
        ``../shared/data/wu_lo2024_emergence/data``).
    n_slices
        3 or 10 (the files the source has).
    tasks
        Tasks to read (default: :data:`WU_LO_TASKS` present in ``directory``).
    cutoff
        Difficulty cut-off per task in FLOPs, choosing among files with several ``<max>``
        (default :data:`WU_LO_THRESHOLD`).

    Returns
    -------
    pandas.DataFrame
        The slice table.
    """
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"{str(root)!r} is not a directory of Wu & Lo task folders")
    if n_slices not in (3, 10):
        raise DataError(f"the source has 3- and 10-group files only, not n_slices={n_slices!r}")
    tasks = [t for t in WU_LO_TASKS if (root / t).is_dir()] if tasks is None else list(tasks)
    cut = dict(WU_LO_THRESHOLD) | (cutoff or {})
    rows: list[pd.DataFrame] = []
    notes: list[str] = []
    for task in tasks:
        files = sorted((root / task).glob(f"{task}_instance_brier_-1000_*_{n_slices}_redist.csv"))
        if not files:
            raise DataError(f"no {n_slices}-group 'redist' file for task {task!r} in {root / task}")
        target = cut.get(task)
        path = min(files, key=lambda f: abs(np.log(_file_cutoff(f) / target)) if target else 0.0)
        kinds = [(path, "brier")]
        acc = sorted((root / task).glob(f"acc_{task}_instance_brier_-1000_*_{n_slices}_redist.csv"))
        if acc:
            kinds.append((acc[0], "acc"))
        notes.append(f"{task}: read {', '.join(f.name for f, _ in kinds)}")
        for file, kind in kinds:
            rows.extend(_read_wu_lo_file(file, task, kind, notes))
    table = pd.concat(rows, ignore_index=True)
    return validate_slice_table(finish_table(table, notes))


def _file_cutoff(path: Path) -> float:
    """Difficulty cut-off (FLOPs) in a source file name ``..._-1000_<max>_<n>_redist.csv``."""
    return float(path.name.split("_-1000_")[1].split("_")[0]) * 1e21


def _read_wu_lo_file(file: Path, task: str, kind: str, notes: list[str]) -> list[pd.DataFrame]:
    """Slice-table rows of one source file (``kind`` "brier": also the overall accuracy)."""
    src = pd.read_csv(file)
    cols = [c for c in src.columns if re.match(rf"^\d+_\d+_{kind}$", c)]
    ok = (
        src["Model"].notna()
        & src["Model Size (B)"].notna()
        & src["Pretraining Data Size (T)"].notna()
        & src["FLOPs (1E21)"].notna()
    )
    gone = src.loc[~ok & src[cols].notna().any(axis=1), "Model"].dropna().unique()
    if len(gone):
        notes.append(f"{file.name}: left out {joined(gone)} (no model size or data size)")
    src = src.loc[ok]
    labels = {c: c.removesuffix(f"_{kind}") for c in cols}
    n = len(cols)
    total = max(label_count(v) + int(v.split("_")[0]) for v in labels.values())
    ids = ["Model", "Model Family", "FLOPs (1E21)"]
    wanted: list[tuple[str, list[str]]] = [(kind, [*cols, "brier"] if kind == "brier" else cols)]
    if kind == "brier":
        wanted.append(("acc", ["acc"]))
    out = []
    for metric, value_vars in wanted:
        lg = src.melt(id_vars=ids, value_vars=value_vars, var_name="col", value_name="value")
        missing = lg["value"].isna()
        if missing.any():
            notes.append(f"{file.name}: {int(missing.sum())} empty {metric} value(s) left out")
        lg = lg.loc[~missing]
        lab = [labels.get(c, OVERALL_LABEL) for c in lg["col"]]
        grp = np.array([cols.index(c) if c in labels else -1 for c in lg["col"]])
        sl = np.where(grp < 0, OVERALL_SLICE, (n - 1 - grp) if kind == "acc" else grp)
        out.append(
            pd.DataFrame(
                {
                    "task": task,
                    "model": lg["Model"].astype(str).to_numpy(),
                    "family": lg["Model Family"].fillna("").astype(str).to_numpy(),
                    "compute": lg["FLOPs (1E21)"].to_numpy(dtype=float) * 1e21,
                    "slice": sl,
                    "n_slices": n,
                    "slice_label": lab,
                    "metric": metric,
                    "value": lg["value"].to_numpy(dtype=float),
                    "n_questions": [total if x == OVERALL_LABEL else label_count(x) for x in lab],
                }
            )
        )
    return out


# --------------------------------------------------------------------------- loaders
def load_wu_lo_slices(
    tasks: Sequence[str] | None = None, *, exclude_models: Sequence[str] = ()
) -> pd.DataFrame:
    """The slice table of the shipped data set ``wu_lo2024`` (10 Brier slices per task).

    Uses :func:`slice_table_from_wu_lo` (slice 0 = group ``g0`` = easiest: the lowest mean
    TC Brier score, checked in the data: strong models score best on it).

    Parameters
    ----------
    tasks
        Tasks to keep (default all nine).
    exclude_models
        Models to leave out, e.g. :data:`WU_LO_FILTERED_MODELS` (Wu & Lo's filter of
        probably over-trained small models).
    """
    from bayescale import datasets

    frame = datasets.load("wu_lo2024")
    if exclude_models:
        frame = frame[~frame["model"].isin(list(exclude_models))].reset_index(drop=True)
    return slice_table_from_wu_lo(frame, tasks)


def load_wu_lo_emergence(exclude_models: Sequence[str] = ()) -> pd.DataFrame:
    """Overall accuracies of Wu & Lo's nine tasks (shipped ``wu_lo2024``) as an emergence table.

    ``n_questions`` is each task's number of questions (from the difficulty-group labels),
    ``chance`` :data:`WU_LO_CHANCE`.

    Parameters
    ----------
    exclude_models
        Models to leave out (e.g. :data:`WU_LO_FILTERED_MODELS`).
    """
    from bayescale import datasets
    from bayescale.emergence.table import emergence_table

    frame = datasets.load("wu_lo2024")
    if exclude_models:
        frame = frame[~frame["model"].isin(list(exclude_models))].reset_index(drop=True)
    table = slice_table_from_wu_lo(frame)
    return emergence_table(table, chance=WU_LO_CHANCE)
