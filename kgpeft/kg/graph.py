"""The indexed, labelled knowledge graph every later stage reads (API pinned in docs/CONTRACTS.md).

Adjacency is one CSR over *steps*: every triple (s, r, o) is stored twice, as s -(r)-> o
and o -(r + R)-> s, sorted by (entity, step, neighbour). A *group* is the run of one
(entity, step) pair, keyed ``entity * 2R + step`` in the sorted ``group_key`` array, so:

- the steps leaving an entity are a slice of ``group_key`` found by binary search,
- the neighbours by one step are a slice of ``targets`` (``group_start[g]:group_start[g+1]``),
- following a step from a whole entity set is one vectorised search plus a gather.

Path search (:class:`kgpeft.kg.base.Graph`) works on entity *sets* per relation sequence, never
on individual walks, so a hub entity with 1,000 neighbours costs one array operation per candidate step.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any

import numpy as np

from kgpeft.kg.base import Graph, split_by_step
from kgpeft.kg.labels import literal_texts, sanitize_all
from kgpeft.kg.strings import StringTable
from kgpeft.types import EntityId, Step

EMPTY = np.zeros(0, dtype=np.int64)


def gather_ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """All positions in the half-open ranges [starts[i], ends[i]), concatenated."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return EMPTY
    # Offsets of each range's first position within the output, then a running index.
    shift = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return shift + np.arange(total, dtype=np.int64)


def term_text(term: str) -> str:
    """An N-Triples IRI or blank node as kgpeft shows it: the bare IRI, or ``_:name``."""
    return term[1:-1] if term.startswith("<") else term


