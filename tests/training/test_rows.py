"""Trie marginals (a property test), soft targets along real completions, and the dataset columns and cache."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgpeft.data import render_example, tokenize_example
from kgpeft.data.render import completion_ids
from kgpeft.teachers import get_teacher
from kgpeft.training.rows import TokenTrie, add_soft_targets, path_soft_targets, training_rows

END = 99  # every candidate ends with it, as every completion ends with the end-of-turn token


@st.composite
def candidates(draw) -> list[tuple[list[int], float]]:
    """Distinct token sequences over a small alphabet, each ending in END, with probabilities summing to 1."""
    bodies = draw(st.lists(st.lists(st.integers(0, 4), max_size=6), min_size=1, max_size=8, unique_by=tuple))
    weights = draw(st.lists(st.floats(0.01, 1.0), min_size=len(bodies), max_size=len(bodies)))
    total = sum(weights)
    return [([*body, END], w / total) for body, w in zip(bodies, weights, strict=True)]


@settings(max_examples=200, deadline=None)
@given(candidates())
def test_trie_marginals_are_distributions_whose_product_is_the_path_probability(cands):
    trie = TokenTrie(cands)
    for tokens, prob in cands:
        ids, probs = trie.marginals(tokens, top_k=8)  # the alphabet has 6 tokens: nothing is cut
        assert len(ids) == len(probs) == len(tokens)
        product = 1.0
        for token, row_ids, row_probs in zip(tokens, ids, probs, strict=True):
            assert sum(row_probs) == pytest.approx(1.0)
            assert all(p >= 0 for p in row_probs)
            support = [i for i, p in zip(row_ids, row_probs, strict=True) if p > 0]
            assert len(support) == len(set(support))
            product *= row_probs[row_ids.index(token)]
        assert product == pytest.approx(prob)


def test_rows_after_the_target_leaves_the_trie_carry_no_information():
    ids, probs = TokenTrie([([1, 2, END], 0.5), ([1, 3, END], 0.5)]).marginals([1, 4, 5, END], top_k=2)
    assert probs[0] == [1.0, 0.0] and ids[0][0] == 1
    assert sorted(ids[1]) == [2, 3] and probs[1] == [0.5, 0.5]  # the teacher's view at the divergence
    assert probs[2] == probs[3] == [0.0, 0.0]


def test_top_k_keeps_the_largest_and_renormalises():
    ids, probs = TokenTrie([([1, END], 0.5), ([2, END], 0.3), ([3, END], 0.2)]).marginals([1, END], top_k=2)
    assert ids[0] == [1, 2] and probs[0] == pytest.approx([0.625, 0.375])


@pytest.fixture(scope="module")
def oracle(world):
    teacher = get_teacher("oracle", max_hops=2)
    teacher.fit(world, [])
    return teacher


def test_marginals_along_a_gold_completion_multiply_to_the_gold_path_probability(
    oracle, world, world_questions, tiny_tokenizer
):
    for question in world_questions.split("test")[:5]:
        dist = oracle.predict(question)
        target = completion_ids(tokenize_example(tiny_tokenizer, *render_example(world, question)))
        ids, probs = path_soft_targets(world, tiny_tokenizer, dist, target, top_k=16)
        assert len(ids) == len(target)
        product = math.prod(row_p[row_i.index(t)] for t, row_i, row_p in zip(target, ids, probs, strict=True))
        gold = dict(zip(dist.paths, dist.probs, strict=True))[question.gold_paths[0]]
        assert product == pytest.approx(gold, rel=1e-4)
        assert all(sum(row) == pytest.approx(1.0, abs=1e-5) for row in probs)


def test_training_rows_carry_one_teacher_row_per_completion_token(oracle, world, world_questions, tiny_tokenizer):
    questions = world_questions.split("train")[:12]
    rows = training_rows(world, questions, oracle, tiny_tokenizer, top_k=4, cache=False)
    assert len(rows) == len(questions)
    assert {"input_ids", "completion_mask", "teacher_ids", "teacher_probs", "id", "topic"} <= set(rows.column_names)
    for row in rows:
        assert len(row["teacher_ids"]) == sum(row["completion_mask"]) == len(row["teacher_probs"])
        assert all(len(r) == 4 for r in row["teacher_ids"])
        assert all(sum(r) == pytest.approx(1.0, abs=1e-5) or sum(r) == 0 for r in row["teacher_probs"])
        assert sum(row["teacher_probs"][0]) == pytest.approx(1.0, abs=1e-5)


def test_soft_targets_are_cached_on_disk(oracle, world, world_questions, tiny_tokenizer, monkeypatch):
    questions = world_questions.split("validation")[:6]
    first = training_rows(world, questions, oracle, tiny_tokenizer, top_k=4)

    def refuse(_questions):
        raise AssertionError("the teacher ran although the soft targets were cached")

    monkeypatch.setattr(oracle, "predict_batch", refuse)
    again = training_rows(world, questions, oracle, tiny_tokenizer, top_k=4)
    assert again["teacher_ids"] == first["teacher_ids"] and again["teacher_probs"] == first["teacher_probs"]
    with pytest.raises(AssertionError, match="cached"):
        training_rows(world, questions, oracle, tiny_tokenizer, top_k=5)  # another key: computed afresh


def test_infill_rows_get_no_teacher_information(oracle, world, tiny_tokenizer):
    from kgpeft.data import DataConfig, build_questions

    qs = build_questions(world, DataConfig(max_hops=2, seed=0, infill_ratio=0.1))
    infill = [q for q in qs if q.kind == "infill"][:2]
    rows = training_rows(world, infill, oracle, tiny_tokenizer, top_k=4, cache=False)
    assert len(rows) == len(infill)
    assert all(sum(map(sum, row["teacher_probs"])) == 0 for row in rows)


def test_unlabelled_questions_are_labelled_by_the_teacher(world, world_questions, tiny_tokenizer, teacher_options):
    import dataclasses

    teacher = get_teacher("gnn", **teacher_options("gnn"))
    teacher.fit(world, world_questions.split("train"))
    question = dataclasses.replace(world_questions.split("test")[0], answers=(), gold_paths=())
    rows = training_rows(world, [question], teacher, tiny_tokenizer, top_k=4, cache=False)
    (row,) = rows
    assert row["gold_paths"] == [list(teacher.predict(question).paths[0])]
    assert row["answers"] and sum(row["teacher_probs"][0]) == pytest.approx(1.0, abs=1e-5)


def test_missing_columns_are_reported(oracle, world_questions, tiny_tokenizer):
    from kgpeft.errors import TeacherError

    dataset = world_questions.to_dataset()["train"]
    with pytest.raises(TeacherError, match="input_ids"):
        add_soft_targets(dataset, oracle, tiny_tokenizer)
