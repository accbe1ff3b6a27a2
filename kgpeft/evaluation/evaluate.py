"""``evaluate(system, questions, kg)``: one system's metrics on one question set; ``evaluate_teacher`` alone."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kgpeft.evaluation.metrics import Prediction, hits_at_1, score_path_predictions, score_predictions
from kgpeft.inference.linking import LinkingError, resolve_topic

TYPE_FIELD = "type"
"""The extra field of a question file that names a question's type; the report breaks Hits@1 down by it."""

if TYPE_CHECKING:
    from kgpeft.data import EntityLinker, Question
    from kgpeft.evaluation.systems import System
    from kgpeft.kg import KnowledgeGraph
    from kgpeft.teachers import PathTeacher
    from kgpeft.types import EntityId


def link_questions(
    kg: KnowledgeGraph, questions: Sequence[Question], linker: EntityLinker | None = None
) -> list[Question]:
    """The questions with a topic entity linked from the text where they have none (None when nothing links).

    Linking once, before any system runs, gives every system the same topic.
    """
    if all(q.topic is not None for q in questions):
        return list(questions)
    from kgpeft.data import EntityLinker

    linker = linker or EntityLinker(kg)
    linked = []
    for question in questions:
        if question.topic is None:
            # An unlinkable question keeps no topic: scored as a miss, and counted as unlinked.
            with contextlib.suppress(LinkingError):
                question = dataclasses.replace(question, topic=resolve_topic(kg, linker, question.question).entity)
        linked.append(question)
    return linked


def evaluate(
    system: System,
    questions: Sequence[Question],
    kg: KnowledgeGraph,
    *,
    probes: bool = True,
    progress: Callable[[int], None] | None = None,
    linker: EntityLinker | None = None,
) -> dict[str, float | None]:
    """Answer every question with ``system`` and score it (see :mod:`kgpeft.evaluation.metrics`).

    Questions without a topic are linked first; those that still have none count as
    misses (``unlinked``). With ``probes``, the system's model-level metrics (fact probe,
    retention) are added. ``progress`` is called with the number of questions done per batch;
    ``linker`` saves rebuilding the entity linker when several systems are evaluated.

    >>> evaluate(ReasonerSystem("student", reasoner, adapter="countries"), test, kg)["hits@1"]  # doctest: +SKIP
    0.84
    """
    questions, predictions = predict(system, questions, kg, progress=progress, linker=linker)
    metrics = score(questions, predictions)
    if probes:
        metrics.update(system.probes(kg))
    return metrics


def predict(
    system: System,
    questions: Sequence[Question],
    kg: KnowledgeGraph,
    *,
    progress: Callable[[int], None] | None = None,
    linker: EntityLinker | None = None,
) -> tuple[list[Question], list[Prediction]]:
    """The questions (topics linked, see :func:`link_questions`) and ``system``'s prediction for each, in batches."""
    questions = link_questions(kg, questions, linker)
    predictions: list[Prediction] = []
    for start in range(0, len(questions), system.batch_size):
        batch = questions[start : start + system.batch_size]
        predictions.extend(system.predict(batch))
        if progress is not None:
            progress(len(batch))
    return questions, predictions


def score(questions: Sequence[Question], predictions: Sequence[Prediction]) -> dict[str, float | None]:
    """The metrics of :func:`~kgpeft.evaluation.metrics.score_predictions` and ``unlinked``: questions without a topic."""
    metrics = score_predictions([q.answers for q in questions], [q.gold_paths for q in questions], predictions)
    metrics["unlinked"] = float(sum(q.topic is None for q in questions))
    return metrics


def question_type(question: Question) -> str | None:
    """The question's type when its file gives one (an extra field ``"type"``, as benchmark files carry)."""
    kind = question.extra.get(TYPE_FIELD)
    return None if kind is None else str(kind)


def question_results(
    kg: KnowledgeGraph, system: str, questions: Sequence[Question], predictions: Sequence[Prediction]
) -> list[dict[str, Any]]:
    """One JSON-ready record per question: what was asked, the gold answers, what ``system`` generated and answered.

    The per-question results ``kgpeft eval`` writes beside its report (``questions.jsonl``), so
    that a failure analysis is a ``jq`` or pandas call away: question, topic, gold answers, the
    generated paths with their probabilities and validity, the ranked answers with scores, hit
    or miss, the question type (and the file's other extra fields).

    >>> question_results(kg, "student", questions, predictions)[0]["hit"]  # doctest: +SKIP
    True
    """

    def entity(e: EntityId) -> dict[str, str]:
        return {"label": kg.entity_label(e), "iri": kg.entity_iri(e)}

    records = []
    for question, prediction in zip(questions, predictions, strict=True):
        records.append(
            {
                "system": system,
                "id": question.id,
                "question": question.question,
                "type": question_type(question),
                "topic": None if question.topic is None else entity(question.topic),
                "gold": [entity(a) for a in question.answers],
                "hit": bool(question.answers) and hits_at_1(prediction.top_answer, question.answers) == 1.0,
                "answers": [{**entity(e), "score": s} for e, s in prediction.ranked],
                "paths": [{"text": t, "probability": p, "valid": v} for t, p, v in prediction.paths],
                "extra": question.extra,
            }
        )
    return records


def evaluate_teacher(teacher: PathTeacher, questions: Sequence[Question]) -> dict[str, float]:
    """A fitted teacher's own Hits@1, F1, path validity and coverage on ``questions``, from its path distributions.

    >>> evaluate_teacher(load_teacher("teachers/countries-gnn", kg), test)  # doctest: +SKIP
    {'hits@1': 0.95, 'f1': 0.93, 'path_validity': 1.0, ...}
    """
    return score_path_predictions(teacher.require_kg(), questions, teacher.predict_batch(questions))
