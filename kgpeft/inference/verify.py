"""Checking generated path text against the graph, hop by hop, and executing what holds.

Labels are unique in a :class:`~kgpeft.kg.KnowledgeGraph`, so a parsed path names its
entities and relations exactly; a hop *exists* when its tail is a neighbour of its head
along the named relation in the named direction. Constrained decoding only produces
existing hops; this check is what makes that a verified claim rather than a promise,
and what counts hallucinated hops in unconstrained mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from kgpeft.data.render import INVERSE_PREFIX, format_path, path_answers
from kgpeft.inference.answer import Hop, ReasoningPath
from kgpeft.types import EntityId, Step

if TYPE_CHECKING:
    from kgpeft.kg import KnowledgeGraph


def hop_step(kg: KnowledgeGraph, relation: str) -> Step | None:
    """The step a parsed relation label names (``^`` for backwards), or None for an unknown relation.

    >>> hop_step(kg, "^located in") == kg.inverse_step(hop_step(kg, "located in"))  # doctest: +SKIP
    True
    """
    backward = relation.startswith(INVERSE_PREFIX)
    base = kg.relation_by_label(relation.removeprefix(INVERSE_PREFIX) if backward else relation)
    if base is None:
        return None
    return base + kg.num_relations if backward else base


def verify_path(kg: KnowledgeGraph, labels: Sequence[str], probability: float) -> ReasoningPath:
    """A parsed path (``[A, r, B, ^s, C]``) with each hop checked and, when all exist, executed from ``A``.

    >>> path = verify_path(kg, ["Germany", "located in", "Western Europe"], 1.0)  # doctest: +SKIP
    >>> path.valid, [kg.entity_label(e) for e in path.answers]  # doctest: +SKIP
    (True, ['Western Europe'])
    """
    hops: list[Hop] = []
    steps: list[Step] = []
    entities = [kg.entity_by_label(label) for label in labels[0::2]]
    for i, relation in enumerate(labels[1::2]):
        head, tail = entities[i], entities[i + 1]
        step = hop_step(kg, relation)
        exists = (
            head is not None and tail is not None and step is not None and _contains(kg.neighbors(head, step), tail)
        )
        hops.append(
            Hop(
                head=labels[2 * i],
                relation=relation.removeprefix(INVERSE_PREFIX),
                tail=labels[2 * i + 2],
                backward=relation.startswith(INVERSE_PREFIX),
                exists=exists,
            )
        )
        if exists:
            steps.append(step)
    text = format_path(labels)
    if len(steps) < len(hops) or not hops:
        return ReasoningPath(text=text, hops=tuple(hops), probability=probability)
    start = entities[0]
    # A path back to its topic ("who starred with X") does not answer with the topic (see path_answers)
    answers = tuple(int(e) for e in path_answers(kg, start, tuple(steps)))
    return ReasoningPath(
        text=text, hops=tuple(hops), probability=probability, start=start, steps=tuple(steps), answers=answers
    )


def malformed_path(text: str, probability: float) -> ReasoningPath:
    """A beam whose text holds no well-formed path: no hops, never valid."""
    return ReasoningPath(text=text.strip(), hops=(), probability=probability)


def _contains(sorted_ids: np.ndarray, entity: EntityId) -> bool:
    """Membership in a sorted id array by binary search (neighbour lists can be long)."""
    i = int(np.searchsorted(sorted_ids, entity))
    return i < len(sorted_ids) and int(sorted_ids[i]) == entity
