"""Teachers by name: lookup, options, errors, and registering a new one."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kgpeft.errors import TeacherError
from kgpeft.teachers import PathDistribution, PathTeacher, available_teachers, get_teacher, register_teacher, registry


def test_builtin_teachers_are_registered():
    assert {"gnn", "llm", "oracle"} <= set(available_teachers())


def test_options_set_config_fields():
    teacher = get_teacher("gnn", hidden_dim=8, epochs=2)
    assert (teacher.config.hidden_dim, teacher.config.epochs, teacher.name) == (8, 2, "gnn")


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("nope", {}, "unknown teacher 'nope'; available: gnn, llm, oracle"),
        ("gnn", {"temperature": 2.0}, "has no option temperature"),
        ("gnn", {"max_hops": 0}, "max_hops must be >= 1"),
        ("oracle", {"temperature": 0.0}, "temperature must be > 0"),
    ],
)
def test_bad_requests_are_teacher_errors(name, options, message):
    with pytest.raises(TeacherError, match=message):
        get_teacher(name, **options)


def test_a_new_teacher_is_one_class_and_one_decorator(monkeypatch, world):
    monkeypatch.setattr(registry, "_TEACHERS", dict(registry._TEACHERS))

    @register_teacher("first-step")
    class FirstStepTeacher(PathTeacher):
        """Always the topic's first step."""

        def fit(self, kg, questions: Sequence, validation=None) -> dict[str, float]:
            self.kg = kg
            return {}

        def predict(self, question) -> PathDistribution:
            kg = self.require_kg()
            topic = self.require_topic(question)
            return PathDistribution.from_scores(kg, topic, [(int(kg.steps_from(topic)[0]),)], [0.0])

    assert "first-step" in available_teachers()
    teacher = get_teacher("first-step")
    teacher.fit(world, [])
    with pytest.raises(ValueError, match="already registered"):
        register_teacher("first-step")(type("Other", (FirstStepTeacher,), {}))
