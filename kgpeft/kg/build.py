"""Canonical triples -> :class:`KnowledgeGraph`: choose entities and relations, label them, index them.

Entities are the IRIs and blank nodes that take part in entity-to-entity triples, plus
subjects of literal triples that are not predicates (a predicate's own ``rdfs:label`` does
not make it an entity). Relations are the predicates of entity-to-entity triples; other
literal triples become labels, aliases, descriptions or attributes.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Sequence
from itertools import compress, count

import numpy as np

from kgpeft.kg import labels as L
from kgpeft.kg.graph import KnowledgeGraph, gather_ranges, term_text
from kgpeft.kg.strings import StringTable
from kgpeft.kg.triples import NEWLINE, QUOTE, Triples, lexsort, unique_rows

LABEL, ALIAS, DESCRIPTION = 1, 2, 3
ROLES = ((LABEL, L.LABEL_PREDICATES), (ALIAS, L.ALIAS_PREDICATES), (DESCRIPTION, L.DESCRIPTION_PREDICATES))


class _Names:
    """Which literal names each node: its label, aliases and description, chosen in bulk.

    Naming triples are sorted once by (role, node, language rank, predicate precedence,
    literal), so the best label or description of a node is the first row of its run and
    its aliases are the rows after it; no Python loop runs per triple.
    """

    def __init__(self, triples: Triples, language: str) -> None:
        index = {term: i for i, term in enumerate(triples.predicates)}
        self.role = np.zeros(len(triples.predicates), dtype=np.int64)
        precedence = np.zeros(len(triples.predicates), dtype=np.int64)
        for role, iris in ROLES:
            for rank, iri in enumerate(iris):
                if (p := index.get(f"<{iri}>".encode())) is not None:
                    self.role[p], precedence[p] = role, rank
        facts = triples.facts
        named = facts[self.role[facts[:, 1]] > 0]
        node, predicate, literal = named[:, 0], named[:, 1], named[:, 2]
        # Literals are read in numpy straight from the joined literal text: the language tag
        # follows the closing quote, the text precedes it.
        text = np.frombuffer(triples.literal_data, dtype=np.uint8)
        end = triples.literal_start[1:] - 1  # (m,) where each literal ends
        quotes = np.flatnonzero(text == QUOTE)
        closing = quotes[np.searchsorted(quotes, end) - 1]  # the last quote: a tag or datatype IRI holds none
        rank = L.language_ranks(text, closing[literal] + 1, end[literal], language)
        order = lexsort(self.role[predicate], node, rank, precedence[predicate], literal)
        self.rows = {}  # role -> (node, literal) rows, best first within each node
        for role, _ in ROLES:
            rows = order[self.role[predicate[order]] == role]
            self.rows[role] = (node[rows], literal[rows])
        label_nodes, label_literals = self.rows[LABEL]
        first = _first_of_runs(label_nodes)
        self.label_nodes = label_nodes[first]  # sorted nodes that have a label
        chosen = label_literals[first]
        self.label_texts = L.sanitize_all(_bodies(text, triples.literal_start[chosen] + 1, closing[chosen]))
        self.other_labels = np.ones(len(label_nodes), dtype=bool)
        self.other_labels[first] = False

    def label(self, node: int) -> str | None:
        i = int(np.searchsorted(self.label_nodes, node))
        return self.label_texts[i] if i < len(self.label_nodes) and self.label_nodes[i] == node else None

    def descriptions(self, entity_of_node: np.ndarray, num_entities: int) -> np.ndarray:
        """Per entity, the literal of its best description, or -1."""
        nodes, literals = self.rows[DESCRIPTION]
        first = _first_of_runs(nodes)
        described = np.full(num_entities, -1, dtype=np.int64)
        entities = entity_of_node[nodes[first]]
        described[entities[entities >= 0]] = literals[first][entities >= 0]
        return described

    def aliases(self, entity_of_node: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(entity, literal) rows of every label but the chosen one, then every alias, in preference order."""
        label_nodes, label_literals = self.rows[LABEL]
        alias_nodes, alias_literals = self.rows[ALIAS]
        nodes = np.concatenate([label_nodes[self.other_labels], alias_nodes])
        literals = np.concatenate([label_literals[self.other_labels], alias_literals])
        order = np.argsort(nodes, kind="stable")  # by node, labels before aliases, best first
        entities = entity_of_node[nodes[order]]
        keep = entities >= 0
        return entities[keep], literals[order][keep]


