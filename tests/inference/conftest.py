"""Fixtures for the inference tests: a small Turtle world loaded with ``kgpeft.kg.load_graph``, a tiny model.

``world.ttl`` beside this file is copied into a temporary folder and loaded from there,
so that the graph's on-disk index cache never lands in the source tree.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

WORLD_TTL = Path(__file__).with_name("world.ttl")


@pytest.fixture(scope="session")
def world_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(shutil.copy(WORLD_TTL, tmp_path_factory.mktemp("world") / "world.ttl"))


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


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """A tiny model's matrices are too small to share: on a busy machine extra threads only wait on each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
