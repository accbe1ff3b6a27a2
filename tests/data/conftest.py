"""Fixtures for kgpeft.data: a small fake KnowledgeGraph implementing the contract in docs/CONTRACTS.md.

The fake keeps kgpeft.data's unit tests independent of kgpeft.kg's internals; integration
tests load real graphs with ``kgpeft.kg.load_graph`` once it exists.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pytest

EX = "http://example.org/"


class FakeKG:
    """Entities, relations and literals given as plain Python data; methods follow the contract.

    >>> kg = FakeKG([("Germany", "located in", "Western Europe")])
    >>> kg.entity_label(kg.execute(0, (0,))[0])
    'Western Europe'
    """

    def __init__(
        self,
        triples: Iterable[tuple[str, str, str]],
        *,
        descriptions: dict[str, str] | None = None,
        aliases: dict[str, list[str]] | None = None,
        attributes: dict[str, list[tuple[str, str]]] | None = None,
        relation_literals: dict[tuple[str, str], list[str]] | None = None,
        entities: Sequence[str] = (),
    ) -> None:
        triples = list(triples)
        self.source = None
        labels = list(dict.fromkeys([*entities, *itertools.chain.from_iterable((s, o) for s, _, o in triples)]))
        self._labels = labels
        self._entity_ids = {label: i for i, label in enumerate(labels)}
        self._relations = list(dict.fromkeys(r for _, r, _ in triples))
        self._relation_ids = {label: i for i, label in enumerate(self._relations)}
        self.num_entities = len(labels)
        self.num_relations = len(self._relations)
        self.num_steps = 2 * self.num_relations
        edges = {(self._entity_ids[s], self._relation_ids[r], self._entity_ids[o]) for s, r, o in triples}
        self.num_triples = len(edges)
        self._adj: dict[tuple[int, int], set[int]] = defaultdict(set)
        for s, r, o in edges:
            self._adj[(s, r)].add(o)
            self._adj[(o, r + self.num_relations)].add(s)
        self._descriptions = descriptions or {}
        self._aliases = aliases or {}
        self._attributes = attributes or {}
        self._relation_literals = relation_literals or {}
        self.sha256 = hashlib.sha256(repr(sorted(triples)).encode()).hexdigest()

    def entity_iri(self, e: int) -> str:
        return EX + self._labels[e].replace(" ", "_")

    def relation_iri(self, r: int) -> str:
        return EX + self._relations[r].replace(" ", "_")

    def entity_label(self, e: int) -> str:
        return self._labels[e]

    def relation_label(self, r: int) -> str:
        return self._relations[r]

    def entity_aliases(self, e: int) -> list[str]:
        return list(self._aliases.get(self._labels[e], []))

    def entity_description(self, e: int) -> str | None:
        return self._descriptions.get(self._labels[e])

    def entity_attributes(self, e: int) -> list[tuple[str, str]]:
        return list(self._attributes.get(self._labels[e], []))

    def relation_literals(self, r: int, predicate_iri: str) -> list[str]:
        """Requested of kgpeft.kg: literals of ``predicate_iri`` on relation ``r``'s IRI."""
        return list(self._relation_literals.get((self._relations[r], predicate_iri), []))

    def entity_by_iri(self, iri: str) -> int | None:
        return next((e for e in range(self.num_entities) if self.entity_iri(e) == iri), None)

    def entity_by_label(self, label: str) -> int | None:
        return self._entity_ids.get(label)

    def entities_by_name(self, name: str) -> list[int]:
        key = name.casefold()
        return [
            e
            for e, label in enumerate(self._labels)
            if key == label.casefold() or key in (a.casefold() for a in self.entity_aliases(e))
        ]

    def relation_by_label(self, label: str) -> int | None:
        return self._relation_ids.get(label)

    def is_inverse(self, step: int) -> bool:
        return step >= self.num_relations

    def base_relation(self, step: int) -> int:
        return step % self.num_relations

    def inverse_step(self, step: int) -> int:
        return (step + self.num_relations) % self.num_steps

    def steps_from(self, e: int) -> np.ndarray:
        return np.array(sorted(s for s in range(self.num_steps) if self._adj.get((e, s))), dtype=np.int64)

    def neighbors(self, e: int, step: int) -> np.ndarray:
        return np.array(sorted(self._adj.get((e, step), ())), dtype=np.int64)

    def steps_of(self, entities: Iterable[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ents = sorted({int(e) for e in entities})
        rows = [(i, s, len(self._adj[(e, s)])) for i, e in enumerate(ents) for s in self.steps_from(e).tolist()]
        columns = zip(*rows, strict=True) if rows else ([], [], [])
        owner, steps, counts = (np.array(column, dtype=np.int64) for column in columns)
        return owner, steps, counts

    def linked_entities(self) -> np.ndarray:
        return np.array(sorted({e for (e, _), ends in self._adj.items() if ends}), dtype=np.int64)

    def prefetch(self, entities: Iterable[int], hops: int) -> None:
        pass  # in memory: nothing to fetch

    def follow(self, entities: Iterable[int], step: int) -> np.ndarray:
        out = set().union(*(self._adj.get((int(e), step), set()) for e in entities))
        return np.array(sorted(out), dtype=np.int64)

    def execute(self, e: int, path: Sequence[int]) -> np.ndarray:
        current = np.array([e], dtype=np.int64)
        for step in path:
            current = self.follow(current, step)
        return current

    def relation_paths(self, e: int, max_hops: int, max_paths: int = 10_000) -> list[tuple[int, ...]]:
        paths: list[tuple[int, ...]] = []
        frontier: list[tuple[tuple[int, ...], np.ndarray]] = [((), np.array([e], dtype=np.int64))]
        for _ in range(max_hops):
            grown = []
            for path, ends in frontier:
                for step in range(self.num_steps):
                    nxt = self.follow(ends, step)
                    if len(nxt):
                        grown.append(((*path, step), nxt))
            paths.extend(p for p, _ in grown)
            frontier = grown
        return paths[:max_paths]

    def path_endpoints(
        self, e: int, max_hops: int, max_paths: int = 10_000
    ) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
        for path in self.relation_paths(e, max_hops, max_paths):
            yield path, self.execute(e, path)

    def shortest_paths(
        self, e: int, answers: Iterable[int], max_hops: int, max_paths: int = 32, *, length: int | None = None
    ) -> list[tuple[int, ...]]:
        targets = set(int(a) for a in answers)
        by_length = defaultdict(list)
        for path in self.relation_paths(e, max_hops):
            if targets & set(self.execute(e, path).tolist()):
                by_length[len(path)].append(path)
        if not by_length or (length is not None and length < min(by_length)):
            return []
        return by_length[min(by_length) if length is None else length][:max_paths]


# A small world: countries in regions, borders (symmetric), capitals.
WORLD_TRIPLES = [
    ("Germany", "located in", "Western Europe"),
    ("France", "located in", "Western Europe"),
    ("Belgium", "located in", "Western Europe"),
    ("Poland", "located in", "Eastern Europe"),
    ("Czechia", "located in", "Eastern Europe"),
    ("Spain", "located in", "Southern Europe"),
    ("Portugal", "located in", "Southern Europe"),
    ("Western Europe", "located in", "Europe"),
    ("Eastern Europe", "located in", "Europe"),
    ("Southern Europe", "located in", "Europe"),
    ("Japan", "located in", "Eastern Asia"),
    ("China", "located in", "Eastern Asia"),
    ("Eastern Asia", "located in", "Asia"),
    ("Germany", "capital", "Berlin"),
    ("France", "capital", "Paris"),
    ("Belgium", "capital", "Brussels"),
    ("Poland", "capital", "Warsaw"),
    ("Czechia", "capital", "Prague"),
    ("Spain", "capital", "Madrid"),
    ("Portugal", "capital", "Lisbon"),
    ("Japan", "capital", "Tokyo"),
    ("China", "capital", "Beijing"),
]
_BORDERS = [
    ("Germany", "France"),
    ("Germany", "Belgium"),
    ("Germany", "Poland"),
    ("Germany", "Czechia"),
    ("France", "Belgium"),
    ("France", "Spain"),
    ("Spain", "Portugal"),
    ("Poland", "Czechia"),
]
WORLD_TRIPLES += [(a, "neighbor of", b) for a, b in _BORDERS] + [(b, "neighbor of", a) for a, b in _BORDERS]


@pytest.fixture
def world() -> FakeKG:
    return FakeKG(
        WORLD_TRIPLES,
        descriptions={"Germany": "Germany is a country in Western Europe with capital Berlin."},
        aliases={"Germany": ["Deutschland", "Federal Republic of Germany"], "Czechia": ["Czech Republic"]},
        attributes={"France": [("population", "67000000")]},
    )
