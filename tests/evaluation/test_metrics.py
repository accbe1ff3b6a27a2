"""Metric functions on hand-made cases."""

from __future__ import annotations

import pytest

from kgpeft.evaluation import Prediction, answer_f1, gold_path_match, hits_at_1, path_validity, score_predictions


def test_hits_at_1():
    assert hits_at_1(1, {1, 2}) == 1.0
    assert hits_at_1(3, {1, 2}) == 0.0
    assert hits_at_1(None, {1}) == 0.0


def test_answer_f1():
    assert answer_f1({1, 2}, {1, 2}) == 1.0
    assert answer_f1({1, 2, 3, 4}, {1}) == pytest.approx(2 * 0.25 * 1 / 1.25)
    assert answer_f1((), {1}) == 0.0


def test_gold_path_match_compares_relation_sequences():
    assert gold_path_match((0, 3), [(1,), (0, 3)]) == 1.0
    assert gold_path_match((3, 0), [(0, 3)]) == 0.0
    assert gold_path_match(None, [(0,)]) == 0.0


def test_path_validity():
    assert path_validity([True, False, True, True]) == 0.75
    assert path_validity([]) is None


def test_score_predictions_averages_over_labelled_questions_only():
    predictions = [
        Prediction(top_answer=1, answer_set=(1, 2), top_path=(0,), path_validity=(True, True), latency=1.0),
        Prediction(top_answer=5, answer_set=(5,), top_path=(1, 2), path_validity=(True, False), latency=3.0),
        Prediction(path_validity=(False,), hallucinated_hops=2, latency=2.0),  # unlabelled: validity only
    ]
    metrics = score_predictions([{1}, {6}, set()], [[(0,)], [(1, 2)], []], predictions)
    assert metrics["hits@1"] == 0.5
    assert metrics["f1"] == pytest.approx((2 / 3 + 0) / 2)
    assert metrics["gold_path_match"] == 1.0
    assert metrics["path_validity"] == 3 / 5
    assert metrics["hallucinated_hops_per_question"] == pytest.approx(2 / 3)
    assert metrics["latency_s"] == 2.0
    assert metrics["questions"] == 3 and metrics["labelled"] == 2


def test_score_predictions_without_labels_or_paths():
    metrics = score_predictions([set()], [[]], [Prediction()])
    assert metrics["hits@1"] is None and metrics["path_validity"] is None
