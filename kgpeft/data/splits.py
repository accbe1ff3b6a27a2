"""Train / validation / test splits disjoint by topic entity.

Test questions are about topic entities no training question is about, so the test
split measures reasoning over the graph for unseen entities, not recall of training
questions. Whole topics are dealt out in a seeded order until each split holds its
share of the questions.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from kgpeft.data.questions import Question


def assign_splits(
    questions: Sequence[Question], *, validation_ratio: float = 0.1, test_ratio: float = 0.1, seed: int = 0
) -> list[Question]:
    """The questions, in the same order, with ``split`` set; no topic entity is in two splits.

    A question without a topic is a group of its own. The ratios are shares of questions,
    met as closely as whole topics allow; train takes the rest.

    >>> {q.split for q in assign_splits(questions, seed=0)}  # doctest: +SKIP
    {'train', 'validation', 'test'}
    """
    if validation_ratio < 0 or test_ratio < 0 or validation_ratio + test_ratio >= 1:
        raise ValueError(
            f"validation_ratio and test_ratio must be >= 0 and sum to < 1, got {validation_ratio}, {test_ratio}"
        )
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, question in enumerate(questions):
        key = ("topic", str(question.topic)) if question.topic is not None else ("question", question.id)
        groups[key].append(index)
    order = sorted(groups)
    random.Random(seed).shuffle(order)

    quotas = {"test": test_ratio * len(questions), "validation": validation_ratio * len(questions)}
    counts = dict.fromkeys(quotas, 0)
    split_of: dict[int, str] = {}
    for key in order:
        # Deal whole topics to test, then validation, each until it holds its share; train takes the rest.
        name = next((s for s in quotas if counts[s] < quotas[s]), "train")
        if name in counts:
            counts[name] += len(groups[key])
        split_of.update(dict.fromkeys(groups[key], name))
    return [replace(q, split=split_of[i]) for i, q in enumerate(questions)]
