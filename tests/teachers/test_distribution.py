"""PathDistribution arithmetic, and how distributions are scored (kgpeft.data.scoring), on hand-made ones."""

from __future__ import annotations

import pytest

from kgpeft.data import Question
from kgpeft.data.scoring import answer_f1, score_path_predictions
from kgpeft.teachers import PathDistribution


@pytest.fixture(scope="module")
def ids(world):
    step = {label: world.relation_by_label(label) for label in ("located in", "capital", "neighbor of")}
    entity = {label: world.entity_by_label(label) for label in ("Germany", "Western Europe", "Berlin", "Tokyo")}
    return step, entity


def test_from_scores_normalises_sorts_and_spreads_answers(world, ids):
    step, entity = ids
    paths = [(step["neighbor of"],), (step["located in"],)]
    dist = PathDistribution.from_scores(world, entity["Germany"], paths, [0.0, 1.0])
    assert dist.paths == ((step["located in"],), (step["neighbor of"],))
    assert dist.probs.sum() == pytest.approx(1.0)
    assert dist.top_answer() == entity["Western Europe"]
    assert dist.top_answers() == (entity["Western Europe"],)
    neighbours = world.execute(entity["Germany"], (step["neighbor of"],))
    assert dist.answers[int(neighbours[0])] == pytest.approx(dist.probs[1] / len(neighbours))


def test_paths_reaching_nothing_are_dropped(world, ids):
    step, entity = ids
    dist = PathDistribution.from_scores(world, entity["Berlin"], [(step["capital"],)], [0.0])
    assert dist.paths == () and dist.top_answer() is None and dist.top_answers() == ()


def test_answer_f1():
    assert answer_f1({1, 2}, {2, 3}) == pytest.approx(0.5)
    assert answer_f1(set(), {1}) == 0.0
    assert answer_f1({1}, {1}) == 1.0


def test_path_validity(world, ids):
    step, entity = ids
    assert world.path_is_valid(entity["Germany"], (step["located in"], step["located in"]))
    assert not world.path_is_valid(entity["Germany"], ())
    assert not world.path_is_valid(entity["Berlin"], (step["capital"],))
    assert not world.path_is_valid(entity["Germany"], (world.num_steps,))
    assert not world.path_is_valid(entity["Germany"], (-1,))


def test_score_path_predictions(world, ids):
    step, entity = ids
    right = Question("a", "Where is Germany?", entity["Germany"], (entity["Western Europe"],), (), "test")
    unlabelled = Question("b", "Where is Tokyo?", entity["Tokyo"], (), (), "test")
    predictions = [
        PathDistribution.from_scores(world, entity["Germany"], [(step["located in"],)], [0.0]),
        PathDistribution(topic=entity["Tokyo"]),
    ]
    metrics = score_path_predictions(world, [right, unlabelled], predictions)
    assert metrics == {
        "hits@1": 1.0,
        "f1": 1.0,
        "path_validity": 1.0,
        "coverage": 0.5,
        "questions": 2,
        "labelled": 1,
    }
