"""Labels, aliases, descriptions, attributes, blank nodes and namesakes."""

from __future__ import annotations

import pytest

from kgpeft.kg import load_graph
from kgpeft.kg.labels import disambiguate, local_name, readable, sanitize

EX = "http://example.org/"
PREFIXES = """\
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix dct: <http://purl.org/dc/terms/> .
"""


def load(write, body: str, **options):
    return load_graph(write("graph.ttl", PREFIXES + body), **options)


def label_of(kg, name: str) -> str:
    return kg.entity_label(kg.entity_by_iri(EX + name))


@pytest.mark.parametrize(
    ("language", "expected"), [("en", "Germany"), ("de", "Deutschland"), ("fr", "Germania"), ("EN", "Germany")]
)
def test_language_preference(write, language, expected):
    kg = load(write, 'ex:g rdfs:label "Deutschland"@de, "Germany"@en, "Germania" ; ex:p ex:x .\n', language=language)
    assert label_of(kg, "g") == expected


def test_regional_variant_before_untagged_and_any_language_last(write):
    kg = load(write, 'ex:a rdfs:label "colour"@en-gb, "color" ; ex:p ex:b .\nex:b rdfs:label "Bé"@fr ; ex:p ex:a .\n')
    assert label_of(kg, "a") == "colour" and label_of(kg, "b") == "Bé"


def test_label_properties_and_local_names(write):
    kg = load(
        write,
        """ex:a skos:prefLabel "Alpha" ; ex:hasNeighbourCountry ex:b .
        ex:b <http://schema.org/name> "Beta" ; ex:p ex:c .
        ex:c foaf:name "Gamma" ; ex:p ex:Western_Europe .
        """,
    )
    assert [label_of(kg, n) for n in ("a", "b", "c", "Western_Europe")] == ["Alpha", "Beta", "Gamma", "Western Europe"]
    assert kg.relation_label(kg.relation_by_label("has neighbour country")) == "has neighbour country"


def test_aliases_descriptions_and_attributes(small_ttl):
    kg = load_graph(small_ttl)
    germany = kg.entity_by_iri(EX + "Germany")
    assert kg.entity_label(germany) == "Germany"
    assert kg.entity_aliases(germany) == ["Deutschland", "FRG"]  # other labels first, then skos:altLabel
    assert kg.entities_by_name("deutschland") == [germany] == kg.entities_by_name("frg")
    assert kg.entity_description(germany) == "A country in Western Europe."  # multi-line literal, one line
    assert sorted(kg.entity_attributes(germany)) == [("founded", "1949-05-23"), ("population", "83000000")]
    assert kg.entity_description(kg.entity_by_iri(EX + "France")) is None
    assert kg.relation_label(kg.relation_by_label("located in")) == "located in"  # from the property's own label


def test_other_description_properties(write):
    kg = load(write, 'ex:a dct:description "Described."@en ; skos:definition "Defined."@en ; ex:p ex:b .\n')
    assert kg.entity_description(kg.entity_by_iri(EX + "a")) == "Described."


def test_rdf_type_is_a_relation_to_class_entities(small_ttl):
    kg = load_graph(small_ttl)
    france, country = kg.entity_by_iri(EX + "France"), kg.entity_by_iri(EX + "Country")
    assert kg.entity_label(country) == "country"
    assert kg.neighbors(france, kg.relation_by_label("type")).tolist() == [country]
    assert france in kg.neighbors(country, kg.inverse_step(kg.relation_by_label("type"))).tolist()


def test_blank_nodes_are_entities_with_stable_ids(small_ttl):
    kg = load_graph(small_ttl, cache=False)
    france = kg.entity_by_iri(EX + "France")
    (paris,) = kg.neighbors(france, kg.relation_by_label("capital")).tolist()
    assert kg.entity_label(paris) == "Paris" and kg.entity_iri(paris).startswith("_:")
    assert kg.entity_by_iri(kg.entity_iri(paris)) == paris
    again = load_graph(small_ttl, cache=False)
    assert again.entity_iri(paris) == kg.entity_iri(paris)


def test_unlabelled_blank_nodes_get_distinct_labels(write):
    kg = load(write, "ex:a ex:p [ ex:q ex:x ], [ ex:q ex:y ] .\n")
    labels = [kg.entity_label(e) for e in range(kg.num_entities)]
    assert len(set(labels)) == len(labels) and sum(label.startswith("blank node") for label in labels) == 2


def test_namesakes_by_type_then_iri_then_number(write):
    kg = load(
        write,
        """ex:Georgia_country a ex:Country ; rdfs:label "Georgia" ; ex:p ex:x .
        ex:Georgia_state a ex:State ; rdfs:label "georgia" ; ex:p ex:x .
        ex:Country rdfs:label "country" . ex:State rdfs:label "US state" .
        ex:Kingston_Jamaica rdfs:label "Kingston" ; ex:p ex:x .
        ex:Kingston_Norfolk_Island rdfs:label "Kingston" ; ex:p ex:x .
        ex:q1 rdfs:label "Twin" ; ex:p ex:x . ex:q2 rdfs:label "Twin" ; ex:p ex:x .
        """,
    )
    assert label_of(kg, "Georgia_country") == "Georgia (country)"
    assert label_of(kg, "Georgia_state") == "georgia (US state)"
    assert label_of(kg, "Kingston_Jamaica") == "Kingston (Jamaica)"
    assert label_of(kg, "Kingston_Norfolk_Island") == "Kingston (Norfolk Island)"
    assert {label_of(kg, "q1"), label_of(kg, "q2")} == {"Twin (q1)", "Twin (q2)"}
    assert kg.entity_by_label("Georgia") is None and len(kg.entities_by_name("GEORGIA")) == 2
    assert kg.entity_aliases(kg.entity_by_iri(EX + "Kingston_Jamaica")) == ["Kingston"]


def test_labels_are_safe_in_path_text(write):
    kg = load(write, 'ex:a rdfs:label "A -> B\\n<- C  " ; ex:p ex:b .\nex:b rdfs:label "   " ; ex:p ex:a .\n')
    assert label_of(kg, "a") == "A → B ← C"
    assert label_of(kg, "b") == "b"  # an empty label falls back to the IRI


def test_label_helpers():
    assert local_name("http://x.org/onto#hasPart") == "hasPart"
    assert local_name("http://x.org/a/b/") == "b"
    assert readable("birthPlace") == "birth place" and readable("NewYork_City") == "New York City"
    assert sanitize(" a\t\tb ") == "a b"
    assert disambiguate(["X", "x", "Y"], lambda i: []) == ["X (1)", "x (2)", "Y"]
    assert disambiguate(["A", "A", "A (1)"], lambda i: []) == ["A (1) (2)", "A (2)", "A (1)"]


def test_relation_literals_and_relation_label_language(write):
    kg = load(
        write,
        """ex:locatedIn rdfs:label "liegt in"@de, "located in"@en ; ex:template "Where is {s}?", "In which place is {s}?" .
        ex:a ex:locatedIn ex:b .
        """,
    )
    located = kg.relation_by_label("located in")
    assert kg.relation_literals(located, EX + "template") == ["In which place is {s}?", "Where is {s}?"]
    assert kg.relation_literals(located, EX + "other") == []
    assert kg.entity_by_iri(EX + "locatedIn") is None  # a predicate's own literals do not make it an entity
