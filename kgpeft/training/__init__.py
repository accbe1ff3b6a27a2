"""Distillation training: ``KGDistillConfig``, the loss, the collator and ``KGDistillTrainer`` (a TRL ``SFTTrainer``)."""

from __future__ import annotations

from kgpeft.training.collator import DataCollatorForDistillation
from kgpeft.training.config import KGDistillConfig
from kgpeft.training.loss import DistillLoss, distillation_loss, prediction_mask
from kgpeft.training.trainer import KGDistillTrainer

__all__ = [
    "DataCollatorForDistillation",
    "DistillLoss",
    "KGDistillConfig",
    "KGDistillTrainer",
    "distillation_loss",
    "prediction_mask",
]
