"""N-Triples bytes -> canonical integer tables: the step where the loader's speed is decided.

Per-triple work runs in C (``bytes.split``, ``map`` over ``dict.setdefault``, numpy);
Python-level loops only touch unique terms or the few triples that need reading (labels).
Every list comes out sorted and every row unique, so ids are canonical: the same graph in
any syntax or triple order gives the same ids (see :mod:`kgpeft.kg.hashing`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import count, repeat
from operator import itemgetter

import numpy as np

from kgpeft.kg.hashing import canonical_blank_nodes, content_sha256

logger = logging.getLogger(__name__)

QUOTE, UNDERSCORE = ord('"'), ord("_")


@dataclass
class Triples:
    """A graph as sorted term lists and sorted unique rows of indices into them.

    ``nodes`` are the IRIs and blank nodes used as subject or object, ``literals`` the
    literal objects (all in N-Triples form); ``edges`` rows are (node, predicate, node),
    ``facts`` rows are (node, predicate, literal).
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
    >>> t.nodes, t.edges.tolist(), t.facts.tolist()
    ([b'<http://a>', b'<http://b>'], [[1, 0, 0]], [[0, 0, 0]])
    """
    lines = data.split(b" .\n")
    lines.pop()  # the empty remainder after the last line
    n = len(lines)
    if n == 0:
        empty = np.zeros((0, 3), dtype=np.int64)
        return Triples([], [], [], empty, empty)
    # Subjects and predicates contain no spaces in N-Triples; the object is the rest.
    subjects, predicates, objects = zip(*map(bytes.split, lines, repeat(b" "), repeat(2)), strict=True)
    del lines
    # setdefault with a running counter interns in one C-level pass: a term keeps the
    # number of its first occurrence, made dense below.
    term_ids: dict[bytes, int] = {}
    s = np.fromiter(map(term_ids.setdefault, subjects, count()), dtype=np.int64, count=n)
    o = np.fromiter(map(term_ids.setdefault, objects, count(n)), dtype=np.int64, count=n)
    predicate_ids: dict[bytes, int] = {}
    p = np.fromiter(map(predicate_ids.setdefault, predicates, count()), dtype=np.int64, count=n)
    del subjects, predicates, objects
    terms, s, o = _densify(term_ids, s, o)
    predicate_terms, p = _densify(predicate_ids, p)

    first = np.frombuffer(bytes(map(itemgetter(0), terms)), dtype=np.uint8)
    is_literal = first == QUOTE
    is_blank = first == UNDERSCORE
    if is_blank.any():
        for index, name in canonical_blank_nodes(terms, predicate_terms, s, p, o, is_blank).items():
            terms[index] = name
    if b"<<" in data:  # RDF 1.2 triple terms: rare, so looked for only when the text has any
        keep = _triple_term_free(terms, first, s, o)
        s, p, o = s[keep], p[keep], o[keep]

    node_rank, nodes = _sorted_ranks(terms, ~is_literal)
    literal_rank, literals = _sorted_ranks(terms, is_literal)
    predicate_rank, predicate_list = _sorted_ranks(predicate_terms, np.ones(len(predicate_terms), dtype=bool))
    fact = is_literal[o]
    edges = _unique_rows(node_rank[s[~fact]], predicate_rank[p[~fact]], node_rank[o[~fact]])
    facts = _unique_rows(node_rank[s[fact]], predicate_rank[p[fact]], literal_rank[o[fact]])
    return Triples(nodes, predicate_list, literals, edges, facts)


def _densify(ids: dict[bytes, int], *columns: np.ndarray) -> tuple[list[bytes], ...]:
    """Terms in first-occurrence order, and the columns renumbered 0..len(terms)-1."""
    terms = list(ids)
    first_seen = np.fromiter(ids.values(), dtype=np.int64, count=len(terms))
    dense = np.empty(int(first_seen.max()) + 1, dtype=np.int64)
    dense[first_seen] = np.arange(len(terms))
    return (terms, *(dense[c] for c in columns))


def _sorted_ranks(terms: list[bytes], mask: np.ndarray) -> tuple[np.ndarray, list[bytes]]:
    """For the terms selected by ``mask``: each one's rank in byte order, and the sorted list."""
    chosen = sorted(np.flatnonzero(mask).tolist(), key=terms.__getitem__)
    rank = np.full(len(terms), -1, dtype=np.int64)
    rank[chosen] = np.arange(len(chosen))
    return rank, [terms[i] for i in chosen]


def _unique_rows(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Rows (a, b, c) sorted lexicographically with duplicates (repeated triples) removed."""
    order = np.lexsort((c, b, a))
    rows = np.stack([a[order], b[order], c[order]], axis=1)
    if len(rows) > 1:
        rows = rows[np.r_[True, np.any(rows[1:] != rows[:-1], axis=1)]]
    return rows


def _triple_term_free(terms: list[bytes], first: np.ndarray, s: np.ndarray, o: np.ndarray) -> np.ndarray:
    """Which triples hold no RDF 1.2 triple term (``<<( s p o )>>``): those are not entities, so skipped."""
    angled = np.flatnonzero(first == ord("<"))
    quoted = np.zeros(len(terms), dtype=bool)
    quoted[angled] = [terms[i].startswith(b"<<") for i in angled.tolist()]
    keep = ~(quoted[s] | quoted[o])
    if not keep.all():
        logger.warning("skipped %d triples with RDF 1.2 triple terms (not supported)", int((~keep).sum()))
    return keep
