"""Which tokens may come next in a path: per-entity token tries built lazily from the adjacency.

A constrained completion is ``<path> {topic}`` followed by hop fragments and the end
marker, each fragment starting with a space::

    <path> Germany| -> located in -> Western Europe| -> located in -> Europe| </path>

At an entity, the fragments that may follow are one per edge at it (``kg.steps_from``,
``kg.neighbors``), plus `` </path>``. They are tokenised separately and stored in a
token trie per entity, built the first time a beam reaches that entity and cached; no
index over all paths is ever materialised. With a byte-level BPE tokenizer a space
always starts a new pre-token, so the fragments' tokens concatenate to exactly the
tokens of the whole completion (checked by :func:`check_tokenizer`).

A decoding *state* is the set of trie positions consistent with the tokens so far
(usually one; two when a label is a token-prefix of another label), and advancing by
one token is one dictionary lookup per position.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from kgpeft.data.render import INVERSE_PREFIX, PATH_END, PATH_START, format_path
from kgpeft.errors import ModelLoadError
from kgpeft.types import EntityId

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from kgpeft.kg import KnowledgeGraph

END = -1
"""The target of the `` </path>`` fragment (and its relation): the path is complete."""
MIXED = -2
"""The relation of a node whose fragments take different steps (or end the path): a real choice remains."""


class TrieNode:
    """A node of a fragment trie: children by token id; ``target`` set where a fragment ends.

    ``target`` is the neighbour entity a hop fragment leads to, :data:`END` for the end
    marker, None inside a fragment. ``relation`` is the step every fragment through the node
    takes (:data:`END` for the end marker, :data:`MIXED` when they differ): where it is one
    step, the tokens left to choose only pick which neighbour the hop reaches.
    """

    __slots__ = ("children", "relation", "target")

    def __init__(self) -> None:
        self.children: dict[int, TrieNode] = {}
        self.target: int | None = None
        self.relation: int | None = None

    def insert(self, token_ids: list[int], target: int, relation: int) -> None:
        node = self
        node._mark(relation)
        for token in token_ids:
            node = node.children.setdefault(token, TrieNode())
            node._mark(relation)
        node.target = target

    def _mark(self, relation: int) -> None:
        self.relation = relation if self.relation in (None, relation) else MIXED


Cursor = tuple[TrieNode | None, int]
"""A position in the path: a trie node (None once the path is complete) and the hops completed."""
State = tuple[Cursor, ...]
"""The positions consistent with the tokens generated so far; empty when they left every valid path."""
DONE: Cursor = (None, 0)


def hop_fragment(kg: KnowledgeGraph, entity: EntityId, step: int, neighbour: EntityId) -> str:
    """The text one hop adds after ``entity``, exactly as :func:`~kgpeft.data.render.format_path` writes it.

    >>> hop_fragment(kg, germany, located_in, western_europe)  # doctest: +SKIP
    ' -> located in -> Western Europe'
    """
    relation = kg.relation_label(kg.base_relation(step))
    if kg.is_inverse(step):
        relation = INVERSE_PREFIX + relation
    head = kg.entity_label(entity)
    return format_path([head, relation, kg.entity_label(neighbour)])[len(head) :]


class PathTries:
    """Fragment tries of one graph and tokenizer, built on first use per entity and kept in an LRU cache.

    >>> tries = PathTries(kg, tokenizer)  # doctest: +SKIP
    >>> root = tries.root(germany, can_step=True, can_end=False)  # doctest: +SKIP
    >>> [tokenizer.decode([t]) for t in root.children]  # doctest: +SKIP
    [' ->', ' <-']
    """

    def __init__(self, kg: KnowledgeGraph, tokenizer: PreTrainedTokenizerBase, *, cache_size: int = 4096) -> None:
        self.kg = kg
        self.tokenizer = tokenizer
        self.cache_size = cache_size
        self.end_ids = self.encode([" " + PATH_END])[0]
        self._tries: OrderedDict[tuple[EntityId, bool, bool, EntityId | None, bool], TrieNode] = OrderedDict()

    def encode(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []

    def root(
        self,
        entity: EntityId,
        *,
        can_step: bool,
        can_end: bool,
        avoid: EntityId | None = None,
        onward: bool = False,
    ) -> TrieNode:
        """The trie of what may follow ``entity``: its edges when ``can_step``, the end marker when ``can_end``.

        An edge to ``avoid`` is left out where its relation reaches another entity from here: the
        hop then names one of those instead, its answers unchanged (see :meth:`PathAutomaton._enter`).
        With ``onward`` (the neighbour may take another hop), a hop names only the neighbours, by
        its relation, that the most distinct steps leave. Which one it names does not change its
        answers (they come from executing the relation sequence), but the next relation is chosen
        at the entity named: "the languages of the films Blake Edwards directed" must not end at
        "10" because that film has no language while others of his do (MetaQA 3-hop, 2026-12-04).
        From ``avoid`` itself (the topic), a step back that reaches only it does not count: it
        leads nowhere the answers go ("the films sharing a writer with RoboCop" must not name the
        writer whose only film is RoboCop when the other has more).
        """
        key = (entity, can_step, can_end, avoid, onward)
        node = self._tries.get(key)
        if node is not None:
            self._tries.move_to_end(key)
            return node
        node = TrieNode()
        if can_step:
            edges, texts = [], []
            for step in self.kg.steps_from(entity).tolist():
                neighbours = self.kg.neighbors(entity, step).tolist()
                if avoid is not None and len(neighbours) > 1 and avoid in neighbours:
                    neighbours.remove(avoid)
                if onward and len(neighbours) > 1:
                    counts = self.kg.step_counts(neighbours)
                    if avoid == entity:
                        back = self.kg.inverse_step(step)
                        counts -= np.array([len(self.kg.neighbors(n, back)) == 1 for n in neighbours], dtype=np.int64)
                    neighbours = np.asarray(neighbours)[counts == counts.max()].tolist()
                for neighbour in neighbours:
                    edges.append((neighbour, step))
                    texts.append(hop_fragment(self.kg, entity, step, neighbour))
            for (target, step), ids in zip(edges, self.encode(texts), strict=True):
                node.insert(ids, target, step)
        if can_end:
            node.insert(self.end_ids, END, END)
        self._tries[key] = node
        if len(self._tries) > self.cache_size:
            self._tries.popitem(last=False)
        return node


class PathAutomaton:
    """The token-level automaton of the paths from one topic entity of at most ``max_hops`` hops.

    >>> automaton = PathAutomaton(tries, germany, max_hops=2)  # doctest: +SKIP
    >>> state = automaton.advance(automaton.start(), token_id)  # doctest: +SKIP
    >>> automaton.allowed(state)  # doctest: +SKIP
    """

    def __init__(self, tries: PathTries, topic: EntityId, max_hops: int) -> None:
        if max_hops < 1:
            raise ValueError(f"max_hops must be >= 1, got {max_hops}")
        self.tries = tries
        self.topic = topic
        self.max_hops = max_hops
        self._near: set[EntityId] | None = None

    def start(self) -> State:
        """Right after ``<path> {topic}``: at least one hop must follow."""
        root = self.tries.root(self.topic, can_step=True, can_end=False, avoid=self.topic, onward=self.max_hops > 1)
        return ((root, 0),) if root.children else ()

    def advance(self, state: State, token: int) -> State:
        """The state after ``token``; empty when ``token`` continues no valid path."""
        out: list[Cursor] = []
        for node, hops in state:
            child = node.children.get(token) if node is not None else None
            if child is not None:
                out.extend(self._enter(child, hops))
        return tuple(out)

    def _enter(self, node: TrieNode, hops: int) -> list[Cursor]:
        """Cursors for arriving at ``node``: inside a fragment, and/or at the start of the next one."""
        cursors: list[Cursor] = [(node, hops)] if node.children else []
        if node.target == END:
            cursors.append(DONE)
        elif node.target is not None:
            # A hop ended: what may follow is the next entity's edges (below max_hops) or the end marker.
            done = hops + 1
            can_step = done < self.max_hops
            # A hop back to the topic names nothing new (answers leave the topic out) and is not what a
            # training row names there (ground_path prefers an entity not visited): where the relation
            # reaches another entity, that one is named. Only the topic's neighbours can step back to it.
            avoid = self.topic if can_step and node.target in self.near() else None
            root = self.tries.root(
                node.target, can_step=can_step, can_end=True, avoid=avoid, onward=done + 1 < self.max_hops
            )
            cursors.append((root, done))
        return cursors

    def near(self) -> set[EntityId]:
        """The topic's neighbours, by any step (computed once)."""
        if self._near is None:
            kg = self.tries.kg
            self._near = {
                e for step in kg.steps_from(self.topic).tolist() for e in kg.neighbors(self.topic, step).tolist()
            }
        return self._near

    @staticmethod
    def allowed(state: State) -> list[int]:
        """Token ids that continue some valid path from ``state`` (the end of turn is handled by the caller)."""
        if len(state) == 1:
            node = state[0][0]
            return list(node.children) if node is not None else []
        return list(dict.fromkeys(t for node, _ in state if node is not None for t in node.children))

    @staticmethod
    def neighbour_choice(state: State) -> bool:
        """Whether the tokens allowed in ``state`` all continue one step: they only choose the neighbour reached.

        Which neighbour a hop names does not change a path's answers (they come from executing
        its relation sequence), so decoding charges that choice only its share among the allowed
        neighbours (see :class:`~kgpeft.inference.decode.KGPathLogitsProcessor`).
        """
        relations = {node.relation for node, _ in state if node is not None}
        return len(relations) == 1 and next(iter(relations)) not in (MIXED, END, None) and DONE not in state

    @staticmethod
    def is_done(state: State) -> bool:
        """Whether a complete path (end marker included) has been generated."""
        return DONE in state


def path_prefix(kg: KnowledgeGraph, topic: EntityId) -> str:
    """The text every constrained completion starts with: ``<path> {topic label}``."""
    return f"{PATH_START} {kg.entity_label(topic)}"


def check_tokenizer(tokenizer: PreTrainedTokenizerBase) -> None:
    """Refuse a tokenizer whose tokens of separately tokenised fragments differ from the whole text's.

    Byte-level BPE tokenizers (GPT-2, Llama 3, Qwen, SmolLM) pass; SentencePiece
    tokenizers that add a word-boundary marker to a leading space may not.
    """
    parts = ["<path> Western Europe", " -> located in -> Europe", " <- capital <- St. John's", " </path>"]
    pieces = [i for part in parts for i in tokenizer(part, add_special_tokens=False)["input_ids"]]
    whole = tokenizer("".join(parts), add_special_tokens=False)["input_ids"]
    if pieces != whole:
        raise ModelLoadError(
            f"the tokenizer {type(tokenizer).__name__} ({getattr(tokenizer, 'name_or_path', '')}) tokenises path "
            "fragments differently alone than in context, so KG-constrained decoding cannot use it; "
            "use a byte-level BPE tokenizer (GPT-2, Llama 3, Qwen, SmolLM families)"
        )
