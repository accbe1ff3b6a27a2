"""Measures that can see knowledge injection: does the model itself now know the graph's entities?

Each is asked of every compared system on the same items, built from the evaluated
adapter's training data, so the base model, the adapter and the same adapter trained
without infilling (``--infill-ratio 0``) answer exactly the same things.

- **Closed-book facts.** For entities seen in training (those with infilling rows; else
  the topics of training questions), one-hop questions answered by the model alone: no
  graph, greedy free generation of at most :data:`ANSWER_TOKENS` tokens, its first line
  matched against the gold entities' labels and aliases as whole words. Each is asked two
  ways: as infilling asks, the entity between the markers under the infilling system prompt
  ("What is <ent> Makem Ivask </ent> a member of?": ``closed_book_*``), and plainly, under
  a plain system prompt ("What is Makem Ivask a member of?": ``closed_book_plain_*``). A
  path-trained adapter answers a plain question with a path (its last entity is taken as
  the answer), so the plain form measures the fact and the habit together. The wording is
  one the entity's infilling rows did not use where the verbaliser has another, so a
  recited row is not a known fact. Facts are split into those whose every answer is
  mentioned in the entity's infilling rows (``*_infilled``) and those none of whose answers
  is (``*_other``): does knowledge go past the text shown?
- **Entity disambiguation.** A name several entities share, in a context sentence stating
  a fact that none of the candidates' descriptions mentions; the model reads it as an
  infilling prompt and scores each candidate's description (mean log-probability per
  token); accuracy against chance (the mean of 1 / candidates), with its standard error
  (Agresti-Coull: two right and two wrong answers added, so that 16 of 16 right does not
  read as certain).
- **Hallucination.** The closed-book questions decoded freely by the path reasoner (no
  constraint to the graph): hallucinated hops per question, and the share whose most
  probable path ends at a right answer (``free_path_correct``: closed-book in the adapter's
  own path format); and the share of closed-book answers that name no entity of the graph.
- **General ability.** Perplexity of general English text on a slice the retention KL
  does not read (:func:`kgpeft.evaluation.probes.general_perplexity`).
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kgpeft.data.infill import (
    COMMON_SHARE,
    DESCRIPTION_END,
    ENTITY_END,
    ENTITY_START,
    fact_sentence,
    infill_completion,
)
from kgpeft.data.render import end_of_turn_id, prompt_ids, render_prompt, tokenize_example
from kgpeft.data.verbalise import Verbaliser
from kgpeft.evaluation.probes import completion_log_probs, general_perplexity, general_text
from kgpeft.kg.labels import RDF_TYPE
from kgpeft.types import EntityId

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from kgpeft.data import Question
    from kgpeft.inference import KGReasoner
    from kgpeft.kg import KnowledgeGraph

ANSWER_TOKENS = 32  # a one-hop path naming two entities fits: a path-format answer ends at its answer
WORDING_TRIES = 8  # seeded draws for a question wording the infilling rows did not use
MAX_ANSWERS = 3  # a fact asked closed-book has at most this many answers: one short line names them
CONTEXTS_PER_ENTITY = 3  # disambiguation items per entity, each from a different fact
CLOSED_BOOK_PROMPT = "Answer the question from what you know, with the name of the entity only."
_MARKERS = re.compile(r"</?path>|</?ent(?:_desc)?>")


@dataclass(frozen=True)
class ClosedBookItem:
    """A one-hop question about a trained entity, its gold answers, and whether infilling rows stated them."""

    entity: EntityId
    question: str
    answers: tuple[EntityId, ...]
    infilled: bool
    marked: str
    """The same question with the entity's mention between the infilling markers."""


@dataclass(frozen=True)
class DisambiguationItem:
    """A shared name in context (an infilling prompt), the candidates' descriptions, and the right one."""

    entity: EntityId
    messages: list[dict[str, str]]
    candidates: tuple[str, ...]
    gold: int


@dataclass
class KnowledgeProbes:
    """The items every system answers; ``trained`` says where the entities came from."""

    closed_book: list[ClosedBookItem] = field(default_factory=list)
    disambiguation: list[DisambiguationItem] = field(default_factory=list)
    trained: str = "infilling rows"


