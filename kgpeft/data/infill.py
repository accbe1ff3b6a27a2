"""Knowledge-infilling examples (KILM, Xu et al. 2023), for a decoder-only model.

KILM teaches a model what it should know about an entity when it meets the entity in
text: the entity's mention is wrapped in plain-text markers and the model generates
the entity's description. Here the context is a sentence stating one of the entity's
facts, and the target is its description literal, else its facts in words::

    prompt:      The capital of <ent> Germany </ent> is Berlin.
    completion:  Germany is a country in Western Europe with capital Berlin. </ent_desc>
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import TYPE_CHECKING

from kgpeft.data.questions import Question, question_id
from kgpeft.data.verbalise import Verbaliser, classify, statement
from kgpeft.types import EntityId

if TYPE_CHECKING:
    from kgpeft.kg import KnowledgeGraph

ENTITY_START = "<ent>"
ENTITY_END = "</ent>"
DESCRIPTION_END = "</ent_desc>"
INFILL_SYSTEM_PROMPT = (
    f"The text marks an entity between {ENTITY_START} and {ENTITY_END}. "
    f"Describe that entity from what you know, then write {DESCRIPTION_END}."
)
MAX_FACTS = 8  # facts in a description made from the graph: enough to identify, short enough to learn


def entity_facts(kg: KnowledgeGraph, entity: EntityId, verbaliser: Verbaliser) -> list[str]:
    """The entity's edges (both directions) and literal attributes as sentences, in a fixed order."""
    label = kg.entity_label(entity)
    facts = []
    for step in kg.steps_from(entity).tolist():
        relation = kg.base_relation(step)
        for other in kg.neighbors(entity, step).tolist():
            other_label = kg.entity_label(other)
            subject, obj = (other_label, label) if kg.is_inverse(step) else (label, other_label)
            facts.append(verbaliser.statement(subject, relation, obj))
    facts += [statement(classify(predicate), label, value) for predicate, value in kg.entity_attributes(entity)]
    return facts


def entity_knowledge(kg: KnowledgeGraph, entity: EntityId, verbaliser: Verbaliser | None = None) -> str | None:
    """What a model should know about ``entity``: its description, else its first facts; None if nothing.

    >>> entity_knowledge(kg, germany)  # doctest: +SKIP
    'Germany is a country in Western Europe with capital Berlin.'
    """
    description = kg.entity_description(entity)
    if description:
        return description.strip()
    facts = entity_facts(kg, entity, verbaliser or Verbaliser(kg))[:MAX_FACTS]
    return " ".join(facts) or None


def infill_completion(kg: KnowledgeGraph, entity: EntityId, verbaliser: Verbaliser | None = None) -> str:
    """The target of an infilling example: the entity's knowledge, then the end marker."""
    return f"{entity_knowledge(kg, entity, verbaliser)} {DESCRIPTION_END}"


def context_sentence(kg: KnowledgeGraph, entity: EntityId, rng: random.Random, verbaliser: Verbaliser) -> str:
    """One of the entity's facts as a sentence, with the entity's mention between the markers.

    >>> context_sentence(kg, germany, random.Random(0), Verbaliser(kg))  # doctest: +SKIP
    'The capital of <ent> Germany </ent> is Berlin.'
    """
    marked = f"{ENTITY_START} {kg.entity_label(entity)} {ENTITY_END}"
    steps = kg.steps_from(entity).tolist()
    if steps:
        step = rng.choice(steps)
        other = kg.entity_label(rng.choice(kg.neighbors(entity, step).tolist()))
        subject, obj = (other, marked) if kg.is_inverse(step) else (marked, other)
        return verbaliser.statement(subject, kg.base_relation(step), obj)
    attributes = kg.entity_attributes(entity)
    if attributes:
        predicate, value = rng.choice(attributes)
        return statement(classify(predicate), marked, value)
    return marked


def build_infill_questions(
    kg: KnowledgeGraph,
    entities: Iterable[EntityId],
    count: int,
    *,
    seed: int = 0,
    verbaliser: Verbaliser | None = None,
) -> list[Question]:
    """Up to ``count`` infilling examples (``kind="infill"``, split ``train``), one per entity, chosen seeded.

    Entities with neither a description nor any fact are passed over.

    >>> build_infill_questions(kg, range(kg.num_entities), 2)[0].question  # doctest: +SKIP
    'The capital of <ent> Germany </ent> is Berlin.'
    """
    verbaliser = verbaliser or Verbaliser(kg)
    order = sorted(set(entities))
    random.Random(seed).shuffle(order)
    kg.prefetch(order[:count], 0)  # the entities most likely taken (few have no knowledge), asked for at once
    questions: list[Question] = []
    for entity in order:
        if len(questions) >= count:
            break
        if entity_knowledge(kg, entity, verbaliser) is None:
            continue
        rng = random.Random(f"{seed}|infill|{kg.entity_iri(entity)}")
        text = context_sentence(kg, entity, rng, verbaliser)
        questions.append(Question(question_id(kg, "infill", entity), text, entity, (), (), "train", kind="infill"))
    return questions
