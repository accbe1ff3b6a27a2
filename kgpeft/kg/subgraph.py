"""The k-hop neighbourhood of seed entities as a compact local graph, bounded by a stated hub policy.

Question-answering GNNs reason over a question's neighbourhood, not the whole graph
(GraftNet, NSM, GNN-RAG), so their cost follows the questions. :func:`extract_subgraph`
builds that neighbourhood through the :class:`~kgpeft.kg.base.Graph` interface alone
(``steps_from``, ``neighbors``, ``prefetch``), so it works in memory and over a SPARQL store.

The policy, applied the same way for every question:

- **Hops.** Breadth-first from the seeds along every step, inverse steps included, ``hops``
  deep. Entities at distance ``hops`` are reached but not expanded (their own lists are
  never read), so an edge between two of them is not in the subgraph.
- **Hubs.** Of the neighbours of one (entity, step), at most ``max_neighbors`` are kept:
  the ones with the smallest priority, a hash of (``seed``, neighbour id). An entity has the
  same rank in every list, so overlapping lists keep the same entities (the sample stays
  connected where the graph is), and the result depends neither on call order nor on batching.
- **Budget.** At most ``max_nodes`` entities: when a hop's new entities would pass it, the
  ones with the smallest priority are kept; the seeds are always kept. Once the budget is
  full the walk stops (edges between entities of the last ring are then not read).
- **Must-keep.** Entities in ``keep`` are kept whenever they are reached, past both caps.
- **Both directions.** Every kept edge is stored as its step and its inverse step, so
  messages flow both ways, also from entities that were not expanded.

Nothing is cut silently: :class:`Subgraph` counts the capped lists, and the edges and
entities left out, for the caller to report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from kgpeft.kg.base import Graph
from kgpeft.types import EntityId

_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Subgraph:
    """A neighbourhood in local ids: ``nodes[i]`` is the global id of local node ``i``.

    >>> sub = extract_subgraph(kg, [germany], hops=2)  # doctest: +SKIP
    >>> sub.nodes[sub.edge_index[1]]  # global tails of every local edge  # doctest: +SKIP
    """

    nodes: np.ndarray  # (n,) int64 sorted global entity ids
    # int32: local ids and steps are small, and a teacher keeps one subgraph per training topic.
    edge_index: np.ndarray  # (2, e) int32 local ids: row 0 the head (message source), row 1 the tail
    edge_type: np.ndarray  # (e,) int32 step of each edge
    seeds: np.ndarray  # (k,) int64 local ids of the seeds
    capped_lists: int  # (entity, step) neighbour lists sampled down to max_neighbors
    dropped_edges: int  # edges of expanded entities left out (by the hub cap or the node budget)
    dropped_nodes: int  # entities reached but left out by the node budget

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]

    def local(self, entities: np.ndarray) -> np.ndarray:
        """Local ids of those of ``entities`` (global ids) that are in the subgraph; the others are left out."""
        entities = np.asarray(entities, dtype=np.int64)
        at = np.searchsorted(self.nodes, entities).clip(max=max(len(self.nodes) - 1, 0))
        inside = self.nodes[at] == entities if len(self.nodes) else np.zeros(len(entities), dtype=bool)
        return at[inside]


def priority(entities: np.ndarray, seed: int) -> np.ndarray:
    """A deterministic pseudo-random rank per entity id (splitmix64 of the id and ``seed``), uint64.

    >>> bool((priority(np.arange(5), 0) == priority(np.arange(5), 0)).all())
    True
    """
    x = np.asarray(entities, dtype=np.int64).astype(np.uint64)
    x = x + np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)  # the salt in Python ints: no overflow
    # Array arithmetic in uint64 wraps modulo 2**64, which is what the mixer wants.
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _choose(entities: np.ndarray, room: int, keep: np.ndarray, seed: int) -> np.ndarray:
    """The sorted ``keep`` members of ``entities`` plus the ``room`` (less those) others of smallest priority."""
    must = entities[np.isin(entities, keep)] if keep.size else _EMPTY
    rest = np.setdiff1d(entities, must, assume_unique=True) if must.size else entities
    take = max(room - must.size, 0)
    chosen = rest[np.argsort(priority(rest, seed), kind="stable")[:take]]
    return np.union1d(must, chosen)


def _ids(entities: Iterable[EntityId] | np.ndarray) -> np.ndarray:
    """Sorted unique int64 entity ids."""
    if not isinstance(entities, np.ndarray):
        entities = np.fromiter(entities, dtype=np.int64)
    return np.unique(entities.astype(np.int64, copy=False))


def extract_subgraph(
    kg: Graph,
    seeds: Iterable[EntityId] | np.ndarray,
    hops: int,
    *,
    max_neighbors: int = 16,
    max_nodes: int = 512,
    keep: Iterable[EntityId] | np.ndarray = (),
    seed: int = 0,
) -> Subgraph:
    """The ``hops``-hop neighbourhood of ``seeds`` under the module's hub policy (0 for a cap: none).

    >>> from kgpeft.kg import load_graph
    >>> kg = load_graph("kg/countries.ttl")
    >>> sub = extract_subgraph(kg, [kg.entity_by_label("France")], hops=1)
    >>> kg.entity_by_label("Western Europe") in sub.nodes
    True
    """
    if hops < 0 or max_neighbors < 0 or max_nodes < 0:
        raise ValueError(f"hops, max_neighbors and max_nodes must be >= 0, got {hops}, {max_neighbors}, {max_nodes}")
    seed_ids, keep = _ids(seeds), _ids(keep)
    visited = frontier = seed_ids
    heads, steps, tails = [_EMPTY], [_EMPTY], [_EMPTY]
    capped = dropped_edges = dropped_nodes = 0
    for _ in range(hops):
        # A full budget ends the walk: the next hop could add edges between entities already in, not entities.
        if frontier.size == 0 or (max_nodes and visited.size >= max_nodes):
            break
        kg.prefetch(frontier, 0)  # a store fetches the hop's lists in a few batched requests
        # Per list: (entity, step, count) in Python lists, the neighbours as arrays; built at once after.
        owners, kinds, counts, lists = [], [], [], []
        for entity in frontier.tolist():
            for step in kg.steps_from(entity).tolist():
                ends = kg.neighbors(entity, step)
                if max_neighbors and len(ends) > max_neighbors:
                    capped += 1
                    kept = _choose(ends, max_neighbors, keep, seed)
                    dropped_edges += len(ends) - len(kept)
                    ends = kept
                owners.append(entity)
                kinds.append(step)
                counts.append(len(ends))
                lists.append(ends)
        if not lists:
            break
        h, s = np.repeat(owners, counts).astype(np.int64), np.repeat(kinds, counts).astype(np.int64)
        t = np.concatenate(lists).astype(np.int64, copy=False)
        new = np.setdiff1d(t, visited)
        if max_nodes and visited.size + new.size > max_nodes:
            kept_new = _choose(new, max_nodes - visited.size, keep, seed)
            dropped_nodes += new.size - kept_new.size
            inside = np.isin(t, visited) | np.isin(t, kept_new)
            dropped_edges += int((~inside).sum())
            h, s, t, new = h[inside], s[inside], t[inside], kept_new
        heads.append(h)
        steps.append(s)
        tails.append(t)
        visited = np.union1d(visited, new)
        frontier = new
    h, s, t = np.concatenate(heads), np.concatenate(steps), np.concatenate(tails)
    n, num_steps = max(len(visited), 1), max(kg.num_steps, 1)
    # Each edge once per direction: the inverse of a step is the same relation read backwards.
    inverse = (s + kg.num_relations) % num_steps
    h, s, t = np.concatenate([h, t]), np.concatenate([s, inverse]), np.concatenate([t, h])
    # One sort of (head, step, tail) keys in local ids removes the repeats (an edge met from both ends).
    keys = np.unique((np.searchsorted(visited, h) * num_steps + s) * n + np.searchsorted(visited, t))
    return Subgraph(
        nodes=visited,
        edge_index=np.stack([keys // n // num_steps, keys % n]).astype(np.int32),
        edge_type=(keys // n % num_steps).astype(np.int32),
        seeds=np.searchsorted(visited, seed_ids),
        capped_lists=capped,
        dropped_edges=dropped_edges,
        dropped_nodes=dropped_nodes,
    )
