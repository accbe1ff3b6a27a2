"""``SparqlGraph``: a knowledge graph kept in a SPARQL 1.1 store, asked as the stages need it.

The graph is split in two by size:

- **The catalogue** (entities, relations, labels, aliases, descriptions, attributes) is read
  once, in pages, and built by the same code that builds an in-memory graph
  (:func:`kgpeft.kg.build.build_graph`), so ids, labels and their disambiguation are exactly
  those of the file the store was loaded from. It is cached on disk under
  ``cache_dir("kg")``, keyed by the store's *identity* (see :meth:`SparqlClient.identity`).
  It holds what the store has of literals and the list of entities: O(entities) memory.
- **The adjacency** (entity-to-entity triples, the bulk of a large graph) stays in the store.
  Neighbour lists are fetched per entity in both directions, many entities per query (``VALUES``),
  with read-ahead for scans in id order, and kept in a bounded LRU cache.

Entity ids are the positions of entity IRIs in N-Triples term order, as in memory. Blank nodes
are left out: a SPARQL query cannot name a blank node it got from an earlier answer.

Only ``SELECT`` queries are sent (checked before sending): kgpeft never writes to a store.
Every query has a timeout (``KGPEFT_SPARQL_TIMEOUT`` seconds, default 60) and is retried
twice when the connection fails or the store is busy (HTTP 503); every failure is one
:class:`~kgpeft.errors.StoreError` line naming the URL.

>>> kg = SparqlGraph("http://127.0.0.1:7878/query")  # doctest: +SKIP
>>> kg.entity_label(kg.entity_by_iri("http://kgpeft.dev/countries/country/FRA"))  # doctest: +SKIP
'France'
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyoxigraph

from kgpeft.errors import StoreError
from kgpeft.kg import cache as graph_cache
from kgpeft.kg.base import Graph, split_by_step
from kgpeft.kg.build import build_graph
from kgpeft.kg.graph import EMPTY, KnowledgeGraph
from kgpeft.kg.labels import RDF_TYPE, fallback_label
from kgpeft.kg.triples import split_ntriples
from kgpeft.types import EntityId, Step

STORE_SCHEMES = ("http://", "https://", "sparql+http://", "sparql+https://")
PAGE = 100_000  # rows per catalogue page
BATCH = 256  # entities per neighbour query
PREFETCH_BATCH = 1024  # entities per neighbour query when a stage names them up front
FOLLOW_MEMO_MIN = 64  # entities in a set whose follow results are kept ...
FOLLOW_MEMO_SIZE = 32  # ... for this many of the latest sets and steps
CATALOGUE_VERSION = "3"  # 2: the entities with links; 3: the predicate counts
RETRIES = 2
ENDPOINT_WORDS = ("query", "sparql")  # the last path segment of Oxigraph's, Virtuoso's and Fuseki's endpoints
# An entity that no literal, type or sampled triple names is listed to the catalogue builder by
# one literal with this predicate: it makes the entity a node without inventing a relation.
MARKER = "urn:kgpeft:sparql-entity"
_READ_ONLY = re.compile(r"\A\s*(?:(?:PREFIX\s+\S*\s*<[^>]*>|BASE\s*<[^>]*>)\s*)*(?:SELECT|ASK)\b", re.IGNORECASE)

# The queries kgpeft sends (the README lists them too).
# Every load: a plain count per predicate is an index scan (0.5 s for 1M triples on Oxigraph);
# testing each term's kind, as COUNTS does, decodes every term (9 s): only when the catalogue is built.
INVENTORY = "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p"
COUNTS = """SELECT ?p (COUNT(*) AS ?n) (SUM(IF(isLiteral(?o), 1, 0)) AS ?literals)
  (SUM(IF(isIRI(?s) && isIRI(?o), 1, 0)) AS ?links) WHERE { ?s ?p ?o } GROUP BY ?p"""
ENTITIES = """SELECT DISTINCT ?e WHERE { { ?e ?p ?o FILTER(isIRI(?o)) } UNION { ?s ?p ?e FILTER(isIRI(?s)) }
  FILTER(isIRI(?e)) }"""
LITERALS = "SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER(isIRI(?s) && isLiteral(?o)) }"
TYPES = f"SELECT ?s ?o WHERE {{ ?s <{RDF_TYPE}> ?o FILTER(isIRI(?s) && isIRI(?o)) }}"
SAMPLE = "SELECT ?s ?o WHERE {{ ?s <{p}> ?o FILTER(isIRI(?s) && isIRI(?o)) }} LIMIT 1"
INCIDENT = """SELECT ?s ?p ?o WHERE {{ VALUES ?x {{ {values} }}
  {{ ?x ?p ?o BIND(?x AS ?s) }} UNION {{ ?s ?p ?x BIND(?x AS ?o) }} FILTER(isIRI(?s) && isIRI(?o)) }}"""
NEIGHBOUR_VARIABLES = ("e", "p", "o", "inverse")
NEIGHBOURS = """SELECT ?e ?p ?o ?inverse WHERE {{ VALUES ?e {{ {values} }}
  {{ ?e ?p ?o FILTER(isIRI(?o)) BIND(false AS ?inverse) }} UNION {{ ?o ?p ?e FILTER(isIRI(?o)) BIND(true AS ?inverse) }} }}"""
DEGREES = """SELECT ?e (COUNT(*) AS ?d) WHERE {
  { ?e ?p ?o FILTER(isIRI(?o)) } UNION { ?o ?p ?e FILTER(isIRI(?o)) } FILTER(isIRI(?e)) } GROUP BY ?e"""


def is_store_url(source: object) -> bool:
    """Whether ``source`` names a SPARQL endpoint (``http(s)://...`` or ``sparql+http(s)://...``) rather than a file."""
    return isinstance(source, str) and source.lower().startswith(STORE_SCHEMES)


def endpoint_url(source: str) -> str:
    """The HTTP URL of a store source: ``sparql+http://h/q`` -> ``http://h/q``."""
    return source[len("sparql+") :] if source.lower().startswith("sparql+") else source


class SparqlClient:
    """SELECT queries over the SPARQL 1.1 protocol (form-encoded POST, JSON results), with timeout and retries."""

    def __init__(self, url: str, *, timeout: float | None = None, retries: int = RETRIES) -> None:
        self.url = endpoint_url(url)
        if timeout is None:
            timeout = _timeout_from_environment()
        self.timeout = timeout
        self.retries = retries
        self.queries = 0  # sent so far: benchmarks and tests read it

    def select(self, query: str) -> list[dict[str, dict[str, str]]]:
        """The result rows of a SELECT query, each ``{variable: {"type": ..., "value": ...}}``."""
        payload = self._post(query, "application/sparql-results+json")
        try:
            rows = json.loads(payload)["results"]["bindings"]
            if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
                raise TypeError("bindings is not a list of rows")
        except (ValueError, KeyError, TypeError) as err:
            raise StoreError(
                f"{self.url}: the answer is not SPARQL JSON results ({_one_line(str(err))}); "
                "check that the URL is the store's SPARQL query endpoint (Oxigraph: /query)."
            ) from None
        return rows

    def table(self, query: str, variables: tuple[str, ...]) -> list[list[str]]:
        """The result rows of a SELECT query in the SPARQL TSV format: one list of terms (N-Triples syntax) per row.

        For the bulk of what is read (neighbour lists): TSV is several times smaller than JSON,
        and splitting lines is faster than decoding JSON objects.
        """
        lines = self._post(query, "text/tab-separated-values").decode("utf-8", "replace").split("\n")
        if lines[0].rstrip("\r").split("\t") != [f"?{v}" for v in variables]:
            raise StoreError(
                f"{self.url}: the answer is not SPARQL TSV results with variables {', '.join(variables)} "
                f"(it begins {_one_line(lines[0], 80)!r}); check that the URL is the store's SPARQL query endpoint."
            )
        rows = [line.rstrip("\r").split("\t") for line in lines[1:] if line]
        if any(len(row) != len(variables) for row in rows):
            raise StoreError(f"{self.url}: a row of the store's TSV results does not have {len(variables)} columns.")
        return rows

    def _post(self, query: str, accept: str) -> bytes:
        """The store's answer to ``query`` in the format ``accept``: timeout, retries, one line per failure."""
        if not _READ_ONLY.match(query):  # kgpeft reads stores, never writes them
            raise ValueError(f"refusing to send a query that is not SELECT or ASK: {query[:60]!r}")
        body = urllib.parse.urlencode({"query": query}).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            headers={"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"},
        )
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    payload = response.read()
                break
            except urllib.error.HTTPError as err:
                if err.code == 503 and attempt < self.retries:  # busy: worth another try
                    time.sleep(0.5 * 2**attempt)
                    continue
                raise StoreError(f"{self.url}: the store refused a query: {_http_reason(err)}") from None
            except TimeoutError:
                raise StoreError(
                    f"{self.url}: the store did not answer within {self.timeout:g} s; "
                    "check that it is not overloaded, or raise KGPEFT_SPARQL_TIMEOUT (seconds)."
                ) from None
            except (urllib.error.URLError, OSError) as err:
                reason = getattr(err, "reason", err)
                if isinstance(reason, TimeoutError | socket.timeout):
                    raise StoreError(
                        f"{self.url}: the store did not answer within {self.timeout:g} s; "
                        "check that it is not overloaded, or raise KGPEFT_SPARQL_TIMEOUT (seconds)."
                    ) from None
                if attempt < self.retries:
                    time.sleep(0.5 * 2**attempt)
                    continue
                raise StoreError(
                    f"{self.url}: no SPARQL store answers there ({_one_line(str(reason))}); "
                    "start the store, or check the host and port in --kg."
                ) from None
        self.queries += 1
        return payload

    def pages(self, query: str, page: int = PAGE) -> Iterator[dict[str, dict[str, str]]]:
        """All rows of ``query``, read ``page`` rows at a time (LIMIT/OFFSET over the store's stable order)."""
        offset = 0
        while True:
            rows = self.select(f"{query} LIMIT {page} OFFSET {offset}")
            yield from rows
            if len(rows) < page:
                return
            offset += page


