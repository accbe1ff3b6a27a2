"""User question files: JSON Lines, one question per line.

Each line is ``{"question": str, "topic": IRI or label, "answers": [IRI or label, ...]}``;
``topic`` and ``answers`` are optional (a question without answers is labelled by the
teacher later; a missing topic is looked for in the question text). An ``"id"`` names the
question in reports (default ``FILE:LINE``); other fields (``"hops"``, ``"type"``: what
benchmark files carry) are kept in ``Question.extra``, and a warning names any that looks
like a typo of a known field. IRIs and labels
are resolved through the graph (IRI, exact label, then any label or alias ignoring
case). The gold paths are the relation paths whose execution best matches the answers;
a line's ``"hops"``, where the file states it, is their length.

Every bad line is reported with its line number. A file with bad lines is refused as a
whole, unless ``skip_bad_lines``: then each is a warning and the line is dropped. Refusing
costs what is shown: "did you mean" suggestions are computed for the lines shown only.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rapidfuzz import fuzz, process

from kgpeft.data.linking import EntityLinker
from kgpeft.data.questions import Question, question_length_problem
from kgpeft.data.render import path_answers
from kgpeft.data.scoring import answer_f1
from kgpeft.errors import DataError
from kgpeft.io import read_user_file
from kgpeft.types import EntityId, RelationPath, StrPath

if TYPE_CHECKING:
    from kgpeft.kg import KnowledgeGraph

logger = logging.getLogger(__name__)

FIELDS = ("question", "topic", "answers")
ID_FIELD = "id"
HOPS_FIELD = "hops"  # read (a gold path's length) and also kept in ``extra``, where reports group by it
_SHOWN_IN_ERROR = 5  # bad lines named in the error, or warned about one by one when skipped
_CANDIDATE_PATHS = 32  # relation paths of one length scored as gold paths of a question (most have a few)
_TYPO_SCORE = 85  # fuzz.ratio to a known field above which a name looks like its typo ("answer", "questoin")
_REMEDY = (  # true for every reader: the commands that offer the flag are named
    "Fix or delete those lines, or have them dropped with a warning: --skip-bad-lines on `kgpeft fit`, "
    "`kgpeft eval` and `kgpeft teacher`, skip_bad_lines=True in Python"
)


class BadLineWarning(UserWarning):
    """A line of a question file was dropped (``skip_bad_lines=True``)."""


class _BadLine(Exception):
    """Why one line is unusable; collected per line, never raised to callers."""


@dataclass(frozen=True)
class _Parsed:
    """A parsed line: its question (topic: the first namesake, answers: all), and the namesakes of each name.

    A name several entities share (a person and a tag both called "Kate Mara") is resolved
    once the gold paths are known: to the namesakes the paths support.
    """

    question: Question
    topics: tuple[EntityId, ...] = ()
    answers: tuple[tuple[EntityId, ...], ...] = ()
    hops: int | None = None  # the length the line states for its gold paths


@dataclass
class _Resolver:
    """Turns an IRI or a label into an entity id, explaining failures in words."""

    kg: KnowledgeGraph
    linker: EntityLinker
    suggest: bool = True  # "did you mean" suggestions: turned off once the lines an error shows are found

    def entity(self, ref: str, role: str) -> EntityId:
        """The one entity ``ref`` names; a name several entities share is a bad line."""
        matches = self.entities(ref, role)
        if len(matches) > 1:
            names = ", ".join(sorted(self.kg.entity_label(e) for e in matches)[:5])
            raise _BadLine(f"{role} {ref!r} names several entities ({names}); give its IRI or exact label")
        return matches[0]

    def entities(self, ref: str, role: str) -> tuple[EntityId, ...]:
        """The entities ``ref`` names: one for an IRI or exact label, its namesakes (id order) for a shared name."""
        ref = ref.strip()
        iri = ref[1:-1] if ref.startswith("<") and ref.endswith(">") else ref
        found = self.kg.entity_by_iri(iri)
        if found is None:
            found = self.kg.entity_by_label(ref)
        if found is not None:
            return (found,)
        matches = self.kg.entities_by_name(ref)
        if matches:
            return tuple(matches)
        suggestions = self.linker.suggest(ref, k=3) if self.suggest else []
        hint = f" (did you mean {', '.join(repr(s) for s in suggestions)}?)" if suggestions else ""
        raise _BadLine(f"unknown {role} {ref!r}{hint}")


def load_question_file(
    kg: KnowledgeGraph,
    path: StrPath,
    *,
    max_hops: int = 3,
    max_paths: int = 3,
    skip_bad_lines: bool = False,
    linker: EntityLinker | None = None,
) -> list[Question]:
    """Questions of a JSONL file, resolved against ``kg`` (``split`` left empty).

    >>> load_question_file(kg, "questions.jsonl")[0].gold_paths  # doctest: +SKIP
    ((located_in,),)
    """
    path = Path(path)
    lines = _read_lines(path)
    resolver = _Resolver(kg, linker or EntityLinker(kg))
    questions: list[Question] = []
    bad: list[tuple[int, str]] = []
    ids: dict[str, int] = {}
    extra_fields: set[str] = set()
    parsed: list[tuple[int, _Parsed]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        resolver.suggest = len(bad) < _SHOWN_IN_ERROR  # suggestions cost a fuzzy search: only where shown
        try:
            parsed.append((number, _parse_line(resolver, line, f"{path.name}:{number}")))
        except _BadLine as err:
            bad.append((number, str(err)))
    # Gold paths are searched around the topics and answers: a graph kept in a store is asked
    # for all of them at once, not line by line. The search walks up to max_hops - 1 steps from
    # a topic, and measures distances up to max_hops - 2 steps from the answers.
    with_answers = [p for _, p in parsed if p.question.answers]
    kg.prefetch([t for p in with_answers for t in p.topics], max_hops - 1)
    kg.prefetch([a for p in with_answers for a in p.question.answers], max_hops - 2)
    for number, line in parsed:
        try:
            question = _with_gold_paths(kg, line, max_hops, max_paths) if line.question.answers else line.question
            if (first := ids.setdefault(question.id, number)) != number:
                raise _BadLine(f"id {question.id!r} repeats the id of line {first}")
        except _BadLine as err:
            bad.append((number, str(err)))
            continue
        questions.append(question)
        extra_fields.update(question.extra)
    bad.sort()
    if bad and not skip_bad_lines:
        shown = "; ".join(f"line {n}: {reason}" for n, reason in bad[:_SHOWN_IN_ERROR])
        more = f"; and {len(bad) - _SHOWN_IN_ERROR} more" if len(bad) > _SHOWN_IN_ERROR else ""
        raise DataError(f"{path}: {len(bad)} bad line{'s' if len(bad) > 1 else ''}: {shown}{more}. {_REMEDY}.")
    for number, reason in bad[:_SHOWN_IN_ERROR]:
        warnings.warn(f"{path}: line {number} skipped: {reason}", BadLineWarning, stacklevel=2)
    if len(bad) > _SHOWN_IN_ERROR:
        rest = ", ".join(str(n) for n, _ in bad[_SHOWN_IN_ERROR : 4 * _SHOWN_IN_ERROR])
        etc = ", ..." if len(bad) > 4 * _SHOWN_IN_ERROR else ""
        warnings.warn(
            f"{path}: {len(bad) - _SHOWN_IN_ERROR} more bad lines skipped (lines {rest}{etc})",
            BadLineWarning,
            stacklevel=2,
        )
    if typos := _likely_typos(extra_fields):
        logger.warning("%s: field(s) %s kept as extra data, not read as questions' fields", path, typos)
    if not questions:
        raise DataError(f"{path}: no usable questions")
    return questions


def _read_lines(path: Path) -> list[str]:
    """The file's lines; a byte that is not UTF-8 is refused with its line number."""
    raw = read_user_file(path, error=DataError, what="a JSONL question file")
    try:
        return raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(f"{path}:{line}: not UTF-8 text ({err.reason}): save the file as UTF-8.") from None


