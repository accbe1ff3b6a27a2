"""N-Triples text -> canonical integer tables: the step where the loader's speed is decided.

What it computes is :func:`kgpeft.kg.reference.reference_split_ntriples` (sorted sets; the
tests compare the two byte for byte). How, and what each trick measured in
``benchmarks/kg_tricks.py`` (a whole ``load_graph`` of 307k triples, CPU time, 2026-12-03):

- per-triple work in C: numpy finds term boundaries and marks them in place, one
  ``bytes.split`` cuts out every term, ``map`` over a numbering ``defaultdict`` interns them
  (the whole fast path against the reference: 1.96x-2.65x);
- a cache-sized chunk of text at a time (:data:`CHUNK_BYTES`), so terms are interned while
  they are in the CPU cache and dead repeats' memory is reused (1.01x-1.38x, median 1.14x);
- rows sorted as packed int64 keys rather than with ``np.lexsort`` (0.97x-1.20x, median
  1.06x: the smallest gain kept; it also serves the index build);
- CRC-32s only for literal rows that share their (node, predicate), the only rows whose
  order they decide (one call each).

Python-level loops only touch unique terms or the rare triples that need it. Every list
comes out sorted and every row unique, so ids are canonical: the same graph in any syntax
or triple order gives the same ids (see :mod:`kgpeft.kg.hashing`).
"""

from __future__ import annotations

import io
import logging
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import compress, count

import numpy as np

from kgpeft.kg.hashing import canonical_blank_nodes, content_sha256

logger = logging.getLogger(__name__)

NEWLINE, SPACE, QUOTE, ANGLE, UNDERSCORE = b"\n"[0], b" "[0], b'"'[0], b"<"[0], b"_"[0]
CUT = 0xFF  # a byte that never occurs in UTF-8 text, so it can mark where to split
CHUNK_BYTES = 1 << 18  # text cut and interned at a time: small enough that its terms stay in the CPU cache
KEY_LIMIT = 2**62  # packed row keys stay below this: inside int64, with room for the float bound check


@dataclass
class Triples:
    """A graph as sorted term lists and sorted unique rows of indices into them.

    ``nodes`` are the IRIs and blank nodes used as subject or object and ``predicates``
    the predicates, in N-Triples form, sorted; ``edges`` rows are (node, predicate, node);
    ``facts`` rows are (node, predicate, i) for the literal triples, whose objects are
    ``literal(i)`` (N-Triples form; the i-th fact has the i-th literal). The literals are
    kept joined by newlines (N-Triples literals hold none) in ``literal_data``: the form
    that is hashed, and that numpy reads all literals from at once. ``literal_start[i]``
    is where the i-th starts in it, and the last entry is ``len(literal_data) + 1``, as if
    a newline ended the text: the i-th literal ends one byte before the next one starts.
    """

    nodes: list[bytes]
    predicates: list[bytes]
    literal_data: bytes
    literal_start: np.ndarray  # (m + 1,) int64
    edges: np.ndarray  # (n, 3) int64
    facts: np.ndarray  # (m, 3) int64

    def literal(self, i: int) -> bytes:
        return self.literal_data[self.literal_start[i] : self.literal_start[i + 1] - 1]

    def sha256(self) -> str:
        return content_sha256(self.nodes, self.predicates, self.literal_data, self.edges, self.facts)


@dataclass
class _Interned:
    """The terms of each line as ids (see :func:`_intern`)."""

    terms: list[bytes]  # subjects and entity objects, in order of first occurrence
    predicates: list[bytes]  # in order of first occurrence
    s: np.ndarray  # (n,) int64: each line's subject, an index into terms
    p: np.ndarray  # (n,) int64: each line's predicate, an index into predicates
    o: np.ndarray  # (e,) int64: each entity object, in line order, an index into terms
    literals: list[bytes]  # the literal objects, in line order
    subject_kind: np.ndarray  # (n,) uint8: the subject's first byte: "<" for an IRI, "_" for a blank node
    object_kind: np.ndarray  # (n,) uint8: the object's first byte: also '"' for a literal