def build_graph(triples: Triples, *, language: str, source: str | None, sha256: str) -> KnowledgeGraph:
    """The :class:`KnowledgeGraph` of canonical ``triples``, labelled in ``language``."""
    names = _Names(triples, language)
    entity_nodes, entity_of_node = _entities(triples)
    num_entities = len(entity_nodes)
    relation_preds = np.flatnonzero(np.bincount(triples.edges[:, 1], minlength=len(triples.predicates)))
    relation_of_pred = np.full(len(triples.predicates), -1, dtype=np.int64)
    relation_of_pred[relation_preds] = np.arange(len(relation_preds))
    s, r, o = (
        entity_of_node[triples.edges[:, 0]],
        relation_of_pred[triples.edges[:, 1]],
        entity_of_node[triples.edges[:, 2]],
    )
    entity_terms = StringTable.from_bytes(compress(triples.nodes, (entity_of_node >= 0).tolist()))

    plain_labels = np.full(num_entities, "", dtype=object)  # labels before disambiguation
    labelled = entity_of_node[names.label_nodes]
    plain_labels[labelled[labelled >= 0]] = np.array(names.label_texts, dtype=object)[labelled >= 0]
    plain: list[str] = plain_labels.tolist()
    for e in compress(count(), map(operator.not_, plain)):  # no label, or an empty one
        plain[e] = L.fallback_label(term_text(entity_terms[e]))
    type_rows = _type_rows(triples.predicates, relation_preds, s, r, o)

    def entity_qualifiers(e: int) -> list[str]:
        lo, hi = np.searchsorted(type_rows[:, 0], [e, e + 1])
        types = sorted(plain[c] for c in type_rows[lo:hi, 1].tolist())
        return [*types, L.qualifier_from_iri(term_text(entity_terms[e]), plain[e])]

    entity_labels = L.disambiguate(plain, entity_qualifiers)
    relation_terms = [_bare(triples.predicates[p]).decode("utf-8") for p in relation_preds.tolist()]
    relation_labels = L.disambiguate(
        [_predicate_label(triples.nodes, names, term) for term in relation_terms],
        lambda i: L.namespace_qualifier(relation_terms[i]),
    )

    arrays = _adjacency(s, r, o, num_entities, len(relation_preds))
    literal_arrays, literals, attr_preds = _literal_arrays(triples, names, entity_of_node, plain, entity_labels)
    arrays.update(literal_arrays)
    tables = {
        "entity_terms": entity_terms,
        "relation_terms": StringTable.from_strings(relation_terms),
        "entity_labels": StringTable.from_strings(entity_labels),
        "relation_labels": StringTable.from_strings(relation_labels),
        "attr_predicate_labels": StringTable.from_strings(
            _predicate_label(triples.nodes, names, _bare(triples.predicates[p]).decode("utf-8"))
            for p in attr_preds.tolist()
        ),
        "literals": literals,
    }
    meta = {
        "relation_literals": _relation_literals(triples, relation_terms),
        "sha256": sha256,
        "source": source,
        "language": language,
        "num_literal_triples": len(triples.facts),
        "num_labelled": int(np.count_nonzero(labelled >= 0)),
        "num_described": int(np.count_nonzero(arrays["description"] >= 0)),
    }
    return KnowledgeGraph(arrays, tables, meta)


