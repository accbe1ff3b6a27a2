"""The ``oracle`` teacher: every relation path from the topic, scored by answer F1 against the gold answers.

It reads the answers it is asked about, so it is no model: it is the reference other
teachers are compared with and an upper bound of what a path teacher can reach. Its
distribution is a softmax of ``F1 / temperature`` over the paths with F1 > 0, so paths
reaching the answers equally well share the mass equally.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kgpeft.data.scoring import answer_f1, score_path_predictions
from kgpeft.errors import TeacherError
from kgpeft.teachers.base import PathDistribution, PathTeacher, TeacherConfig
from kgpeft.teachers.registry import register_teacher

if TYPE_CHECKING:
    from kgpeft.data import Question
    from kgpeft.kg import KnowledgeGraph


@dataclass
class OracleTeacherConfig(TeacherConfig):
    """Settings of the oracle teacher.

    >>> OracleTeacherConfig(temperature=0.05).temperature
    0.05
    """

    temperature: float = field(
        default=0.1,
        metadata={"help": "Softmax temperature (> 0) over path F1: small values put the mass on the best paths."},
    )
    max_candidates: int = field(
        default=10_000, metadata={"help": "Relation paths enumerated per topic entity at most (>= 1)."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.max_candidates < 1:
            raise ValueError(f"max_candidates must be >= 1, got {self.max_candidates}")


@register_teacher("oracle")
class OracleTeacher(PathTeacher):
    """Scores ``kg.relation_paths(topic, max_hops)`` by the F1 of their endpoints against the gold answers.

    >>> teacher = OracleTeacher()  # doctest: +SKIP
    >>> teacher.fit(kg, train)  # doctest: +SKIP
    >>> teacher.predict(test[0]).paths[0] in test[0].gold_paths  # doctest: +SKIP
    True
    """

    config_class = OracleTeacherConfig
    needs_answers = True
    config: OracleTeacherConfig

    def fit(
        self, kg: KnowledgeGraph, questions: Sequence[Question], validation: Sequence[Question] | None = None
    ) -> dict[str, float]:
        """Nothing to learn: binds the graph and reports validation metrics when given."""
        self.kg = kg
        scores = score_path_predictions(kg, validation, self.predict_batch(validation)) if validation else {}
        self.metrics = {f"validation_{k}": v for k, v in scores.items()}
        return self.metrics

    def predict(self, question: Question) -> PathDistribution:
        kg = self.require_kg()
        topic = self.require_topic(question)
        if not question.answers:
            raise TeacherError(f"the oracle teacher needs gold answers; question {question.id!r} has none")
        gold = set(question.answers)
        scored = []
        # Endpoint sets of a prefix's extensions come from one expansion, not an execute per path.
        for path, ends in kg.path_endpoints(topic, self.max_hops, max_paths=self.config.max_candidates):
            f1 = answer_f1(ends.tolist(), gold)
            if f1 > 0:
                scored.append((path, f1))
        # Best F1 first, shorter paths first among equals: the top_n kept are the simplest good ones.
        scored.sort(key=lambda item: (-item[1], len(item[0]), item[0]))
        scored = scored[: self.config.top_n]
        return PathDistribution.from_scores(
            kg, topic, [p for p, _ in scored], [f1 / self.config.temperature for _, f1 in scored]
        )
