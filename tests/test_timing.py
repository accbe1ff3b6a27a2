"""kgpeft.timing: stage seconds and the peak resident memory of each stage."""

from __future__ import annotations

import resource

import numpy as np
import pytest

from kgpeft import timing
from kgpeft.timing import Stopwatch, peak_memory_bytes, reset_peak_memory

MB = 2**20


@pytest.mark.skipif(not reset_peak_memory(), reason="the platform cannot reset the resident high-water mark")
def test_each_stage_reports_its_own_peak_not_the_process_s():
    timings: dict[str, float] = {}
    peaks: dict[str, float] = {}
    lap = Stopwatch(timings, peaks=peaks)
    block = np.ones(150 * MB // 8)  # 150 MB, every page touched
    del block
    lap("big")
    small = np.ones(MB // 8)
    del small
    lap("small")
    assert list(timings) == list(peaks) == ["big", "small"]
    # The big stage's peak holds the 150 MB block; the next stage starts afresh without it.
    assert peaks["big"] - peaks["small"] > 120
    assert peaks["small"] * MB <= peak_memory_bytes() + 10 * MB


def test_without_proc_the_peak_is_the_process_s_ru_maxrss(monkeypatch, tmp_path):
    monkeypatch.setattr(timing, "_STATUS", tmp_path / "no-status")
    monkeypatch.setattr(timing, "_CLEAR_REFS", tmp_path / "no-dir" / "clear_refs")
    assert reset_peak_memory() is False
    assert peak_memory_bytes() == resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_a_stopwatch_without_peaks_records_seconds_only():
    timings: dict[str, float] = {}
    lap = Stopwatch(timings, ndigits=2)
    lap("a")
    assert list(timings) == ["a"] and timings["a"] >= 0 and lap.peaks is None
