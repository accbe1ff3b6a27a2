"""``KGDistillTrainer``: TRL's ``SFTTrainer`` with the distillation loss."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from trl import SFTTrainer

from kgpeft.training.collator import DataCollatorForDistillation
from kgpeft.training.config import KGDistillConfig
from kgpeft.training.loss import IGNORE_INDEX, chunked_distillation_loss, distillation_loss, prediction_mask
from kgpeft.training.sampler import LengthBucketSampler

MIN_SHARED_PREFIX = 4
"""Shorter shared prefixes are not worth a second forward call."""


@contextlib.contextmanager
def _skipped(module: torch.nn.Module) -> Iterator[None]:
    """``module`` returns its input unchanged inside the block (the LM head, while the loss applies it in chunks)."""
    module.forward = _identity  # an instance attribute: nn.Module.__call__ finds it before the class's forward
    try:
        yield
    finally:
        del module.forward


def _identity(hidden: torch.Tensor) -> torch.Tensor:
    return hidden


def shared_prefix_length(input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor) -> int:
    """How many leading tokens every row has in common, ends with prompt to spare, and attends to (0 if < 4).

    The prefix stops one token before the earliest completion token, so that no position in it
    predicts a label.

    Example:
        >>> ids = torch.tensor([[1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 9, 6, 0]])
        >>> labels = torch.tensor([[-100] * 5 + [6, 7], [-100] * 5 + [6, -100]])
        >>> shared_prefix_length(ids, torch.tensor([[1] * 7, [1] * 6 + [0]]), labels)
        4
    """
    same = (input_ids == input_ids[:1]).all(0) & attention_mask.bool().all(0)  # (T,)
    length = int(same.long().cumprod(0).sum())
    completion = (labels != IGNORE_INDEX).any(0)  # (T,)
    if completion.any():
        length = min(length, int(completion.long().argmax()) - 1)
    return length if length >= MIN_SHARED_PREFIX else 0


class KGDistillTrainer(SFTTrainer):
    """Train a (PEFT) causal LM on ``alpha * hard + (1 - alpha) * soft`` (see :func:`distillation_loss`).

    Takes everything ``SFTTrainer`` takes. ``args`` must be a :class:`KGDistillConfig`; datasets
    are pre-tokenised rows with ``input_ids``, ``completion_mask``, ``teacher_ids`` and
    ``teacher_probs`` (docs/CONTRACTS.md), which TRL leaves as they are and
    :class:`DataCollatorForDistillation` batches. ``hard_loss`` and ``soft_loss`` are logged
    next to ``loss``.

    Example (``rows``: a ``datasets.Dataset`` of such rows)::

        trainer = KGDistillTrainer(
            model, args=KGDistillConfig("out", max_steps=3), train_dataset=rows, processing_class=tokenizer,
            peft_config=LoraConfig(target_modules="all-linear", task_type="CAUSAL_LM"),
        )
        trainer.train()
        trainer.save_model("out/adapter")  # plain PEFT files: PeftModel.from_pretrained(base, "out/adapter")
    """

    _tag_names: ClassVar[list[str]] = ["trl", "sft", "kgpeft"]
    loss_chunk_size: ClassVar[int] = 1024
    """Completion positions whose logits the loss makes at once (0: all of a batch at once, one (N, V) tensor)."""

    def __init__(
        self,
        model: Any,
        args: KGDistillConfig,
        *,
        data_collator: Any = None,
        processing_class: Any = None,
        **sft_trainer_kwargs: Any,
    ) -> None:
        if not isinstance(args, KGDistillConfig):
            raise TypeError(f"args must be a KGDistillConfig, got {type(args).__name__}")
        if data_collator is None:
            # Padding is masked out of attention and labels, so any valid id does; the tokenizer's is the natural one
            pad_token_id = getattr(processing_class, "pad_token_id", None)
            if pad_token_id is None:
                pad_token_id = getattr(processing_class, "eos_token_id", None) or 0
            data_collator = DataCollatorForDistillation(
                pad_token_id=pad_token_id, max_length=args.max_length, pad_to_multiple_of=args.pad_to_multiple_of
            )
        super().__init__(
            model, args, data_collator=data_collator, processing_class=processing_class, **sft_trainer_kwargs
        )

    def _get_train_sampler(self, train_dataset: Any = None) -> torch.utils.data.Sampler | None:
        dataset = self.train_dataset if train_dataset is None else train_dataset
        if (
            not self.args.length_buckets
            or not hasattr(dataset, "column_names")
            or "input_ids" not in dataset.column_names
        ):
            return super()._get_train_sampler(train_dataset)
        lengths = [len(ids) for ids in dataset["input_ids"]]
        # Buckets of one optimiser step's rows across every process: its micro-batches are sorted
        # slices of them, so gradient accumulation sees the same rows as one large batch would. Every
        # rank draws the same order (same seed); accelerate's BatchSamplerShard deals consecutive
        # micro-batches to the ranks in turn, so each rank trains on its own slice of each bucket and
        # a step over N processes sees the rows one process would with an N times larger batch.
        step_rows = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return LengthBucketSampler(lengths, step_rows * self.accelerator.num_processes, seed=self.args.seed)

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: int | torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        mode = "train" if model.training else "eval"
        labels = inputs["labels"]  # (B, T)
        keep = prediction_mask(labels)  # (B, T)
        input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]  # (B, T)
        # Every row starts with the same prompt tokens (the chat template and system prompt, a fifth
        # of a row): they run through the model once, as a one-row cache that every row attends to.
        shared = shared_prefix_length(input_ids, attention_mask, labels)
        cache = None
        if shared:
            cache = model(input_ids=input_ids[:1, :shared], use_cache=True).cache
            cache.batch_repeat_interleave(len(input_ids))  # (1, H, P, D) -> (B, H, P, D), in the autograd graph
        # Only the positions that predict completion tokens are kept: (N, H) hidden states, not (B, T, V) logits.
        # The LM head is skipped in the forward pass and applied by the loss in chunks (chunked_distillation_loss);
        # outputs returned to the caller (evaluation) keep their logits. Called without `fused_lm_head`, the
        # forward SFTTrainer patched in is the model's own.
        head = self.accelerator.unwrap_model(model).get_output_embeddings()
        # FSDP shards the head's weight outside its own forward pass: there it stays inside the model
        chunked = self.loss_chunk_size > 0 and not return_outputs and head is not None and not self.is_fsdp_enabled
        with _skipped(head) if chunked else contextlib.nullcontext():
            outputs = model(
                input_ids=input_ids[:, shared:],
                attention_mask=attention_mask,
                logits_to_keep=keep[:, shared:],
                cache=cache,
                use_cache=cache is not None,
            )
        teacher = (labels, inputs["teacher_ids"], inputs["teacher_probs"])
        settings = {"alpha": self.args.alpha, "temperature": self.args.temperature}
        neighbour = inputs.get("neighbour_mask")
        if neighbour is not None and self.args.neighbour_weight != 1.0:
            settings["weights"] = torch.where(neighbour, self.args.neighbour_weight, 1.0)  # (B, T)
        if chunked:
            loss = chunked_distillation_loss(
                outputs.logits, head, *teacher, **settings, num_items_in_batch=num_items_in_batch,
                chunk_size=self.loss_chunk_size,
            )  # fmt: skip
        else:
            loss = distillation_loss(outputs.logits, *teacher, **settings, num_items_in_batch=num_items_in_batch)
        total = loss.total
        # As in Trainer.compute_loss: `num_items_in_batch` counts every rank's tokens while DDP averages gradients
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            total = total * (self.accelerator.num_processes // self.get_tp_size())

        # Logged as per-token means of this micro-batch, whatever divisor the gradient used
        num_tokens = keep.sum()
        to_mean = 1.0 if num_items_in_batch is None else num_items_in_batch / num_tokens.clamp(min=1)
        for name, value in (("hard_loss", loss.hard), ("soft_loss", loss.soft)):
            mean = self.accelerator.gather_for_metrics((value.detach() * to_mean).reshape(1)).mean()
            self._metrics[mode][name].append(mean.item())
        return (total, outputs) if return_outputs else total
