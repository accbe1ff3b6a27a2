"""Several adapters: each question goes to the adapter whose KG has its entity; --combine activates all."""

from __future__ import annotations

import json

import pytest

from kgpeft.cli import main
from kgpeft.inference import KGReasoner, UnknownEntityError
from kgpeft.inference.routing import activate, route


def test_route_picks_the_graph_that_has_the_entity(world, elements_path, tiny_model, tiny_tokenizer):
    from kgpeft.kg import load_graph

    domains = [
        ("world", KGReasoner(tiny_model, tiny_tokenizer, world)),
        ("elements", KGReasoner(tiny_model, tiny_tokenizer, load_graph(elements_path))),
    ]
    assert route("Which group is Helium in?", None, domains)[0] == "elements"
    assert route("Which region is Germany in?", None, domains)[0] == "world"
    assert route("anything", "Hydrogen", domains)[0] == "elements"
    with pytest.raises(UnknownEntityError):
        route("Which region is Narnia in?", None, domains)


def test_activate_sets_and_restores_adapters(tiny_checkpoint):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    config = LoraConfig(r=2, target_modules="all-linear", init_lora_weights=False)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_checkpoint), config, adapter_name="first")
    model.add_adapter("second", config)
    model.set_adapter("first")
    ids = torch.tensor([[5, 6, 7]])

    def logits():
        with torch.no_grad():
            return model(input_ids=ids).logits

    a, base = logits(), None
    with activate(model, [None]):
        base = logits()
    with activate(model, ["second"]):
        b = logits()
        assert model.active_adapters == ["second"]
    with activate(model, ["first", "second"]):
        both = logits()
        assert sorted(model.active_adapters) == ["first", "second"]
    # Exact on purpose: one fp32 model, one input, the same code path in one process; only restored
    # adapter state could change the result.
    assert model.active_adapters == ["first"] and torch.equal(logits(), a)
    assert not torch.allclose(a, base) and not torch.allclose(a, b) and not torch.allclose(both, a)
    assert not any(p.requires_grad for p in model.parameters())  # inference only


def test_ask_routes_between_adapters(tmp_path, make_adapter, elements_path, capsys):
    world_adapter = make_adapter(tmp_path / "world", seed=1)
    elements_adapter = make_adapter(tmp_path / "elements", seed=2, kg=elements_path, domain="elements")
    argv = ["ask", "--adapter", str(world_adapter), "--adapter", str(elements_adapter), "--no-4bit", "--json"]
    argv += ["--num-paths", "2", "--max-hops", "1"]
    assert main([*argv, "Which group is Helium in?"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["adapters"] == ["elements"] and answer["topic"]["label"] == "Helium"
    assert answer["answers"][0]["label"] == "Noble gases"  # the only path from Helium
    assert main([*argv, "--combine", "Which region is Germany in?"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["adapters"] == ["world", "elements"] and answer["topic"]["label"] == "Germany"