def _likely_typos(names: set[str]) -> str:
    """The extra field names that look like misspelt known fields, as 'name' (did you mean 'field'?)."""
    found = []
    for name in sorted(names):
        if name == HOPS_FIELD:  # read, and kept in extra too
            continue
        match = process.extractOne(name.lower(), (*FIELDS, HOPS_FIELD), scorer=fuzz.ratio, score_cutoff=_TYPO_SCORE)
        if match is not None:
            found.append(f"{name!r} (did you mean {match[0]!r}?)")
    return ", ".join(found)


def _parse_line(resolver: _Resolver, line: str, question_id: str) -> _Parsed:
    """The line's question, its topic and answers resolved; gold paths are left to :func:`_with_gold_paths`."""
    try:
        record: Any = json.loads(line)
    except json.JSONDecodeError as err:
        raise _BadLine(f"invalid JSON ({err.msg} at column {err.colno})") from err
    if not isinstance(record, dict):
        raise _BadLine(f"expected a JSON object, got {type(record).__name__}")
    text = record.get("question")
    if not isinstance(text, str) or not text.strip():
        raise _BadLine('missing "question"' if text is None else '"question" must be a non-empty string')
    if too_long := question_length_problem(text):
        raise _BadLine(too_long)
    given_id = record.get(ID_FIELD, question_id)
    if isinstance(given_id, bool) or not isinstance(given_id, str | int) or not str(given_id).strip():
        raise _BadLine('"id" must be a non-empty string or an integer')
    question_id = str(given_id).strip()
    extra = {k: v for k, v in record.items() if k not in FIELDS and k != ID_FIELD}
    hops = record.get(HOPS_FIELD)
    if hops is not None and (isinstance(hops, bool) or not isinstance(hops, int) or hops < 1):
        raise _BadLine(f'"hops" must be a positive integer (the length of the question\'s paths), got {hops!r}')

    topic_ref = record.get("topic")
    if topic_ref is not None and not isinstance(topic_ref, str):
        raise _BadLine('"topic" must be a string (an IRI or a label)')
    answer_refs = record.get("answers") or []
    if not isinstance(answer_refs, list) or not all(isinstance(a, str) for a in answer_refs):
        raise _BadLine('"answers" must be a list of strings (IRIs or labels)')

    if topic_ref is not None:
        # A name several entities share: with answers, the namesake they support is chosen later
        topics = resolver.entities(topic_ref, "topic") if answer_refs else (resolver.entity(topic_ref, "topic"),)
        topic = topics[0]
    else:
        linked = resolver.linker.link(text)
        topic = linked.top.entity if linked.top and not linked.ambiguous else None
        topics = () if topic is None else (topic,)
    if not answer_refs:
        return _Parsed(Question(question_id, text.strip(), topic, (), (), "", extra=extra), hops=hops)
    if topic is None:
        raise _BadLine('answers given but no topic: add "topic" (none found unambiguously in the question)')
    answers = tuple(resolver.entities(a, "answer") for a in answer_refs)
    every = tuple(sorted({e for namesakes in answers for e in namesakes}))
    return _Parsed(Question(question_id, text.strip(), topic, every, (), "", extra=extra), topics, answers, hops)


