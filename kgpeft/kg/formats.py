"""RDF serialisation formats: names, file extensions, and which parser reads each.

Oxigraph reads the common formats fast; rdflib covers the rest (TriX, HexTuples).
Files may be gzipped (``countries.ttl.gz``): the format comes from the inner extension.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyoxigraph

from kgpeft.errors import KGLoadError


@dataclass(frozen=True)
class RdfFormat:
    name: str
    extensions: tuple[str, ...]
    oxigraph: pyoxigraph.RdfFormat | None = None  # None: parsed by rdflib
    rdflib: str | None = None
    dataset: bool = False  # may hold named graphs (merged into one graph on load)
    xml: bool = False  # read by an XML parser: entity declarations are refused before parsing


FORMATS = (
    RdfFormat("turtle", ("ttl", "turtle"), pyoxigraph.RdfFormat.TURTLE),
    RdfFormat("ntriples", ("nt", "ntriples"), pyoxigraph.RdfFormat.N_TRIPLES),
    RdfFormat("nquads", ("nq", "nquads"), pyoxigraph.RdfFormat.N_QUADS, dataset=True),
    RdfFormat("trig", ("trig",), pyoxigraph.RdfFormat.TRIG, dataset=True),
    RdfFormat("rdfxml", ("rdf", "owl", "xml", "rdfxml"), pyoxigraph.RdfFormat.RDF_XML, xml=True),
    RdfFormat("jsonld", ("jsonld", "json"), pyoxigraph.RdfFormat.JSON_LD, dataset=True),
    RdfFormat("n3", ("n3",), pyoxigraph.RdfFormat.N3),
    RdfFormat("trix", ("trix",), rdflib="trix", dataset=True, xml=True),
    RdfFormat("hext", ("hext",), rdflib="hext", dataset=True),
)
# Spellings people use for the same formats (rdflib's and MIME-ish names).
ALIASES = {"ttl": "turtle", "nt": "ntriples", "n-triples": "ntriples", "nq": "nquads", "n-quads": "nquads",
           "xml": "rdfxml", "rdf/xml": "rdfxml", "pretty-xml": "rdfxml", "json-ld": "jsonld"}  # fmt: skip
BY_NAME = {f.name: f for f in FORMATS}
BY_EXTENSION = {ext: f for f in FORMATS for ext in f.extensions}


def format_names() -> str:
    return ", ".join(f.name for f in FORMATS)


def resolve_format(path: Path | None, format: str | None) -> RdfFormat:
    """The format named by ``format``, else the one the file's extension implies.

    >>> resolve_format(Path("kg/countries.ttl.gz"), None).name
    'turtle'
    """
    if format is not None:
        key = format.lower().strip().lstrip(".")
        key = ALIASES.get(key, key)
        found = BY_NAME.get(key) or BY_EXTENSION.get(key)
        if found is None:
            raise KGLoadError(f"unknown RDF format {format!r}: use one of {format_names()}.")
        return found
    suffixes = [s.lower().lstrip(".") for s in (path.suffixes if path else [])]
    if suffixes and suffixes[-1] == "gz":
        suffixes.pop()
    if suffixes and suffixes[-1] in BY_EXTENSION:
        return BY_EXTENSION[suffixes[-1]]
    shown = path.name if path else "the source"
    raise KGLoadError(
        f"cannot tell the RDF format of {shown} from its extension: pass format= (or --format) with one of {format_names()}."
    )
