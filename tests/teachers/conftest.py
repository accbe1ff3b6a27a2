"""Fixtures for the teacher tests: two small Turtle graphs, their questions, and small teacher settings.

``world.ttl`` is a few countries with regions, capitals and borders; ``twins.ttl`` is a
graph where two different relation paths ("born in", "lives in") reach the same answer.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).parent

# Settings that make every registered teacher fit in seconds on the tiny graphs; a teacher
# added later gets {} unless it needs more (the llm teacher's model is set by `teacher_options`).
FAST_OPTIONS: dict[str, dict] = {
    "gnn": {"hidden_dim": 16, "epochs": 4, "batch_size": 16, "progress": False},
    "llm": {"max_candidates": 8, "batch_size": 8},
}


@pytest.fixture(scope="session")
def world_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(shutil.copy(HERE / "world.ttl", tmp_path_factory.mktemp("world") / "world.ttl"))


@pytest.fixture(scope="session")
def world(world_path: Path):
    from kgpeft.kg import load_graph

    return load_graph(world_path)


@pytest.fixture(scope="session")
def twins(tmp_path_factory: pytest.TempPathFactory):
    from kgpeft.kg import load_graph

    return load_graph(shutil.copy(HERE / "twins.ttl", tmp_path_factory.mktemp("twins") / "twins.ttl"))


@pytest.fixture(scope="session")
def world_questions(world):
    """Questions of up to 2 hops about the world, split by topic entity."""
    from kgpeft.data import DataConfig, build_questions

    return build_questions(world, DataConfig(max_hops=2, seed=0, validation_ratio=0.2, test_ratio=0.2))


@pytest.fixture(scope="session")
def teacher_options(tiny_checkpoint):
    """``teacher_options(name)``: fast settings for a registered teacher, with ``max_hops=2``."""

    def options(name: str) -> dict:
        extra = {"model": str(tiny_checkpoint)} if name == "llm" else {}
        return {"max_hops": 2, **FAST_OPTIONS.get(name, {}), **extra}

    return options
