"""Knowledge-infilling examples (KILM, Xu et al. 2023), for a decoder-only model.

KILM teaches a model what it should know about an entity when it meets the entity in
text: the entity's mention is wrapped in plain-text markers and the model generates
what it knows about it. Each infilled entity gets three kinds of rows, all ``kind="infill"``:

- **description**: the context is a sentence stating one of the entity's facts, the target
  its description, built from its text field (rdfs:comment, ...) and its *shown facts* in
  words (those the text does not already mention)::

    prompt:      The capital of <ent> Germany </ent> is Berlin.
    completion:  Germany is a country in Western Europe with capital Berlin. Germany is a neighbor of France. </ent_desc>

- **masked mention**: one shown fact as a sentence around the entity, the other entity's
  mention masked; the target is that mention (the row's ``answers``)::

    prompt:      <ent> Germany </ent> is a neighbor of ____.
    completion:  France </ent_desc>

- **question**: the same fact asked about the marked entity, in :data:`QUESTION_WORDINGS` wordings, with the same target::

    prompt:      What is <ent> Germany </ent> a neighbor of?
    completion:  France </ent_desc>

  A fact a model has only read in sentences it can complete in those sentences but seldom
  give when asked (on kg/isles.ttl after six passes over description and masked rows, 2026-12-03:
  43% of masked rows completed, 3% of the same facts answered closed-book); asked in
  questions too, the knowledge becomes something a question retrieves.

The shown facts are the entity's :data:`SHOWN_FACTS` most specific ones (the neighbour
fewest entities share along that step: a capital before a continent, never "type"), so
rows teach what tells an entity apart; its other facts are left to path training and
are what :mod:`kgpeft.evaluation.knowledge` asks about to see whether knowledge generalises
past the text a model was shown.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
MASK = "____"
# Facts an infilled entity's rows state: enough to tell it apart, few enough that a row set per
# entity stays short (1 description + this many masked rows) and some facts stay unshown.
SHOWN_FACTS = 3
COMMON_SHARE = 0.1
MAX_MASKED_ANSWERS = 3  # a masked row lists every entity the step reaches: a short list, or no row
QUESTION_WORDINGS = 2  # question rows per shown fact, each worded differently where the verbaliser can
QUESTION_ROW = "infill-q"  # the id prefix of question rows (masked and description rows' ids start "infill-<hex>")


@dataclass(frozen=True)
class Fact:
    """One edge of an entity: the step taken from it, the entity reached, and the edge as a sentence."""

    step: int
    other: EntityId
    sentence: str
    marked: str
    """The sentence with the entity's mention between the markers."""
    masked: str
    """:attr:`marked` with ``other``'s mention replaced by :data:`MASK`."""


def fact_sentence(kg: KnowledgeGraph, verbaliser: Verbaliser, step: int, this: str, other: str) -> str:
    """The edge ``this --step--> other`` as a sentence (an inverse step reads with ``other`` as the subject)."""
    subject, obj = (other, this) if kg.is_inverse(step) else (this, other)
    return verbaliser.statement(subject, kg.base_relation(step), obj)


def shown_facts(kg: KnowledgeGraph, entity: EntityId, verbaliser: Verbaliser) -> list[Fact]:
    """The entity's :data:`SHOWN_FACTS` most specific edges (both directions), in a fixed order.

    An edge is specific when the step leads from the entity to few neighbours and few
    entities share the neighbour along it (a capital before a continent); an edge whose
    neighbour more than :data:`COMMON_SHARE` of the graph shares ("type country") tells
    nothing apart and is shown only when the entity has nothing else. Ties go by step and
    neighbour id, so the choice depends on the graph alone.

    >>> [f.sentence for f in shown_facts(kg, germany, Verbaliser(kg))]  # doctest: +SKIP
    ['The capital of Germany is Berlin.', 'Germany is a neighbor of France.', ...]
    """
    scored = []
    for step in kg.steps_from(entity).tolist():
        others = kg.neighbors(entity, step).tolist()
        for other in others:
            if other != entity:
                shared = len(kg.neighbors(other, kg.inverse_step(step)))
                scored.append((len(others) * shared, shared > COMMON_SHARE * kg.num_entities, step, other))
    specific = [edge for edge in scored if not edge[1]] or scored
    label, marked = kg.entity_label(entity), f"{ENTITY_START} {kg.entity_label(entity)} {ENTITY_END}"
    return [
        Fact(
            step,
            other,
            fact_sentence(kg, verbaliser, step, label, kg.entity_label(other)),
            fact_sentence(kg, verbaliser, step, marked, kg.entity_label(other)),
            fact_sentence(kg, verbaliser, step, marked, MASK),
        )
        for _, _, step, other in sorted(specific)[:SHOWN_FACTS]
    ]


