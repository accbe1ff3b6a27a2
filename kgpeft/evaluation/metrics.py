"""Metrics as pure functions of predictions and gold data, and their aggregation over a question set.

Definitions (the report states them too):

- **Hits@1**: the top-ranked answer is one of the gold answers.
- **F1**: the predicted answer *set* against the gold set. The predicted set is the
  endpoint set of the most probable valid path (what the system commits to), not every
  answer above some score; a threshold would need tuning per system.
- **Path validity**: the share of all generated paths whose every hop exists in the graph
  (a beam that wrote no well-formed path counts as one invalid path).
- **Gold-path match**: the top path's relation sequence is one of the question's gold paths.

Hits@1, F1 and gold-path match are averaged over questions with gold answers; path
validity over all generated paths. Hits@1 and F1 of one answer set are defined once, in
:mod:`kgpeft.data.scoring`, because teachers need them while fitting too.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from kgpeft.data.scoring import answer_f1, hits_at_1, score_path_predictions
from kgpeft.types import EntityId, RelationPath

__all__ = [
    "Prediction",
    "answer_f1",
    "gold_path_match",
    "hits_at_1",
    "path_validity",
    "score_path_predictions",
    "score_predictions",
    "scores_by_type",
]


@dataclass(frozen=True)
class Prediction:
    """What one system said about one question, reduced to what the metrics need.

    ``path_validity`` holds one flag per generated path; ``latency`` is seconds spent on the question.
    ``ranked`` (answers best first, with scores) and ``paths`` (each generated path's text,
    probability and validity) are what the per-question results show, not scored.
    """

    top_answer: EntityId | None = None
    answer_set: tuple[EntityId, ...] = ()
    top_path: RelationPath | None = None
    path_validity: tuple[bool, ...] = ()
    hallucinated_hops: int = 0
    latency: float = 0.0
    ranked: tuple[tuple[EntityId, float], ...] = ()
    paths: tuple[tuple[str, float, bool], ...] = ()


def gold_path_match(top_path: RelationPath | None, gold_paths: Collection[RelationPath]) -> float:
    """1.0 when the top path's relation sequence is one of the gold paths.

    >>> gold_path_match((0, 2), [(0, 2), (1,)]), gold_path_match((2, 0), [(0, 2)])
    (1.0, 0.0)
    """
    return float(top_path is not None and tuple(top_path) in {tuple(p) for p in gold_paths})


def path_validity(flags: Sequence[bool]) -> float | None:
    """The share of valid paths; None when no path was generated at all.

    >>> path_validity([True, True, False, True]), path_validity([])
    (0.75, None)
    """
    return sum(flags) / len(flags) if flags else None


def score_predictions(
    answers: Sequence[Collection[EntityId]],
    gold_paths: Sequence[Collection[RelationPath]],
    predictions: Sequence[Prediction],
) -> dict[str, float | None]:
    """Mean metrics over questions, given each question's gold answers and gold paths (same order).

    >>> score_predictions([{1}], [[(0,)]], [Prediction(1, (1, 2), (0,), (True,))])["f1"]
    0.6666666666666666
    """
    labelled = [i for i, gold in enumerate(answers) if gold]
    flags = [flag for p in predictions for flag in p.path_validity]
    latencies = [p.latency for p in predictions]
    return {
        "hits@1": _mean([hits_at_1(predictions[i].top_answer, answers[i]) for i in labelled]),
        "f1": _mean([answer_f1(predictions[i].answer_set, answers[i]) for i in labelled]),
        "path_validity": path_validity(flags),
        "gold_path_match": _mean([gold_path_match(predictions[i].top_path, gold_paths[i]) for i in labelled]),
        "hallucinated_hops_per_question": _mean([float(p.hallucinated_hops) for p in predictions]),
        "latency_s": _mean(latencies),
        "latency_p95_s": float(np.percentile(latencies, 95)) if latencies else None,
        "questions": float(len(predictions)),
        "labelled": float(len(labelled)),
    }


def scores_by_type(
    types: Sequence[str | None], answers: Sequence[Collection[EntityId]], predictions: Sequence[Prediction]
) -> dict[str, dict[str, float]]:
    """Hits@1 and question count per question type (questions with gold answers and a type only).

    >>> scores_by_type(["a", "a", None], [{1}, {2}, {3}], [Prediction(1), Prediction(1), Prediction(3)])
    {'a': {'hits@1': 0.5, 'questions': 2.0}}
    """
    hits: dict[str, list[float]] = {}
    for kind, gold, prediction in zip(types, answers, predictions, strict=True):
        if kind is not None and gold:
            hits.setdefault(kind, []).append(hits_at_1(prediction.top_answer, gold))
    return {kind: {"hits@1": float(np.mean(v)), "questions": float(len(v))} for kind, v in sorted(hits.items())}


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None
