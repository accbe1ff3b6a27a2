from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest

from kgpeft.data.questions import Question, QuestionSet, synthesize_questions
from kgpeft.data.splits import assign_splits
from kgpeft.data.verbalise import Phrasing, Verbaliser, classify
from kgpeft.errors import DataError
from tests.data.conftest import WORLD_TRIPLES, FakeKG


def test_every_gold_path_executes_to_exactly_its_answers(world):
    questions = synthesize_questions(world, max_hops=3)
    assert questions
    for q in questions:
        for path in q.gold_paths:
            assert tuple(world.execute(q.topic, path).tolist()) == q.answers
        assert q.topic not in q.answers
        assert 1 <= len(q.gold_paths[0]) <= 3


def test_no_immediate_reversals_or_symmetric_twins(world):
    questions = synthesize_questions(world, max_hops=3)
    for q in questions:
        path = q.gold_paths[0]
        assert all(b != world.inverse_step(a) for a, b in itertools.pairwise(path))
    neighbor = world.relation_by_label("neighbor of")
    # "neighbor of" is symmetric: its backward twin gives the same answers and is left out.
    assert not any(world.inverse_step(neighbor) in q.gold_paths[0] for q in questions)


def test_synthesis_is_deterministic_and_distinct(world):
    first = synthesize_questions(world, seed=3)
    assert first == synthesize_questions(world, seed=3)
    assert len({q.question for q in first}) == len(first)
    assert len({q.id for q in first}) == len(first)
    assert [q.question for q in first] != [q.question for q in synthesize_questions(world, seed=4)]


def test_caps_balance_patterns_and_hops(world):
    questions = synthesize_questions(world, questions_per_pattern=2, num_questions=30)
    assert len(questions) == 30
    assert max(Counter(q.gold_paths[0] for q in questions).values()) <= 2
    hops = Counter(len(q.gold_paths[0]) for q in questions)
    assert set(hops) == {1, 2, 3} and max(hops.values()) - min(hops.values()) <= 1


def test_max_answers_and_uninformative_patterns(world):
    for q in synthesize_questions(world, max_answers=2):
        assert len(q.answers) <= 2
    # Eleven of twelve people live in Springfield: "Where does X live?" hardly depends on X.
    town = FakeKG([(f"P{i}", "lives in", "Springfield" if i else "Shelbyville") for i in range(12)])
    forward = {q.topic for q in synthesize_questions(town, max_answer_share=1.0) if q.gold_paths == ((0,),)}
    assert len(forward) == 12
    assert not any(q.gold_paths == ((0,),) for q in synthesize_questions(town, max_answer_share=0.9))


@pytest.mark.parametrize(
    ("label", "form", "phrase"),
    [
        ("located in", "passive", "located in"),
        ("born in", "passive", "born in"),
        ("neighbor of", "noun_of", "a neighbor of"),
        ("instance of", "noun_of", "an instance of"),
        ("is part of", "noun_of", "a part of"),
        ("flows into", "verb", "flows into"),
        ("borders", "verb", "borders"),
        ("capital", "noun", "capital"),
        ("has capital", "noun", "capital"),
        ("official language", "noun", "official language"),
    ],
)
def test_relation_labels_are_classified(label, form, phrase):
    assert classify(label) == Phrasing(form, phrase)


def test_generic_questions_read_as_english(world):
    v = Verbaliser(world)
    located_in, capital = world.relation_by_label("located in"), world.relation_by_label("capital")
    neighbor = world.relation_by_label("neighbor of")
    forward = {v.question("Germany", (located_in,), random.Random(i)) for i in range(20)}
    assert forward == {
        "What is Germany located in?",
        "Germany is located in what?",
        "Which entity is Germany located in?",
    }
    inverse = v.question("Western Europe", (world.inverse_step(located_in),), random.Random(0))
    assert inverse in {
        "What is located in Western Europe?",
        "Which entities are located in Western Europe?",
        "Name everything that is located in Western Europe.",
    }
    chained = v.question("Germany", (neighbor, located_in), random.Random(0))
    assert chained in {
        "Germany is a neighbor of something that is located in what?",
        "Germany is a neighbor of an entity that is located in what?",
    }
    nested = v.question("Germany", (capital,), random.Random(0))
    assert "capital" in nested and "Germany" in nested


def test_templates_replace_the_generic_question(world):
    located_in = world.relation_by_label("located in")
    templates = {"located in": {"forward": ("Which region is {topic} in?",)}}
    v = Verbaliser(world, templates)
    assert v.question("Germany", (located_in,), random.Random(0)) == "Which region is Germany in?"
    iri_wins = {**templates, world.relation_iri(located_in): {"forward": ("Where is {topic}?",)}}
    assert Verbaliser(world, iri_wins).question("Germany", (located_in,), random.Random(0)) == "Where is Germany?"


def test_templates_from_the_graph_and_checked(world):
    located_in = world.relation_by_label("located in")
    template = "https://kgpeft.dev/ns#questionTemplate"
    kg = FakeKG(WORLD_TRIPLES, relation_literals={("located in", template): ["In which region is {topic}?"]})
    assert Verbaliser(kg).question("Germany", (located_in,), random.Random(0)) == "In which region is Germany?"
    file_wins = {"located in": {"forward": ("Where is {topic}?",)}}
    assert Verbaliser(kg, file_wins).question("Germany", (located_in,), random.Random(0)) == "Where is Germany?"
    bad = FakeKG(WORLD_TRIPLES, relation_literals={("located in", template): ["Where is {place}?"]})
    with pytest.raises(DataError, match=r"located_in in the graph: template 'Where is \{place\}"):
        Verbaliser(bad)


def test_splits_are_disjoint_by_topic_and_seeded(world):
    questions = synthesize_questions(world)
    split = assign_splits(questions, seed=1)
    assert [q.id for q in split] == [q.id for q in questions]
    topics = {name: {q.topic for q in split if q.split == name} for name in ("train", "validation", "test")}
    assert all(topics.values())
    assert not topics["train"] & topics["test"] and not topics["train"] & topics["validation"]
    assert not topics["validation"] & topics["test"]
    assert split == assign_splits(questions, seed=1)
    assert split != assign_splits(questions, seed=2)
    with pytest.raises(ValueError, match="test_ratio"):
        assign_splits(questions, test_ratio=0.95)


def test_question_set_splits_and_dataset(world):
    qs = QuestionSet(assign_splits(synthesize_questions(world)), kg_sha256=world.sha256)
    ds = qs.to_dataset()
    assert set(ds) == {"train", "validation", "test"}
    assert sum(ds[name].num_rows for name in ds) == len(qs)
    row = ds["test"][0]
    assert row["split"] == "test" and row["gold_paths"] == [list(p) for p in qs.split("test")[0].gold_paths]
    with pytest.raises(ValueError, match="split"):
        qs.split("dev")


def test_dataset_round_trip_with_empty_splits_and_no_topic():
    qs = QuestionSet(
        [Question("a", "Who?", None, (), (), "train"), Question("b", "Q", 3, (4,), ((0, 1),), "train")], "x"
    )
    ds = qs.to_dataset()
    assert ds["test"].num_rows == 0 and ds["test"].column_names == ds["train"].column_names
    assert QuestionSet.from_dataset(ds, "x").questions == qs.questions
