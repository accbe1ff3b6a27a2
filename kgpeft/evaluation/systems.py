"""The systems an evaluation compares, behind one interface: questions in, :class:`Prediction` s out.

- :class:`ReasonerSystem`: an LLM answering through :class:`~kgpeft.inference.KGReasoner`,
  with one named adapter active (the student, or another adapter such as an alpha = 1
  run) or with adapters disabled (the base model, still KG-constrained).
- :class:`RoutedSystem`: several domain adapters on one base, each question sent to the
  domain whose graph links its text best (``kgpeft ask --adapter A --adapter B``).
- :class:`TeacherSystem`: a fitted :class:`~kgpeft.teachers.PathTeacher`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kgpeft.evaluation.metrics import Prediction
from kgpeft.evaluation.probes import build_fact_probes, fact_probe_accuracy, general_text, retention_kl
from kgpeft.inference.linking import LinkingError
from kgpeft.inference.routing import activate, route

if TYPE_CHECKING:
    from kgpeft.data import Question
    from kgpeft.inference import Answer, KGReasoner
    from kgpeft.kg import KnowledgeGraph
    from kgpeft.teachers import PathTeacher


class System(ABC):
    """Something that answers questions; ``alpha`` is the distillation weight of an adapter system, if any."""

    name: str
    description: str = ""
    alpha: float | None = None
    batch_size: int = 8
    """Questions per :meth:`predict` call: one decoding batch."""

    @abstractmethod
    def predict(self, questions: Sequence[Question]) -> list[Prediction]:
        """One prediction per question (same order); a question without topic gets an empty prediction."""

    def probes(self, kg: KnowledgeGraph) -> dict[str, float | None]:
        """Model-level metrics (fact probe, retention); none by default."""
        return {}


@dataclass
class ProbeSettings:
    """How many fact probes and how much general text the model-level metrics use (0 turns one off).

    >>> ProbeSettings(fact_probes=0).retention_tokens
    512
    """

    fact_probes: int = field(default=64, metadata={"help": "Fact-probe minimal pairs (0 skips the probe)."})
    retention_tokens: int = field(
        default=512, metadata={"help": "Tokens of general English text for retention KL (0 skips it)."}
    )
    seed: int = field(default=0, metadata={"help": "Seed choosing the probed entities and distractors."})
    knowledge: int = field(
        default=64,
        metadata={
            "help": "Closed-book questions and disambiguation items about trained entities "
            "(kgpeft.evaluation.knowledge; 0 skips them)."
        },
    )

    def __post_init__(self) -> None:
        for name in ("fact_probes", "retention_tokens", "knowledge"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class ReasonerSystem(System):
    """An LLM answering with KG-constrained paths, with ``adapter`` active (None: every adapter disabled).

    ``adapter`` may name several adapters, all active at once (``kgpeft ask --combine``).

    >>> ReasonerSystem("student", reasoner, adapter="countries").predict(test)  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str,
        reasoner: KGReasoner,
        *,
        adapter: str | Sequence[str] | None,
        description: str = "",
        alpha: float | None = None,
        num_paths: int = 4,
        max_hops: int = 3,
        constrained: bool = True,
        batch_size: int = 32,
        probe_settings: ProbeSettings | None = None,
    ) -> None:
        self.name = name
        self.reasoner = reasoner
        self.adapters = [adapter] if isinstance(adapter, str) else list(adapter or [])
        self.description = description
        self.alpha = alpha
        self.num_paths = num_paths
        self.max_hops = max_hops
        self.constrained = constrained
        self.batch_size = batch_size
        self.probe_settings = probe_settings or ProbeSettings()
        # Decoding is deterministic: a question asked again (by a RoutedSystem built on this
        # system, after this system was evaluated) gets the same prediction without decoding again.
        self._answered: dict[Question, Prediction] = {}

    def active(self) -> contextlib.AbstractContextManager[None]:
        """The model as this system uses it: its adapter active, or every adapter disabled."""
        return activate(self.reasoner.model, self.adapters)

    def predict(self, questions: Sequence[Question]) -> list[Prediction]:
        predictions = [self._answered.get(q, Prediction()) for q in questions]
        todo = [i for i, q in enumerate(questions) if q.topic is not None and q not in self._answered]
        if not todo:
            return predictions
        with self.active():
            answers = self.reasoner.ask_batch(
                [questions[i].question for i in todo],
                [questions[i].topic for i in todo],
                num_paths=self.num_paths,
                max_hops=self.max_hops,
                constrained=self.constrained,
            )
        for i, answer in zip(todo, answers, strict=True):
            predictions[i] = self._answered[questions[i]] = prediction_from_answer(answer)
        return predictions

    def probes(self, kg: KnowledgeGraph) -> dict[str, float | None]:
        settings = self.probe_settings
        model, tokenizer = self.reasoner.model, self.reasoner.tokenizer
        metrics: dict[str, float | None] = {}
        with self.active():
            if settings.fact_probes:
                probes = build_fact_probes(kg, tokenizer, count=settings.fact_probes, seed=settings.seed)
                metrics["fact_probe"] = fact_probe_accuracy(model, tokenizer, probes)
            if settings.retention_tokens:
                # The base model is its own reference: its KL is 0 by definition.
                adapted = bool(self.adapters) and hasattr(model, "disable_adapter")
                metrics["retention_kl"] = (
                    retention_kl(model, tokenizer, general_text(), max_tokens=settings.retention_tokens)
                    if adapted
                    else 0.0
                )
        return metrics


