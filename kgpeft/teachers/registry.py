"""Teachers by name: ``register_teacher`` adds one, ``get_teacher`` builds one, ``load_teacher`` reloads one.

Adding a teacher is one file defining a :class:`~kgpeft.teachers.base.PathTeacher`
subclass decorated with ``@register_teacher("name")``, plus its module name in
``BUILTIN_MODULES`` (a plugin outside kgpeft just imports its module before use).
Built-in modules are imported on first lookup, so importing kgpeft stays light.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from kgpeft.errors import TeacherError
from kgpeft.fields import init_fields
from kgpeft.teachers.base import PathTeacher, TeacherConfig, read_teacher_meta
from kgpeft.types import StrPath

if TYPE_CHECKING:
    from kgpeft.kg import KnowledgeGraph

BUILTIN_MODULES = ("kgpeft.teachers.gnn", "kgpeft.teachers.llm", "kgpeft.teachers.oracle")
DEFAULT_TEACHER = "gnn"

_TEACHERS: dict[str, type[PathTeacher]] = {}
T = TypeVar("T", bound=type[PathTeacher])


def register_teacher(name: str) -> Callable[[T], T]:
    """Class decorator registering a teacher under ``name``.

    >>> @register_teacher("constant")  # doctest: +SKIP
    ... class ConstantTeacher(PathTeacher): ...
    """

    def decorate(cls: T) -> T:
        if _TEACHERS.get(name, cls) is not cls:
            raise ValueError(f"a teacher named {name!r} is already registered ({_TEACHERS[name].__qualname__})")
        cls.name = name
        _TEACHERS[name] = cls
        return cls

    return decorate


def _import_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def available_teachers() -> list[str]:
    """Names of the registered teachers, sorted."""
    _import_builtins()
    return sorted(_TEACHERS)


def teacher_class(name: str) -> type[PathTeacher]:
    """The class registered under ``name``; TeacherError naming the choices otherwise."""
    if name not in _TEACHERS:
        _import_builtins()
    if name not in _TEACHERS:
        raise TeacherError(f"unknown teacher {name!r}; available: {', '.join(sorted(_TEACHERS))}")
    return _TEACHERS[name]


def teacher_config(name: str, **config: Any) -> TeacherConfig:
    """The config of a ``name`` teacher with ``config`` fields set; TeacherError naming a field it lacks.

    >>> teacher_config("oracle", top_n=4).top_n  # doctest: +SKIP
    4
    """
    cls = teacher_class(name)
    known = init_fields(cls.config_class)
    unknown = sorted(set(config) - known)
    if unknown:
        raise TeacherError(
            f"teacher {name!r} has no option {', '.join(unknown)}; its options: {', '.join(sorted(known))}"
        )
    try:
        return cls.config_class(**config)
    except (TypeError, ValueError) as err:
        raise TeacherError(f"teacher {name!r}: {err}") from err


def build_teacher(name: str, config: TeacherConfig | None = None, *, max_hops: int = 3, seed: int = 0) -> PathTeacher:
    """A new, unfitted ``name`` teacher from its config, with the run's path depth and seed."""
    cls = teacher_class(name)
    try:
        return cls(config, max_hops=max_hops, seed=seed)
    except ValueError as err:
        raise TeacherError(f"teacher {name!r}: {err}") from err


def get_teacher(name: str = DEFAULT_TEACHER, *, max_hops: int = 3, seed: int = 0, **config: Any) -> PathTeacher:
    """A new, unfitted teacher; ``config`` sets fields of its config dataclass.

    ``max_hops`` and ``seed`` are the run's (the data config's depth, the training seed),
    not the teacher's own settings.

    >>> teacher = get_teacher("gnn", epochs=5, max_hops=2)  # doctest: +SKIP
    >>> teacher.config.epochs, teacher.max_hops  # doctest: +SKIP
    (5, 2)
    """
    return build_teacher(name, teacher_config(name, **config), max_hops=max_hops, seed=seed)


def load_teacher(path: StrPath, kg: KnowledgeGraph) -> PathTeacher:
    """The teacher saved in folder ``path``, whatever its kind, bound to ``kg`` (whose sha256 must match)."""
    return teacher_class(read_teacher_meta(path)["teacher"]).load(path, kg)
