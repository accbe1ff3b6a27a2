"""The one on-disk cache of built artefacts (questions, fitted teachers, soft targets).

An entry is a folder ``cache_dir(kind)/key``: :func:`cache_key` fingerprints a JSON-able
mapping of everything the artefact depends on, with the kind's version (bump it when the
content built from the same inputs changes, to retire old entries). Entries are written
atomically, with a manifest of every file's sha256 written last; loading checks the
manifest first, so a truncated, edited or partial entry is noticed, logged in one warning
line, deleted and rebuilt, instead of breaking every later run until found by hand.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from kgpeft.io import atomic_dir, cache_dir, write_json
from kgpeft.types import StrPath

logger = logging.getLogger(__name__)

T = TypeVar("T")
MANIFEST = "manifest.json"
_BLOCK = 1 << 22  # 4 MiB reads: hashing large files streams instead of loading them whole


def fingerprint(data: Mapping[str, Any]) -> str:
    """The sha256 of a mapping as canonical JSON (sorted keys; values JSON cannot hold, by ``str``).

    >>> fingerprint({"b": 1, "a": 2}) == fingerprint({"a": 2, "b": 1})
    True
    """
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def cache_key(kind: str, version: int, inputs: Mapping[str, Any]) -> str:
    """The key of the entry of ``kind`` at ``version`` built from ``inputs``: a :func:`fingerprint`, shortened.

    >>> cache_key("data", 1, {"kg": "ab"}) == cache_key("data", 1, {"kg": "ab"}) != cache_key("data", 2, {"kg": "ab"})
    True
    """
    return fingerprint({"kind": kind, "version": version, "inputs": inputs})[:32]


def file_sha256(path: StrPath) -> str:
    """The sha256 of a file's bytes, read in blocks (raises OSError when it cannot be read)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksums(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


class CacheEntry:
    """One entry: ``load`` it if it is whole, else ``store`` it.

    >>> entry = CacheEntry("data", cache_key("data", 1, {"kg": "ab"}))  # doctest: +SKIP
    >>> entry.load(read) or entry.store(build(), write)  # doctest: +SKIP
    """

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.folder = cache_dir(kind) / key

    def exists(self) -> bool:
        return self.folder.exists()

    def load(self, read: Callable[[Path], T]) -> T | None:
        """``read(folder)`` of a whole entry; None when there is none, or it is corrupt (then deleted, one warning)."""
        if not self.folder.exists():
            return None
        try:
            recorded = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
            if recorded != _checksums(self.folder):
                raise ValueError("its files do not match their checksums")
            value = read(self.folder)
        except Exception as err:
            reason = "no manifest: partial or written by another version" if isinstance(err, FileNotFoundError) else err
            logger.warning("the %s cache entry %s is corrupt (%s); rebuilding it", self.kind, self.folder, reason)
            shutil.rmtree(self.folder, ignore_errors=True)
            return None
        logger.info("%s from the cache %s", self.kind, self.folder)
        return value

    def store(self, value: T, write: Callable[[T, Path], None]) -> T:
        """Write ``value`` with ``write(value, folder)``, then the manifest, atomically; return ``value``."""
        with atomic_dir(self.folder) as tmp:
            write(value, tmp)
            write_json(tmp / MANIFEST, _checksums(tmp))
        return value
