"""Every supported syntax, gzip, rdflib graphs, and the content hash's independence of syntax and order."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
import rdflib

from kgpeft.errors import KGLoadError
from kgpeft.kg import load_graph

SMALL_TTL = (Path(__file__).parent / "data" / "small.ttl").read_text(encoding="utf-8")

EX = "http://example.org/"


def rdflib_graph() -> rdflib.Graph:
    return rdflib.Graph().parse(data=SMALL_TTL, format="turtle")


def as_named_graph() -> rdflib.Dataset:
    dataset = rdflib.Dataset()
    named = dataset.graph(rdflib.URIRef(f"{EX}graphs/countries"))
    for triple in rdflib_graph():
        named.add(triple)
    return dataset


# (file extension, rdflib serializer, source graph): one file per syntax kgpeft reads.
SYNTAXES = [
    ("ttl", "turtle", rdflib_graph),
    ("nt", "nt", rdflib_graph),
    ("nq", "nquads", as_named_graph),
    ("trig", "trig", as_named_graph),
    ("rdf", "xml", rdflib_graph),
    ("jsonld", "json-ld", rdflib_graph),
    ("n3", "n3", rdflib_graph),
    ("trix", "trix", as_named_graph),
    ("hext", "hext", as_named_graph),
]


@pytest.fixture
def reference(small_ttl):
    return load_graph(small_ttl)


@pytest.mark.parametrize(("extension", "serializer", "graph"), SYNTAXES, ids=[s[0] for s in SYNTAXES])
def test_every_syntax_gives_the_same_graph(tmp_path, reference, extension, serializer, graph):
    path = tmp_path / f"small.{extension}"
    path.write_bytes(graph().serialize(format=serializer, encoding="utf-8"))
    kg = load_graph(path)
    assert kg.sha256 == reference.sha256
    assert [kg.entity_label(e) for e in range(kg.num_entities)] == [
        reference.entity_label(e) for e in range(reference.num_entities)
    ]
    germany = kg.entity_by_iri(f"{EX}Germany")
    assert kg.entity_description(germany) == "A country in Western Europe."


def test_gzip_and_explicit_format(tmp_path, reference):
    gz = tmp_path / "small.ttl.gz"
    gz.write_bytes(gzip.compress(SMALL_TTL.encode()))
    assert load_graph(gz).sha256 == reference.sha256
    odd = tmp_path / "small.data"
    odd.write_bytes(gzip.compress(SMALL_TTL.encode()))  # gzip is recognised by content, not name
    assert load_graph(odd, format="turtle").sha256 == reference.sha256
    assert load_graph(odd, format="ttl", cache=False).sha256 == reference.sha256
    with pytest.raises(KGLoadError, match="cannot tell the RDF format"):
        load_graph(odd)


def test_rdflib_graph_source(reference):
    kg = load_graph(rdflib_graph())
    assert kg.source is None and kg.sha256 == reference.sha256
    assert load_graph(as_named_graph()).sha256 == reference.sha256


def test_hash_ignores_triple_order_and_blank_node_names(tmp_path, reference):
    lines = rdflib_graph().serialize(format="nt").strip().splitlines()
    for seed in range(3):
        random.Random(seed).shuffle(lines)
        text = "\n".join(lines).replace("_:", f"_:x{seed}") + "\n"  # rename every blank node
        path = tmp_path / f"shuffled{seed}.nt"
        path.write_text(text, encoding="utf-8")
        kg = load_graph(path)
        assert kg.sha256 == reference.sha256
        paris = [e for e in range(kg.num_entities) if kg.entity_label(e) == "Paris"]
        assert [kg.entity_iri(e) for e in paris] == [
            reference.entity_iri(e) for e in range(reference.num_entities) if reference.entity_label(e) == "Paris"
        ]


def test_hash_changes_with_content(write, reference):
    changed = write("changed.ttl", SMALL_TTL.replace('"France"@en', '"France"@fr'))
    assert load_graph(changed).sha256 != reference.sha256
    extra = write("extra.ttl", SMALL_TTL + "ex:Europe ex:locatedIn ex:World .\n")
    assert load_graph(extra).sha256 != reference.sha256


def test_duplicate_triples_count_once(write, reference):
    doubled = write("doubled.ttl", SMALL_TTL + "ex:France ex:locatedIn ex:Western_Europe .\n")
    kg = load_graph(doubled)
    assert kg.sha256 == reference.sha256 and kg.num_triples == reference.num_triples


def test_relative_iris_resolve_against_the_file(write):
    kg = load_graph(write("relative.ttl", "<a> <knows> <b> .\n"))
    assert kg.entity_iri(0).startswith("file:///") and kg.entity_iri(0).endswith("/a")
