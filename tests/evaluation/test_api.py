"""``kgpeft.evaluate``: the library entry point `kgpeft eval` calls, and its registry of compared systems."""

from __future__ import annotations

import json

import pytest

import kgpeft
from kgpeft.evaluation import EvalResult, ProbeSettings, ReasonerSystem, api, available_systems, register_system

SMALL = {"num_paths": 2, "max_hops": 1, "load_in_4bit": False}


def test_evaluate_returns_the_results_it_writes(tmp_path, make_adapter):
    adapter = make_adapter(tmp_path / "student")
    probes = ProbeSettings(fact_probes=0, retention_tokens=0)
    events = []
    result = kgpeft.evaluate(
        adapter, limit=3, compare=["base"], probes=probes, on_progress=lambda *e: events.append(e), **SMALL
    )
    assert isinstance(result, EvalResult) and result.report_dir == adapter
    assert [r.name for r in result.results] == ["student", "base"]
    assert result.results[0].metrics["questions"] == 3
    report = json.loads(result.files["report.json"].read_text())
    assert report["systems"]["base"]["metrics"] == pytest.approx(result.results[1].metrics, nan_ok=True)
    assert ("student", "start", 3) in events and ("base", "done", 0) in events
    assert sum(n for name, event, n in events if name == "base" and event == "advance") == 3


def test_the_built_in_systems_are_registered_by_name():
    assert available_systems() == ["base", "teacher", "unconstrained", "routed", "combined"]
    with pytest.raises(ValueError, match="already registered"):
        register_system("base")(lambda ctx: None)


def test_a_registered_system_is_built_by_name(tmp_path, make_adapter, monkeypatch):
    monkeypatch.setattr(api, "_SYSTEMS", dict(api._SYSTEMS))  # the registration stays in this test

    @register_system("greedy")
    def greedy(ctx):
        system = ReasonerSystem("greedy", ctx.reasoner, adapter=ctx.student_name, **{**ctx.settings, "num_paths": 1})
        return system, None

    adapter = make_adapter(tmp_path / "student")
    probes = ProbeSettings(fact_probes=0, retention_tokens=0)
    result = kgpeft.evaluate(adapter, limit=2, compare=["greedy"], probes=probes, **SMALL)
    assert [r.name for r in result.results] == ["student", "greedy"]
    assert result.results[1].metrics["questions"] == 2
