"""The distillation loss: alpha * cross-entropy on the gold path + (1 - alpha) * T^2 * KL(teacher || student).

Per completion token. A token the teacher says nothing about (every token of a knowledge-
infilling row, and a path row's tokens after the point where no teacher candidate agrees
with it) has no soft term, so its cross-entropy takes the whole weight: with ``alpha * CE``
alone, infilling rows trained at half the rate of what they were mixed in for (on
kg/isles.ttl, 2026-12-03: 2% of their own masked facts recalled after three passes).

Tokens may be weighted (``weights``): the trainer gives the tokens that only name the entity
a hop reaches ``KGDistillConfig.neighbour_weight`` in both terms (see there for why).

Shapes: ``B`` batch, ``T`` sequence length, ``V`` vocabulary, ``K`` teacher tokens per position,
``N`` completion tokens in the batch.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

IGNORE_INDEX = -100


class DistillLoss(NamedTuple):
    """The three values :func:`distillation_loss` returns, each a scalar tensor."""

    total: torch.Tensor
    """``alpha * hard + (1 - alpha) * (soft + hard on the tokens without teacher)``: the value to back-propagate."""
    hard: torch.Tensor
    """Cross-entropy of the gold tokens (each at its weight, where the batch has weights)."""
    soft: torch.Tensor
    """``T^2 * KL(teacher_T || student_T)`` over the teacher's support."""


def prediction_mask(labels: torch.Tensor) -> torch.Tensor:
    """Positions whose logits predict a completion token, as HF causal LMs shift: logits[t] -> labels[t + 1].

    Passed as ``logits_to_keep`` to a transformers causal LM, it makes the model project only
    these positions through the LM head and return ``(N, V)`` logits, which
    :func:`distillation_loss` accepts as they are.

    Example:
        >>> prediction_mask(torch.tensor([[-100, -100, 7, 8, -100]]))
        tensor([[False,  True,  True, False, False]])
    """
    mask = torch.zeros_like(labels, dtype=torch.bool)  # (B, T)
    mask[:, :-1] = labels[:, 1:] != IGNORE_INDEX
    return mask


def distillation_loss(
    student_logits: torch.Tensor,
    labels: torch.Tensor,
    teacher_ids: torch.Tensor,
    teacher_probs: torch.Tensor,
    alpha: float,
    temperature: float,
    num_items_in_batch: int | torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
) -> DistillLoss:
    """Hard, soft and total distillation loss of a batch.

    Args:
        student_logits: ``(B, T, V)`` logits of every position, or ``(N, V)`` the logits of the
            positions in ``prediction_mask(labels)`` only, in row-major order (what a causal LM
            returns for ``logits_to_keep=prediction_mask(labels)``).
        labels: ``(B, T)`` token ids, ``-100`` on prompt and padding.
        teacher_ids: ``(B, T, K)`` long; row ``t`` holds the teacher's top-K candidates for the
            token ``labels[t]`` (not for the next one: the shift happens here, as for ``labels``).
        teacher_probs: ``(B, T, K)`` float, the teacher's probabilities of ``teacher_ids``
            (at temperature 1). Rows summing to 0 carry no teacher information: their token
            is trained on cross-entropy alone, at weight 1; zero entries are outside the
            teacher's support.
        alpha: weight of the hard term, in ``[0, 1]``.
        temperature: ``T > 0``. The student is softened over the full vocabulary
            (``log_softmax(z / T)``), the teacher over its support (``p_T ∝ p^(1/T)``).
        num_items_in_batch: divisor of both sums; the number of completion tokens in the whole
            accumulated batch, so that summing micro-batch losses is exact under gradient
            accumulation. Defaults to the completion tokens of this batch.
        weights: ``(B, T)`` float, each token's weight in every term (aligned with ``labels``);
            default 1. The divisor stays the token count: a token at weight 0 adds nothing and
            leaves the others' share as it was.

    Returns:
        ``DistillLoss(total, hard, soft)``, each summed over completion tokens and divided by
        ``num_items_in_batch``.

    Example:
        >>> logits = torch.randn(2, 5, 11)
        >>> labels = torch.tensor([[-100, -100, 3, 4, 5], [-100, 1, 2, -100, -100]])
        >>> ids = torch.randint(0, 11, (2, 5, 4))
        >>> probs = torch.softmax(torch.randn(2, 5, 4), -1)
        >>> loss = distillation_loss(logits, labels, ids, probs, alpha=0.5, temperature=2.0)
        >>> loss.total.shape
        torch.Size([])
    """
    mask, targets, t_ids, t_probs, w = _completion_targets(labels, teacher_ids, teacher_probs, weights)
    # Index before anything else, so no (B, T, V) tensor is created here: only (N, V) ones
    logits = student_logits[mask] if student_logits.dim() == 3 else student_logits  # (N, V)
    return _mean_loss(*_token_loss_sums(logits, targets, t_ids, t_probs, w, temperature),
                      targets.numel(), num_items_in_batch, alpha)  # fmt: skip


