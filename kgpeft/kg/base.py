"""``Graph``: what every stage asks of a knowledge graph, whatever holds it.

Two implementations: :class:`~kgpeft.kg.graph.KnowledgeGraph` (the whole graph indexed in
memory) and :class:`~kgpeft.kg.sparql.SparqlGraph` (a SPARQL 1.1 store asked as needed).
Stages never know which they have. An implementation provides names (labels, IRIs, aliases,
descriptions, look-ups) and four adjacency primitives over entity *sets* (``steps_from``,
``neighbors``, ``follow``, ``_expand``, ``_step_set``, ``_around``); path search, execution and
validity are written once here on top of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator

import numpy as np

from kgpeft.types import EntityId, RelationPath, Step


def split_by_step(steps: np.ndarray, targets: np.ndarray, num_entities: int) -> Iterator[tuple[int, np.ndarray]]:
    """(step, sorted unique targets) for each distinct step of the pairs (``steps[i]``, ``targets[i]``), in step order.

    >>> [(s, t.tolist()) for s, t in split_by_step(np.array([1, 0, 1]), np.array([4, 2, 3]), 5)]
    [(0, [2]), (1, [3, 4])]
    """
    # One sort of (step, target) pairs splits every step's endpoint set at once.
    pairs = np.unique(steps * num_entities + targets)
    pair_steps = pairs // num_entities
    bounds = np.flatnonzero(np.r_[True, pair_steps[1:] != pair_steps[:-1], True])
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        yield int(pair_steps[a]), pairs[a:b] % num_entities


class Graph(ABC):
    """A labelled graph of integer entity ids and steps (relations in both directions, see :mod:`kgpeft.types`).

    >>> from kgpeft.kg import load_graph
    >>> kg = load_graph("kg/countries.ttl")
    >>> isinstance(kg, Graph)
    True
    """

    num_entities: int
    num_relations: int
    num_steps: int
    num_triples: int
    sha256: str  # identifies the graph's content: adapters and caches are keyed by it
    source: str | None  # the file or store URL it came from

    # ----------------------------------------------------------------- names and literals

    @abstractmethod
    def entity_iri(self, e: EntityId) -> str: ...

    @abstractmethod
    def relation_iri(self, r: int) -> str: ...

    @abstractmethod
    def entity_label(self, e: EntityId) -> str: ...

    @abstractmethod
    def relation_label(self, r: int) -> str: ...

    @abstractmethod
    def entity_aliases(self, e: EntityId) -> list[str]: ...

    @abstractmethod
    def entity_description(self, e: EntityId) -> str | None: ...

    @abstractmethod
    def entity_attributes(self, e: EntityId) -> list[tuple[str, str]]: ...

    @abstractmethod
    def relation_literals(self, r: int, predicate_iri: str) -> list[str]: ...

    @abstractmethod
    def entity_by_iri(self, iri: str) -> EntityId | None: ...

    @abstractmethod
    def entity_by_label(self, label: str) -> EntityId | None: ...

    @abstractmethod
    def entities_by_name(self, name: str) -> list[EntityId]: ...

    @abstractmethod
    def relation_by_label(self, label: str) -> int | None: ...

    # ----------------------------------------------------------------- adjacency primitives

    @abstractmethod
    def steps_from(self, e: EntityId) -> np.ndarray:
        """Sorted steps (both directions) with at least one neighbour at ``e``."""

    @abstractmethod
    def neighbors(self, e: EntityId, step: Step) -> np.ndarray:
        """Sorted entities reached from ``e`` by one ``step``."""

    @abstractmethod
    def follow(self, entities: Iterable[EntityId] | np.ndarray, step: Step) -> np.ndarray:
        """Sorted unique entities reached by one ``step`` from any of ``entities``."""

    @abstractmethod
    def steps_of(self, entities: Iterable[EntityId] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every distinct step leaving each entity of the sorted unique set ``entities``: ``(owner, step, count)``.

        Parallel arrays: ``owner`` indexes ``entities``; grouped by owner in that order, steps
        ascending; ``count`` is how many neighbours the step reaches from that entity. One call
        for a set (a store fetches the lists it lacks in one batch), not one per entity.
        """

    @abstractmethod
    def linked_entities(self) -> np.ndarray:
        """Sorted entities with at least one step (the possible topics of a question)."""

    def prefetch(self, entities: Iterable[EntityId] | np.ndarray, hops: int) -> None:
        """Say that the neighbour lists of everything within ``hops`` steps of ``entities`` will be asked for.

        A stage that knows its topics up front says so once: a graph kept elsewhere then fetches
        them in a few batched requests instead of one per entity; a graph in memory has them.
        """
        del entities, hops

    @abstractmethod
    def _expand(self, ents: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """(step, sorted endpoint set) for every step leaving the sorted set ``ents``, in step order."""

    @abstractmethod
    def _step_set(self, ents: np.ndarray) -> list[int]:
        """The sorted steps leaving any entity of the sorted set ``ents``."""

    @abstractmethod
    def _around(self, ents: np.ndarray) -> np.ndarray:
        """Every neighbour (any step, repeats allowed) of the entities ``ents``."""

    # ----------------------------------------------------------------- steps

    def is_inverse(self, step: Step) -> bool:
        return self._step(step) >= self.num_relations

    def base_relation(self, step: Step) -> int:
        return self._step(step) % self.num_relations

    def inverse_step(self, step: Step) -> Step:
        return (self._step(step) + self.num_relations) % self.num_steps

    # ----------------------------------------------------------------- paths

    def execute(self, e: EntityId, path: RelationPath | Iterable[Step]) -> np.ndarray:
        """The endpoint set of a relation path followed from ``e`` (sorted entity ids)."""
        current = np.array([self._entity(e)], dtype=np.int64)
        for step in path:
            if current.size == 0:
                break
            current = self.follow(current, step)
        return current

    def path_is_valid(self, e: EntityId, path: RelationPath) -> bool:
        """Whether ``path`` is a non-empty sequence of steps that each exist at their frontier from ``e``.

        A step exists when it reaches at least one entity, so this holds exactly when the
        path's endpoint set is non-empty. A question about the graph, asked by teachers
        (which paths to keep) and by evaluation (path validity) alike.
        """
        return bool(path) and all(0 <= step < self.num_steps for step in path) and self.execute(e, path).size > 0

    def relation_paths(self, e: EntityId, max_hops: int, max_paths: int = 10_000) -> list[RelationPath]:
        """Distinct relation paths of 1..``max_hops`` steps from ``e`` with non-empty endpoint sets.

        Breadth-first (shorter paths first), then in step order; at most ``max_paths``.
        Works on endpoint sets per path, so cost grows with the number of paths, not walks.
        """
        return [path for path, _ in self._walk(e, max_hops, max_paths, ends=False)]

    def path_endpoints(
        self, e: EntityId, max_hops: int, max_paths: int = 10_000, *, max_frontier: int | None = None
    ) -> Iterator[tuple[RelationPath, np.ndarray]]:
        """:meth:`relation_paths` with each path's endpoint set, in the same order.

        The last hop's endpoint sets come from one vectorised expansion per prefix, not a
        :meth:`follow` per path. With ``max_frontier``, a prefix reaching more entities than
        that (a hub's neighbourhood) is yielded but not extended: the stated policy of a caller
        whose cost must not grow with hub degrees; its extensions are not yielded.
        """
        yield from self._walk(e, max_hops, max_paths, ends=True, max_frontier=max_frontier)

    def _walk(
        self, e: EntityId, max_hops: int, max_paths: int, *, ends: bool, max_frontier: int | None = None
    ) -> Iterator[tuple[RelationPath, np.ndarray | None]]:
        """Breadth-first relation paths with their endpoint sets (None at the last hop unless ``ends``)."""
        count = 0
        frontier: list[tuple[RelationPath, np.ndarray]] = [((), np.array([self._entity(e)], dtype=np.int64))]
        for hop in range(1, max_hops + 1):
            last = hop == max_hops
            if len(frontier) > 1:  # every path's endpoints are expanded next: asked for at once
                self.prefetch(np.concatenate([ents for _, ents in frontier]), 0)
            next_frontier: list[tuple[RelationPath, np.ndarray]] = []
            for path, ents in frontier:
                if last and not ends:  # which steps exist is enough: not where they lead
                    steps = self._step_set(ents)[: max_paths - count]
                    for step in steps:
                        yield (*path, step), None
                    count += len(steps)
                else:
                    for step, reached in self._expand(ents):
                        yield (*path, step), reached
                        count += 1
                        if not last and (max_frontier is None or reached.size <= max_frontier):
                            next_frontier.append(((*path, step), reached))
                        if count >= max_paths:
                            return
                if count >= max_paths:
                    return
            frontier = next_frontier

    def shortest_paths(
        self,
        e: EntityId,
        answers: Iterable[EntityId] | np.ndarray,
        max_hops: int,
        max_paths: int = 32,
        *,
        length: int | None = None,
    ) -> list[RelationPath]:
        """The shortest relation paths (>= 1 step) from ``e`` whose walks reach any of ``answers``.

        Every returned path has the same, minimal length (<= ``max_hops``); they come in step
        order, at most ``max_paths``; none when no answer is within ``max_hops``. ``length``
        asks for paths of that many steps instead (none when it is below the minimal one): a
        longer path can reach more of the answers than the shortest ones do.
        """
        start = self._entity(e)
        targets = self._entities(answers)
        if targets.size == 0 or max_hops < 1:
            return []
        distance = self._distances_to(targets, max_hops - 1)
        first = self._around(np.array([start], dtype=np.int64))
        if first.size == 0:
            return []
        shortest = 1 + int(distance[first].min())
        length = shortest if length is None else length
        if shortest > max_hops or not shortest <= length <= max_hops:
            return []
        found: list[RelationPath] = []

        def search(path: RelationPath, ents: np.ndarray) -> None:
            remaining = length - len(path) - 1  # steps still to take after the next one
            for step, reached in self._expand(ents):
                reached = reached[distance[reached] <= remaining]  # only entities still on course
                if reached.size == 0:
                    continue
                if remaining == 0:
                    found.append((*path, step))
                else:
                    search((*path, step), reached)
                if len(found) >= max_paths:
                    return

        search((), np.array([start], dtype=np.int64))
        return found[:max_paths]

    def _distances_to(self, targets: np.ndarray, max_distance: int) -> np.ndarray:
        """Steps from each entity to the nearest target (``max_distance + 1`` when farther).

        Every step has an inverse, so distance to the targets is breadth-first search from them.
        """
        distance = np.full(self.num_entities, max_distance + 1, dtype=np.int64)
        distance[targets] = 0
        frontier = targets
        for d in range(1, max_distance + 1):
            around = self._around(frontier)
            frontier = np.unique(around[distance[around] > d])
            if frontier.size == 0:
                break
            distance[frontier] = d
        return distance

    # ----------------------------------------------------------------- checks

    def _entity(self, e: EntityId) -> int:
        return _in_range(e, self.num_entities, "entity id")

    def _relation(self, r: int) -> int:
        return _in_range(r, self.num_relations, "relation id")

    def _step(self, step: Step) -> int:
        return _in_range(step, self.num_steps, "step")

    def _entities(self, entities: Iterable[EntityId] | np.ndarray) -> np.ndarray:
        if not isinstance(entities, np.ndarray):
            entities = np.fromiter(entities, dtype=np.int64)
        # One entity is the usual frontier: already sorted and unique (np.unique costs more than the step).
        ents = entities.reshape(1) if entities.size == 1 else np.unique(entities)
        ents = ents.astype(np.int64, copy=False)
        if ents.size and (ents[0] < 0 or ents[-1] >= self.num_entities):
            raise IndexError(f"entity ids out of range [0, {self.num_entities})")
        return ents


def _in_range(value: int, size: int, what: str) -> int:
    """``value`` as an int, or IndexError naming ``what`` when it is outside ``[0, size)``."""
    value = int(value)
    if not 0 <= value < size:
        raise IndexError(f"{what} {value} out of range [0, {size})")
    return value
