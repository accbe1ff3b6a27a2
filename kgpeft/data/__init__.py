"""Training data from a knowledge graph: questions, gold paths, splits, rendering, entity linking.

>>> from kgpeft.data import build_questions
>>> questions = build_questions(kg)  # doctest: +SKIP
"""

from __future__ import annotations

from kgpeft.data.questions import Question, QuestionSet, synthesize_questions
from kgpeft.data.render import (
    ParsedCompletion,
    parse_completion,
    path_to_text,
    render_completion,
    render_prompt,
    tokenize_example,
)
from kgpeft.data.splits import assign_splits

__all__ = [
    "ParsedCompletion",
    "Question",
    "QuestionSet",
    "assign_splits",
    "parse_completion",
    "path_to_text",
    "render_completion",
    "render_prompt",
    "synthesize_questions",
    "tokenize_example",
]
