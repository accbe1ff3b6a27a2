"""``load_graph``: an RDF file or an rdflib graph in, an indexed :class:`KnowledgeGraph` out."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from kgpeft.errors import KGLoadError
from kgpeft.kg import cache as graph_cache
from kgpeft.kg.build import build_graph
from kgpeft.kg.formats import resolve_format
from kgpeft.kg.graph import KnowledgeGraph
from kgpeft.kg.parse import decompress, graph_to_ntriples, read_bytes, to_ntriples
from kgpeft.kg.sparql import SparqlGraph, is_store_url, store_name
from kgpeft.kg.triples import split_ntriples

if TYPE_CHECKING:
    import rdflib

    from kgpeft.types import StrPath


def graph_name(source: StrPath) -> str:
    """A short name for what is built from a graph: a file's stem, or a store's host, port and dataset.

    >>> graph_name("kg/countries.ttl.gz"), graph_name("http://127.0.0.1:7878/query")
    ('countries', 'store-127.0.0.1-7878')
    """
    return store_name(str(source)) if is_store_url(source) else Path(source).name.split(".")[0]


def load_graph(
    source: StrPath | rdflib.Graph, *, format: str | None = None, language: str = "en", cache: bool = True
) -> KnowledgeGraph | SparqlGraph:
    """Load an RDF file (Turtle, N-Triples, N-Quads, TriG, RDF/XML, JSON-LD, N3, TriX, HexTuples;
    optionally gzipped) or an ``rdflib.Graph`` into a :class:`KnowledgeGraph`; a SPARQL endpoint URL
    (``http(s)://...`` or ``sparql+http(s)://...``) gives a :class:`~kgpeft.kg.sparql.SparqlGraph`,
    which serves the same interface (:class:`~kgpeft.kg.base.Graph`) from the store.

    ``format`` overrides the format implied by the file extension; ``language`` is the
    preferred language of labels and descriptions. Built indexes are cached on disk
    (under ``kgpeft.io.cache_dir("kg")``), keyed by the file's bytes, unless ``cache=False``.
    Raises :class:`~kgpeft.errors.KGLoadError` with a one-line reason for unusable input.

    >>> kg = load_graph("kg/countries.ttl")
    >>> kg.entity_label(kg.entity_by_iri("http://kgpeft.dev/countries/country/FRA"))
    'France'
    """
    if not isinstance(language, str) or not language.strip():
        raise KGLoadError(f"language must be a language tag such as 'en', not {language!r}.")
    language = language.strip().lower()
    if not isinstance(source, str | os.PathLike):
        return _load_rdflib_graph(source, language)
    if is_store_url(source):
        return SparqlGraph(source, language=language, cache=cache)

    path = Path(source)
    raw = read_bytes(path)
    fmt = resolve_format(path, format)
    base_iri = path.resolve().as_uri()  # what relative IRIs in the file resolve against, as in rdflib
    entry = graph_cache.cache_path(raw, format=fmt.name, language=language, base_iri=base_iri) if cache else None
    if entry is not None and (kg := graph_cache.load(entry)) is not None:
        kg.source = str(path)
        return kg
    ntriples = to_ntriples(decompress(raw, path), fmt, name=str(path), base_iri=base_iri)
    del raw
    kg = _build(ntriples, name=str(path), language=language, source=str(path))
    if entry is not None:
        graph_cache.save(entry, kg)
    return kg


def _load_rdflib_graph(graph: object, language: str) -> KnowledgeGraph:
    import rdflib

    if not isinstance(graph, rdflib.Graph):
        raise KGLoadError(f"cannot load a {type(graph).__name__}: pass a path to an RDF file or an rdflib.Graph.")
    return _build(graph_to_ntriples(graph), name="the rdflib graph", language=language, source=None)


def _build(ntriples: io.BytesIO, *, name: str, language: str, source: str | None) -> KnowledgeGraph:
    triples = split_ntriples(ntriples)
    if len(triples.edges) == 0 and len(triples.facts) == 0:
        raise KGLoadError(f"{name}: the graph is empty (no triples): check that this is the right file and format.")
    if len(triples.edges) == 0:
        raise KGLoadError(
            f"{name}: no triple links two entities (the objects of all {len(triples.facts)} triples are literals): "
            "kgpeft needs entity-to-entity triples to find paths."
        )
    return build_graph(triples, language=language, source=source, sha256=triples.sha256())
