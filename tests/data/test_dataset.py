from __future__ import annotations

import json

import pytest

from kgpeft.data import DataConfig, QuestionSet, build_dataset, build_questions
from kgpeft.data.dataset import cache_key
from kgpeft.errors import DataError


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_hops": 0}, "max_hops"),
        ({"num_questions": -1}, "num_questions"),
        ({"test_ratio": 1.5}, "test_ratio"),
        ({"test_ratio": 0.5, "validation_ratio": 0.5}, "test_ratio"),
        ({"infill_ratio": -0.1}, "infill_ratio"),
        ({"max_answer_share": 2.0}, "max_answer_share"),
        ({"synthesize": False}, "synthesize"),
    ],
)
def test_config_validation_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        DataConfig(**kwargs)


def test_every_config_field_has_help():
    import dataclasses

    assert all(f.metadata.get("help") for f in dataclasses.fields(DataConfig))


def test_build_questions_splits_infill_and_order(world):
    qs = build_questions(world, DataConfig(infill_ratio=0.5, seed=2))
    assert qs.kg_sha256 == world.sha256 and qs.config["seed"] == 2
    assert [q.split for q in qs] == sorted((q.split for q in qs), key=("train", "validation", "test").index)
    held_out = {q.topic for q in qs if q.split != "train"}
    infill = [q for q in qs if q.kind == "infill"]
    assert infill and all(q.split == "train" and q.topic not in held_out for q in infill)
    train_paths = sum(q.kind == "path" and q.split == "train" for q in qs)
    assert len(infill) <= round(0.5 * train_paths)
    assert qs.questions == build_questions(world, DataConfig(infill_ratio=0.5, seed=2)).questions


def test_question_file_alone_or_with_synthesis(world, tmp_path):
    path = tmp_path / "q.jsonl"
    lines = [{"question": f"Where is {c}?", "topic": c, "answers": ["Western Europe"]} for c in ("Germany", "France")]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    only_file = build_questions(world, DataConfig(question_file=str(path), test_ratio=0.0, validation_ratio=0.0))
    assert [q.id for q in only_file] == ["q.jsonl:1", "q.jsonl:2"]
    both = build_questions(world, DataConfig(question_file=str(path), synthesize=True))
    assert len(both) > 2 and {"q.jsonl:1", "q.jsonl:2"} <= {q.id for q in both}


def test_templates_file_is_used(world, tmp_path):
    path = tmp_path / "templates.yaml"
    path.write_text("capital:\n  forward: Which city is the capital of {topic}?\n")
    qs = build_questions(world, DataConfig(templates=str(path), max_hops=1))
    assert "Which city is the capital of Germany?" in {q.question for q in qs}
    path.write_text("capital:\n  forward: Which city is the capital of {country}?\n")
    with pytest.raises(DataError, match=r"templates\.yaml: capital: template .* must contain \{topic\}"):
        build_questions(world, DataConfig(templates=str(path)))


def test_build_dataset_caches_by_kg_config_and_files(world, tmp_path, monkeypatch):
    monkeypatch.setenv("KGPEFT_CACHE", str(tmp_path / "cache"))
    config = DataConfig(seed=5, infill_ratio=0.2)
    first = build_dataset(world, config)
    (folder,) = (tmp_path / "cache" / "data").iterdir()
    assert folder.name == cache_key(world, config)
    cached = build_dataset(world, config)
    assert cached.questions == first.questions and cached.config == first.config
    assert isinstance(cached, QuestionSet)
    ds = cached.to_dataset()
    assert ds["train"].num_rows == len(cached.split("train"))
    assert cache_key(world, DataConfig(seed=6)) != cache_key(world, config)

    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"question": "Where is Germany?"}))
    with_file = DataConfig(question_file=str(questions))
    key = cache_key(world, with_file)
    questions.write_text(json.dumps({"question": "Where is France?"}))
    assert cache_key(world, with_file) != key
