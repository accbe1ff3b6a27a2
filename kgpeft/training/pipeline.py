"""``kgpeft.fit``: the whole pipeline from an RDF file to a saved adapter, in one call.

KG -> questions and splits -> teacher fit -> tokenised rows with soft targets ->
QLoRA training with :class:`KGDistillTrainer` -> adapter folder (plain PEFT files,
tokenizer, ``teacher/``, ``training_log.json``, ``kgpeft.json``), written atomically.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgpeft.adapters.record import RECORD_FILE, AdapterRecord
from kgpeft.errors import OutputError
from kgpeft.io import atomic_dir, check_output_dir, write_json
from kgpeft.kg.sparql import is_store_url, store_name
from kgpeft.modeling import (
    base_model_fingerprint,
    base_weights_fingerprint,
    load_base_model,
    load_tokenizer,
    lora_config,
)
from kgpeft.timing import Stopwatch
from kgpeft.training.config import FitConfig
from kgpeft.types import StrPath

logger = logging.getLogger(__name__)

VALIDATION_ROWS = 64


@dataclass
class FitResult:
    """What :func:`fit` produced."""

    adapter_dir: Path
    metrics: dict[str, Any]
    record: AdapterRecord
    timings: dict[str, float] = field(default_factory=dict)
    # Each stage's peak resident memory in MB (kgpeft.timing.Stopwatch), keyed like ``timings``.
    peak_memory_mb: dict[str, float] = field(default_factory=dict)


def default_output_dir(kg_path: StrPath) -> Path:
    """``adapters/<KG file stem>/`` (``countries.ttl.gz`` -> ``adapters/countries``)."""
    if is_store_url(kg_path):  # a SPARQL store: named after its host and port
        return Path("adapters") / store_name(str(kg_path))
    name = Path(kg_path).name
    return Path("adapters") / name.split(".")[0]


def checkpoint_dir(output_dir: Path) -> Path:
    """Trainer checkpoints live beside the adapter, so the adapter folder can be replaced atomically."""
    return output_dir.with_name(f".{output_dir.name}.checkpoints")


def _last_checkpoint(folder: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def _clear_stale_checkpoints(run_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """A fresh run never mixes its checkpoints with an earlier run's (``--resume`` would pick the
    newest of either): they are removed only with ``--overwrite``, else the run is refused."""
    if resume or _last_checkpoint(run_dir) is None:
        return
    if not overwrite:
        raise OutputError(
            f"{run_dir} holds the checkpoints of an earlier run: pass --resume to continue it, "
            "or --overwrite to start afresh (its checkpoints are then deleted)"
        )
    logger.warning("--overwrite: deleting the checkpoints of an earlier run in %s", run_dir)
    shutil.rmtree(run_dir)


def fit(
    kg: StrPath,
    *,
    base_model: str | None = None,
    questions: StrPath | None = None,
    output_dir: StrPath | None = None,
    config: FitConfig | None = None,
    resume: bool = False,
    on_stage: Callable[[str], None] | None = None,
    overwrite: bool = False,
) -> FitResult:
    """Train a LoRA adapter that answers questions about ``kg`` with verified paths.

    ``config`` is the whole run's configuration (its field defaults are kgpeft's defaults);
    ``base_model`` and ``questions`` are shortcuts for ``config.model.base_model`` and
    ``config.data.question_file``. The trainer's checkpoints go beside the adapter folder
    (:func:`checkpoint_dir`), whatever ``config.train.output_dir`` says.

    >>> result = kgpeft.fit("kg/countries.ttl", base_model="smollm2-135m-instruct")  # doctest: +SKIP
    >>> result.adapter_dir
    PosixPath('adapters/countries')
    """
    from kgpeft.data import build_dataset
    from kgpeft.kg import load_graph
    from kgpeft.teachers.cache import fit_teacher
    from kgpeft.training.distributed import distributed_state, main_first, on_main, wait_for_everyone
    from kgpeft.training.resume import check_checkpoint
    from kgpeft.training.rows import training_rows

    config = config or FitConfig()
    # Under `accelerate launch` every rank runs this function; what writes shared state runs on the
    # main process first (kgpeft/training/distributed.py), and only the main process reports stages.
    state = distributed_state()
    main_process = state is None or state.is_main_process
    stage = (on_stage or (lambda message: logger.info(message))) if main_process else (lambda message: None)
    timings: dict[str, float] = {}
    peak_memory_mb: dict[str, float] = {}
    lap = Stopwatch(timings, ndigits=2, peaks=peak_memory_mb)

    if base_model:
        config.model = dataclasses.replace(config.model, base_model=base_model)
    if questions:
        config.data = dataclasses.replace(config.data, question_file=str(questions))
    model_config, data_config, train_config = config.model, config.data, config.train
    output_dir = Path(output_dir) if output_dir else default_output_dir(kg)
    run_dir = checkpoint_dir(output_dir)
    train_config.output_dir = str(run_dir)
    # An existing adapter is replaced only when asked (or when resuming its own checkpoints);
    # checked before minutes of work, and again before saving, as the folder may change meanwhile.
    replace = overwrite or (resume and _last_checkpoint(run_dir) is not None)
    inputs = [kg, data_config.question_file, model_config.base_model]

    def check_outputs() -> None:
        check_output_dir(output_dir, marker=RECORD_FILE, what="adapter folder", overwrite=replace, inputs=inputs)
        check_checkpoint(_last_checkpoint(run_dir) if resume else None, lora_config(model_config))  # before the work
        _clear_stale_checkpoints(run_dir, resume=resume, overwrite=overwrite)

    main_first(check_outputs, state)

    def prepare() -> tuple[Any, Any, Any, Any, Any, Any]:
        """KG -> questions -> teacher -> soft targets; each stage's result is cached on disk."""
        # Read before any stage line: a graph that cannot be read (a store down) is one line, as in every command.
        graph = load_graph(kg)
        stage(f"loaded the knowledge graph {kg} ({graph.num_entities} entities, {graph.num_triples} triples)")
        lap("kg")

        stage("building questions and splits")
        dataset = build_dataset(graph, data_config)
        lap("data")

        stage(f"fitting the {config.teacher_name} teacher")
        # Cached by graph, questions and teacher config: an alpha sweep or a repeated run fits it once
        teacher = fit_teacher(
            config.teacher_name,
            graph,
            dataset.split("train"),
            dataset.split("validation"),
            config=config.teacher,
            max_hops=data_config.max_hops,
            seed=train_config.seed,
        )
        lap("teacher")

        stage("computing soft targets")
        tokenizer = load_tokenizer(model_config.base_model)
        train_rows = training_rows(graph, dataset.split("train"), teacher, tokenizer, top_k=train_config.soft_top_k)
        # The validation loss is a health check, not a model-selection signal (the teacher's
        # validation metrics are): a fixed sample keeps its cost small next to training.
        validation = dataset.split("validation")[:VALIDATION_ROWS]
        eval_rows = training_rows(graph, validation, teacher, tokenizer, top_k=train_config.soft_top_k)
        lap("soft_targets")
        return graph, dataset, teacher, tokenizer, train_rows, eval_rows

    # The other ranks run it after the main process and read every stage from the cache.
    graph, dataset, teacher, tokenizer, train_rows, eval_rows = main_first(prepare, state)
    teacher_metrics = dict(teacher.metrics)

    stage(
        f"training a LoRA adapter on {model_config.base_model} ({'4-bit nf4' if model_config.load_in_4bit else 'full precision'})"
    )
    import torch
    from peft import prepare_model_for_kbit_training

    from kgpeft.training.trainer import KGDistillTrainer

    model, tokenizer = load_base_model(
        model_config.base_model,
        load_in_4bit=model_config.load_in_4bit,
        quant_storage=model_config.bnb_4bit_quant_storage,
    )
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
    fsdp = getattr(trainer.accelerator.state, "fsdp_plugin", None)
    if fsdp is not None:
        # PEFT's FSDP recipe: the trainable LoRA weights and the frozen base in separate FSDP units
        from peft.utils.other import fsdp_auto_wrap_policy

        fsdp.auto_wrap_policy = fsdp_auto_wrap_policy(trainer.model)
    if model_config.load_in_4bit and not torch.cuda.is_available():
        # TRL keeps QLoRA adapter weights in bf16 (the paper's GPU recipe); CPUs run bf16 matmuls
        # several times slower than fp32 and the adapter would be saved in bf16, so keep fp32 here.
        for param in trainer.model.parameters():
            if param.requires_grad:
                param.data = param.data.float()
    checkpoint = _last_checkpoint(run_dir) if resume else None
    if resume and checkpoint is None:
        logger.warning("--resume: no checkpoint in %s, starting from scratch", run_dir)
    check_checkpoint(checkpoint, trainer.model.active_peft_config)  # now with module patterns resolved
    train_output = trainer.train(resume_from_checkpoint=checkpoint)
    if len(eval_rows):
        trainer.evaluate()  # appended to the log history
    lap("train")

    metrics: dict[str, Any] = {"train_loss": train_output.training_loss, "teacher": teacher_metrics}
    history = trainer.state.log_history
    evals = [entry["eval_loss"] for entry in history if "eval_loss" in entry]
    if evals:
        metrics["eval_loss"] = evals[-1]
    if state is not None:  # a step trained on processes x per_device_train_batch_size x accumulation rows
        metrics["processes"] = state.num_processes

    stage(f"saving the adapter to {output_dir}")
    record = AdapterRecord.from_fit(
        config,
        domain=output_dir.name,
        base_model_fingerprint=base_model_fingerprint(model.config),
        base_weights_fingerprint=base_weights_fingerprint(model.name_or_path),
        kg_path=str(kg) if is_store_url(kg) else str(Path(kg).resolve()),
        kg_sha256=graph.sha256,
        sizes={name: len(dataset.split(name)) for name in ("train", "validation", "test")},
        train_rows=len(train_rows),
        metrics=metrics,
        timings=dict(timings),  # every stage but saving, which writes the record
        peak_memory_mb=dict(peak_memory_mb),
    )

    # Under FSDP each rank holds a shard of the weights: gathering them is a call every rank makes
    state_dict = trainer.accelerator.get_state_dict(trainer.model_wrapped) if fsdp is not None else None

    def save() -> None:
        check_output_dir(output_dir, marker=RECORD_FILE, what="adapter folder", overwrite=replace, inputs=inputs)
        with atomic_dir(output_dir) as tmp:
            trainer.model.save_pretrained(tmp, state_dict=state_dict)
            tokenizer.save_pretrained(tmp)
            teacher.save(tmp / "teacher")
            write_json(tmp / "training_log.json", history)
            record.save(tmp)

    wait_for_everyone(state)  # every rank has trained; DDP kept their adapter weights equal
    on_main(save, state)  # one writer; the others return when the folder is in place
    lap("save")
    return FitResult(
        adapter_dir=output_dir, metrics=metrics, record=record, timings=timings, peak_memory_mb=peak_memory_mb
    )
