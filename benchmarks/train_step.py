"""One distillation step (KGDistillTrainer) against one plain TRL SFT step, on identical batches.

Same model (a ~28M-parameter Llama built from a config, SmolLM2's vocabulary size), same LoRA
on all linear layers, same rows (batch 8 x 128 tokens, prompts of 64-96 tokens, K = 16 teacher
tokens per completion token) in the same order. A step is the time from the end of one
optimizer step to the end of the next (logging, data loading and collation included).

The two trainers run in two threads that take turns step by step, so that both see the same
load on a shared machine; after a warm-up, the median of the remaining steps is reported.
Target: distillation <= 1.15x SFT.

``--memory`` measures instead the peak memory (max RSS of a child process) of one distillation
step with the loss's logits made all at once (``loss_chunk_size = 0``: one (N, V) fp32 tensor
and its softmax statistics) and in chunks (the default), at ``--seq-len`` tokens a row.

    .venv/bin/python benchmarks/train_step.py [--steps 5] [--warmup 1]
    .venv/bin/python benchmarks/train_step.py --memory --seq-len 512
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import warnings
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
from transformers.trainer_callback import PrinterCallback
from trl import SFTConfig, SFTTrainer

from kgpeft.training import KGDistillConfig, KGDistillTrainer
from kgpeft.training.synthetic import synthetic_rows, synthetic_tokenizer

VOCAB_SIZE = 49_152
BATCH_SIZE = 8
SEQ_LEN = 128
TOP_K = 16
TARGET_RATIO = 1.15


class Turns:
    """Lets trainers that train in their own threads run one step each in turn."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.turn = names[0]
        self.finished: set[str] = set()
        self.condition = threading.Condition()

    def wait(self, name: str) -> None:
        with self.condition:
            self.condition.wait_for(lambda: self.turn == name)

    def pass_on(self, name: str) -> None:
        with self.condition:
            waiting = [other for other in self.names if other != name and other not in self.finished]
            if waiting:
                self.turn = waiting[0]
                self.condition.notify_all()

    def finish(self, name: str) -> None:
        self.finished.add(name)
        self.pass_on(name)


class TurnTakingTimer(TrainerCallback):
    """Times each step of one trainer, from its turn starting to its optimizer step ending."""

    def __init__(self, turns: Turns, name: str) -> None:
        self.turns = turns
        self.name = name
        self.durations: list[float] = []
        self.start = 0.0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any) -> None:
        self.turns.wait(self.name)
        self.start = time.perf_counter()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any) -> None:
        self.durations.append(time.perf_counter() - self.start)
        self.turns.pass_on(self.name)
        self.turns.wait(self.name)
        self.start = time.perf_counter()


def make_model() -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=384,
        intermediate_size=1024,
        num_hidden_layers=6,
        num_attention_heads=6,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config)


def make_trainer(trainer_class: type[SFTTrainer], config_class: type[SFTConfig], rows, timer: TrainerCallback):
    args = config_class(
        output_dir="/tmp/kgpeft-bench-train-step",
        max_steps=len(rows) // BATCH_SIZE,
        per_device_train_batch_size=BATCH_SIZE,
        train_sampling_strategy="sequential",  # the same batches for both trainers
        use_cpu=True,
        bf16=False,
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
    trainer.remove_callback(PrinterCallback)  # keeps the output to the results
    return trainer


def train_taking_turns(trainers: dict[str, SFTTrainer], turns: Turns) -> None:
    def train(name: str) -> None:
        try:
            trainers[name].train()
        finally:  # a failing trainer must not leave the other one waiting for its turn
            turns.finish(name)

    threads = [threading.Thread(target=train, args=(name,)) for name in trainers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def step_peak_rss(rows, chunk_size: int) -> float:
    """Peak RSS (MB) of a fresh process that builds the distillation trainer and trains one step."""
    import multiprocessing
    import resource

    def child(out) -> None:
        KGDistillTrainer.loss_chunk_size = chunk_size
        make_trainer(KGDistillTrainer, KGDistillConfig, rows, TrainerCallback()).train()
        out.put(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    context = multiprocessing.get_context("fork")  # the child inherits the imports, not the parent's peak
    out = context.Queue()
    process = context.Process(target=child, args=(out,))
    process.start()
    peak = out.get()
    process.join()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="measured steps per trainer")
    parser.add_argument("--warmup", type=int, default=1, help="steps run before measuring")
    parser.add_argument("--memory", action="store_true", help="peak memory of one step, loss chunked or not")
    parser.add_argument("--seq-len", type=int, default=SEQ_LEN, help="tokens per row (with --memory)")
    options = parser.parse_args()
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning)  # TRL 1.x sets transformers' deprecated arguments

    rows = synthetic_rows(
        BATCH_SIZE * (options.warmup + options.steps),
        vocab_size=VOCAB_SIZE,
        seq_len=(SEQ_LEN, SEQ_LEN),
        prompt_len=(64, 96),
        top_k=TOP_K,
    )
    if options.memory:
        rows = synthetic_rows(
            BATCH_SIZE, vocab_size=VOCAB_SIZE, seq_len=(options.seq_len,) * 2, prompt_len=(64, 96), top_k=TOP_K
        )
        tokens = sum(sum(mask) for mask in rows["completion_mask"])
        print(f"one step, batch {BATCH_SIZE}x{options.seq_len} ({tokens} completion tokens), vocabulary {VOCAB_SIZE}")
        for chunk in (0, KGDistillTrainer.loss_chunk_size):
            print(f"loss_chunk_size {chunk:4d}: peak RSS {step_peak_rss(rows, chunk):8.0f} MB")
        return
    params = sum(p.numel() for p in make_model().parameters())
    print(f"model: Llama {params / 1e6:.1f}M params, LoRA r=16 on all linear layers; batch {BATCH_SIZE}x{SEQ_LEN}")
    print(f"threads: {torch.get_num_threads()}; warm-up {options.warmup} steps, median of {options.steps}")

    turns = Turns(["sft", "distill"])
    timers = {name: TurnTakingTimer(turns, name) for name in turns.names}
    sft_rows = rows.select_columns(["input_ids", "completion_mask"])
    trainers = {
        "sft": make_trainer(SFTTrainer, SFTConfig, sft_rows, timers["sft"]),
        "distill": make_trainer(KGDistillTrainer, KGDistillConfig, rows, timers["distill"]),
    }
    train_taking_turns(trainers, turns)

    sft, distill = (statistics.median(timers[name].durations[options.warmup :]) for name in ("sft", "distill"))
    print(f"TRL SFTTrainer step:    {sft * 1000:8.1f} ms")
    print(f"KGDistillTrainer step:  {distill * 1000:8.1f} ms")
    print(f"ratio distill / SFT:    {distill / sft:8.3f}x (target <= {TARGET_RATIO}x)")


if __name__ == "__main__":
    main()
