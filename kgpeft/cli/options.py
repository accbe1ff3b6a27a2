"""CLI flags generated from config dataclasses, so the dataclass stays the one source of truth.

A flag's type, default and help come from the field (``metadata={"help": ...}``), as
``transformers.HfArgumentParser`` does; unlike it, only the named fields become flags, so
``kgpeft fit --help`` shows kgpeft's options rather than every ``TrainingArguments`` field.
A ``--config run.yaml`` file may set any field of the dataclasses; flags given on the
command line win over the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kgpeft.errors import KGPeftError

_UNSET = object()


def _flag_type(field: dataclasses.Field, hints: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    hint = hints[field.name]
    options = (
        [a for a in typing.get_args(hint) if a is not type(None)]
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
        else [hint]
    )
    base = options[0] if options else str
    if base is bool:
        return None, {"action": argparse.BooleanOptionalAction}
    if typing.get_origin(base) is list:
        return str, {}
    return base if base in (int, float, str) else str, {}


def add_dataclass_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    names: Iterable[str],
    *,
    prefix: str = "",
    shown_defaults: Mapping[str, str] | None = None,
) -> None:
    """Add ``--PREFIXfield-name`` flags for ``names`` of dataclass ``cls``; unset flags stay out of the namespace.

    The help shows the field's default, or ``shown_defaults[name]`` where given (a flag
    shared by several classes whose defaults differ). The namespace key is ``prefix + name``.
    """
    hints = typing.get_type_hints(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    for name in names:
        field = by_name[name]
        kind, extra = _flag_type(field, hints)
        default = field.default if field.default is not dataclasses.MISSING else None
        help_ = field.metadata.get("help", "")
        shown = (shown_defaults or {}).get(name, None if default in (None, "") else str(default))
        if shown:
            help_ = f"{help_} (default: {shown})"
        kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "help": help_, "dest": prefix + name, **extra}
        if kind is not None:
            kwargs["type"] = kind
        parser.add_argument("--" + prefix + name.replace("_", "-"), **kwargs)


def add_teacher_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """``--PREFIXfield`` flags for every field of every registered teacher's config, one group per teacher.

    A field several teachers share (``top_n``, ``temperature``) gets one flag, in the first
    group that has it; its help lists each teacher's default when they differ. Which flags
    apply depends on the teacher chosen: :func:`teacher_values` checks it after parsing.
    """
    from kgpeft.teachers.registry import available_teachers, teacher_class

    classes = {name: teacher_class(name).config_class for name in available_teachers()}
    defaults: dict[str, dict[str, Any]] = {}
    for name, config_class in classes.items():
        for f in dataclasses.fields(config_class):
            if f.default is not dataclasses.MISSING:
                defaults.setdefault(f.name, {})[name] = f.default
    shown = {
        field: ", ".join(f"{value} ({name})" for name, value in by_teacher.items())
        for field, by_teacher in defaults.items()
        if len(set(map(repr, by_teacher.values()))) > 1
    }
    seen: set[str] = set()
    for name, config_class in classes.items():
        own = [f.name for f in dataclasses.fields(config_class) if f.name not in seen]
        seen.update(own)
        if own:
            group = parser.add_argument_group(f"{name} teacher options")
            add_dataclass_arguments(group, config_class, own, prefix=prefix, shown_defaults=shown)


def teacher_values(args: argparse.Namespace, teacher: str, prefix: str = "") -> dict[str, Any]:
    """The teacher flags given on the command line; one that ``teacher`` lacks is a one-line error."""
    from kgpeft.teachers.registry import available_teachers, teacher_class

    flags = {f.name for name in available_teachers() for f in dataclasses.fields(teacher_class(name).config_class)}
    given = {name: getattr(args, prefix + name) for name in flags if hasattr(args, prefix + name)}
    own = {f.name for f in dataclasses.fields(teacher_class(teacher).config_class)}
    foreign = sorted(set(given) - own)
    if foreign:
        listed = ", ".join("--" + prefix + name.replace("_", "-") for name in foreign)
        raise KGPeftError(f"option {listed} does not apply to the {teacher} teacher")
    return given


def count(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer of at least ``minimum`` (so ``--num-paths 0`` is refused, not run).

    >>> count(1)("3")
    3
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the smallest allowed, {minimum}")
        return value

    parse.__name__ = "integer"  # what argparse names in its own messages
    return parse


def add_no_4bit_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-4bit``: full precision; unset (None) means as the adapter was trained."""
    parser.add_argument(
        "--no-4bit",
        dest="load_in_4bit",
        action="store_false",
        default=None,
        help="load the base model in full precision",
    )


def add_overwrite_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--overwrite``: replace an existing output of the same kind (never a folder kgpeft did not write)."""
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help=f"replace an existing {what} at the output path (a folder of anything else is always refused)",
    )


def load_config_file(path: str | None) -> dict[str, Any]:
    """The mapping in a YAML or JSON run file (empty without one)."""
    if not path:
        return {}
    import yaml

    from kgpeft.io import read_user_file

    raw = read_user_file(path, what="a YAML or JSON run file")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise KGPeftError(f"{path}: not UTF-8 text ({err.reason}): save the file as UTF-8") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise KGPeftError(f"{path}{where}: not valid YAML ({getattr(err, 'problem', err)})") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KGPeftError(f"{path}: a config file must be a mapping of option names to values")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def build_config(cls: type, values: Mapping[str, Any], source: str = "options") -> Any:
    """Instantiate dataclass ``cls`` from the keys of ``values`` that are its fields.

    Validation errors (``ValueError`` from ``__post_init__``) become one-line ``KGPeftError``.
    """
    from kgpeft.fields import known_items

    try:
        return cls(**known_items(cls, values))
    except (TypeError, ValueError) as err:
        raise KGPeftError(f"invalid {source}: {err}") from err
