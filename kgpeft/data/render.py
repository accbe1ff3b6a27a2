"""Prompts, completions and their token ids: the one text format every stage shares.

A completion is one or more reasoning paths between plain-text markers (plain text, not
new special tokens, so adapters stay portable)::

    <path> Germany -> located in -> Western Europe -> located in -> Europe </path>

There is no answer line: answers come from executing a path's relation sequence in the
graph, so the model never needs to write them, and an answer line (a tenth of a training
row on average, up to 77 tokens where a question has many answers) would only cost
training time.

A step followed backwards is written with the arrows reversed, pointing the way the
stored triple points: ``Western Europe <- located in <- France``. A parsed path is
the list of its labels, entities and relations alternating, with ``^`` before a
relation followed backwards (SPARQL's inverse path notation)::

    ["Western Europe", "^located in", "France"]

``render_*`` and :func:`parse_completion` round-trip for labels that contain no
marker, arrow (``->``, ``<-``) or line break.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kgpeft.data.infill import INFILL_SYSTEM_PROMPT, infill_completion
from kgpeft.errors import ModelLoadError
from kgpeft.types import EntityId, RelationPath

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from kgpeft.data.questions import Question
    from kgpeft.kg import KnowledgeGraph

PATH_START = "<path>"
PATH_END = "</path>"
INVERSE_PREFIX = "^"
FORWARD_ARROW = "->"
BACKWARD_ARROW = "<-"

# Short on purpose: every training row carries it, and training cost grows with row length
# (SmolLM2: 3 tokens; a prompt spelling out the format took 27, a third of a row). It is
# not empty because it tells path questions from infilling ones, whose prompt differs.
# The format is learnt from the completions, and constrained decoding writes it regardless.
PATH_SYSTEM_PROMPT = "KG paths."
_SYSTEM_PROMPTS = {"path": PATH_SYSTEM_PROMPT, "infill": INFILL_SYSTEM_PROMPT}

_PATH_RE = re.compile(re.escape(PATH_START) + r"(.*?)" + re.escape(PATH_END))
_ARROW_RE = re.compile(rf"\s+({FORWARD_ARROW}|{BACKWARD_ARROW})\s+")


def render_prompt(question_text: str, kind: str = "path") -> list[dict[str, str]]:
    """Chat messages (system + user) asking for paths (``kind="path"``) or an entity description (``"infill"``).

    >>> render_prompt("Germany is located in what?")[1]
    {'role': 'user', 'content': 'Germany is located in what?'}
    """
    return [{"role": "system", "content": _SYSTEM_PROMPTS[kind]}, {"role": "user", "content": question_text}]


def ground_path(
    kg: KnowledgeGraph, topic: EntityId, path: RelationPath, targets: Iterable[EntityId] = ()
) -> list[EntityId]:
    """The entities a relation path visits from ``topic``: one deterministic chain among those that exist.

    Each hop takes the smallest entity id that still leads to the end (preferring one not
    visited yet), so the teacher, the trainer and inference all render a relation path the
    same way. The chain ends in ``targets`` when one of them is reachable, else at any endpoint.

    >>> ground_path(kg, germany, (located_in, located_in))  # doctest: +SKIP
    [germany, western_europe, europe]
    """
    reached = [np.array([topic], dtype=np.int64)]
    for step in path:
        reached.append(kg.follow(reached[-1], step))
    if not len(reached[-1]):
        raise ValueError(f"relation path {path} leads nowhere from entity {topic}")
    ends = np.intersect1d(reached[-1], np.fromiter(targets, dtype=np.int64))
    # Walk backwards: which entities at each hop can still reach an accepted end.
    alive = [ends if len(ends) else reached[-1]]
    for hop in range(len(path) - 1, -1, -1):
        if len(reached[hop]) < len(alive[-1]):
            # From the smaller side: the entities of this hop with a step into the alive ones. The same
            # set; a store has the lists of the entities near the topic, not yet those of many answers.
            linked = [e for e in reached[hop].tolist() if _meets(kg.neighbors(e, path[hop]), alive[-1])]
            alive.append(np.array(linked, dtype=np.int64))
        else:
            alive.append(np.intersect1d(reached[hop], kg.follow(alive[-1], kg.inverse_step(path[hop]))))
    alive.reverse()
    chain = [topic]
    for hop, step in enumerate(path):
        options = np.intersect1d(kg.neighbors(chain[-1], step), alive[hop + 1]).tolist()
        # Prefer not to revisit an entity: "France -> neighbor of -> Germany -> neighbor of -> France" reads as a detour.
        chain.append(next((e for e in options if e not in chain), options[0]))
    return chain


def path_answers(kg: KnowledgeGraph, topic: EntityId, path: RelationPath) -> np.ndarray:
    """The answers a relation path gives from ``topic``: its endpoint set, not passing back through the topic.

    A question about an entity asks for other entities: a path that comes back to its topic
    ("who starred with X": X starred in those films too) does not answer with it, and a path
    that goes on from it ("the directors of films that share actors with film X") answers with
    what the other entities lead to, not with what X leads to again (X's own director). The
    topic is left out of every frontier after the start; when that leaves nothing, the plain
    endpoint set less the topic, or the topic when it is the only endpoint, is all the path says.

    >>> path_answers(kg, tom_hanks, (starred_in_inverse, starred_in))  # doctest: +SKIP
    array([...])  # the co-stars, Tom Hanks left out
    """
    frontier = np.array([topic], dtype=np.int64)
    for step in path:
        frontier = kg.follow(frontier, step)
        frontier = frontier[frontier != topic]
        if not len(frontier):
            break
    if len(frontier):
        return frontier
    ends = kg.execute(topic, path)
    return ends if len(ends) == 1 else ends[ends != topic]


def _meets(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether the sorted arrays ``a`` and ``b`` share an element."""
    i = np.searchsorted(b, a)
    return bool(np.any(b[np.minimum(i, len(b) - 1)] == a)) if len(b) else False


def path_labels(kg: KnowledgeGraph, topic: EntityId, path: RelationPath, targets: Iterable[EntityId] = ()) -> list[str]:
    """The parsed form of a relation path grounded from ``topic`` (see :func:`ground_path`).

    >>> path_labels(kg, germany, (located_in,))  # doctest: +SKIP
    ['Germany', 'located in', 'Western Europe']
    """
    chain = ground_path(kg, topic, path, targets)
    labels = [kg.entity_label(chain[0])]
    for step, entity in zip(path, chain[1:], strict=True):
        relation = kg.relation_label(kg.base_relation(step))
        labels += [INVERSE_PREFIX + relation if kg.is_inverse(step) else relation, kg.entity_label(entity)]
    return labels


def format_path(labels: Sequence[str]) -> str:
    """Path text from its parsed form; the inverse of the path part of :func:`parse_completion`.

    >>> format_path(["Western Europe", "^located in", "France"])
    'Western Europe <- located in <- France'
    """
    parts = [labels[0]]
    for relation, entity in zip(labels[1::2], labels[2::2], strict=True):
        backward = relation.startswith(INVERSE_PREFIX)
        arrow = BACKWARD_ARROW if backward else FORWARD_ARROW
        parts.append(f"{arrow} {relation.removeprefix(INVERSE_PREFIX) if backward else relation} {arrow} {entity}")
    return " ".join(parts)


def path_to_text(kg: KnowledgeGraph, topic: EntityId, path: RelationPath, targets: Iterable[EntityId] = ()) -> str:
    """Path text of a relation path from ``topic``, e.g. ``Germany -> located in -> Western Europe``."""
    return format_path(path_labels(kg, topic, path, targets))


def format_completion(paths: Sequence[Sequence[str]]) -> str:
    """A completion from parsed paths, one per line; :func:`parse_completion` reads it back.

    >>> print(format_completion([["Germany", "located in", "Western Europe"]]))
    <path> Germany -> located in -> Western Europe </path>
    """
    return "\n".join(f"{PATH_START} {format_path(labels)} {PATH_END}" for labels in paths)


def render_completion(
    kg: KnowledgeGraph, topic: EntityId, paths: Sequence[RelationPath], answers: Sequence[EntityId]
) -> str:
    """The target completion of a question: each relation path grounded towards the answers.

    >>> render_completion(kg, germany, [(located_in,)], [western_europe])  # doctest: +SKIP
    '<path> Germany -> located in -> Western Europe </path>'
    """
    return format_completion([path_labels(kg, topic, path, answers) for path in paths])


def render_example(kg: KnowledgeGraph, question: Question) -> tuple[list[dict[str, str]], str]:
    """Prompt messages and target completion of a question of either kind (an answered path question or infill).

    >>> messages, completion = render_example(kg, question)  # doctest: +SKIP
    >>> tokenize_example(tokenizer, messages, completion)  # doctest: +SKIP
    """
    messages = render_prompt(question.question, kind=question.kind)
    if question.kind == "infill":
        return messages, infill_completion(kg, question.topic, question.answers)
    if question.topic is None or not question.gold_paths:
        raise ValueError(f"question {question.id!r} has no topic or gold paths to render a completion from")
    return messages, render_completion(kg, question.topic, question.gold_paths, question.answers)


def parse_completion(text: str) -> list[list[str]]:
    """The well-formed paths a (generated) completion states, as labels; text outside the markers is ignored.

    >>> parse_completion("<path> A -> r -> B </path> junk <path> A -> r </path>")
    [['A', 'r', 'B']]
    """
    return [labels for match in _PATH_RE.finditer(text) if (labels := _parse_path(match.group(1)))]


def _parse_path(body: str) -> list[str] | None:
    """``A -> r -> B <- s <- C`` as ``[A, r, B, ^s, C]``; None when the arrows do not pair up."""
    parts = [p.strip() for p in _ARROW_RE.split(body.strip())]
    if len(parts) < 5 or (len(parts) - 1) % 4:
        return None
    labels = [parts[0]]
    for i in range(1, len(parts), 4):
        arrow, relation, closing, entity = parts[i : i + 4]
        if arrow != closing:
            return None
        labels += [INVERSE_PREFIX + relation if arrow == BACKWARD_ARROW else relation, entity]
    return labels if all(labels) else None


# ---- token ids -------------------------------------------------------------------------------

_SENTINEL = "KGPEFT_SENTINEL_7f3a"
_END_IDS: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def end_of_turn_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The token that closes an assistant turn: the chat template's end-of-turn token, else EOS.

    Found by rendering a turn around a sentinel and reading the special token after it, so
    it works for ChatML (``<|im_end|>``), Llama 3 (``<|eot_id|>``), Gemma and others alike.
    """
    if tokenizer in _END_IDS:
        return _END_IDS[tokenizer]
    end_id = None
    if tokenizer.chat_template:
        turns = [{"role": "user", "content": "x"}, {"role": "assistant", "content": _SENTINEL}]
        rendered = tokenizer.apply_chat_template(turns, tokenize=False)
        tail = rendered.split(_SENTINEL, 1)[-1].strip()
        tail_ids = tokenizer(tail, add_special_tokens=False)["input_ids"] if tail else []
        if tail_ids and tail_ids[0] in tokenizer.all_special_ids:
            end_id = tail_ids[0]
    if end_id is None:
        end_id = tokenizer.eos_token_id
    if end_id is None:
        raise ModelLoadError("the tokenizer has no end-of-turn or EOS token; set tokenizer.eos_token")
    _END_IDS[tokenizer] = end_id
    return end_id


def _prompt_text(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> str:
    """The prompt as the chat template writes it, or ``system\\n\\nuser\\n`` for a tokenizer without one."""
    if not tokenizer.chat_template:
        return "\n\n".join(m["content"] for m in messages) + "\n"
    try:
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    except Exception as err:  # jinja2's TemplateError: templates such as Gemma's refuse a system turn
        if messages[0]["role"] != "system" or "system" not in str(err).lower():
            raise
        system, user, *rest = messages
        merged = [{"role": user["role"], "content": f"{system['content']}\n\n{user['content']}"}, *rest]
        return tokenizer.apply_chat_template(merged, add_generation_prompt=True, tokenize=False)


def tokenize_example(
    tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], completion: str
) -> dict[str, list[int]]:
    """Token ids of prompt + completion and a mask that is 1 exactly on the completion's tokens.

    The completion tokens are the tokenisation of ``completion`` alone followed by the
    end-of-turn token, so decoding the masked ids gives back ``completion`` and that
    token. An empty completion gives the prompt alone, ready for generation.

    >>> out = tokenize_example(tok, render_prompt("Germany is located in what?"), "Answer: Western Europe")  # doctest: +SKIP
    >>> tok.decode([i for i, m in zip(out["input_ids"], out["completion_mask"]) if m])  # doctest: +SKIP
    'Answer: Western Europe<|im_end|>'
    """
    # A chat template writes the BOS token itself; the plain format relies on the tokenizer adding it.
    has_template = bool(tokenizer.chat_template)
    prompt_ids = tokenizer(_prompt_text(tokenizer, messages), add_special_tokens=not has_template)["input_ids"]
    completion_tokens = completion_token_ids(tokenizer, [completion])[0] if completion else []
    return {
        "input_ids": prompt_ids + completion_tokens,
        "completion_mask": [0] * len(prompt_ids) + [1] * len(completion_tokens),
        "neighbour_mask": [0] * len(prompt_ids) + (neighbour_token_mask(tokenizer, completion) if completion else []),
    }


def neighbour_spans(completion: str) -> list[tuple[int, int]]:
    """Character spans of the entities the hops of a completion's paths reach (each path's start left out).

    Those names only say which neighbour a hop reached: the path's answers come from its
    relation sequence, so they are not a choice constrained decoding scores.

    >>> text = "<path> Germany -> located in -> Western Europe </path>"
    >>> [text[a:b] for a, b in neighbour_spans(text)]
    ['Western Europe']
    """
    spans = []
    for match in _PATH_RE.finditer(completion):
        body, offset = match.group(1), match.start(1)
        # Pieces between arrows: start entity, then relation and entity in turn, an arrow on each side of a relation
        bounds = [0, *(i for arrow in _ARROW_RE.finditer(body) for i in arrow.span()), len(body)]
        pieces = list(zip(bounds[::2], bounds[1::2], strict=True))
        for start, end in pieces[2::2]:
            text = body[start:end]
            lead = len(text) - len(text.lstrip())
            spans.append((offset + start + lead, offset + start + len(text.rstrip())))
    return spans


def neighbour_token_mask(tokenizer: PreTrainedTokenizerBase, completion: str) -> list[int]:
    """1 on each completion token (see :func:`completion_token_ids`) inside a name :func:`neighbour_spans` finds.

    A token counts when its characters lie within the name (its leading space aside). A
    tokenizer without offsets (a slow one) marks nothing: every token then trains at full weight.
    """
    if not getattr(tokenizer, "is_fast", False):
        return [0] * len(completion_token_ids(tokenizer, [completion])[0])
    offsets = tokenizer(completion, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    spans = neighbour_spans(completion)
    mask = [int(any(a - 1 <= start and end <= b and end > a for a, b in spans)) for start, end in offsets]
    return [*mask, 0]  # the end of turn


def completion_ids(row: Mapping[str, Sequence[int]]) -> list[int]:
    """The completion's token ids of a tokenised row: ``input_ids`` where ``completion_mask`` is 1.

    >>> completion_ids({"input_ids": [7, 8, 9], "completion_mask": [0, 1, 1]})
    [8, 9]
    """
    return [t for t, m in zip(row["input_ids"], row["completion_mask"], strict=True) if m]


def completion_token_ids(tokenizer: PreTrainedTokenizerBase, completions: Sequence[str]) -> list[list[int]]:
    """The completion tokens :func:`tokenize_example` gives each completion (its text, then end of turn), in one call.

    A completion is tokenised apart from its prompt, so its ids do not depend on the prompt:
    soft targets tokenise the teacher's candidates this way without rendering any prompt.
    """
    end_id = end_of_turn_id(tokenizer)
    return [[*ids, end_id] for ids in tokenizer(list(completions), add_special_tokens=False)["input_ids"]]


def prompt_ids(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> list[int]:
    """The prompt's token ids alone, for generation."""
    return tokenize_example(tokenizer, messages, "")["input_ids"]
