"""Two different relation paths reach the same answer: the gnn and oracle teachers give both mass.

On ``twins.ttl`` every person was born in and lives in the same city, so "Where is X
from?" has two gold paths, ``born in`` and ``lives in``. The test topics are people no
training question is about.
"""

from __future__ import annotations

import pytest

from kgpeft.data import Question
from kgpeft.teachers import get_teacher

TRAIN_PEOPLE = ("Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hal")
TEST_PEOPLE = ("Ivy", "Jon")


def people_questions(kg, names: tuple[str, ...], split: str) -> list[Question]:
    born, lives, works = (kg.relation_by_label(label) for label in ("born in", "lives in", "works for"))
    questions = []
    for name in names:
        topic = kg.entity_by_label(name)
        city = tuple(kg.execute(topic, (born,)).tolist())
        employer = tuple(kg.execute(topic, (works,)).tolist())
        questions += [
            Question(f"from-{name}", f"Where is {name} from?", topic, city, ((born,), (lives,)), split),
            Question(f"works-{name}", f"Who does {name} work for?", topic, employer, ((works,),), split),
        ]
    return questions


@pytest.fixture(scope="module")
def twin_paths(twins):
    return (twins.relation_by_label("born in"),), (twins.relation_by_label("lives in"),)


@pytest.mark.parametrize("name", ["gnn", "oracle"])
def test_both_paths_get_mass(name, twins, twin_paths, teacher_options):
    more_epochs = {"epochs": 15} if name == "gnn" else {}
    teacher = get_teacher(name, **{**teacher_options(name), **more_epochs})
    teacher.fit(twins, people_questions(twins, TRAIN_PEOPLE, "train"))
    for question in people_questions(twins, TEST_PEOPLE, "test"):
        if not question.id.startswith("from-"):
            continue
        dist = teacher.predict(question)
        probs = dict(zip(dist.paths, dist.probs, strict=True))
        assert probs.get(twin_paths[0], 0.0) > 0.2 and probs.get(twin_paths[1], 0.0) > 0.2, probs
        assert dist.top_answer() == question.answers[0]


def test_oracle_splits_mass_evenly_between_equally_good_paths(twins, twin_paths):
    teacher = get_teacher("oracle", max_hops=2)
    teacher.fit(twins, [])
    dist = teacher.predict(people_questions(twins, ("Ivy",), "test")[0])
    probs = dict(zip(dist.paths, dist.probs, strict=True))
    assert probs[twin_paths[0]] == pytest.approx(probs[twin_paths[1]])
    assert set(dist.paths[:2]) == set(twin_paths)