def _entities(triples: Triples) -> tuple[np.ndarray, np.ndarray]:
    """The nodes that are entities (see the module docstring), and each node's entity id or -1."""
    in_edges = np.zeros(len(triples.nodes), dtype=bool)
    in_edges[triples.edges[:, 0]] = in_edges[triples.edges[:, 2]] = True
    is_predicate = np.zeros(len(triples.nodes), dtype=bool)
    is_predicate[[i for term in triples.predicates if (i := _node(triples.nodes, term)) is not None]] = True
    entity_nodes = np.flatnonzero(in_edges | ~is_predicate)
    entity_of_node = np.full(len(triples.nodes), -1, dtype=np.int64)
    entity_of_node[entity_nodes] = np.arange(len(entity_nodes))
    return entity_nodes, entity_of_node


def _literal_arrays(
    triples: Triples, names: _Names, entity_of_node: np.ndarray, plain: list[str], labels: list[str]
) -> tuple[dict[str, np.ndarray], StringTable, np.ndarray]:
    """Aliases, descriptions and attributes as index arrays into one table of the literals they use,
    that table, and the predicates of the attributes."""
    num_entities, num_literals = len(labels), len(triples.facts)
    alias_entities, alias_values = names.aliases(entity_of_node)
    renamed = list(compress(count(), map(operator.ne, plain, labels)))
    plain_names = [L.ntriples_literal(plain[e]) for e in renamed]  # literals num_literals, num_literals + 1, ...
    if renamed:  # the plain name of a disambiguated entity stays findable, as its first alias
        alias_entities = np.concatenate([renamed, alias_entities])
        alias_values = np.concatenate([num_literals + np.arange(len(renamed)), alias_values])
        order = np.argsort(alias_entities, kind="stable")
        alias_entities, alias_values = alias_entities[order], alias_values[order]
    facts = triples.facts
    attributes = facts[(names.role[facts[:, 1]] == 0) & (entity_of_node[facts[:, 0]] >= 0)]
    attr_preds, attr_predicate = _renumber(attributes[:, 1], len(triples.predicates))
    descriptions = names.descriptions(entity_of_node, num_entities)
    # Keep only the literals the index refers to, renumbered in their (canonical) order.
    values = np.concatenate([alias_values, attributes[:, 2], descriptions])
    used, renumber = _renumber(values, num_literals + len(plain_names))  # all plain names are used: they come last
    arrays = {
        "alias_start": np.searchsorted(alias_entities, np.arange(num_entities + 1)).astype(np.int64),
        "alias_value": renumber[: len(alias_values)].astype(np.int32),
        "attr_start": np.searchsorted(entity_of_node[attributes[:, 0]], np.arange(num_entities + 1)).astype(np.int64),
        "attr_predicate": attr_predicate.astype(np.int32),
        "attr_value": renumber[len(alias_values) : len(alias_values) + len(attributes)].astype(np.int32),
        "description": renumber[len(renumber) - num_entities :].astype(np.int32),
    }
    stated = used[used < num_literals]
    plain_lengths = np.fromiter(map(len, plain_names), dtype=np.int64, count=len(plain_names))
    lengths = np.concatenate([np.diff(triples.literal_start)[stated] - 1, plain_lengths])
    text = np.concatenate([_literal_bytes(triples, stated), np.frombuffer(b"".join(plain_names), dtype=np.uint8)])
    return arrays, StringTable.from_joined(text, lengths), attr_preds


def _literal_bytes(triples: Triples, chosen: np.ndarray) -> np.ndarray:
    """The ``chosen`` literals (sorted indices) back to back: cut from the joined literal text by
    a mask of its bytes, which reads it once in order instead of touching a bytes object each."""
    lengths = np.diff(triples.literal_start) - 1
    is_chosen = np.zeros(len(lengths), dtype=bool)
    is_chosen[chosen] = True
    flags = np.stack([is_chosen, np.zeros_like(is_chosen)], axis=1).ravel()  # a literal, then its newline
    repeats = np.stack([lengths, np.ones_like(lengths)], axis=1).ravel()
    text = np.frombuffer(triples.literal_data, dtype=np.uint8)
    return text[np.repeat(flags, repeats)[: len(text)]]


def _bare(term: bytes) -> bytes:
    """An N-Triples IRI without its angle brackets; a blank node (``_:name``) as it is."""
    return term[1:-1] if term[:1] == b"<" else term


