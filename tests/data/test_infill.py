from __future__ import annotations

from kgpeft.data.infill import (
    DESCRIPTION_END,
    ENTITY_END,
    ENTITY_START,
    build_infill_questions,
    entity_knowledge,
)
from kgpeft.data.render import render_example
from tests.data.conftest import WORLD_TRIPLES, FakeKG


def test_description_first_else_verbalised_facts(world):
    germany, france = world.entity_by_label("Germany"), world.entity_by_label("France")
    assert entity_knowledge(world, germany) == "Germany is a country in Western Europe with capital Berlin."
    facts = entity_knowledge(world, france)
    assert facts.startswith("The capital of France is Paris.") or "France is located in Western Europe." in facts
    assert "The population of France is 67000000." in facts or facts.count(".") == 8


def test_infill_examples_mark_the_entity_and_end_with_the_marker(world):
    questions = build_infill_questions(world, range(world.num_entities), 5, seed=1)
    assert len(questions) == 5 and len({q.topic for q in questions}) == 5
    for q in questions:
        assert q.kind == "infill" and q.split == "train" and q.answers == () and q.gold_paths == ()
        assert f"{ENTITY_START} {world.entity_label(q.topic)} {ENTITY_END}" in q.question
        messages, completion = render_example(world, q)
        assert ENTITY_START in messages[0]["content"] and messages[1]["content"] == q.question
        assert completion == f"{entity_knowledge(world, q.topic)} {DESCRIPTION_END}"
    assert questions == build_infill_questions(world, range(world.num_entities), 5, seed=1)


def test_entities_without_knowledge_are_passed_over():
    kg = FakeKG(WORLD_TRIPLES, entities=["Atlantis"])
    atlantis = kg.entity_by_label("Atlantis")
    assert entity_knowledge(kg, atlantis) is None
    assert build_infill_questions(kg, [atlantis], 1) == []
