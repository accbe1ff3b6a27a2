"""Real third-party vocabularies published in Turtle (see data/README.md for sources and licences).

shacl.ttl (W3C) has language-tagged labels and comments, blank nodes and RDF lists;
dash.ttl (TopQuadrant) has seven prefixes, owl:imports and multi-line literals.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kgpeft.kg import load_graph
from kgpeft.kg.stats import graph_stats

DATA = Path(__file__).parent / "data"
SH, DASH = "http://www.w3.org/ns/shacl#", "http://datashapes.org/dash#"


@pytest.fixture(scope="module")
def shacl():
    return load_graph(DATA / "shacl.ttl")


@pytest.fixture(scope="module")
def dash():
    return load_graph(DATA / "dash.ttl")


def test_shacl_labels_and_descriptions(shacl):
    node_shape = shacl.entity_by_iri(f"{SH}NodeShape")
    assert shacl.entity_label(node_shape) == "Node shape"
    assert shacl.entity_description(node_shape) == (
        "A node shape is a shape that specifies constraint that need to be met with respect to focus nodes."
    )
    ontology = shacl.entity_by_iri(SH)
    assert shacl.entity_label(ontology) == "W3C Shapes Constraint Language (SHACL) Vocabulary"
    sub_class_of = shacl.relation_by_label("sub class of")  # rdfs:subClassOf has no label here: from its IRI
    assert shacl.entity_by_iri(f"{SH}Shape") in shacl.neighbors(node_shape, sub_class_of).tolist()
    labels = [shacl.entity_label(e) for e in range(shacl.num_entities)]
    assert len({label.casefold() for label in labels}) == len(labels)
    assert not any("\n" in label or " -> " in label or " <- " in label for label in labels)


def test_shacl_language_preference(tmp_path):
    german = tmp_path / "shacl-de.ttl"
    german.write_text(
        (DATA / "shacl.ttl").read_text(encoding="utf-8") + '\nsh:NodeShape rdfs:label "Knotenform"@de .\n',
        encoding="utf-8",
    )
    node_shape = f"{SH}NodeShape"
    assert load_graph(german).entity_label(load_graph(german).entity_by_iri(node_shape)) == "Node shape"
    in_german = load_graph(german, language="de")
    assert in_german.entity_label(in_german.entity_by_iri(node_shape)) == "Knotenform"
    assert "Node shape" in in_german.entity_aliases(in_german.entity_by_iri(node_shape))


def test_dash_multiline_literals_and_imports(dash):
    action = dash.entity_by_iri(f"{DASH}ActionTestCase")
    assert dash.entity_label(action) == "Action test case"
    description = dash.entity_description(action)
    assert description.startswith("A test case that evaluates a dash:Action using provided input parameters.")
    assert description.endswith("allowing the comparison of actual results with the expected results.")
    assert "\n" not in description and "  " not in description
    imports = dash.relation_by_label("imports")
    ontology = dash.entity_by_iri("http://datashapes.org/dash")
    assert dash.neighbors(ontology, imports).tolist() == [dash.entity_by_iri(SH)]  # kept, never fetched
    select = [text for predicate, text in dash.entity_attributes(dash.entity_by_iri(f"{DASH}AllObjectsTarget"))
              if predicate == "select"]  # fmt: skip
    assert select == ["SELECT DISTINCT ?this\nWHERE {\n    ?anyS ?anyP ?this .\n}"]  # attributes keep their text


def test_vocabulary_stats(shacl, dash):
    for kg in (shacl, dash):
        stats = graph_stats(kg)
        assert stats["entities"] > 200 and stats["relations"] > 10 and stats["label_coverage"] > 0.4
