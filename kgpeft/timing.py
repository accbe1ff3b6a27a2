"""One stopwatch for the stage timings that fit results and answers report."""

from __future__ import annotations

import time


class Stopwatch:
    """Calling it with a stage name records the seconds since the previous call (or since creation).

    >>> timings = {}
    >>> lap = Stopwatch(timings)
    >>> lap("load")
    >>> list(timings)
    ['load']
    """

    def __init__(self, timings: dict[str, float], ndigits: int | None = None) -> None:
        self.timings = timings
        self.ndigits = ndigits
        self._clock = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        seconds = now - self._clock
        self.timings[stage] = seconds if self.ndigits is None else round(seconds, self.ndigits)
        self._clock = now
