"""kgpeft.cache: keys, manifests, and corrupt entries detected, logged once, deleted and rebuilt."""

from __future__ import annotations

import logging

from kgpeft.cache import MANIFEST, CacheEntry, cache_key


def _write(value: str, folder) -> None:
    (folder / "value.txt").write_text(value)


def _read(folder) -> str:
    return (folder / "value.txt").read_text()


def test_a_whole_entry_loads_and_a_damaged_one_is_rebuilt(caplog):
    entry = CacheEntry("unit", cache_key("unit", 1, {"n": 1}))
    assert entry.load(_read) is None and not entry.exists()
    assert entry.store("hello", _write) == "hello" and (entry.folder / MANIFEST).is_file()
    assert entry.load(_read) == "hello"
    (entry.folder / "value.txt").write_text("hel")  # truncated
    with caplog.at_level(logging.WARNING, logger="kgpeft.cache"):
        assert entry.load(_read) is None
    assert len(caplog.records) == 1 and "corrupt" in caplog.records[0].getMessage()
    assert not entry.exists()  # deleted, so the next store rebuilds it


def test_an_entry_without_a_manifest_is_partial(caplog):
    entry = CacheEntry("unit", cache_key("unit", 1, {"n": 2}))
    entry.store("x", _write)
    (entry.folder / MANIFEST).unlink()
    with caplog.at_level(logging.WARNING, logger="kgpeft.cache"):
        assert entry.load(_read) is None
    assert "no manifest" in caplog.text and not entry.exists()


def test_keys_change_with_the_version_and_the_inputs():
    assert cache_key("k", 1, {"a": 1}) == cache_key("k", 1, {"a": 1})
    assert len({cache_key("k", 1, {"a": 1}), cache_key("k", 2, {"a": 1}), cache_key("k", 1, {"a": 2})}) == 3
