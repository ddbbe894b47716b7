"""Chance levels and sizes of the tasks bayescale ships data for (Wu & Lo, ObsScaling).

Plain constants, so that the table builder (:mod:`bayescale.emergence.table`) and the data
loaders (:mod:`bayescale.emergence.wu_lo`, :mod:`bayescale.emergence.obsscaling`) share
them without importing each other.
"""

from __future__ import annotations

__all__ = ["OBSSCALING_EMERGENT", "WU_LO_CHANCE"]

#: Chance accuracy of Wu & Lo's nine multiple-choice tasks (1 / number of choices): BIG-bench
#: ``arithmetic`` and ``analogical_similarity`` offer 7 choices, ``abstract_narrative_
#: understanding`` (9 distractors) 10, the others 4 (ARC: 4 for almost all questions).
WU_LO_CHANCE: dict[str, float] = {
    "mmlu": 0.25,
    "arithmetic": 1 / 7,
    "parsinlu_qa_mc": 0.25,
    "hindu_knowledge": 0.25,
    "analogical_similarity": 1 / 7,
    "conceptual_combinations": 0.25,
    "hellaswag": 0.25,
    "arc": 0.25,
    "abstract_narrative_understanding": 0.1,
}

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
