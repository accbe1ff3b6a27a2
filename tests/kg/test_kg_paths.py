"""Graph operations against brute force on random graphs: traversal, path enumeration, shortest paths."""

from __future__ import annotations

import itertools

import rdflib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgpeft.kg import load_graph

EX = "http://example.org/"

triples = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 2), st.integers(0, 7)), min_size=1, max_size=25, unique=True
)


def build(edges):
    graph = rdflib.Graph()
    for s, r, o in edges:
        graph.add((rdflib.URIRef(f"{EX}e{s}"), rdflib.URIRef(f"{EX}r{r}"), rdflib.URIRef(f"{EX}e{o}")))
    return load_graph(graph)


def id_triples(kg, edges):
    """The generated triples as (entity, relation, entity) ids of ``kg``."""
    entity = {f"{EX}e{i}": kg.entity_by_iri(f"{EX}e{i}") for i in range(8)}
    return [(entity[f"{EX}e{s}"], kg.relation_by_label(f"r{r}"), entity[f"{EX}e{o}"]) for s, r, o in edges]


def walk(kg, stored, starts: set[int], step: int) -> set[int]:
    """One step by definition: forward follows stored triples, inverse follows them backwards."""
    r, inverse = kg.base_relation(step), kg.is_inverse(step)
    return {(s if inverse else o) for s, rel, o in stored if rel == r and (o if inverse else s) in starts}


settings_ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings_
@given(triples)
def test_neighbors_follow_and_execute_match_the_definition(edges):
    kg = build(edges)
    stored = id_triples(kg, edges)
    for e in range(kg.num_entities):
        steps = kg.steps_from(e).tolist()
        assert steps == sorted(s for s in range(kg.num_steps) if walk(kg, stored, {e}, s))
        owner, of, counts = kg.steps_of([e])
        assert (owner.tolist(), of.tolist()) == ([0] * len(steps), steps)
        assert counts.tolist() == [len(kg.neighbors(e, s)) for s in steps]
        for s in range(kg.num_steps):
            reached = kg.neighbors(e, s).tolist()
            assert reached == sorted(walk(kg, stored, {e}, s))
            for b in reached:  # every step has an inverse that leads back
                assert e in kg.neighbors(b, kg.inverse_step(s)).tolist()
    some = set(range(0, kg.num_entities, 2))
    owner, of, counts = kg.steps_of(sorted(some))
    assert [(sorted(some)[i], s, n) for i, s, n in zip(owner.tolist(), of.tolist(), counts.tolist(), strict=True)] == [
        (e, s, len(kg.neighbors(e, s))) for e in sorted(some) for s in kg.steps_from(e).tolist()
    ]
    for s in range(kg.num_steps):
        assert kg.follow(sorted(some), s).tolist() == sorted(walk(kg, stored, some, s))
    for path in itertools.product(range(kg.num_steps), repeat=2):
        expected = {0}
        for s in path:
            expected = walk(kg, stored, expected, s)
        assert kg.execute(0, path).tolist() == sorted(expected)


def brute_force_paths(kg, e, max_hops):
    return {
        path
        for hops in range(1, max_hops + 1)
        for path in itertools.product(range(kg.num_steps), repeat=hops)
        if kg.execute(e, path).size
    }


@settings_
@given(triples, st.integers(1, 3))
def test_relation_paths_are_all_non_empty_paths_shortest_first(edges, max_hops):
    kg = build(edges)
    for e in range(kg.num_entities):
        paths = kg.relation_paths(e, max_hops)
        assert set(paths) == brute_force_paths(kg, e, max_hops) and len(paths) == len(set(paths))
        assert [len(p) for p in paths] == sorted(len(p) for p in paths)
        assert kg.relation_paths(e, max_hops, max_paths=3) == paths[:3]


@settings_
@given(triples, st.sets(st.integers(0, 7), min_size=1, max_size=3), st.integers(1, 3))
def test_shortest_paths_are_the_shortest_sequences_reaching_an_answer(edges, answer_ids, max_hops):
    kg = build(edges)
    answers = [a for a in (kg.entity_by_iri(f"{EX}e{i}") for i in answer_ids) if a is not None]
    for e in range(kg.num_entities):
        reaching = {p for p in brute_force_paths(kg, e, max_hops) if set(kg.execute(e, p).tolist()) & set(answers)}
        found = kg.shortest_paths(e, answers, max_hops, max_paths=1000)
        if not reaching:
            assert found == []
            continue
        shortest = min(len(p) for p in reaching)
        assert found == sorted(p for p in reaching if len(p) == shortest)
        assert kg.shortest_paths(e, answers, max_hops, max_paths=2) == found[:2]
