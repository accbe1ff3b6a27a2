"""On-disk cache of built graphs, so loading the same file again is near-instant.

An entry is keyed by the sha256 of the file's raw bytes plus every option that changes
the result (format, language, base IRI) and :data:`CACHE_VERSION`, and holds the index
arrays as one uncompressed ``.npz``. A corrupt or unreadable entry is ignored (and
rebuilt by the caller), never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from pathlib import Path

import numpy as np

from kgpeft.io import atomic_file, cache_dir
from kgpeft.kg.graph import KnowledgeGraph
from kgpeft.kg.strings import StringTable

logger = logging.getLogger(__name__)

CACHE_VERSION = 3  # bump whenever parsing, labelling or the index layout changes


def cache_path(raw: bytes, **options: str | None) -> Path:
    """Where the graph built from ``raw`` with ``options`` is cached.

    >>> cache_path(b"<http://a> <http://b> <http://c> .", format="ntriples").suffix
    '.npz'
    """
    content = hashlib.sha256(raw).hexdigest()
    settings = json.dumps({"version": CACHE_VERSION, **options}, sort_keys=True)
    key = hashlib.sha256(f"{content}\n{settings}".encode()).hexdigest()
    return cache_dir("kg") / f"{key}.npz"


def save(path: Path, kg: KnowledgeGraph) -> None:
    """Write ``kg`` to ``path`` atomically (a crash never leaves a half entry that later loads)."""
    payload = {name: getattr(kg, name) for name in KnowledgeGraph.ARRAYS}
    for name in KnowledgeGraph.TABLES:
        table: StringTable = getattr(kg, name)
        payload[f"{name}.buffer"], payload[f"{name}.offsets"] = table.buffer, table.offsets
    payload["meta"] = np.frombuffer(json.dumps(kg.meta).encode(), dtype=np.uint8)
    with atomic_file(path, "wb") as handle:
        np.savez(handle, **payload)


def load(path: Path) -> KnowledgeGraph | None:
    """The cached graph at ``path``, or None if there is none or it cannot be read."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in KnowledgeGraph.ARRAYS}
            tables = {
                name: StringTable(npz[f"{name}.buffer"], npz[f"{name}.offsets"]) for name in KnowledgeGraph.TABLES
            }
            meta = json.loads(npz["meta"].tobytes())
        return KnowledgeGraph(arrays, tables, meta)
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as err:
        logger.warning("ignoring unreadable graph cache entry %s (%s); rebuilding it", path, err)
        return None
