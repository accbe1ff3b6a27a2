"""Grounding a question in one topic entity: an explicit topic wins, else the entity linker decides.

Failures are typed, one-line and actionable: a name that is not in the graph comes with
the nearest labels; a question that mentions nothing linkable asks for ``--topic``.
"""

from __future__ import annotations

import dataclasses
import numbers
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kgpeft.errors import KGPeftError
from kgpeft.inference.answer import TopicChoice
from kgpeft.types import EntityId

if TYPE_CHECKING:
    from kgpeft.data import EntityLinker
    from kgpeft.kg import KnowledgeGraph

# Capitalised words that start questions without naming anything.
_FUNCTION_WORDS = frozenset(
    {"which", "what", "who", "whom", "whose", "where", "when", "why", "how", "is", "are", "was", "were", "does"}
    | {"do", "did", "can", "could", "in", "on", "at", "of", "the", "a", "an", "name", "list", "tell", "give", "show"}
)
_CAPITALISED_RUN = re.compile(
    r"\b[A-Z][\w'’.-]*(?:\s+(?:(?:of|the|and|de|del|da|du|la|le|von|van)\s+)*[A-Z][\w'’.-]*)*"
)


class LinkingError(KGPeftError):
    """A question could not be grounded in an entity of the graph."""


class UnknownEntityError(LinkingError):
    """A named entity is not in the graph; ``suggestions`` holds the nearest labels."""

    def __init__(self, name: str, suggestions: list[str], source: str | None = None) -> None:
        self.name = name
        self.suggestions = suggestions
        where = f" ({source})" if source else ""
        hint = f"; nearest labels: {', '.join(suggestions)}" if suggestions else ""
        super().__init__(f"'{name}' is not an entity of the knowledge graph{where}{hint}")


class NoTopicError(LinkingError):
    """The question mentions no entity of the graph."""

    def __init__(self, question: str) -> None:
        self.question = question
        super().__init__(
            f"no entity of the knowledge graph found in {question!r}; name the topic entity with --topic LABEL_OR_IRI"
        )


def resolve_topic(
    kg: KnowledgeGraph, linker: EntityLinker, question: str, topic: EntityId | str | None = None
) -> TopicChoice:
    """The topic entity of ``question``: ``topic`` (an id, IRI or label) when given, else the best linked entity.

    >>> resolve_topic(kg, EntityLinker(kg), "Which region is Germany in?").label  # doctest: +SKIP
    'Germany'
    >>> resolve_topic(kg, EntityLinker(kg), "Which region is Atlantis in?")  # doctest: +SKIP
    Traceback (most recent call last):
    UnknownEntityError: 'Atlantis' is not an entity of the knowledge graph; nearest labels: ...
    """
    choice = _given_topic(kg, linker, topic) if topic is not None else _linked_topic(kg, linker, question)
    return dataclasses.replace(choice, iri=kg.entity_iri(choice.entity))


def _linked_topic(kg: KnowledgeGraph, linker: EntityLinker, question: str) -> TopicChoice:
    result = linker.link(question)
    # A capitalised mention names something; a lowercase one ("country", "region") is more
    # likely a common noun that a class entity happens to be labelled with. A name that links
    # to nothing therefore wins over common nouns that do: "Which region is Atlantis in?" is
    # about Atlantis, which the graph does not have, not about the class "region".
    if not any(c.mention[:1].isupper() for c in result.candidates):
        mention = unlinked_mention(question, [c.mention for c in result.candidates])
        if mention:
            raise UnknownEntityError(mention, linker.suggest(mention), _source(kg))
    if result.top is None:
        raise NoTopicError(question)
    # Among candidates the linker cannot separate, prefer the named ones too.
    near = [c for c in result.candidates if result.top.score - c.score < linker.margin]
    pool = [c for c in near if c.mention[:1].isupper()] or near
    best = pool[0]
    return TopicChoice(
        entity=best.entity,
        label=best.label,
        method=best.method,
        mention=best.mention,
        score=best.score,
        ambiguous=len(pool) > 1,
        alternatives=tuple(c.label for c in pool[1:]),
    )


def _given_topic(kg: KnowledgeGraph, linker: EntityLinker, topic: EntityId | str) -> TopicChoice:
    if isinstance(topic, numbers.Integral):  # numpy integers too: ids often come from arrays
        entity = int(topic)
        if not 0 <= entity < kg.num_entities:
            raise LinkingError(f"entity id {entity} is out of range (the graph has {kg.num_entities} entities)")
        return TopicChoice(entity=entity, label=kg.entity_label(entity), method="given")
    found = kg.entity_by_iri(topic)
    if found is None:
        found = kg.entity_by_label(topic)
    if found is not None:
        return TopicChoice(entity=found, label=kg.entity_label(found), method="given", mention=topic)
    named = kg.entities_by_name(topic)
    if not named:
        raise UnknownEntityError(topic, linker.suggest(topic), _source(kg))
    return TopicChoice(
        entity=named[0],
        label=kg.entity_label(named[0]),
        method="given",
        mention=topic,
        ambiguous=len(named) > 1,
        alternatives=tuple(kg.entity_label(e) for e in named[1:]),
    )


def unlinked_mention(question: str, linked: Sequence[str] = ()) -> str | None:
    """The first capitalised name in ``question`` (a likely entity mention) that is not among ``linked``, or None.

    Used when linking found no name, to tell "that entity is not in the graph" from "the
    question names no entity".

    >>> unlinked_mention("Which region is New Atlantis in?")
    'New Atlantis'
    >>> unlinked_mention("What is the largest country?") is None
    True
    """
    for match in _CAPITALISED_RUN.finditer(question):
        words = match.group().rstrip(".").split()
        while words and words[0].lower() in _FUNCTION_WORDS:
            words.pop(0)
        name = " ".join(words)
        if name and name not in linked:
            return name
    return None


def _source(kg: KnowledgeGraph) -> str | None:
    return None if kg.source is None else str(kg.source)
