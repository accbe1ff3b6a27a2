"""The SPARQL backend against a real Oxigraph server: the same questions asked of the store and of the file."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

from kgpeft.kg import load_graph
from kgpeft.kg.base import Graph
from kgpeft.kg.sparql import SparqlGraph
from kgpeft.kg.stats import graph_stats

COUNTRIES = Path(__file__).parents[2] / "kg" / "countries.ttl"


@pytest.fixture(scope="module")
def memory() -> Graph:
    return load_graph(COUNTRIES)


@pytest.fixture(scope="module")
def store(sparql_store) -> SparqlGraph:
    return load_graph(sparql_store(COUNTRIES))


@pytest.fixture(params=["memory", "store"])
def kg(request) -> Graph:
    return request.getfixturevalue(request.param)


def test_one_interface(kg):
    france = kg.entity_by_label("France")
    located = kg.relation_by_label("located in")
    assert isinstance(kg, Graph) and kg.entity_iri(france) == "http://kgpeft.dev/countries/country/FRA"
    assert [kg.entity_label(e) for e in kg.neighbors(france, located)] == ["Western Europe"]
    assert kg.entity_label(kg.execute(france, (located, located))[0]) == "Europe"
    assert kg.path_is_valid(france, (located,)) and not kg.path_is_valid(france, (kg.inverse_step(located),))


def test_shortest_paths_reach_the_answers(kg):
    france, europe = kg.entity_by_label("France"), kg.entity_by_label("Europe")
    paths = kg.shortest_paths(france, [europe], max_hops=3)
    assert paths and all(len(p) == 2 and europe in kg.execute(france, p) for p in paths)


def test_relation_paths_are_valid(kg):
    germany = kg.entity_by_label("Germany")
    paths = kg.relation_paths(germany, 2)
    assert paths and all(kg.path_is_valid(germany, p) for p in paths)


def test_linking_by_name(kg):
    from kgpeft.data.linking import EntityLinker

    result = EntityLinker(kg).link("Which region is Germany in?")
    assert kg.entity_label(result.candidates[0].entity) == "Germany"


def test_store_and_file_agree_on_everything(memory, store):
    """Ids, labels, names, adjacency and paths equal the file's (attributes' numbers may be written canonically)."""
    assert (store.num_entities, store.num_relations, store.num_triples) == (
        memory.num_entities, memory.num_relations, memory.num_triples)  # fmt: skip
    for r in range(memory.num_relations):
        assert (store.relation_iri(r), store.relation_label(r)) == (memory.relation_iri(r), memory.relation_label(r))
    for e in range(memory.num_entities):
        assert (store.entity_iri(e), store.entity_label(e)) == (memory.entity_iri(e), memory.entity_label(e))
        assert store.entity_aliases(e) == memory.entity_aliases(e)
        assert store.entity_description(e) == memory.entity_description(e)
        assert [p for p, _ in store.entity_attributes(e)] == [p for p, _ in memory.entity_attributes(e)]
        assert store.steps_from(e).tolist() == memory.steps_from(e).tolist()
        for step in memory.steps_from(e).tolist():
            assert store.neighbors(e, step).tolist() == memory.neighbors(e, step).tolist()
    for e in range(0, memory.num_entities, 25):
        assert store.relation_paths(e, 2) == memory.relation_paths(e, 2)
        answers = memory.execute(e, memory.relation_paths(e, 2)[-1])
        assert store.shortest_paths(e, answers, 3) == memory.shortest_paths(e, answers, 3)
    everyone = np.arange(memory.num_entities)
    assert [a.tolist() for a in store.steps_of(everyone)] == [a.tolist() for a in memory.steps_of(everyone)]
    for step in range(memory.num_steps):
        assert store.follow(everyone, step).tolist() == memory.follow(everyone, step).tolist()
    ours, theirs = graph_stats(store), graph_stats(memory)
    assert {k: v for k, v in ours.items() if k not in ("source", "sha256")} == {
        k: v for k, v in theirs.items() if k not in ("source", "sha256")
    }


def test_catalogue_is_cached_by_the_store_identity(sparql_store):
    url = sparql_store(COUNTRIES)
    first = SparqlGraph(url)
    again = SparqlGraph(url)
    assert again.sha256 == first.sha256 and again.client.queries == 1  # the inventory only: the rest is cached
    assert SparqlGraph(f"sparql+{url}").sha256 == first.sha256  # the same endpoint, however written


def test_neighbour_cache_is_bounded(sparql_store):
    kg = SparqlGraph(sparql_store(COUNTRIES), cache_entities=10)
    for e in range(0, kg.num_entities, 7):
        kg.steps_from(e)
    assert len(kg._adjacency) <= 10


def test_only_select_queries_are_sent(store):
    with pytest.raises(ValueError, match="not SELECT"):
        store.client.select("INSERT DATA { <http://a> <http://b> <http://c> }")
    with pytest.raises(ValueError, match="not SELECT"):
        store.client.select("PREFIX x: <http://x/> DELETE WHERE { ?s ?p ?o }")


def test_what_is_built_on_a_store_is_named_after_it():
    from kgpeft.kg.load import graph_name

    assert graph_name("http://127.0.0.1:7878/query") == "store-127.0.0.1-7878"
    assert graph_name("sparql+https://example.org/sparql") == "store-example.org"
    assert graph_name("http://[::1]:3030/wiki/sparql") == "store-1-3030-wiki"  # no ':' in a folder name
    assert graph_name("http://host:8890/data/graph.db/") == "store-host-8890-data-graph.db"
    assert graph_name("kg/countries.ttl.gz") == "countries"


def test_teacher_fit_names_its_folder_after_the_store(sparql_store, tmp_path, monkeypatch):
    from kgpeft.cli import main

    url = sparql_store(COUNTRIES)
    monkeypatch.chdir(tmp_path)
    assert main(["teacher", "fit", "--kg", url, "--teacher", "oracle", "--max-hops", "2"]) == 0
    port = url.split(":")[2].split("/")[0]
    assert [p.name for p in (tmp_path / "teachers").iterdir()] == [f"store-127.0.0.1-{port}-oracle"]


def test_an_adapter_on_a_store_has_its_kg_checked_by_the_store_identity(sparql_store):
    from kgpeft.adapters.registry import kg_state

    url = sparql_store(COUNTRIES)
    assert kg_state(url, SparqlGraph(url).sha256) == "ok"
    assert kg_state(url, "0" * 64) == "changed"
    with socket.socket() as probe:  # a port nothing listens on: the store is down
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}/query"
    assert kg_state(down, "0" * 64) == "unreachable"


def test_neighbour_answers_that_are_not_tsv_results_are_one_error():
    from kgpeft.errors import StoreError
    from kgpeft.kg.sparql import NEIGHBOUR_VARIABLES, SparqlClient
    from tests.robustness.test_store_errors import fake_store

    for body in (b"<html>hello</html>", b"?e\t?p\t?o\t?inverse\n<http://a>\t<http://b>\n"):
        with fake_store(200, body) as url, pytest.raises(StoreError, match="TSV results") as caught:
            SparqlClient(url, timeout=5).table("SELECT * WHERE { ?e ?p ?o }", NEIGHBOUR_VARIABLES)
        assert url in str(caught.value) and "\n" not in str(caught.value)
