"""Fact probes are minimal pairs that differ in one fact; retention KL is 0 for an adapter that changes nothing."""

from __future__ import annotations

import re

import pytest
import torch

from kgpeft.data import entity_knowledge, render_prompt, tokenize_example
from kgpeft.evaluation import (
    build_fact_probes,
    completion_log_probs,
    fact_probe_accuracy,
    general_text,
    retention_kl,
)


def test_fact_probes_swap_one_key_fact_for_an_entity_in_the_same_role(world, tiny_tokenizer):
    probes = build_fact_probes(world, tiny_tokenizer, count=10, seed=0)
    assert len(probes) >= 4  # the world has 7 descriptions naming a neighbour
    for probe in probes:
        true_words, corrupted_words = probe.true.split(), probe.corrupted.split()
        assert probe.true != probe.corrupted and probe.true.endswith("</ent_desc>")
        # the true text is the infilling target: the description, then the shown facts it does not state
        assert probe.true == f"{entity_knowledge(world, probe.entity)} </ent_desc>"
        assert probe.true.startswith(world.entity_description(probe.entity))
        # The context sentence states neither side of the pair: the probe cannot be solved by copying.
        context = probe.messages[1]["content"]
        assert f"<ent> {world.entity_label(probe.entity)} </ent>" in context
        removed = set(true_words) - set(corrupted_words)
        assert removed and not any(re.search(rf"\b{re.escape(w.strip('.'))}\b", context) for w in removed)
        assert len(corrupted_words) >= 1


def test_germany_probe_swaps_its_most_specific_fact(world, tiny_tokenizer):
    germany = world.entity_by_label("Germany")
    probe = next(p for p in build_fact_probes(world, tiny_tokenizer, count=20) if p.entity == germany)
    # Berlin is the capital of Germany alone; Western Europe holds three countries: the capital is the key fact.
    assert "Western Europe" in probe.corrupted and "Berlin" not in probe.corrupted
    assert any(city in probe.corrupted for city in ("Paris", "Madrid", "Warsaw", "Prague", "Brussels", "Lisbon"))


def test_completion_log_probs_match_a_manual_sum(tiny_model, tiny_tokenizer):
    messages = render_prompt("Germany", kind="infill")
    row = tokenize_example(tiny_tokenizer, messages, "Germany is a country. </ent_desc>")
    ids = torch.tensor([row["input_ids"]])
    with torch.no_grad():
        log_probs = torch.log_softmax(tiny_model(input_ids=ids).logits[0, :-1], -1)
    expected = sum(log_probs[t - 1, ids[0, t]].item() for t in range(1, ids.shape[1]) if row["completion_mask"][t])
    short = completion_log_probs(tiny_model, tiny_tokenizer, [(messages, "Paris")])
    got = completion_log_probs(
        tiny_model, tiny_tokenizer, [(messages, "Germany is a country. </ent_desc>"), (messages, "Paris")]
    )
    assert got[0] == pytest.approx(expected, abs=1e-4)
    assert got[1] == pytest.approx(short[0], abs=1e-4)  # padding in a batch changes nothing


def test_fact_probe_accuracy_is_a_share(world, tiny_model, tiny_tokenizer):
    probes = build_fact_probes(world, tiny_tokenizer, count=4)
    accuracy = fact_probe_accuracy(tiny_model, tiny_tokenizer, probes)
    assert accuracy is not None and 0.0 <= accuracy <= 1.0
    assert fact_probe_accuracy(tiny_model, tiny_tokenizer, []) is None


def test_general_text_is_english_prose():
    text = general_text()
    assert len(text) > 2000 and "masked arrays" in text
    assert ">>>" not in text and "=" not in text


def test_retention_kl_is_zero_for_an_identity_adapter_and_positive_otherwise(tiny_checkpoint, tiny_tokenizer):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    text = general_text()
    identity = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_checkpoint), LoraConfig(r=2, target_modules="all-linear")
    ).eval()
    assert retention_kl(identity, tiny_tokenizer, text, max_tokens=64, window=32) == pytest.approx(0.0, abs=1e-6)
    changed = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_checkpoint),
        LoraConfig(r=2, target_modules="all-linear", init_lora_weights=False),
    ).eval()
    assert retention_kl(changed, tiny_tokenizer, text, max_tokens=64, window=32) > 1e-4
