"""Questions with gold relation paths, and their synthesis from the graph alone.

Synthesis samples relation paths of 1..``max_hops`` steps from every topic entity,
keeps those whose endpoint set is a sensible answer set, and verbalises the path as a
question (:mod:`kgpeft.data.verbalise`). The answers are the path's full endpoint set,
so every gold path executes to exactly its answers.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from kgpeft.data.verbalise import Verbaliser
from kgpeft.types import EntityId, RelationPath

if TYPE_CHECKING:
    from datasets import DatasetDict, Features

    from kgpeft.kg import KnowledgeGraph

SPLITS = ("train", "validation", "test")
MAX_QUESTION_CHARS = 2000
"""Longest question accepted: several times the longest of the usual KGQA benchmarks (a few hundred
characters); linking and prompt costs grow with the text, and a longer one is no question."""


@dataclass(frozen=True)
class Question:
    """A question about the graph: its topic entity, answers and the relation paths leading to them.

    ``kind="infill"`` marks a knowledge-infilling example: ``question`` is a context
    sentence with the entity ``topic`` marked, and there are no answers or paths.
    ``extra`` holds a question file's other fields (``"hops"``, ``"type"``, ...), JSON values,
    carried through to per-question results.

    >>> Question("q-1", "What is Germany located in?", 0, (1,), ((0,),), "train")  # doctest: +SKIP
    """

    id: str
    question: str
    topic: EntityId | None
    answers: tuple[EntityId, ...]
    gold_paths: tuple[RelationPath, ...]
    split: str
    kind: str = "path"
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass
class QuestionSet:
    """All questions built from one graph, with the graph's hash and the configuration that built them.

    >>> qs = build_questions(kg)  # doctest: +SKIP
    >>> len(qs.split("test")), qs.to_dataset()["test"].num_rows  # doctest: +SKIP
    """

    questions: list[Question]
    kg_sha256: str
    config: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.questions)

    def __iter__(self) -> Iterator[Question]:
        return iter(self.questions)

    def split(self, name: str) -> list[Question]:
        """The questions of one split (``train``, ``validation`` or ``test``)."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {name!r}")
        return [q for q in self.questions if q.split == name]

    def to_dataset(self) -> DatasetDict:
        """One ``datasets.Dataset`` per split; a topic of None is stored as None, paths as lists of steps."""
        from datasets import Dataset, DatasetDict

        features = question_features()
        splits = {}
        for name in SPLITS:
            rows = [question_row(q) for q in self.split(name)]
            # Columns rather than rows, so that an empty split still gets its columns.
            splits[name] = Dataset.from_dict({key: [row[key] for row in rows] for key in features}, features=features)
        return DatasetDict(splits)

    @classmethod
    def from_dataset(cls, dataset: DatasetDict, kg_sha256: str, config: dict[str, Any] | None = None) -> QuestionSet:
        """The inverse of :meth:`to_dataset`."""
        questions = [question_from_row(row) for name in SPLITS for row in dataset[name]]
        return cls(questions, kg_sha256, dict(config or {}))


def question_length_problem(text: str) -> str | None:
    """Why ``text`` is too long to be a question (see :data:`MAX_QUESTION_CHARS`), or None.

    >>> question_length_problem("Where is Paris?") is None
    True
    """
    if len(text) <= MAX_QUESTION_CHARS:
        return None
    return f"the question is {len(text)} characters long, over the {MAX_QUESTION_CHARS} a question may have"


def question_row(question: Question) -> dict[str, Any]:
    """``question`` as a dataset row of :func:`question_features` (``extra`` as JSON)."""
    return {**asdict(question), "extra": json.dumps(question.extra, sort_keys=True)}


def question_from_row(row: Mapping[str, Any]) -> Question:
    """The inverse of :func:`question_row`, for any row holding the question columns."""
    return Question(
        id=row["id"],
        question=row["question"],
        topic=row["topic"],
        answers=tuple(row["answers"]),
        gold_paths=tuple(tuple(p) for p in row["gold_paths"]),
        split=row.get("split", ""),
        kind=row["kind"],
        extra=json.loads(row.get("extra") or "{}"),  # rows cached before extras existed have none
    )


def question_features() -> Features:
    """The ``datasets.Features`` of a question row: topic None when unknown, paths as lists of steps."""
    from datasets import Features, List, Value

    return Features(
        {
            "id": Value("string"),
            "question": Value("string"),
            "topic": Value("int64"),
            "answers": List(Value("int64")),
            "gold_paths": List(List(Value("int64"))),
            "split": Value("string"),
            "kind": Value("string"),
            "extra": Value("string"),  # JSON: its fields differ from file to file
        }
    )


def question_id(kg: KnowledgeGraph, kind: str, topic: EntityId, path: RelationPath = ()) -> str:
    """A stable id from the topic's and relations' IRIs (not ids, which depend on parsing order)."""
    steps = ",".join(("^" if kg.is_inverse(s) else "") + kg.relation_iri(kg.base_relation(s)) for s in path)
    digest = hashlib.sha256(f"{kind}|{kg.entity_iri(topic)}|{steps}".encode()).hexdigest()
    return f"{kind}-{digest[:16]}"


