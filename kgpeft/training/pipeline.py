"""``kgpeft.fit``: the whole pipeline from an RDF file to a saved adapter, in one call.

KG -> questions and splits -> teacher fit -> tokenised rows with soft targets ->
QLoRA training with :class:`KGDistillTrainer` -> adapter folder (plain PEFT files,
tokenizer, ``teacher/``, ``training_log.json``, ``kgpeft.json``), written atomically.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgpeft.adapters.record import AdapterRecord
from kgpeft.io import atomic_dir, write_json
from kgpeft.modeling import ModelConfig, base_model_fingerprint, load_base_model, load_tokenizer, lora_config
from kgpeft.training.config import KGDistillConfig
from kgpeft.types import StrPath

logger = logging.getLogger(__name__)

# Budget of a default run: sized so that `make demo` (two fits and an evaluation) finishes in
# well under 30 minutes on 2 CPU cores, with the student past 0.9 Hits@1 on countries' test
# questions (80 steps reached 0.77, 120 steps 0.93, 200 steps 0.98; figures in README).
# Gradient checkpointing (TRL's default) trades compute for memory that a 135M model does not need.
FIT_DEFAULTS: dict[str, Any] = {
    "max_steps": 120,
    "per_device_train_batch_size": 8,
    "learning_rate": 1e-3,
    "gradient_checkpointing": False,
}
VALIDATION_ROWS = 64


@dataclass
class FitResult:
    """What :func:`fit` produced."""

    adapter_dir: Path
    metrics: dict[str, Any]
    record: AdapterRecord
    timings: dict[str, float] = field(default_factory=dict)


def default_output_dir(kg_path: StrPath) -> Path:
    """``adapters/<KG file stem>/`` (``countries.ttl.gz`` -> ``adapters/countries``)."""
    name = Path(kg_path).name
    return Path("adapters") / name.split(".")[0]


def checkpoint_dir(output_dir: Path) -> Path:
    """Trainer checkpoints live beside the adapter, so the adapter folder can be replaced atomically."""
    return output_dir.with_name(f".{output_dir.name}.checkpoints")


def _last_checkpoint(folder: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def fit(
    kg: StrPath,
    *,
    base_model: str | None = None,
    questions: StrPath | None = None,
    output_dir: StrPath | None = None,
    model_config: ModelConfig | None = None,
    data_config: Any = None,
    train_config: KGDistillConfig | None = None,
    resume: bool = False,
    on_stage: Callable[[str], None] | None = None,
) -> FitResult:
    """Train a LoRA adapter that answers questions about ``kg`` with verified paths.

    >>> result = kgpeft.fit("kg/countries.ttl", base_model="smollm2-135m-instruct")  # doctest: +SKIP
    >>> result.adapter_dir
    PosixPath('adapters/countries')
    """
    from kgpeft.data import DataConfig, build_dataset
    from kgpeft.kg import load_graph
    from kgpeft.teachers.cache import fit_teacher
    from kgpeft.teachers.soft_targets import training_rows

    stage = on_stage or (lambda message: logger.info(message))
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 2)
        clock = now

    model_config = model_config or ModelConfig()
    if base_model:
        model_config = dataclasses.replace(model_config, base_model=base_model)
    output_dir = Path(output_dir) if output_dir else default_output_dir(kg)
    run_dir = checkpoint_dir(output_dir)
    train_config = train_config or KGDistillConfig(output_dir=str(run_dir), **FIT_DEFAULTS)
    train_config.output_dir = str(run_dir)

    stage(f"loading the knowledge graph {kg}")
    graph = load_graph(kg)
    lap("kg")

    stage("building questions and splits")
    data_config = data_config or DataConfig()
    if questions:
        data_config = dataclasses.replace(data_config, question_file=str(questions))
    data_config = dataclasses.replace(
        data_config, max_hops=train_config.max_hops, infill_ratio=train_config.infill_ratio
    )
    dataset = build_dataset(graph, data_config)
    lap("data")

    stage(f"fitting the {train_config.teacher} teacher")
    # Cached by graph, questions and teacher config: an alpha sweep or a repeated run fits it once
    teacher = fit_teacher(
        train_config.teacher,
        graph,
        dataset.split("train"),
        dataset.split("validation"),
        max_hops=train_config.max_hops,
        seed=train_config.seed,
    )
    teacher_metrics = dict(teacher.metrics)
    lap("teacher")

    stage("computing soft targets")
    tokenizer = load_tokenizer(model_config.base_model)
    train_rows = training_rows(graph, dataset.split("train"), teacher, tokenizer, top_k=train_config.soft_top_k)
    # The validation loss is a health check, not a model-selection signal (the teacher's
    # validation metrics are): a fixed sample keeps its cost small next to training.
    validation = dataset.split("validation")[:VALIDATION_ROWS]
    eval_rows = training_rows(graph, validation, teacher, tokenizer, top_k=train_config.soft_top_k)
    lap("soft_targets")

    stage(
        f"training a LoRA adapter on {model_config.base_model} ({'4-bit nf4' if model_config.load_in_4bit else 'full precision'})"
    )
    import torch
    from peft import prepare_model_for_kbit_training

    from kgpeft.training.trainer import KGDistillTrainer

    model, tokenizer = load_base_model(model_config.base_model, load_in_4bit=model_config.load_in_4bit)
    if model_config.load_in_4bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=train_config.gradient_checkpointing)
    trainer = KGDistillTrainer(
        model,
        args=train_config,
        train_dataset=train_rows,
        eval_dataset=eval_rows if len(eval_rows) else None,
        processing_class=tokenizer,
        peft_config=lora_config(model_config),
    )
    if model_config.load_in_4bit and not torch.cuda.is_available():
        # TRL keeps QLoRA adapter weights in bf16 (the paper's GPU recipe); CPUs run bf16 matmuls
        # several times slower than fp32 and the adapter would be saved in bf16, so keep fp32 here.
        for param in trainer.model.parameters():
            if param.requires_grad:
                param.data = param.data.float()
    checkpoint = _last_checkpoint(run_dir) if resume else None
    if resume and checkpoint is None:
        logger.warning("--resume: no checkpoint in %s, starting from scratch", run_dir)
    train_output = trainer.train(resume_from_checkpoint=checkpoint)
    if len(eval_rows):
        trainer.evaluate()  # appended to the log history
    lap("train")

    metrics: dict[str, Any] = {"train_loss": train_output.training_loss, "teacher": teacher_metrics}
    history = trainer.state.log_history
    evals = [entry["eval_loss"] for entry in history if "eval_loss" in entry]
    if evals:
        metrics["eval_loss"] = evals[-1]

    stage(f"saving the adapter to {output_dir}")
    record = AdapterRecord(
        domain=output_dir.name,
        base_model=model_config.base_model,
        base_model_fingerprint=base_model_fingerprint(model.config),
        load_in_4bit=model_config.load_in_4bit,
        kg_path=str(Path(kg).resolve()),
        kg_sha256=graph.sha256,
        teacher=train_config.teacher,
        teacher_config=teacher.config.to_dict(),
        loss={
            "alpha": train_config.alpha,
            "temperature": train_config.temperature,
            "soft_top_k": train_config.soft_top_k,
        },
        lora={k: v for k, v in dataclasses.asdict(model_config).items() if k != "base_model"},
        data={
            "config": dataclasses.asdict(data_config),
            "sizes": {name: len(dataset.split(name)) for name in ("train", "validation", "test")},
            "train_rows": len(train_rows),
        },
        metrics=metrics,
    )
    with atomic_dir(output_dir) as tmp:
        trainer.model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        teacher.save(tmp / "teacher")
        write_json(tmp / "training_log.json", history)
        record.save(tmp)
    lap("save")
    return FitResult(adapter_dir=output_dir, metrics=metrics, record=record, timings=timings)
