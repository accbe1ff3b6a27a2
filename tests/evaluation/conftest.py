"""The evaluation tests use the inference tests' fixtures (small world, tiny model, adapter folders).

They are loaded from ``tests/inference/conftest.py`` by path and re-exported here, so the
two test folders share one definition (pytest registers the fixtures a conftest's module
namespace holds).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "inference_fixtures", Path(__file__).parents[1] / "inference" / "conftest.py"
)
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

world_path = _fixtures.world_path
elements_path = _fixtures.elements_path
world = _fixtures.world
tiny_model = _fixtures.tiny_model
question_file = _fixtures.question_file
make_adapter = _fixtures.make_adapter
_one_thread = _fixtures._one_thread
