"""How predicted answers compare with a question's gold answers: the primitives below teachers and evaluation.

Evaluation reports these figures; teachers need the same ones while fitting (the gnn
teacher keeps the epoch with the best validation Hits@1, the oracle scores paths by
answer F1). Both sit above the question data, so the definitions live here, once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from kgpeft.types import EntityId, RelationPath

if TYPE_CHECKING:
    from kgpeft.data.questions import Question
    from kgpeft.kg import KnowledgeGraph


class PathPrediction(Protocol):
    """What a path prediction offers scoring (a teacher's ``PathDistribution`` is one)."""

    topic: EntityId
    paths: Sequence[RelationPath]

    def top_answer(self) -> EntityId | None: ...

    def top_answers(self) -> Collection[EntityId]: ...


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


def hits_at_1(top_answer: EntityId | None, gold: Collection[EntityId]) -> float:
    """1.0 when the top answer is a gold answer.

    >>> hits_at_1(3, {3, 4}), hits_at_1(None, {3})
    (1.0, 0.0)
    """
    return float(top_answer is not None and top_answer in gold)


def score_path_predictions(
    kg: KnowledgeGraph, questions: Sequence[Question], predictions: Sequence[PathPrediction]
) -> dict[str, float]:
    """Metrics of path predictions against questions (same order).

    ``hits@1``: the top answer is a gold answer; ``f1``: the top path's endpoint set
    against the gold answers (both over questions with answers); ``path_validity``: share
    of all returned paths whose every step exists; ``coverage``: share of questions with
    at least one path.

    >>> score_path_predictions(kg, test, teacher.predict_batch(test))["hits@1"]  # doctest: +SKIP
    0.93
    """
    hits, f1s, valid, paths, covered = [], [], 0, 0, 0
    for question, prediction in zip(questions, predictions, strict=True):
        covered += bool(prediction.paths)
        paths += len(prediction.paths)
        valid += sum(kg.path_is_valid(prediction.topic, p) for p in prediction.paths)
        if question.answers:
            gold = set(question.answers)
            hits.append(hits_at_1(prediction.top_answer(), gold))
            f1s.append(answer_f1(prediction.top_answers(), gold))
    return {
        "hits@1": float(np.mean(hits)) if hits else 0.0,
        "f1": float(np.mean(f1s)) if f1s else 0.0,
        "path_validity": valid / paths if paths else 1.0,
        "coverage": covered / len(questions) if questions else 0.0,
        "questions": len(questions),
        "labelled": len(hits),
    }