def _timeout_from_environment() -> float:
    text = os.environ.get("KGPEFT_SPARQL_TIMEOUT", "60")
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise StoreError(f"KGPEFT_SPARQL_TIMEOUT={text!r} is not a positive number of seconds; set it to e.g. 60.")
    return value


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _http_reason(err: urllib.error.HTTPError) -> str:
    """``HTTP 400 Bad Request: <the store's own message, on one line>``."""
    try:
        message = err.read(4096).decode("utf-8", "replace")
    except OSError:
        message = ""
    hint = "; check the endpoint path in --kg (Oxigraph serves SPARQL at /query)" if err.code == 404 else ""
    return _one_line(f"HTTP {err.code} {err.reason}: {message}".rstrip(": ")) + hint


def _ntriples(term: dict[str, str]) -> str:
    """A SPARQL JSON term in N-Triples, as Oxigraph writes it (so the catalogue parses like a file)."""
    kind, value = term.get("type"), term.get("value", "")
    if kind == "uri":
        return str(pyoxigraph.NamedNode(value))
    if kind in ("literal", "typed-literal"):
        if "xml:lang" in term:
            return str(pyoxigraph.Literal(value, language=term["xml:lang"]))
        if "datatype" in term:
            return str(pyoxigraph.Literal(value, datatype=pyoxigraph.NamedNode(term["datatype"])))
        return str(pyoxigraph.Literal(value))
    raise ValueError(f"unexpected term {term!r}")


