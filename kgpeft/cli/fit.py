"""`kgpeft fit`: train a LoRA adapter on a knowledge graph (the whole pipeline)."""

from __future__ import annotations

import argparse
import time

from kgpeft.cli.options import add_dataclass_arguments, load_config_file

_HELP = "Train a LoRA adapter on a knowledge graph."
# The fields that get flags, by section of the config tree; every field can be set in --config.
_FLAGS = {
    "model": ("lora_r", "lora_alpha", "lora_dropout", "target_modules", "bnb_4bit_quant_storage"),
    "data": ("max_hops", "infill_ratio", "skip_bad_lines"),
    "train": (
        "alpha",
        "temperature",
        "soft_top_k",
        "neighbour_weight",
        "max_steps",
        "num_train_epochs",
        "learning_rate",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "save_steps",
        "length_buckets",
        "logging_steps",
        "seed",
    ),
}
# Flags that are not config fields: where the run reads and writes, and how it resumes.
_RUN_FLAGS = {"func", "command", "config", "kg", "output_dir", "resume", "overwrite"}
TEACHER_PREFIX = "teacher."


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fit",
        help=_HELP,
        description=_HELP + " Runs: KG -> questions -> teacher -> soft targets -> QLoRA -> adapter.",
        epilog="Every option can also be set in --config run.yaml, in sections model: (ModelConfig), data: "
        "(DataConfig), teacher: (name: and the teacher's own options) and train: (KGDistillConfig), or as flat "
        "keys; flags win over the file. Runs under `accelerate launch -m kgpeft fit ...` too.",
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
        "--questions",
        dest="question_file",
        default=argparse.SUPPRESS,
        help="JSONL question file; default: questions synthesised from the KG.",
    )
    parser.add_argument("--output-dir", "-o", default=None, help="Adapter folder (default: adapters/<KG file stem>).")
    parser.add_argument("--config", default=None, help="YAML/JSON run file with option values.")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="Continue from the last checkpoint of this output dir (replacing the adapter there, if any).",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace an existing adapter folder at the output dir (a folder of anything else is always refused).",
    )
    parser.add_argument(
        "--no-4bit",
        dest="load_in_4bit",
        action="store_false",
        default=argparse.SUPPRESS,
        help="Load the base model in full precision instead of 4-bit nf4.",
    )
    parser.set_defaults(func=run, command="fit")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags generated from the config tree (importing TRL and the teachers: only when `fit` runs)."""
    from kgpeft.cli.options import add_teacher_arguments
    from kgpeft.data import DataConfig
    from kgpeft.modeling import ModelConfig
    from kgpeft.teachers.registry import DEFAULT_TEACHER, available_teachers
    from kgpeft.training.config import KGDistillConfig

    classes = {"model": ModelConfig, "data": DataConfig, "train": KGDistillConfig}
    titles = {"model": "LoRA", "data": "data", "train": "training"}
    for section, names in _FLAGS.items():
        add_dataclass_arguments(parser.add_argument_group(titles[section]), classes[section], names)
    parser.add_argument(
        "--teacher",
        metavar="NAME",
        default=argparse.SUPPRESS,
        help=f"Registered teacher that produces the soft targets: {', '.join(available_teachers())} "
        f"(default: {DEFAULT_TEACHER}). Its options are the --teacher.FIELD flags below.",
    )
    add_teacher_arguments(parser, prefix=TEACHER_PREFIX)


def fit_config(args: argparse.Namespace):
    """The run's :class:`FitConfig`: the --config file's values, then the flags given, over the field defaults."""
    from kgpeft.cli.options import teacher_values
    from kgpeft.errors import KGPeftError
    from kgpeft.training.config import SECTIONS, FitConfig

    where = args.config or "options"
    file_values = load_config_file(args.config)
    file_values.pop("output_dir", None)
    flags = {
        key: value
        for key, value in vars(args).items()
        if key not in _RUN_FLAGS and not key.startswith(TEACHER_PREFIX) and key != "teacher"
    }
    try:
        sections = FitConfig.sections(file_values)
        name = getattr(args, "teacher", sections["teacher"]["name"])
        given = {**flags, "teacher": {"name": name, **teacher_values(args, name, TEACHER_PREFIX)}}
        for section, values in FitConfig.sections(given).items():
            if section == "teacher" and values["name"] != sections["teacher"]["name"]:
                sections["teacher"] = {}  # another teacher than the file's: its options do not carry over
            sections[section] = {**sections[section], **values}
        return FitConfig.from_dict({s: sections[s] for s in SECTIONS})
    except (TypeError, ValueError) as err:
        raise KGPeftError(f"{where}: {err}") from err


def run(args: argparse.Namespace) -> int:
    import logging

    from rich.console import Console

    from kgpeft.training.distributed import MainProcessError, is_main_process, leave_process_group
    from kgpeft.training.pipeline import default_output_dir, fit

    if not is_main_process():
        # Under `accelerate launch` every rank runs the same code on the same inputs: its warnings
        # are the main process's, which alone reports stages, warnings, errors and the summary.
        logging.getLogger("kgpeft").setLevel(logging.ERROR)
    console = Console(stderr=True, soft_wrap=True)
    config = fit_config(args)
    output_dir = args.output_dir or load_config_file(args.config).get("output_dir") or default_output_dir(args.kg)

    start = time.perf_counter()
    try:
        result = fit(
            args.kg,
            output_dir=output_dir,
            config=config,
            resume=args.resume,
            overwrite=args.overwrite,
            on_stage=lambda message: console.print(f"[bold]==>[/bold] {message}"),
        )
    except MainProcessError as err:  # the main process printed it
        return err.exit_code
    finally:
        leave_process_group()  # the command ends here, on every rank
    if not is_main_process():
        return 0
    elapsed = time.perf_counter() - start
    teacher = result.metrics.get("teacher", {})
    console.print(f"[green]adapter saved[/green] to {result.adapter_dir} in {elapsed / 60:.1f} min")
    summary = {
        "train loss": f"{result.metrics['train_loss']:.4f}",
        "eval loss": f"{result.metrics['eval_loss']:.4f}" if "eval_loss" in result.metrics else "-",
        "teacher val Hits@1": (f"{teacher['validation_hits@1']:.3f}" if "validation_hits@1" in teacher else "-"),
        "questions (train/val/test)": "/".join(str(result.record.sizes[s]) for s in ("train", "validation", "test")),
        "timings (s)": ", ".join(f"{k} {v:.0f}" for k, v in result.timings.items()),
        "peak memory (MB)": ", ".join(f"{k} {v:.0f}" for k, v in result.peak_memory_mb.items()),
    }
    for key, value in summary.items():
        console.print(f"  {key}: {value}")
    console.print(f"next: kgpeft eval --adapter {result.adapter_dir}")
    return 0
