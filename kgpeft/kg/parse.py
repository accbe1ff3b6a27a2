"""Read an RDF source into N-Triples, the one form every later step works on.

Oxigraph parses and re-serialises in Rust, so a file never becomes millions of Python
objects: what comes out is one buffer (an ``io.BytesIO``) with one triple per line, terms in
canonical form (language tags lower-cased, ``xsd:string`` dropped, minimal escapes).
Named graphs are merged into one graph. Nothing is ever fetched over the network:
``owl:imports`` is an ordinary triple that is never followed, and Oxigraph has no
loader for remote JSON-LD contexts, which are refused with a clear message.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING

import pyoxigraph

from kgpeft.errors import KGLoadError
from kgpeft.kg.formats import RdfFormat

if TYPE_CHECKING:
    import rdflib

GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: Path) -> bytes:
    """The file's raw bytes, with one actionable message for each way reading can fail."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KGLoadError(f"{path}: no such file: check the path (it is relative to {Path.cwd()}).") from None
    except IsADirectoryError:
        raise KGLoadError(f"{path} is a directory: pass one RDF file.") from None
    except PermissionError:
        raise KGLoadError(f"{path}: permission denied: make the file readable (chmod +r) or copy it.") from None
    except OSError as err:
        raise KGLoadError(f"{path}: cannot read the file ({err.strerror or err}).") from None


def decompress(raw: bytes, path: Path) -> bytes:
    """``raw`` itself, or its gzip content when the file is gzipped (by magic bytes, not name)."""
    if not raw.startswith(GZIP_MAGIC):
        if path.suffix.lower() == ".gz":
            raise KGLoadError(f"{path}: named .gz but not gzip-compressed: rename it or compress it with gzip.")
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise KGLoadError(f"{path}: corrupt gzip data ({err}): re-download or re-compress the file.") from None


def to_ntriples(data: bytes, fmt: RdfFormat, *, name: str, base_iri: str | None) -> io.BytesIO:
    """Parse ``data`` (in ``fmt``) and return the graph as N-Triples; ``name`` is used in errors.

    >>> from kgpeft.kg.formats import BY_NAME
    >>> to_ntriples(b"<http://a> <http://b> 'c' .", BY_NAME["turtle"], name="x.ttl", base_iri=None).getvalue()
    b'<http://a> <http://b> "c" .\\n'
    """
    if fmt.oxigraph is None:
        return _rdflib_to_ntriples(data, fmt, name=name)
    quads = pyoxigraph.parse(data, fmt.oxigraph, base_iri=base_iri)
    try:
        return _serialize(quads, dataset=fmt.dataset)
    except SyntaxError as err:
        raise _syntax_error(err, data, fmt, name) from None
    except (ValueError, OSError) as err:
        raise KGLoadError(f"{name}: cannot parse as {fmt.name}: {_one_line(str(err))}.") from None


def graph_to_ntriples(graph: rdflib.Graph) -> io.BytesIO:
    """An in-memory rdflib graph as N-Triples (via Oxigraph again, for the same canonical terms)."""
    import rdflib

    dataset = isinstance(graph, rdflib.ConjunctiveGraph | rdflib.Dataset)
    text = graph.serialize(format="nquads" if dataset else "nt", encoding="utf-8")
    fmt = pyoxigraph.RdfFormat.N_QUADS if dataset else pyoxigraph.RdfFormat.N_TRIPLES
    return _serialize(pyoxigraph.parse(text, fmt), dataset=dataset)


def _serialize(quads: pyoxigraph.QuadParser, *, dataset: bool) -> io.BytesIO:
    """The triples as N-Triples in a ``BytesIO``: unlike ``bytes``, its storage can be written
    in place (``getbuffer``) and then handed over as ``bytes`` without a copy (``getvalue``),
    which saves :func:`kgpeft.kg.triples.split_ntriples` two copies of the whole text."""
    triples = map(attrgetter("triple"), quads) if dataset else quads  # drop graph names: one merged graph
    output = io.BytesIO()
    pyoxigraph.serialize(triples, output, format=pyoxigraph.RdfFormat.N_TRIPLES)
    return output


def _rdflib_to_ntriples(data: bytes, fmt: RdfFormat, *, name: str) -> bytes:
    """Formats Oxigraph cannot read (TriX, HexTuples) go through rdflib, which fetches nothing for these."""
    import rdflib

    dataset = rdflib.Dataset()
    try:
        dataset.parse(data=data, format=fmt.rdflib)
    except Exception as err:  # rdflib raises many unrelated types for malformed input
        message, line, column = _one_line(str(err)), None, None
        if found := re.match(r"\S*?:(\d+):(\d+): ", message):  # SAX style: "source:LINE:COLUMN: reason"
            line, column, message = found.group(1), found.group(2), message[found.end() :]
        elif found := re.search(r"line (\d+)", message):
            line = found.group(1)
        where = name + "".join(f":{part}" for part in (line, column) if part)
        raise KGLoadError(f"{where}: malformed {fmt.name}: {message}; fix the file or pass the right format.") from None
    return graph_to_ntriples(dataset)


def _syntax_error(err: SyntaxError, data: bytes, fmt: RdfFormat, name: str) -> KGLoadError:
    message = _one_line(err.msg or str(err))
    if "LoadDocumentCallback" in message:
        return KGLoadError(
            f"{name}: the JSON-LD document uses a remote @context, and kgpeft never fetches anything over the "
            "network: inline the context in the file (or convert it to Turtle)."
        )
    message = re.sub(r"^Parser error (at|between) line.*?: ", "", message)
    line, column = err.lineno, err.offset
    if line is None:
        line, column = _locate(data, fmt)
    where = f"{name}:{line}:{column}" if line is not None else f"{name} (line unknown)"
    return KGLoadError(f"{where}: malformed {fmt.name}: {message}; fix the file or pass the right format.")


def _locate(data: bytes, fmt: RdfFormat) -> tuple[int | None, int | None]:
    """Line and column of a syntax error Oxigraph reported without them (RDF/XML): ask expat via rdflib."""
    if fmt.name != "rdfxml":
        return None, None
    import rdflib

    try:
        rdflib.Graph().parse(data=data, format="xml")
    except Exception as err:  # expat's message ends with ":LINE:COLUMN: reason"
        found = re.search(r":(\d+):(\d+):", str(err))
        if found:
            return int(found.group(1)), int(found.group(2)) + 1
    return None, None


def _one_line(text: str) -> str:
    return " ".join(text.split()).rstrip(".")
