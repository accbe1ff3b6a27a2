"""Batches pre-tokenised distillation rows: padded ids, completion-only labels, teacher rows on their tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers.data.data_collator import DataCollatorMixin
from trl.trainer.utils import pad

from kgpeft.errors import DataError
from kgpeft.training.loss import IGNORE_INDEX


@dataclass
class DataCollatorForDistillation(DataCollatorMixin):
    """Collate rows of ``input_ids``, ``completion_mask``, ``teacher_ids``, ``teacher_probs`` and ``neighbour_mask``.

    ``neighbour_mask`` is optional (docs/CONTRACTS.md).

    Returns, right-padded to the longest row (``T``):

    - ``input_ids`` ``(B, T)``, ``attention_mask`` ``(B, T)``;
    - ``labels`` ``(B, T)``: the token on completion tokens, ``-100`` on prompt and padding;
    - ``teacher_ids`` ``(B, T, K)`` long and ``teacher_probs`` ``(B, T, K)`` float: the j-th
      teacher row of a sequence on the position of its j-th completion token, zeros elsewhere,
      so that row ``t`` is the teacher's distribution for ``labels[t]``;
    - ``neighbour_mask`` ``(B, T)`` bool: the completion tokens that only name the entity a hop
      reaches (the row's ``neighbour_mask`` column; all False for a row without one).

    Rows longer than ``max_length`` keep their start, with the teacher rows of the completion
    tokens that remain. Other columns are ignored.

    Example:
        >>> collator = DataCollatorForDistillation(pad_token_id=0)
        >>> row = {"input_ids": [5, 6, 7], "completion_mask": [0, 1, 1],
        ...        "teacher_ids": [[6, 9], [7, 0]], "teacher_probs": [[0.8, 0.2], [1.0, 0.0]]}
        >>> batch = collator([row])
        >>> batch["labels"], batch["teacher_ids"][0, 1]
        (tensor([[-100,    6,    7]]), tensor([6, 9]))
    """

    pad_token_id: int
    max_length: int | None = None
    pad_to_multiple_of: int | None = None
    return_tensors: str = "pt"

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        rows = [self._row_tensors(example) for example in examples]
        padding_values = {
            "input_ids": self.pad_token_id,
            "attention_mask": 0,
            "labels": IGNORE_INDEX,
            "teacher_ids": 0,
            "teacher_probs": 0.0,
            "neighbour_mask": False,
        }
        return {
            key: pad(
                [row[key] for row in rows], value, padding_side="right", pad_to_multiple_of=self.pad_to_multiple_of
            )
            for key, value in padding_values.items()
        }

    def _row_tensors(self, example: dict[str, Any]) -> dict[str, torch.Tensor]:
        input_ids = torch.tensor(example["input_ids"], dtype=torch.long)  # (L,)
        completion = torch.tensor(example["completion_mask"], dtype=torch.bool)  # (L,)
        num_teacher_rows = len(example["teacher_ids"])
        if completion.shape != input_ids.shape or num_teacher_rows != int(completion.sum()):
            raise DataError(
                f"a training row has {len(input_ids)} input_ids, {len(completion)} completion_mask entries "
                f"({int(completion.sum())} completion tokens) and {num_teacher_rows} teacher rows; it needs one "
                "mask entry per token and one teacher row per completion token"
            )
        # Keeping the first max_length tokens keeps the teacher rows of the completion tokens among them
        input_ids, completion = input_ids[: self.max_length], completion[: self.max_length]
        kept_rows = int(completion.sum())
        row_ids = torch.tensor(example["teacher_ids"][:kept_rows], dtype=torch.long)  # (C, K)
        row_probs = torch.tensor(example["teacher_probs"][:kept_rows], dtype=torch.float32)  # (C, K)
        top_k = row_ids.shape[1] if kept_rows else 0  # a row without completion tokens takes K from the others
        teacher_ids = torch.zeros(len(input_ids), top_k, dtype=torch.long)  # (L, K)
        teacher_probs = torch.zeros(len(input_ids), top_k, dtype=torch.float32)  # (L, K)
        teacher_ids[completion] = row_ids.view(kept_rows, top_k)
        teacher_probs[completion] = row_probs.view(kept_rows, top_k)
        # Optional: rows made without it (older callers, synthetic benchmark rows) weigh every token the same
        neighbour = torch.tensor(example.get("neighbour_mask") or [0] * len(example["input_ids"]), dtype=torch.bool)
        if len(neighbour) != len(example["input_ids"]):
            raise DataError(
                f"a training row has {len(example['input_ids'])} input_ids and {len(neighbour)} neighbour_mask "
                "entries; it needs one per token"
            )
        return {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "labels": input_ids.masked_fill(~completion, IGNORE_INDEX),
            "teacher_ids": teacher_ids,
            "teacher_probs": teacher_probs,
            "neighbour_mask": neighbour[: self.max_length] & completion,
        }
