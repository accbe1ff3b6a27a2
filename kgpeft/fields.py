"""Dataclasses built from mappings that may hold keys of other versions or other owners.

Configs round-trip through JSON (adapter records, teacher folders, run files); a key a
newer kgpeft wrote, or one that belongs to another config, must not break loading, as
PEFT's configs drop unknown keys. This is the one place that filters them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


def init_fields(cls: type) -> set[str]:
    """Names of the fields of dataclass ``cls`` that its constructor takes.

    >>> import dataclasses
    >>> sorted(init_fields(dataclasses.make_dataclass("C", ["a", "b"])))
    ['a', 'b']
    """
    return {f.name for f in dataclasses.fields(cls) if f.init}


def known_items(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The items of ``data`` whose keys are constructor fields of dataclass ``cls``."""
    names = init_fields(cls)
    return {key: value for key, value in data.items() if key in names}


def dataclass_from_dict(cls: type[T], data: Mapping[str, Any], *, warn: bool = False) -> T:
    """``cls(**known items of data)``; the other keys are dropped (with one warning when ``warn``).

    >>> import dataclasses
    >>> C = dataclasses.make_dataclass("C", [("a", int, 1)])
    >>> dataclass_from_dict(C, {"a": 2, "later": 3})
    C(a=2)
    """
    kept = known_items(cls, data)
    unknown = sorted(set(data) - set(kept))
    if warn and unknown:
        logger.warning("ignoring unknown %s fields: %s", cls.__name__, ", ".join(map(str, unknown)))
    return cls(**kept)
