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
from collections.abc import Iterable, Mapping
from pathlib import Path
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
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type, names: Iterable[str]
) -> None:
    """Add ``--field-name`` flags for ``names`` of dataclass ``cls``; unset flags stay out of the namespace."""
    hints = typing.get_type_hints(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    for name in names:
        field = by_name[name]
        kind, extra = _flag_type(field, hints)
        default = field.default if field.default is not dataclasses.MISSING else None
        help_ = field.metadata.get("help", "")
        if default not in (None, ""):
            help_ = f"{help_} (default: {default})"
        kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "help": help_, "dest": name, **extra}
        if kind is not None:
            kwargs["type"] = kind
        parser.add_argument("--" + name.replace("_", "-"), **kwargs)


def add_no_4bit_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-4bit``: full precision; unset (None) means as the adapter was trained."""
    parser.add_argument(
        "--no-4bit",
        dest="load_in_4bit",
        action="store_false",
        default=None,
        help="load the base model in full precision",
    )


def load_config_file(path: str | None) -> dict[str, Any]:
    """The mapping in a YAML or JSON run file (empty without one)."""
    if not path:
        return {}
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise KGPeftError(f"{path}: cannot read the config file ({err.strerror})") from err
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
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    try:
        return cls(**{k: v for k, v in values.items() if k in names})
    except (TypeError, ValueError) as err:
        raise KGPeftError(f"invalid {source}: {err}") from err


def unknown_keys(values: Mapping[str, Any], classes: Iterable[type]) -> list[str]:
    known = {f.name for cls in classes for f in dataclasses.fields(cls)}
    return sorted(set(values) - known)
