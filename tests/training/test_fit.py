"""End to end: `kgpeft fit` on a tiny KG and the tiny Llama, a few steps, a real adapter folder."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from kgpeft.cli import main

TINY_KG = """\
@prefix : <http://example.org/geo/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

:Europe rdfs:label "Europe" .
:Asia rdfs:label "Asia" .
:WesternEurope rdfs:label "Western Europe" ; :locatedIn :Europe .
:SouthernEurope rdfs:label "Southern Europe" ; :locatedIn :Europe .
:EasternAsia rdfs:label "Eastern Asia" ; :locatedIn :Asia .
"""
COUNTRIES = [
    ("France", "WesternEurope", "Paris"),
    ("Germany", "WesternEurope", "Berlin"),
    ("Belgium", "WesternEurope", "Brussels"),
    ("Netherlands", "WesternEurope", "Amsterdam"),
    ("Austria", "WesternEurope", "Vienna"),
    ("Spain", "SouthernEurope", "Madrid"),
    ("Italy", "SouthernEurope", "Rome"),
    ("Portugal", "SouthernEurope", "Lisbon"),
    ("Greece", "SouthernEurope", "Athens"),
    ("Japan", "EasternAsia", "Tokyo"),
    ("China", "EasternAsia", "Beijing"),
    ("Korea", "EasternAsia", "Seoul"),
    ("Mongolia", "EasternAsia", "Ulaanbaatar"),
]
BORDERS = [
    ("France", "Germany"),
    ("France", "Belgium"),
    ("Germany", "Netherlands"),
    ("Germany", "Austria"),
    ("Spain", "Portugal"),
    ("France", "Spain"),
    ("Italy", "Austria"),
    ("China", "Mongolia"),
    ("China", "Korea"),
]


@pytest.fixture(scope="module")
def tiny_kg(tmp_path_factory) -> Path:
    lines = [TINY_KG]
    for name, region, capital in COUNTRIES:
        lines.append(
            f':{name} rdfs:label "{name}" ; rdfs:comment "{name} is a country." ; '
            f":locatedIn :{region} ; :capital :{capital} ."
        )
        lines.append(f':{capital} rdfs:label "{capital}" .')
    lines += [f":{a} :neighborOf :{b} . :{b} :neighborOf :{a} ." for a, b in BORDERS]
    path = tmp_path_factory.mktemp("kg") / "geo.ttl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _fit(tiny_kg: Path, tiny_checkpoint: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "fit",
            "--kg",
            str(tiny_kg),
            "--base-model",
            str(tiny_checkpoint),
            "--output-dir",
            str(out),
            "--teacher",
            "oracle",
            "--per-device-train-batch-size",
            "4",
            "--lora-r",
            "4",
            "--logging-steps",
            "1",
            *extra,
        ]
    )


def test_fit_writes_an_adapter_that_plain_peft_loads(tiny_kg, tiny_checkpoint, tmp_path):
    from peft import PeftModel

    from kgpeft.modeling import load_base_model

    out = tmp_path / "geo"
    assert _fit(tiny_kg, tiny_checkpoint, out, "--max-steps", "3") == 0

    record = json.loads((out / "kgpeft.json").read_text())
    assert record["kg_sha256"] and record["base_model"] == str(tiny_checkpoint)
    assert record["format_version"] == 2 and record["config"]["train"]["alpha"] == 0.5
    assert record["config"]["teacher"]["name"] == "oracle" and record["sizes"]["train"] > 0
    stages = ["kg", "data", "teacher", "soft_targets", "train"]  # every stage but saving, in order
    assert list(record["timings"]) == stages and all(seconds >= 0 for seconds in record["timings"].values())
    # The process's high-water mark: at least the interpreter with torch loaded, less than this machine has.
    assert list(record["peak_memory_mb"]) == stages and all(
        50 < mb < 64_000 for mb in record["peak_memory_mb"].values()
    )
    log = json.loads((out / "training_log.json").read_text())
    assert any("hard_loss" in entry and "soft_loss" in entry for entry in log)
    assert (out / "teacher").is_dir()

    for load_in_4bit in (True, False):  # trained on nf4; loads on the 4-bit and the full-precision base
        base, tokenizer = load_base_model(str(tiny_checkpoint), load_in_4bit=load_in_4bit)
        model = PeftModel.from_pretrained(base, out).eval()
        batch = tokenizer(["France -> located in -> Western Europe"], return_tensors="pt")
        with torch.no_grad():
            with model.disable_adapter():
                plain = model(**batch).logits
            adapted = model(**batch).logits
        assert torch.isfinite(adapted).all()
        assert not torch.allclose(plain, adapted), "the adapter changes nothing"


def test_bad_kg_writes_nothing_and_exits_2(tiny_checkpoint, tmp_path, capsys):
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix : <http://e.org/> .\n:a :b \n", encoding="utf-8")
    out = tmp_path / "bad-adapter"
    assert _fit(bad, tiny_checkpoint, out, "--max-steps", "1") == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "bad.ttl:3:1" in errors[0]
    assert not out.exists() and not any(p.name.startswith(".bad-adapter") for p in tmp_path.iterdir())


def test_resume_continues_from_the_last_checkpoint(tiny_kg, tiny_checkpoint, tmp_path):
    out = tmp_path / "geo"
    assert _fit(tiny_kg, tiny_checkpoint, out, "--max-steps", "2", "--save-steps", "2") == 0
    checkpoints = out.with_name(".geo.checkpoints")
    assert (checkpoints / "checkpoint-2").is_dir()
    assert _fit(tiny_kg, tiny_checkpoint, out, "--max-steps", "4", "--save-steps", "2", "--resume") == 0
    log = json.loads((out / "training_log.json").read_text())
    steps = [entry["step"] for entry in log if "loss" in entry]
    assert steps == [1, 2, 3, 4], "resumed run should keep the first run's history and add steps 3-4"


def test_corrupt_cache_entries_are_rebuilt_with_one_warning_each(tiny_kg, tiny_checkpoint, tmp_path, caplog):
    import os

    from kgpeft.cache import MANIFEST
    from kgpeft.io import cache_dir

    assert _fit(tiny_kg, tiny_checkpoint, tmp_path / "first", "--max-steps", "1") == 0
    kinds = ("data", "teachers", "soft_targets")
    for kind in kinds:  # truncate the largest file of every entry of each kind
        for entry in cache_dir(kind).iterdir():
            files = [p for p in entry.rglob("*") if p.is_file() and p.name != MANIFEST]
            biggest = max(files, key=lambda p: p.stat().st_size)
            os.truncate(biggest, biggest.stat().st_size // 2)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kgpeft.cache"):
        assert _fit(tiny_kg, tiny_checkpoint, tmp_path / "second", "--max-steps", "1") == 0
    warned = {kind for kind in kinds for r in caplog.records if f"the {kind} cache entry" in r.getMessage()}
    assert warned == set(kinds)
    assert all((entry / MANIFEST).is_file() for kind in kinds for entry in cache_dir(kind).iterdir())


def test_fit_with_an_llm_teacher_distils_its_token_distributions(tiny_kg, tiny_checkpoint, tmp_path):
    out = tmp_path / "llm"
    args = ("--teacher", "llm", "--teacher.model", str(tiny_checkpoint), "--teacher.max-candidates", "4")
    assert _fit(tiny_kg, tiny_checkpoint, out, *args, "--max-steps", "1") == 0
    record = json.loads((out / "kgpeft.json").read_text())
    assert record["config"]["teacher"]["name"] == "llm" and record["config"]["teacher"]["model"] == str(tiny_checkpoint)
    log = json.loads((out / "training_log.json").read_text())
    assert any(entry.get("soft_loss", 0) > 0 for entry in log), "the LLM teacher's soft targets reached the loss"