class RoutedSystem(System):
    """Domain adapters on one base, each question routed by its text alone, as ``kgpeft ask`` routes it.

    ``domains`` pairs each adapter name with the :class:`~kgpeft.inference.KGReasoner` of its
    graph; ``home`` is how the questions' own domain answers alone. A question routed to the
    home domain is answered exactly as ``home`` answers it (by ``home`` itself, which reuses
    its answers when it was evaluated first); one routed elsewhere, or that no graph links, is
    a miss (the other domain's answers are entities of another graph).
    :meth:`probes` reports the share of such questions as ``misrouted``.

    >>> RoutedSystem("routed", student, [("countries", r1), ("elements", r2)]).predict(test)  # doctest: +SKIP
    """

    def __init__(self, name: str, home: ReasonerSystem, domains: Sequence[tuple[str, KGReasoner]]) -> None:
        if not any(reasoner is home.reasoner for _, reasoner in domains):
            raise ValueError("the home system's reasoner must be one of the domains")
        self.name = name
        self.home = home
        self.domains = list(domains)
        self.description = "routed between " + ", ".join(name for name, _ in self.domains)
        self.batch_size = home.batch_size
        self._routed = 0
        self._misrouted = 0

    def predict(self, questions: Sequence[Question]) -> list[Prediction]:
        predictions = [Prediction() for _ in questions]
        began = time.perf_counter()
        home = []
        for i, question in enumerate(questions):
            try:
                _, reasoner = route(question.question, None, self.domains)
            except LinkingError:
                reasoner = None
            if reasoner is self.home.reasoner:
                home.append(i)
        self._routed += len(questions)
        self._misrouted += len(questions) - len(home)
        routing = (time.perf_counter() - began) / max(len(questions), 1)
        for i, prediction in zip(home, self.home.predict([questions[i] for i in home]), strict=True):
            predictions[i] = dataclasses.replace(prediction, latency=prediction.latency + routing)
        return predictions

    def probes(self, kg: KnowledgeGraph) -> dict[str, float | None]:
        """``misrouted``: the share of the questions predicted so far that went to another domain or none."""
        return {"misrouted": self._misrouted / self._routed if self._routed else None}


SHOWN_ANSWERS = 10
"""Ranked answers kept per question for the per-question results (a path can reach thousands)."""


def prediction_from_answer(answer: Answer) -> Prediction:
    """What the metrics need from an :class:`~kgpeft.inference.Answer`."""
    top_path = answer.top_path
    return Prediction(
        top_answer=answer.top.entity if answer.top else None,
        answer_set=top_path.answers if top_path else (),
        top_path=top_path.steps if top_path else None,
        path_validity=tuple(p.valid for p in answer.paths),
        hallucinated_hops=sum(p.hallucinated_hops for p in answer.paths),
        latency=answer.timings.get("total", 0.0),
        ranked=tuple((a.entity, a.score) for a in answer.answers[:SHOWN_ANSWERS]),
        paths=tuple((p.text, p.probability, p.valid) for p in answer.paths),
    )


class TeacherSystem(System):
    """A fitted path teacher, predicting from each question's topic (and text).

    >>> TeacherSystem(load_teacher("adapters/countries/teacher", kg)).predict(test)  # doctest: +SKIP
    """

    def __init__(self, teacher: PathTeacher, name: str = "teacher", *, batch_size: int = 64) -> None:
        self.teacher = teacher
        self.name = name
        self.description = f"{teacher.name} teacher"
        self.batch_size = batch_size

    def predict(self, questions: Sequence[Question]) -> list[Prediction]:
        kg = self.teacher.require_kg()
        predictions = [Prediction() for _ in questions]
        # The oracle reads gold answers: it has nothing to say about an unlabelled question.
        todo = [
            i for i, q in enumerate(questions) if q.topic is not None and (q.answers or not self.teacher.needs_answers)
        ]
        if not todo:
            return predictions
        began = time.perf_counter()
        dists = self.teacher.predict_batch([questions[i] for i in todo])
        latency = (time.perf_counter() - began) / len(todo)
        for i, dist in zip(todo, dists, strict=True):
            predictions[i] = Prediction(
                top_answer=dist.top_answer(),
                answer_set=dist.top_answers(),
                top_path=dist.paths[0] if dist.paths else None,
                path_validity=tuple(kg.path_is_valid(dist.topic, p) for p in dist.paths),
                latency=latency,
            )
        return predictions