def split_ntriples(ntriples: io.BytesIO) -> Triples:
    """Intern the terms of N-Triples text (one ``S P O .`` per line, as Oxigraph writes it).

    Consumes ``ntriples``: term boundaries are marked in its buffer.

    >>> t = split_ntriples(io.BytesIO(b'<http://b> <http://p> <http://a> .\\n<http://a> <http://p> "x" .\\n'))
    >>> t.nodes, t.edges.tolist(), t.facts.tolist(), t.literal(0)
    ([b'<http://a>', b'<http://b>'], [[1, 0, 0]], [[0, 0, 0]], b'"x"')
    """
    lines = _intern(np.frombuffer(ntriples.getbuffer(), dtype=np.uint8))  # writable: shares the buffer's memory
    is_literal = lines.object_kind == QUOTE
    entity_object = ~is_literal
    terms, s, p, o, literals = lines.terms, lines.s, lines.p, lines.o, lines.literals

    is_blank = np.zeros(len(terms), dtype=bool)
    is_blank[s[lines.subject_kind == UNDERSCORE]] = is_blank[o[lines.object_kind[entity_object] == UNDERSCORE]] = True
    if is_blank.any():
        terms, is_blank, s, o = _subjects_first(terms, is_blank, s, o)
        linked, stated = (s[entity_object], p[entity_object], o), (s[is_literal], p[is_literal], literals)
        for index, name in canonical_blank_nodes(terms, lines.predicates, linked, stated, is_blank).items():
            terms[index] = name

    node_rank, nodes = _sorted_ranks(terms)
    predicate_rank, predicate_list = _sorted_ranks(lines.predicates)
    s, p = node_rank[s], predicate_rank[p]
    edges = np.stack(unique_rows(s[entity_object], p[entity_object], node_rank[o]), axis=1)
    facts, literal_order = _sorted_facts(s[is_literal], p[is_literal], literals)
    literal_data = b"\n".join(map(literals.__getitem__, literal_order.tolist()))
    newlines = np.flatnonzero(np.frombuffer(literal_data, dtype=np.uint8) == NEWLINE)
    literal_start = np.r_[0, newlines + 1, len(literal_data) + 1] if len(literal_order) else np.zeros(1, np.int64)
    return Triples(nodes, predicate_list, literal_data, literal_start, edges, facts)


def _intern(text: np.ndarray) -> _Interned:
    """Cut N-Triples ``text`` (writable: it is marked in place) into terms and intern them.

    A ``defaultdict`` that numbers each new key interns in one C-level pass (``map`` over
    its ``__getitem__``): a term's id is its rank in order of first occurrence. Literals are
    not interned: most are unique, and ordering them costs less than a dictionary of them.

    The text is streamed through a chunk of lines at a time: found, marked, cut and
    interned while it is in the CPU cache; and the memory of the terms that die
    (repeats) is reused by the next chunk, instead of a whole file's worth of short-lived
    bytes objects taking fresh memory (page faults would cost as much as the cutting).
    """
    term_ids: dict[bytes, int] = defaultdict(count().__next__)  # a new term gets the next id
    predicate_ids: dict[bytes, int] = defaultdict(count().__next__)
    literals: list[bytes] = []
    no_ids, no_kinds = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)  # so that no lines concatenate too
    s_chunks, p_chunks, o_chunks = [no_ids], [no_ids], [no_ids]
    subject_kinds, object_kinds = [no_kinds], [no_kinds]
    skipped, at, window = 0, 0, CHUNK_BYTES
    while at < len(text):
        used, subject_kind, object_kind, keep = _mark_lines(text[at : at + window])
        if not used:  # no whole line in the window: widen it (the text ends with a newline)
            if at + window >= len(text):
                break
            window *= 2
            continue
        fields = text[at : at + used].tobytes().split(bytes([CUT]))  # S, P, O, "", "" per line
        at, window = at + used, CHUNK_BYTES
        subjects, predicates, objects = (fields[k : 5 * len(keep) : 5] for k in range(3))
        if not keep.all():  # rare: drop the lines of unsupported triple terms
            skipped += len(keep) - int(keep.sum())
            subjects, predicates, objects = (list(compress(c, keep.tolist())) for c in (subjects, predicates, objects))
            subject_kind, object_kind = subject_kind[keep], object_kind[keep]
        is_literal = object_kind == QUOTE
        s_chunks.append(_ids(term_ids, subjects, len(subjects)))
        p_chunks.append(_ids(predicate_ids, predicates, len(subjects)))
        entity_objects = compress(objects, (~is_literal).tolist())
        o_chunks.append(_ids(term_ids, entity_objects, len(subjects) - int(is_literal.sum())))
        literals += compress(objects, is_literal.tolist())
        subject_kinds.append(subject_kind)
        object_kinds.append(object_kind)
    if skipped:
        logger.warning("skipped %d triples whose object is an RDF 1.2 triple term (not supported)", skipped)
    s, p, o = np.concatenate(s_chunks), np.concatenate(p_chunks), np.concatenate(o_chunks)
    subject_kind, object_kind = np.concatenate(subject_kinds), np.concatenate(object_kinds)
    return _Interned(list(term_ids), list(predicate_ids), s, p, o, literals, subject_kind, object_kind)


