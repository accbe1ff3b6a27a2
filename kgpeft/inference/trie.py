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
"""The target of the `` </path>`` fragment: the path is complete."""


class TrieNode:
    """A node of a fragment trie: children by token id; ``target`` set where a fragment ends.

    ``target`` is the neighbour entity a hop fragment leads to, :data:`END` for the end
    marker, None inside a fragment. ``naming`` is true where every fragment through the node
    has written its direction and relation, so the tokens left only pick which neighbour the
    hop reaches; ``free`` where, besides, every one names a neighbour of a step cover (see
    :meth:`PathTries.root`): that choice is decoding's, not the model's, and costs nothing.
    """

    __slots__ = ("children", "free", "naming", "target")

    def __init__(self) -> None:
        self.children: dict[int, TrieNode] = {}
        self.target: int | None = None
        self.naming = True
        self.free = True

    def insert(self, token_ids: list[int], target: int, *, names_from: int, free: bool = False) -> None:
        """Adds a fragment; its tokens from ``names_from`` on name the neighbour (the relation is written by then)."""
        node = self
        node._mark(names_from == 0, free)
        for depth, token in enumerate(token_ids, start=1):
            node = node.children.setdefault(token, TrieNode())
            node._mark(depth >= names_from, free)
        node.target = target

    def _mark(self, naming: bool, free: bool) -> None:
        self.naming = self.naming and naming
        self.free = self.free and free


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


def step_cover(
    kg: KnowledgeGraph, step: int, neighbours: list[EntityId], topic: EntityId | None = None
) -> list[EntityId]:
    """Few of ``neighbours`` (reached by ``step``) that between them leave by every step any of them leaves.

    Greedy set cover: the neighbour leaving by the most steps not yet covered, ties to the one
    with the most steps, then the most edges (more ways on at the hops after: "the languages of
    the films sharing a director with Darling Lili" must not rest on its co-director of two films
    when Blake Edwards made forty), then the smallest id. From the ``topic``, a neighbour's step
    back that reaches only the topic does not count: it leads nowhere the answers go ("the films
    sharing a writer with RoboCop" must not rest on the writer whose only film is RoboCop).
    ``neighbours`` is sorted; so is the cover. One ``steps_of`` call and array operations: a
    hop from a hub to thousands of neighbours costs no Python step per neighbour.

    >>> step_cover(kg, directed_by_inverse, kramer_films)  # doctest: +SKIP
    [judgment_at_nuremberg]  # it has every step any of his films has
    """
    owner, steps, counts = kg.steps_of(neighbours)
    if topic is not None:
        # Each neighbour reaches the topic by the step back: it alone when that step's count is 1
        keep = (steps != kg.inverse_step(step)) | (counts > 1)
        owner, steps, counts = owner[keep], steps[keep], counts[keep]
    edges = np.bincount(owner, weights=counts, minlength=len(neighbours))
    columns, column = np.unique(steps, return_inverse=True)
    leaves = np.zeros((len(neighbours), len(columns)), dtype=bool)
    leaves[owner, column] = True
    total, order = leaves.sum(axis=1), -np.arange(len(neighbours))
    chosen, left = [], np.ones(len(columns), dtype=bool)
    while left.any():
        best = int(np.lexsort((order, edges, total, leaves[:, left].sum(axis=1)))[-1])
        chosen.append(best)
        left &= ~leaves[best]
    # Nothing to cover (no neighbour goes on but back to the topic): one of them is named
    return [neighbours[i] for i in sorted(chosen or [0])]


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
        With ``onward`` (the neighbour may take another hop), a hop names only a step cover of
        its neighbours (:func:`step_cover`), at no cost. Which neighbour a hop names does not
        change its answers (they come from executing the relation sequence), but the next
        relation is chosen at the entity named, among the steps that leave it: "the languages of
        the films Stanley Kramer directed" must not name `On the Beach`, which has no language in
        the KB, and stop there (MetaQA 2-hop, 2026-12-04). A cover names, for every step that
        leaves some neighbour, a neighbour it leaves, and the beam tries each of them; the
        model's preference among them is not asked, since the path it then writes decides.
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
                cover = onward and len(neighbours) > 1
                if cover:
                    neighbours = step_cover(self.kg, step, neighbours, topic=entity if avoid == entity else None)
                relation = hop_fragment(self.kg, entity, step, neighbours[0]).removesuffix(
                    " " + self.kg.entity_label(neighbours[0])
                )
                relation_ids = self.encode([relation])[0]
                for neighbour in neighbours:
                    edges.append((neighbour, relation_ids, cover))
                    texts.append(hop_fragment(self.kg, entity, step, neighbour))
            for (target, relation_ids, cover), ids in zip(edges, self.encode(texts), strict=True):
                # The tokens the fragment shares with its relation alone write the relation (all of them
                # with a byte-level BPE, where the neighbour's label starts a new pre-token)
                pairs = zip(ids, relation_ids, strict=False)
                shared = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(ids), len(relation_ids)))
                node.insert(ids, target, names_from=shared, free=cover)
        if can_end:
            node.insert(self.end_ids, END, names_from=len(self.end_ids) + 1)
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
        """Whether the hop's direction and relation are written: the tokens allowed only choose the neighbour reached.

        The relation's own tokens stay the model's choice even where the trie leaves only one
        relation possible (``has`` may lead to ``has imdb votes`` alone at a film without a genre:
        the mass the model put on ``has genre`` is not handed to it). Which neighbour a hop names
        does not change a path's answers (they come from executing its relation sequence), so
        decoding charges that choice only its share among the allowed neighbours (see
        :class:`~kgpeft.inference.decode.KGPathLogitsProcessor`).
        """
        return bool(state) and DONE not in state and all(node.naming for node, _ in state if node is not None)

    @staticmethod
    def free_choice(state: State) -> bool:
        """Whether the neighbour left to choose in ``state`` is one of a step cover's, which costs nothing."""
        return all(node.free for node, _ in state if node is not None)

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
