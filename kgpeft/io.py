"""Atomic outputs and the cache location, shared by every stage that writes to disk.

Every artefact kgpeft writes (adapters, caches, reports) goes through these helpers, so
a crash or a bad input never leaves a half-written file or folder that later loads.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kgpeft.types import StrPath


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cache_dir(*parts: str) -> Path:
    """``$KGPEFT_CACHE`` (default ``~/.cache/kgpeft``) joined with ``parts``, created if needed."""
    root = Path(os.environ.get("KGPEFT_CACHE") or Path.home() / ".cache" / "kgpeft")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_file(path: StrPath, mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """Open a temporary file beside ``path``; it replaces ``path`` only if the block succeeds.

    >>> with atomic_file("out.json") as f:
    ...     f.write("{}")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; outputs get the usual permissions
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: StrPath, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_file(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=False, default=str)
        handle.write("\n")


@contextlib.contextmanager
def atomic_dir(path: StrPath) -> Iterator[Path]:
    """Yield a temporary folder beside ``path`` that replaces ``path`` only if the block succeeds.

    A folder already at ``path`` is replaced as a whole (moved aside, then deleted), so
    readers see either the old complete folder or the new complete one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; outputs get the usual permissions
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
