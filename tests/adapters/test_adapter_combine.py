from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from peft import PeftModel

from kgpeft.adapters.combine import combine_adapters
from kgpeft.adapters.loading import load_adapters
from kgpeft.adapters.registry import read_adapter
from kgpeft.cli import main
from kgpeft.errors import AdapterError
from kgpeft.modeling import load_base_model

IDS = torch.tensor([[5, 17, 42, 99, 7, 63]])


def _logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=IDS).logits


@pytest.mark.parametrize("method", ["linear", "cat", "ties", "dare_ties", "svd"])
def test_each_method_writes_a_plain_peft_adapter_with_its_record(alpha: Path, beta: Path, tmp_path: Path, method: str):
    record = combine_adapters([alpha, beta], tmp_path / "ab", method=method, weights=[0.5, 0.5])
    assert record.domain == "alpha+beta"
    assert record.combination["method"] == method
    assert [s["domain"] for s in record.combination["sources"]] == ["alpha", "beta"]
    assert read_adapter(tmp_path / "ab").kg_states()[0][1] == "ok"
    base, _ = load_base_model(record.base_model, load_in_4bit=False)
    reference = _logits(base)
    model = PeftModel.from_pretrained(base, str(tmp_path / "ab"))  # plain peft, no kgpeft
    assert not torch.allclose(_logits(model), reference)


def test_cat_with_unit_weights_equals_both_adapters_active(alpha: Path, beta: Path, tmp_path: Path):
    combine_adapters([alpha, beta], tmp_path / "ab", method="cat")
    both = load_adapters(None, [alpha, beta])
    both.base_model.set_adapter(["alpha", "beta"], inference_mode=True)
    combined = load_adapters(None, [tmp_path / "ab"])
    assert torch.allclose(_logits(combined), _logits(both), atol=1e-5)


def test_unequal_ranks_are_refused_where_the_method_needs_equal_ones(
    make_adapter: Callable[..., Path], alpha: Path, tmp_path: Path
):
    wide = make_adapter(tmp_path / "wide", domain="wide", r=8)
    with pytest.raises(AdapterError, match="needs equal LoRA ranks"):
        combine_adapters([alpha, wide], tmp_path / "out", method="linear")
    assert not (tmp_path / "out").exists()
    assert combine_adapters([alpha, wide], tmp_path / "out", method="cat").model_config().lora_r == 12


def test_different_target_modules_are_refused(make_adapter: Callable[..., Path], alpha: Path, tmp_path: Path):
    attention = make_adapter(tmp_path / "attn", domain="attn", target_modules=["q_proj", "v_proj"])
    with pytest.raises(AdapterError, match="adapt different modules"):
        combine_adapters([alpha, attention], tmp_path / "out", method="cat")


def test_different_base_models_are_refused(
    make_adapter: Callable[..., Path], alpha: Path, other_checkpoint: Path, tmp_path: Path
):
    other = make_adapter(tmp_path / "other", domain="other", base=other_checkpoint)
    with pytest.raises(AdapterError, match="cannot be combined"):
        combine_adapters([alpha, other], tmp_path / "out", method="cat")
    assert not (tmp_path / "out").exists()


def test_cli_combine_exit_codes(alpha: Path, beta: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "ab"
    assert main(["adapters", "combine", str(alpha), str(beta), "-o", str(out), "--weights", "0.5,0.5"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["adapters", "combine", str(alpha), str(tmp_path), "-o", str(tmp_path / "x")]) == 2
    assert main(["adapters", "combine", str(alpha), str(beta), "-o", str(tmp_path / "x"), "--weights", "1"]) == 2
    assert main(["adapters", "combine", str(alpha), str(beta), "-o", str(tmp_path / "x"), "--weights", "a,b"]) == 2
    assert not (tmp_path / "x").exists()