def synthesize_questions(
    kg: KnowledgeGraph,
    *,
    max_hops: int = 3,
    max_answers: int = 20,
    questions_per_pattern: int = 200,
    num_questions: int | None = 3000,
    max_topics: int | None = None,
    max_answer_share: float = 0.9,
    seed: int = 0,
    verbaliser: Verbaliser | None = None,
) -> list[Question]:
    """Questions from the graph alone, balanced over hop counts and relation paths (``split`` left empty).

    Each relation path (a *pattern*) gives at most ``questions_per_pattern`` questions, so one
    frequent pattern cannot dominate; the result interleaves hop counts and patterns round
    robin, so a ``num_questions`` cap keeps the balance. A pattern whose most common answer
    set answers more than ``max_answer_share`` of its topics is dropped: its answer hardly
    depends on the topic ("What is the type of the capital of X?" is always "city").
    Topics are visited in a seeded random order until :data:`CANDIDATES_PER_QUESTION`
    candidates per question asked for are found, so the cost follows ``num_questions``, not
    the graph's size; a graph too small to fill that pool is visited whole.

    >>> qs = synthesize_questions(kg, max_hops=2, seed=0)  # doctest: +SKIP
    >>> qs[0].question, kg.execute(qs[0].topic, qs[0].gold_paths[0])  # doctest: +SKIP
    """
    verbaliser = verbaliser or Verbaliser(kg)
    topics = kg.linked_entities()
    if max_topics is not None and len(topics) > max_topics:
        topics = np.array(sorted(random.Random(seed).sample(topics.tolist(), max_topics)), dtype=np.int64)
    # Topics are visited in a seeded random order until the pool holds CANDIDATES_PER_QUESTION
    # candidates per question asked for: the cost follows the questions, not the graph's size.
    # A graph too small to fill the pool is visited whole, and then the order does not matter.
    order = np.random.default_rng(seed).permutation(topics).tolist()
    budget = None if num_questions is None else CANDIDATES_PER_QUESTION * num_questions
    by_pattern: dict[RelationPath, list[tuple[EntityId, np.ndarray]]] = defaultdict(list)
    pool = 0
    for start in range(0, len(order), _TOPIC_BATCH):
        batch = order[start : start + _TOPIC_BATCH]
        # Paths of max_hops steps ask for the steps of entities max_hops - 1 steps away.
        kg.prefetch(batch, max_hops - 1)
        for topic in batch:
            for path, answers in _answerable_paths(kg, topic, max_hops, max_answers):
                by_pattern[path].append((topic, answers))
                pool += 1
            if budget is not None and pool >= budget:
                break
        if budget is not None and pool >= budget:
            break

    by_hops: dict[int, list[list[tuple[RelationPath, EntityId, np.ndarray]]]] = defaultdict(list)
    for path in sorted(by_pattern):
        if _uninformative(by_pattern[path], max_answer_share):
            continue
        chosen = sorted(by_pattern[path], key=lambda candidate: candidate[0])  # by topic: visiting order is no input
        random.Random(f"{seed}|{path}").shuffle(chosen)
        by_hops[len(path)].append([(path, topic, answers) for topic, answers in chosen[:questions_per_pattern]])
    ordered = _round_robin([_round_robin(patterns) for _, patterns in sorted(by_hops.items())])

    questions: list[Question] = []
    seen: set[str] = set()
    for path, topic, answers in ordered:
        rng = random.Random(f"{seed}|{kg.entity_iri(topic)}|{path}")
        text = verbaliser.question(kg.entity_label(topic), path, rng)
        if text in seen:
            continue
        seen.add(text)
        answer_ids = tuple(int(a) for a in answers)
        questions.append(Question(question_id(kg, "path", topic, path), text, topic, answer_ids, (path,), ""))
        if num_questions is not None and len(questions) >= num_questions:
            break
    return questions


def _answerable_paths(
    kg: KnowledgeGraph, topic: EntityId, max_hops: int, max_answers: int
) -> list[tuple[RelationPath, np.ndarray]]:
    """Relation paths from ``topic`` that make a good question, with their endpoint sets.

    Left out: paths that step straight back along the edge they came by, answer sets that
    are empty, too large, or contain the topic itself (a question answered by its own
    subject). A symmetric relation gives the same answers forwards and backwards; of
    such twins only the one with fewer backward steps is kept.
    """
    kept: dict[tuple[tuple[int, ...], bytes], tuple[RelationPath, np.ndarray]] = {}
    for path, answers in kg.path_endpoints(topic, max_hops):
        if any(b == kg.inverse_step(a) for a, b in itertools.pairwise(path)):
            continue
        if not 0 < len(answers) <= max_answers or topic in answers:
            continue
        key = (tuple(kg.base_relation(s) for s in path), answers.tobytes())
        if key not in kept or _backward_steps(kg, path) < _backward_steps(kg, kept[key][0]):
            kept[key] = (path, answers)
    return list(kept.values())


def _uninformative(candidates: Sequence[tuple[EntityId, np.ndarray]], max_answer_share: float) -> bool:
    """Whether one answer set answers more than ``max_answer_share`` of a pattern's (at least 10) topics."""
    if len(candidates) < _MIN_TOPICS_FOR_SHARE:
        return False
    counts = Counter(answers.tobytes() for _, answers in candidates)
    return counts.most_common(1)[0][1] > max_answer_share * len(candidates)


_MIN_TOPICS_FOR_SHARE = 10
CANDIDATES_PER_QUESTION = 20
"""Synthesis stops visiting topics once it holds this many candidate questions per question asked for:
enough for the per-pattern caps and the balance over hop counts to choose from."""
_TOPIC_BATCH = 256  # topics whose neighbourhoods a graph kept in a store is asked for at once


def _backward_steps(kg: KnowledgeGraph, path: RelationPath) -> int:
    return sum(kg.is_inverse(s) for s in path)


def _round_robin(groups: Sequence[Sequence[Any]]) -> list[Any]:
    """Items of several lists interleaved: first of each, then second of each, ...

    >>> _round_robin([[1, 2, 3], ["a"]])
    [1, 'a', 2, 3]
    """
    return [item for batch in itertools.zip_longest(*groups, fillvalue=_GAP) for item in batch if item is not _GAP]


_GAP = object()
