"""Systems behind one interface, and evaluate() end to end on the tiny model, an oracle teacher and a question file."""

from __future__ import annotations

import pytest

from kgpeft.data import load_question_file
from kgpeft.evaluation import ReasonerSystem, TeacherSystem, evaluate, link_questions
from kgpeft.evaluation.systems import ProbeSettings
from kgpeft.inference import KGReasoner

NO_PROBES = ProbeSettings(fact_probes=0, retention_tokens=0)


@pytest.fixture(scope="module")
def questions(world, question_file):
    return load_question_file(world, question_file, max_hops=2)


def test_link_questions_fills_missing_topics(world):
    from kgpeft.data import Question

    qs = [
        Question("a", "What is the capital of France?", None, (), (), ""),
        Question("b", "What is the capital of Narnia?", None, (), (), ""),
    ]
    linked = link_questions(world, qs)
    assert world.entity_label(linked[0].topic) == "France"
    assert linked[1].topic is None


def test_oracle_teacher_system_is_perfect_on_labelled_questions(world, questions):
    from kgpeft.teachers import get_teacher

    teacher = get_teacher("oracle", max_hops=2)
    teacher.fit(world, [])
    metrics = evaluate(TeacherSystem(teacher), questions, world)
    assert metrics["hits@1"] == 1.0 and metrics["f1"] == 1.0 and metrics["path_validity"] == 1.0
    assert metrics["labelled"] == 4 and metrics["questions"] == 5


def test_reasoner_system_constrained_is_fully_valid(world, questions, tiny_model, tiny_tokenizer):
    reasoner = KGReasoner(tiny_model, tiny_tokenizer, world)
    done = []
    system = ReasonerSystem(
        "base", reasoner, adapter=None, num_paths=2, max_hops=2, batch_size=3, probe_settings=NO_PROBES
    )
    metrics = evaluate(system, questions, world, progress=done.append)
    assert done == [3, 2]
    assert metrics["path_validity"] == 1.0 and metrics["unlinked"] == 0
    assert 0.0 <= metrics["hits@1"] <= 1.0 and metrics["latency_s"] > 0


def test_adapter_systems_switch_adapters(world, questions, tmp_path, make_adapter):
    from kgpeft.inference.loading import load_model

    student = make_adapter(tmp_path / "student", seed=1)
    other = make_adapter(tmp_path / "other", alpha=1.0, seed=2)
    loaded = load_model([student, other])
    (student_name, _), (other_name, _) = loaded.adapters
    reasoner = KGReasoner(loaded.model, loaded.tokenizer, world)
    probes = ProbeSettings(fact_probes=2, retention_tokens=32)
    systems = {
        name: ReasonerSystem(name, reasoner, adapter=adapter, num_paths=2, max_hops=1, probe_settings=probes)
        for name, adapter in (("student", student_name), ("other", other_name), ("base", None))
    }
    kls = {name: system.probes(world)["retention_kl"] for name, system in systems.items()}
    assert kls["base"] == 0.0 and kls["student"] > 0 and kls["other"] > 0 and kls["student"] != kls["other"]
    assert loaded.model.active_adapters == [student_name]  # restored after each system ran
    metrics = evaluate(systems["other"], questions[:2], world, probes=False)
    assert metrics["path_validity"] == 1.0


def test_routed_system_counts_questions_sent_to_another_domain_as_misses(
    world, elements_path, questions, tiny_model, tiny_tokenizer
):
    import dataclasses

    from kgpeft.evaluation import RoutedSystem
    from kgpeft.inference import KGReasoner
    from kgpeft.kg import load_graph

    home = ReasonerSystem(
        "student", KGReasoner(tiny_model, tiny_tokenizer, world), adapter=None, num_paths=2, max_hops=1
    )
    other = KGReasoner(tiny_model, tiny_tokenizer, load_graph(elements_path))
    routed = RoutedSystem("routed", home, [("world", home.reasoner), ("elements", other)])
    # The same topic and answers, but worded about an element: routing (by text alone) sends it away
    question = questions[0]
    away = dataclasses.replace(question, question="Which group is Helium in?")
    alone, at_home, sent_away = home.predict([question])[0], *routed.predict([question, away])
    assert at_home.top_answer == alone.top_answer and at_home.top_path == alone.top_path
    assert sent_away.top_answer is None and sent_away.path_validity == ()
    assert routed.probes(world) == {"misrouted": 0.5}


def test_a_reasoner_system_answers_a_question_once(world, questions, tiny_model, tiny_tokenizer, monkeypatch):
    reasoner = KGReasoner(tiny_model, tiny_tokenizer, world)
    system = ReasonerSystem("student", reasoner, adapter=None, num_paths=2, max_hops=1, probe_settings=NO_PROBES)
    calls = []
    ask_batch = reasoner.ask_batch
    monkeypatch.setattr(reasoner, "ask_batch", lambda qs, *a, **k: calls.append(len(qs)) or ask_batch(qs, *a, **k))
    first = system.predict(questions[:3])
    again = system.predict(questions[:4])  # as a RoutedSystem asks for the questions routed home
    assert calls == [3, 1]
    assert again[:3] == first
