"""`kgpeft ask` end to end on the tiny model: readable output, --json, and the linking errors users see."""

from __future__ import annotations

import json

import pytest

from kgpeft.cli import main


@pytest.fixture
def ask(tiny_checkpoint, world_path, capsys):
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["ask", "--base-model", str(tiny_checkpoint), "--kg", str(world_path), "--no-4bit", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_ask_json(ask, world):
    code, out, _ = ask("Which region is Germany in?", "--num-paths", "2", "--max-hops", "2", "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer["topic"]["label"] == "Germany" and answer["constrained"] is True
    assert answer["paths"] and all(p["valid"] for p in answer["paths"])
    assert all(world.entity_by_iri(a["iri"]) is not None for a in answer["answers"])


def test_ask_prints_answers_and_paths(ask):
    code, out, _ = ask("Which region is Germany in?", "--topic", "Germany", "--num-paths", "2", "--max-hops", "1")
    assert code == 0
    assert (
        "Topic: Germany" in out
        and "Generated paths (constrained to the KG)" in out
        and ("Germany ->" in out or "Germany <-" in out)
    )


def test_ask_unconstrained_reports_hallucinations(ask):
    code, out, _ = ask("Which region is Germany in?", "--num-paths", "2", "--max-hops", "1", "--unconstrained")
    assert code == 0 and "hallucinated hops:" in out


def test_ask_unknown_entity(ask):
    code, _, err = ask("Which region is Narnia in?")
    assert code == 2
    assert "'Narnia' is not an entity of the knowledge graph" in err and "nearest labels:" in err


def test_ask_without_entity_asks_for_topic(ask):
    code, _, err = ask("what is the biggest one?")
    assert code == 2 and "--topic" in err
