"""The on-disk index cache: reused when the bytes match, rebuilt when they change or the entry is corrupt."""

from __future__ import annotations

import numpy as np

from kgpeft.io import cache_dir
from kgpeft.kg import KnowledgeGraph, load_graph
from kgpeft.kg import load as load_module


def entries() -> set:
    return set(cache_dir("kg").glob("*.npz"))


def same_graph(a: KnowledgeGraph, b: KnowledgeGraph) -> bool:
    arrays = all(np.array_equal(getattr(a, name), getattr(b, name)) for name in KnowledgeGraph.ARRAYS)
    tables = all(list(getattr(a, name)) == list(getattr(b, name)) for name in KnowledgeGraph.TABLES)
    return arrays and tables and a.meta == b.meta


def test_second_load_comes_from_the_cache(small_ttl, monkeypatch):
    before = entries()
    built = load_graph(small_ttl)
    (entry,) = entries() - before

    def refuse(*args, **kwargs):
        raise AssertionError("parsed although a cache entry exists")

    monkeypatch.setattr(load_module, "to_ntriples", refuse)  # a successful load now proves the cache answered
    cached = load_graph(small_ttl)
    assert same_graph(built, cached) and cached.source == str(small_ttl)
    assert cached.entity_aliases(cached.entity_by_label("Germany")) == built.entity_aliases(
        built.entity_by_label("Germany")
    )
    assert entry.stat().st_size > 0


def test_changed_bytes_or_options_mean_a_new_entry(small_ttl):
    load_graph(small_ttl)
    before = entries()
    load_graph(small_ttl, language="de")
    small_ttl.write_text(small_ttl.read_text() + "\n# a comment changes the bytes\n")
    load_graph(small_ttl)
    assert len(entries() - before) == 2


def test_corrupt_entry_is_ignored_and_rebuilt(small_ttl):
    before = entries()
    built = load_graph(small_ttl)
    (entry,) = entries() - before
    entry.write_bytes(b"not an npz file")
    rebuilt = load_graph(small_ttl)
    assert same_graph(built, rebuilt)
    assert same_graph(built, load_graph(small_ttl))  # the entry was rewritten and reads back


def test_cache_false_neither_reads_nor_writes(small_ttl):
    before = entries()
    load_graph(small_ttl, cache=False)
    assert entries() == before
