"""A teacher's own quality on a split: Hits@1, answer F1 and path validity.

The student is measured against these figures, and the gnn teacher selects its best
epoch by :func:`evaluate_teacher`'s Hits@1 on the validation split.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np

from kgpeft.types import EntityId, RelationPath

if TYPE_CHECKING:
    from kgpeft.data import Question
    from kgpeft.kg import KnowledgeGraph
    from kgpeft.teachers.base import PathDistribution, PathTeacher


def answer_f1(predicted: Collection[EntityId], gold: Collection[EntityId]) -> float:
    """F1 of a predicted answer set against the gold one (0 when either is empty).

    >>> answer_f1({1, 2}, {2, 3})
    0.5
    """
    hits = len(set(predicted) & set(gold))
    if not hits:
        return 0.0
    precision, recall = hits / len(set(predicted)), hits / len(set(gold))
    return 2 * precision * recall / (precision + recall)


def path_is_valid(kg: KnowledgeGraph, topic: EntityId, path: RelationPath) -> bool:
    """Whether every step of ``path`` exists at its frontier (reaches at least one entity)."""
    frontier = np.array([topic], dtype=np.int64)
    for step in path:
        if not 0 <= step < kg.num_steps:
            return False
        frontier = kg.follow(frontier, step)
        if not len(frontier):
            return False
    return len(path) > 0


def score_predictions(
    kg: KnowledgeGraph, questions: Sequence[Question], predictions: Sequence[PathDistribution]
) -> dict[str, float]:
    """Metrics of predictions against questions (same order).

    ``hits@1``: the top answer is a gold answer; ``f1``: the top path's endpoint set
    against the gold answers (both over questions with answers); ``path_validity``: share
    of all returned paths whose every step exists; ``coverage``: share of questions with
    at least one path.

    >>> score_predictions(kg, test, teacher.predict_batch(test))["hits@1"]  # doctest: +SKIP
    0.93
    """
    hits, f1s, valid, paths, covered = [], [], 0, 0, 0
    for question, dist in zip(questions, predictions, strict=True):
        covered += bool(dist.paths)
        paths += len(dist.paths)
        valid += sum(path_is_valid(kg, dist.topic, p) for p in dist.paths)
        if question.answers:
            gold = set(question.answers)
            hits.append(float(dist.top_answer() in gold))
            f1s.append(answer_f1(dist.top_answers(), gold))
    return {
        "hits@1": float(np.mean(hits)) if hits else 0.0,
        "f1": float(np.mean(f1s)) if f1s else 0.0,
        "path_validity": valid / paths if paths else 1.0,
        "coverage": covered / len(questions) if questions else 0.0,
        "questions": len(questions),
        "labelled": len(hits),
    }


def evaluate_teacher(teacher: PathTeacher, questions: Sequence[Question]) -> dict[str, float]:
    """:func:`score_predictions` of ``teacher.predict_batch(questions)``.

    >>> evaluate_teacher(load_teacher("teachers/countries-gnn", kg), test)  # doctest: +SKIP
    {'hits@1': 0.95, 'f1': 0.93, 'path_validity': 1.0, ...}
    """
    return score_predictions(teacher.require_kg(), questions, teacher.predict_batch(questions))
