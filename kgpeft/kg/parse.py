"""Read an RDF source into N-Triples, the one form every later step works on.

Oxigraph parses and re-serialises in Rust, so a file never becomes millions of Python
objects: what comes out is one buffer (an ``io.BytesIO``) with one triple per line, terms in
canonical form (language tags lower-cased, ``xsd:string`` dropped, minimal escapes).
Named graphs are merged into one graph. Nothing is ever fetched over the network:
``owl:imports`` is an ordinary triple that is never followed, and Oxigraph has no
loader for remote JSON-LD contexts, which are refused with a clear message.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import zlib
from collections.abc import Iterator
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING
from xml.parsers import expat

import numpy as np
import pyoxigraph

from kgpeft.errors import KGLoadError
from kgpeft.io import read_user_file
from kgpeft.kg.formats import RdfFormat

if TYPE_CHECKING:
    import rdflib

GZIP_MAGIC = b"\x1f\x8b"
MAX_GZIP_RATIO = 100  # real RDF gzips 5-30x; far more is a decompression bomb (gzip itself tops out near 1000x)
MIN_GZIP_LIMIT = 64 << 20  # up to this, any ratio: small repetitive files compress far better than whole graphs
GZIP_CHUNK = 1 << 20  # inflated at a time, so a bomb is stopped within a chunk of the limit
MAX_TERM_BYTES = 16 << 20  # Oxigraph's parser refuses a single token (literal, IRI) longer than its 16 MiB buffer


def read_bytes(path: Path) -> bytes:
    """The RDF file's raw bytes (see :func:`kgpeft.io.read_user_file`)."""
    return read_user_file(path, error=KGLoadError, what="one RDF file")


def decompress(raw: bytes, path: Path) -> bytes:
    """``raw`` itself, or its gzip content when the file is gzipped (by magic bytes, not name).

    Inflated a chunk at a time against a limit (:data:`MAX_GZIP_RATIO` times the compressed
    size, at least :data:`MIN_GZIP_LIMIT`), so a decompression bomb is refused early instead
    of filling memory.
    """
    if not raw.startswith(GZIP_MAGIC):
        if path.suffix.lower() == ".gz":
            raise KGLoadError(f"{path}: named .gz but not gzip-compressed: rename it or compress it with gzip.")
        return raw
    limit = max(MIN_GZIP_LIMIT, MAX_GZIP_RATIO * len(raw))
    output, rest = io.BytesIO(), raw
    try:
        while rest.startswith(GZIP_MAGIC):  # a gzip file may hold several members, back to back
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            while not inflater.eof:
                chunk = inflater.decompress(rest, GZIP_CHUNK)
                if not chunk and not inflater.unconsumed_tail:
                    raise EOFError("the data ends before the end of the stream")
                rest = inflater.unconsumed_tail
                output.write(chunk)
                if output.tell() > limit:
                    raise KGLoadError(
                        f"{path}: gzip content over {limit >> 20} MiB ({MAX_GZIP_RATIO}x its compressed size), "
                        "which RDF never compresses to: a decompression bomb or a corrupt file; "
                        "if it is genuine, gunzip it and load the plain file."
                    )
            rest = inflater.unused_data
        if rest.strip(b"\0"):  # gzip tolerates trailing zero padding, nothing else
            raise EOFError("unexpected data after the compressed stream")
    except (EOFError, zlib.error) as err:
        raise KGLoadError(f"{path}: corrupt gzip data ({err}): re-download or re-compress the file.") from None
    return output.getvalue()


