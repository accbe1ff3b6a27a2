"""``evaluate(system, questions, kg)``: one system's metrics on one question set; ``evaluate_teacher`` alone."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kgpeft.evaluation.metrics import Prediction, score_path_predictions, score_predictions
from kgpeft.inference.linking import LinkingError, resolve_topic

if TYPE_CHECKING:
    from kgpeft.data import EntityLinker, Question
    from kgpeft.evaluation.systems import System
    from kgpeft.kg import KnowledgeGraph
    from kgpeft.teachers import PathTeacher


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
    questions = link_questions(kg, questions, linker)
    predictions: list[Prediction] = []
    for start in range(0, len(questions), system.batch_size):
        batch = questions[start : start + system.batch_size]
        predictions.extend(system.predict(batch))
        if progress is not None:
            progress(len(batch))
    metrics = score_predictions([q.answers for q in questions], [q.gold_paths for q in questions], predictions)
    metrics["unlinked"] = float(sum(q.topic is None for q in questions))
    if probes:
        metrics.update(system.probes(kg))
    return metrics


def evaluate_teacher(teacher: PathTeacher, questions: Sequence[Question]) -> dict[str, float]:
    """A fitted teacher's own Hits@1, F1, path validity and coverage on ``questions``, from its path distributions.

    >>> evaluate_teacher(load_teacher("teachers/countries-gnn", kg), test)  # doctest: +SKIP
    {'hits@1': 0.95, 'f1': 0.93, 'path_validity': 1.0, ...}
    """
    return score_path_predictions(teacher.require_kg(), questions, teacher.predict_batch(questions))
