from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kgpeft.adapters.registry import find_adapters, read_adapter
from kgpeft.cli import main
from kgpeft.errors import AdapterError


def test_lists_every_adapter_with_rank_modules_metrics_and_kg_state(alpha: Path, beta: Path):
    entries = [info.summary() for info in find_adapters(alpha.parent)]
    assert [e["domain"] for e in entries] == ["alpha", "beta"]
    entry = entries[0]
    assert entry["rank"] == 4
    assert "model.layers.0.self_attn.q_proj" in entry["target_modules"]
    assert entry["kgs"][0]["state"] == "ok"
    assert entry["metrics"] == {"hits@1": 0.5, "teacher.hits@1": 0.75}


def test_an_evaluated_adapter_lists_its_report_figures_first(alpha: Path):
    report = {"systems": {"student": {"metrics": {"hits@1": 0.93, "f1": 0.9, "path_validity": 1.0, "latency": 2}}}}
    (alpha / "report.json").write_text(json.dumps(report))
    metrics = read_adapter(alpha).summary()["metrics"]
    assert list(metrics)[:3] == ["eval.hits@1", "eval.f1", "eval.path_validity"]
    assert metrics["eval.hits@1"] == 0.93 and "eval.latency" not in metrics
    (alpha / "report.json").write_text("{not json")  # a broken report is ignored, not an error
    assert "eval.hits@1" not in read_adapter(alpha).summary()["metrics"]


def test_skips_unfinished_and_non_adapter_folders(alpha: Path, tmp_path: Path):
    shutil.copytree(alpha, tmp_path / "done")
    shutil.copytree(alpha, tmp_path / ".done.x1.tmp")  # what atomic_dir leaves while writing
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "kgpeft.json").write_text("{}")
    assert [info.path.name for info in find_adapters(tmp_path)] == ["done"]


def test_changed_and_missing_kg_are_detected(
    make_adapter: Callable[..., Path], write_kg: Callable[..., Path], tmp_path: Path
):
    kg = write_kg(tmp_path / "kg.ttl")
    adapter = make_adapter(tmp_path / "adapters" / "a", domain="a", kg=kg)
    assert read_adapter(adapter).kg_states() == [(str(kg), "ok")]
    write_kg(kg, extra=':Spain <http://www.w3.org/2000/01/rdf-schema#label> "Spain" .\n')
    assert read_adapter(adapter).kg_states() == [(str(kg), "changed")]
    kg.unlink()
    assert read_adapter(adapter).kg_states() == [(str(kg), "missing")]


def test_not_an_adapter_folder_is_one_clear_error(tmp_path: Path):
    with pytest.raises(AdapterError, match="not an adapter folder"):
        read_adapter(tmp_path)


def test_cli_list_json_and_show(alpha: Path, beta: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["adapters", "list", str(alpha.parent), "--json"]) == 0
    assert [e["domain"] for e in json.loads(capsys.readouterr().out)] == ["alpha", "beta"]
    assert main(["adapters", "list", str(alpha.parent)]) == 0
    assert "alpha" in capsys.readouterr().out
    assert main(["adapters", "show", str(alpha)]) == 0
    assert json.loads(capsys.readouterr().out)["domain"] == "alpha"


def test_cli_bad_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["adapters", "list", str(tmp_path / "nowhere")]) == 2
    assert main(["adapters", "show", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("error" in line for line in err)
