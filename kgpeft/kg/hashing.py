"""Canonical blank-node names and the graph's content hash.

The hash identifies a graph, not a file: the same triples in any order and any syntax
hash alike, so an adapter trained on ``countries.ttl`` recognises ``countries.nt``.
Entity ids are ranks in the same canonical order, so equal hashes also mean equal ids.

Blank nodes have no global name (parsers invent one per load), so each gets a name
derived from its surroundings: colour refinement (the 1-dimensional Weisfeiler-Leman
test) over the triples touching blank nodes, starting from their IRI/literal neighbours.
Limits: blank nodes that refinement cannot tell apart (e.g. two blank nodes with the very
same triples, or symmetric structures of blank nodes only) are numbered in file order,
so for such graphs the hash can depend on the order of the triples; so can, with odds of
about n^2 / 2^64 for n blank nodes, two blank nodes whose 64-bit colours collide. Graphs
with no blank nodes, or whose blank nodes are told apart by what they link to, hash
canonically.
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
    ``facts`` are (subject, predicate) index arrays and the literal objects. A colour is a
    64-bit hash; a node's next colour hashes its colour with the *sum* of its neighbour
    entries' hashes (a multiset hash: no sorting), all in numpy.

    >>> terms, p = [b"<http://a>", b"_:x"], [b"<http://p>"]
    >>> edges = (np.array([0]), np.array([0]), np.array([1]))
    >>> names = canonical_blank_nodes(terms, p, edges, (np.array([], int), np.array([], int), []), np.array([False, True]))
    >>> names[1][:3], len(names[1])
    (b'_:c', 19)
    """
    s, p, o = edges
    fact_s, fact_p, literals = facts
    # Every (blank node, direction, predicate, neighbour) entry: in-links, out-links, literals.
    into, out_of, described = is_blank[o], is_blank[s], np.flatnonzero(is_blank[fact_s])
    owner = np.concatenate([o[into], s[out_of], fact_s[described]])
    via = _mix(np.concatenate([_digests(predicates)[p[into]] ^ 1, _digests(predicates)[p[out_of]] ^ 2,
                               _digests(predicates)[fact_p[described]] ^ 3]))  # fmt: skip
    neighbour = np.concatenate([s[into], o[out_of], np.full(len(described), -1)])
    fixed = np.zeros(len(owner), dtype=np.uint64)  # the hash of a neighbour that is no blank node
    is_term = neighbour >= 0
    is_term[is_term] = ~is_blank[neighbour[is_term]]
    wanted = np.unique(neighbour[is_term])
    term_digest = np.zeros(len(terms), dtype=np.uint64)
    term_digest[wanted] = _digests([terms[i] for i in wanted.tolist()])
    fixed[is_term] = term_digest[neighbour[is_term]]
    fixed[len(owner) - len(described) :] = _digests([literals[i] for i in described.tolist()])
    linked = neighbour >= 0
    linked[linked] = is_blank[neighbour[linked]]  # entries whose neighbour's colour is being refined

    order = np.argsort(owner, kind="stable")
    owner, via, neighbour, fixed, linked = owner[order], via[order], neighbour[order], fixed[order], linked[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else owner
    colour = np.zeros(len(terms), dtype=np.uint64)  # only blank nodes' entries are used
    blanks = np.flatnonzero(is_blank)
    classes = 1
    with np.errstate(over="ignore"):
        for _ in range(MAX_ROUNDS):
            value = np.where(linked, colour[np.maximum(neighbour, 0)] ^ np.uint64(0x9E3779B97F4A7C15), fixed)
            total = np.zeros(len(terms), dtype=np.uint64)
            if len(owner):
                total[owner[starts]] = np.add.reduceat(_mix(via + value), starts)
            colour[blanks] = _mix(_mix(colour[blanks]) + total[blanks])
            refined = len(np.unique(colour[blanks]))
            # Stop when no class split, when every blank node is told apart, or when no blank
            # node links to another (then the first round saw everything there is to see).
            if refined in (classes, len(blanks)) or not linked.any():
                break
            classes = refined
    names: dict[int, bytes] = {}
    seen: dict[int, int] = defaultdict(int)
    for b, c in zip(blanks.tolist(), colour[blanks].tolist(), strict=True):  # file order breaks ties
        seen[c] += 1
        names[b] = b"_:c%016x" % c + (b"" if seen[c] == 1 else b"_%d" % seen[c])
    return names


def _digests(items: list[bytes]) -> np.ndarray:
    """A stable 64-bit digest of each item (BLAKE2b; Python's hash() changes between runs)."""
    digest = b"".join(hashlib.blake2b(item, digest_size=8).digest() for item in items)
    return np.frombuffer(digest, dtype="<u8").copy() if items else np.zeros(0, dtype=np.uint64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the whole 64-bit output."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def content_sha256(
    nodes: list[bytes], predicates: list[bytes], literal_data: bytes, edges: np.ndarray, facts: np.ndarray
) -> str:
    """sha256 of a graph given as sorted term lists and sorted unique rows of ranks into them.

    ``facts`` rows are (node, predicate, i) with object the i-th literal, in canonical order;
    ``literal_data`` is those literals joined by newlines. N-Triples terms hold no raw
    newline, so joining them with newlines is unambiguous, and the rows are fixed-width
    little-endian integers: the bytes hashed determine the graph.

    >>> content_sha256([b"<http://a>"], [], b"", np.zeros((0, 3), np.int64), np.zeros((0, 3), np.int64))[:12]
    '7f112559c851'
    """
    digest = hashlib.sha256(FORMAT)
    terms = (b"nodes", len(nodes), b"\n".join(nodes)), (b"predicates", len(predicates), b"\n".join(predicates))
    for name, size, data in (*terms, (b"literals", len(facts), literal_data)):
        digest.update(b"%s %d\n" % (name, size))
        digest.update(data)
        digest.update(b"\n")
    for name, rows in ((b"edges", edges), (b"facts", facts[:, :2])):
        digest.update(b"%s %d\n" % (name, len(rows)))
        digest.update(np.ascontiguousarray(rows, dtype="<i8"))
    return digest.hexdigest()
