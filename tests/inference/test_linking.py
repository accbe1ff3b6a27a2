"""Grounding questions: explicit topics, linking, and the typed errors users see."""

from __future__ import annotations

import numpy as np
import pytest

from kgpeft.data import EntityLinker
from kgpeft.inference import LinkingError, NoTopicError, UnknownEntityError, resolve_topic
from kgpeft.inference.linking import unlinked_mention


@pytest.fixture(scope="module")
def linker(world):
    return EntityLinker(world)


def test_linked_and_given_topics(world, linker):
    assert resolve_topic(world, linker, "Which region is Germany in?").label == "Germany"
    assert resolve_topic(world, linker, "Where is Deutschland?").method == "alias"
    given = resolve_topic(world, linker, "anything", "http://example.org/world/France")
    assert (given.label, given.method) == ("France", "given")
    assert resolve_topic(world, linker, "anything", "czech republic").label == "Czechia"
    japan = world.entity_by_label("Japan")
    assert resolve_topic(world, linker, "anything", japan).label == "Japan"
    assert resolve_topic(world, linker, "anything", np.int64(japan)).iri == "http://example.org/world/Japan"


def test_entity_not_in_the_graph_says_so_and_suggests_labels(world, linker):
    with pytest.raises(UnknownEntityError) as caught:
        resolve_topic(world, linker, "Which region is Narnia in?")
    assert caught.value.name == "Narnia" and caught.value.suggestions
    assert "'Narnia' is not an entity of the knowledge graph" in str(caught.value)
    assert "nearest labels:" in str(caught.value)
    with pytest.raises(UnknownEntityError, match="nearest labels: Germany"):
        resolve_topic(world, linker, "anything", "Germanyy")


def test_question_without_any_entity_asks_for_topic(world, linker):
    with pytest.raises(NoTopicError, match="--topic"):
        resolve_topic(world, linker, "what is the largest one?")
    with pytest.raises(LinkingError, match="out of range"):
        resolve_topic(world, linker, "x", 10_000)


def test_ambiguity_is_reported(world, linker):
    choice = resolve_topic(world, linker, "Which region is Georgia in?")
    assert choice.ambiguous and choice.label.startswith("Georgia")
    assert len(choice.alternatives) == 1 and choice.alternatives[0].startswith("Georgia")
    given = resolve_topic(world, linker, "x", "georgia")
    assert given.ambiguous and given.alternatives


@pytest.mark.parametrize(
    ("question", "mention"),
    [
        ("Which region is New Atlantis in?", "New Atlantis"),
        ("What is the capital of the Kingdom of Narnia?", "Kingdom of Narnia"),
        ("Where is Narnia?", "Narnia"),
        ("what is the largest country?", None),
        ("Which is the largest country?", None),
    ],
)
def test_unlinked_mention(question, mention):
    assert unlinked_mention(question) == mention


def test_a_named_entity_wins_over_a_common_noun(tmp_path):
    from kgpeft.kg import load_graph

    path = tmp_path / "classes.ttl"
    path.write_text(
        "@prefix : <http://example.org/> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        ':country rdfs:label "country" .\n:France rdfs:label "France" ; a :country .\n'
    )
    kg = load_graph(path)
    linker = EntityLinker(kg)
    choice = resolve_topic(kg, linker, "Which country borders France?")
    assert choice.label == "France" and not choice.ambiguous
    # A name the graph lacks is reported, not answered through the class a common noun links to.
    with pytest.raises(UnknownEntityError, match="'Atlantis' is not an entity"):
        resolve_topic(kg, linker, "Which country is Atlantis in?")
    with pytest.raises(UnknownEntityError, match=r"'Frnace' is not an entity.*nearest labels: France"):
        resolve_topic(kg, linker, "Which country borders Frnace?")
    assert resolve_topic(kg, linker, "which country is this?").label == "country"  # no name: the noun it is
