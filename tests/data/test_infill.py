from __future__ import annotations

from kgpeft.data.infill import (
    DESCRIPTION_END,
    ENTITY_END,
    ENTITY_START,
    MASK,
    SHOWN_FACTS,
    build_infill_questions,
    entity_knowledge,
    is_question_row,
    shown_facts,
)
from kgpeft.data.render import render_example
from kgpeft.data.verbalise import Verbaliser
from tests.data.conftest import WORLD_TRIPLES, FakeKG


def test_description_then_the_shown_facts_it_does_not_mention(world):
    germany, france = world.entity_by_label("Germany"), world.entity_by_label("France")
    knowledge = entity_knowledge(world, germany)
    assert knowledge.startswith("Germany is a country in Western Europe with capital Berlin. ")
    facts = shown_facts(world, germany, Verbaliser(world))
    assert 0 < len(facts) <= SHOWN_FACTS
    for fact in facts:
        named = world.entity_label(fact.other)
        # a fact the description already states is not repeated; every other shown fact is added
        assert (fact.sentence in knowledge) != (named in "Western Europe with capital Berlin")
    assert "The capital of France is Paris." in entity_knowledge(world, france)


def test_shown_facts_are_the_specific_ones():
    triples = [(f"c{i}", "type", "country") for i in range(60)] + [("c0", "capital", "Town"), ("c0", "in", "Region")]
    triples += [(f"c{i}", "in", "Region") for i in range(1, 5)]
    kg = FakeKG(triples)
    c0 = kg.entity_by_label("c0")
    sentences = [f.sentence for f in shown_facts(kg, c0, Verbaliser(kg))]
    # capital (1 entity has it) before "in Region" (5 share it); "type country" (60 of 63 share it) never shown
    assert sentences == ["The capital of c0 is Town.", sentences[1]] and "Region" in sentences[1]
    assert kg.entity_by_label("country") not in {f.other for f in shown_facts(kg, c0, Verbaliser(kg))}


def test_infill_rows_mark_the_entity_and_mask_shown_facts(world):
    questions = build_infill_questions(world, range(world.num_entities), 12, seed=1)
    assert len(questions) == 12 and len({q.id for q in questions}) == 12
    for q in questions:
        assert q.kind == "infill" and q.split == "train" and q.gold_paths == ()
        assert f"{ENTITY_START} {world.entity_label(q.topic)} {ENTITY_END}" in q.question
        messages, completion = render_example(world, q)
        assert ENTITY_START in messages[0]["content"] and messages[1]["content"] == q.question
        if q.answers:  # masked mention or question: the target names every entity the fact's step reaches
            assert (MASK in q.question) != is_question_row(q)
            assert completion == ", ".join(world.entity_label(e) for e in q.answers) + f" {DESCRIPTION_END}"
        else:
            assert MASK not in q.question
            assert completion == f"{entity_knowledge(world, q.topic)} {DESCRIPTION_END}"
    # every masked target is a true fact of the row's entity: the masked sentence never has two targets
    by_prompt = {}
    for q in questions:
        assert by_prompt.setdefault(q.question, q.answers) == q.answers
    assert questions == build_infill_questions(world, range(world.num_entities), 12, seed=1)
    # each fact shown in a masked sentence is also asked as a question, with the same target
    masked = {(q.topic, q.answers) for q in questions if MASK in q.question}
    asked = {(q.topic, q.answers) for q in questions if is_question_row(q)}
    assert asked and masked and len(asked & masked) >= len(masked) - 1  # the last entity's rows may be cut short


def test_entities_without_knowledge_are_passed_over():
    kg = FakeKG(WORLD_TRIPLES, entities=["Atlantis"])
    atlantis = kg.entity_by_label("Atlantis")
    assert entity_knowledge(kg, atlantis) is None
    assert build_infill_questions(kg, [atlantis], 1) == []
