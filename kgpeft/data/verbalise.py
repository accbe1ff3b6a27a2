"""Relations in English: questions, noun phrases and statements built from relation labels.

A relation label is sorted into one of four grammatical forms, each with a few
phrasings; a seeded choice among them varies the wording deterministically:

========  =================  ================================  ===============================
form      label              forward question                  inverse question
========  =================  ================================  ===============================
passive   ``located in``     What is Germany located in?       What is located in Europe?
noun_of   ``neighbor of``    What is Germany a neighbor of?    What is a neighbor of Germany?
verb      ``flows into``     Rhine flows into what?            What flows into North Sea?
noun      ``capital``        What is the capital of Germany?   Berlin is the capital of what?
========  =================  ================================  ===============================

Longer paths nest noun phrases: "What is the capital of the thing that Germany is a
neighbor of?". Hand-written templates replace the generic question for a relation;
they come from a YAML/JSON file (``{"<relation IRI or label>": {"forward": "Which region
is {topic} located in?", "inverse": "..."}}``, a value may be a list to vary) or from the
graph (``kgpeft:questionTemplate`` / ``kgpeft:inverseQuestionTemplate`` literals on the
relation, namespace ``https://kgpeft.dev/ns#``), the file winning over the graph.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kgpeft.errors import DataError
from kgpeft.io import read_user_file
from kgpeft.types import RelationPath, StrPath

if TYPE_CHECKING:
    from kgpeft.kg import KnowledgeGraph

TEMPLATE_KEYS = ("forward", "inverse")
GRAPH_TEMPLATE_PREDICATES = {
    "forward": "https://kgpeft.dev/ns#questionTemplate",
    "inverse": "https://kgpeft.dev/ns#inverseQuestionTemplate",
}

# Word lists kept as text for legibility.
_PREPOSITIONS = frozenset(
    "about after against along among as at before behind below beneath beside between by during for from in inside "  # noqa: SIM905
    "into near of off on onto over than through to toward towards under until upon via with within without".split()
)
# Words that make "X is <label> Y" read right ("born in", "adjacent to"); nouns ("neighbor of") take an article.
_PARTICIPLES = frozenset(
    "born made known written held built found given taken shown spoken sold won led drawn run set seen done grown "  # noqa: SIM905
    "bound hidden driven chosen left kept sent lost paid told bought brought taught caught fought met fed read "
    "adjacent similar equal equivalent identical close near next opposite parallel prior native due different "
    "same".split()
)

_FORWARD_QUESTIONS = {
    "passive": ("What is {x} {p}?", "{X} is {p} what?", "Which entity is {x} {p}?"),
    "noun_of": ("What is {x} {p}?", "{X} is {p} what?"),
    "verb": ("{X} {p} what?", "What is it that {x} {p}?"),
    "noun": ("What is the {p} of {x}?", "{X} has what as its {p}?", "Name the {p} of {x}."),
}
_INVERSE_QUESTIONS = {
    "passive": ("What is {p} {x}?", "Which entities are {p} {x}?", "Name everything that is {p} {x}."),
    "noun_of": ("What is {p} {x}?", "Name everything that is {p} {x}."),
    "verb": ("What {p} {x}?", "Name everything that {p} {x}."),
    "noun": ("What has {x} as its {p}?", "{X} is the {p} of what?", "Of which entity is {x} the {p}?"),
}
_FORWARD_PHRASES = {
    "passive": ("the thing that {x} is {p}", "whatever {x} is {p}"),
    "noun_of": ("the thing that {x} is {p}", "whatever {x} is {p}"),
    "verb": ("the thing that {x} {p}", "whatever {x} {p}"),
    "noun": ("the {p} of {x}",),
}
_INVERSE_PHRASES = {
    "passive": ("anything {p} {x}", "something {p} {x}"),
    "noun_of": ("anything that is {p} {x}",),
    "verb": ("anything that {p} {x}",),
    "noun": ("anything whose {p} is {x}", "anything that has {x} as its {p}"),
}
# Steps that read as "<known> <predicate> <unknown>" chain right-branching: "... in something that is ...".
_FORWARD_PREDICATES = {"passive": "is {p} {y}", "noun_of": "is {p} {y}", "verb": "{p} {y}"}
_INVERSE_PREDICATES = {"noun": "is the {p} of {y}"}
_CHAIN_LINKS = ("something that", "an entity that")
_STATEMENTS = {
    "passive": "{s} is {p} {o}.",
    "noun_of": "{s} is {p} {o}.",
    "verb": "{s} {p} {o}.",
    "noun": "The {p} of {s} is {o}.",
}


@dataclass(frozen=True)
class Phrasing:
    """How a relation label reads in English: its form and the phrase to insert (article included)."""

    form: str
    phrase: str


def classify(label: str) -> Phrasing:
    """The grammatical form of a relation label.

    >>> classify("neighbor of")
    Phrasing(form='noun_of', phrase='a neighbor of')
    """
    words = label.split()
    lower = [w.lower() for w in words]
    if len(words) > 1 and lower[0] in ("has", "have"):
        return Phrasing("noun", " ".join(words[1:]))
    copula = len(words) > 1 and lower[0] in ("is", "are", "was", "were")
    if copula:
        words, lower = words[1:], lower[1:]
    phrase = " ".join(words)
    ends_in_preposition = len(words) > 1 and lower[-1] in _PREPOSITIONS
    third_person = lower[0].endswith("s") and not lower[0].endswith(("ss", "us", "is"))
    if lower[0] in _PARTICIPLES or lower[0].endswith("ed") or (copula and not ends_in_preposition):
        return Phrasing("passive", phrase)
    if ends_in_preposition or copula:
        if third_person and not copula:
            return Phrasing("verb", phrase)
        if lower[0] in ("a", "an", "the"):
            return Phrasing("noun_of", phrase)
        return Phrasing("noun_of", f"{'an' if lower[0][0] in 'aeiou' else 'a'} {phrase}")
    if len(words) == 1 and third_person:
        return Phrasing("verb", phrase)
    return Phrasing("noun", phrase)


def _capitalised(known: str, raw: bool) -> str:
    """``known`` to open a sentence: a noun phrase we built gets a capital, an entity label stays as it is."""
    return known if raw else known[:1].upper() + known[1:]


def _fill(pattern: str, phrase: str, known: str, raw: bool) -> str:
    """Insert the phrase and the known entity (``{X}`` where it opens the sentence)."""
    return pattern.format(p=phrase, x=known, X=_capitalised(known, raw))


def load_templates(path: StrPath) -> dict[str, dict[str, tuple[str, ...]]]:
    """Question templates from a YAML or JSON file, checked: each needs ``{topic}`` and nothing else in braces.

    >>> load_templates("templates.yaml")  # doctest: +SKIP
    {'located in': {'forward': ('Which region is {topic} located in?',)}}
    """
    path = Path(path)
    raw = read_user_file(path, error=DataError, what="a YAML or JSON templates file")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as err:
        raise DataError(f"{path}: cannot read question templates: {err}".replace("\n", " ")) from err
    if not isinstance(data, Mapping):
        raise DataError(f"{path}: question templates must map relation IRIs or labels to {{forward, inverse}}")
    return {str(key): _check_templates(value, f"{path}: {key}") for key, value in data.items()}


def _check_templates(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping) or not set(value) <= set(TEMPLATE_KEYS):
        raise DataError(f"{where}: expected a mapping with keys among {', '.join(TEMPLATE_KEYS)}")
    checked = {}
    for direction, texts in value.items():
        texts = (texts,) if isinstance(texts, str) else texts
        if not isinstance(texts, list | tuple) or not texts or not all(isinstance(t, str) for t in texts):
            raise DataError(f"{where}: '{direction}' must be a template string or a list of them")
        for text in texts:
            fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
            if fields != {"topic"}:
                raise DataError(f"{where}: template {text!r} must contain {{topic}} and no other {{...}} field")
        checked[direction] = tuple(texts)
    return checked


class Verbaliser:
    """Questions and statements for the relations of one graph.

    >>> Verbaliser(kg).question("Germany", (located_in,), random.Random(0))  # doctest: +SKIP
    'What is Germany located in?'
    """

    def __init__(self, kg: KnowledgeGraph, templates: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None):
        self.kg = kg
        self.phrasings = [classify(kg.relation_label(r)) for r in range(kg.num_relations)]
        templates = templates or {}
        self.templates: list[dict[str, tuple[str, ...]]] = []
        for r in range(kg.num_relations):
            custom = {**_graph_templates(kg, r), **templates.get(kg.relation_label(r), {})}
            self.templates.append({**custom, **templates.get(kg.relation_iri(r), {})})

    def question(self, topic_label: str, path: RelationPath, rng: random.Random) -> str:
        """A question whose answers are the endpoints of ``path`` followed from the entity named ``topic_label``.

        Steps are folded into a noun phrase from the topic on ("the capital of anything
        located in Europe"); a tail of two or more steps that chain as relative clauses is
        written right-branching instead, which nests without centre-embedding: "Burundi is
        located in something that is located in what?".
        """
        last = path[-1]
        custom = self.templates[self.kg.base_relation(last)].get("inverse" if self.kg.is_inverse(last) else "forward")
        tail = 0
        while tail < len(path) and self._predicate(path[len(path) - tail - 1], "what"):
            tail += 1
        if custom or tail < 2:
            tail = 0
        known, raw = topic_label, True
        for step in path[: len(path) - max(tail, 1)]:
            known, raw = self._phrase(step, known, rng), False
        if tail:
            link = rng.choice(_CHAIN_LINKS)
            clauses = [self._predicate(step, link) for step in path[-tail:-1]] + [self._predicate(last, "what")]
            return f"{_capitalised(known, raw)} {' '.join(clauses)}?"
        if custom:
            return rng.choice(custom).format(topic=known)
        phrasing = self.phrasings[self.kg.base_relation(last)]
        patterns = (_INVERSE_QUESTIONS if self.kg.is_inverse(last) else _FORWARD_QUESTIONS)[phrasing.form]
        if not raw:
            # "What is <a long noun phrase> located in?" buries the relation; put the phrase first instead.
            patterns = tuple(p for p in patterns if "{x} {p}" not in p)
        return _fill(rng.choice(patterns), phrasing.phrase, known, raw)

    def _predicate(self, step: int, unknown: str) -> str | None:
        """The step as a predicate ending in ``unknown`` ("is located in what"), if it reads as one."""
        phrasing = self.phrasings[self.kg.base_relation(step)]
        pattern = (_INVERSE_PREDICATES if self.kg.is_inverse(step) else _FORWARD_PREDICATES).get(phrasing.form)
        return pattern.format(p=phrasing.phrase, y=unknown) if pattern else None

    def _phrase(self, step: int, known: str, rng: random.Random) -> str:
        """A noun phrase for the entities one step away from ``known``."""
        phrasing = self.phrasings[self.kg.base_relation(step)]
        patterns = (_INVERSE_PHRASES if self.kg.is_inverse(step) else _FORWARD_PHRASES)[phrasing.form]
        return _fill(rng.choice(patterns), phrasing.phrase, known, raw=True)

    def statement(self, subject: str, relation: int, obj: str) -> str:
        """The triple ``subject relation obj`` as a sentence, e.g. "The capital of Germany is Berlin."."""
        return statement(self.phrasings[relation], subject, obj)


def statement(phrasing: Phrasing, subject: str, obj: str) -> str:
    """A sentence saying that ``subject`` stands in the relation phrased by ``phrasing`` to ``obj``.

    >>> statement(classify("population"), "France", "67000000")
    'The population of France is 67000000.'
    """
    sentence = _STATEMENTS[phrasing.form].format(p=phrasing.phrase, s=subject, o=obj)
    return sentence[:1].upper() + sentence[1:]


def _graph_templates(kg: KnowledgeGraph, relation: int) -> dict[str, tuple[str, ...]]:
    """Templates stated in the graph as literals on the relation's IRI (``kgpeft:questionTemplate``, inverse too).

    Needs ``kg.relation_literals(r, predicate_iri) -> list[str]``, asked of kgpeft.kg (issue 3):
    a predicate's own literals do not make it an entity, so ``entity_attributes`` cannot see them.
    A graph without that accessor simply has no templates.
    """
    lookup = getattr(kg, "relation_literals", None)
    if lookup is None:
        return {}
    found = {direction: sorted(lookup(relation, iri)) for direction, iri in GRAPH_TEMPLATE_PREDICATES.items()}
    found = {direction: texts for direction, texts in found.items() if texts}
    return _check_templates(found, f"{kg.relation_iri(relation)} in the graph") if found else {}
