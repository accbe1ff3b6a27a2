"""The knowledge measures (closed-book facts, disambiguation, free hallucination) and the invented isles graph."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

import kgpeft
from kgpeft.data import DataConfig, build_questions
from kgpeft.data.infill import infill_completion
from kgpeft.evaluation import ProbeSettings, knowledge
from kgpeft.evaluation.knowledge import (
    DisambiguationItem,
    answer_matches,
    build_knowledge_probes,
    disambiguation_accuracy,
    knowledge_metrics,
    names_entity,
)

ROOT = Path(__file__).resolve().parents[2]
ISLES = ROOT / "kg" / "isles.ttl"
SMALL = {"num_paths": 2, "max_hops": 1, "load_in_4bit": False}


@pytest.fixture(scope="module")
def isles():
    from kgpeft.kg import load_graph

    return load_graph(ISLES)


@pytest.fixture(scope="module")
def isles_train(isles):
    # Enough infilled entities (7 rows each) for 30 disambiguation items
    return build_questions(isles, DataConfig(num_questions=200, infill_ratio=2.0)).split("train")


def test_the_shipped_isles_graph_is_what_its_seeded_generator_writes(tmp_path):
    out = tmp_path / "isles.ttl"
    subprocess.run(
        [sys.executable, "examples/build_isles_kg.py", "-o", str(out)], cwd=ROOT, check=True, capture_output=True
    )
    assert out.read_bytes() == ISLES.read_bytes()


def test_isles_has_namesakes_relations_and_descriptions(isles):
    assert 250 <= isles.num_entities <= 400
    assert {isles.relation_label(r) for r in range(isles.num_relations)} >= {"born in", "member of", "captain of"}
    shared = {
        name
        for e in range(isles.num_entities)
        for name in isles.entity_aliases(e)
        if len(isles.entities_by_name(name)) > 1
    }
    assert len(shared) >= 30  # full names (and their initials) carried by two or three people
    described = [e for e in range(isles.num_entities) if isles.entity_description(e)]
    assert len(described) >= 250


def test_closed_book_items_are_split_by_what_the_infilling_rows_stated(isles, isles_train):
    probes = build_knowledge_probes(isles, isles_train, count=40)
    assert probes.trained == "infilling rows" and len(probes.closed_book) == 40
    shown: dict[int, str] = {}
    for q in isles_train:
        if q.kind == "infill":
            shown[q.topic] = shown.get(q.topic, "") + q.question + infill_completion(isles, q.topic, q.answers)
    kinds = {item.infilled for item in probes.closed_book}
    assert kinds == {True, False}  # both halves are there
    for item in probes.closed_book:
        assert item.entity in shown
        stated = [isles.entity_label(a) in shown[item.entity] for a in item.answers]
        assert all(stated) if item.infilled else not any(stated)
        assert "type" not in item.question  # a fact most of the graph shares tells nothing
        label = isles.entity_label(item.entity)
        assert item.marked == item.question.replace(label, f"<ent> {label} </ent>", 1)
    assert probes == build_knowledge_probes(isles, isles_train, count=40)  # seeded


def test_closed_book_questions_avoid_the_infilling_rows_wordings(isles, isles_train, monkeypatch):
    asked = {q.question for q in isles_train if q.kind == "infill"}

    def recited() -> int:
        return sum(item.marked in asked for item in build_knowledge_probes(isles, isles_train, count=40).closed_book)

    avoided = recited()
    monkeypatch.setattr(knowledge, "WORDING_TRIES", 1)
    # Fewer items repeat a row's wording (those left: relations the verbaliser words only as the rows did)
    assert avoided < recited()


def test_without_infilling_rows_the_trained_entities_are_the_training_topics(isles):
    train = build_questions(isles, DataConfig(num_questions=200, infill_ratio=0)).split("train")
    probes = build_knowledge_probes(isles, train, count=20)
    topics = {q.topic for q in train}
    assert probes.trained == "training questions' topics"
    assert probes.closed_book and all(item.entity in topics for item in probes.closed_book)


def test_a_disambiguation_context_states_what_no_candidate_description_says(isles, isles_train):
    probes = build_knowledge_probes(isles, isles_train, count=64)
    assert len(probes.disambiguation) >= 30
    for item in probes.disambiguation:
        assert len(item.candidates) >= 2 and len(set(item.candidates)) == len(item.candidates)
        context = item.messages[1]["content"]
        assert item.candidates[item.gold].startswith(isles.entity_description(item.entity))
        # the context's other entity appears in no candidate: only knowledge links the two
        others = [w for w in context.replace(".", "").split() if w not in ("<ent>", "</ent>")]
        assert not all(w in item.candidates[item.gold] for w in others)


def test_answers_match_a_label_its_plain_name_or_an_alias(isles):
    namesake = next(e for e in range(isles.num_entities) if isles.entity_label(e).endswith(")"))
    plain = isles.entity_aliases(namesake)[0]
    assert answer_matches(isles, f"It was {plain}.", [namesake])
    assert answer_matches(isles, isles.entity_label(namesake).upper(), [namesake])
    assert not answer_matches(isles, "Nobody knows", [namesake])
    assert names_entity(isles, plain) and not names_entity(isles, "Atlantis") and not names_entity(isles, "")
    assert knowledge._answer_line("<path> A -> born in -> Skonus </path>\nmore") == "Skonus"
    assert knowledge._answer_line("<path> Zobas <- located on <- The Skesk") == "The Skesk"
    assert knowledge._answer_line("Skonus </ent_desc>") == "Skonus"


def test_disambiguation_accuracy_follows_the_scores(monkeypatch, tiny_tokenizer):
    items = [DisambiguationItem(0, [{"role": "user", "content": "x"}], ("a </ent_desc>", "b </ent_desc>"), 1)] * 4
    monkeypatch.setattr(knowledge, "completion_log_probs", lambda model, tok, examples: [-9.0, -1.0] * 4)
    assert disambiguation_accuracy(None, tiny_tokenizer, items) == (1.0, 0.5)
    monkeypatch.setattr(knowledge, "completion_log_probs", lambda model, tok, examples: [-1.0, -9.0] * 4)
    assert disambiguation_accuracy(None, tiny_tokenizer, items) == (0.0, 0.5)
    assert disambiguation_accuracy(None, tiny_tokenizer, []) == (None, None)


def test_knowledge_metrics_on_a_tiny_model(tiny_model, tiny_tokenizer, isles, isles_train):
    from kgpeft.inference import KGReasoner

    probes = build_knowledge_probes(isles, isles_train, count=6)
    metrics = knowledge_metrics(KGReasoner(tiny_model, tiny_tokenizer, isles), probes, max_hops=1)
    shares = ("closed_book_infilled", "closed_book_other", "closed_book_plain_infilled", "closed_book_plain_other")
    for key in (*shares, "free_non_entity", "free_path_correct", "disambiguation"):
        assert 0.0 <= metrics[key] <= 1.0
    assert (
        metrics["free_hallucinated_hops"] >= 0 and math.isfinite(metrics["general_ppl"]) and metrics["general_ppl"] > 1
    )
    accuracy, n = metrics["disambiguation"], len(probes.disambiguation)
    adjusted = (accuracy * n + 2) / (n + 4)  # Agresti-Coull: never 0, even when every item is right
    assert metrics["disambiguation_se"] == pytest.approx(math.sqrt(adjusted * (1 - adjusted) / (n + 4)))
    assert 0 < metrics["disambiguation_chance"] <= 0.5


def test_eval_measures_knowledge_for_each_reasoning_system_and_reports_it(tmp_path, make_adapter):
    adapter = make_adapter(tmp_path / "student")
    probes = ProbeSettings(fact_probes=0, retention_tokens=0, knowledge=4)
    result = kgpeft.evaluate(adapter, limit=2, compare=["base", "unconstrained"], probes=probes, **SMALL)
    by_name = {r.name: r.metrics for r in result.results}
    assert "closed_book_infilled" in by_name["student"] and "closed_book_infilled" in by_name["base"]
    assert "closed_book_infilled" not in by_name["unconstrained"]  # the student again: measured once
    assert "closed-book" in result.files["report.md"].read_text()
    off = kgpeft.evaluate(adapter, limit=1, compare=["base"], probes=ProbeSettings(knowledge=0), **SMALL)
    assert all("closed_book_other" not in r.metrics for r in off.results)