def entity_knowledge(kg: KnowledgeGraph, entity: EntityId, verbaliser: Verbaliser | None = None) -> str | None:
    """What a model should know about ``entity``: its description, then its shown facts it does not mention.

    Literal attributes stand in for facts when the entity has no edges; None if there is nothing.

    >>> entity_knowledge(kg, germany)  # doctest: +SKIP
    'Germany is a country in Western Europe with capital Berlin. Germany is a neighbor of France.'
    """
    verbaliser = verbaliser or Verbaliser(kg)
    description = (kg.entity_description(entity) or "").strip()
    facts = [
        f.sentence for f in shown_facts(kg, entity, verbaliser) if not _mentions(description, kg.entity_label(f.other))
    ]
    if not facts and not description:
        label = kg.entity_label(entity)
        attributes = kg.entity_attributes(entity)[:SHOWN_FACTS]
        facts = [statement(classify(predicate), label, value) for predicate, value in attributes]
    return " ".join([description, *facts] if description else facts) or None


def _mentions(text: str, label: str) -> bool:
    """``label`` occurs in ``text`` as whole words."""
    return re.search(rf"(?<!\w){re.escape(label)}(?!\w)", text) is not None


def infill_completion(
    kg: KnowledgeGraph, entity: EntityId, masked: Sequence[EntityId] = (), verbaliser: Verbaliser | None = None
) -> str:
    """The target of an infilling row, then the end marker: the masked mention(s), else the entity's knowledge.

    >>> infill_completion(kg, germany, (france,))  # doctest: +SKIP
    'France </ent_desc>'
    """
    if masked:
        return ", ".join(kg.entity_label(e) for e in masked) + f" {DESCRIPTION_END}"
    return f"{entity_knowledge(kg, entity, verbaliser)} {DESCRIPTION_END}"


def context_sentence(kg: KnowledgeGraph, entity: EntityId, rng: random.Random, verbaliser: Verbaliser) -> str:
    """One of the entity's shown facts as a sentence, with the entity's mention between the markers.

    >>> context_sentence(kg, germany, random.Random(0), Verbaliser(kg))  # doctest: +SKIP
    'The capital of <ent> Germany </ent> is Berlin.'
    """
    marked = f"{ENTITY_START} {kg.entity_label(entity)} {ENTITY_END}"
    facts = shown_facts(kg, entity, verbaliser)
    if facts:
        return rng.choice(facts).marked
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
    """Up to ``count`` infilling rows (``kind="infill"``, split ``train``) for entities chosen seeded.

    Each entity gets a description row, then per shown fact a masked-mention row and
    :data:`QUESTION_WORDINGS` question rows (their ``answers`` hold the masked entity), so a
    fact is met in several sentences and asked in several wordings; entities with neither a
    description nor any fact are passed over.

    >>> build_infill_questions(kg, range(kg.num_entities), 2)[0].question  # doctest: +SKIP
    'The capital of <ent> Germany </ent> is Berlin.'
    """
    verbaliser = verbaliser or Verbaliser(kg)
    order = sorted(set(entities))
    random.Random(seed).shuffle(order)
    # The entities most likely taken (few have no knowledge), asked for at once, with their neighbours
    # (a shown fact's specificity counts the neighbour's edges)
    kg.prefetch(order[: count // (1 + SHOWN_FACTS) + 1], 1)
    questions: list[Question] = []
    for entity in order:
        if len(questions) >= count:
            break
        if entity_knowledge(kg, entity, verbaliser) is None:
            continue
        rng = random.Random(f"{seed}|infill|{kg.entity_iri(entity)}")
        text = context_sentence(kg, entity, rng, verbaliser)
        rows = [Question(question_id(kg, "infill", entity), text, entity, (), (), "train", kind="infill")]
        # Per step shown, one masked row and the question rows, answered by every entity along it:
        # the same prompt never has two different targets.
        marked = f"{ENTITY_START} {kg.entity_label(entity)} {ENTITY_END}"
        for fact in {fact.step: fact for fact in shown_facts(kg, entity, verbaliser)}.values():
            answers = tuple(sorted(kg.neighbors(entity, fact.step).tolist(), key=kg.entity_label))
            if len(answers) <= MAX_MASKED_ANSWERS:
                rows.append(
                    Question(_masked_id(kg, entity, fact), fact.masked, entity, answers, (), "train", kind="infill")
                )
                # Asked in more than one wording, so that what is learnt is the fact, not one sentence
                tries = (verbaliser.question(marked, (fact.step,), rng) for _ in range(4 * QUESTION_WORDINGS))
                wordings = list(dict.fromkeys(tries))[:QUESTION_WORDINGS]
                rows += [
                    Question(
                        _masked_id(kg, entity, fact, f"{QUESTION_ROW}{k}"),
                        asked,
                        entity,
                        answers,
                        (),
                        "train",
                        "infill",
                    )
                    for k, asked in enumerate(wordings)
                ]
        questions += rows[: count - len(questions)]
    return questions


def is_question_row(question: Question) -> bool:
    """Whether an infilling row is a question row (rather than a description or masked-mention row)."""
    return question.id.startswith(QUESTION_ROW)


def _masked_id(kg: KnowledgeGraph, entity: EntityId, fact: Fact, kind: str = "infill") -> str:
    """A stable id for a masked-mention (or question) row, one per entity and step: from their IRIs."""
    return question_id(kg, kind, entity, (fact.step,))