def _values(iris: Iterable[str]) -> str:
    return " ".join(str(pyoxigraph.NamedNode(iri)) for iri in iris)


def store_identity(client: SparqlClient) -> str:
    """The store's identity (its ``sha256``): a hash of the URL and every predicate's triple count.

    One cheap aggregate query; it changes with any insertion or deletion that adds or removes
    a triple of some predicate.
    """
    counts = _counts(client, INVENTORY, ("n",))
    return hashlib.sha256(json.dumps([client.url, sorted(counts.items())]).encode()).hexdigest()


def _counts(client: SparqlClient, query: str, columns: tuple[str, ...]) -> dict[str, list[int]]:
    """Per predicate, the numbers in ``columns`` of an aggregate query's answer."""
    try:
        return {row["p"]["value"]: [int(row[c]["value"]) for c in columns] for row in client.select(query)}
    except (KeyError, ValueError, TypeError):
        raise StoreError(
            f"{client.url}: the store's predicate counts are not numbers; is this a SPARQL store?"
        ) from None


class SparqlGraph(Graph):
    """A knowledge graph served by a SPARQL 1.1 endpoint, with the in-memory graph's ids and labels.

    ``cache_entities`` bounds the neighbour-list cache (entities whose lists are kept);
    ``cache=False`` rebuilds the catalogue instead of reading it from disk.

    >>> kg = SparqlGraph("http://127.0.0.1:7878/query")  # doctest: +SKIP
    >>> kg.neighbors(kg.entity_by_label("France"), kg.relation_by_label("located in"))  # doctest: +SKIP
    array([...])
    """

    def __init__(
        self,
        url: str,
        *,
        language: str = "en",
        cache: bool = True,
        timeout: float | None = None,
        cache_entities: int = 100_000,
    ) -> None:
        self.client = SparqlClient(url, timeout=timeout)
        self.source = url
        self.sha256 = store_identity(self.client)
        entry = (
            graph_cache.cache_path(self.sha256.encode(), kind="sparql", catalogue=CATALOGUE_VERSION, language=language)
            if cache
            else None
        )
        catalogue = graph_cache.load(entry) if entry is not None else None
        if catalogue is None:
            catalogue = self._build_catalogue(language)
            if entry is not None:
                graph_cache.save(entry, catalogue)
        self.catalogue = catalogue
        # Per predicate: (triples, literal triples, entity links), counted when the catalogue was built.
        self.predicate_counts = {p: tuple(n) for p, n in catalogue.meta["predicate_counts"].items()}
        self.num_entities = catalogue.num_entities
        self.num_relations = catalogue.num_relations
        self.num_steps = catalogue.num_steps
        self.num_triples = sum(links for _, _, links in self.predicate_counts.values())
        self._relation_of = {catalogue.relation_iri(r): r for r in range(self.num_relations)}
        self._adjacency: OrderedDict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_entities = cache_entities
        self._follows: OrderedDict[tuple[int, bytes], np.ndarray] = OrderedDict()  # see follow
        self._last_miss = -2  # the last entity fetched: read-ahead starts when misses come in id order
        linked = np.frombuffer(base64.b64decode(catalogue.meta["linked"]), dtype=np.uint8)
        self._linked = np.flatnonzero(np.unpackbits(linked, count=self.num_entities))

    def __repr__(self) -> str:
        return (f"SparqlGraph(source={self.source!r}, entities={self.num_entities}, "
                f"relations={self.num_relations}, triples={self.num_triples}, sha256={self.sha256[:12]})")  # fmt: skip

    # ----------------------------------------------------------------- the catalogue

    def _build_catalogue(self, language: str) -> KnowledgeGraph:
        """The names of the graph, built from literal, ``rdf:type`` and one sampled triple per relation.

        Those triples, as N-Triples, go through the file loader's own interning and building,
        so labels, disambiguation and ids come out as for the file.
        """
        self.predicate_counts = _counts(self.client, COUNTS, ("n", "literals", "links"))
        relations = sorted((iri for iri, (_, _, links) in self.predicate_counts.items() if links), key=_term_key)
        if not relations:
            raise StoreError(
                f"{self.client.url}: the store holds no triple linking two IRIs: "
                "kgpeft needs entity-to-entity triples (check that the graph was loaded into the default graph)."
            )
        lines: list[str] = []
        named: set[str] = set()
        for row in self.client.pages(LITERALS):
            lines.append(f"{_ntriples(row['s'])} {_ntriples(row['p'])} {_ntriples(row['o'])} .")
            named.add(row["s"]["value"])
        edges = [(row["s"], {"type": "uri", "value": RDF_TYPE}, row["o"]) for row in self.client.pages(TYPES)]
        for p in relations:  # every relation needs one triple to be one, in its place among the relations
            edges += [
                (row["s"], {"type": "uri", "value": p}, row["o"]) for row in self.client.select(SAMPLE.format(p=p))
            ]
        entities = [row["e"]["value"] for row in self.client.pages(ENTITIES)]
        # An entity that is also a predicate is an entity only through its own entity-to-entity triples.
        predicates = [iri for iri in entities if iri in self.predicate_counts]
        for start in range(0, len(predicates), BATCH):
            query = INCIDENT.format(values=_values(predicates[start : start + BATCH]))
            edges += [(row["s"], row["p"], row["o"]) for row in self.client.select(query)]
        for s, p, o in edges:
            lines.append(f"{_ntriples(s)} {_ntriples(p)} {_ntriples(o)} .")
            named.update((s["value"], o["value"]))
        lines += [f'{_ntriples({"type": "uri", "value": e})} <{MARKER}> "" .' for e in entities if e not in named]
        triples = split_ntriples(io.BytesIO("\n".join(sorted(set(lines))).encode() + b"\n"))
        catalogue = build_graph(triples, language=language, source=self.source, sha256=self.sha256)
        catalogue.meta["num_literal_triples"] = sum(lit for _, lit, _ in self.predicate_counts.values())
        catalogue.meta["predicate_counts"] = self.predicate_counts
        # The entities with an entity-to-entity triple (the ENTITIES answer), one bit each: the
        # topics question synthesis scans for, known without asking the store for every entity.
        linked = np.zeros(catalogue.num_entities, dtype=bool)
        linked[[catalogue.entity_by_iri(e) for e in entities]] = True
        catalogue.meta["linked"] = base64.b64encode(np.packbits(linked).tobytes()).decode()
        return catalogue

    # ----------------------------------------------------------------- names: from the catalogue

    def entity_iri(self, e: EntityId) -> str:
        return self.catalogue.entity_iri(e)

    def relation_iri(self, r: int) -> str:
        return self.catalogue.relation_iri(r)

    def entity_label(self, e: EntityId) -> str:
        return self.catalogue.entity_label(e)

    def relation_label(self, r: int) -> str:
        return self.catalogue.relation_label(r)

    def entity_aliases(self, e: EntityId) -> list[str]:
        return self.catalogue.entity_aliases(e)

    def entity_description(self, e: EntityId) -> str | None:
        return self.catalogue.entity_description(e)

    def entity_attributes(self, e: EntityId) -> list[tuple[str, str]]:
        marker = fallback_label(MARKER)
        return [(p, text) for p, text in self.catalogue.entity_attributes(e) if (p, text) != (marker, "")]

    def relation_literals(self, r: int, predicate_iri: str) -> list[str]:
        return self.catalogue.relation_literals(r, predicate_iri)

    def entity_by_iri(self, iri: str) -> EntityId | None:
        return self.catalogue.entity_by_iri(iri)

    def entity_by_label(self, label: str) -> EntityId | None:
        return self.catalogue.entity_by_label(label)

    def entities_by_name(self, name: str) -> list[EntityId]:
        return self.catalogue.entities_by_name(name)

    def relation_by_label(self, label: str) -> int | None:
        return self.catalogue.relation_by_label(label)

    # ----------------------------------------------------------------- adjacency: from the store

    def steps_from(self, e: EntityId) -> np.ndarray:
        return self._lists([self._entity(e)])[0].steps

    def neighbors(self, e: EntityId, step: Step) -> np.ndarray:
        return self._lists([self._entity(e)])[0].by_step.get(self._step(step), EMPTY)

    def steps_of(self, entities: Iterable[EntityId] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # One batched fetch for the lists not cached, not one request per entity.
        lists = self._lists(self._entities(entities).tolist())
        owner = np.repeat(np.arange(len(lists)), [len(one.steps) for one in lists])
        steps = np.concatenate([*(one.steps for one in lists), EMPTY]).astype(np.int64)
        counts = [len(one.by_step[step]) for one in lists for step in one.steps.tolist()]
        return owner, steps, np.array(counts, dtype=np.int64)

    def follow(self, entities: Iterable[EntityId] | np.ndarray, step: Step) -> np.ndarray:
        step = self._step(step)
        ents = self._entities(entities)
        # A large set costs a Python step per entity here (one array operation in memory), and
        # rendering asks the same one again for every answer it grounds: such results are kept.
        key = (step, ents.tobytes()) if len(ents) > FOLLOW_MEMO_MIN else None
        if key is not None and (found := self._follows.get(key)) is not None:
            return found
        reached = [t for lists in self._lists(ents.tolist()) if (t := lists.by_step.get(step)) is not None]
        if len(reached) == 1:  # one entity's list is already sorted and unique
            return reached[0]
        found = np.unique(np.concatenate(reached)) if reached else EMPTY
        if key is not None:
            found.flags.writeable = False
            self._follows[key] = found
            while len(self._follows) > FOLLOW_MEMO_SIZE:
                self._follows.popitem(last=False)
        return found

    def linked_entities(self) -> np.ndarray:
        return self._linked

    def forget(self) -> None:
        """Drop every neighbour list and kept result, as a new process starts (benchmarks measure that)."""
        self._adjacency.clear()
        self._follows.clear()

    def prefetch(self, entities: Iterable[EntityId] | np.ndarray, hops: int) -> None:
        """Fetch the neighbour lists within ``hops`` steps of ``entities``, breadth-first, many entities per query.

        Stops at the neighbour cache's bound: past it, fetching would evict what it fetched.
        """
        frontier = seen = self._entities(entities)
        budget = self._cache_entities
        for hop in range(hops + 1):
            missing = [e for e in frontier.tolist() if e not in self._adjacency][:budget]
            budget -= len(missing)
            for start in range(0, len(missing), PREFETCH_BATCH):
                self._fetch(missing[start : start + PREFETCH_BATCH])
            self._evict(len(frontier))
            if hop == hops or budget <= 0:
                return
            frontier = np.setdiff1d(self._around(frontier), seen)
            seen = np.union1d(seen, frontier)

    def _expand(self, ents: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        lists = self._lists(ents.tolist())
        if len(lists) == 1:  # one entity: its lists are the endpoint sets
            yield from lists[0].by_step.items()
            return
        if not any(len(one.targets) for one in lists):
            return
        steps = np.concatenate([one.target_steps for one in lists])
        targets = np.concatenate([one.targets for one in lists])
        yield from split_by_step(steps, targets, self.num_entities)

    def _step_set(self, ents: np.ndarray) -> list[int]:
        lists = self._lists(ents.tolist())
        if len(lists) == 1:
            return lists[0].steps.tolist()
        return np.unique(np.concatenate([one.steps for one in lists])).tolist()

    def _around(self, ents: np.ndarray) -> np.ndarray:
        return np.concatenate([one.targets for one in self._lists(ents.tolist())] + [EMPTY])

    def _lists(self, ents: list[int]) -> list[_Lists]:
        """Per entity, its neighbour lists."""
        missing = [e for e in dict.fromkeys(ents) if e not in self._adjacency]
        if len(missing) == 1 and missing[0] - 1 == self._last_miss:
            # A scan in id order (question synthesis, edge lists) will ask the next ones soon;
            # random access (answering a question) does not, and must not pay for them.
            ahead = range(missing[0] + 1, min(missing[0] + BATCH, self.num_entities))
            missing += [e for e in ahead if e not in self._adjacency]
        if missing:
            self._last_miss = missing[-1]
        for start in range(0, len(missing), BATCH):
            self._fetch(missing[start : start + BATCH])
        found = []
        for e in ents:
            self._adjacency.move_to_end(e)
            found.append(self._adjacency[e])
        self._evict(len(ents))
        return found

    def _evict(self, in_use: int) -> None:
        """Drop the least recently used lists beyond the cache's bound (never the ``in_use`` just asked for)."""
        while len(self._adjacency) > max(self._cache_entities, in_use):
            self._adjacency.popitem(last=False)

    def _fetch(self, ents: list[int]) -> None:
        """Neighbour lists of ``ents`` in both directions, one query."""
        rows = self.client.table(
            NEIGHBOURS.format(values=_values(self.entity_iri(e) for e in ents)), NEIGHBOUR_VARIABLES
        )
        entity_of, relation_of = self.catalogue.entity_by_iri, self._relation_of.get
        found = np.empty((len(rows), 3), dtype=np.int64)  # (rows, 3) entity, step, target
        for i, (e_term, p_term, o_term, inverse) in enumerate(rows):
            # Terms in N-Triples syntax: an IRI is <...>; a boolean is true or "true"^^xsd:boolean.
            e, r, o = entity_of(e_term[1:-1]), relation_of(p_term[1:-1]), entity_of(o_term[1:-1])
            if e is None or r is None or o is None:
                raise StoreError(
                    f"{self.client.url}: the store holds a triple its catalogue does not know "
                    f"({e_term} {p_term} {o_term}): it changed while in use; run again."
                )
            found[i] = e, r + self.num_relations if inverse.lstrip('"').startswith("true") else r, o
        order = np.lexsort((found[:, 2], found[:, 1], found[:, 0]))
        table = found[order]
        if len(table):  # a store may answer a triple twice (in two named graphs of its default graph)
            table = table[np.r_[True, np.any(table[1:] != table[:-1], axis=1)]]
        table.flags.writeable = False  # lists are handed out as they are: no caller may change the cache
        for e in ents:
            lo, hi = np.searchsorted(table[:, 0], [e, e + 1])
            self._adjacency[e] = _Lists(table[lo:hi, 1], table[lo:hi, 2])

    # ----------------------------------------------------------------- statistics

    def stats(self, top_relations: int = 10) -> dict[str, Any]:
        """What :func:`kgpeft.kg.stats.graph_stats` reports, from the store's counts and the catalogue."""
        degree = np.zeros(self.num_entities, dtype=np.int64)
        for row in self.client.pages(DEGREES):
            if (e := self.catalogue.entity_by_iri(row["e"]["value"])) is not None:
                degree[e] = int(row["d"]["value"])
        per_relation = [self.predicate_counts[self.relation_iri(r)][2] for r in range(self.num_relations)]
        meta = self.catalogue.meta
        return {
            "entities": self.num_entities,
            "relations": self.num_relations,
            "triples": self.num_triples,
            "literal_triples": meta["num_literal_triples"],
            "label_coverage": meta["num_labelled"] / max(self.num_entities, 1),
            "description_coverage": meta["num_described"] / max(self.num_entities, 1),
            "aliases": len(self.catalogue.alias_value),
            "degree": degree,
            "per_relation": np.array(per_relation, dtype=np.int64),
        }


class _Lists:
    """One entity's neighbour lists: its sorted steps and, per step, the sorted targets.

    ``target_steps`` and ``targets`` are the (step, target) pairs in order, for set-wide expansion.
    """

    __slots__ = ("by_step", "steps", "target_steps", "targets")

    def __init__(self, target_steps: np.ndarray, targets: np.ndarray) -> None:
        self.target_steps, self.targets = target_steps, targets
        bounds = np.flatnonzero(np.r_[True, target_steps[1:] != target_steps[:-1], True]) if len(targets) else [0]
        self.steps = target_steps[bounds[:-1]]
        self.by_step = {
            int(step): targets[a:b] for step, a, b in zip(self.steps.tolist(), bounds[:-1], bounds[1:], strict=True)
        }


def _term_key(iri: str) -> bytes:
    """Sort key of an IRI as the file loader orders terms: its N-Triples bytes (``<`` and ``>`` included)."""
    return f"<{iri}>".encode()


def store_name(url: str) -> str:
    """A folder name for what is trained on a store: its host, port and dataset path, without the endpoint's own word.

    >>> store_name("http://127.0.0.1:7878/query"), store_name("sparql+https://example.org:3030/wiki/sparql")
    ('store-127.0.0.1-7878', 'store-example.org-3030-wiki')
    """
    parts = urllib.parse.urlsplit(endpoint_url(url))
    segments = [segment for segment in parts.path.split("/") if segment]
    if segments and segments[-1].lower() in ENDPOINT_WORDS:  # the same for every store of that kind: no name
        segments.pop()
    words = [parts.hostname or "", str(parts.port or ""), *segments]
    # Only characters safe in a folder name on every system; "store-" says where the graph was.
    return "-".join(["store", *(w for word in words if (w := re.sub(r"[^A-Za-z0-9._]+", "_", word).strip("._")))])
