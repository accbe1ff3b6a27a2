"""Helpers shared by the robustness tests: every bad input is refused with one line, nothing written or lost."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
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
            if path.is_symlink() or not path.is_file():  # a FIFO would block a read; a link's target is not ours
                state[os.path.relpath(path, folder)] = "link" if path.is_symlink() else "special"
            else:
                state[os.path.relpath(path, folder)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def assert_refused(code: int, capsys: pytest.CaptureFixture[str], folder: Path, before: dict[str, str]) -> str:
    """Exit code 2, exactly one line on stderr and no traceback, ``folder`` exactly as before; returns the line."""
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert snapshot(folder) == before, "something was written or lost"
    return lines[0]


MAX_SECONDS = 10  # issue 14's bounds for any input of <= 1 MB: answered in 10 s ...
MAX_MEMORY_MB = 1024  # ... and 1 GB
_ADDRESS_LIMIT = 3 << 30  # the child's address space: a runaway is stopped, not the machine (imports reserve ~1.5 GB)
_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
{code}
"""


@dataclasses.dataclass
class Bounded:
    """What a child process did: exit code, stderr, wall seconds and peak resident memory (MB)."""

    code: int
    err: str
    seconds: float
    peak_mb: float


def run_bounded(code: str, *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> Bounded:
    """Run Python ``code`` in a child with a capped address space; its own peak memory comes from ``wait4``
    (``RUSAGE_CHILDREN`` would be the peak of every child this test process ever had).

    ``run_bounded("from kgpeft.cli import main; sys.exit(main(['kg', 'stats', 'x.ttl']))", cwd=tmp_path)``
    """
    source = _CHILD.format(limit=_ADDRESS_LIMIT, code=code)
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", source], cwd=cwd, env={**os.environ, **(env or {})}, stderr=err)
        timer = threading.Timer(timeout, child.kill)  # wait4 has no timeout of its own
        timer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        err.seek(0)
        text = err.read()
    if seconds >= timeout:
        pytest.fail(f"killed after {timeout} s: {text[-500:]}")
    return Bounded(child.returncode, text, seconds, usage.ru_maxrss / 1024)
