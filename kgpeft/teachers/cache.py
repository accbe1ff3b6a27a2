"""Fitted teachers reused across runs: ``fit_teacher`` loads one from the cache when nothing it depends on changed.

A ``kgpeft fit`` refits its teacher on the same graph and questions far more often than
either changes (an alpha sweep, a resumed or repeated run); the gnn teacher costs about a
minute on CPU. The key covers everything a fit depends on: the teacher's name and config,
the graph's sha256, and the content of the training and validation questions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kgpeft.errors import TeacherError
from kgpeft.io import cache_dir
from kgpeft.teachers.registry import build_teacher, load_teacher, teacher_config

if TYPE_CHECKING:
    from kgpeft.data import Question
    from kgpeft.kg import KnowledgeGraph
    from kgpeft.teachers.base import PathTeacher, TeacherConfig

logger = logging.getLogger(__name__)


def teacher_cache_key(
    teacher: PathTeacher, kg: KnowledgeGraph, questions: Sequence[Question], validation: Sequence[Question]
) -> str:
    """sha256 over the teacher's name and config, the graph and both question lists."""
    payload = {
        "teacher": teacher.name,
        "config": teacher.config.to_dict(),
        "max_hops": teacher.max_hops,
        "seed": teacher.seed,
        "kg": kg.sha256,
        "train": [dataclasses.astuple(q) for q in questions],
        "validation": [dataclasses.astuple(q) for q in validation],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


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
    folder = cache_dir("teachers") / teacher_cache_key(teacher, kg, questions, validation)
    if cache and folder.is_dir():
        try:
            cached = load_teacher(folder, kg)
        except TeacherError as err:  # written by an incompatible version: refit and overwrite
            logger.warning("ignoring the cached teacher %s: %s", folder, err)
        else:
            logger.info("teacher from the cache %s", folder)
            return cached
    teacher.fit(kg, questions, validation=validation or None)
    if cache:
        teacher.save(folder)
    return teacher
