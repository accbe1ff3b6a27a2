"""Question subgraphs (kgpeft.kg.subgraph): k hops, both directions, the hub policy, determinism and counts.

The generated graph: a chain ``c0 -next-> c1 -next-> ... -next-> c5``, a hub with 40
members (``m_i -member-> hub``), and ``c0 -in-> hub``.
"""

from __future__ import annotations

import numpy as np
import pytest

from kgpeft.kg import load_graph
from kgpeft.kg.subgraph import extract_subgraph, priority

MEMBERS = 40
CHAIN = 6


def _triples() -> list[tuple[str, str, str]]:
    chain = [(f"c{i}", "next", f"c{i + 1}") for i in range(CHAIN - 1)]
    return [*chain, ("c0", "in", "hub"), *((f"m{i}", "member", "hub") for i in range(MEMBERS))]


@pytest.fixture(scope="module")
def kg(tmp_path_factory):
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    triples = _triples()
    names = sorted({n for s, _, o in triples for n in (s, o)})
    lines = [f"<http://x/{s}> <http://x/{p}> <http://x/{o}> ." for s, p, o in triples]
    lines += [f'<http://x/{n}> {label} "{n}" .' for n in names]
    path = tmp_path_factory.mktemp("subgraph") / "hubs.nt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_graph(path)


def _entity(kg, name: str) -> int:
    return kg.entity_by_label(name)


def _names(kg, sub) -> set[str]:
    return {kg.entity_label(int(e)) for e in sub.nodes}


def _edges(kg, sub, entity=None, relation=None) -> set[tuple[str, str, bool, str]]:
    """(head, relation, inverse?, tail) of every edge, named by labels (or by the given namers, e.g. IRIs)."""
    entity, relation = entity or kg.entity_label, relation or kg.relation_label
    heads, tails = sub.nodes[sub.edge_index[0]], sub.nodes[sub.edge_index[1]]
    return {
        (entity(int(h)), relation(kg.base_relation(int(s))), kg.is_inverse(int(s)), entity(int(t)))
        for h, s, t in zip(heads, sub.edge_type, tails, strict=True)
    }


def test_k_hops_reach_exactly_the_entities_within_k_steps(kg):
    for hops in range(4):
        sub = extract_subgraph(kg, [_entity(kg, "c3")], hops, max_neighbors=0, max_nodes=0)
        chain = {f"c{i}" for i in range(CHAIN) if abs(i - 3) <= hops}
        expected = chain | ({"hub"} if hops >= 4 else set())
        assert _names(kg, sub) == expected
        assert (sub.capped_lists, sub.dropped_edges, sub.dropped_nodes) == (0, 0, 0)


def test_both_directions_every_edge_with_its_inverse(kg):
    sub = extract_subgraph(kg, [_entity(kg, "c2")], 1, max_neighbors=0, max_nodes=0)
    assert _edges(kg, sub) == {
        ("c1", "next", False, "c2"),  # c2 is reached backwards, along the inverse of `next`
        ("c2", "next", True, "c1"),
        ("c2", "next", False, "c3"),
        ("c3", "next", True, "c2"),
    }
    seed = sub.nodes[sub.seeds]
    assert seed.tolist() == [_entity(kg, "c2")]


def test_every_edge_exists_in_the_graph(kg):
    sub = extract_subgraph(kg, [_entity(kg, "c0")], 3, max_neighbors=5, max_nodes=30)
    for h, s, t in zip(sub.nodes[sub.edge_index[0]], sub.edge_type, sub.nodes[sub.edge_index[1]], strict=True):
        assert int(t) in kg.neighbors(int(h), int(s)).tolist()
    assert len(np.unique(sub.nodes)) == sub.num_nodes and (np.diff(sub.nodes) > 0).all()


def test_hub_lists_are_capped_by_priority_and_counted(kg):
    hub = _entity(kg, "hub")
    sub = extract_subgraph(kg, [hub], 1, max_neighbors=8, max_nodes=0, seed=3)
    members = kg.neighbors(hub, kg.inverse_step(kg.relation_by_label("member")))
    expected = members[np.argsort(priority(members, 3), kind="stable")[:8]]
    assert set(sub.nodes.tolist()) == {hub, _entity(kg, "c0"), *expected.tolist()}
    assert (sub.capped_lists, sub.dropped_edges, sub.dropped_nodes) == (1, MEMBERS - 8, 0)
    # The short list (hub <-in- c0) is not capped.
    assert sub.num_edges == 2 * (8 + 1)


def test_sampling_is_deterministic_and_follows_the_seed(kg):
    hub = _entity(kg, "hub")
    first = extract_subgraph(kg, [hub], 2, max_neighbors=8, seed=1)
    again = extract_subgraph(kg, np.array([hub]), 2, max_neighbors=8, seed=1)
    other = extract_subgraph(kg, [hub], 2, max_neighbors=8, seed=2)
    assert np.array_equal(first.nodes, again.nodes) and np.array_equal(first.edge_index, again.edge_index)
    assert np.array_equal(first.edge_type, again.edge_type)
    assert not np.array_equal(first.nodes, other.nodes)


def test_must_keep_entities_pass_both_caps(kg):
    hub = _entity(kg, "hub")
    members = kg.neighbors(hub, kg.inverse_step(kg.relation_by_label("member")))
    last = members[np.argsort(priority(members, 0), kind="stable")[-1]]  # never sampled on its own
    sub = extract_subgraph(kg, [hub], 1, max_neighbors=4, max_nodes=3, keep=[last])
    assert int(last) in sub.nodes.tolist()
    assert hub in sub.nodes.tolist() and sub.num_nodes == 3


def test_node_budget_keeps_the_seeds_and_counts_what_it_leaves_out(kg):
    hub = _entity(kg, "hub")
    sub = extract_subgraph(kg, [hub], 2, max_neighbors=0, max_nodes=10)
    assert sub.num_nodes == 10 and hub in sub.nodes.tolist()
    assert sub.dropped_nodes == (MEMBERS + 1) - 9  # the hub's 41 neighbours, 9 places left
    assert sub.dropped_edges >= sub.dropped_nodes
    everything = extract_subgraph(kg, [hub], 2, max_neighbors=0, max_nodes=0)
    assert set(sub.nodes.tolist()) < set(everything.nodes.tolist())


def test_without_caps_a_connected_graph_is_whole(kg):
    sub = extract_subgraph(kg, [_entity(kg, "m0")], 10, max_neighbors=0, max_nodes=0)
    assert sub.num_nodes == kg.num_entities
    assert sub.num_edges == 2 * kg.num_triples


def test_bad_bounds_are_refused(kg):
    with pytest.raises(ValueError, match="max_nodes"):
        extract_subgraph(kg, [0], 1, max_nodes=-1)


def test_a_store_gives_the_same_subgraph(sparql_store):
    from pathlib import Path

    countries = Path(__file__).parents[2] / "kg" / "countries.ttl"
    memory, store = load_graph(countries), load_graph(sparql_store(countries))

    def described(kg) -> set[tuple[str, str, bool, str]]:
        sub = extract_subgraph(kg, [kg.entity_by_label("France")], 2, max_neighbors=0, max_nodes=0)
        return _edges(kg, sub, kg.entity_iri, kg.relation_iri)

    assert described(memory) == described(store)
