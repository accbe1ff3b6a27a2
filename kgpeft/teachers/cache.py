"""Fitted teachers reused across runs: ``fit_teacher`` loads one from the cache when nothing it depends on changed.

A ``kgpeft fit`` refits its teacher on the same graph and questions far more often than
either changes (an alpha sweep, a resumed or repeated run); the gnn teacher costs about a
minute on CPU. The key covers everything a fit depends on: the teacher's name and config,
the graph's sha256, and the content of the training and validation questions.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kgpeft.cache import CacheEntry, cache_key
from kgpeft.teachers.registry import build_teacher, load_teacher, teacher_config

if TYPE_CHECKING:
    from kgpeft.data import Question
    from kgpeft.kg import KnowledgeGraph
    from kgpeft.teachers.base import PathTeacher, TeacherConfig

logger = logging.getLogger(__name__)


# Bump when a teacher fitted from the same inputs changes, to retire old entries.
TEACHER_CACHE_VERSION = (
    3  # 2: max_hops and seed are the run's; entries carry a manifest; 3: gnn over question subgraphs
)


def teacher_cache_key(
    teacher: PathTeacher, kg: KnowledgeGraph, questions: Sequence[Question], validation: Sequence[Question]
) -> str:
    """A digest of the teacher's name, config, depth and seed, the graph and both question lists."""
    return cache_key(
        "teachers",
        TEACHER_CACHE_VERSION,
        {
            "teacher": teacher.name,
            "config": teacher.config.to_dict(),
            "max_hops": teacher.max_hops,
            "seed": teacher.seed,
            "kg": kg.sha256,
            "train": [dataclasses.astuple(q) for q in questions],
            "validation": [dataclasses.astuple(q) for q in validation],
        },
    )


def fit_teacher(
    name: str,
    kg: KnowledgeGraph,
    questions: Sequence[Question],
    validation: Sequence[Question] = (),
    *,
    config: TeacherConfig | None = None,
    max_hops: int = 3,
    seed: int = 0,
    cache: bool = True,
    **options: Any,
) -> PathTeacher:
    """A ``name`` teacher fitted on ``kg`` and ``questions`` (its ``metrics`` from ``validation``), cached on disk.

    >>> teacher = fit_teacher("gnn", kg, dataset.split("train"), dataset.split("validation"))  # doctest: +SKIP
    >>> teacher.metrics["validation_hits@1"]  # doctest: +SKIP
    0.997
    """
    if config is None:
        config = teacher_config(name, **options)
    elif options:
        raise TypeError("pass the teacher's options either as config or as keyword arguments, not both")
    teacher = build_teacher(name, config, max_hops=max_hops, seed=seed)
    entry = CacheEntry("teachers", teacher_cache_key(teacher, kg, questions, validation))
    cached = entry.load(lambda folder: load_teacher(folder, kg)) if cache else None
    if cached is not None:
        return cached
    teacher.fit(kg, questions, validation=validation or None)
    return entry.store(teacher, lambda fitted, folder: fitted.save(folder)) if cache else teacher
