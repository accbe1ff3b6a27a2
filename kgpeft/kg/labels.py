"""Human-readable names for entities and relations: the words the LLM reads in path text.

A label comes from a label property (``rdfs:label``, ``skos:prefLabel``, ``schema:name``,
``foaf:name``) in the preferred language, else from the IRI's local name made readable
(``locatedIn`` -> ``located in``). Labels are made safe for path text (no newlines, no
arrows) and unique (``Kingston (Jamaica)`` / ``Kingston (Norfolk Island)``), because a
generated path is mapped back to the graph by its labels.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import numpy as np

RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SCHEMAS = ("http://schema.org/", "https://schema.org/")
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

# In order of precedence when one entity has several in the same language.
LABEL_PREDICATES = (
    f"{RDFS}label",
    f"{SKOS}prefLabel",
    *(f"{s}name" for s in SCHEMAS),
    "http://xmlns.com/foaf/0.1/name",
)
ALIAS_PREDICATES = (f"{SKOS}altLabel", *(f"{s}alternateName" for s in SCHEMAS))
DESCRIPTION_PREDICATES = (
    f"{RDFS}comment",
    *(f"{s}description" for s in SCHEMAS),
    "http://purl.org/dc/terms/description",
    "http://purl.org/dc/elements/1.1/description",
    f"{SKOS}definition",
)

_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.DOTALL)
_SIMPLE_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def literal_texts(terms: list[bytes]) -> list[str]:
    """The texts of many N-Triples literals at once (one decode; escapes handled where present).

    >>> literal_texts([b'"Paris"@en', b'"a\\"b"'])
    ['Paris', 'a"b']
    """
    heads = [term[1 : term.rindex(b'"')] for term in terms]
    return body_texts(b"\n".join(heads)) if heads else []


def body_texts(bodies: bytes) -> list[str]:
    """The texts of N-Triples literal bodies (what is between the quotes), one per line.

    N-Triples escapes newlines inside literals, so a newline can join and split them.

    >>> body_texts(b'Paris\\na\\\\"b')
    ['Paris', 'a"b']
    """
    texts = bodies.decode("utf-8").split("\n")
    if b"\\" in bodies:
        for i in [i for i, text in enumerate(texts) if "\\" in text]:
            texts[i] = _ESCAPE.sub(_unescape, texts[i])
    return texts


def ntriples_literal(text: str) -> bytes:
    """``text`` as a plain N-Triples literal (what :func:`literal_texts` reads back)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'.encode()


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1) or match.group(2)
    return chr(int(code, 16)) if code else _SIMPLE_ESCAPES.get(match.group(3), match.group(3))


def language_ranks(text: np.ndarray, start: np.ndarray, end: np.ndarray, language: str) -> np.ndarray:
    """How well each of many literals suits ``language``: 0 for the preferred language, 1 for a
    regional variant of it (same primary subtag), 2 for untagged, 3 for others.

    Read from what follows each literal's closing quote, ``text[start[i]:end[i]]`` (``@tag``,
    ``^^<datatype>`` or nothing), in numpy: a graph has as many of these as labels.

    >>> text = np.frombuffer(b'"a"@en "b"@en-gb "c" "d"@de "e"^^<x>', dtype=np.uint8)
    >>> language_ranks(text, np.array([3, 10, 20, 24, 31]), np.array([6, 16, 20, 27, 36]), "en").tolist()
    [0, 1, 2, 3, 2]
    """
    primary = language.split("-")[0]
    rank = np.full(len(start), 3, dtype=np.int64)
    rank[~_starts_with(text, start, end, "@", whole=False)] = 2
    rank[_starts_with(text, start, end, f"@{primary}", whole=True)] = 1
    rank[_starts_with(text, start, end, f"@{primary}-", whole=False)] = 1
    rank[_starts_with(text, start, end, f"@{language}", whole=True)] = 0
    return rank


def _starts_with(text: np.ndarray, start: np.ndarray, end: np.ndarray, prefix: str, *, whole: bool) -> np.ndarray:
    """Whether each ``text[start[i]:end[i]]`` starts with ``prefix`` (is all of it, if ``whole``)."""
    pattern = prefix.encode()
    length = end - start
    rows = np.flatnonzero(length == len(pattern) if whole else length >= len(pattern))
    for offset, byte in enumerate(pattern):  # each byte is compared only where the earlier ones matched
        rows = rows[text[start[rows] + offset] == byte]
    found = np.zeros(len(start), dtype=bool)
    found[rows] = True
    return found


def local_name(iri: str) -> str:
    """The last meaningful segment of an IRI: after ``#``, else the last ``/`` or ``:``.

    >>> local_name("http://kgpeft.dev/countries/region/Western_Europe"), local_name("urn:isbn:0451450523")
    ('Western_Europe', '0451450523')
    """
    for separator in ("#", "/", ":"):
        head, _, tail = iri.rstrip("/#").rpartition(separator)
        if head and tail:
            return unquote(tail)
    return iri


