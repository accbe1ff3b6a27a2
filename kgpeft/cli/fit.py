"""`kgpeft fit`: train a LoRA adapter on a knowledge graph (the whole pipeline)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kgpeft.cli.options import add_dataclass_arguments, build_config, load_config_file, unknown_keys

_HELP = "Train a LoRA adapter on a knowledge graph."
_MODEL_FLAGS = ("lora_r", "lora_alpha", "lora_dropout", "target_modules")
_TRAIN_FLAGS = (
    "teacher",
    "alpha",
    "temperature",
    "soft_top_k",
    "infill_ratio",
    "max_hops",
    "max_steps",
    "num_train_epochs",
    "learning_rate",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "save_steps",
    "length_buckets",
    "logging_steps",
    "seed",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fit",
        help=_HELP,
        description=_HELP + " Runs: KG -> questions -> teacher -> soft targets -> QLoRA -> adapter.",
        epilog="Every option can also be set in --config run.yaml (any field of ModelConfig, DataConfig or "
        "KGDistillConfig); flags win over the file. Runs under `accelerate launch -m kgpeft fit ...` too.",
    )
    parser.add_argument(
        "--kg", required=True, help="RDF file (Turtle, N-Triples, N-Quads, TriG, RDF/XML, JSON-LD, .gz)."
    )
    parser.add_argument(
        "--base-model",
        dest="base_model",
        default=argparse.SUPPRESS,
        help="Hub id, local folder, .gguf file or alias (default: smollm2-135m-instruct).",
    )
    parser.add_argument(
        "--questions", default=None, help="JSONL question file; default: questions synthesised from the KG."
    )
    parser.add_argument("--output-dir", "-o", default=None, help="Adapter folder (default: adapters/<KG file stem>).")
    parser.add_argument("--config", default=None, help="YAML/JSON run file with option values.")
    parser.add_argument("--resume", action="store_true", help="Continue from the last checkpoint of this output dir.")
    parser.add_argument(
        "--no-4bit",
        dest="load_in_4bit",
        action="store_false",
        default=argparse.SUPPRESS,
        help="Load the base model in full precision instead of 4-bit nf4.",
    )
    parser.set_defaults(func=run, command="fit")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags generated from KGDistillConfig and ModelConfig (importing TRL: only when `fit` runs)."""
    from kgpeft.modeling import ModelConfig
    from kgpeft.training.config import KGDistillConfig

    add_dataclass_arguments(parser.add_argument_group("training"), KGDistillConfig, _TRAIN_FLAGS)
    add_dataclass_arguments(parser.add_argument_group("LoRA"), ModelConfig, _MODEL_FLAGS)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from kgpeft.data import DataConfig
    from kgpeft.errors import KGPeftError
    from kgpeft.modeling import ModelConfig
    from kgpeft.training.config import KGDistillConfig
    from kgpeft.training.pipeline import FIT_DEFAULTS, checkpoint_dir, default_output_dir, fit

    console = Console(stderr=True, soft_wrap=True)
    values = load_config_file(args.config)
    unknown = unknown_keys(values, (ModelConfig, DataConfig, KGDistillConfig))
    if unknown:
        raise KGPeftError(f"{args.config}: unknown option(s) {', '.join(unknown)}")
    cli_values = {
        k: v
        for k, v in vars(args).items()
        if k not in {"func", "command", "config", "kg", "questions", "output_dir", "resume"}
    }
    values = {**FIT_DEFAULTS, **values, **cli_values}
    output_dir = args.output_dir or values.pop("output_dir", None) or default_output_dir(args.kg)
    values["output_dir"] = str(checkpoint_dir(Path(output_dir)))
    model_config = build_config(ModelConfig, values, "model options")
    data_config = build_config(DataConfig, values, "data options")
    train_config = build_config(KGDistillConfig, values, "training options")

    start = time.perf_counter()
    result = fit(
        args.kg,
        questions=args.questions or values.get("question_file"),
        output_dir=output_dir,
        model_config=model_config,
        data_config=data_config,
        train_config=train_config,
        resume=args.resume,
        on_stage=lambda message: console.print(f"[bold]==>[/bold] {message}"),
    )
    elapsed = time.perf_counter() - start
    teacher = result.metrics.get("teacher", {})
    console.print(f"[green]adapter saved[/green] to {result.adapter_dir} in {elapsed / 60:.1f} min")
    summary = {
        "train loss": f"{result.metrics['train_loss']:.4f}",
        "eval loss": f"{result.metrics['eval_loss']:.4f}" if "eval_loss" in result.metrics else "-",
        "teacher val Hits@1": (f"{teacher['validation_hits@1']:.3f}" if "validation_hits@1" in teacher else "-"),
        "questions (train/val/test)": "/".join(
            str(result.record.data["sizes"][s]) for s in ("train", "validation", "test")
        ),
        "timings (s)": ", ".join(f"{k} {v:.0f}" for k, v in result.timings.items()),
    }
    for key, value in summary.items():
        console.print(f"  {key}: {value}")
    console.print(f"next: kgpeft eval --adapter {result.adapter_dir}")
    return 0
