"""An adapter refuses a base with its architecture (the same config.json) but other weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kgpeft.cli import main
from kgpeft.modeling import base_weights_fingerprint
from tests.robustness.conftest import assert_refused, snapshot

WORLD = Path(__file__).parents[1] / "inference" / "world.ttl"
QUESTION = "Which region is Germany located in?"


def _reseeded_copy(checkpoint: Path, folder: Path) -> Path:
    """``checkpoint`` with the same config.json and tokenizer but every tensor drawn again (another seed)."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(checkpoint, folder)
    weights = load_file(folder / "model.safetensors")
    generator = torch.Generator().manual_seed(1)
    other = {name: torch.randn(t.shape, generator=generator).to(t.dtype) * t.std() for name, t in weights.items()}
    save_file(other, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


@pytest.fixture(scope="module")
def trained(tiny_checkpoint, tmp_path_factory) -> Path:
    """An adapter `kgpeft fit` trained on ``tiny_checkpoint`` (one step)."""
    out = tmp_path_factory.mktemp("trained") / "world"
    argv = ["fit", "--kg", str(WORLD), "--base-model", str(tiny_checkpoint), "-o", str(out), "--teacher", "oracle"]
    assert main([*argv, "--max-steps", "1", "--lora-r", "2", "--per-device-train-batch-size", "2"]) == 0
    return out


def test_fit_records_the_fingerprint_of_the_base_weights(trained, tiny_checkpoint, tmp_path):
    record = json.loads((trained / "kgpeft.json").read_text(encoding="utf-8"))
    assert record["base_weights_fingerprint"] == base_weights_fingerprint(str(tiny_checkpoint)) != ""
    # The files' content, not their place: a copy has the fingerprint, other weights do not.
    assert (
        base_weights_fingerprint(str(shutil.copytree(tiny_checkpoint, tmp_path / "copy")))
        == (record["base_weights_fingerprint"])
    )
    assert (
        base_weights_fingerprint(str(_reseeded_copy(tiny_checkpoint, tmp_path / "other")))
        != (record["base_weights_fingerprint"])
    )


def test_ask_refuses_a_base_with_the_same_config_and_other_weights(trained, tiny_checkpoint, tmp_path, capsys):
    other = _reseeded_copy(tiny_checkpoint, tmp_path / "other-base")
    assert (other / "config.json").read_bytes() == (tiny_checkpoint / "config.json").read_bytes()
    before = snapshot(tmp_path)
    code = main(["ask", QUESTION, "--adapter", str(trained), "--base-model", str(other), "--json"])
    line = assert_refused(code, capsys, tmp_path, before)
    recorded = json.loads((trained / "kgpeft.json").read_text(encoding="utf-8"))["base_weights_fingerprint"]
    assert recorded in line and base_weights_fingerprint(str(other)) in line
    assert str(tiny_checkpoint) in line and str(other) in line and "--base-model" in line


def test_a_copy_of_the_base_and_a_record_without_the_fingerprint_still_load(trained, tiny_checkpoint, tmp_path):
    copy = shutil.copytree(tiny_checkpoint, tmp_path / "copy-of-base")
    assert main(["ask", QUESTION, "--adapter", str(trained), "--base-model", str(copy), "--json"]) == 0

    # An adapter written before the fingerprint was recorded: not checked, as before.
    old = shutil.copytree(trained, tmp_path / "old")
    record = json.loads((old / "kgpeft.json").read_text(encoding="utf-8"))
    del record["base_weights_fingerprint"]
    (old / "kgpeft.json").write_text(json.dumps(record), encoding="utf-8")
    other = _reseeded_copy(tiny_checkpoint, tmp_path / "other-base")
    assert main(["ask", QUESTION, "--adapter", str(old), "--base-model", str(other), "--json"]) == 0
