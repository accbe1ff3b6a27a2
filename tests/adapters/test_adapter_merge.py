from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from kgpeft.adapters.loading import load_adapters
from kgpeft.adapters.merge import logits, merge_adapters, sample_ids
from kgpeft.adapters.registry import read_adapter
from kgpeft.cli import main
from kgpeft.modeling import load_base_model, load_tokenizer


def _max_diff(a, b, tokenizer) -> float:
    inputs = sample_ids(tokenizer)
    return max((x - y).abs().max().item() for x, y in zip(logits(a, inputs), logits(b, inputs), strict=True))


def _plain_load(folder: Path):
    """What a deployment does: transformers alone, no peft, no quantisation."""
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    return AutoModelForCausalLM.from_pretrained(str(folder))


def test_merged_full_precision_adapter_matches_the_unmerged_model(alpha: Path, tmp_path: Path):
    result = merge_adapters([alpha], tmp_path / "merged")
    assert result.max_logit_diff < 1e-4 and not result.dequantized
    tokenizer = load_tokenizer(str(tmp_path / "merged"))
    unmerged = load_adapters(None, [alpha])
    assert _max_diff(_plain_load(tmp_path / "merged"), unmerged, tokenizer) < 1e-4


def test_4bit_adapter_merges_into_the_dequantised_base_it_was_trained_on(alpha_4bit: Path, tmp_path: Path):
    result = merge_adapters([alpha_4bit], tmp_path / "merged")
    assert result.dequantized and result.max_logit_diff < 1e-4
    record = read_adapter(alpha_4bit).record
    base, tokenizer = load_base_model(record.base_model, load_in_4bit=True, dtype=torch.float32)
    unmerged = load_adapters(base.dequantize(dtype=torch.float32), [alpha_4bit])
    assert _max_diff(_plain_load(tmp_path / "merged"), unmerged, tokenizer) < 1e-4

    original = merge_adapters([alpha_4bit], tmp_path / "original", into="original")
    assert not original.dequantized and original.max_logit_diff < 1e-4  # measured against its own base
    assert _max_diff(_plain_load(tmp_path / "original"), unmerged, tokenizer) > 1e-4  # nf4 rounding shows


def test_several_adapters_merge_as_all_active_at_once(alpha: Path, beta: Path, tmp_path: Path):
    result = merge_adapters([alpha, beta], tmp_path / "merged", dtype="bfloat16")
    assert 1e-4 < result.max_logit_diff < 0.1  # bf16 rounding, reported honestly
    assert _plain_load(tmp_path / "merged").dtype == torch.bfloat16


def test_cli_merge_exit_codes(alpha: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["merge", "--adapter", str(alpha), "-o", str(tmp_path / "m")]) == 0
    assert "max |logit diff|" in capsys.readouterr().out
    assert main(["merge", "--adapter", str(tmp_path), "-o", str(tmp_path / "bad")]) == 2
    assert not (tmp_path / "bad").exists()
