"""Canonical blank-node names and the graph's content hash.

The hash identifies a graph, not a file: the same triples in any order and any syntax
hash alike, so an adapter trained on ``countries.ttl`` recognises ``countries.nt``.
Entity ids are ranks in the same canonical order, so equal hashes also mean equal ids.

Blank nodes have no global name (parsers invent one per load), so each gets a name
derived from its surroundings: colour refinement (the 1-dimensional Weisfeiler-Leman
test) over the triples touching blank nodes, starting from their IRI/literal neighbours.
Limits: blank nodes that refinement cannot tell apart (e.g. two blank nodes with the very
same triples, or symmetric structures of blank nodes only) are numbered in file order,
so for such graphs the hash can depend on the order of the triples. Graphs with no blank
nodes, or whose blank nodes are distinguished by what they link to, hash canonically.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np

FORMAT = b"kgpeft-graph-hash-v1\n"
MAX_ROUNDS = 64  # refinement stops earlier as soon as no class splits further


def canonical_blank_nodes(
    terms: list[bytes],
    predicates: list[bytes],
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    facts: tuple[np.ndarray, np.ndarray, list[bytes]],
    is_blank: np.ndarray,
) -> dict[int, bytes]:
    """Canonical ``_:`` names for the blank terms among ``terms`` (keyed by term index).

    ``edges`` are (subject, predicate, object) index arrays into ``terms`` / ``predicates``;
    ``facts`` are (subject, predicate) index arrays and the literal objects.

    >>> terms, p = [b"<http://a>", b"_:x"], [b"<http://p>"]
    >>> edges = (np.array([0]), np.array([0]), np.array([1]))
    >>> names = canonical_blank_nodes(terms, p, edges, (np.array([], int), np.array([], int), []), np.array([False, True]))
    >>> names[1][:3], len(names[1])
    (b'_:c', 34)
    """
    blanks = np.flatnonzero(is_blank).tolist()
    s, p, o = edges
    touching = np.flatnonzero(is_blank[s] | is_blank[o])
    rows = list(zip(s[touching].tolist(), p[touching].tolist(), o[touching].tolist(), strict=True))
    fact_s, fact_p, literals = facts
    fixed: dict[int, list[bytes]] = defaultdict(list)  # what never changes: a blank node's literals
    for i in np.flatnonzero(is_blank[fact_s]).tolist():
        fixed[int(fact_s[i])].append(b">" + predicates[fact_p[i]] + b" " + literals[i])
    colour = dict.fromkeys(blanks, b"")
    classes = 1
    for _ in range(MAX_ROUNDS):
        signature = {b: list(fixed.get(b, ())) for b in blanks}
        for si, pi, oi in rows:
            if oi in colour:
                signature[oi].append(b"<" + predicates[pi] + b" " + colour.get(si, terms[si]))
            if si in colour:
                signature[si].append(b">" + predicates[pi] + b" " + colour.get(oi, terms[oi]))
        colour = {b: hashlib.sha256(colour[b] + b"\n" + b"\n".join(sorted(signature[b]))).digest() for b in blanks}
        refined = len(set(colour.values()))
        if refined == classes:
            break
        classes = refined
    names: dict[int, bytes] = {}
    seen: dict[bytes, int] = defaultdict(int)
    for b in blanks:  # file order decides among blank nodes refinement cannot tell apart
        seen[colour[b]] += 1
        suffix = b"" if seen[colour[b]] == 1 else b"_%d" % seen[colour[b]]
        names[b] = b"_:c" + colour[b].hex()[:31].encode() + suffix
    return names


def content_sha256(
    nodes: list[bytes], predicates: list[bytes], literals: list[bytes], edges: np.ndarray, facts: np.ndarray
) -> str:
    """sha256 of a graph given as sorted term lists and sorted unique rows of ranks into them.

    ``facts`` rows are (node, predicate, i) with object ``literals[i]``, in canonical order.
    N-Triples terms hold no raw newline, so joining them with newlines is unambiguous, and
    the rows are fixed-width little-endian integers: the bytes hashed determine the graph.

    >>> content_sha256([b"<http://a>"], [], [], np.zeros((0, 3), np.int64), np.zeros((0, 3), np.int64))[:12]
    '7f112559c851'
    """
    digest = hashlib.sha256(FORMAT)
    for name, items in ((b"nodes", nodes), (b"predicates", predicates), (b"literals", literals)):
        digest.update(b"%s %d\n" % (name, len(items)))
        digest.update(b"\n".join(items))
        digest.update(b"\n")
    for name, rows in ((b"edges", edges), (b"facts", facts[:, :2])):
        digest.update(b"%s %d\n" % (name, len(rows)))
        digest.update(np.ascontiguousarray(rows, dtype="<i8").tobytes())
    return digest.hexdigest()
