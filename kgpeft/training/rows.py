"""The trainer's rows: questions rendered, tokenised and given token-level soft targets, cached on disk.

Teachers only produce distributions over paths (or, for a token teacher, its own top-k);
turning those into per-token targets depends on how rows are rendered and tokenised, so
it lives here, beside the trainer that reads the rows.

A path teacher's soft targets are *trie marginals* (DESIGN.md): each candidate path of
its :class:`~kgpeft.teachers.base.PathDistribution` is rendered as a completion (the
path grounded towards its endpoints) and tokenised exactly as training rows are; a trie over
those token sequences carries the path probabilities. At position j of a row's target
completion, the teacher's next-token distribution is the mass of the candidates that
agree with the first j target tokens, split by their (j+1)-th token. The product of
these marginals along a candidate is that candidate's probability. Where no candidate
agrees any more, the row is all zeros: no teacher information (CONTRACTS.md). A target
completion stating several gold paths (question-file questions) agrees with the
single-path candidates up to the end of its first path; its later rows carry no information.

A token teacher (the ``llm`` teacher) gives its own top-k instead. Either way the
result lands in ``teacher_ids`` / ``teacher_probs`` columns, cached on disk, so the
trainer never runs a teacher inside a training step.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kgpeft.cache import CacheEntry, fingerprint
from kgpeft.cache import cache_key as shared_cache_key
from kgpeft.data.render import completion_ids
from kgpeft.errors import TeacherError
from kgpeft.teachers.base import TokenTeacher

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

    from kgpeft.data import Question
    from kgpeft.kg import KnowledgeGraph
    from kgpeft.teachers.base import PathDistribution, PathTeacher

logger = logging.getLogger(__name__)

# Bump when the soft targets computed for the same inputs change, to retire old caches.
SOFT_TARGETS_VERSION = 5  # 3: entries carry a manifest of checksums; 4: teacher endpoints leave the topic out;
# 5: and do not pass back through it
TOKEN_COLUMNS = ("input_ids", "completion_mask")
QUESTION_COLUMNS = ("id", "question", "topic", "answers", "gold_paths", "kind")


class _Node:
    """A trie node: the probability mass of the candidates through it, and its children by token."""

    __slots__ = ("children", "mass")

    def __init__(self) -> None:
        self.mass = 0.0
        self.children: dict[int, _Node] = {}


class TokenTrie:
    """Candidate token sequences weighted by probability, read as per-position next-token marginals.

    >>> trie = TokenTrie([([5, 6, 9], 0.75), ([5, 7, 9], 0.25)])
    >>> trie.marginals([5, 6, 9], top_k=2)
    ([[5, 0], [6, 7], [9, 0]], [[1.0, 0.0], [0.75, 0.25], [1.0, 0.0]])
    """

    def __init__(self, candidates: Sequence[tuple[Sequence[int], float]]) -> None:
        self.root = _Node()
        for tokens, prob in candidates:
            if prob <= 0:
                continue
            node = self.root
            node.mass += prob
            for token in tokens:
                node = node.children.setdefault(int(token), _Node())
                node.mass += prob

    def marginals(self, target: Sequence[int], top_k: int) -> tuple[list[list[int]], list[list[float]]]:
        """One row of ``top_k`` (ids, probs) per position of ``target``, padded with id 0 / prob 0.0.

        Row j is the next-token distribution after ``target[:j]``: children masses
        normalised, the ``top_k`` largest kept (ties by token id) and renormalised. Rows
        after ``target`` leaves the trie are all zeros.
        """
        ids: list[list[int]] = []
        probs: list[list[float]] = []
        node: _Node | None = self.root
        for token in target:
            # Normalise by the children, not the node: a candidate ending here has no next token.
            total = sum(child.mass for child in node.children.values()) if node is not None else 0.0
            if node is None or total <= 0:
                ids.append([0] * top_k)
                probs.append([0.0] * top_k)
            else:
                top = sorted(node.children.items(), key=lambda item: (-item[1].mass, item[0]))[:top_k]
                kept = sum(child.mass for _, child in top)
                ids.append([t for t, _ in top] + [0] * (top_k - len(top)))
                probs.append([child.mass / kept for _, child in top] + [0.0] * (top_k - len(top)))
            node = node.children.get(int(token)) if node is not None else None
        return ids, probs


def candidate_sequences(
    kg: KnowledgeGraph,
    tokenizer: PreTrainedTokenizerBase,
    dist: PathDistribution,
    memo: dict[tuple[int, tuple[int, ...]], list[int]] | None = None,
) -> list[tuple[list[int], float]]:
    """Each candidate path as the completion tokens a training row would have for it, with its probability.

    The completion is the path grounded towards its endpoints, rendered and tokenised by
    kgpeft.data exactly as a training row is, so the tokens line up. It depends on the topic
    and the path alone, so ``memo`` (keyed by both) saves rendering it again for another
    question about the same topic: grounding was most of the time soft targets took.
    """
    from kgpeft.data.render import completion_token_ids, render_completion

    memo = {} if memo is None else memo
    # Paths the teacher gives no mass add nothing to the trie: not rendered at all
    kept = [
        ((dist.topic, tuple(path)), prob, ends)
        for path, prob, ends in zip(dist.paths, dist.probs.tolist(), dist.endpoints, strict=True)
        if prob > 0
    ]
    new = [(key, ends) for key, _, ends in kept if key not in memo]
    if new:
        texts = [render_completion(kg, topic, [path], list(ends)) for (topic, path), ends in new]
        memo.update(zip((key for key, _ in new), completion_token_ids(tokenizer, texts), strict=True))
    return [(memo[key], prob) for key, prob, _ in kept]


def path_soft_targets(
    kg: KnowledgeGraph,
    tokenizer: PreTrainedTokenizerBase,
    dist: PathDistribution,
    target: Sequence[int],
    top_k: int,
    memo: dict[tuple[int, tuple[int, ...]], list[int]] | None = None,
) -> tuple[list[list[int]], list[list[float]]]:
    """Trie marginals of a path distribution along one target completion (its token ids).

    >>> ids, probs = path_soft_targets(kg, tok, teacher.predict(question), completion_ids(row), 16)  # doctest: +SKIP
    """
    return TokenTrie(candidate_sequences(kg, tokenizer, dist, memo)).marginals(target, top_k)


def label_questions(teacher: PathTeacher, questions: Sequence[Question]) -> list[Question]:
    """The questions, with path questions that have a topic but no answers labelled by the teacher.

    Such a question takes the teacher's most probable path as its gold path and that
    path's endpoints as its answers; labelled questions are returned unchanged, and so
    is everything when the teacher itself needs answers (the oracle).

    >>> label_questions(teacher, [Question("q", "What is Germany located in?", germany, (), (), "train")])  # doctest: +SKIP
    [Question(..., answers=(western_europe,), gold_paths=((located_in,),), ...)]
    """
    import dataclasses

    if teacher.needs_answers:
        return list(questions)
    todo = [i for i, q in enumerate(questions) if q.kind == "path" and q.topic is not None and not q.answers]
    labelled = list(questions)
    for i, dist in zip(todo, teacher.predict_batch([questions[i] for i in todo]), strict=True):
        if dist.paths:
            labelled[i] = dataclasses.replace(questions[i], answers=dist.top_answers(), gold_paths=(dist.paths[0],))
    return labelled


def training_rows(
    kg: KnowledgeGraph,
    questions: Sequence[Question],
    teacher: PathTeacher,
    tokenizer: PreTrainedTokenizerBase,
    *,
    top_k: int = 16,
    cache: bool = True,
) -> Dataset:
    """Tokenised training rows of ``questions`` with soft targets: the input of the distillation trainer.

    Unanswered path questions are labelled by the teacher first (:func:`label_questions`);
    questions that still have no gold path (no topic, or the teacher found nothing) are
    left out. Each row keeps the question columns beside ``input_ids``, ``completion_mask``,
    ``neighbour_mask``, ``teacher_ids`` and ``teacher_probs``.

    >>> rows = training_rows(kg, questions.split("train"), teacher, tokenizer, top_k=16)  # doctest: +SKIP
    >>> rows.column_names  # doctest: +SKIP
    ['id', 'question', 'topic', 'answers', 'gold_paths', 'split', 'kind', 'input_ids', 'completion_mask', ...]
    """
    from datasets import Dataset, Features, List, Value

    from kgpeft.data import render_example, tokenize_example
    from kgpeft.data.questions import question_features, question_row

    rows = []
    for question in label_questions(teacher, questions):
        if question.kind == "path" and (question.topic is None or not question.gold_paths):
            logger.info("question %s has no gold path (unlinked or unlabelled): not a training row", question.id)
            continue
        messages, completion = render_example(kg, question)
        rows.append({**question_row(question), **tokenize_example(tokenizer, messages, completion)})
    features = Features(
        {
            **question_features(),
            **{column: List(Value("int64")) for column in ("input_ids", "completion_mask", "neighbour_mask")},
        }
    )
    dataset = Dataset.from_list(rows, features=features)
    return add_soft_targets(dataset, teacher, tokenizer, top_k=top_k, cache=cache)


def add_soft_targets(
    dataset: Dataset,
    teacher: PathTeacher,
    tokenizer: PreTrainedTokenizerBase,
    *,
    top_k: int = 16,
    cache: bool = True,
) -> Dataset:
    """``dataset`` with ``teacher_ids`` / ``teacher_probs`` columns (CONTRACTS.md), from the disk cache when possible.

    Rows need ``input_ids`` and ``completion_mask``; for a path teacher also the question
    columns of ``QuestionSet.to_dataset()`` (``id``, ``question``, ``topic``, ``answers``,
    ``gold_paths``, ``kind``). Rows that are not path questions (infilling) or have no
    topic get all-zero rows. The cache key covers the graph, the teacher (config and
    weights), the tokenizer, ``top_k`` and the rows' content.

    >>> train = add_soft_targets(tokenised["train"], load_teacher("teachers/countries-gnn", kg), tokenizer)  # doctest: +SKIP
    >>> len(train[0]["teacher_ids"]) == sum(train[0]["completion_mask"])  # doctest: +SKIP
    True
    """
    from datasets import Dataset, concatenate_datasets, load_from_disk

    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    token_level = isinstance(teacher, TokenTeacher)
    needed = TOKEN_COLUMNS if token_level else TOKEN_COLUMNS + QUESTION_COLUMNS
    missing = [c for c in needed if c not in dataset.column_names]
    if missing:
        raise TeacherError(f"the dataset lacks the column(s) {', '.join(missing)} needed for soft targets")
    dataset = dataset.remove_columns([c for c in ("teacher_ids", "teacher_probs") if c in dataset.column_names])

    entry = CacheEntry("soft_targets", cache_key(dataset.select_columns(list(needed)), teacher, tokenizer, top_k))
    columns = entry.load(lambda folder: load_from_disk(str(folder / "dataset"))) if cache else None
    if columns is None:
        if token_level:
            teacher.check_tokenizer(tokenizer)
            pairs = teacher.token_topk([dataset[i] for i in range(len(dataset))], top_k)
        else:
            pairs = _path_teacher_rows(dataset, teacher, tokenizer, top_k)
        columns = Dataset.from_dict(
            {"teacher_ids": [ids for ids, _ in pairs], "teacher_probs": [probs for _, probs in pairs]},
            features=soft_target_features(),
        )
        if cache:
            entry.store(columns, lambda value, folder: value.save_to_disk(str(folder / "dataset")))
    return concatenate_datasets([dataset, columns], axis=1)


def _path_teacher_rows(
    dataset: Dataset, teacher: PathTeacher, tokenizer: PreTrainedTokenizerBase, top_k: int
) -> list[tuple[list[list[int]], list[list[float]]]]:
    """Trie marginals per row; one batched prediction for all path questions with a topic."""
    from kgpeft.data.questions import question_from_row

    kg = teacher.require_kg()
    rows = [dataset[i] for i in range(len(dataset))]
    questions = {i: question_from_row(r) for i, r in enumerate(rows) if r["kind"] == "path" and r["topic"] is not None}
    order = list(questions)
    dists = dict(zip(order, teacher.predict_batch([questions[i] for i in order]), strict=True))
    out = []
    memo: dict[tuple[int, tuple[int, ...]], list[int]] = {}  # rendered candidates, shared by a topic's questions
    for i, row in enumerate(rows):
        target = completion_ids(row)
        if i in dists:
            out.append(path_soft_targets(kg, tokenizer, dists[i], target, top_k, memo))
        else:
            out.append(([[0] * top_k for _ in target], [[0.0] * top_k for _ in target]))
    return out


def soft_target_features():
    """The ``datasets.Features`` of the two soft-target columns."""
    from datasets import Features, List, Value

    return Features({"teacher_ids": List(List(Value("int64"))), "teacher_probs": List(List(Value("float32")))})


def tokenizer_fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """A hash of how a tokenizer maps text to ids: its class, vocabulary, special tokens and chat template."""
    payload = {
        "class": type(tokenizer).__name__,
        "vocab": sorted(tokenizer.get_vocab().items()),
        "special": tokenizer.all_special_tokens,
        "template": tokenizer.chat_template,
    }
    return fingerprint(payload)


def cache_key(rows: Dataset, teacher: PathTeacher, tokenizer: PreTrainedTokenizerBase, top_k: int) -> str:
    """A hex digest of everything soft targets depend on: the teacher (graph included), tokenizer, top_k and rows."""
    content = hashlib.sha256()
    for batch in rows.with_format("arrow").iter(batch_size=1024):
        content.update(json.dumps(batch.to_pylist(), default=str).encode())
    inputs = {
        "teacher": teacher.fingerprint(),
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "top_k": top_k,
        "rows": content.hexdigest(),
    }
    return shared_cache_key("soft_targets", SOFT_TARGETS_VERSION, inputs)
