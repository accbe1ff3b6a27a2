"""A compact table of strings: one UTF-8 buffer plus offsets, so a million labels cost a few arrays.

Python strings cost ~50 bytes of overhead each; a knowledge graph holds several per entity
(IRI, label, description, attribute values). Packing them keeps the index small, makes it
two arrays in the on-disk cache, and costs only a slice and a decode per lookup.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence

import numpy as np


class StringTable(Sequence[str]):
    """An immutable sequence of strings stored as one UTF-8 buffer.

    >>> t = StringTable.from_strings(["Paris", "Zürich"])
    >>> t[1], len(t)
    ('Zürich', 2)
    """

    __slots__ = ("buffer", "offsets")

    def __init__(self, buffer: np.ndarray, offsets: np.ndarray) -> None:
        self.buffer = buffer  # uint8, the strings back to back
        self.offsets = offsets  # int64, len(self) + 1; string i is buffer[offsets[i]:offsets[i + 1]]

    @classmethod
    def from_bytes(cls, items: Iterable[bytes], lengths: np.ndarray | None = None) -> StringTable:
        """A table of already-encoded UTF-8 strings (no per-item decoding: the fast path).

        ``lengths``, the items' byte lengths where the caller knows them, saves measuring each.
        """
        if lengths is None:
            items = list(items)
            lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
        return cls.from_joined(np.frombuffer(b"".join(items), dtype=np.uint8), lengths)

    @classmethod
    def from_strings(cls, items: Iterable[str]) -> StringTable:
        items = list(items)
        text = "".join(items)
        if text.isascii():  # one byte per character: encode once, and the lengths are the string lengths
            lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
            return cls.from_joined(np.frombuffer(text.encode("ascii"), dtype=np.uint8), lengths)
        return cls.from_bytes([s.encode("utf-8") for s in items])

    @classmethod
    def from_joined(cls, buffer: np.ndarray, lengths: np.ndarray) -> StringTable:
        """A table of the UTF-8 strings back to back in ``buffer`` (uint8), of byte ``lengths``."""
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(buffer, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def raw(self, index: int) -> bytes:
        return self.buffer[self.offsets[index] : self.offsets[index + 1]].tobytes()

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        return self.raw(index).decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        data = self.buffer.tobytes().decode("utf-8")
        if data.isascii():  # byte offsets are character offsets: slice without decoding each item
            bounds = self.offsets.tolist()
            return (data[a:b] for a, b in itertools.pairwise(bounds))
        return (self[i] for i in range(len(self)))

    @property
    def nbytes(self) -> int:
        return int(self.buffer.nbytes + self.offsets.nbytes)
