"""Training configuration: TRL's ``SFTConfig`` plus the fields kgpeft's distillation adds."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from trl import SFTConfig

from kgpeft.data.dataset import DataConfig
from kgpeft.fields import init_fields, known_items
from kgpeft.modeling import ModelConfig
from kgpeft.teachers.base import TeacherConfig
from kgpeft.teachers.registry import DEFAULT_TEACHER
from kgpeft.training.distributed import train_on_cpu


def _skip_trl_preparation() -> dict[str, Any]:
    return {"skip_prepare_dataset": True}


@dataclass
class KGDistillConfig(SFTConfig):
    """Configuration of :class:`~kgpeft.training.KGDistillTrainer`.

    Adds the distillation fields (loss mixing, temperature, soft-target size, length buckets)
    to TRL's ``SFTConfig``, and changes the defaults that do not fit kgpeft's pre-tokenised
    rows with teacher columns or LoRA training on CPU: its field defaults are what a run
    without flags uses. Data settings (hops, infilling) belong to ``DataConfig``, the
    teacher's to its own config (see :class:`FitConfig`).

    Example:
        >>> config = KGDistillConfig(output_dir="adapters/countries", alpha=0.7, temperature=2.0)
        >>> config.alpha, config.remove_unused_columns
        (0.7, False)
    """

    # The distillation loss: alpha * hard + (1 - alpha) * soft
    alpha: float = field(
        default=0.5,
        metadata={
            "help": "Weight of the hard loss (cross-entropy on the gold path) in [0, 1]; the soft loss (KL from the "
            "teacher) gets 1 - alpha. alpha = 1 trains on gold paths only."
        },
    )
    temperature: float = field(
        default=2.0,
        metadata={
            "help": "Temperature (> 0) applied to both the teacher and the student distributions in the soft loss, "
            "which is scaled by temperature**2 to keep its gradient size independent of the temperature."
        },
    )
    neighbour_weight: float = field(
        default=0.0,
        metadata={
            "help": "Loss weight in [0, 1] of the tokens that only name the entity a hop reaches. Answers come from "
            "a path's relation sequence and constrained decoding does not score that choice, while the name a row "
            "shows (one of many films, say) cannot be told from the question: at full weight those tokens were most "
            "of the loss and its gradient, and 0 (the steps all go to direction, relation and where to stop) beat "
            "0.1 on both graphs measured. Free decoding (the `unconstrained` system) then writes names untrained. "
            "1 weighs every token the same."
        },
    )
    soft_top_k: int = field(
        default=16,
        metadata={"help": "Number of teacher tokens kept per completion position in the sparse soft targets."},
    )
    length_buckets: bool = field(
        default=True,
        metadata={
            "help": "Batch rows of similar length (less padding: about a third less compute on path rows) and "
            "shuffle the batches, unlike `group_by_length`, which orders them longest first within each megabatch."
        },
    )

    # SFTConfig fields whose defaults do not fit kgpeft. The budget of a default run is sized so
    # that `make demo` (two fits and an evaluation) finishes in well under 30 minutes on 2 CPU
    # cores, with the student past 0.9 Hits@1 on countries' test questions (80 steps reached
    # 0.77, 120 steps 0.93, 200 steps 0.98; figures in README).
    max_steps: int = field(
        default=120,
        metadata={"help": "Training steps (a positive number overrides num_train_epochs; -1 trains by epochs)."},
    )
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Rows per training batch per device."})
    learning_rate: float = field(
        default=1e-3,
        metadata={
            "help": "The initial learning rate for AdamW; a low-rank adapter on a small base takes a higher rate "
            "than full fine-tuning does."
        },
    )
    gradient_checkpointing: bool = field(
        default=False,
        metadata={
            "help": "Recompute activations in the backward pass to save memory (TRL's default trades compute for "
            "memory that a 135M model does not need)."
        },
    )
    bf16: bool | None = field(
        default=None,
        metadata={
            "help": "Whether to use bf16 mixed precision. If not set, it is used only on a GPU that supports it: "
            "CPUs without native bf16 run it several times slower than fp32."
        },
    )
    remove_unused_columns: bool = field(
        default=False,
        metadata={
            "help": "Must stay False: the collator needs the `completion_mask`, `teacher_ids` and `teacher_probs` "
            "columns, which the model's forward does not take."
        },
    )
    dataset_kwargs: dict[str, Any] | str | None = field(
        default_factory=_skip_trl_preparation,
        metadata={
            "help": "Keyword arguments for TRL's dataset preparation. `skip_prepare_dataset` must stay True: rows are "
            "already tokenised, and TRL's truncation would cut `input_ids` without their teacher rows."
        },
    )
    completion_only_loss: bool | None = field(
        default=True,
        metadata={"help": "Must stay True: the collator builds labels on the completion tokens only."},
    )
    ddp_find_unused_parameters: bool | None = field(
        default=False,
        metadata={
            "help": "Whether DDP searches each step's autograd graph for parameters that got no gradient. Every LoRA "
            "weight takes part in every forward, so kgpeft skips the search that transformers' default makes."
        },
    )
    logging_steps: float = field(
        default=5,
        metadata={
            "help": "Log every X update steps (kgpeft runs are a few hundred steps). Should be an integer or a float "
            "in range `[0,1)`. If smaller than 1, will be interpreted as ratio of total training steps."
        },
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KGDistillConfig:
        """Rebuild a config from :meth:`to_dict` output (e.g. read back from ``kgpeft.json`` or a run file).

        Unknown keys are dropped, so files written by other versions still load, and so are the
        ``"<FIELD_NAME>"`` placeholders that ``to_dict`` writes instead of the ``*_token`` fields
        (which would otherwise come back as a literal eos or pad token).

        Example:
            >>> config = KGDistillConfig(output_dir="out", alpha=0.3)
            >>> KGDistillConfig.from_dict(config.to_dict()).alpha
            0.3
        """
        return cls(**{key: value for key, value in known_items(cls, data).items() if value != f"<{key.upper()}>"})

    def __post_init__(self) -> None:
        if not self.use_cpu and train_on_cpu():
            # Before TrainingArguments sets up accelerate's process state, which lasts the whole process
            self.use_cpu = True
        if self.bf16 is None:
            self.bf16 = (
                not self.fp16 and not self.use_cpu and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
            )
        super().__post_init__()  # also parses dict fields given as JSON strings (dataset_kwargs)
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if not self.temperature > 0.0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.neighbour_weight <= 1.0:
            raise ValueError(f"neighbour_weight must be in [0, 1], got {self.neighbour_weight}")
        if self.soft_top_k < 1:
            raise ValueError(f"soft_top_k must be >= 1, got {self.soft_top_k}")
        if self.remove_unused_columns:
            raise ValueError("remove_unused_columns must be False: it would drop the teacher columns")
        self.dataset_kwargs = {**(self.dataset_kwargs or {})}
        if not self.dataset_kwargs.setdefault("skip_prepare_dataset", True):
            raise ValueError(
                "dataset_kwargs['skip_prepare_dataset'] must be True: rows are pre-tokenised with aligned teacher rows"
            )
        if self.completion_only_loss is False:
            raise ValueError("completion_only_loss must be True: kgpeft trains on completion tokens only")
        if self.packing or self.padding_free:
            raise ValueError("packing and padding_free must be False: the distillation collator pads each row")


# Sections of a run file and the FitConfig field each one fills.
SECTIONS = ("model", "data", "teacher", "train")


@dataclass
class FitConfig:
    """Everything a ``kgpeft fit`` run is configured by, one owner per setting.

    ``model`` loads the base and shapes the LoRA adapter; ``data`` builds questions (it owns
    the path depth, infilling and question sources, and hands ``max_hops`` to the teacher);
    ``teacher`` is the chosen teacher's own config (``teacher_name`` picks it from the
    registry); ``train`` is TRL's trainer config with kgpeft's distillation fields, whose
    field defaults are kgpeft's training defaults. Nothing overrides a default after parsing.

    >>> config = FitConfig.from_dict({"data": {"max_hops": 2}, "teacher": {"name": "oracle"}})  # doctest: +SKIP
    >>> config.data.max_hops, config.teacher_name  # doctest: +SKIP
    (2, 'oracle')
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    teacher_name: str = field(
        default=DEFAULT_TEACHER,
        metadata={"help": "Registered teacher that produces the soft targets (gnn, llm, oracle, ...)."},
    )
    teacher: TeacherConfig | None = field(
        default=None, metadata={"help": "The teacher's own config (default: the named teacher's defaults)."}
    )
    train: KGDistillConfig = field(default_factory=KGDistillConfig)

    def __post_init__(self) -> None:
        from kgpeft.teachers.registry import teacher_class, teacher_config

        if self.teacher is None:
            self.teacher = teacher_config(self.teacher_name)
        elif not isinstance(self.teacher, teacher_class(self.teacher_name).config_class):
            raise ValueError(
                f"teacher is a {type(self.teacher).__name__}, not the config of the {self.teacher_name!r} teacher"
            )

    def to_dict(self) -> dict[str, Any]:
        """The tree as JSON-able nested sections (``teacher`` carries its ``name``); :meth:`from_dict` reads it back."""
        import dataclasses

        assert self.teacher is not None
        return {
            "model": dataclasses.asdict(self.model),
            "data": dataclasses.asdict(self.data),
            "teacher": {"name": self.teacher_name, **self.teacher.to_dict()},
            "train": {k: v for k, v in self.train.to_dict().items() if k in _TRAIN_RECORDED},
        }

    @staticmethod
    def sections(values: Mapping[str, Any], *, strict: bool = True) -> dict[str, dict[str, Any]]:
        """Nested sections (``model``, ``data``, ``teacher`` with its ``name``, ``train``) from nested and/or flat keys.

        A flat key (a run file written before sections existed, or a command-line flag)
        goes to every section that has a field of that name (``seed`` seeds the data and
        the trainer), or else to the teacher's config. ``teacher`` may be a name or a
        section with a ``name`` key. With ``strict``, keys no section knows raise
        ValueError naming them all; otherwise they are dropped (records of another version).

        >>> FitConfig.sections({"max_hops": 2, "teacher": "oracle"})["data"]  # doctest: +SKIP
        {'max_hops': 2}
        """
        from kgpeft.teachers.registry import teacher_class

        values = dict(values)
        teacher = values.pop("teacher", None)
        if isinstance(teacher, str):
            teacher = {"name": teacher}
        elif teacher is None:
            teacher = {}
        elif not isinstance(teacher, Mapping):
            raise ValueError(f"teacher must be a teacher name or a mapping of its options, got {teacher!r}")
        teacher = dict(teacher)
        name = teacher.setdefault("name", DEFAULT_TEACHER)
        if not isinstance(name, str) or not name:
            raise ValueError(f"teacher name must be a registered teacher's name, got {name!r}")
        owners = {"model": ModelConfig, "data": DataConfig, "train": KGDistillConfig}
        nested: dict[str, dict[str, Any]] = {}
        for section in owners:
            given = values.pop(section, None) or {}
            if not isinstance(given, Mapping):
                raise ValueError(f"{section} must be a mapping of option names to values, got {given!r}")
            nested[section] = dict(given)
        teacher_fields = init_fields(teacher_class(name).config_class) | {"name"}
        unknown = [f"{s}.{k}" for s, c in owners.items() for k in nested[s] if k not in init_fields(c)]
        unknown += [f"teacher.{k}" for k in teacher if k not in teacher_fields]
        for key, value in values.items():
            targets = [s for s, c in owners.items() if key in init_fields(c)]
            for section in targets:
                nested[section].setdefault(key, value)
            if not targets:
                if key in teacher_fields:
                    teacher.setdefault(key, value)
                else:
                    unknown.append(key)
        if unknown and strict:
            raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}")
        nested["teacher"] = {k: v for k, v in teacher.items() if k in teacher_fields}
        for section, cls in owners.items():
            nested[section] = known_items(cls, nested[section])
        return nested

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, strict: bool = True) -> FitConfig:
        """A config from :meth:`sections` of ``values`` (what :meth:`to_dict` writes, or a run file)."""
        from kgpeft.teachers.registry import teacher_config

        nested = cls.sections(values, strict=strict)
        teacher = dict(nested["teacher"])
        name = teacher.pop("name")
        return cls(
            model=ModelConfig(**nested["model"]),
            data=DataConfig(**nested["data"]),
            teacher_name=name,
            teacher=teacher_config(name, **teacher),
            train=KGDistillConfig.from_dict(nested["train"]),
        )

    def defaults(self) -> Iterator[tuple[str, Any]]:
        """``(section.field, value)`` of every field of the tree, as set (a walk the help and the tests share)."""
        import dataclasses

        assert self.teacher is not None
        for section, config in (("model", self.model), ("data", self.data), ("teacher", self.teacher)):
            for f in dataclasses.fields(config):
                yield f"{section}.{f.name}", getattr(config, f.name)
        for f in dataclasses.fields(KGDistillConfig):
            yield f"train.{f.name}", getattr(self.train, f.name)


# The training fields an adapter record keeps: kgpeft's own and the budget TRL runs with. The
# rest of TrainingArguments (paths, hub and logging plumbing) says nothing about the adapter.
_TRAIN_RECORDED = frozenset(
    {
        "alpha",
        "temperature",
        "soft_top_k",
        "neighbour_weight",
        "length_buckets",
        "max_steps",
        "num_train_epochs",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "learning_rate",
        "lr_scheduler_type",
        "warmup_ratio",
        "warmup_steps",
        "weight_decay",
        "gradient_checkpointing",
        "seed",
        "save_steps",
        "logging_steps",
        "bf16",
        "fp16",
    }
)
