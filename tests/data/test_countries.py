"""Integration: kgpeft.data on real graphs loaded by kgpeft.kg (kg/countries.ttl and a small Turtle file)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from kgpeft.data import DataConfig, EntityLinker, build_questions, render_example

load_graph = getattr(pytest.importorskip("kgpeft.kg"), "load_graph", None)
if load_graph is None:
    pytest.skip("kgpeft.kg (issue 3) has not landed yet", allow_module_level=True)

COUNTRIES = Path(__file__).resolve().parents[2] / "kg" / "countries.ttl"


@pytest.fixture(scope="module")
def countries():
    return load_graph(COUNTRIES)


@pytest.fixture(scope="module")
def countries_questions(countries):
    start = time.perf_counter()
    questions = build_questions(countries, DataConfig(seed=0))
    questions.config["build_seconds"] = time.perf_counter() - start
    return questions


def test_at_least_2000_distinct_questions_balanced_over_1_to_3_hops(countries_questions):
    questions = [q for q in countries_questions if q.kind == "path"]
    assert len({q.question for q in questions}) >= 2000
    hops = Counter(len(q.gold_paths[0]) for q in questions)
    assert set(hops) == {1, 2, 3}
    assert min(hops.values()) >= 0.5 * max(hops.values())
    assert countries_questions.config["build_seconds"] < 60


def test_every_gold_path_executes_to_exactly_its_answers(countries, countries_questions):
    for q in countries_questions:
        for path in q.gold_paths:
            assert tuple(countries.execute(q.topic, path).tolist()) == q.answers, q.question


def test_no_topic_entity_is_shared_across_splits(countries_questions):
    topics = {name: {q.topic for q in countries_questions.split(name)} for name in ("train", "validation", "test")}
    assert all(topics.values())
    assert not (topics["train"] & topics["validation"] or topics["train"] & topics["test"])
    assert not topics["validation"] & topics["test"]


def test_same_seed_same_questions(countries, countries_questions):
    assert build_questions(countries, DataConfig(seed=0)).questions == countries_questions.questions


def test_linker_top1_accuracy_on_synthesised_topics(countries, countries_questions):
    linker = EntityLinker(countries)
    questions = [q for q in countries_questions if q.kind == "path"]
    correct = sum((top := linker.link(q.question).top) is not None and top.entity == q.topic for q in questions)
    assert correct / len(questions) >= 0.95


def test_completions_render_and_parse_back(countries, countries_questions):
    from kgpeft.data import parse_completion

    for q in countries_questions.split("test")[:200]:
        _, completion = render_example(countries, q)
        (path,) = parse_completion(completion)
        assert path[0] == countries.entity_label(q.topic)
        assert path[-1] in {countries.entity_label(a) for a in q.answers}


SMALL_TTL = """\
@prefix : <http://example.org/> .
@prefix kgp: <https://kgpeft.dev/ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

:bornIn rdfs:label "born in" ;
    kgp:questionTemplate "Where was {topic} born?" ;
    kgp:inverseQuestionTemplate "Who was born in {topic}?" .
:ada rdfs:label "Ada Lovelace" ; rdfs:comment "Ada Lovelace was a mathematician." ; :bornIn :london .
:alan rdfs:label "Alan Turing" ; :bornIn :london ; :knows :ada .
:london rdfs:label "London" ; :cityOf :uk .
:uk rdfs:label "United Kingdom" .
"""


def test_small_turtle_file_with_templates_in_the_graph(tmp_path):
    path = tmp_path / "small.ttl"
    path.write_text(SMALL_TTL)
    kg = load_graph(path)
    qs = build_questions(kg, DataConfig(test_ratio=0.0, validation_ratio=0.0, infill_ratio=1.0))
    texts = {q.question for q in qs}
    if hasattr(kg, "relation_literals"):  # the accessor asked of kgpeft.kg for templates in the graph
        assert "Where was Ada Lovelace born?" in texts
        assert "Who was born in London?" in texts
    assert any("Ada Lovelace" in text for text in texts)
    infill = [q for q in qs if q.kind == "infill"]
    assert any(render_example(kg, q)[1].startswith("Ada Lovelace was a mathematician.") for q in infill)
