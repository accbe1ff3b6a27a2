"""kgpeft.json: format 2 holds the typed config tree; format 1 records migrate; bad files are one-line errors."""

from __future__ import annotations

import json

import pytest

from kgpeft.adapters.record import FORMAT_VERSION, RECORD_FILE, AdapterRecord
from kgpeft.cli import main
from kgpeft.errors import AdapterError

V1 = {
    "domain": "geo",
    "base_model": "tiny",
    "base_model_fingerprint": "f" * 16,
    "load_in_4bit": True,
    "kg_path": "kg/geo.ttl",
    "kg_sha256": "ab" * 32,
    "teacher": "oracle",
    "teacher_config": {"max_hops": 2, "top_n": 8, "seed": 42, "temperature": 0.1, "max_candidates": 10000},
    "loss": {"alpha": 0.7, "temperature": 2.0, "soft_top_k": 16},
    "lora": {"load_in_4bit": True, "lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": "all-linear"},
    "data": {"config": {"max_hops": 2, "infill_ratio": 0.1, "seed": 0}, "sizes": {"train": 9}, "train_rows": 9},
    "metrics": {"train_loss": 1.0},
    "format_version": 1,
}


def _folder(tmp_path, content) -> object:
    (tmp_path / "adapter_config.json").write_text("{}")
    (tmp_path / RECORD_FILE).write_text(content if isinstance(content, str) else json.dumps(content))
    return tmp_path


def test_a_format_1_record_migrates_to_the_typed_tree(tmp_path):
    record = AdapterRecord.load(_folder(tmp_path, V1))
    assert record.format_version == FORMAT_VERSION and record.sizes == {"train": 9} and record.train_rows == 9
    assert record.timings == {} and record.peak_memory_mb == {}  # not kept before stage timings were recorded
    config = record.fit_config()
    assert config.teacher_name == "oracle" and config.teacher.max_candidates == 10000
    assert (config.train.alpha, config.model.lora_r, config.data.max_hops) == (0.7, 4, 2)
    assert record.max_hops() == 2 and record.teacher == "oracle"
    record.save(tmp_path)  # written back as format 2, it loads to the same tree
    assert AdapterRecord.load(tmp_path).fit_config().to_dict() == config.to_dict()


def test_a_combined_adapter_has_a_model_config_but_no_fit_config(tmp_path):
    record = AdapterRecord("a+b", "tiny", "f", False, "", "", config={"model": {"lora_r": 8}})
    assert record.fit_config() is None and record.data_config() is None and record.max_hops() == 3
    assert record.model_config().lora_r == 8 and record.model_config().load_in_4bit is False


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "must hold a JSON object, not a list"),
        ({**V1, "format_version": "2"}, "format_version must be an integer"),
        ({**V1, "format_version": 99}, "newer than this kgpeft"),
        ({**V1, "load_in_4bit": "yes"}, "field load_in_4bit must be bool"),
        ({**V1, "peak_memory_mb": [1.0]}, "field peak_memory_mb must be dict"),
        ({**V1, "data": {"config": [1]}}, "config.data must be a JSON object"),
        ({k: v for k, v in V1.items() if k != "kg_sha256"}, "missing field(s) kg_sha256"),
        ("{", "unreadable"),
    ],
)
def test_a_bad_record_is_one_adapter_error(tmp_path, content, message):
    with pytest.raises(AdapterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        AdapterRecord.load(_folder(tmp_path, content))


def test_the_cli_reports_a_bad_record_in_one_line(tmp_path, capsys):
    folder = _folder(tmp_path / "a" if (tmp_path / "a").mkdir() is None else tmp_path, "[]")
    assert main(["adapters", "show", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a list" in err and "Traceback" not in err
