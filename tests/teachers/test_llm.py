"""The llm teacher: tokenizer compatibility at construction, token-level top-k, adapters."""

from __future__ import annotations

import pytest

from kgpeft.data import render_example, tokenize_example
from kgpeft.errors import TeacherError
from kgpeft.teachers import get_teacher
from kgpeft.teachers.llm import LLMTeacher, LLMTeacherConfig
from kgpeft.training.rows import add_soft_targets


@pytest.fixture(scope="module")
def rows(world, world_questions, tiny_tokenizer) -> list[dict]:
    return [tokenize_example(tiny_tokenizer, *render_example(world, q)) for q in world_questions.split("test")[:3]]


def test_a_student_with_another_vocabulary_is_refused(tiny_checkpoint):
    from kgpeft.testing import build_tiny_tokenizer

    other = build_tiny_tokenizer(vocab_size=300)
    with pytest.raises(TeacherError, match="does not share the student's tokenizer"):
        LLMTeacher(LLMTeacherConfig(model=str(tiny_checkpoint)), student_tokenizer=other)


def test_the_student_named_in_the_config_is_checked_at_construction(tiny_checkpoint):
    teacher = get_teacher("llm", model=str(tiny_checkpoint), student=str(tiny_checkpoint))
    assert teacher.config.student == str(tiny_checkpoint)


def test_a_model_is_required():
    with pytest.raises(TeacherError, match="model must name"):
        get_teacher("llm")


def test_token_topk_gives_one_normalised_row_per_completion_token(tiny_checkpoint, tiny_tokenizer, rows):
    teacher = LLMTeacher(LLMTeacherConfig(model=str(tiny_checkpoint)), student_tokenizer=tiny_tokenizer)
    for row, (ids, probs) in zip(rows, teacher.token_topk(rows, top_k=5), strict=True):
        assert len(ids) == len(probs) == sum(row["completion_mask"])
        assert all(len(r) == 5 and all(0 <= i < len(tiny_tokenizer) for i in r) for r in ids)
        assert all(sum(r) == pytest.approx(1.0, abs=1e-5) for r in probs)
        assert all(r == sorted(r, reverse=True) for r in probs)


def test_token_teacher_soft_targets_need_no_graph(tiny_checkpoint, tiny_tokenizer, rows):
    from datasets import Dataset

    teacher = LLMTeacher(LLMTeacherConfig(model=str(tiny_checkpoint)))
    dataset = add_soft_targets(Dataset.from_list(rows), teacher, tiny_tokenizer, top_k=3, cache=False)
    assert [len(r) for r in dataset["teacher_ids"]] == [sum(r["completion_mask"]) for r in rows]


def test_an_adapter_changes_the_teachers_distribution(tiny_checkpoint, tiny_tokenizer, rows, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model

    from kgpeft.modeling import load_base_model

    model, _ = load_base_model(str(tiny_checkpoint), load_in_4bit=False)
    torch.manual_seed(0)
    lora = LoraConfig(r=4, lora_alpha=64, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM")
    get_peft_model(model, lora).save_pretrained(tmp_path / "adapter")

    plain = LLMTeacher(LLMTeacherConfig(model=str(tiny_checkpoint))).token_topk(rows[:1], top_k=3)
    adapted = LLMTeacher(LLMTeacherConfig(model=str(tiny_checkpoint), adapter=str(tmp_path / "adapter")))
    assert adapted.token_topk(rows[:1], top_k=3) != plain


def test_a_missing_adapter_is_a_clear_error(tiny_checkpoint, rows, tmp_path):
    teacher = LLMTeacher(LLMTeacherConfig(model=str(tiny_checkpoint), adapter=str(tmp_path / "nowhere")))
    with pytest.raises(TeacherError, match="adapter"):
        teacher.token_topk(rows[:1], top_k=3)
