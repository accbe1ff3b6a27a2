"""Training configuration: TRL's ``SFTConfig`` plus the fields kgpeft's distillation adds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import torch
from trl import SFTConfig


def _skip_trl_preparation() -> dict[str, Any]:
    return {"skip_prepare_dataset": True}


@dataclass
class KGDistillConfig(SFTConfig):
    """Configuration of :class:`~kgpeft.training.KGDistillTrainer`.

    Adds the distillation fields (loss mixing, temperature, soft-target size, teacher and data
    settings) to TRL's ``SFTConfig``, and changes the defaults that do not fit kgpeft's
    pre-tokenised rows with teacher columns or LoRA training on CPU.

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
    soft_top_k: int = field(
        default=16,
        metadata={"help": "Number of teacher tokens kept per completion position in the sparse soft targets."},
    )
    teacher: str = field(
        default="gnn",
        metadata={"help": "Name of the registered teacher that produces the soft targets (gnn, llm, oracle, ...)."},
    )
    infill_ratio: float = field(
        default=0.1,
        metadata={
            "help": "Share in [0, 1] of knowledge-infilling examples (entity descriptions) mixed into the path "
            "examples."
        },
    )
    max_hops: int = field(
        default=3,
        metadata={"help": "Longest reasoning path, in relation hops (>= 1), for gold paths and teacher candidates."},
    )
    length_buckets: bool = field(
        default=True,
        metadata={
            "help": "Batch rows of similar length (less padding: about a third less compute on path rows) and "
            "shuffle the batches, unlike `group_by_length`, which orders them longest first within each megabatch."
        },
    )

    # SFTConfig fields whose defaults do not fit kgpeft
    learning_rate: float = field(
        default=2e-4,
        metadata={"help": "The initial learning rate for AdamW; LoRA adapters train well around 1e-4 to 2e-4."},
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
        names = {f.name for f in fields(cls) if f.init}
        return cls(**{key: value for key, value in data.items() if key in names and value != f"<{key.upper()}>"})

    def __post_init__(self) -> None:
        if self.bf16 is None:
            self.bf16 = (
                not self.fp16 and not self.use_cpu and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
            )
        super().__post_init__()  # also parses dict fields given as JSON strings (dataset_kwargs)
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if not self.temperature > 0.0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.soft_top_k < 1:
            raise ValueError(f"soft_top_k must be >= 1, got {self.soft_top_k}")
        if not self.teacher:
            raise ValueError("teacher must name a registered teacher, got an empty string")
        if not 0.0 <= self.infill_ratio <= 1.0:
            raise ValueError(f"infill_ratio must be in [0, 1], got {self.infill_ratio}")
        if self.max_hops < 1:
            raise ValueError(f"max_hops must be >= 1, got {self.max_hops}")
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
