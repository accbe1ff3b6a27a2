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

Paths are simple: a hop never names an entity the path has already visited, the topic
included. Answers come from the relation sequence, and the entity a hop names is only a
representative, so this forbids no answer set; but a path written back through its topic
(``Dead Presidents -> directed by -> Allen Hughes <- directed by <- Dead Presidents``) reads
as if it were starting again, and the model went on to a third hop (MetaQA, 2026-12-03: no
"films with the same director as X" question answered right). Training rows never revisit
(:func:`~kgpeft.data.render.ground_path`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

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
FEW_TARGETS = 8
"""Targets a trie node lists below it; a node with more can always reach one a path has not visited."""


class TrieNode:
    """A node of a fragment trie: children by token id; ``target`` set where a fragment ends.

    ``target`` is the neighbour entity a hop fragment leads to, :data:`END` for the end
    marker, None inside a fragment. ``relation`` is the step every fragment through the node
    takes (:data:`END` for the end marker, :data:`MIXED` when they differ): where it is one
    step, the tokens left to choose only pick which neighbour the hop reaches. ``below``
    lists the targets of the fragments through the node, up to ``FEW_TARGETS + 1`` of them.
    """

    __slots__ = ("below", "children", "relation", "target")

    def __init__(self) -> None:
        self.children: dict[int, TrieNode] = {}
        self.target: int | None = None
        self.relation: int | None = None
        self.below: tuple[int, ...] = ()

    def insert(self, token_ids: list[int], target: int, relation: int) -> None:
        node = self
        node._mark(relation, target)
        for token in token_ids:
            node = node.children.setdefault(token, TrieNode())
            node._mark(relation, target)
        node.target = target

    def _mark(self, relation: int, target: int) -> None:
        self.relation = relation if self.relation in (None, relation) else MIXED
        if len(self.below) <= FEW_TARGETS and target not in self.below:
            self.below += (target,)

    def leads_only_to(self, visited: tuple[int, ...]) -> bool:
        """Whether every fragment through this node ends at an entity in ``visited`` (the end marker never does)."""
        return len(self.below) <= FEW_TARGETS and all(t in visited for t in self.below)


Cursor = tuple[TrieNode | None, int, tuple[EntityId, ...]]
"""A position in the path: a trie node (None once the path is complete), the hops completed, the entities visited."""
State = tuple[Cursor, ...]
"""The positions consistent with the tokens generated so far; empty when they left every valid path."""
DONE: Cursor = (None, 0, ())


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
        self._tries: OrderedDict[tuple[EntityId, bool, bool], TrieNode] = OrderedDict()

    def encode(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []

    def root(self, entity: EntityId, *, can_step: bool, can_end: bool) -> TrieNode:
        """The trie of what may follow ``entity``: its edges when ``can_step``, the end marker when ``can_end``."""
        key = (entity, can_step, can_end)
        node = self._tries.get(key)
        if node is not None:
            self._tries.move_to_end(key)
            return node
        node = TrieNode()
        if can_step:
            edges, texts = [], []
            for step in self.kg.steps_from(entity).tolist():
                for neighbour in self.kg.neighbors(entity, step).tolist():
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

    def start(self) -> State:
        """Right after ``<path> {topic}``: at least one hop must follow."""
        root = self.tries.root(self.topic, can_step=True, can_end=False)
        visited = (self.topic,)
        return ((root, 0, visited),) if root.children and not root.leads_only_to(visited) else ()

    def advance(self, state: State, token: int) -> State:
        """The state after ``token``; empty when ``token`` continues no valid path."""
        out: list[Cursor] = []
        for node, hops, visited in state:
            child = node.children.get(token) if node is not None else None
            if child is not None and not child.leads_only_to(visited):
                out.extend(self._enter(child, hops, visited))
        return tuple(out)

    def _enter(self, node: TrieNode, hops: int, visited: tuple[EntityId, ...]) -> list[Cursor]:
        """Cursors for arriving at ``node``: inside a fragment, and/or at the start of the next one."""
        cursors: list[Cursor] = [(node, hops, visited)] if node.children else []
        if node.target == END:
            cursors.append(DONE)
        elif node.target is not None and node.target not in visited:
            # A hop ended: what may follow is the next entity's edges (below max_hops) or the end marker.
            done = hops + 1
            root = self.tries.root(node.target, can_step=done < self.max_hops, can_end=True)
            cursors.append((root, done, (*visited, node.target)))
        return cursors

    @staticmethod
    def allowed(state: State) -> list[int]:
        """Token ids that continue some valid path from ``state`` (the end of turn is handled by the caller).

        A token whose fragments all end at an entity the path has visited does not continue one.
        """
        return list(
            dict.fromkeys(
                token
                for node, _, visited in state
                if node is not None
                for token, child in node.children.items()
                if not child.leads_only_to(visited)
            )
        )

    @staticmethod
    def neighbour_choice(state: State) -> bool:
        """Whether the tokens allowed in ``state`` all continue one step: they only choose the neighbour reached.

        Which neighbour a hop names does not change a path's answers (they come from executing
        its relation sequence), so decoding charges that choice only its share among the allowed
        neighbours (see :class:`~kgpeft.inference.decode.KGPathLogitsProcessor`).
        """
        relations = {node.relation for node, _, _ in state if node is not None}
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
