"""Training data from a knowledge graph: questions, gold paths, splits, rendering, entity linking.

>>> from kgpeft.data import DataConfig, build_dataset
>>> questions = build_dataset(kg, DataConfig(seed=0))  # doctest: +SKIP
>>> questions.split("train")[0].gold_paths  # doctest: +SKIP
"""

from __future__ import annotations

from kgpeft.data.dataset import DataConfig, build_dataset, build_questions
from kgpeft.data.infill import build_infill_questions, entity_knowledge
from kgpeft.data.linking import Candidate, EntityLinker, LinkResult
from kgpeft.data.questionfile import BadLineWarning, load_question_file
from kgpeft.data.questions import Question, QuestionSet, synthesize_questions
from kgpeft.data.render import (
    end_of_turn_id,
    parse_completion,
    path_to_text,
    prompt_ids,
    render_completion,
    render_example,
    render_prompt,
    tokenize_example,
)
from kgpeft.data.splits import assign_splits
from kgpeft.data.verbalise import Verbaliser, load_templates

__all__ = [
    "BadLineWarning",
    "Candidate",
    "DataConfig",
    "EntityLinker",
    "LinkResult",
    "Question",
    "QuestionSet",
    "Verbaliser",
    "assign_splits",
    "build_dataset",
    "build_infill_questions",
    "build_questions",
    "end_of_turn_id",
    "entity_knowledge",
    "load_question_file",
    "load_templates",
    "parse_completion",
    "path_to_text",
    "prompt_ids",
    "render_completion",
    "render_example",
    "render_prompt",
    "synthesize_questions",
    "tokenize_example",
]