def build_knowledge_probes(
    kg: KnowledgeGraph, train: Sequence[Question], *, count: int = 64, seed: int = 0
) -> KnowledgeProbes:
    """Up to ``count`` closed-book items (half shown in infilling rows, half not) and ``count`` disambiguation items.

    ``train`` is the adapter's training split (path questions and infilling rows).

    >>> probes = build_knowledge_probes(kg, dataset.split("train"), count=8)  # doctest: +SKIP
    >>> probes.closed_book[0].question  # doctest: +SKIP
    'What is Makem Ivask a member of?'
    """
    verbaliser = Verbaliser(kg)
    shown: dict[EntityId, list[str]] = defaultdict(list)
    for q in train:
        if q.kind == "infill" and q.topic is not None:
            shown[q.topic] += [q.question, infill_completion(kg, q.topic, q.answers, verbaliser)]
    trained = "infilling rows"
    if not shown:
        trained = "training questions' topics"
        shown = {q.topic: [] for q in train if q.topic is not None}
    entities = sorted(shown)
    rng = random.Random(seed)
    rng.shuffle(entities)
    infilled: list[ClosedBookItem] = []
    other: list[ClosedBookItem] = []
    for entity in entities:
        if len(infilled) >= count and len(other) >= count:
            break  # enough of both: a graph's thousands of training topics are not all visited
        for step, answers in _facts(kg, entity):
            mentioned = [any(_mentions(text, name) for text in shown[entity]) for name in map(kg.entity_label, answers)]
            if any(mentioned) and not all(mentioned):
                continue  # neither shown nor unshown: left out of both
            question, marked = _wording(kg, verbaliser, entity, step, set(shown[entity]), seed)
            (infilled if all(mentioned) else other).append(
                ClosedBookItem(entity, question, answers, all(mentioned), marked)
            )
    half = count // 2
    closed_book = infilled[: max(half, count - len(other))] + other[: max(count - half, count - len(infilled))]
    return KnowledgeProbes(closed_book[:count], _disambiguation(kg, set(shown), verbaliser, count, seed), trained)


def _wording(
    kg: KnowledgeGraph, verbaliser: Verbaliser, entity: EntityId, step: int, used: set[str], seed: int
) -> tuple[str, str]:
    """The question for ``entity``'s ``step``, plain and with the entity marked, in a wording not in ``used``.

    The first of :data:`WORDING_TRIES` seeded draws whose marked form the infilling rows did
    not ask; the last draw when every one did (the rows used every wording the verbaliser has).
    """
    label = kg.entity_label(entity)
    for attempt in range(WORDING_TRIES):
        key = f"{seed}|cb|{entity}|{step}" + (f"|{attempt}" if attempt else "")
        marked = verbaliser.question(f"{ENTITY_START} {label} {ENTITY_END}", (step,), random.Random(key))
        if marked not in used:
            break
    return verbaliser.question(label, (step,), random.Random(key)), marked


def _facts(kg: KnowledgeGraph, entity: EntityId) -> list[tuple[int, tuple[EntityId, ...]]]:
    """(step, answers) of the entity's facts worth asking: few answers, none shared by much of the graph.

    rdf:type is never asked: a class ("guild") is guessed from the name ("Skuth Guild") alone.
    """
    facts = []
    for step in kg.steps_from(entity).tolist():
        if kg.relation_iri(kg.base_relation(step)) == RDF_TYPE:
            continue
        answers = tuple(e for e in kg.neighbors(entity, step).tolist() if e != entity)
        common = any(len(kg.neighbors(e, kg.inverse_step(step))) > COMMON_SHARE * kg.num_entities for e in answers)
        if 0 < len(answers) <= MAX_ANSWERS and not common:
            facts.append((step, answers))
    return facts


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, flags=re.IGNORECASE) is not None


def _disambiguation(
    kg: KnowledgeGraph, trained: set[EntityId], verbaliser: Verbaliser, count: int, seed: int
) -> list[DisambiguationItem]:
    """Items for trained entities whose name (label or alias) other described entities carry too."""
    items = []
    entities = sorted(trained)
    random.Random(seed).shuffle(entities)
    for entity in entities:
        if len(items) >= count:
            break
        for name in [kg.entity_label(entity), *kg.entity_aliases(entity)]:
            group = [e for e in kg.entities_by_name(name) if kg.entity_description(e)]
            if len(group) < 2 or entity not in group:
                continue
            descriptions = [kg.entity_description(e) or "" for e in group]
            marked = f"{ENTITY_START} {name} {ENTITY_END}"
            # A fact no candidate's description states: only knowledge of the entity links it to its description.
            contexts = [
                fact_sentence(kg, verbaliser, step, marked, kg.entity_label(other))
                for step, answers in _facts(kg, entity)
                for other in answers
                if not any(_mentions(d, kg.entity_label(other)) for d in descriptions)
            ]
            random.Random(f"{seed}|dis|{entity}").shuffle(contexts)
            candidates = tuple(f"{d} {DESCRIPTION_END}" for d in descriptions)
            items += [
                DisambiguationItem(entity, render_prompt(context, kind="infill"), candidates, group.index(entity))
                for context in contexts[:CONTEXTS_PER_ENTITY]
            ]
            break  # the entity's first shared name
    return items[:count]


