"""The data stage as one call: questions (synthesised and/or from a file), splits, infilling, cached.

:func:`build_questions` assembles a :class:`QuestionSet` from a graph and a
:class:`DataConfig`; :func:`build_dataset` does the same through an on-disk cache keyed
by the graph's sha256, the configuration and the content of the files it names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kgpeft import cache as kgpeft_cache
from kgpeft.cache import CacheEntry
from kgpeft.data.infill import build_infill_questions
from kgpeft.data.questionfile import load_question_file
from kgpeft.data.questions import SPLITS, QuestionSet, synthesize_questions
from kgpeft.data.splits import assign_splits
from kgpeft.data.verbalise import Verbaliser, load_templates
from kgpeft.errors import DataError
from kgpeft.io import read_user_file, write_json

if TYPE_CHECKING:
    from kgpeft.kg import KnowledgeGraph

logger = logging.getLogger(__name__)

# Bump when the content built for the same graph and configuration changes, to retire old caches.
DATA_FORMAT_VERSION = 8  # 2: entries carry a manifest of checksums; 3: gold paths that best explain the answers;
# 4: infilling rows per entity (a description row and masked-mention rows of its shown facts); 5: and question rows; 6: in two wordings;
# 7: gold paths of question files scored by answers that do not pass back through the topic; 8: of a line's "hops"


@dataclass
class DataConfig:
    """How questions, splits and infilling examples are built from a graph.

    >>> DataConfig(max_hops=2, infill_ratio=0.2)  # doctest: +ELLIPSIS
    DataConfig(max_hops=2, ...)
    """

    max_hops: int = field(
        default=3,
        metadata={"help": "Longest relation path, in hops (>= 1), of gold paths and of the teacher's candidates."},
    )
    max_answers: int = field(
        default=20, metadata={"help": "Synthesised questions with more answers than this are left out."}
    )
    questions_per_pattern: int = field(
        default=200,
        metadata={"help": "Most synthesised questions per relation path, so one pattern does not dominate."},
    )
    num_questions: int | None = field(
        default=3000,
        metadata={"help": "Most synthesised questions in all, balanced over hop counts and relation paths."},
    )
    max_topics: int | None = field(
        default=None,
        metadata={
            "help": "Synthesise from a seeded sample of this many topic entities (default: all, visited in a seeded "
            "order until there are 20 candidates per question asked for)."
        },
    )
    max_answer_share: float = field(
        default=0.9,
        metadata={"help": "Leave out relation paths whose most common answer answers more than this share of topics."},
    )
    seed: int = field(default=0, metadata={"help": "Seed of every random choice: sampling, wording, splits."})
    validation_ratio: float = field(default=0.1, metadata={"help": "Share of questions in the validation split."})
    test_ratio: float = field(
        default=0.1, metadata={"help": "Share of questions in the test split (topic entities unseen in training)."}
    )
    # One infilling row per ten path questions keeps the default budget for paths; memorising a graph's
    # facts took about nine passes over the infilling rows (benchmarks/infill.py: 1 row per question, 360 steps).
    infill_ratio: float = field(
        default=0.1,
        metadata={
            "help": "Knowledge-infilling rows (entity descriptions, masked facts, fact questions) added to train, "
            "per training question, >= 0 (0 turns them off). To put facts into the model, raise it with the "
            "budget: rows are memorised after about nine passes."
        },
    )
    question_file: str | None = field(
        default=None,
        metadata={"help": 'JSONL question file: {"question": ..., "topic": IRI or label, "answers": [...]} per line.'},
    )
    skip_bad_lines: bool = field(
        default=False, metadata={"help": "Drop bad lines of the question file with a warning instead of refusing it."}
    )
    # A row states all its gold paths: with every path reaching an answer, MetaQA rows took up to 841 tokens
    max_gold_paths: int = field(
        default=3,
        metadata={
            "help": "Most gold paths of a question-file question: those whose execution best matches its answers "
            "(answer F1), shortest first."
        },
    )
    synthesize: bool | None = field(
        default=None,
        metadata={"help": "Synthesise questions from the KG (default: only when no question file is given)."},
    )
    templates: str | None = field(
        default=None,
        metadata={"help": "YAML/JSON file of question templates per relation IRI or label (forward, inverse)."},
    )

    def __post_init__(self) -> None:
        positive = ("max_hops", "max_answers", "questions_per_pattern", "num_questions", "max_topics", "max_gold_paths")
        for name in positive:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("max_answer_share", "validation_ratio", "test_ratio"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)!r}")
        if self.validation_ratio + self.test_ratio >= 1:
            raise ValueError(
                f"test_ratio + validation_ratio must leave questions for training, got {self.test_ratio} + {self.validation_ratio}"
            )
        if self.infill_ratio < 0:
            raise ValueError(f"infill_ratio must be >= 0, got {self.infill_ratio!r}")
        if self.synthesize is False and not self.question_file:
            raise ValueError("synthesize is False but no question_file is given: there would be no questions")


def build_questions(kg: KnowledgeGraph, config: DataConfig | None = None) -> QuestionSet:
    """Questions for ``kg``: synthesised and/or read from a file, split by topic, plus infilling examples.

    Questions come ordered by split (train, validation, test), each split in build order.

    >>> qs = build_questions(kg, DataConfig(seed=1))  # doctest: +SKIP
    >>> len(qs.split("train")) > len(qs.split("test"))  # doctest: +SKIP
    True
    """
    config = config or DataConfig()
    verbaliser = Verbaliser(kg, load_templates(config.templates) if config.templates else None)
    questions = []
    if config.question_file:
        questions += load_question_file(
            kg,
            config.question_file,
            max_hops=config.max_hops,
            max_paths=config.max_gold_paths,
            skip_bad_lines=config.skip_bad_lines,
        )
    if config.synthesize or (config.synthesize is None and not config.question_file):
        questions += synthesize_questions(
            kg,
            max_hops=config.max_hops,
            max_answers=config.max_answers,
            questions_per_pattern=config.questions_per_pattern,
            num_questions=config.num_questions,
            max_topics=config.max_topics,
            max_answer_share=config.max_answer_share,
            seed=config.seed,
            verbaliser=verbaliser,
        )
    if not questions:
        raise DataError("no questions could be built from the graph: it has no relation paths with usable answers")
    questions = assign_splits(
        questions, validation_ratio=config.validation_ratio, test_ratio=config.test_ratio, seed=config.seed
    )
    if config.infill_ratio > 0:
        # Infilling teaches about entities; test and validation topics stay unseen, so they are left out.
        held_out = {q.topic for q in questions if q.split != "train"}
        count = round(config.infill_ratio * sum(q.split == "train" for q in questions))
        entities = (e for e in range(kg.num_entities) if e not in held_out)
        questions += build_infill_questions(kg, entities, count, seed=config.seed, verbaliser=verbaliser)
    questions.sort(key=lambda q: SPLITS.index(q.split))
    return QuestionSet(questions, kg.sha256, dataclasses.asdict(config))


def build_dataset(kg: KnowledgeGraph, config: DataConfig | None = None, *, cache: bool = True) -> QuestionSet:
    """:func:`build_questions`, cached on disk under ``cache_dir("data")``; ``.to_dataset()`` gives a DatasetDict.

    The cache key covers the graph's sha256, every configuration field and the content of
    the question and template files, so editing any of them rebuilds.

    >>> qs = build_dataset(kg)  # doctest: +SKIP
    >>> qs.to_dataset()["train"].column_names  # doctest: +SKIP
    ['id', 'question', 'topic', 'answers', 'gold_paths', 'split', 'kind']
    """
    from datasets import DatasetDict

    config = config or DataConfig()
    if not cache:
        return build_questions(kg, config)
    entry = CacheEntry("data", cache_key(kg, config))
    cached = entry.load(
        lambda folder: QuestionSet.from_dataset(
            DatasetDict.load_from_disk(folder / "dataset"), kg.sha256, dataclasses.asdict(config)
        )
    )
    return cached if cached is not None else entry.store(build_questions(kg, config), _save_questions)


def _save_questions(questions: QuestionSet, folder: Path) -> None:
    with _quiet_datasets():
        questions.to_dataset().save_to_disk(str(folder / "dataset"))
    write_json(
        folder / "data.json", {"kg_sha256": questions.kg_sha256, "config": questions.config, "size": len(questions)}
    )


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """No ``datasets`` progress bars while writing the cache: only the CLI reports progress."""
    import datasets

    was_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


def cache_key(kg: KnowledgeGraph, config: DataConfig) -> str:
    """A hex digest of everything the built questions depend on."""
    files = {name: _file_sha256(getattr(config, name)) for name in ("question_file", "templates")}
    return kgpeft_cache.cache_key(
        "data", DATA_FORMAT_VERSION, {"kg": kg.sha256, "config": dataclasses.asdict(config), "files": files}
    )


def _file_sha256(path: str | None) -> str | None:
    """The file's sha256, read as the question-file reader reads it: a FIFO or ``/dev/zero``
    given as a question file is refused in one line rather than hashed forever."""
    if not path:
        return None
    return hashlib.sha256(read_user_file(path, error=DataError, what="a JSONL or YAML file")).hexdigest()
