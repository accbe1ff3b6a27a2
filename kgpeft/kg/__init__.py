"""The knowledge-graph layer: load RDF into an indexed, labelled graph of integer ids.

>>> from kgpeft.kg import load_graph
>>> kg = load_graph("kg/countries.ttl")
>>> kg.num_entities > 0
True
"""

from kgpeft.kg.graph import KnowledgeGraph
from kgpeft.kg.load import load_graph

__all__ = ["KnowledgeGraph", "load_graph"]
