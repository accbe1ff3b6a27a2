"""Small RDF graphs written to tmp_path, shared by the kgpeft.kg tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL_TTL = (Path(__file__).parent / "data" / "small.ttl").read_text(encoding="utf-8")


@pytest.fixture
def small_ttl(tmp_path):
    path = tmp_path / "small.ttl"
    path.write_text(SMALL_TTL, encoding="utf-8")
    return path


@pytest.fixture
def write(tmp_path):
    """write(name, text) -> path of a new file under tmp_path."""

    def _write(name: str, content: str | bytes):
        path = tmp_path / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return _write
