"""``fit_teacher``: a fitted teacher is reused while its graph, questions and config are unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from kgpeft.teachers.cache import fit_teacher


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KGPEFT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _no_fit(*args, **kwargs):
    raise AssertionError("the teacher was refitted instead of loaded from the cache")


def test_second_fit_loads_the_same_teacher(world, world_questions, teacher_options, fresh_cache, monkeypatch):
    train, validation = world_questions.split("train"), world_questions.split("validation")
    first = fit_teacher("gnn", world, train, validation, **teacher_options("gnn"))
    assert len(list((fresh_cache / "teachers").iterdir())) == 1

    from kgpeft.teachers.gnn import GNNTeacher

    monkeypatch.setattr(GNNTeacher, "fit", _no_fit)
    second = fit_teacher("gnn", world, train, validation, **teacher_options("gnn"))
    assert second.metrics == first.metrics
    for question in validation:
        a, b = first.predict(question), second.predict(question)
        assert a.paths == b.paths
        np.testing.assert_allclose(a.log_probs, b.log_probs, atol=1e-5)


@pytest.mark.parametrize("change", ["config", "questions"])
def test_a_change_refits(world, world_questions, teacher_options, fresh_cache, change):
    train, validation = world_questions.split("train"), world_questions.split("validation")
    fit_teacher("oracle", world, train, validation, max_hops=2)
    if change == "config":
        fit_teacher("oracle", world, train, validation, max_hops=2, top_n=3)
    else:
        fit_teacher("oracle", world, train[:-1], validation, max_hops=2)
    assert len(list((fresh_cache / "teachers").iterdir())) == 2


def test_no_cache_writes_nothing(world, world_questions, fresh_cache):
    fit_teacher("oracle", world, world_questions.split("train"), cache=False, max_hops=2)
    assert not any((fresh_cache / "teachers").iterdir())
