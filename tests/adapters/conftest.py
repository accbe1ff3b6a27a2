"""Fixtures for the adapter tests: adapter folders made the way `kgpeft fit` makes them, in seconds.

An adapter here is a tiny Llama with LoRA, trained for a few optimizer steps on random
tokens (so that LoRA B is non-zero and the adapter changes the logits), saved with
``save_pretrained`` plus its tokenizer and a ``kgpeft.json`` record.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kgpeft.adapters.record import AdapterRecord
from kgpeft.adapters.registry import kg_sha256

TINY_KG = """\
@prefix : <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
:Germany rdfs:label "Germany" ; :locatedIn :Western_Europe .
:France rdfs:label "France" ; :locatedIn :Western_Europe ; :capital :Paris .
:Western_Europe rdfs:label "Western Europe" ; :locatedIn :Europe .
:Paris rdfs:label "Paris" .
:Europe rdfs:label "Europe" .
"""


def _write_kg(path: Path, extra: str = "") -> Path:
    path.write_text(TINY_KG + extra, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def write_kg() -> Callable[..., Path]:
    """``write_kg(path, extra="")``: the tiny KG, plus ``extra`` Turtle lines, written to ``path``."""
    return _write_kg


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Matrices of a tiny model are too small to share: on a busy machine extra threads only wait on each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _tests_on_one_thread() -> Iterator[None]:
    with _one_thread():
        yield


@pytest.fixture(scope="session")
def other_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second base model: same tokenizer and architecture, another hidden size."""
    from kgpeft.testing import save_tiny_checkpoint

    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny-llama-32"), hidden_size=32)


@pytest.fixture(scope="session")
def session_kg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_kg(tmp_path_factory.mktemp("kg") / "tiny.ttl")


@pytest.fixture(scope="session")
def make_adapter(tiny_checkpoint: Path, session_kg: Path) -> Callable[..., Path]:
    """``make_adapter(folder, domain=..., r=4, target_modules="all-linear", load_in_4bit=False, base=..., kg=..., seed=0)``."""
    import torch
    from peft import get_peft_model

    from kgpeft.modeling import ModelConfig, base_model_fingerprint, load_base_model, lora_config

    def make(
        folder: Path,
        *,
        domain: str,
        r: int = 4,
        target_modules: str | list[str] = "all-linear",
        load_in_4bit: bool = False,
        base: Path = tiny_checkpoint,
        kg: Path = session_kg,
        seed: int = 0,
    ) -> Path:
        config = ModelConfig(
            base_model=str(base), load_in_4bit=load_in_4bit, lora_r=r, lora_alpha=2 * r, target_modules=target_modules
        )
        with _one_thread():
            return _train_and_save(folder, config, domain, kg, seed)

    def _train_and_save(folder: Path, config: ModelConfig, domain: str, kg: Path, seed: int) -> Path:
        model, tokenizer = load_base_model(config.base_model, load_in_4bit=config.load_in_4bit)
        fingerprint = base_model_fingerprint(model.config)
        torch.manual_seed(seed)
        model = get_peft_model(model, lora_config(config))
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-2)
        ids = torch.randint(3, len(tokenizer), (2, 12))
        for _ in range(3):
            model(input_ids=ids, labels=ids).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        AdapterRecord(
            domain=domain,
            base_model=config.base_model,
            base_model_fingerprint=fingerprint,
            load_in_4bit=config.load_in_4bit,
            kg_path=str(kg),
            kg_sha256=kg_sha256(kg),
            # the model section as `kgpeft fit` writes it
            config={
                "model": {
                    k: v for k, v in dataclasses.asdict(config).items() if k not in ("base_model", "load_in_4bit")
                }
            },
            metrics={"hits@1": 0.5, "teacher": {"hits@1": 0.75}},
        ).save(folder)
        return folder

    return make


@pytest.fixture(scope="session")
def adapters_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("adapters")


@pytest.fixture(scope="session")
def alpha(make_adapter: Callable[..., Path], adapters_root: Path) -> Path:
    return make_adapter(adapters_root / "alpha", domain="alpha", seed=1)


@pytest.fixture(scope="session")
def beta(make_adapter: Callable[..., Path], adapters_root: Path) -> Path:
    return make_adapter(adapters_root / "beta", domain="beta", seed=2)


@pytest.fixture(scope="session")
def alpha_4bit(make_adapter: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_adapter(tmp_path_factory.mktemp("quantised") / "alpha4", domain="alpha4", load_in_4bit=True, seed=3)
