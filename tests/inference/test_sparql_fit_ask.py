"""End to end against a real Oxigraph server: `kgpeft fit` and `kgpeft ask` on the store answer as on the file."""

from __future__ import annotations

import json
from pathlib import Path

from kgpeft.cli import main

QUESTIONS = ["Which region is Germany in?", "Which region is Japan in?", "What is the capital of France?"]


def _fit(kg: str, base: Path, out: Path) -> None:
    argv = ["fit", "--kg", kg, "--base-model", str(base), "-o", str(out), "--teacher", "oracle", "--max-steps", "2"]
    assert main([*argv, "--per-device-train-batch-size", "2", "--lora-r", "2"]) == 0


def _ask(adapter: Path, question: str, capsys) -> dict:
    capsys.readouterr()
    assert main(["ask", "--adapter", str(adapter), "--no-4bit", "--num-paths", "3", "--json", question]) == 0
    return json.loads(capsys.readouterr().out)


def test_fit_and_ask_on_a_store_answer_as_on_the_file(world_path, sparql_store, tiny_checkpoint, tmp_path, capsys):
    url = sparql_store(world_path)
    _fit(str(world_path), tiny_checkpoint, tmp_path / "file")
    _fit(url, tiny_checkpoint, tmp_path / "store")
    record = json.loads((tmp_path / "store" / "kgpeft.json").read_text())
    assert record["kg_path"] == url  # ask finds the store again from the adapter alone
    for question in QUESTIONS:
        on_file, on_store = _ask(tmp_path / "file", question, capsys), _ask(tmp_path / "store", question, capsys)
        assert on_store["topic"] == on_file["topic"]
        assert [p["text"] for p in on_store["paths"]] == [p["text"] for p in on_file["paths"]]
        assert [a["iri"] for a in on_store["answers"]] == [a["iri"] for a in on_file["answers"]]
        assert on_store["paths"] and all(p["valid"] for p in on_store["paths"])