class KnowledgeGraph(Graph):
    """An RDF graph as interned ids, CSR adjacency in both directions, labels and literals.

    Build one with :func:`kgpeft.kg.load_graph`.

    >>> from kgpeft.kg import load_graph
    >>> kg = load_graph("kg/countries.ttl")
    >>> france = kg.entity_by_label("France")
    >>> [kg.entity_label(e) for e in kg.neighbors(france, kg.relation_by_label("located in"))]
    ['Western Europe']
    """

    # Arrays and string tables that make up the index (all saved in the on-disk cache).
    ARRAYS = ("targets", "group_key", "group_start", "entity_start", "alias_start", "alias_value", "description",
              "attr_start", "attr_predicate", "attr_value")  # fmt: skip
    TABLES = ("entity_terms", "relation_terms", "entity_labels", "relation_labels", "attr_predicate_labels", "literals")

    def __init__(self, arrays: dict[str, np.ndarray], tables: dict[str, StringTable], meta: dict[str, Any]) -> None:
        self.targets = arrays["targets"]  # int32 (2T,): neighbour per stored directed edge
        self.group_key = arrays["group_key"]  # int64 (G,): entity * 2R + step, sorted
        self.group_start = arrays["group_start"]  # int64 (G + 1,): first target of each group
        self.entity_start = arrays["entity_start"]  # int64 (E + 1,): first target of each entity
        self.alias_start = arrays["alias_start"]  # int64 (E + 1,): first alias of each entity
        self.alias_value = arrays["alias_value"]  # int32 (aliases,): index into literals
        self.description = arrays["description"]  # int32 (E,): index into literals, -1 for none
        self.attr_start = arrays["attr_start"]  # int64 (E + 1,): first attribute of each entity
        self.attr_predicate = arrays["attr_predicate"]  # int32 (A,): index into attr_predicate_labels
        self.attr_value = arrays["attr_value"]  # int32 (A,): index into literals
        self.entity_terms = tables["entity_terms"]  # N-Triples form: <IRI>, or _:name for blank nodes
        self.relation_terms = tables["relation_terms"]
        self.entity_labels = tables["entity_labels"]
        self.relation_labels = tables["relation_labels"]
        self.attr_predicate_labels = tables["attr_predicate_labels"]
        # Aliases, descriptions and attribute values stay N-Triples literals until asked for:
        # decoding them all at load time would cost more than the rest of loading.
        self.literals = tables["literals"]
        self.meta = meta
        self.sha256: str = meta["sha256"]
        self.source: str | None = meta.get("source")
        self.num_entities: int = len(self.entity_terms)
        self.num_relations: int = len(self.relation_terms)
        self.num_triples: int = len(self.targets) // 2
        self.num_steps: int = 2 * self.num_relations

    def __repr__(self) -> str:
        return (f"KnowledgeGraph(source={self.source!r}, entities={self.num_entities}, "
                f"relations={self.num_relations}, triples={self.num_triples}, sha256={self.sha256[:12]})")  # fmt: skip

    # ----------------------------------------------------------------- names and literals

    def entity_iri(self, e: EntityId) -> str:
        return term_text(self.entity_terms[self._entity(e)])

    def relation_iri(self, r: int) -> str:
        return self.relation_terms[self._relation(r)]

    def entity_label(self, e: EntityId) -> str:
        return self.entity_labels[self._entity(e)]

    def relation_label(self, r: int) -> str:
        return self.relation_labels[self._relation(r)]

    def entity_aliases(self, e: EntityId) -> list[str]:
        """Other names of ``e`` (further labels, any language, then ``skos:altLabel``...), best first."""
        e = self._entity(e)
        label = self.entity_labels[e]
        texts = sanitize_all(self._texts(self.alias_value[self.alias_start[e] : self.alias_start[e + 1]]))
        return [text for text in dict.fromkeys(texts) if text != label]

    def entity_description(self, e: EntityId) -> str | None:
        index = int(self.description[self._entity(e)])
        return (" ".join(self._texts([index])[0].split()) or None) if index >= 0 else None

    def entity_attributes(self, e: EntityId) -> list[tuple[str, str]]:
        """(predicate label, literal text) for the entity's literals other than labels, aliases and descriptions."""
        e = self._entity(e)
        rows = slice(self.attr_start[e], self.attr_start[e + 1])
        predicates = [self.attr_predicate_labels[p] for p in self.attr_predicate[rows].tolist()]
        return list(zip(predicates, self._texts(self.attr_value[rows]), strict=True))

    def _texts(self, literals: Iterable[int] | np.ndarray) -> list[str]:
        return literal_texts([self.literals.raw(int(i)) for i in literals])

    def relation_literals(self, r: int, predicate_iri: str) -> list[str]:
        """Texts of the literals ``<relation IRI> <predicate_iri> "..."`` (e.g. the relation's templates), sorted."""
        r = self._relation(r)
        rows = self.meta["relation_literals"]
        return sorted(text for rel, predicate, text in rows if rel == r and predicate == predicate_iri)

    def entity_by_iri(self, iri: str) -> EntityId | None:
        return self._iri_index.get(iri)

    def entity_by_label(self, label: str) -> EntityId | None:
        return self._label_index.get(label)

    def entities_by_name(self, name: str) -> list[EntityId]:
        """Entities whose label or an alias equals ``name`` ignoring case, in id order."""
        return list(self._name_index.get(name.casefold(), ()))

    def relation_by_label(self, label: str) -> int | None:
        return self._relation_index.get(label)

    # Lookup tables are built on first use: most consumers (training) never need them.
    @cached_property
    def _iri_index(self) -> dict[str, int]:
        return {term_text(term): e for e, term in enumerate(self.entity_terms)}

    @cached_property
    def _label_index(self) -> dict[str, int]:
        return {label: e for e, label in enumerate(self.entity_labels)}

    @cached_property
    def _relation_index(self) -> dict[str, int]:
        return {label: r for r, label in enumerate(self.relation_labels)}

    @cached_property
    def _name_index(self) -> dict[str, tuple[int, ...]]:
        index: dict[str, dict[int, None]] = {}
        for e, label in enumerate(self.entity_labels):
            index.setdefault(label.casefold(), {})[e] = None
        owners = np.repeat(np.arange(self.num_entities), np.diff(self.alias_start)).tolist()
        for e, alias in zip(owners, sanitize_all(self._texts(self.alias_value)), strict=True):
            index.setdefault(alias.casefold(), {})[e] = None
        return {name: tuple(sorted(ids)) for name, ids in index.items()}

    # ----------------------------------------------------------------- steps

    def steps_from(self, e: EntityId) -> np.ndarray:
        """Sorted steps (both directions) with at least one neighbour at ``e``."""
        e = self._entity(e)
        lo, hi = np.searchsorted(self.group_key, [e * self.num_steps, (e + 1) * self.num_steps])
        return self.group_key[lo:hi] - e * self.num_steps

    def neighbors(self, e: EntityId, step: Step) -> np.ndarray:
        """Sorted entities reached from ``e`` by one ``step``."""
        key = self._entity(e) * self.num_steps + self._step(step)
        g = int(np.searchsorted(self.group_key, key))
        if g == len(self.group_key) or self.group_key[g] != key:
            return EMPTY
        return self.targets[self.group_start[g] : self.group_start[g + 1]].astype(np.int64)

    def follow(self, entities: Iterable[EntityId] | np.ndarray, step: Step) -> np.ndarray:
        """Sorted unique entities reached by one ``step`` from any of ``entities``."""
        keys = self._entities(entities) * self.num_steps + self._step(step)
        g = np.searchsorted(self.group_key, keys)
        inside = g < len(self.group_key)
        g = g[inside][self.group_key[g[inside]] == keys[inside]]  # the entities that have this step
        return np.unique(self.targets[gather_ranges(self.group_start[g], self.group_start[g + 1])].astype(np.int64))

    def steps_of(self, entities: Iterable[EntityId] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ents = self._entities(entities)
        groups, steps = self._groups_of(ents)
        owner = np.searchsorted(ents, self.group_key[groups] // self.num_steps)
        return owner, steps, self.group_start[groups + 1] - self.group_start[groups]

    def linked_entities(self) -> np.ndarray:
        return np.unique(self.group_key // self.num_steps)

    def _groups_of(self, ents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The groups of every entity in ``ents`` and each group's step."""
        lo = np.searchsorted(self.group_key, ents * self.num_steps)
        hi = np.searchsorted(self.group_key, (ents + 1) * self.num_steps)
        groups = gather_ranges(lo, hi)
        steps = self.group_key[groups] - np.repeat(ents, hi - lo) * self.num_steps
        return groups, steps

    def _expand(self, ents: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """(step, sorted endpoint set) for every step leaving the set ``ents``, in step order."""
        groups, steps = self._groups_of(ents)
        if groups.size == 0:
            return
        lengths = self.group_start[groups + 1] - self.group_start[groups]
        targets = self.targets[gather_ranges(self.group_start[groups], self.group_start[groups + 1])]
        yield from split_by_step(np.repeat(steps, lengths), targets, self.num_entities)

    def _step_set(self, ents: np.ndarray) -> list[int]:
        return np.unique(self._groups_of(ents)[1]).tolist()

    def _around(self, ents: np.ndarray) -> np.ndarray:
        return self.targets[gather_ranges(self.entity_start[ents], self.entity_start[ents + 1])]