def _mark_lines(part: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Put :data:`CUT` after each term of the whole lines at the start of ``part``, so that
    ``split`` cuts the terms out.

    Returns the bytes those lines take (0 if none), and per line the first byte of the subject
    and of the object, and whether to keep the line (not when its object is an RDF 1.2 triple
    term). Subjects and predicates contain no spaces (nor any byte below one) in N-Triples, so
    the first two spaces of a line end them; the object runs to the `` .`` before the newline
    (literals escape their newlines).
    """
    breaks = np.flatnonzero(part <= SPACE)  # one pass finds the newlines and the spaces
    newline = np.flatnonzero(part[breaks] == NEWLINE)
    if not newline.size:
        nothing = np.zeros(0, dtype=np.uint8)
        return 0, nothing, nothing, nothing.astype(bool)
    end = breaks[newline]
    first_space = np.r_[0, newline[:-1] + 1]  # each line's, as an index into breaks
    subject_end, predicate_end = breaks[first_space], breaks[first_space + 1]
    subject_kind, object_kind = part[np.r_[0, end[:-1] + 1]], part[predicate_end + 1]  # copies: read before marking
    keep = (object_kind != ANGLE) | (part[predicate_end + 2] != ANGLE)  # not a triple term <<( s p o )>>
    part[subject_end] = part[predicate_end] = CUT
    part[end - 2] = part[end - 1] = part[end] = CUT  # the " .\n" after the object
    return int(end[-1]) + 1, subject_kind, object_kind, keep


def _ids(ids: dict[bytes, int], terms: Iterable[bytes], size: int) -> np.ndarray:
    """The ids of ``size`` terms, from a ``defaultdict`` that gives each new term the next id."""
    return np.fromiter(map(ids.__getitem__, terms), dtype=np.int64, count=size)


def _subjects_first(
    terms: list[bytes], is_blank: np.ndarray, s: np.ndarray, o: np.ndarray
) -> tuple[list[bytes], np.ndarray, np.ndarray, np.ndarray]:
    """``terms`` (with ``is_blank`` and the ids in ``s``, ``o``) in order of first use as a
    subject, else as an object.

    Chunked interning numbers a term by its first use in either place. Blank nodes that
    colour refinement cannot tell apart are numbered in term order, and so keep the
    order they had when every subject was interned before any object.
    """
    first_use = np.full(len(terms), len(s) + len(o), dtype=np.int64)
    np.minimum.at(first_use, o, len(s) + np.arange(len(o)))
    np.minimum.at(first_use, s, np.arange(len(s)))
    order = np.argsort(first_use)  # distinct keys: no ties
    new_id = np.empty_like(order)
    new_id[order] = np.arange(len(order))
    return list(map(terms.__getitem__, order.tolist())), is_blank[order], new_id[s], new_id[o]


def _sorted_ranks(terms: list[bytes]) -> tuple[np.ndarray, list[bytes]]:
    """Each term's rank in byte order, and the sorted list."""
    order = sorted(range(len(terms)), key=terms.__getitem__)
    rank = np.empty(len(terms), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank, list(map(terms.__getitem__, order))


def _packing(columns: tuple[np.ndarray, ...]) -> list[int] | None:
    """Each column's bound (max + 1) if rows of ``columns`` pack into one int64 key, else None."""
    bounds = [int(c.max()) + 1 for c in columns]
    return bounds if np.prod(bounds, dtype=float) < KEY_LIMIT else None


def _pack(columns: tuple[np.ndarray, ...], bounds: list[int]) -> np.ndarray:
    key = columns[0].astype(np.int64)
    for column, bound in zip(columns[1:], bounds[1:], strict=True):
        key = key * bound + column
    return key


def lexsort(*columns: np.ndarray) -> np.ndarray:
    """The order sorting rows by ``columns`` (first column first), of non-negative integers.

    Equal rows come in no particular order: every caller's rows are unique or interchangeable.
    One int64 key packed from all columns, argsorted by numpy's default (SIMD) sort, is several
    times faster than ``np.lexsort`` or a stable sort; the packing is used whenever it cannot
    overflow.
    """
    if not len(columns[0]):
        return np.zeros(0, dtype=np.int64)
    bounds = _packing(columns)
    return np.argsort(_pack(columns, bounds)) if bounds else np.lexsort(columns[::-1])


def unique_rows(*columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """The distinct rows of ``columns`` (non-negative integers), sorted, as columns again.

    Sorting the packed keys themselves and unpacking them is faster still than ``lexsort``:
    no argsort, no gathers.

    >>> [c.tolist() for c in unique_rows(np.array([1, 0, 1]), np.array([5, 7, 5]))]
    [[0, 1], [7, 5]]
    """
    if not len(columns[0]):
        return tuple(c.astype(np.int64) for c in columns)
    bounds = _packing(columns)
    if bounds is None:
        order = np.lexsort(columns[::-1])
        rows = np.stack([c[order] for c in columns], axis=1)
        rows = rows[np.r_[True, np.any(rows[1:] != rows[:-1], axis=1)]]
        return tuple(rows.T)
    key = np.sort(_pack(columns, bounds))
    key = key[np.r_[True, key[1:] != key[:-1]]]
    unpacked = []
    for bound in bounds[:0:-1]:  # the last column is the lowest "digit" of the key
        key, column = np.divmod(key, bound)
        unpacked.append(column)
    return (key, *unpacked[::-1])


def _sorted_facts(s: np.ndarray, p: np.ndarray, literals: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Literal triples in canonical order, (node, predicate, literal bytes), without repeats:
    the fact rows, and which of ``literals`` each row's object is.

    Rows that share their (node, predicate) are ordered by the literal's CRC-32, which keeps
    the sort in numpy, and the rows whose CRC ties too, repeats mostly, by their bytes. The
    CRCs are taken only for those rows: each costs a call, and most properties have one
    value per node.
    """
    order = lexsort(s, p)
    s, p = s[order], p[order]
    same = (s[1:] == s[:-1]) & (p[1:] == p[:-1])  # (m - 1,) row i + 1 has row i's pair
    if not same.any():
        return np.stack([s, p, np.arange(len(s))], axis=1), order
    shared = np.flatnonzero(np.r_[same, False] | np.r_[False, same])
    crc = np.zeros(len(order), dtype=np.int64)
    crc[shared] = np.fromiter(map(zlib.crc32, map(literals.__getitem__, order[shared].tolist())), np.int64, len(shared))
    pair = np.cumsum(np.r_[True, ~same])  # (m,) each row's pair, numbered in order
    by_crc = lexsort(pair[shared], crc[shared])
    order[shared], crc[shared] = order[shared][by_crc], crc[shared][by_crc]
    tied = np.flatnonzero(same & (crc[1:] == crc[:-1]))
    if tied.size:  # each run of consecutive ties is one group of rows, sorted here by bytes
        keep = np.ones(len(order), dtype=bool)
        breaks = np.flatnonzero(np.diff(tied) != 1)
        for a, b in zip(
            tied[np.r_[0, breaks + 1]].tolist(), (tied[np.r_[breaks, len(tied) - 1]] + 2).tolist(), strict=True
        ):
            order[a:b] = run = sorted(order[a:b].tolist(), key=literals.__getitem__)
            keep[a + 1 : b] = [literals[run[i]] != literals[run[i - 1]] for i in range(1, len(run))]
        s, p, order = s[keep], p[keep], order[keep]
    return np.stack([s, p, np.arange(len(s))], axis=1), order
