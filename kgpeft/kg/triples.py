"""N-Triples bytes -> canonical integer tables: the step where the loader's speed is decided.

Per-triple work runs in C: numpy finds the term boundaries in the text, one
``bytes.split`` cuts out every term, ``map`` over ``dict.setdefault`` interns them.
Python-level loops only touch unique terms or the rare triples that need it. Every list
comes out sorted and every row unique, so ids are canonical: the same graph in any
syntax or triple order gives the same ids (see :mod:`kgpeft.kg.hashing`).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from itertools import compress, count

import numpy as np

from kgpeft.kg.hashing import canonical_blank_nodes, content_sha256

logger = logging.getLogger(__name__)

NEWLINE, SPACE, QUOTE, ANGLE, UNDERSCORE = b"\n"[0], b" "[0], b'"'[0], b"<"[0], b"_"[0]
CUT = 0xFF  # a byte that never occurs in UTF-8 text, so it can mark where to split


@dataclass
class Triples:
    """A graph as sorted term lists and sorted unique rows of indices into them.

    ``nodes`` are the IRIs and blank nodes used as subject or object and ``predicates``
    the predicates, in N-Triples form, sorted; ``edges`` rows are (node, predicate, node);
    ``facts`` rows are (node, predicate, i) for the literal triples, whose objects are
    ``literals[i]`` (N-Triples form; the i-th fact has the i-th literal).
    """

    nodes: list[bytes]
    predicates: list[bytes]
    literals: list[bytes]
    edges: np.ndarray  # (n, 3) int64
    facts: np.ndarray  # (m, 3) int64

    def sha256(self) -> str:
        return content_sha256(self.nodes, self.predicates, self.literals, self.edges, self.facts)


def split_ntriples(data: bytes) -> Triples:
    """Intern the terms of N-Triples ``data`` (one ``S P O .`` per line, as Oxigraph writes it).

    >>> t = split_ntriples(b'<http://b> <http://p> <http://a> .\\n<http://a> <http://p> "x" .\\n')
    >>> t.nodes, t.edges.tolist(), t.facts.tolist(), t.literals
    ([b'<http://a>', b'<http://b>'], [[1, 0, 0]], [[0, 0, 0]], [b'"x"'])
    """
    subjects, predicates, objects, kind = _columns(data)
    n = len(subjects)
    is_literal = kind == QUOTE
    entity_object = ~is_literal
    # setdefault with a running counter interns in one C-level pass: a term keeps the
    # number of its first occurrence, made dense below. Literals are not interned: most
    # are unique, and ordering them costs less than a dictionary of them.
    term_ids: dict[bytes, int] = {}
    s = np.fromiter(map(term_ids.setdefault, subjects, count()), dtype=np.int64, count=n)
    edge_objects = compress(objects, entity_object.tolist())
    o = np.fromiter(map(term_ids.setdefault, edge_objects, count(n)), dtype=np.int64, count=n - int(is_literal.sum()))
    predicate_ids: dict[bytes, int] = {}
    p = np.fromiter(map(predicate_ids.setdefault, predicates, count()), dtype=np.int64, count=n)
    literals = list(compress(objects, is_literal.tolist()))
    del subjects, predicates, objects
    terms, s, o = _densify(term_ids, s, o)
    predicate_terms, p = _densify(predicate_ids, p)
    edge_s, edge_p, fact_s, fact_p = s[entity_object], p[entity_object], s[is_literal], p[is_literal]

    first = np.frombuffer(bytes(term[0] for term in terms), dtype=np.uint8)
    is_blank = first == UNDERSCORE
    if is_blank.any():
        names = canonical_blank_nodes(terms, predicate_terms, (edge_s, edge_p, o), (fact_s, fact_p, literals), is_blank)
        for index, name in names.items():
            terms[index] = name

    node_rank, nodes = _sorted_ranks(terms)
    predicate_rank, predicate_list = _sorted_ranks(predicate_terms)
    edges = _unique_rows(node_rank[edge_s], predicate_rank[edge_p], node_rank[o])
    facts, literals = _sorted_facts(node_rank[fact_s], predicate_rank[fact_p], literals)
    return Triples(nodes, predicate_list, literals, edges, facts)


def _columns(data: bytes) -> tuple[list[bytes], list[bytes], list[bytes], np.ndarray]:
    """Subjects, predicates and objects of the lines of ``data``, and each object's first byte.

    Subjects and predicates contain no spaces in N-Triples, so the first two spaces of a
    line end them; the object runs to the `` .`` before the newline (literals escape their
    newlines). Marking those places with :data:`CUT` lets one ``split`` cut every term.
    """
    marked = bytearray(data)
    text = np.frombuffer(marked, dtype=np.uint8)  # a writable view: marking needs no second copy
    ends = np.flatnonzero(text == NEWLINE)
    if ends.size == 0:
        return [], [], [], np.zeros(0, dtype=np.uint8)
    spaces = np.flatnonzero(text == SPACE)
    first = np.searchsorted(spaces, np.r_[0, ends[:-1] + 1])  # the first space of each line
    subject_end, predicate_end = spaces[first], spaces[first + 1]
    kind = text[predicate_end + 1]  # copies: read before marking
    quoted = (kind == ANGLE) & (text[predicate_end + 2] == ANGLE)  # an RDF 1.2 triple term <<( s p o )>>
    text[subject_end] = text[predicate_end] = CUT
    text[ends - 2] = text[ends - 1] = text[ends] = CUT  # the " .\n" after the object
    del text  # a bytearray cannot be resized while a view exports it
    fields = bytes(marked).split(bytes([CUT]))  # S, P, O, "", "" for each line, then one last ""
    end = 5 * len(ends)
    subjects, predicates, objects = fields[0:end:5], fields[1:end:5], fields[2:end:5]
    if quoted.any():
        logger.warning("skipped %d triples whose object is an RDF 1.2 triple term (not supported)", quoted.sum())
        keep = (~quoted).tolist()
        subjects, predicates, objects = (list(compress(c, keep)) for c in (subjects, predicates, objects))
        kind = kind[~quoted]
    return subjects, predicates, objects, kind


def _densify(ids: dict[bytes, int], *columns: np.ndarray) -> tuple[list[bytes], ...]:
    """Terms in first-occurrence order, and the columns renumbered 0..len(terms)-1."""
    terms = list(ids)
    if not terms:
        return (terms, *columns)
    first_seen = np.fromiter(ids.values(), dtype=np.int64, count=len(terms))
    dense = np.empty(int(first_seen.max()) + 1, dtype=np.int64)
    dense[first_seen] = np.arange(len(terms))
    return (terms, *(dense[c] for c in columns))


def _sorted_ranks(terms: list[bytes]) -> tuple[np.ndarray, list[bytes]]:
    """Each term's rank in byte order, and the sorted list."""
    order = sorted(range(len(terms)), key=terms.__getitem__)
    rank = np.empty(len(terms), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank, [terms[i] for i in order]


def lexsort(*columns: np.ndarray) -> np.ndarray:
    """The order sorting rows by ``columns`` (first column first), of non-negative integers.

    One int64 key packed from all columns sorts several times faster than ``np.lexsort``;
    the packing is used whenever it cannot overflow.
    """
    if not len(columns[0]):
        return np.zeros(0, dtype=np.int64)
    bounds = [int(c.max()) + 1 for c in columns]
    if np.prod(bounds, dtype=float) >= 2**62:
        return np.lexsort(columns[::-1])
    key = columns[0].astype(np.int64)
    for column, bound in zip(columns[1:], bounds[1:], strict=True):
        key = key * bound + column
    return np.argsort(key, kind="stable")


def _unique_rows(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Rows (a, b, c) sorted lexicographically with duplicates (repeated triples) removed."""
    order = lexsort(a, b, c)
    rows = np.stack([a[order], b[order], c[order]], axis=1)
    if len(rows) > 1:
        rows = rows[np.r_[True, np.any(rows[1:] != rows[:-1], axis=1)]]
    return rows


def _sorted_facts(s: np.ndarray, p: np.ndarray, literals: list[bytes]) -> tuple[np.ndarray, list[bytes]]:
    """Literal triples in canonical order, (node, predicate, literal bytes), without repeats.

    Sorting by the literal's CRC-32 instead of its bytes keeps the sort in numpy; the rows
    whose (node, predicate, CRC) tie, repeats mostly, are settled by their bytes.
    """
    crc = np.fromiter(map(zlib.crc32, literals), dtype=np.int64, count=len(literals))
    order = lexsort(s, p, crc)
    s, p, crc = s[order], p[order], crc[order]
    literals = [literals[i] for i in order.tolist()]
    tied = np.flatnonzero((s[1:] == s[:-1]) & (p[1:] == p[:-1]) & (crc[1:] == crc[:-1]))
    keep = np.ones(len(literals), dtype=bool)
    if tied.size:  # each run of consecutive ties is one group of rows, sorted here by bytes
        breaks = np.flatnonzero(np.diff(tied) != 1)
        for a, b in zip(
            tied[np.r_[0, breaks + 1]].tolist(), (tied[np.r_[breaks, len(tied) - 1]] + 2).tolist(), strict=True
        ):
            literals[a:b] = run = sorted(literals[a:b])
            keep[a + 1 : b] = [run[i] != run[i - 1] for i in range(1, len(run))]
    rows = np.stack([s, p, np.zeros_like(s)], axis=1)[keep]
    literals = list(compress(literals, keep.tolist()))
    rows[:, 2] = np.arange(len(rows))
    return rows, literals
