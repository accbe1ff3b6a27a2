"""One distillation step (KGDistillTrainer) against one plain TRL SFT step, on identical batches.

Same model (a ~29M-parameter Llama built from a config, SmolLM2's vocabulary size), same LoRA
on all linear layers, same rows (batch 8 x 128 tokens, prompts of 64-96 tokens, K = 16 teacher
tokens per completion token) in the same order. A step is the time between two ends of
optimizer steps (data loading and collation included); after a warm-up, the median of the
remaining steps is reported. Target: distillation <= 1.15x SFT.

    .venv/bin/python benchmarks/train_step.py [--steps 4] [--warmup 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import datasets
import torch
import transformers
from peft import LoraConfig
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)
from trl import SFTConfig, SFTTrainer

from kgpeft.training import KGDistillConfig, KGDistillTrainer
from kgpeft.training.synthetic import synthetic_rows, synthetic_tokenizer

VOCAB_SIZE = 49_152
BATCH_SIZE = 8
SEQ_LEN = 128
TOP_K = 16
TARGET_RATIO = 1.15


class StepTimer(TrainerCallback):
    """Records when each optimizer step ends."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        self.ends.append(time.perf_counter())


def make_model() -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=384,
        intermediate_size=1024,
        num_hidden_layers=6,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=SEQ_LEN,
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config)


def median_step_seconds(trainer_class: type[SFTTrainer], config_class: type[SFTConfig], rows, warmup: int) -> float:
    """Median duration of the steps after the warm-up ones, all run by one `train()` call."""
    num_steps = len(rows) // BATCH_SIZE
    timer = StepTimer()
    args = config_class(
        output_dir="/tmp/kgpeft-bench-train-step",
        max_steps=num_steps,
        per_device_train_batch_size=BATCH_SIZE,
        use_cpu=True,
        bf16=False,
        report_to="none",
        logging_strategy="no",
        save_strategy="no",
        disable_tqdm=True,
        completion_only_loss=True,
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": trainer_class is KGDistillTrainer},
    )
    trainer = trainer_class(
        make_model(),
        args=args,
        train_dataset=rows,
        processing_class=synthetic_tokenizer(256),
        peft_config=LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"),
        callbacks=[timer],
    )
    trainer.train()
    durations = [end - start for start, end in zip(timer.ends, timer.ends[1:], strict=False)]
    return statistics.median(durations[warmup - 1 :])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="measured steps per trainer")
    parser.add_argument("--warmup", type=int, default=1, help="steps run before measuring (>= 1)")
    options = parser.parse_args()
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    rows = synthetic_rows(
        BATCH_SIZE * (options.warmup + options.steps),
        vocab_size=VOCAB_SIZE,
        seq_len=(SEQ_LEN, SEQ_LEN),
        prompt_len=(64, 96),
        top_k=TOP_K,
    )
    params = sum(p.numel() for p in make_model().parameters())
    print(f"model: Llama {params / 1e6:.1f}M params, LoRA r=16 on all linear layers; batch {BATCH_SIZE}x{SEQ_LEN}")
    print(f"threads: {torch.get_num_threads()}; warm-up {options.warmup} steps, median of {options.steps}")

    sft = median_step_seconds(
        SFTTrainer, SFTConfig, rows.select_columns(["input_ids", "completion_mask"]), options.warmup
    )
    print(f"TRL SFTTrainer step:     {sft * 1000:8.1f} ms")
    distill = median_step_seconds(KGDistillTrainer, KGDistillConfig, rows, options.warmup)
    print(f"KGDistillTrainer step:   {distill * 1000:8.1f} ms")
    ratio = distill / sft
    print(f"ratio distill / SFT:     {ratio:8.3f}x (target <= {TARGET_RATIO}x)")


if __name__ == "__main__":
    main()