def readable(name: str) -> str:
    """A local name as words: separators become spaces, camelCase is split.

    Names that start lower-case are property- or class-like (``locatedIn``) and read in
    lower case; capitalised ones are proper names (``NewYork``) and keep their case.

    >>> readable("locatedIn"), readable("Western_Europe"), readable("hasISBNCode")
    ('located in', 'Western Europe', 'has ISBN code')
    """
    if name.isalnum() and name[1:] == name[1:].lower():  # one plain word: nothing to split (the common case)
        return name
    words = [w for part in re.split(r"[\s_\-.+]+", name) for w in _CAMEL.split(part) if w]
    if words and words[0][:1].islower():
        words = [w if w.isupper() and len(w) > 1 else w.lower() for w in words]
    return " ".join(words) or name


def sanitize(text: str) -> str:
    """One line without path-text arrows, so a label can never break a rendered path apart.

    >>> sanitize("A ->\\n B <- C")
    'A → B ← C'
    """
    return " ".join(text.replace("->", "→").replace("<-", "←").split())


def sanitize_all(texts: list[str]) -> list[str]:
    """:func:`sanitize` applied to many texts, in C-level passes: odd spacing and arrows are
    rare, so each is looked for once in all texts together, and fixed only if found.

    >>> sanitize_all(["ok", " padded", "a -> b", "x\ty"])
    ['ok', 'padded', 'a → b', 'x y']
    """
    joined = " ".join(texts)
    if " ".join(joined.split()) != joined:  # some text has other spacing than single spaces between words
        texts = list(map(" ".join, map(str.split, texts)))
        joined = " ".join(texts)
    if "->" in joined or "<-" in joined:
        texts = [text.replace("->", "→").replace("<-", "←") for text in texts]
    return texts


def fallback_label(term: str) -> str:
    """The label of a term without label literals: its IRI's local name, made readable."""
    if term.startswith("_:"):  # a canonical name (see hashing.py): its start tells it apart
        return f"blank node {term[3:15]}"
    return sanitize(readable(local_name(term))) or term


def qualifier_from_iri(term: str, label: str) -> str:
    """What an IRI adds to a label: ``.../Kingston_Jamaica`` for ``Kingston`` gives ``Jamaica``."""
    words = readable(local_name(term)) if not term.startswith("_:") else term[2:10]
    if words.casefold().startswith(label.casefold()):
        words = words[len(label) :]
    return sanitize(words.strip(" ()[],;:-_"))


def disambiguate(labels: list[str], qualifiers: Callable[[int], list[str]]) -> list[str]:
    """Make ``labels`` unique (ignoring case) by appending ``(qualifier)`` to colliding ones.

    Each member of a group of equal labels takes the first of its ``qualifiers(i)`` that no
    other member of the group offers; members left without one are numbered in index order.
    Deterministic: the result depends only on the labels, the qualifiers and the order.

    >>> disambiguate(["Georgia", "Georgia", "Paris"], lambda i: [["country", "US state"][i]])
    ['Georgia (country)', 'Georgia (US state)', 'Paris']
    """
    keys = list(map(str.casefold, labels))
    counts = Counter(keys)
    if len(counts) == len(keys):  # all distinct already (the common case)
        return list(labels)
    taken = {key for key, n in counts.items() if n == 1}
    groups: dict[str, list[int]] = defaultdict(list)
    if len(taken) < len(counts):  # some labels repeat
        for index, key in enumerate(keys):
            if key not in taken:
                groups[key].append(index)
    result = list(labels)
    for members in groups.values():
        offered = {i: [q for q in dict.fromkeys(qualifiers(i)) if q] for i in members}
        counts: dict[str, int] = defaultdict(int)
        for options in offered.values():
            for q in options:
                counts[q.casefold()] += 1
        numbered = 0
        for i in members:
            unique = next((q for q in offered[i] if counts[q.casefold()] == 1), None)
            if unique is None:
                numbered += 1
                unique = str(numbered)
            result[i] = _free(f"{labels[i]} ({unique})", taken)
    return result


def _free(label: str, taken: set[str]) -> str:
    """``label``, or ``label (2)``, ``(3)``... if a label that is already taken reads the same."""
    candidate, n = label, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{label} ({n})"
    taken.add(candidate.casefold())
    return candidate


def namespace_qualifier(iri: str) -> list[str]:
    """Qualifiers for a relation label: the IRI's host, then its namespace path."""
    parts = urlsplit(iri)
    namespace = iri[: len(iri) - len(local_name(iri))].rstrip("/#:")
    return [parts.netloc, namespace.rsplit("/", 1)[-1]]