def chunked_distillation_loss(
    hidden: torch.Tensor,
    lm_head: torch.nn.Module,
    labels: torch.Tensor,
    teacher_ids: torch.Tensor,
    teacher_probs: torch.Tensor,
    alpha: float,
    temperature: float,
    num_items_in_batch: int | torch.Tensor | None = None,
    chunk_size: int = 1024,
    weights: torch.Tensor | None = None,
) -> DistillLoss:
    """:func:`distillation_loss` from hidden states, the logits made ``chunk_size`` positions at a time.

    ``(N, V)`` fp32 logits and their softmax statistics are the largest tensors of a step
    (8 rows of 100 completion tokens over a 49k vocabulary: 160 MB each, several of them kept
    for the backward pass). Here each chunk of ``hidden`` goes through ``lm_head`` inside a
    checkpoint: the backward pass recomputes that chunk's logits instead of keeping them, so
    at most ``(chunk_size, V)`` logits exist at once. Same value as the unchunked loss; a batch
    of at most ``chunk_size`` positions is one chunk, not recomputed (the checkpoint costs a
    second pass through the head: +60% of the loss's time at 320 positions).

    Args:
        hidden: ``(N, H)`` final hidden states at the positions of ``prediction_mask(labels)``,
            row-major (what a causal LM returns as logits for ``logits_to_keep=prediction_mask(labels)``
            when its LM head is skipped).
        lm_head: the model's output projection (``model.get_output_embeddings()``), ``H -> V``.
        labels, teacher_ids, teacher_probs, alpha, temperature, num_items_in_batch, weights: as
            for :func:`distillation_loss`.
        chunk_size: positions projected at once (>= 1).

    Example:
        >>> head = torch.nn.Linear(8, 11, bias=False)
        >>> labels = torch.tensor([[-100, -100, 3, 4, 5]])
        >>> ids, probs = torch.randint(0, 11, (1, 5, 4)), torch.softmax(torch.randn(1, 5, 4), -1)
        >>> hidden = torch.randn(3, 8)  # the 3 positions predicting 3, 4 and 5
        >>> loss = chunked_distillation_loss(hidden, head, labels, ids, probs, 0.5, 2.0, chunk_size=2)
        >>> full = distillation_loss(head(hidden), labels, ids, probs, 0.5, 2.0)
        >>> bool(torch.allclose(loss.total, full.total))
        True
    """
    from torch.utils.checkpoint import checkpoint

    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    _, targets, t_ids, t_probs, w = _completion_targets(labels, teacher_ids, teacher_probs, weights)
    if len(targets) <= chunk_size:  # one chunk: nothing to save by recomputing it in the backward pass
        return _mean_loss(*_token_loss_sums(lm_head(hidden), targets, t_ids, t_probs, w, temperature),
                          targets.numel(), num_items_in_batch, alpha)  # fmt: skip

    def chunk_sums(
        h: torch.Tensor, y: torch.Tensor, ids: torch.Tensor, probs: torch.Tensor, wt: torch.Tensor
    ) -> torch.Tensor:
        return torch.stack(_token_loss_sums(lm_head(h), y, ids, probs, wt, temperature))  # (3,)

    # Tied to `hidden` even with no completion token, so that backward() finds a graph as it does unchunked
    sums = hidden.new_zeros(3, dtype=torch.float32) + hidden.sum().float() * 0
    for i in range(0, len(targets), chunk_size):
        part = slice(i, i + chunk_size)
        sums = sums + checkpoint(
            chunk_sums, hidden[part], targets[part], t_ids[part], t_probs[part], w[part], use_reentrant=False
        )
    return _mean_loss(sums[0], sums[1], sums[2], targets.numel(), num_items_in_batch, alpha)


