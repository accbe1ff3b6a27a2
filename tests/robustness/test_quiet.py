"""Issue 14 section 6, "quiet": a command's stderr holds kgpeft's own lines only (no library log lines,
progress bars, warnings with their source lines or tracebacks) unless --verbose brings the libraries back."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from kgpeft.cli.console import command_output
from kgpeft.data.questionfile import BadLineWarning
from tests.adapters.conftest import adapters_root, alpha, make_adapter, session_kg

# Fixtures re-used from the adapter tests (imported names are what pytest looks up).
__all__ = ["adapters_root", "alpha", "make_adapter", "session_kg"]

QUESTION = "Which region is Germany in?"
LIBRARY_LINES = ("kernels-community", "Loading weights", "Traceback", "Warning:", "it/s]")


def _kgpeft(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: a fresh process, so that import-time messages show too."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for name in ("TRANSFORMERS_VERBOSITY", "DATASETS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS"):
        env.pop(name, None)  # as on a user's machine, not as an earlier in-process command left them
    command = [sys.executable, "-m", "kgpeft", *argv]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _only_kgpeft_lines(err: str) -> None:
    for line in err.splitlines():
        assert line.startswith("kgpeft "), f"not a kgpeft line: {line!r}\n{err}"
        assert not any(text in line for text in LIBRARY_LINES), err


def test_ask_prints_only_kgpeft_lines_and_verbose_brings_the_libraries_back(alpha, tmp_path):
    quiet = _kgpeft("ask", "--adapter", str(alpha), QUESTION, "--num-paths", "2", "--max-hops", "1", cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "Topic:" in quiet.stdout
    _only_kgpeft_lines(quiet.stderr)

    loud = _kgpeft("ask", "--adapter", str(alpha), QUESTION, "--num-paths", "2", "--max-hops", "1", "-v", cwd=tmp_path)
    assert loud.returncode == 0, loud.stderr
    assert "Loading weights" in loud.stderr, "--verbose shows the libraries' progress bars"


def test_a_refusal_is_its_one_line_only(alpha, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in alpha.iterdir():
        if path.is_file():
            (broken / path.name).write_bytes(path.read_bytes())
    (broken / "adapter_model.safetensors").write_bytes(b"\x00" * 16)
    result = _kgpeft("ask", "--adapter", str(broken), QUESTION, cwd=tmp_path)
    assert result.returncode == 2
    _only_kgpeft_lines(result.stderr)
    assert len(result.stderr.splitlines()) == 1 and "adapter_model.safetensors" in result.stderr


def _warn_from(filename: str, category: type[Warning], message: str) -> None:
    warnings.warn_explicit(message, category, filename, 12, module="somewhere")


@pytest.mark.parametrize("verbose", [False, True])
def test_warnings_are_one_line_and_a_librarys_only_with_verbose(capsys, verbose):
    import kgpeft.data.questionfile as ours

    with command_output("eval", verbose=verbose), warnings.catch_warnings():
        warnings.simplefilter("always")
        _warn_from(ours.__file__, BadLineWarning, "q.jsonl: line 3 skipped: no question")
        _warn_from("/site-packages/torch/nn/module.py", UserWarning, "a library's internals")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "kgpeft eval: warning: q.jsonl: line 3 skipped: no question"
    if verbose:
        assert len(lines) == 2 and "UserWarning: a library's internals" in lines[1]
    else:
        assert len(lines) == 1
