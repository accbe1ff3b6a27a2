"""Fixtures for the training tests: a tiny Llama built from a config, a local tokenizer, random rows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from datasets import Dataset
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from kgpeft.training.synthetic import synthetic_rows, synthetic_tokenizer

# The small world graph and its questions: training rows are built from a teacher's predictions on it
from tests.teachers.conftest import teacher_options, world, world_path, world_questions  # noqa: F401

VOCAB_SIZE = 320


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerFast:
    return synthetic_tokenizer(VOCAB_SIZE)


@pytest.fixture(scope="session")
def make_tiny_llama() -> Callable[[], LlamaForCausalLM]:
    """Builds the same tiny Llama on every call (same seed), so a fresh copy of a base model is always at hand."""

    def make() -> LlamaForCausalLM:
        config = LlamaConfig(
            vocab_size=VOCAB_SIZE,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=128,
            pad_token_id=0,
            eos_token_id=1,
            bos_token_id=None,
        )
        torch.manual_seed(0)
        return LlamaForCausalLM(config)

    return make


@pytest.fixture(scope="session")
def rows() -> Dataset:
    return synthetic_rows(8, vocab_size=VOCAB_SIZE, seq_len=(20, 32), prompt_len=(8, 16), top_k=4, seed=0)
