"""Where commands write: results on a rich console (stdout), kgpeft's own log lines on stderr."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from rich.console import Console

LOG_WIDTH = 160


def results_console() -> Console:
    """A rich console on stdout; piped into a file or a log, it is 160 columns wide rather than rich's 80,
    which would cut the figures of a table short."""
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, LOG_WIDTH)
    return console


# The libraries kgpeft drives. Their log records and warnings are about their own internals (a
# kernel they could not fetch, a default they changed): shown with --verbose, hidden otherwise.
LIBRARIES = ("transformers", "peft", "trl", "bitsandbytes", "datasets", "huggingface_hub", "accelerate", "torch")
# Read by those libraries once, when imported: set before the command imports them.
_QUIET_ENV = {
    "TRANSFORMERS_VERBOSITY": "error",
    "DATASETS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
}
_KGPEFT_DIR = str(Path(__file__).resolve().parents[1])


def _ours(name: str) -> bool:
    return name == "kgpeft" or name.startswith("kgpeft.")


class _StderrHandler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is when a record comes (tests and rich swap it), not as it was at setup."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class _LineFormatter(logging.Formatter):
    """kgpeft's records as ``kgpeft CMD: warning: message`` on one line, like its errors; others with their logger."""

    def __init__(self, command: str | None) -> None:
        super().__init__()
        self.prefix = f"kgpeft {command}" if command else "kgpeft"

    def format(self, record: logging.LogRecord) -> str:
        if _ours(record.name):
            return f"{self.prefix}: {record.levelname.lower()}: {' '.join(record.getMessage().split())}"
        return f"{record.levelname} {record.name}: {record.getMessage()}"


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` as logging records, without the source line Python prints under each warning.

    kgpeft's own warnings (``BadLineWarning``, ...) go to the ``kgpeft.warnings`` logger and are
    shown like its other lines; a library's go to ``py.warnings`` (as ``logging.captureWarnings``
    does), shown only with --verbose.
    """
    if category.__module__.split(".")[0] == "kgpeft" or str(filename).startswith(_KGPEFT_DIR):
        logging.getLogger("kgpeft.warnings").warning("%s", message)
    else:
        logging.getLogger("py.warnings").warning("%s: %s (%s:%s)", category.__name__, message, filename, lineno)


def _quiet_libraries(verbose: bool) -> list[str]:
    """Set the libraries' verbosity and progress bars; returns the environment variables it set."""
    level = logging.WARNING if verbose else logging.ERROR
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(level)
    # TrainingArguments hides the training progress bar when transformers logs less than warnings
    # (disable_tqdm=None); that bar is kgpeft fit's progress, so this one logger stays at WARNING.
    logging.getLogger("transformers.training_args").setLevel(logging.WARNING)
    added = [] if verbose else [key for key in _QUIET_ENV if key not in os.environ]
    os.environ.update({key: _QUIET_ENV[key] for key in added})
    # Libraries imported before (in-process use of main): their own switches, as the variables would have set.
    # Bars an earlier quiet command's variables turned off at import stay off (the libraries refuse, warning).
    if "transformers" in sys.modules:
        from huggingface_hub import constants
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity(level)
        if not verbose:
            hf_logging.disable_progress_bar()
        elif not constants.HF_HUB_DISABLE_PROGRESS_BARS:
            hf_logging.enable_progress_bar()
    if "datasets" in sys.modules:
        import datasets

        datasets.utils.logging.set_verbosity(level)
        if not verbose:
            datasets.disable_progress_bars()
        elif not datasets.config.HF_DATASETS_DISABLE_PROGRESS_BARS:
            datasets.enable_progress_bars()
    return added


@contextlib.contextmanager
def command_output(command: str | None, *, verbose: bool = False) -> Iterator[None]:
    """Stderr while a command runs: kgpeft's own lines only, one line each; libraries' too with ``verbose``.

    Set up before the command imports any library, since some log at import time (bitsandbytes'
    "Failed to load CPU gemm_4bit_forward from kernels-community"). ``$KGPEFT_LOG_LEVEL`` sets
    kgpeft's level (default WARNING, INFO with ``verbose``). Undone on exit.
    """
    root = logging.getLogger()
    handler = _StderrHandler()
    handler.setFormatter(_LineFormatter(command))
    if not verbose:
        handler.addFilter(lambda record: _ours(record.name))
    ours = logging.getLogger("kgpeft")
    saved = (root.level, ours.level, warnings.showwarning)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    ours.setLevel(os.environ.get("KGPEFT_LOG_LEVEL") or ("INFO" if verbose else "WARNING"))
    warnings.showwarning = _show_warning
    added = _quiet_libraries(verbose)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)
        root.removeHandler(handler)
        root.setLevel(saved[0])
        ours.setLevel(saved[1])
        warnings.showwarning = saved[2]
