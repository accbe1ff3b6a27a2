"""One stopwatch for the stage timings and peak memory that fit results and answers report."""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak_memory() -> bool:
    """Start a new peak-memory window; False where the platform cannot (the peak is then the process's so far).

    Linux resets the resident high-water mark (``VmHWM``) to the current resident size when
    "5" is written to ``/proc/self/clear_refs``; elsewhere there is no reset.
    """
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_memory_bytes() -> int:
    """The process's resident-memory high-water mark in bytes, since the last :func:`reset_peak_memory`.

    ``VmHWM`` of ``/proc/self/status`` on Linux; elsewhere ``ru_maxrss``, the peak since the
    process started (kilobytes on Linux, bytes on macOS).

    >>> peak_memory_bytes() > 0
    True
    """
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # reported in kB
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class Stopwatch:
    """Calling it with a stage name records the seconds since the previous call (or since creation).

    With ``peaks``, it also records each stage's peak resident memory in MB (the high-water
    mark of the whole process during the stage: what the machine must have for it).

    >>> timings, peaks = {}, {}
    >>> lap = Stopwatch(timings, peaks=peaks)
    >>> lap("load")
    >>> list(timings), list(peaks)
    (['load'], ['load'])
    """

    def __init__(self, timings: dict[str, float], ndigits: int | None = None, peaks: dict[str, float] | None = None):
        self.timings = timings
        self.ndigits = ndigits
        self.peaks = peaks
        if peaks is not None:
            reset_peak_memory()
        self._clock = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        seconds = now - self._clock
        self.timings[stage] = seconds if self.ndigits is None else round(seconds, self.ndigits)
        if self.peaks is not None:
            megabytes = peak_memory_bytes() / 2**20
            self.peaks[stage] = megabytes if self.ndigits is None else round(megabytes, self.ndigits)
            reset_peak_memory()
        self._clock = time.perf_counter()
