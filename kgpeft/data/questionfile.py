"""User question files: JSON Lines, one question per line.

Each line is ``{"question": str, "topic": IRI or label, "answers": [IRI or label, ...]}``;
``topic`` and ``answers`` are optional (a question without answers is labelled by the
teacher later; a missing topic is looked for in the question text). IRIs and labels
are resolved through the graph (IRI, exact label, then any label or alias ignoring
case). The gold paths are the shortest relation paths from the topic to the answers.

Every bad line is reported with its line number. A file with bad lines is refused as a
whole, unless ``skip_bad_lines``: then each is a warning and the line is dropped.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgpeft.data.linking import EntityLinker
from kgpeft.data.questions import Question
from kgpeft.errors import DataError
from kgpeft.types import EntityId, StrPath

if TYPE_CHECKING:
    from kgpeft.kg import KnowledgeGraph

FIELDS = ("question", "topic", "answers")
_SHOWN_IN_ERROR = 5


class BadLineWarning(UserWarning):
    """A line of a question file was dropped (``skip_bad_lines=True``)."""


class _BadLine(Exception):
    """Why one line is unusable; collected per line, never raised to callers."""


@dataclass(frozen=True)
class _Resolver:
    """Turns an IRI or a label into an entity id, explaining failures in words."""

    kg: KnowledgeGraph
    linker: EntityLinker

    def entity(self, ref: str, role: str) -> EntityId:
        ref = ref.strip()
        iri = ref[1:-1] if ref.startswith("<") and ref.endswith(">") else ref
        found = self.kg.entity_by_iri(iri)
        if found is None:
            found = self.kg.entity_by_label(ref)
        if found is not None:
            return found
        matches = self.kg.entities_by_name(ref)
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(sorted(self.kg.entity_label(e) for e in matches)[:5])
            raise _BadLine(f"{role} {ref!r} names several entities ({names}); give its IRI or exact label")
        suggestions = self.linker.suggest(ref, k=3)
        hint = f" (did you mean {', '.join(repr(s) for s in suggestions)}?)" if suggestions else ""
        raise _BadLine(f"unknown {role} {ref!r}{hint}")


def load_question_file(
    kg: KnowledgeGraph,
    path: StrPath,
    *,
    max_hops: int = 3,
    max_paths: int = 32,
    skip_bad_lines: bool = False,
    linker: EntityLinker | None = None,
) -> list[Question]:
    """Questions of a JSONL file, resolved against ``kg`` (``split`` left empty).

    >>> load_question_file(kg, "questions.jsonl")[0].gold_paths  # doctest: +SKIP
    ((located_in,),)
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the question file: {err}") from err
    resolver = _Resolver(kg, linker or EntityLinker(kg))
    questions: list[Question] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(_parse_line(resolver, line, f"{path.name}:{number}", max_hops, max_paths))
        except _BadLine as err:
            bad.append((number, str(err)))
    if bad and not skip_bad_lines:
        shown = "; ".join(f"line {n}: {reason}" for n, reason in bad[:_SHOWN_IN_ERROR])
        more = f"; and {len(bad) - _SHOWN_IN_ERROR} more" if len(bad) > _SHOWN_IN_ERROR else ""
        raise DataError(
            f"{path}: {len(bad)} bad line{'s' if len(bad) > 1 else ''}: {shown}{more}. "
            "Fix the file, or drop bad lines with skip_bad_lines (--skip-bad-lines)."
        )
    for number, reason in bad:
        warnings.warn(f"{path}: line {number} skipped: {reason}", BadLineWarning, stacklevel=2)
    if not questions:
        raise DataError(f"{path}: no usable questions")
    return questions


def _parse_line(resolver: _Resolver, line: str, question_id: str, max_hops: int, max_paths: int) -> Question:
    try:
        record: Any = json.loads(line)
    except json.JSONDecodeError as err:
        raise _BadLine(f"invalid JSON ({err.msg} at column {err.colno})") from err
    if not isinstance(record, dict):
        raise _BadLine(f"expected a JSON object, got {type(record).__name__}")
    unknown = sorted(set(record) - set(FIELDS))
    if unknown:
        raise _BadLine(f"unknown field {unknown[0]!r} (expected {', '.join(FIELDS)})")
    text = record.get("question")
    if not isinstance(text, str) or not text.strip():
        raise _BadLine('missing "question"' if text is None else '"question" must be a non-empty string')

    topic_ref = record.get("topic")
    if topic_ref is not None and not isinstance(topic_ref, str):
        raise _BadLine('"topic" must be a string (an IRI or a label)')
    answer_refs = record.get("answers") or []
    if not isinstance(answer_refs, list) or not all(isinstance(a, str) for a in answer_refs):
        raise _BadLine('"answers" must be a list of strings (IRIs or labels)')

    if topic_ref is not None:
        topic = resolver.entity(topic_ref, "topic")
    else:
        linked = resolver.linker.link(text)
        topic = linked.top.entity if linked.top and not linked.ambiguous else None
    if not answer_refs:
        return Question(question_id, text.strip(), topic, (), (), "")
    if topic is None:
        raise _BadLine('answers given but no topic: add "topic" (none found unambiguously in the question)')
    answers = tuple(sorted({resolver.entity(a, "answer") for a in answer_refs}))
    gold = resolver.kg.shortest_paths(topic, answers, max_hops, max_paths)
    if not gold:
        raise _BadLine(f"no path of at most {max_hops} hops from {resolver.kg.entity_label(topic)!r} to any answer")
    return Question(question_id, text.strip(), topic, answers, tuple(tuple(p) for p in gold), "")