def _renumber(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct non-negative ``values`` (all below ``size``) in order, and each value's
    position among them (-1 stays -1): ``np.unique(..., return_inverse=True)`` without a sort."""
    valid = values >= 0
    if size == 0:
        return np.zeros(0, dtype=np.int64), np.full(len(values), -1, dtype=np.int64)
    present = np.zeros(size, dtype=bool)
    present[values[valid]] = True
    distinct = np.flatnonzero(present)
    position = np.cumsum(present) - 1
    return distinct, np.where(valid, position[np.where(valid, values, 0)], -1)


def _first_of_runs(sorted_values: np.ndarray) -> np.ndarray:
    """Indices where a run of equal values starts in a sorted array."""
    return np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]]) if len(sorted_values) else sorted_values


def _bodies(text: np.ndarray, start: np.ndarray, end: np.ndarray) -> list[str]:
    """The texts of literal bodies ``text[start[i]:end[i]]``, gathered into one line each and decoded at once."""
    if not len(start):
        return []
    joined = text[gather_ranges(start, end + 1)]  # each body and the closing quote after it...
    joined[np.cumsum(end + 1 - start) - 1] = NEWLINE  # ... which becomes the line break
    return L.body_texts(joined[:-1].tobytes())


def _node(nodes: Sequence[bytes], term: bytes) -> int | None:
    """The index of ``term`` in the sorted ``nodes``, or None."""
    i = bisect.bisect_left(nodes, term)
    return i if i < len(nodes) and nodes[i] == term else None


def _predicate_label(nodes: Sequence[bytes], names: _Names, iri: str) -> str:
    """A predicate's label: its own label literal if the graph has one, else its readable local name."""
    i = _node(nodes, f"<{iri}>".encode())
    label = names.label(i) if i is not None else None
    return label or L.fallback_label(iri)


def _relation_literals(triples: Triples, relation_terms: list[str]) -> list[list]:
    """(relation, predicate IRI, text) of the literals stated about each relation's own IRI."""
    rows = []
    subjects = triples.facts[:, 0]
    for r, iri in enumerate(relation_terms):
        node = _node(triples.nodes, f"<{iri}>".encode())
        if node is None:
            continue
        lo, hi = np.searchsorted(subjects, [node, node + 1])
        for _, predicate, literal in triples.facts[lo:hi].tolist():
            iri = _bare(triples.predicates[predicate]).decode("utf-8")
            rows.append([r, iri, L.literal_texts([triples.literal(literal)])[0]])  # lists: the cache stores JSON
    return rows


def _type_rows(
    predicates: list[bytes], relation_preds: np.ndarray, s: np.ndarray, r: np.ndarray, o: np.ndarray
) -> np.ndarray:
    """(entity, class) rows of rdf:type, sorted by entity: the first hint for telling namesakes apart."""
    type_term = f"<{L.RDF_TYPE}>".encode()
    rel = [i for i, p in enumerate(relation_preds.tolist()) if predicates[p] == type_term]
    if not rel:
        return np.zeros((0, 2), dtype=np.int64)
    mask = r == rel[0]
    return np.stack([s[mask], o[mask]], axis=1)


def _adjacency(
    s: np.ndarray, r: np.ndarray, o: np.ndarray, num_entities: int, num_relations: int
) -> dict[str, np.ndarray]:
    """The step CSR described in :mod:`kgpeft.kg.graph` from triples (s, r, o) of ids."""
    num_steps = 2 * num_relations
    key = np.concatenate([s * num_steps + r, o * num_steps + r + num_relations])  # (2T,) entity * 2R + step
    target = np.concatenate([o, s])  # (2T,)
    key, target = unique_rows(key, target)  # all unique: the triples are
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=np.int64)
    return {
        "targets": target.astype(np.int32),
        "group_key": key[first],
        "group_start": np.r_[first, len(key)].astype(np.int64),
        "entity_start": np.searchsorted(key, np.arange(num_entities + 1) * num_steps).astype(np.int64),
    }
