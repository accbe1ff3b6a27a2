from __future__ import annotations

import pytest
import torch

from kgpeft.errors import DataError
from kgpeft.training import DataCollatorForDistillation


def test_teacher_rows_land_on_their_completion_tokens(rows):
    examples = [rows[i] for i in range(4)]
    batch = DataCollatorForDistillation(pad_token_id=0)(examples)
    longest = max(len(example["input_ids"]) for example in examples)
    assert batch["input_ids"].shape == batch["labels"].shape == (4, longest)
    assert batch["teacher_ids"].shape == batch["teacher_probs"].shape == (4, longest, 4)
    for b, example in enumerate(examples):
        length = len(example["input_ids"])
        completion = torch.tensor(example["completion_mask"], dtype=torch.bool)
        assert batch["input_ids"][b, :length].tolist() == example["input_ids"]
        assert batch["attention_mask"][b].tolist() == [1] * length + [0] * (longest - length)
        # Labels: the token on completion tokens, -100 on the prompt and on padding
        expected_labels = torch.tensor(example["input_ids"]).masked_fill(~completion, -100).tolist()
        assert batch["labels"][b].tolist() == expected_labels + [-100] * (longest - length)
        # The j-th teacher row sits on the j-th completion token: where labels[t] is that token
        positions = completion.nonzero().squeeze(-1)
        assert batch["teacher_ids"][b, positions].tolist() == example["teacher_ids"]
        torch.testing.assert_close(batch["teacher_probs"][b, positions], torch.tensor(example["teacher_probs"]))
        # The synthetic teacher puts the gold token first on rows that carry mass
        for t, probs in zip(positions.tolist(), example["teacher_probs"], strict=True):
            if sum(probs) > 0:
                assert batch["teacher_ids"][b, t, 0] == batch["labels"][b, t]
        # Zeros everywhere else
        outside = torch.ones(longest, dtype=torch.bool)
        outside[positions] = False
        assert not batch["teacher_ids"][b, outside].any() and not batch["teacher_probs"][b, outside].any()


def test_max_length_keeps_the_start_with_its_teacher_rows(rows):
    example = rows[0]
    prompt = example["completion_mask"].index(1)
    batch = DataCollatorForDistillation(pad_token_id=0, max_length=prompt + 2)([example])
    assert batch["input_ids"].shape == (1, prompt + 2)
    assert batch["teacher_ids"][0, prompt:].tolist() == example["teacher_ids"][:2]


def test_pad_to_multiple_of(rows):
    batch = DataCollatorForDistillation(pad_token_id=0, pad_to_multiple_of=16)([rows[0], rows[1]])
    assert all(value.shape[1] % 16 == 0 for value in batch.values())


def test_a_row_whose_teacher_rows_do_not_match_its_completion_is_rejected(rows):
    example = dict(rows[0])
    example["teacher_ids"] = example["teacher_ids"][:-1]
    with pytest.raises(DataError, match="teacher rows"):
        DataCollatorForDistillation(pad_token_id=0)([example])


def test_neighbour_mask_is_padded_and_kept_to_completion_tokens(rows):
    example = dict(rows[0])
    completion = example["completion_mask"]
    first = completion.index(1)
    example["neighbour_mask"] = [1] * len(completion)  # the prompt part is dropped: not a completion token
    other = dict(rows[1], neighbour_mask=[0] * len(rows[1]["input_ids"]))
    batch = DataCollatorForDistillation(pad_token_id=0)([example, other])
    assert batch["neighbour_mask"].dtype == torch.bool and batch["neighbour_mask"].shape == batch["labels"].shape
    assert batch["neighbour_mask"][0].tolist()[: len(completion)] == [bool(c) for c in completion]
    assert not batch["neighbour_mask"][0, :first].any() and not batch["neighbour_mask"][1].any()
    # A row without the column weighs every token the same
    assert not DataCollatorForDistillation(pad_token_id=0)([rows[0]])["neighbour_mask"].any()


def test_a_neighbour_mask_of_another_length_is_rejected(rows):
    example = dict(rows[0], neighbour_mask=[0] * (len(rows[0]["input_ids"]) - 1))
    with pytest.raises(DataError, match="neighbour_mask"):
        DataCollatorForDistillation(pad_token_id=0)([example])