def to_ntriples(data: bytes, fmt: RdfFormat, *, name: str, base_iri: str | None) -> io.BytesIO:
    """Parse ``data`` (in ``fmt``) and return the graph as N-Triples; ``name`` is used in errors.

    >>> from kgpeft.kg.formats import BY_NAME
    >>> to_ntriples(b"<http://a> <http://b> 'c' .", BY_NAME["turtle"], name="x.ttl", base_iri=None).getvalue()
    b'<http://a> <http://b> "c" .\\n'
    """
    if fmt.xml:
        _refuse_entity_declarations(data, name)
    if fmt.oxigraph is None:
        return _rdflib_to_ntriples(data, fmt, name=name)
    quads = pyoxigraph.parse(data, fmt.oxigraph, base_iri=base_iri)
    try:
        return _serialize(quads, dataset=fmt.dataset)
    except SyntaxError as err:
        raise _syntax_error(err, data, fmt, name) from None
    except MemoryError as err:
        if "maximal size" not in str(err):  # the machine's memory, not the parser's token limit
            raise
        line = _first_line_longer_than(data, MAX_TERM_BYTES)
        where = f"{name}:{line}" if line else f"{name} (line unknown)"
        raise KGLoadError(
            f"{where}: a literal or IRI longer than {MAX_TERM_BYTES >> 20} MiB, more than the RDF parser takes: "
            "shorten that value or leave it out of the graph."
        ) from None
    except (ValueError, OSError) as err:
        raise KGLoadError(f"{name}: cannot parse as {fmt.name}: {_one_line(str(err))}.") from None


def graph_to_ntriples(graph: rdflib.Graph, *, name: str = "the rdflib graph", source: bytes = b"") -> io.BytesIO:
    """An in-memory rdflib graph as N-Triples (via Oxigraph again, for the same canonical terms).

    rdflib accepts terms that are not RDF (an IRI with a space, a bad language tag); such a
    term is named in a :class:`KGLoadError`, with its line in ``source`` (the text the graph
    was parsed from) when it occurs there.
    """
    import rdflib

    dataset = isinstance(graph, rdflib.ConjunctiveGraph | rdflib.Dataset)
    fmt = pyoxigraph.RdfFormat.N_QUADS if dataset else pyoxigraph.RdfFormat.N_TRIPLES
    try:
        text = graph.serialize(format="nquads" if dataset else "nt", encoding="utf-8")
        return _serialize(pyoxigraph.parse(text, fmt), dataset=dataset)
    except Exception as err:  # rdflib raises bare Exception for unserialisable terms, Oxigraph SyntaxError
        raise _invalid_term(graph, name, source) or KGLoadError(
            f"{name}: cannot convert the graph to RDF: {_one_line(str(err))}."
        ) from None


def _invalid_term(graph: rdflib.Graph, name: str, source: bytes) -> KGLoadError | None:
    """The error naming the first term of ``graph`` (by its place in ``source``) that is not valid RDF."""
    import rdflib

    found: list[tuple[int, str, str]] = []
    quads = graph.quads((None, None, None)) if hasattr(graph, "quads") else ((*t, None) for t in graph)
    for quad in quads:
        for term in quad:
            term = getattr(term, "identifier", term)  # a quad's graph comes as a Graph
            if (reason := _term_problem(term, rdflib)) is not None:
                at = source.find(str(term).encode("utf-8", "replace"))
                found.append((at if at >= 0 else len(source), str(term), reason))
    if not found:
        return None
    at, term, reason = min(found)
    where = f"{name}:{_line_of(source, at)}" if at < len(source) else name
    return KGLoadError(f"{where}: {term[:80]!r} {reason}; fix the file.")


def _term_problem(term: object, rdflib: object) -> str | None:
    """Why ``term`` is not valid RDF (Oxigraph's reason), or None."""
    try:
        if isinstance(term, rdflib.URIRef):
            pyoxigraph.NamedNode(str(term))
        elif isinstance(term, rdflib.Literal):
            datatype = pyoxigraph.NamedNode(str(term.datatype)) if term.datatype else None
            pyoxigraph.Literal(str(term), language=term.language, datatype=None if term.language else datatype)
    except ValueError as err:
        kind = "literal" if isinstance(term, rdflib.Literal) else "IRI"
        return f"is not a valid {kind} ({_one_line(str(err)).lower()})"
    return None


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Silence the warnings of logger ``name`` for the block."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class _PrologEnd(Exception):
    """The XML root element began: no declaration can follow."""


