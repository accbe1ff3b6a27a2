from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from kgpeft.training.loss import chunked_distillation_loss, distillation_loss, prediction_mask

B, T, V, K = 3, 9, 13, 4


@pytest.fixture
def batch() -> dict[str, torch.Tensor]:
    """Random logits and labels; rows have different prompt lengths and right padding."""
    torch.manual_seed(0)
    labels = torch.randint(0, V, (B, T))
    labels[0, :3] = -100  # prompt
    labels[1, :5] = -100
    labels[2, :2] = -100
    labels[2, 7:] = -100  # padding
    probs = torch.rand(B, T, K)
    return {
        "logits": torch.randn(B, T, V, requires_grad=True),
        "labels": labels,
        "teacher_ids": torch.stack([torch.randperm(V)[:K] for _ in range(B * T)]).view(B, T, K),
        "teacher_probs": probs / probs.sum(-1, keepdim=True),
    }


def dense_teacher(probs: torch.Tensor) -> dict[str, torch.Tensor]:
    """Teacher rows covering the whole vocabulary: ids 0..V-1 with the given (B, T, V) probabilities."""
    return {"teacher_ids": torch.arange(V).expand(*probs.shape[:2], V), "teacher_probs": probs}


def test_prediction_mask_points_at_the_position_before_each_completion_token():
    labels = torch.tensor([[-100, -100, 7, 8, -100], [-100, 4, 5, 6, 9]])
    assert prediction_mask(labels).tolist() == [[False, True, True, False, False], [True, True, True, True, False]]


@pytest.mark.parametrize("temperature", [1.0, 2.0, 0.5])
def test_soft_loss_is_zero_when_student_and_teacher_agree(batch, temperature):
    # The teacher's row at t is for labels[t], which the logits at t - 1 predict
    probs = torch.zeros(B, T, V)
    probs[:, 1:] = batch["logits"].detach()[:, :-1].softmax(-1)
    loss = distillation_loss(
        batch["logits"], batch["labels"], **dense_teacher(probs), alpha=0.0, temperature=temperature
    )
    torch.testing.assert_close(loss.soft, torch.tensor(0.0), atol=1e-5, rtol=0)
    assert loss.hard > 0


@pytest.mark.parametrize("temperature", [1.0, 2.0, 3.5])
def test_soft_loss_equals_kl_div_on_dense_inputs(batch, temperature):
    teacher_logits = torch.randn(B, T, V)
    loss = distillation_loss(
        batch["logits"],
        batch["labels"],
        **dense_teacher(teacher_logits.softmax(-1)),
        alpha=0.0,
        temperature=temperature,
    )
    mask = batch["labels"][:, 1:] != -100
    student = (batch["logits"][:, :-1][mask] / temperature).log_softmax(-1)  # (N, V)
    teacher = (teacher_logits[:, 1:][mask] / temperature).softmax(-1)  # (N, V)
    expected = F.kl_div(student, teacher, reduction="sum") * temperature**2 / mask.sum()
    torch.testing.assert_close(loss.soft, expected)
    torch.testing.assert_close(loss.total, expected)


def test_sparse_teacher_is_retempered_over_its_support(batch):
    temperature = 2.0
    loss = distillation_loss(**_args(batch), alpha=0.0, temperature=temperature)
    # The same teacher written densely: p^(1/T) renormalised over the K ids, zero elsewhere
    dense = torch.zeros(B, T, V).scatter(-1, batch["teacher_ids"], batch["teacher_probs"] ** (1 / temperature))
    dense = dense / dense.sum(-1, keepdim=True)
    mask = batch["labels"][:, 1:] != -100
    student = (batch["logits"][:, :-1][mask] / temperature).log_softmax(-1)
    expected = F.kl_div(student, dense[:, 1:][mask], reduction="sum") * temperature**2 / mask.sum()
    torch.testing.assert_close(loss.soft, expected)


def test_alpha_one_is_plain_cross_entropy(batch):
    loss = distillation_loss(**_args(batch), alpha=1.0, temperature=2.0)
    expected = F.cross_entropy(
        batch["logits"][:, :-1].reshape(-1, V), batch["labels"][:, 1:].reshape(-1), ignore_index=-100
    )
    torch.testing.assert_close(loss.total, expected)
    torch.testing.assert_close(loss.hard, expected)


def test_rows_without_teacher_mass_are_left_out_of_the_soft_term(batch):
    probs = batch["teacher_probs"].clone()
    probs[0, 4] = 0.0  # completion tokens of rows 0 and 1
    probs[1, 6] = 0.0
    excluded = distillation_loss(**_args(batch, teacher_probs=probs), alpha=0.0, temperature=2.0)
    assert torch.isfinite(excluded.soft)
    # The per-token KLs of the remaining rows, still divided by all completion tokens
    mask = batch["labels"][:, 1:] != -100
    per_token = torch.stack(
        [
            distillation_loss(**_args(batch, labels=_only(batch["labels"], b, t)), alpha=0.0, temperature=2.0).soft
            for b, t in (mask.nonzero() + torch.tensor([0, 1])).tolist()
            if (b, t) not in {(0, 4), (1, 6)}
        ]
    )
    torch.testing.assert_close(excluded.soft, per_token.sum() / mask.sum())


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_tokens_without_teacher_are_trained_on_cross_entropy_at_full_weight(batch, alpha):
    probs = batch["teacher_probs"].clone()
    probs[0, 4] = 0.0  # one completion token the teacher says nothing about (an infilling row's, say)
    loss = distillation_loss(**_args(batch, teacher_probs=probs), alpha=alpha, temperature=2.0)
    mask = batch["labels"][:, 1:] != -100
    untaught = distillation_loss(**_args(batch, labels=_only(batch["labels"], 0, 4)), alpha=1.0, temperature=2.0)
    # The one token's cross-entropy, as a share of the batch's completion tokens, takes the soft term's weight too
    expected = alpha * loss.hard + (1 - alpha) * (loss.soft + untaught.hard / mask.sum())
    torch.testing.assert_close(loss.total, expected)
    everything_untaught = distillation_loss(
        **_args(batch, teacher_probs=torch.zeros(B, T, K)), alpha=alpha, temperature=2.0
    )
    torch.testing.assert_close(everything_untaught.total, everything_untaught.hard)


