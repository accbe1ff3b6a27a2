"""The reference for :func:`kgpeft.kg.triples.split_ntriples`: the same result, written plainly.

Sorted sets of terms and rows, as PyKEEN's ``TriplesFactory`` builds its id maps. The fast
path in :mod:`kgpeft.kg.triples` must give exactly this (the tests compare the two on every
graph they load); read this file to know *what* it computes, and that one for *how fast*.
A whole load with it takes about twice as long (``benchmarks/kg_tricks.py``), which is why it is not the loader.
"""

from __future__ import annotations

import zlib

import numpy as np

from kgpeft.kg.hashing import canonical_blank_nodes
from kgpeft.kg.triples import Triples


def reference_split_ntriples(ntriples: bytes) -> Triples:
    """Intern N-Triples text (one ``S P O .`` per line, as Oxigraph writes it) into a :class:`Triples`.

    >>> t = reference_split_ntriples(b'<http://b> <http://p> <http://a> .\\n<http://a> <http://p> "x" .\\n')
    >>> t.nodes, t.edges.tolist(), t.facts.tolist(), t.literal(0)
    ([b'<http://a>', b'<http://b>'], [[1, 0, 0]], [[0, 0, 0]], b'"x"')
    """
    rows = []
    for line in ntriples.splitlines():
        if not line:
            continue
        subject, predicate, rest = line.split(b" ", 2)
        obj = rest[: -len(b" .")]
        if obj.startswith(b"<<"):  # an RDF 1.2 triple term: not supported, as in the fast path
            continue
        rows.append((subject, predicate, obj))
    rows = _canonical_blank_nodes(rows)

    is_literal = [obj.startswith(b'"') for _, _, obj in rows]
    nodes = sorted({s for s, _, _ in rows} | {o for (_, _, o), lit in zip(rows, is_literal, strict=True) if not lit})
    predicates = sorted({p for _, p, _ in rows})
    node_id = {term: i for i, term in enumerate(nodes)}
    predicate_id = {term: i for i, term in enumerate(predicates)}

    edges = sorted(
        {(node_id[s], predicate_id[p], node_id[o]) for (s, p, o), lit in zip(rows, is_literal, strict=True) if not lit}
    )
    # Literal rows are ordered by node, predicate, then the literal's CRC-32 and bytes: the
    # canonical order that graph hashes were defined with (the CRC keeps the fast path's sort in numpy).
    facts = sorted(
        {(node_id[s], predicate_id[p], o) for (s, p, o), lit in zip(rows, is_literal, strict=True) if lit},
        key=lambda row: (row[0], row[1], zlib.crc32(row[2]), row[2]),
    )
    literal_data = b"\n".join(literal for _, _, literal in facts)
    starts, at = [], 0
    for _, _, literal in facts:
        starts.append(at)
        at += len(literal) + 1
    starts.append(at if facts else 0)
    return Triples(
        nodes=nodes,
        predicates=predicates,
        literal_data=literal_data,
        literal_start=np.array(starts, dtype=np.int64),
        edges=np.array(edges, dtype=np.int64).reshape(-1, 3),
        facts=np.array([(s, p, i) for i, (s, p, _) in enumerate(facts)], dtype=np.int64).reshape(-1, 3),
    )


def _canonical_blank_nodes(rows: list[tuple[bytes, bytes, bytes]]) -> list[tuple[bytes, bytes, bytes]]:
    """Rename blank nodes canonically with the one colour-refinement algorithm both paths share.

    Refinement breaks ties between indistinguishable blank nodes by term order, which is
    order of first use as a subject, else as an object (see ``triples._subjects_first``).
    """
    blank = [term for term in _first_use(rows) if term.startswith(b"_:")]
    if not blank:
        return rows
    terms = _first_use(rows)
    term_id = {term: i for i, term in enumerate(terms)}
    predicates = sorted({p for _, p, _ in rows})
    predicate_id = {term: i for i, term in enumerate(predicates)}
    linked = [(s, p, o) for s, p, o in rows if not o.startswith(b'"')]
    stated = [(s, p, o) for s, p, o in rows if o.startswith(b'"')]

    def ids(column: list[bytes], table: dict[bytes, int]) -> np.ndarray:
        return np.array([table[term] for term in column], dtype=np.int64)

    edges = (ids([s for s, _, _ in linked], term_id), ids([p for _, p, _ in linked], predicate_id),
             ids([o for *_, o in linked], term_id))  # fmt: skip
    facts = (ids([s for s, _, _ in stated], term_id), ids([p for _, p, _ in stated], predicate_id),
             [o for *_, o in stated])  # fmt: skip
    is_blank = np.array([term.startswith(b"_:") for term in terms])
    names = {terms[i]: name for i, name in canonical_blank_nodes(terms, predicates, edges, facts, is_blank).items()}
    return [(names.get(s, s), p, o if o.startswith(b'"') else names.get(o, o)) for s, p, o in rows]


def _first_use(rows: list[tuple[bytes, bytes, bytes]]) -> list[bytes]:
    """Subjects and entity objects, in order of first use as a subject, then of first use as an object."""
    order = dict.fromkeys(s for s, _, _ in rows)
    order.update(dict.fromkeys(o for _, _, o in rows if not o.startswith(b'"')))
    return list(order)
