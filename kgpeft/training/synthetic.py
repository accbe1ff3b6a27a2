"""Random distillation rows and a placeholder tokenizer, for tests, benchmarks and smoke runs (no download, no KG)."""

from __future__ import annotations

import numpy as np
from datasets import Dataset
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import PreTrainedTokenizerFast


def synthetic_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    """A whitespace tokenizer over the words ``<pad> <eos> <unk> t3 t4 ...`` (``vocab_size`` in all).

    Example:
        >>> synthetic_tokenizer(16)("t3 t4").input_ids
        [3, 4]
    """
    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2} | {f"t{i}": i for i in range(3, vocab_size)}
    backend = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def synthetic_rows(
    num_rows: int,
    vocab_size: int,
    seq_len: tuple[int, int],
    prompt_len: tuple[int, int],
    top_k: int,
    seed: int = 0,
) -> Dataset:
    """Pre-tokenised rows in the soft-target format of docs/CONTRACTS.md, with random tokens.

    Lengths are drawn uniformly from the inclusive ``(low, high)`` ranges (pass equal bounds for
    fixed lengths; the completion keeps at least one token). Each completion token gets a
    teacher row whose support holds the gold token and up to ``top_k - 1`` others, with a
    random share of the mass; one row in five is all zeros (no teacher information).

    Example:
        >>> rows = synthetic_rows(4, vocab_size=64, seq_len=(12, 16), prompt_len=(4, 8), top_k=3)
        >>> sorted(rows.column_names)
        ['completion_mask', 'input_ids', 'teacher_ids', 'teacher_probs']
    """
    rng = np.random.default_rng(seed)
    columns: dict[str, list] = {"input_ids": [], "completion_mask": [], "teacher_ids": [], "teacher_probs": []}
    for _ in range(num_rows):
        length = int(rng.integers(seq_len[0], seq_len[1] + 1))
        prompt = min(int(rng.integers(prompt_len[0], prompt_len[1] + 1)), length - 1)
        input_ids = rng.integers(3, vocab_size, size=length)
        teacher_ids = np.zeros((length - prompt, top_k), dtype=np.int64)
        teacher_probs = np.zeros((length - prompt, top_k), dtype=np.float32)
        for row, gold in enumerate(input_ids[prompt:]):
            if rng.random() < 0.2:
                continue
            support = int(rng.integers(1, top_k + 1))
            # Distinct ids other than the gold one: draw from one id fewer, then step over the gold id
            others = rng.choice(vocab_size - 4, support - 1, replace=False) + 3
            teacher_ids[row, :support] = [gold, *(others + (others >= gold))]
            teacher_probs[row, :support] = rng.dirichlet(np.ones(support))
        columns["input_ids"].append(input_ids.tolist())
        columns["completion_mask"].append([0] * prompt + [1] * (length - prompt))
        columns["teacher_ids"].append(teacher_ids.tolist())
        columns["teacher_probs"].append(teacher_probs.tolist())
    return Dataset.from_dict(columns)