def _with_gold_paths(kg: KnowledgeGraph, line: _Parsed, max_hops: int, max_paths: int) -> Question:
    """The question with the relation paths that best explain its answers; a bad line when none reaches one.

    A training row states every gold path, so they are the plans whose execution gives the
    answers (RoG's relation paths as plans), not every path that touches one: on a movie graph
    a 3-hop question has dozens of relation paths reaching some answer, most through the
    wrong films. Kept: the paths with the best answer F1 (execution not through the topic, see
    :func:`path_answers`), the shortest of them, at most ``max_paths``; of the line's ``hops``
    alone where it states them. Without, a shorter path whose answers happen to match wins
    (a film's own language answers "the languages of the films sharing its director"), and a
    row that stops a 3-hop question after one hop teaches the student to stop. A topic name several
    entities share is the namesake with the best paths; an answer name, the namesakes those
    paths reach (all of them when none is reached).
    """
    question = line.question
    if line.hops is not None and line.hops > max_hops:
        raise _BadLine(f'"hops" is {line.hops}, more than max_hops {max_hops}: raise --max-hops')
    gold = np.array(question.answers, dtype=np.int64)
    best: tuple[tuple[float, int], EntityId, list[RelationPath]] | None = None
    for topic in line.topics:
        scored = _scored_paths(kg, topic, gold, max_hops, line.hops)
        # The namesake with the best F1, then the shorter paths; ties: the first in id order
        if scored and (best is None or (scored[0][0], -len(scored[0][1])) > best[0]):
            paths = [path for f1, path in scored if (f1, len(path)) == (scored[0][0], len(scored[0][1]))][:max_paths]
            best = ((scored[0][0], -len(scored[0][1])), topic, paths)
    if best is None:
        length = f"at most {max_hops} hops" if line.hops is None else f'{line.hops} hop(s), the line\'s "hops",'
        raise _BadLine(f"no path of {length} from {kg.entity_label(question.topic)!r} to any answer")
    _, topic, paths = best
    reached = set(np.concatenate([path_answers(kg, topic, path) for path in paths]).tolist())
    answers = {e for namesakes in line.answers for e in ([n for n in namesakes if n in reached] or namesakes)}
    return dataclasses.replace(question, topic=topic, answers=tuple(sorted(answers)), gold_paths=tuple(paths))


def _scored_paths(
    kg: KnowledgeGraph, topic: EntityId, gold: np.ndarray, max_hops: int, hops: int | None = None
) -> list[tuple[float, RelationPath]]:
    """Relation paths from ``topic`` reaching a gold answer with their answer F1, best first, then shortest.

    Shortest paths first, then longer ones while none matches the answers exactly (the
    actors of the films of a film's director include the film's own, one step away); paths
    of ``hops`` hops only, where given.
    """
    scored: list[tuple[float, RelationPath]] = []
    for length in range(1, max_hops + 1) if hops is None else (hops,):
        candidates = kg.shortest_paths(topic, gold, max_hops, _CANDIDATE_PATHS, length=length)
        scored += [
            (answer_f1(path_answers(kg, topic, path).tolist(), gold.tolist()), tuple(path)) for path in candidates
        ]
        if scored and max(f1 for f1, _ in scored) == 1.0:
            break
    # Stable: among equally good paths the shorter (searched first) come first, then step order
    return sorted(scored, key=lambda item: -item[0])