def knowledge_metrics(
    reasoner: KGReasoner, probes: KnowledgeProbes, *, max_hops: int = 3, retention_tokens: int = 512
) -> dict[str, float | None]:
    """Every measure of this module for the model as it is now (its adapters as the caller activated them).

    >>> knowledge_metrics(reasoner, probes)  # doctest: +SKIP
    {'closed_book_infilled': 0.41, 'closed_book_other': 0.03, 'disambiguation': 0.7, ...}
    """
    model, tokenizer, kg = reasoner.model, reasoner.tokenizer, reasoner.kg
    metrics: dict[str, float | None] = {}
    items = probes.closed_book
    for form, marked in (("closed_book", True), ("closed_book_plain", False)):
        texts = closed_book_answers(
            model, tokenizer, [i.marked if marked else i.question for i in items], marked=marked
        )
        right = [answer_matches(kg, text, item.answers) for text, item in zip(texts, items, strict=True)]
        for part, wanted in (("infilled", True), ("other", False)):
            scores = [r for r, item in zip(right, items, strict=True) if item.infilled == wanted]
            metrics[f"{form}_{part}"] = float(np.mean(scores)) if scores else None
        if marked:
            metrics["free_non_entity"] = float(np.mean([not names_entity(kg, t) for t in texts])) if texts else None
    if items:
        answers = reasoner.ask_batch(
            [i.question for i in items], [i.entity for i in items], max_hops=max_hops, constrained=False
        )
        metrics["free_hallucinated_hops"] = float(np.mean([sum(p.hallucinated_hops for p in a.paths) for a in answers]))
        # The same facts asked in the adapter's own format: does the most probable free path end at a right answer?
        tails = [max((p for p in a.paths if p.hops), key=lambda p: p.probability, default=None) for a in answers]
        metrics["free_path_correct"] = float(
            np.mean(
                [
                    t is not None and answer_matches(kg, t.hops[-1].tail, i.answers)
                    for t, i in zip(tails, items, strict=True)
                ]
            )
        )
    accuracy, chance = disambiguation_accuracy(model, tokenizer, probes.disambiguation)
    metrics["disambiguation"] = accuracy
    metrics["disambiguation_chance"] = chance
    n = len(probes.disambiguation)
    if accuracy is not None:
        adjusted = (accuracy * n + 2) / (n + 4)
        metrics["disambiguation_se"] = math.sqrt(adjusted * (1 - adjusted) / (n + 4))
    else:
        metrics["disambiguation_se"] = None
    if retention_tokens:
        metrics["general_ppl"] = general_perplexity(model, tokenizer, general_text(), max_tokens=retention_tokens)
    return metrics


def closed_book_answers(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    questions: Sequence[str],
    *,
    marked: bool = False,
    batch_size: int = 16,
) -> list[str]:
    """The first line of each greedy free answer, markers stripped; a path's last entity stands for it.

    ``marked`` questions (the entity between the infilling markers) are asked under the
    infilling system prompt, others under :data:`CLOSED_BOOK_PROMPT`.
    """
    from kgpeft.inference.decode import beam_search

    prompts = [
        prompt_ids(tokenizer, render_prompt(q, "infill") if marked else
                   [{"role": "system", "content": CLOSED_BOOK_PROMPT}, {"role": "user", "content": q}])
        for q in questions
    ]  # fmt: skip
    out: list[str] = []
    for start in range(0, len(prompts), batch_size):
        # One beam: greedy, free decoding (no automata), the same generation settings as the reasoner's
        beams = beam_search(
            model,
            tokenizer,
            prompts[start : start + batch_size],
            num_beams=1,
            max_new_tokens=ANSWER_TOKENS,
            end_id=end_of_turn_id(tokenizer),
        )
        out += [_answer_line(found[0].text if found else "") for found in beams]
    return out


def _answer_line(text: str) -> str:
    line = _MARKERS.sub(" ", text.strip().split("\n")[0])
    line = re.split(r"->|<-", line)[-1]  # a path: its last entity
    return " ".join(line.split()).strip(" .,;:\"'")


def answer_matches(kg: KnowledgeGraph, text: str, answers: Sequence[EntityId]) -> bool:
    """``text`` names one of ``answers`` (label, label without its ``(qualifier)``, or alias) as whole words."""
    return any(_mentions(text, name) for e in answers for name in _names(kg, e))


def _names(kg: KnowledgeGraph, entity: EntityId) -> list[str]:
    label = kg.entity_label(entity)
    return [label, re.sub(r"\s*\([^)]*\)$", "", label), *kg.entity_aliases(entity)]


def names_entity(kg: KnowledgeGraph, text: str) -> bool:
    """``text`` is exactly an entity's label or alias (ignoring case)."""
    return bool(text) and (kg.entity_by_label(text) is not None or bool(kg.entities_by_name(text)))


def disambiguation_accuracy(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, items: Sequence[DisambiguationItem]
) -> tuple[float | None, float | None]:
    """(share of items whose right description scores best per token, chance); (None, None) without items."""
    if not items:
        return None, None
    examples = [(item.messages, text) for item in items for text in item.candidates]
    totals = completion_log_probs(model, tokenizer, examples)
    lengths = [sum(tokenize_example(tokenizer, m, c)["completion_mask"]) for m, c in examples]
    right, at = [], 0
    for item in items:
        scores = [totals[at + i] / max(lengths[at + i], 1) for i in range(len(item.candidates))]
        right.append(int(np.argmax(scores)) == item.gold)
        at += len(item.candidates)
    return float(np.mean(right)), float(np.mean([1 / len(item.candidates) for item in items]))