def test_a_batch_without_teacher_mass_gives_zero_soft_loss_and_finite_gradients(batch):
    loss = distillation_loss(**_args(batch, teacher_probs=torch.zeros(B, T, K)), alpha=0.5, temperature=2.0)
    loss.total.backward()
    assert loss.soft == 0
    assert torch.isfinite(batch["logits"].grad).all()


def test_a_batch_without_completion_tokens_gives_zero_loss(batch):
    loss = distillation_loss(**_args(batch, labels=torch.full((B, T), -100)), alpha=0.5, temperature=2.0)
    loss.total.backward()
    assert loss.total == 0 and loss.hard == 0 and loss.soft == 0


def test_selected_logits_give_the_same_loss_as_full_logits(batch):
    full = distillation_loss(**_args(batch), alpha=0.3, temperature=2.0)
    selected = batch["logits"][prediction_mask(batch["labels"])]  # (N, V), as a model returns for logits_to_keep
    assert selected.dim() == 2
    torch.testing.assert_close(distillation_loss(**_args(batch, logits=selected), alpha=0.3, temperature=2.0), full)


def test_gradient_accumulation_with_num_items_in_batch_is_exact(batch):
    full = distillation_loss(**_args(batch), alpha=0.3, temperature=2.0)
    (full_grad,) = torch.autograd.grad(full.total, batch["logits"])

    num_items = (batch["labels"][:, 1:] != -100).sum()
    parts = [slice(0, 1), slice(1, 3)]  # micro-batches with different numbers of completion tokens
    micro = [
        distillation_loss(
            **{key: value[part] for key, value in _args(batch).items()},
            alpha=0.3,
            temperature=2.0,
            num_items_in_batch=num_items,
        )
        for part in parts
    ]
    torch.testing.assert_close(sum(m.total for m in micro), full.total)
    torch.testing.assert_close(sum(m.hard for m in micro), full.hard)
    torch.testing.assert_close(sum(m.soft for m in micro), full.soft)
    (accumulated_grad,) = torch.autograd.grad(sum(m.total for m in micro), batch["logits"])
    torch.testing.assert_close(accumulated_grad, full_grad)


def test_token_weights_scale_each_token_in_every_term(batch):
    plain = distillation_loss(**_args(batch), alpha=0.3, temperature=2.0)
    ones = distillation_loss(**_args(batch), alpha=0.3, temperature=2.0, weights=torch.ones(B, T))
    torch.testing.assert_close(ones, plain)
    # Weight 0 on one token: the loss of every other token, over the same number of tokens
    weights = torch.ones(B, T)
    weights[1, 6] = 0.0
    labels = batch["labels"].clone()
    labels[1, 6] = -100
    without = distillation_loss(**_args(batch, labels=labels), alpha=0.3, temperature=2.0)
    num_tokens = (batch["labels"] != -100).sum()
    loss = distillation_loss(**_args(batch), alpha=0.3, temperature=2.0, weights=weights)
    for got, expected in zip(loss, without, strict=True):
        torch.testing.assert_close(got, expected * (num_tokens - 1) / num_tokens)
    # Half weight on every token halves every term
    half = distillation_loss(**_args(batch), alpha=0.3, temperature=2.0, weights=torch.full((B, T), 0.5))
    for got, expected in zip(half, plain, strict=True):
        torch.testing.assert_close(got, expected / 2)


def test_chunked_loss_takes_the_same_weights():
    torch.manual_seed(0)
    head = torch.nn.Linear(8, V, bias=False)
    labels = torch.tensor([[-100, -100, 3, 4, 5, 6]])
    ids, probs = torch.randint(0, V, (1, 6, K)), torch.softmax(torch.randn(1, 6, K), -1)
    hidden = torch.randn(4, 8)
    weights = torch.tensor([[1.0, 1.0, 0.1, 1.0, 0.1, 1.0]])
    chunked = chunked_distillation_loss(hidden, head, labels, ids, probs, 0.5, 2.0, chunk_size=3, weights=weights)
    full = distillation_loss(head(hidden), labels, ids, probs, 0.5, 2.0, weights=weights)
    torch.testing.assert_close(chunked, full)


def _args(batch: dict[str, torch.Tensor], **overrides: torch.Tensor) -> dict[str, torch.Tensor]:
    args = {
        "student_logits": batch["logits"],
        "labels": batch["labels"],
        "teacher_ids": batch["teacher_ids"],
        "teacher_probs": batch["teacher_probs"],
    }
    if "logits" in overrides:
        overrides["student_logits"] = overrides.pop("logits")
    return args | overrides


def _only(labels: torch.Tensor, b: int, t: int) -> torch.Tensor:
    """Labels with every position ignored except (b, t)."""
    only = torch.full_like(labels, -100)
    only[b, t] = labels[b, t]
    return only
