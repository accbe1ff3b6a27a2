from __future__ import annotations

from kgpeft.data.linking import EntityLinker, normalize
from kgpeft.data.questions import synthesize_questions
from tests.data.conftest import WORLD_TRIPLES, FakeKG


def test_exact_label_and_alias_matches_ignore_case(world):
    linker = EntityLinker(world)
    top = linker.link("what is the capital of GERMANY?").top
    assert (top.label, top.method, top.score, top.mention) == ("Germany", "label", 1.0, "GERMANY")
    alias = linker.link("Where is the Federal Republic of Germany?").top
    assert (alias.label, alias.method, alias.mention) == ("Germany", "alias", "Federal Republic of Germany")


def test_longest_match_wins_over_its_parts(world):
    result = EntityLinker(world).link("What is located in Western Europe?")
    assert [c.label for c in result.candidates] == ["Western Europe"] and not result.ambiguous


def test_fuzzy_match_catches_typos_only_without_exact_matches(world):
    linker = EntityLinker(world)
    fuzzy = linker.link("What is the capital of Germny?")
    assert fuzzy.top.label == "Germany" and fuzzy.top.method == "fuzzy" and fuzzy.top.score < 0.9
    assert linker.link("Nothing to see here").candidates == []


def test_ambiguity_is_reported_not_guessed():
    kg = FakeKG(WORLD_TRIPLES, aliases={"Spain": ["Iberia"], "Portugal": ["Iberia"]})
    result = EntityLinker(kg).link("What is the capital of Iberia?")
    assert result.ambiguous and {c.label for c in result.candidates[:2]} == {"Spain", "Portugal"}
    two = EntityLinker(kg).link("Is France a neighbor of Spain?")
    assert two.ambiguous


def test_short_codes_match_only_with_their_case():
    kg = FakeKG(WORLD_TRIPLES, aliases={"Japan": ["IN"]})
    linker = EntityLinker(kg)
    assert linker.link("What is located in Eastern Asia?").top.label == "Eastern Asia"
    assert linker.link("Where is IN?").top.label == "Japan"


def test_suggest_nearest_labels(world):
    assert EntityLinker(world).suggest("Germny", k=2)[0] == "Germany"
    assert EntityLinker(world).suggest("", k=2) == []
    assert normalize("Côte d'Ivoire") == ("cote", "d", "ivoire")


def test_topics_of_synthesised_questions_are_linked(world):
    questions = synthesize_questions(world)
    linker = EntityLinker(world)
    correct = sum(linker.link(q.question).top.entity == q.topic for q in questions)
    assert correct / len(questions) >= 0.95
