"""The tests every registered teacher must pass (PyKEEN ``tests/cases.py`` style).

Each registered teacher is fitted once on the world graph's training questions, then its
predictions on unseen topics are checked against the graph, and it is saved and reloaded.
A new teacher gets these tests by being registered.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kgpeft.data.render import path_answers
from kgpeft.errors import TeacherError
from kgpeft.evaluation import evaluate_teacher
from kgpeft.teachers import PathTeacher, available_teachers, get_teacher, load_teacher


@pytest.fixture(scope="module", params=available_teachers())
def fitted(request, world, world_questions, teacher_options) -> PathTeacher:
    teacher = get_teacher(request.param, **teacher_options(request.param))
    metrics = teacher.fit(world, world_questions.split("train"), validation=world_questions.split("validation"))
    assert isinstance(metrics, dict)
    return teacher


@pytest.fixture(scope="module")
def test_questions(world_questions):
    return world_questions.split("test")[:8]


def test_distributions_are_normalised_and_sorted(fitted, test_questions):
    for dist in fitted.predict_batch(test_questions):
        assert dist.paths, "every test topic has paths"
        assert len(dist.paths) <= fitted.config.top_n
        assert dist.probs.sum() == pytest.approx(1.0)
        assert list(dist.log_probs) == sorted(dist.log_probs, reverse=True)
        assert sum(dist.answers.values()) == pytest.approx(1.0)


def test_paths_are_valid_and_answers_follow_from_the_graph(fitted, world, test_questions):
    for question, dist in zip(test_questions, fitted.predict_batch(test_questions), strict=True):
        assert dist.topic == question.topic
        expected: dict[int, float] = {}
        for path, prob, ends in zip(dist.paths, dist.probs, dist.endpoints, strict=True):
            assert 1 <= len(path) <= fitted.max_hops
            assert world.path_is_valid(dist.topic, path)
            assert list(ends) == path_answers(world, dist.topic, path).tolist()
            for entity in ends:
                expected[entity] = expected.get(entity, 0.0) + prob / len(ends)
        assert dist.answers == pytest.approx(expected)
        assert dist.top_answer() == max(expected, key=expected.get)


def test_predict_matches_predict_batch(fitted, test_questions):
    batch = fitted.predict_batch(test_questions[:3])
    for question, dist in zip(test_questions[:3], batch, strict=True):
        single = fitted.predict(question)
        assert single.paths == dist.paths
        assert np.allclose(single.log_probs, dist.log_probs, atol=1e-5)


def test_save_load_round_trip(fitted, world, test_questions, tmp_path):
    folder = fitted.save(tmp_path / "teacher")
    loaded = load_teacher(folder, world)
    assert type(loaded) is type(fitted)
    assert loaded.config == fitted.config
    assert loaded.fingerprint() == fitted.fingerprint()
    for before, after in zip(fitted.predict_batch(test_questions), loaded.predict_batch(test_questions), strict=True):
        assert before.paths == after.paths
        assert np.allclose(before.log_probs, after.log_probs, atol=1e-5)


def test_loading_with_another_graph_fails(fitted, twins, tmp_path):
    folder = fitted.save(tmp_path / "teacher")
    with pytest.raises(TeacherError, match="another knowledge graph"):
        load_teacher(folder, twins)


def test_question_without_topic_is_refused(fitted, test_questions):
    with pytest.raises(TeacherError, match="no topic entity"):
        fitted.predict(dataclasses.replace(test_questions[0], topic=None))


def test_unanswered_question(fitted, test_questions):
    """Teachers other than the oracle label questions from the topic and text alone."""
    unanswered = dataclasses.replace(test_questions[0], answers=(), gold_paths=())
    if fitted.needs_answers:
        with pytest.raises(TeacherError, match="answers"):
            fitted.predict(unanswered)
    else:
        assert fitted.predict(unanswered).paths == fitted.predict(test_questions[0]).paths


def test_evaluation_metrics_are_rates(fitted, test_questions):
    metrics = evaluate_teacher(fitted, test_questions)
    for key in ("hits@1", "f1", "path_validity", "coverage"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["path_validity"] == 1.0
    assert metrics["questions"] == len(test_questions)


def test_unfitted_teacher_refuses_to_predict(fitted, teacher_options, test_questions):
    fresh = get_teacher(fitted.name, **teacher_options(fitted.name))
    with pytest.raises(TeacherError, match="not fitted"):
        fresh.predict(test_questions[0])
