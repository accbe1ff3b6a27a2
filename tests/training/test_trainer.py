from __future__ import annotations

import math

import torch
from peft import LoraConfig, PeftModel

from kgpeft.training import KGDistillConfig, KGDistillTrainer


def test_distillation_trains_evaluates_logs_both_losses_and_saves_a_plain_peft_adapter(
    tmp_path, tokenizer, make_tiny_llama, rows
):
    args = KGDistillConfig(
        output_dir=str(tmp_path / "run"),
        max_steps=3,
        per_device_train_batch_size=2,
        learning_rate=1e-2,  # large, so that the adapter moves away from its (identity) initialisation
        logging_steps=1,
        save_strategy="no",
        use_cpu=True,
        alpha=0.5,
        temperature=2.0,
    )
    trainer = KGDistillTrainer(
        make_tiny_llama(),
        args=args,
        train_dataset=rows,
        processing_class=tokenizer,
        peft_config=LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    # TRL skipped its preparation: the rows reach the collator as they are, teacher columns included
    assert trainer.train_dataset.column_names == rows.column_names
    assert trainer.train_dataset["input_ids"] == rows["input_ids"]

    trainer.train()

    steps = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(steps) == 3
    for entry in steps:
        assert all(math.isfinite(entry[key]) for key in ("loss", "hard_loss", "soft_loss"))
        assert entry["hard_loss"] > 0 and entry["soft_loss"] > 0
        # alpha * hard + (1 - alpha) * soft, plus (1 - alpha) * the cross-entropy of the tokens without a
        # teacher, which is part of the hard loss
        mixed = 0.5 * entry["hard_loss"] + 0.5 * entry["soft_loss"]
        assert mixed * (1 - 1e-3) <= entry["loss"] <= (mixed + 0.5 * entry["hard_loss"]) * (1 + 1e-3)

    metrics = trainer.evaluate(rows.select(range(4)))
    assert all(math.isfinite(metrics[key]) for key in ("eval_loss", "eval_hard_loss", "eval_soft_loss"))

    adapter_dir = tmp_path / "adapter"
    trainer.save_model(str(adapter_dir))
    assert (adapter_dir / "adapter_config.json").is_file()
    assert (adapter_dir / "adapter_model.safetensors").is_file()

    base = make_tiny_llama()
    input_ids = torch.tensor([rows[0]["input_ids"]])
    with torch.no_grad():
        base_logits = base(input_ids).logits
        loaded = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
        trained = trainer.model.eval()
        torch.testing.assert_close(loaded(input_ids).logits, trained(input_ids).logits)
        assert not torch.allclose(loaded(input_ids).logits, base_logits)


def test_gradient_accumulation_gives_the_large_batch_update(tmp_path, tokenizer, make_tiny_llama, rows):
    def trained_adapter(batch_size: int, accumulation: int) -> dict[str, torch.Tensor]:
        args = KGDistillConfig(
            output_dir=str(tmp_path / f"run-{batch_size}"),
            max_steps=1,
            per_device_train_batch_size=batch_size,
            gradient_accumulation_steps=accumulation,
            optim="sgd",  # the update is the gradient itself, unlike Adam's first step
            learning_rate=1.0,
            lr_scheduler_type="constant",
            save_strategy="no",
            use_cpu=True,
        )
        trainer = KGDistillTrainer(
            make_tiny_llama(),
            args=args,
            train_dataset=rows,
            processing_class=tokenizer,
            peft_config=LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"),
        )
        trainer.train()
        return {name: p.detach().clone() for name, p in trainer.model.named_parameters() if p.requires_grad}

    # The same four rows (same sampler seed), with different numbers of completion tokens per micro-batch
    large_batch = trained_adapter(batch_size=4, accumulation=1)
    accumulated = trained_adapter(batch_size=2, accumulation=2)
    for name, value in large_batch.items():
        torch.testing.assert_close(accumulated[name], value, msg=name)


def test_train_batches_are_length_bucketed_unless_turned_off(tmp_path, tokenizer, make_tiny_llama, rows):
    from kgpeft.training.sampler import LengthBucketSampler

    def sampler(**options):
        args = KGDistillConfig(output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=2, **options)
        return KGDistillTrainer(
            make_tiny_llama(), args=args, train_dataset=rows, processing_class=tokenizer
        )._get_train_sampler()

    bucketed = sampler()
    assert isinstance(bucketed, LengthBucketSampler) and bucketed.batch_size == 2
    assert bucketed.lengths.tolist() == [len(ids) for ids in rows["input_ids"]]
    assert not isinstance(sampler(length_buckets=False), LengthBucketSampler)


def test_under_two_processes_each_rank_trains_on_its_own_half_of_every_step(
    tmp_path, tokenizer, make_tiny_llama, rows, monkeypatch
):
    """Rows seen per rank, counted through accelerate's own sharding of the trainer's sampler."""
    from accelerate import Accelerator
    from accelerate.data_loader import BatchSamplerShard
    from datasets import concatenate_datasets
    from torch.utils.data import BatchSampler

    many = concatenate_datasets([rows] * 6)  # 48 rows: 6 steps of 8 rows over both ranks
    batch, accumulation = 2, 2

    def steps(processes: int, per_device: int) -> tuple[list[list[list[int]]], int]:
        """Each optimiser step's rows, per rank, as `accelerator.prepare` deals the micro-batches."""
        monkeypatch.setattr(Accelerator, "num_processes", property(lambda self: processes))
        args = KGDistillConfig(
            output_dir=str(tmp_path),
            use_cpu=True,
            per_device_train_batch_size=per_device,
            gradient_accumulation_steps=accumulation,
        )
        trainer = KGDistillTrainer(make_tiny_llama(), args=args, train_dataset=many, processing_class=tokenizer)
        sampler = trainer._get_train_sampler()
        micro = [
            list(BatchSamplerShard(BatchSampler(sampler, per_device, False), processes, rank))
            for rank in range(processes)
        ]
        per_step = [
            [[row for b in m[i : i + accumulation] for row in b] for i in range(0, len(m), accumulation)] for m in micro
        ]
        return [list(step) for step in zip(*per_step, strict=True)], sampler.batch_size

    two, bucket = steps(2, batch)
    one, _ = steps(1, 2 * batch)  # one process, the same global batch
    assert bucket == 2 * batch * accumulation, "a bucket holds one optimiser step of every rank"
    assert len(two) == len(one) == 6
    for (rank0, rank1), (alone,) in zip(two, one, strict=True):
        assert len(rank0) == len(rank1) == batch * accumulation, "each rank sees half of the step"
        assert not set(rank0) & set(rank1), "the ranks' rows are distinct"
        assert sorted(rank0 + rank1) == sorted(alone), "together they are the single process's step"


def test_a_prompt_prefix_shared_by_every_row_runs_once_with_the_same_loss_and_gradients(
    tmp_path, tokenizer, make_tiny_llama, rows, monkeypatch
):
    import kgpeft.training.trainer as trainer_module

    system = [5, 6, 7, 8, 9, 10]  # as a chat template and system prompt start every row
    shared_rows = rows.map(
        lambda row: {
            "input_ids": system + row["input_ids"],
            "completion_mask": [0] * len(system) + row["completion_mask"],
        }
    )
    args = KGDistillConfig(output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=4, alpha=0.5)
    trainer = KGDistillTrainer(
        make_tiny_llama(),
        args=args,
        train_dataset=shared_rows,
        processing_class=tokenizer,
        peft_config=LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM", init_lora_weights=False),
    )
    batch = trainer.data_collator([shared_rows[i] for i in range(4)])
    assert trainer_module.shared_prefix_length(batch["input_ids"], batch["attention_mask"], batch["labels"]) >= 6

    def loss_and_grads():
        trainer.model.zero_grad()
        loss = trainer.compute_loss(trainer.model, batch)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
        return loss.detach(), grads

    shared_loss, shared_grads = loss_and_grads()
    monkeypatch.setattr(trainer_module, "shared_prefix_length", lambda *args: 0)
    full_loss, full_grads = loss_and_grads()
    torch.testing.assert_close(shared_loss, full_loss)
    for name, grad in full_grads.items():
        torch.testing.assert_close(shared_grads[name], grad, msg=name)


def test_the_loss_made_in_chunks_through_the_lm_head_has_the_unchunked_value_and_gradients(
    tmp_path, tokenizer, make_tiny_llama, rows, monkeypatch
):
    args = KGDistillConfig(output_dir=str(tmp_path), use_cpu=True, per_device_train_batch_size=4, alpha=0.5)
    trainer = KGDistillTrainer(
        make_tiny_llama(),
        args=args,
        train_dataset=rows,
        processing_class=tokenizer,
        peft_config=LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM", init_lora_weights=False),
    )
    batch = trainer.data_collator([rows[i] for i in range(4)])
    head = trainer.model.get_output_embeddings()
    calls = []
    head.register_forward_hook(lambda module, inputs, output: calls.append(tuple(output.shape)))

    def loss_and_grads(chunk_size):
        monkeypatch.setattr(KGDistillTrainer, "loss_chunk_size", chunk_size)
        calls.clear()
        trainer.model.zero_grad()
        loss = trainer.compute_loss(trainer.model, batch)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
        return loss.detach(), grads, list(calls)

    full_loss, full_grads, full_calls = loss_and_grads(0)
    chunked_loss, chunked_grads, chunked_calls = loss_and_grads(3)
    tokens = int((batch["labels"] != -100).sum())
    vocab = full_calls[0][1]
    assert full_calls == [(tokens, vocab)], "unchunked: one (N, V) projection"
    # Skipped in the forward pass (hidden states through), then chunks of 3 positions, each projected
    # again in the backward pass (the checkpoint)
    assert chunked_calls[0][0] == tokens and chunked_calls[0][1] < vocab
    projected = [rows for rows, width in chunked_calls[1:] if width == vocab]
    assert len(projected) == len(chunked_calls) - 1 and max(projected) == 3 and sum(projected) == 2 * tokens
    torch.testing.assert_close(chunked_loss, full_loss, rtol=1e-5, atol=1e-6)
    for name, grad in full_grads.items():
        torch.testing.assert_close(chunked_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_neighbour_tokens_count_at_neighbour_weight(tmp_path, tokenizer, make_tiny_llama, rows):
    def loss(weight: float, marked: bool) -> torch.Tensor:
        args = KGDistillConfig(output_dir=str(tmp_path), use_cpu=True, alpha=0.5, neighbour_weight=weight)
        trainer = KGDistillTrainer(
            make_tiny_llama(), args=args, train_dataset=rows, processing_class=tokenizer,
            peft_config=LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"),
        )  # fmt: skip
        examples = [
            dict(rows[i], neighbour_mask=list(rows[i]["completion_mask"]) if marked else None) for i in range(4)
        ]
        with torch.no_grad():
            return trainer.compute_loss(trainer.model, trainer.data_collator(examples))

    # Every completion token marked: the whole loss scales with the weight; unmarked rows are unaffected
    torch.testing.assert_close(loss(0.25, marked=True), 0.25 * loss(1.0, marked=True))
    torch.testing.assert_close(loss(0.25, marked=False), loss(1.0, marked=False))
    assert loss(0.0, marked=True) == 0