def _refuse_entity_declarations(data: bytes, name: str) -> None:
    """Refuse XML that declares entities, before any parser expands them.

    An entity may be defined by others many times over ("billion laughs": 1 KB expanding to
    gigabytes, which Oxigraph's parser does) or read another file (XXE); RDF never needs
    them. expat reads only the prolog here (stopping at the root element), in whatever
    encoding the document declares, and reports each declaration before any expansion.
    """
    parser = expat.ParserCreate()

    def declared(entity: str, *_: object) -> None:
        raise _entity_error(name, parser.CurrentLineNumber, entity)

    def root(*_: object) -> None:
        raise _PrologEnd

    parser.EntityDeclHandler = declared
    parser.StartElementHandler = root
    try:
        parser.Parse(data, True)
    except _PrologEnd:
        return
    except expat.ExpatError:  # a prolog expat rejects: fall back to looking for a declaration at all
        if (at := data.find(b"<!ENTITY")) >= 0:
            words = data[at + 8 : at + 72].split()
            entity = words[0].decode("utf-8", "replace") if words else ""
            raise _entity_error(name, _line_of(data, at), entity) from None


def _entity_error(name: str, line: int, entity: str) -> KGLoadError:
    return KGLoadError(
        f"{name}:{line}: the XML declares an entity ({entity!r}), which kgpeft refuses: entities can expand "
        "without bound or read other files; replace each &name; reference by its text and drop the <!DOCTYPE>."
    )


def _line_of(data: bytes, at: int) -> int:
    return data.count(b"\n", 0, at) + 1


def _first_line_longer_than(data: bytes, size: int) -> int | None:
    """The number of the first line of ``data`` longer than ``size`` bytes, if any."""
    ends = np.r_[-1, np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n")), len(data)]
    long_lines = np.flatnonzero(np.diff(ends) - 1 > size)
    return int(long_lines[0]) + 1 if long_lines.size else None


def _serialize(quads: pyoxigraph.QuadParser, *, dataset: bool) -> io.BytesIO:
    """The triples as N-Triples in a ``BytesIO``: unlike ``bytes``, its storage can be written
    in place (``getbuffer``) and then handed over as ``bytes`` without a copy (``getvalue``),
    which saves :func:`kgpeft.kg.triples.split_ntriples` two copies of the whole text."""
    triples = map(attrgetter("triple"), quads) if dataset else quads  # drop graph names: one merged graph
    output = io.BytesIO()
    pyoxigraph.serialize(triples, output, format=pyoxigraph.RdfFormat.N_TRIPLES)
    return output


def _rdflib_to_ntriples(data: bytes, fmt: RdfFormat, *, name: str) -> io.BytesIO:
    """Formats Oxigraph cannot read (TriX, HexTuples) go through rdflib, which fetches nothing for these."""
    import rdflib

    dataset = rdflib.Dataset()
    try:
        with _quiet("rdflib"):  # its warnings about bad terms would be a second line: the error names them
            dataset.parse(data=data, format=fmt.rdflib)
    except Exception as err:  # rdflib raises many unrelated types for malformed input
        message, line, column = _one_line(str(err)), None, None
        if found := re.match(r"\S*?:(\d+):(\d+): ", message):  # SAX style: "source:LINE:COLUMN: reason"
            line, column, message = found.group(1), found.group(2), message[found.end() :]
        elif found := re.search(r"line (\d+)", message):
            line = found.group(1)
        elif (found := re.search(r"'([^']+)'", message)) and (at := data.find(found.group(1).encode())) >= 0:
            line = str(_line_of(data, at))  # the message quotes the bad value: where it first occurs
        where = name + "".join(f":{part}" for part in (line, column) if part)
        raise KGLoadError(f"{where}: malformed {fmt.name}: {message}; fix the file or pass the right format.") from None
    return graph_to_ntriples(dataset, name=name, source=data)


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
        with _quiet("rdflib"):
            rdflib.Graph().parse(data=data, format="xml")
    except Exception as err:  # expat's message ends with ":LINE:COLUMN: reason"
        found = re.search(r":(\d+):(\d+):", str(err))
        if found:
            return int(found.group(1)), int(found.group(2)) + 1
    return None, None


def _one_line(text: str) -> str:
    return " ".join(text.split()).rstrip(".")
