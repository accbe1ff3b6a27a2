"""Entity linking: which graph entities a question is about.

Exact matching first: the question's word n-grams, longest first, against every
entity's label and aliases (case- and accent-insensitive). Only when nothing matches
exactly, fuzzy matching (rapidfuzz) of the n-grams against the same names catches typos.
Candidates come ranked with scores, and a result whose two best candidates score within
a margin is flagged ambiguous rather than silently resolved.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from kgpeft.types import EntityId

if TYPE_CHECKING:
    from kgpeft.kg import KnowledgeGraph

LABEL_SCORE = 1.0
ALIAS_SCORE = 0.9
FUZZY_SCALE = 0.8  # a fuzzy match scores at most this, below any exact one
_WORD_RE = re.compile(r"\w+")
_MIN_FUZZY_CHARS = 4  # shorter n-grams ("in", "is") match too many short names by chance


@dataclass(frozen=True)
class Candidate:
    """An entity a question may be about, and why: the mention, how it matched, its score in [0, 1]."""

    entity: EntityId
    label: str
    score: float
    mention: str
    method: str  # "label", "alias" or "fuzzy"


@dataclass(frozen=True)
class LinkResult:
    """Candidates, best first; ``ambiguous`` when the best two are within the linker's margin."""

    candidates: list[Candidate] = field(default_factory=list)
    ambiguous: bool = False

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


def normalize(text: str) -> tuple[str, ...]:
    """Words of ``text`` with case and accents removed.

    >>> normalize("Côte d'Ivoire")
    ('cote', 'd', 'ivoire')
    """
    # ASCII has no accents to strip: the common case skips the per-character pass (the linker
    # normalises every label and alias of the graph, so this is most of its index's cost).
    stripped = (
        text
        if text.isascii()
        else "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    )
    return tuple(_WORD_RE.findall(stripped.casefold()))


def _is_code(name: str) -> bool:
    """Short all-capital names ("US", "IN") match only with their case: "in" is not India."""
    return len(name) <= 3 and name.isupper()


class EntityLinker:
    """Links question text to entities of one graph.

    >>> linker = EntityLinker(kg)  # doctest: +SKIP
    >>> linker.link("What is the capital of Germany?").top.label  # doctest: +SKIP
    'Germany'
    """

    def __init__(self, kg: KnowledgeGraph, *, margin: float = 0.05, fuzzy_cutoff: float = 85.0, limit: int = 10):
        self.kg = kg
        self.margin = margin
        self.fuzzy_cutoff = fuzzy_cutoff
        self.limit = limit
        self._indexed = False

    def _index(self) -> None:
        """Index every label and alias, on first use: it costs a pass over all entities, which a
        caller that never links (a question file naming its topics by IRI) should not pay."""
        if self._indexed:
            return
        kg = self.kg
        # name words -> {entity: (score, method)}; codes are keyed by their exact words instead.
        self._exact: dict[tuple[str, ...], dict[EntityId, tuple[float, str]]] = defaultdict(dict)
        self._codes: dict[tuple[str, ...], dict[EntityId, tuple[float, str]]] = defaultdict(dict)
        for entity in range(kg.num_entities):
            names = [(kg.entity_label(entity), LABEL_SCORE, "label")]
            names += [(alias, ALIAS_SCORE, "alias") for alias in kg.entity_aliases(entity)]
            for name, score, method in names:
                index, key = (self._codes, tuple(name.split())) if _is_code(name) else (self._exact, normalize(name))
                if key and index[key].get(entity, (0.0,))[0] < score:
                    index[key][entity] = (score, method)
        self._max_words = max((len(k) for k in (*self._exact, *self._codes)), default=1)
        # Fuzzy matching compares joined words; one row per (name, entity) pair.
        self._fuzzy_names = [" ".join(k) for k, hits in self._exact.items() for _ in hits]
        self._fuzzy_targets = [(e, score) for hits in self._exact.values() for e, (score, _) in hits.items()]
        self._indexed = True

    def link(self, text: str) -> LinkResult:
        """Candidate topic entities mentioned in ``text``, best first."""
        self._index()
        words = [(m.group(), normalize(m.group())) for m in _WORD_RE.finditer(text)]
        spans = [(original, "".join(norm)) for original, norm in words if norm]
        best = self._exact_matches(spans) or self._fuzzy_matches(spans)
        ranked = sorted(best.values(), key=lambda c: (-c.score, -len(c.mention), c.label))[: self.limit]
        ambiguous = len(ranked) > 1 and ranked[0].score - ranked[1].score < self.margin
        return LinkResult(ranked, ambiguous)

    def _exact_matches(self, words: list[tuple[str, str]]) -> dict[EntityId, Candidate]:
        """Label and alias matches of the words' n-grams, longest first; a matched word is not reused."""
        found: dict[EntityId, Candidate] = {}
        used = [False] * len(words)
        for n in range(min(self._max_words, len(words)), 0, -1):
            for start in range(len(words) - n + 1):
                if any(used[start : start + n]):
                    continue
                window = words[start : start + n]
                hits = {
                    **self._exact.get(tuple(norm for _, norm in window), {}),
                    **self._codes.get(tuple(orig for orig, _ in window), {}),
                }
                if not hits:
                    continue
                used[start : start + n] = [True] * n
                mention = " ".join(orig for orig, _ in window)
                for entity, (score, method) in hits.items():
                    if entity not in found or found[entity].score < score:
                        found[entity] = Candidate(entity, self.kg.entity_label(entity), score, mention, method)
        return found

    def _fuzzy_matches(self, words: list[tuple[str, str]]) -> dict[EntityId, Candidate]:
        """Near matches (typos) of the words' n-grams against labels and aliases."""
        grams = []
        for n in range(1, min(self._max_words, len(words)) + 1):
            for start in range(len(words) - n + 1):
                window = words[start : start + n]
                joined = " ".join(norm for _, norm in window)
                if len(joined) >= _MIN_FUZZY_CHARS:
                    grams.append((joined, " ".join(orig for orig, _ in window)))
        if not grams or not self._fuzzy_names:
            return {}
        scores = process.cdist(
            [g for g, _ in grams], self._fuzzy_names, scorer=fuzz.ratio, score_cutoff=self.fuzzy_cutoff
        )
        found: dict[EntityId, Candidate] = {}
        for row, col in zip(*scores.nonzero(), strict=True):
            entity, weight = self._fuzzy_targets[col]
            score = FUZZY_SCALE * weight * float(scores[row, col]) / 100
            if entity not in found or found[entity].score < score:
                found[entity] = Candidate(entity, self.kg.entity_label(entity), score, grams[row][1], "fuzzy")
        return found

    def suggest(self, name: str, k: int = 5) -> list[str]:
        """Labels of the ``k`` entities whose label or alias is nearest to ``name`` (for "did you mean").

        >>> linker.suggest("Germny")  # doctest: +SKIP
        ['Germany', ...]
        """
        self._index()
        query = " ".join(normalize(name))
        if not query or not self._fuzzy_names:
            return []
        labels: list[str] = []
        for _, _, col in process.extract(query, self._fuzzy_names, scorer=fuzz.WRatio, limit=8 * k):
            label = self.kg.entity_label(self._fuzzy_targets[col][0])
            if label not in labels:
                labels.append(label)
        return labels[:k]