def _completion_targets(
    labels: torch.Tensor, teacher_ids: torch.Tensor, teacher_probs: torch.Tensor, weights: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The prediction mask ``(B, T)`` and, per predicting position, its gold token ``(N,)``, teacher row ``(N, K)``
    and weight ``(N,)``."""
    mask = prediction_mask(labels)  # (B, T)
    # Teacher rows, labels and weights sit on the predicted token; move them onto the predicting position
    targets = labels[:, 1:][mask[:, :-1]]  # (N,)
    t_ids = teacher_ids[:, 1:][mask[:, :-1]]  # (N, K)
    t_probs = teacher_probs[:, 1:][mask[:, :-1]].float()  # (N, K)
    w = weights[:, 1:][mask[:, :-1]].float() if weights is not None else torch.ones_like(targets, dtype=torch.float32)
    return mask, targets, t_ids, t_probs, w


def _token_loss_sums(
    logits: torch.Tensor,
    targets: torch.Tensor,
    t_ids: torch.Tensor,
    t_probs: torch.Tensor,
    weights: torch.Tensor,
    temperature: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weighted sums: cross-entropy, ``T^2 * KL`` and the cross-entropy of the tokens without teacher information.

    Of ``(N, V)`` logits against gold ``(N,)`` and teacher ``(N, K)``, tokens weighted by ``(N,)``.
    """
    logits = logits.float()  # the softmax statistics in fp32, also under bf16 autocast

    # Hard: -log softmax(z)[gold] = logsumexp(z) - z[gold]; gathering before normalising avoids
    # keeping a (N, V) log-softmax for the backward pass
    log_z = torch.logsumexp(logits, dim=-1)  # (N,)
    hard = (log_z - logits.gather(-1, targets[:, None]).squeeze(-1)) * weights  # (N,)

    # Soft: student log-probabilities at temperature T, read only on the teacher's support
    tempered = logits / temperature if temperature != 1.0 else logits  # (N, V)
    log_z_t = torch.logsumexp(tempered, dim=-1) if temperature != 1.0 else log_z  # (N,)
    student_lp = tempered.gather(-1, t_ids) - log_z_t[:, None]  # (N, K)
    # Teacher at temperature T over its support: log p_T = log_softmax(log p / T), -inf off the support
    has_teacher = t_probs.sum(-1) > 0  # (N,)
    on_support = t_probs > 0  # (N, K)
    teacher_scores = t_probs.log() / temperature  # (N, K), -inf off the support
    # A row without support would be all -inf (NaN after log_softmax); it is masked out below
    teacher_scores = torch.where(has_teacher[:, None], teacher_scores, 0.0)
    teacher_lp = teacher_scores.log_softmax(-1)  # (N, K)
    teacher_p = teacher_lp.exp()  # (N, K), 0 off the support
    # KL(p_T || q_T) = sum_k p_T(k) * (log p_T(k) - log q_T(k)); 0 * log 0 = 0 off the support
    kl = (teacher_p * (torch.where(on_support, teacher_lp, 0.0) - student_lp)).sum(-1)  # (N,)
    # T^2 keeps the soft gradients' size independent of T (Hinton et al., 2015)
    soft_sum = torch.where(has_teacher, kl * weights, 0.0).sum() * temperature**2
    return hard.sum(), soft_sum, torch.where(has_teacher, 0.0, hard).sum()


def _mean_loss(
    hard_sum: torch.Tensor,
    soft_sum: torch.Tensor,
    untaught_sum: torch.Tensor,
    num_tokens: int,
    num_items_in_batch: int | torch.Tensor | None,
    alpha: float,
) -> DistillLoss:
    """The sums divided by ``num_items_in_batch`` (default: this batch's ``num_tokens``) and mixed by ``alpha``.

    The soft term's share falls to cross-entropy on the tokens without teacher (``untaught_sum``).
    """
    denominator = num_tokens if num_items_in_batch is None else num_items_in_batch
    denominator = torch.as_tensor(denominator, device=hard_sum.device).clamp(min=1)  # an empty batch gives 0, not NaN
    hard = hard_sum / denominator
    soft = soft_sum / denominator
    return DistillLoss(total=alpha * hard + (1 - alpha) * (soft + untaught_sum / denominator), hard=hard, soft=soft)
