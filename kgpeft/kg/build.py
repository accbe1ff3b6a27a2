"""Canonical triples -> :class:`KnowledgeGraph`: choose entities and relations, label them, index them.

Entities are the IRIs and blank nodes that take part in entity-to-entity triples, plus
subjects of literal triples that are not predicates (a predicate's own ``rdfs:label`` does
not make it an entity). Relations are the predicates of entity-to-entity triples; other
literal triples become labels, aliases, descriptions or attributes.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from kgpeft.kg import labels as L
from kgpeft.kg.graph import KnowledgeGraph
from kgpeft.kg.strings import StringTable
from kgpeft.kg.triples import Triples

LABEL, ALIAS, DESCRIPTION = 1, 2, 3
ROLES = ((LABEL, L.LABEL_PREDICATES), (ALIAS, L.ALIAS_PREDICATES), (DESCRIPTION, L.DESCRIPTION_PREDICATES))


def term_text(term: bytes) -> str:
    """An N-Triples IRI or blank node as kgpeft shows it: the bare IRI, or ``_:name``."""
    return term[1:-1].decode("utf-8") if term[:1] == b"<" else term.decode("utf-8")


class _Names:
    """Label, alias and description candidates of every node, read from the literal triples."""

    def __init__(self, triples: Triples, language: str) -> None:
        index = {term: i for i, term in enumerate(triples.predicates)}
        self.role = np.zeros(len(triples.predicates), dtype=np.int8)
        self.precedence = np.zeros(len(triples.predicates), dtype=np.int64)
        for role, iris in ROLES:
            for rank, iri in enumerate(iris):
                if (p := index.get(f"<{iri}>".encode())) is not None:
                    self.role[p], self.precedence[p] = role, rank
        self.candidates: dict[int, dict[int, list[tuple[int, int, str]]]] = {r: defaultdict(list) for r, _ in ROLES}
        facts = triples.facts
        named = facts[self.role[facts[:, 1]] > 0]
        for node, predicate, literal in named.tolist():  # one Python step per naming triple only
            text, tag = L.parse_literal(triples.literals[literal])
            role = int(self.role[predicate])
            text = " ".join(text.split()) if role == DESCRIPTION else L.sanitize(text)
            self.candidates[role][node].append((L.language_rank(tag, language), int(self.precedence[predicate]), text))

    def label(self, node: int) -> tuple[str | None, list[str]]:
        """The preferred label of ``node`` (None if it has none) and its aliases."""
        texts = L.ranked(self.candidates[LABEL].get(node, ()))
        label = texts[0] if texts else None
        aliases = dict.fromkeys(texts[1:] + L.ranked(self.candidates[ALIAS].get(node, ())))
        return label, [a for a in aliases if a != label]

    def description(self, node: int) -> str:
        texts = L.ranked(self.candidates[DESCRIPTION].get(node, ()))
        return texts[0] if texts else ""


def build_graph(triples: Triples, *, language: str, source: str | None, sha256: str) -> KnowledgeGraph:
    nodes, edges, facts = triples.nodes, triples.edges, triples.facts
    names = _Names(triples, language)

    predicate_set = set(triples.predicates)
    in_edges = np.zeros(len(nodes), dtype=bool)
    in_edges[edges[:, 0]] = in_edges[edges[:, 2]] = True
    is_predicate = np.fromiter(map(predicate_set.__contains__, nodes), dtype=bool, count=len(nodes))
    entity_nodes = np.flatnonzero(in_edges | ~is_predicate)
    entity_of_node = np.full(len(nodes), -1, dtype=np.int64)
    entity_of_node[entity_nodes] = np.arange(len(entity_nodes))
    relation_preds = np.unique(edges[:, 1])
    relation_of_pred = np.full(len(triples.predicates), -1, dtype=np.int64)
    relation_of_pred[relation_preds] = np.arange(len(relation_preds))

    entity_terms = [term_text(nodes[n]) for n in entity_nodes.tolist()]
    entity_labels, alias_lists, descriptions = [], [], []
    labelled = 0
    for n, term in zip(entity_nodes.tolist(), entity_terms, strict=True):
        label, aliases = names.label(n)
        labelled += label is not None
        entity_labels.append(label or L.fallback_label(term))
        alias_lists.append(aliases)
        descriptions.append(names.description(n))

    s = entity_of_node[edges[:, 0]]
    r = relation_of_pred[edges[:, 1]]
    o = entity_of_node[edges[:, 2]]
    type_rows = _type_rows(triples.predicates, relation_preds, s, r, o)
    plain = list(entity_labels)

    def entity_qualifiers(e: int) -> list[str]:
        lo, hi = np.searchsorted(type_rows[:, 0], [e, e + 1])
        types = sorted(plain[c] for c in type_rows[lo:hi, 1].tolist())
        return [*types, L.qualifier_from_iri(entity_terms[e], plain[e])]

    entity_labels = L.disambiguate(entity_labels, entity_qualifiers)
    for e, (before, after) in enumerate(zip(plain, entity_labels, strict=True)):
        if before != after:  # the plain name stays findable (entities_by_name) as the first alias
            alias_lists[e] = [before, *(a for a in alias_lists[e] if a != before)]

    relation_terms = [term_text(triples.predicates[p]) for p in relation_preds.tolist()]
    relation_labels = L.disambiguate(
        [_predicate_label(nodes, names, term) for term in relation_terms],
        lambda i: L.namespace_qualifier(relation_terms[i]),
    )

    arrays = _adjacency(s, r, o, len(entity_nodes), len(relation_preds))
    arrays["alias_start"] = np.r_[0, np.cumsum([len(a) for a in alias_lists])].astype(np.int64)
    attributes = facts[(names.role[facts[:, 1]] == 0) & (entity_of_node[facts[:, 0]] >= 0)]
    attr_entities = entity_of_node[attributes[:, 0]]
    attr_preds, attr_predicate = np.unique(attributes[:, 1], return_inverse=True)
    attr_lits, attr_value = np.unique(attributes[:, 2], return_inverse=True)
    arrays["attr_start"] = np.searchsorted(attr_entities, np.arange(len(entity_nodes) + 1)).astype(np.int64)
    arrays["attr_predicate"] = attr_predicate.astype(np.int32)
    arrays["attr_value"] = attr_value.astype(np.int32)

    tables = {
        "entity_terms": StringTable.from_strings(entity_terms),
        "relation_terms": StringTable.from_strings(relation_terms),
        "entity_labels": StringTable.from_strings(entity_labels),
        "relation_labels": StringTable.from_strings(relation_labels),
        "descriptions": StringTable.from_strings(descriptions),
        "aliases": StringTable.from_strings(a for aliases in alias_lists for a in aliases),
        "attr_predicate_labels": StringTable.from_strings(
            _predicate_label(nodes, names, term_text(triples.predicates[p])) for p in attr_preds.tolist()
        ),
        "attr_values": StringTable.from_bytes([triples.literals[i] for i in attr_lits.tolist()]),
    }
    meta = {
        "relation_literals": _relation_literals(triples, relation_terms),
        "sha256": sha256,
        "source": source,
        "language": language,
        "num_literal_triples": len(facts),
        "num_labelled": labelled,
    }
    return KnowledgeGraph(arrays, tables, meta)


def _predicate_label(nodes: Sequence[bytes], names: _Names, iri: str) -> str:
    """A predicate's label: its own label literal if the graph has one, else its readable local name."""
    term = f"<{iri}>".encode()
    i = bisect.bisect_left(nodes, term)
    label = names.label(i)[0] if i < len(nodes) and nodes[i] == term else None
    return label or L.fallback_label(iri)


def _relation_literals(triples: Triples, relation_terms: list[str]) -> list[tuple[int, str, str]]:
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
            rows.append((r, term_text(triples.predicates[predicate]), L.parse_literal(triples.literals[literal])[0]))
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
    order = np.lexsort((target, key))
    key, target = key[order], target[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=np.int64)
    return {
        "targets": target.astype(np.int32),
        "group_key": key[first],
        "group_start": np.r_[first, len(key)].astype(np.int64),
        "entity_start": np.searchsorted(key, np.arange(num_entities + 1) * num_steps).astype(np.int64),
    }
