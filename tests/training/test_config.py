from __future__ import annotations

import json

import pytest

from kgpeft.training import KGDistillConfig


def test_defaults_fit_kgpeft(tmp_path):
    config = KGDistillConfig(output_dir=str(tmp_path))
    assert (config.alpha, config.temperature, config.soft_top_k) == (0.5, 2.0, 16)
    assert (config.max_steps, config.learning_rate, config.per_device_train_batch_size) == (120, 1e-3, 8)
    assert config.gradient_checkpointing is False
    assert not {"teacher", "infill_ratio", "max_hops"} & set(config.to_dict())  # owned by the teacher and data configs
    assert config.remove_unused_columns is False
    assert config.dataset_kwargs == {"skip_prepare_dataset": True}
    assert config.report_to in ("none", [])  # transformers normalises "none" to []
    assert config.bf16 is False  # no GPU in the tests: bf16 would run several times slower on CPU


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("alpha", -0.1),
        ("alpha", 1.5),
        ("temperature", 0.0),
        ("soft_top_k", 0),
        ("neighbour_weight", -0.1),
        ("neighbour_weight", 1.5),
        ("remove_unused_columns", True),
        ("dataset_kwargs", {"skip_prepare_dataset": False}),
        ("completion_only_loss", False),
        ("packing", True),
    ],
)
def test_invalid_values_name_the_field(tmp_path, field, value):
    with pytest.raises(ValueError, match=field):
        KGDistillConfig(output_dir=str(tmp_path), **{field: value})


def test_round_trips_through_json(tmp_path):
    config = KGDistillConfig(output_dir=str(tmp_path), alpha=0.25, temperature=3.0, max_steps=7)
    data = json.loads(json.dumps(config.to_dict()))
    data["written_by_a_later_version"] = 1
    restored = KGDistillConfig.from_dict(data)
    assert restored.to_dict() == config.to_dict()
    # to_dict hides the *_token fields behind "<EOS_TOKEN>"-style placeholders; they must not come back as tokens
    assert restored.eos_token is None and restored.pad_token is None


def test_dataset_kwargs_from_a_json_string_keeps_skipping_preparation(tmp_path):
    config = KGDistillConfig(output_dir=str(tmp_path), dataset_kwargs='{"other": 1}')
    assert config.dataset_kwargs == {"other": 1, "skip_prepare_dataset": True}
