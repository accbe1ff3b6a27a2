"""Canonical triples -> :class:`KnowledgeGraph`: choose entities and relations, label them, index them.

Entities are the IRIs and blank nodes that take part in entity-to-entity triples, plus
subjects of literal triples that are not predicates (a predicate's own ``rdfs:label`` does
not make it an entity). Relations are the predicates of entity-to-entity triples; other
literal triples become labels, aliases, descriptions or attributes.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter

import numpy as np

from kgpeft.kg import labels as L
from kgpeft.kg.graph import KnowledgeGraph, term_text
from kgpeft.kg.strings import StringTable
from kgpeft.kg.triples import Triples, lexsort

LABEL, ALIAS, DESCRIPTION = 1, 2, 3
ROLES = ((LABEL, L.LABEL_PREDICATES), (ALIAS, L.ALIAS_PREDICATES), (DESCRIPTION, L.DESCRIPTION_PREDICATES))


class _Names:
    """Which literal names each node: its label, aliases and description, chosen in bulk.

    Naming triples are sorted once by (role, node, language rank, predicate precedence,
    literal), so the best label or description of a node is the first row of its run and
    its aliases are the rows after it; no Python loop runs per triple.
    """

    def __init__(self, triples: Triples, language: str) -> None:
        self.literals = triples.literals
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
        rank = _language_ranks(self.literals, literal, language)
        order = lexsort(self.role[predicate], node, rank, precedence[predicate], literal)
        self.rows = {}  # role -> (node, literal) rows, best first within each node
        for role, _ in ROLES:
            rows = order[self.role[predicate[order]] == role]
            self.rows[role] = (node[rows], literal[rows])
        label_nodes, label_literals = self.rows[LABEL]
        first = _first_of_runs(label_nodes)
        self.label_nodes = label_nodes[first]  # sorted nodes that have a label
        chosen = list(map(self.literals.__getitem__, label_literals[first].tolist()))
        self.label_texts = L.sanitize_all(L.literal_texts(chosen))
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
    relation_preds = np.unique(triples.edges[:, 1])
    relation_of_pred = np.full(len(triples.predicates), -1, dtype=np.int64)
    relation_of_pred[relation_preds] = np.arange(len(relation_preds))
    s, r, o = (
        entity_of_node[triples.edges[:, 0]],
        relation_of_pred[triples.edges[:, 1]],
        entity_of_node[triples.edges[:, 2]],
    )
    entity_terms = StringTable.from_bytes(list(map(triples.nodes.__getitem__, entity_nodes.tolist())))

    plain = [""] * num_entities  # labels before disambiguation
    labelled = entity_of_node[names.label_nodes]
    for e, text in zip(labelled.tolist(), names.label_texts, strict=True):
        if e >= 0:
            plain[e] = text
    for e in (e for e, text in enumerate(plain) if not text):
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
    predicates = set(triples.predicates)
    is_predicate = np.fromiter(map(predicates.__contains__, triples.nodes), dtype=bool, count=len(triples.nodes))
    entity_nodes = np.flatnonzero(in_edges | ~is_predicate)
    entity_of_node = np.full(len(triples.nodes), -1, dtype=np.int64)
    entity_of_node[entity_nodes] = np.arange(len(entity_nodes))
    return entity_nodes, entity_of_node


def _literal_arrays(
    triples: Triples, names: _Names, entity_of_node: np.ndarray, plain: list[str], labels: list[str]
) -> tuple[dict[str, np.ndarray], StringTable, np.ndarray]:
    """Aliases, descriptions and attributes as index arrays into one table of the literals they use,
    that table, and the predicates of the attributes."""
    num_entities = len(labels)
    literal_terms = triples.literals
    alias_entities, alias_values = names.aliases(entity_of_node)
    renamed = [e for e, (before, after) in enumerate(zip(plain, labels, strict=True)) if before != after]
    if renamed:  # the plain name of a disambiguated entity stays findable, as its first alias
        alias_entities = np.concatenate([renamed, alias_entities])
        alias_values = np.concatenate([len(literal_terms) + np.arange(len(renamed)), alias_values])
        literal_terms = literal_terms + [L.ntriples_literal(plain[e]) for e in renamed]
        order = np.argsort(alias_entities, kind="stable")
        alias_entities, alias_values = alias_entities[order], alias_values[order]
    facts = triples.facts
    attributes = facts[(names.role[facts[:, 1]] == 0) & (entity_of_node[facts[:, 0]] >= 0)]
    attr_preds, attr_predicate = _renumber(attributes[:, 1], len(triples.predicates))
    descriptions = names.descriptions(entity_of_node, num_entities)
    # Keep only the literals the index refers to, renumbered in their (canonical) order.
    used, renumber = _renumber(np.concatenate([alias_values, attributes[:, 2], descriptions]), len(literal_terms))
    arrays = {
        "alias_start": np.searchsorted(alias_entities, np.arange(num_entities + 1)).astype(np.int64),
        "alias_value": renumber[: len(alias_values)].astype(np.int32),
        "attr_start": np.searchsorted(entity_of_node[attributes[:, 0]], np.arange(num_entities + 1)).astype(np.int64),
        "attr_predicate": attr_predicate.astype(np.int32),
        "attr_value": renumber[len(alias_values) : len(alias_values) + len(attributes)].astype(np.int32),
        "description": renumber[len(renumber) - num_entities :].astype(np.int32),
    }
    return arrays, StringTable.from_bytes(list(map(literal_terms.__getitem__, used.tolist()))), attr_preds


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


def _language_ranks(literals: list[bytes], chosen: np.ndarray, language: str) -> np.ndarray:
    """:func:`labels.language_rank` of each chosen literal, computed once per distinct tag."""
    terms = map(literals.__getitem__, chosen.tolist())
    suffixes = list(map(itemgetter(2), map(bytes.rpartition, terms, repeat(b'"'))))  # "", "@en" or "^^<...>"
    ranks = {
        suffix: L.language_rank(suffix[1:].decode("ascii") if suffix.startswith(b"@") else None, language)
        for suffix in set(suffixes)
    }
    return np.fromiter(map(ranks.__getitem__, suffixes), dtype=np.int64, count=len(suffixes))


def _predicate_label(nodes: Sequence[bytes], names: _Names, iri: str) -> str:
    """A predicate's label: its own label literal if the graph has one, else its readable local name."""
    term = f"<{iri}>".encode()
    i = bisect.bisect_left(nodes, term)
    label = names.label(i) if i < len(nodes) and nodes[i] == term else None
    return label or L.fallback_label(iri)


def _relation_literals(triples: Triples, relation_terms: list[str]) -> list[list]:
    """(relation, predicate IRI, text) of the literals stated about each relation's own IRI."""
    rows = []
    subjects = triples.facts[:, 0]
    for r, iri in enumerate(relation_terms):
        term = f"<{iri}>".encode()
        node = bisect.bisect_left(triples.nodes, term)
        if node == len(triples.nodes) or triples.nodes[node] != term:
            continue
        lo, hi = np.searchsorted(subjects, [node, node + 1])
        for _, predicate, literal in triples.facts[lo:hi].tolist():
            iri = _bare(triples.predicates[predicate]).decode("utf-8")
            rows.append([r, iri, L.literal_texts([triples.literals[literal]])[0]])  # lists: the cache stores JSON
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
    order = lexsort(key, target)
    key, target = key[order], target[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=np.int64)
    return {
        "targets": target.astype(np.int32),
        "group_key": key[first],
        "group_start": np.r_[first, len(key)].astype(np.int64),
        "entity_start": np.searchsorted(key, np.arange(num_entities + 1) * num_steps).astype(np.int64),
    }
