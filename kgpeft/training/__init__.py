"""Distillation training: ``KGDistillConfig``, the loss, the collator and ``KGDistillTrainer`` (a TRL ``SFTTrainer``).

Names are imported on first use: the config alone (what `kgpeft fit --help` needs) must not
pay for the trainer's and collator's imports (TRL's trainer utilities take seconds).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kgpeft.training.collator import DataCollatorForDistillation
    from kgpeft.training.config import KGDistillConfig
    from kgpeft.training.loss import DistillLoss, distillation_loss, prediction_mask
    from kgpeft.training.trainer import KGDistillTrainer

_LAZY = {
    "DataCollatorForDistillation": "kgpeft.training.collator",
    "DistillLoss": "kgpeft.training.loss",
    "KGDistillConfig": "kgpeft.training.config",
    "KGDistillTrainer": "kgpeft.training.trainer",
    "distillation_loss": "kgpeft.training.loss",
    "prediction_mask": "kgpeft.training.loss",
}

__all__ = [
    "DataCollatorForDistillation",
    "DistillLoss",
    "KGDistillConfig",
    "KGDistillTrainer",
    "distillation_loss",
    "prediction_mask",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kgpeft.training' has no attribute {name!r}")
