"""Answering questions with paths that exist in the graph: linking, constrained beam search, verification.

>>> from kgpeft.inference import KGReasoner
>>> KGReasoner(model, tokenizer, kg).ask("Which region is Germany in?").top.label  # doctest: +SKIP
'Western Europe'
"""

from __future__ import annotations

from kgpeft.inference.answer import Answer, Hop, RankedAnswer, ReasoningPath, TopicChoice
from kgpeft.inference.decode import Beam, KGPathLogitsProcessor, beam_search
from kgpeft.inference.linking import LinkingError, NoTopicError, UnknownEntityError, resolve_topic
from kgpeft.inference.reasoner import KGReasoner
from kgpeft.inference.trie import PathAutomaton, PathTries, check_tokenizer, hop_fragment, path_prefix
from kgpeft.inference.verify import verify_path

__all__ = [
    "Answer",
    "Beam",
    "Hop",
    "KGPathLogitsProcessor",
    "KGReasoner",
    "LinkingError",
    "NoTopicError",
    "PathAutomaton",
    "PathTries",
    "RankedAnswer",
    "ReasoningPath",
    "TopicChoice",
    "UnknownEntityError",
    "beam_search",
    "check_tokenizer",
    "hop_fragment",
    "path_prefix",
    "resolve_topic",
    "verify_path",
]
