"""benchmarks/scale.py: its generated graphs are deterministic and have the shape they claim."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from kgpeft.kg import load_graph

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "scale.py"


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("scale_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_rungs_span_50_to_1000_relations(scale):
    assert scale.shape(10_000) == (2_500, 50)
    assert scale.shape(10_000_000) == (2_500_000, 1_000)
    assert 50 < scale.shape(1_000_000)[1] < 1_000


def test_edges_are_deterministic_distinct_and_power_law(scale):
    s, r, o = scale.edges(20_000, seed=0)
    again = scale.edges(20_000, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip((s, r, o), again, strict=True))
    assert not np.array_equal(o, scale.edges(20_000, seed=1)[2])
    assert s.size == 20_000 and not (s == o).any()
    entities, relations = scale.shape(20_000)
    keys = (s * relations + r) * entities + o
    assert np.unique(keys).size == keys.size and r.max() < relations
    in_degree = np.bincount(o, minlength=entities)
    assert in_degree.max() > 50 * in_degree.mean()  # hubs, not a uniform graph


def test_the_written_graph_is_the_same_bytes_each_time_and_loads(scale, tmp_path):
    a, b = tmp_path / "a.nt.gz", tmp_path / "b.nt.gz"
    counts = scale.generate(a, 2_000, seed=3)
    scale.generate(b, 2_000, seed=3)
    assert a.read_bytes() == b.read_bytes()
    kg = load_graph(a, cache=False)
    assert (kg.num_triples, kg.num_relations) == (2_000, counts["relations"])
    assert kg.num_entities <= counts["entities"]  # entities without any edge or literal are not in the graph
    labelled = [e for e in range(kg.num_entities) if kg.entity_aliases(e)]
    assert labelled and " " in kg.entity_label(labelled[0])  # two-word labels, aliases for some
    assert any(kg.entity_description(e) for e in range(kg.num_entities))
