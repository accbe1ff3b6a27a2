"""Summary statistics of a :class:`KnowledgeGraph` (what ``kgpeft kg stats`` shows)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kgpeft.kg.graph import KnowledgeGraph
from kgpeft.kg.sparql import SparqlGraph

PERCENTILES = (50, 90, 99, 100)


def graph_stats(kg: KnowledgeGraph | SparqlGraph, top_relations: int = 10) -> dict[str, Any]:
    """Counts, label coverage, degree percentiles and the most used relations of ``kg``.

    >>> from kgpeft.kg import load_graph
    >>> graph_stats(load_graph("kg/countries.ttl"))["relations"]
    4
    """
    if isinstance(kg, SparqlGraph):
        counts = kg.stats()
    else:
        steps = kg.group_key % kg.num_steps
        sizes = np.diff(kg.group_start)
        forward = steps < kg.num_relations
        counts = {
            "entities": kg.num_entities,
            "relations": kg.num_relations,
            "triples": kg.num_triples,
            "literal_triples": kg.meta["num_literal_triples"],
            "label_coverage": kg.meta["num_labelled"] / max(kg.num_entities, 1),
            "description_coverage": kg.meta["num_described"] / max(kg.num_entities, 1),
            "aliases": len(kg.alias_value),
            "degree": np.diff(kg.entity_start),  # edges in either direction at each entity
            "per_relation": np.bincount(steps[forward], weights=sizes[forward], minlength=kg.num_relations),
        }
    degree, per_relation = counts.pop("degree"), counts.pop("per_relation").astype(np.int64)
    ranked = sorted(range(kg.num_relations), key=lambda r: (-per_relation[r], r))[:top_relations]
    return {
        "source": kg.source,
        "sha256": kg.sha256,
        **counts,
        "degree_percentiles": {f"p{q}": float(np.percentile(degree, q)) for q in PERCENTILES},
        "top_relations": [
            {"label": kg.relation_label(r), "iri": kg.relation_iri(r), "triples": int(per_relation[r])} for r in ranked
        ],
    }
