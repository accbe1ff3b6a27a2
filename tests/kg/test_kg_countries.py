"""kgpeft.kg on the default graph, kg/countries.ttl: the API other stages code against."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kgpeft.kg import KnowledgeGraph, load_graph

COUNTRIES = Path(__file__).resolve().parents[2] / "kg" / "countries.ttl"
BASE = "http://kgpeft.dev/countries/"


@pytest.fixture(scope="module")
def kg() -> KnowledgeGraph:
    return load_graph(COUNTRIES)


def test_counts(kg):
    assert kg.num_entities > 500 and kg.num_relations == 4 and kg.num_triples > 1500
    assert kg.num_steps == 2 * kg.num_relations
    assert len(kg.sha256) == 64 and kg.source == str(COUNTRIES)


def test_names_and_literals(kg):
    france = kg.entity_by_iri(f"{BASE}country/FRA")
    assert kg.entity_iri(france) == f"{BASE}country/FRA"
    assert kg.entity_label(france) == "France" and kg.entity_by_label("France") == france
    assert "Frankreich" in kg.entity_aliases(france) and "French Republic" in kg.entity_aliases(france)
    assert kg.entity_description(france) == "France is a country in Western Europe with capital Paris."
    assert dict(kg.entity_attributes(france)) == {
        "area in square kilometres": "640679.0",
        "ISO code": "FRA",
        "population": "66078000",
    }
    assert kg.entities_by_name("FRANKREICH") == [france]
    assert kg.entity_by_iri(f"{BASE}country/XXX") is None and kg.entity_by_label("Atlantis") is None


def test_relations(kg):
    labels = [kg.relation_label(r) for r in range(kg.num_relations)]
    assert labels == ["capital", "located in", "neighbor of", "type"]
    located = kg.relation_by_label("located in")
    assert kg.relation_iri(located) == f"{BASE}locatedIn"
    assert not kg.is_inverse(located) and kg.is_inverse(located + kg.num_relations)
    assert kg.base_relation(located + kg.num_relations) == located
    assert kg.inverse_step(kg.inverse_step(located)) == located


def test_traversal_both_directions(kg):
    france, paris = kg.entity_by_label("France"), kg.entity_by_label("Paris")
    located, capital = kg.relation_by_label("located in"), kg.relation_by_label("capital")
    western_europe = kg.entity_by_label("Western Europe")
    assert kg.neighbors(france, located).tolist() == [western_europe]
    assert kg.neighbors(paris, kg.inverse_step(capital)).tolist() == [france]
    assert france in kg.neighbors(western_europe, kg.inverse_step(located))
    steps = kg.steps_from(france)
    assert steps.dtype == np.int64 and steps.tolist() == sorted(steps.tolist())
    assert kg.inverse_step(kg.relation_by_label("neighbor of")) in steps.tolist()  # symmetric borders
    europe = kg.entity_by_label("Europe")
    assert kg.execute(france, (located, located)).tolist() == [europe]
    members = kg.follow([western_europe, europe], kg.inverse_step(located))
    assert france in members.tolist() and members.tolist() == sorted(set(members.tolist()))


def brute_force_paths(kg, e, max_hops):
    """Every relation path with a non-empty endpoint set, by trying every step after every prefix."""
    found, frontier = set(), [()]
    for _ in range(max_hops):
        frontier = [(*p, s) for p in frontier for s in range(kg.num_steps) if kg.execute(e, (*p, s)).size]
        found.update(frontier)
    return found


def test_relation_paths_match_brute_force(kg):
    france = kg.entity_by_label("France")
    paths = kg.relation_paths(france, 3)
    assert len(paths) == len(set(paths)) and set(paths) == brute_force_paths(kg, france, 3)
    assert [len(p) for p in paths] == sorted(len(p) for p in paths)  # shorter first
    assert kg.relation_paths(france, 3, max_paths=10) == paths[:10]


def test_shortest_paths(kg):
    germany, europe = kg.entity_by_label("Germany"), kg.entity_by_label("Europe")
    located = kg.relation_by_label("located in")
    assert kg.shortest_paths(germany, [europe], 3) == [(located, located)]
    paris = kg.entity_by_label("Paris")
    found = kg.shortest_paths(paris, [europe], 4)
    assert found and {len(p) for p in found} == {3}
    assert all(europe in kg.execute(paris, p) for p in found)
    assert kg.shortest_paths(paris, [europe], 2) == []


def test_namesakes_are_disambiguated(kg):
    labels = [kg.entity_label(e) for e in range(kg.num_entities)]
    assert len({label.casefold() for label in labels}) == len(labels)
    assert {"Kingston (Jamaica)", "Kingston (Norfolk Island)", "Singapore (city)", "Singapore (country)"} <= set(labels)
    assert len(kg.entities_by_name("Kingston")) == 2


def test_path_endpoints_are_relation_paths_with_their_executed_answers(kg):
    france = kg.entity_by_label("France")
    found = list(kg.path_endpoints(france, 3))
    assert [path for path, _ in found] == kg.relation_paths(france, 3)
    assert all(np.array_equal(ends, kg.execute(france, path)) for path, ends in found)
    assert [path for path, _ in kg.path_endpoints(france, 3, max_paths=10)] == kg.relation_paths(
        france, 3, max_paths=10
    )


def test_a_prefix_past_max_frontier_is_kept_but_not_extended(kg):
    france = kg.entity_by_label("France")
    capped = dict(kg.path_endpoints(france, 3, max_frontier=5))
    whole = dict(kg.path_endpoints(france, 3))
    # Exactly the paths none of whose proper prefixes reaches more than 5 entities, with the same answers.
    narrow = [p for p in whole if all(whole[p[:i]].size <= 5 for i in range(1, len(p)))]
    assert sorted(capped) == sorted(narrow) and all(np.array_equal(capped[p], whole[p]) for p in narrow)
    wide = [p for p in narrow if len(p) < 3 and whole[p].size > 5]
    assert wide and len(capped) < len(whole), "the test needs a prefix reaching more than 5 entities"
