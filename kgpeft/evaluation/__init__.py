"""Measuring answering systems: metrics, systems (student, base, teacher), probes, and the report.

>>> from kgpeft.evaluation import ReasonerSystem, evaluate
>>> evaluate(ReasonerSystem("student", reasoner, adapter="countries"), test, kg)["hits@1"]  # doctest: +SKIP
"""

from __future__ import annotations

from kgpeft.evaluation.api import EvalResult, available_systems, evaluate_adapter, register_system
from kgpeft.evaluation.evaluate import evaluate, evaluate_teacher, link_questions
from kgpeft.evaluation.metrics import (
    Prediction,
    answer_f1,
    gold_path_match,
    hits_at_1,
    path_validity,
    score_path_predictions,
    score_predictions,
)
from kgpeft.evaluation.probes import (
    FactProbe,
    build_fact_probes,
    completion_log_probs,
    fact_probe_accuracy,
    general_text,
    retention_kl,
)
from kgpeft.evaluation.report import SystemResult, alpha_comparison, read_training_log, write_report
from kgpeft.evaluation.systems import (
    ProbeSettings,
    ReasonerSystem,
    RoutedSystem,
    System,
    TeacherSystem,
    prediction_from_answer,
)

__all__ = [
    "EvalResult",
    "FactProbe",
    "Prediction",
    "ProbeSettings",
    "ReasonerSystem",
    "RoutedSystem",
    "System",
    "SystemResult",
    "TeacherSystem",
    "alpha_comparison",
    "answer_f1",
    "available_systems",
    "build_fact_probes",
    "completion_log_probs",
    "evaluate",
    "evaluate_adapter",
    "evaluate_teacher",
    "fact_probe_accuracy",
    "general_text",
    "gold_path_match",
    "hits_at_1",
    "link_questions",
    "path_validity",
    "prediction_from_answer",
    "read_training_log",
    "register_system",
    "retention_kl",
    "score_path_predictions",
    "score_predictions",
    "write_report",
]
