"""Path-generating teachers: registered by name, fitted on a KG, predicting path distributions."""

from __future__ import annotations

from kgpeft.teachers.base import PathDistribution, PathTeacher, TeacherConfig, TokenTeacher
from kgpeft.teachers.registry import available_teachers, get_teacher, load_teacher, register_teacher

__all__ = [
    "PathDistribution",
    "PathTeacher",
    "TeacherConfig",
    "TokenTeacher",
    "available_teachers",
    "get_teacher",
    "load_teacher",
    "register_teacher",
]
