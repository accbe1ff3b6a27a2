"""Fixtures for the inference tests (and, re-exported, the evaluation tests).

A small Turtle world (``world.ttl`` beside this file, copied to a temporary folder and
loaded with ``kgpeft.kg.load_graph``, so the graph's index cache never lands in the
source tree), a tiny model, a question file, and adapter folders made the way
`kgpeft fit` makes them, in seconds: the tiny Llama with a LoRA whose weights are random
(``init_lora_weights=False``, so it changes the logits), its tokenizer, ``kgpeft.json``,
``training_log.json`` and optionally an oracle ``teacher/``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

WORLD_TTL = Path(__file__).with_name("world.ttl")
# A second domain for routing: no label in common with the world
ELEMENTS_TTL = """\
@prefix : <http://example.org/elements/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
:inGroup rdfs:label "in group" .
:Hydrogen rdfs:label "Hydrogen" ; :inGroup :Nonmetals .
:Helium rdfs:label "Helium" ; :inGroup :Noble_gases .
:Nonmetals rdfs:label "Nonmetals" .
:Noble_gases rdfs:label "Noble gases" .
"""

QUESTIONS = [
    {"question": "Which region is Germany in?", "topic": "Germany", "answers": ["Western Europe"]},
    {"question": "What is the capital of France?", "answers": ["Paris"]},  # topic linked from the text
    {
        "question": "Which countries border Spain?",
        "topic": "http://example.org/world/Spain",
        "answers": ["France", "Portugal"],
    },
    {"question": "Which continent is Japan in?", "topic": "Japan", "answers": ["Asia"]},
    {"question": "What is Poland's capital?", "topic": "Poland"},  # unlabelled
]


@pytest.fixture(scope="session")
def world_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(shutil.copy(WORLD_TTL, tmp_path_factory.mktemp("world") / "world.ttl"))


@pytest.fixture(scope="session")
def elements_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("elements") / "elements.ttl"
    path.write_text(ELEMENTS_TTL, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def world(world_path: Path):
    from kgpeft.kg import load_graph

    return load_graph(world_path)


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()


@pytest.fixture(scope="session")
def reasoner(tiny_model, tiny_tokenizer, world):
    from kgpeft.inference import KGReasoner

    return KGReasoner(tiny_model, tiny_tokenizer, world)


@pytest.fixture(scope="session")
def question_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("questions") / "questions.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def make_adapter(tiny_checkpoint: Path, world_path: Path) -> Callable[..., Path]:
    """``make_adapter(folder, alpha=0.5, teacher=False, seed=0, kg=world_path, domain="world")``."""

    def make(
        folder: Path,
        *,
        alpha: float = 0.5,
        teacher: bool = False,
        seed: int = 0,
        kg: Path = world_path,
        domain: str = "world",
    ) -> Path:
        import torch
        from peft import LoraConfig, get_peft_model

        from kgpeft.adapters.record import AdapterRecord
        from kgpeft.data import DataConfig
        from kgpeft.io import write_json
        from kgpeft.kg import load_graph
        from kgpeft.modeling import base_model_fingerprint, load_base_model
        from kgpeft.teachers import get_teacher

        graph = load_graph(kg)
        model, tokenizer = load_base_model(str(tiny_checkpoint), load_in_4bit=False)
        fingerprint = base_model_fingerprint(model.config)
        torch.manual_seed(seed)
        lora = LoraConfig(
            r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM"
        )
        get_peft_model(model, lora).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        data = DataConfig(max_hops=2, num_questions=60, test_ratio=0.3, validation_ratio=0.1)
        AdapterRecord(
            domain=domain,
            base_model=str(tiny_checkpoint),
            base_model_fingerprint=fingerprint,
            load_in_4bit=False,
            kg_path=str(kg),
            kg_sha256=graph.sha256,
            config={
                "data": dataclasses.asdict(data),
                "teacher": {"name": "oracle"} if teacher else {},
                "train": {"alpha": alpha, "temperature": 2.0, "soft_top_k": 8},
            },
        ).save(folder)
        log = [{"step": s, "loss": 3.0 / s, "hard_loss": 2.0 / s, "soft_loss": 1.0 / s} for s in range(1, 6)]
        write_json(folder / "training_log.json", log)
        if teacher:
            oracle = get_teacher("oracle", max_hops=2)
            oracle.fit(graph, [])
            oracle.save(folder / "teacher")
        return folder

    return make


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """A tiny model's matrices are too small to share: on a busy machine extra threads only wait on each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
