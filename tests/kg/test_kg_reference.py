"""The fast N-Triples interning gives exactly what the plain reference implementation gives."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from kgpeft.kg.formats import resolve_format
from kgpeft.kg.parse import to_ntriples
from kgpeft.kg.reference import reference_split_ntriples
from kgpeft.kg.triples import split_ntriples

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = [
    ROOT / "kg" / "countries.ttl",
    *sorted((ROOT / "tests" / "kg" / "data").glob("*.ttl")),
    ROOT / "tests" / "inference" / "world.ttl",
    ROOT / "tests" / "teachers" / "twins.ttl",
]


def _assert_same(text: bytes) -> None:
    fast, reference = split_ntriples(io.BytesIO(text)), reference_split_ntriples(text)
    assert fast.nodes == reference.nodes
    assert fast.predicates == reference.predicates
    assert fast.literal_data == reference.literal_data
    np.testing.assert_array_equal(fast.literal_start, reference.literal_start)
    np.testing.assert_array_equal(fast.edges, reference.edges)
    np.testing.assert_array_equal(fast.facts, reference.facts)
    assert fast.sha256() == reference.sha256()


@pytest.mark.parametrize("path", GRAPHS, ids=lambda p: p.name)
def test_fast_path_matches_reference_on_shipped_graphs(path):
    ntriples = to_ntriples(path.read_bytes(), resolve_format(path, None), name=str(path), base_iri=path.as_uri())
    _assert_same(ntriples.getvalue())


def test_fast_path_matches_reference_across_chunks_blank_nodes_and_repeats(monkeypatch):
    """Small chunks force many chunk borders; repeats, shared (node, predicate) literals and
    blank nodes exercise the dedup, the CRC ordering and the canonical renaming."""
    import kgpeft.kg.triples as triples

    monkeypatch.setattr(triples, "CHUNK_BYTES", 64)
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(400):
        s = f"<http://e/{rng.integers(30)}>" if rng.random() < 0.8 else f"_:b{rng.integers(8)}"
        p = f"<http://p/{rng.integers(5)}>"
        if rng.random() < 0.4:
            o = f'"v{rng.integers(6)}"' + ("@en" if rng.random() < 0.3 else "")
        else:
            o = f"<http://e/{rng.integers(30)}>" if rng.random() < 0.8 else f"_:b{rng.integers(8)}"
        lines.append(f"{s} {p} {o} .")
    text = ("\n".join(lines + lines[:50]) + "\n").encode()  # the repeats must collapse
    _assert_same(text)
