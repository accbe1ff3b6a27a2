"""What :meth:`KGReasoner.ask` returns: ranked answers, the paths behind them, and how long each stage took.

Everything here is plain data (labels and IRIs resolved at construction), so an
:class:`Answer` can be printed or serialised without the graph at hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kgpeft.types import EntityId, RelationPath


@dataclass(frozen=True)
class Hop:
    """One step of a generated path as written (``head -> relation -> tail``) and whether that edge exists.

    ``backward`` marks ``tail <- relation <- head`` in path text: the stored triple points from tail to head.
    """

    head: str
    relation: str
    tail: str
    backward: bool
    exists: bool


@dataclass(frozen=True)
class ReasoningPath:
    """One generated path: its text, its hops checked against the graph, and where it leads.

    ``steps`` and ``start`` are set only when the path is well formed and every hop exists;
    ``answers`` is then the full endpoint set of ``steps`` executed from ``start`` without
    passing back through ``start`` (``render.path_answers``), not just the entity the text
    happens to end at.
    """

    text: str
    hops: tuple[Hop, ...]
    probability: float
    start: EntityId | None = None
    steps: RelationPath | None = None
    answers: tuple[EntityId, ...] = ()

    @property
    def well_formed(self) -> bool:
        """Whether the text parsed as a path at all (at least one hop)."""
        return bool(self.hops)

    @property
    def valid(self) -> bool:
        """Whether every hop exists in the graph."""
        return self.steps is not None

    @property
    def hallucinated_hops(self) -> int:
        """Hops that name an edge, entity or relation the graph does not have."""
        return sum(not hop.exists for hop in self.hops)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "probability": self.probability,
            "valid": self.valid,
            "hops": [
                {"head": h.head, "relation": h.relation, "tail": h.tail, "backward": h.backward, "exists": h.exists}
                for h in self.hops
            ],
        }


@dataclass(frozen=True)
class RankedAnswer:
    """An answer entity with its score: the summed probability of the valid paths that reach it.

    ``paths`` indexes :attr:`Answer.paths`; ``evidence`` is, per supporting relation path,
    a chain of edges that exists in the graph and ends at this answer, for the best-ranked
    answers only (``reasoner.EXPLAINED_ANSWERS``; empty for the others, which ``paths`` still
    ties to their paths): a path reaching thousands of entities is not grounded thousands of times.
    """

    entity: EntityId
    label: str
    iri: str
    score: float
    paths: tuple[int, ...]
    evidence: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "iri": self.iri,
            "score": self.score,
            "paths": list(self.paths),
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class TopicChoice:
    """The topic entity a question was grounded in, and how it was chosen.

    ``method`` is ``given`` (an explicit topic), or the linker's ``label``, ``alias`` or
    ``fuzzy``; ``alternatives`` lists other candidates' labels when the choice was
    ``ambiguous`` (their scores were within the linker's margin). ``score`` is the
    linker's score in [0, 1] (1 for a given topic), which routing between graphs compares.
    """

    entity: EntityId
    label: str
    method: str
    mention: str = ""
    score: float = 1.0
    iri: str = ""
    ambiguous: bool = False
    alternatives: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "iri": self.iri,
            "method": self.method,
            "mention": self.mention,
            "score": self.score,
            "ambiguous": self.ambiguous,
            "alternatives": list(self.alternatives),
        }


@dataclass
class Answer:
    """The result of one question: answers best first, every generated path, and stage timings in seconds.

    >>> answer = reasoner.ask("Which region is Germany in?")  # doctest: +SKIP
    >>> answer.top.label, answer.paths[answer.top.paths[0]].text  # doctest: +SKIP
    ('Western Europe', 'Germany -> located in -> Western Europe')
    """

    question: str
    topic: TopicChoice
    answers: list[RankedAnswer]
    paths: list[ReasoningPath]
    constrained: bool
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def top(self) -> RankedAnswer | None:
        """The best answer, or None when no valid path reached anything."""
        return self.answers[0] if self.answers else None

    @property
    def top_path(self) -> ReasoningPath | None:
        """The most probable valid path (whose endpoint set is the predicted answer set)."""
        return max((p for p in self.paths if p.valid), key=lambda p: p.probability, default=None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form, as ``kgpeft ask --json`` prints it."""
        return {
            "question": self.question,
            "topic": self.topic.to_dict(),
            "constrained": self.constrained,
            "answers": [a.to_dict() for a in self.answers],
            "paths": [p.to_dict() for p in self.paths],
            "timings": self.timings,
        }
