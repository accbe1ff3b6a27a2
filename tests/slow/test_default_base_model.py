"""Slow tests on the real default base model (``make test-slow``)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_alias_converts_once_and_knows_paris():
    import torch

    from kgpeft.modeling import load_base_model, resolve_base_model

    folder = Path(resolve_base_model("smollm2-135m-instruct"))
    assert (folder / "config.json").is_file() and list(folder.glob("*.safetensors"))
    assert "quantization_config" not in (folder / "config.json").read_text()
    assert resolve_base_model("smollm2-135m-instruct") == str(folder)  # reused, not converted again

    model, tokenizer = load_base_model("smollm2-135m-instruct", load_in_4bit=False)
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=24, do_sample=False)
    answer = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer
