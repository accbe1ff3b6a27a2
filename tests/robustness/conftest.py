"""Helpers shared by the robustness tests: every bad input is refused with one line, nothing written or lost."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` (hidden ones too) -> a digest of its content, to compare before and after."""
    state: dict[str, str] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            state[os.path.relpath(Path(root, name), folder)] = "dir"
        for name in files:
            path = Path(root, name)
            state[os.path.relpath(path, folder)] = (
                "link" if path.is_symlink() else hashlib.sha256(path.read_bytes()).hexdigest()
            )
    return state


def assert_refused(code: int, capsys: pytest.CaptureFixture[str], folder: Path, before: dict[str, str]) -> str:
    """Exit code 2, exactly one line on stderr and no traceback, ``folder`` exactly as before; returns the line."""
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert snapshot(folder) == before, "something was written or lost"
    return lines[0]

