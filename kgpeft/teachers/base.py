"""The teacher interface: a :class:`PathTeacher` predicts a :class:`PathDistribution` per question.

A teacher is fitted on one knowledge graph and a list of training questions, predicts
from a question's topic entity and text alone (answers are never needed at predict
time, except by the ``oracle``), and saves to a folder that records the graph's sha256,
so a teacher is never silently used with another graph.
"""

from __future__ import annotations

import hashlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from kgpeft.data.render import path_answers
from kgpeft.errors import TeacherError
from kgpeft.fields import dataclass_from_dict
from kgpeft.io import atomic_dir, write_json
from kgpeft.types import EntityId, RelationPath, StrPath

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase
    from typing_extensions import Self

    from kgpeft.data import Question
    from kgpeft.kg import KnowledgeGraph

logger = logging.getLogger(__name__)

CONFIG_NAME = "teacher.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass(frozen=True, eq=False)
class PathDistribution:
    """A teacher's answer to one question: relation paths, their probabilities and the answers they imply.

    ``log_probs`` are normalised over ``paths`` (their exponentials sum to 1), paths come
    most probable first, and ``endpoints[i]`` is ``path_answers(kg, topic, paths[i])``: the
    path's endpoint set not passing back through the topic, as the student's answers are read. The answer
    distribution spreads each path's probability evenly over its endpoints.

    >>> dist = PathDistribution.from_scores(kg, germany, [(located_in,), (neighbor_of,)], [2.0, 0.0])  # doctest: +SKIP
    >>> dist.paths[0], round(float(dist.probs[0]), 2), dist.top_answer() == western_europe  # doctest: +SKIP
    ((0,), 0.88, True)
    """

    topic: EntityId
    paths: tuple[RelationPath, ...] = ()
    log_probs: tuple[float, ...] = ()
    endpoints: tuple[tuple[EntityId, ...], ...] = ()
    answers: Mapping[EntityId, float] = field(default_factory=dict)

    @classmethod
    def from_scores(
        cls, kg: KnowledgeGraph, topic: EntityId, paths: Sequence[RelationPath], scores: Sequence[float]
    ) -> PathDistribution:
        """Normalise unnormalised log-scores over ``paths`` (a log-softmax) and derive the answers.

        Paths with an empty endpoint set reach no answer and are dropped before normalising.
        """
        kept = [
            (tuple(int(s) for s in p), float(x), path_answers(kg, topic, p)) for p, x in zip(paths, scores, strict=True)
        ]
        kept = [item for item in kept if len(item[2])]
        if not kept:
            return cls(topic=topic)
        # Stable sort: equal scores keep the caller's order, so ties break deterministically.
        kept.sort(key=lambda item: -item[1])
        raw = np.array([x for _, x, _ in kept], dtype=np.float64)
        log_probs = raw - np.logaddexp.reduce(raw)
        answers: dict[EntityId, float] = {}
        for (_, _, ends), log_prob in zip(kept, log_probs, strict=True):
            share = float(np.exp(log_prob)) / len(ends)
            for entity in ends.tolist():
                answers[entity] = answers.get(entity, 0.0) + share
        return cls(
            topic=topic,
            paths=tuple(p for p, _, _ in kept),
            log_probs=tuple(float(x) for x in log_probs),
            endpoints=tuple(tuple(int(e) for e in ends) for _, _, ends in kept),
            answers=dict(sorted(answers.items(), key=lambda item: -item[1])),
        )

    @property
    def probs(self) -> np.ndarray:
        """Path probabilities, shape ``(len(paths),)``, summing to 1 (empty when no path was found)."""
        return np.exp(np.asarray(self.log_probs, dtype=np.float64))

    def top_answer(self) -> EntityId | None:
        """The most probable answer entity, or None when no path reaches anything."""
        return next(iter(self.answers), None)

    def top_answers(self) -> tuple[EntityId, ...]:
        """The endpoint set of the most probable path: the teacher's predicted answer set."""
        return self.endpoints[0] if self.endpoints else ()


@runtime_checkable
class TokenTeacher(Protocol):
    """A teacher that gives token distributions itself (an LM sharing the student's tokenizer).

    Training asks it for the top-k of its next-token distribution along each row's
    completion instead of turning a :class:`PathDistribution` into trie marginals.
    """

    def check_tokenizer(self, student: PreTrainedTokenizerBase) -> None: ...

    def token_topk(
        self, rows: Sequence[Mapping[str, Sequence[int]]], top_k: int
    ) -> list[tuple[list[list[int]], list[list[float]]]]: ...


@dataclass
class TeacherConfig:
    """Settings every teacher shares; a teacher's own config subclasses this and adds only its fields.

    The path depth and the seed are not here: they belong to the run (the data config owns
    ``max_hops``, the training config the seed) and reach a teacher at construction.
    Round-trips through JSON with :meth:`to_dict` / :meth:`from_dict`, which drops keys it
    does not know (a folder saved by a newer kgpeft still loads).

    >>> TeacherConfig(top_n=4).to_dict()
    {'top_n': 4}
    """

    top_n: int = field(default=8, metadata={"help": "Paths a prediction returns at most (the most probable), >= 1."})

    def __post_init__(self) -> None:
        if self.top_n < 1:
            raise ValueError(f"top_n must be >= 1, got {self.top_n}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return dataclass_from_dict(cls, data, warn=True)


class PathTeacher(ABC):
    """Predicts a distribution over relation paths (and so over answers) for a question.

    Subclasses set ``config_class``, implement :meth:`fit` and :meth:`predict`, and
    override the ``_weights`` / ``_extra_state`` / ``_restore`` hooks when they have
    something to save. :func:`~kgpeft.teachers.registry.register_teacher` sets ``name``.

    >>> teacher = get_teacher("oracle")  # doctest: +SKIP
    >>> teacher.fit(kg, train)  # doctest: +SKIP
    >>> teacher.predict(train[0]).paths[0]  # doctest: +SKIP
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type[TeacherConfig]] = TeacherConfig
    needs_answers: ClassVar[bool] = False
    """True for teachers that read a question's gold answers at predict time (the oracle)."""

    def __init__(self, config: TeacherConfig | None = None, *, max_hops: int = 3, seed: int = 0) -> None:
        self.config = config if config is not None else self.config_class()
        if max_hops < 1:
            raise ValueError(f"max_hops must be >= 1, got {max_hops}")
        self.max_hops = max_hops
        """Longest relation path, in hops, the teacher considers (the data config's ``max_hops``)."""
        self.seed = seed
        """Random seed of fitting (the run's seed)."""
        if not isinstance(self.config, self.config_class):
            raise TypeError(f"{type(self).__name__} takes a {self.config_class.__name__}, got {type(config).__name__}")
        self.kg: KnowledgeGraph | None = None
        self.metrics: dict[str, float] = {}
        self.info: dict[str, Any] = {}
        """Provenance saved with the teacher (e.g. the data config of its questions), JSON-serialisable."""

    @abstractmethod
    def fit(
        self, kg: KnowledgeGraph, questions: Sequence[Question], validation: Sequence[Question] | None = None
    ) -> dict[str, float]:
        """Fit on ``kg`` and the training ``questions``; return metrics (validation ones when given)."""

    @abstractmethod
    def predict(self, question: Question) -> PathDistribution:
        """The path distribution for one question (its topic and text; answers only for the oracle)."""

    def predict_batch(self, questions: Sequence[Question]) -> list[PathDistribution]:
        """:meth:`predict` for several questions; teachers that batch on a device override it."""
        return [self.predict(q) for q in questions]

    # ---- persistence -------------------------------------------------------------------

    def save(self, path: StrPath) -> Path:
        """Write ``teacher.json`` (name, config, KG sha256, metrics) and the weights, atomically."""
        kg = self.require_kg()
        path = Path(path)
        with atomic_dir(path) as tmp:
            write_json(
                tmp / CONFIG_NAME,
                {
                    "teacher": self.name,
                    "kgpeft_version": _version(),
                    "kg_sha256": kg.sha256,
                    "kg_source": None if kg.source is None else str(kg.source),
                    "config": self.config.to_dict(),
                    "max_hops": self.max_hops,
                    "seed": self.seed,
                    "metrics": self.metrics,
                    "info": self.info,
                    "state": self._extra_state(),
                },
            )
            weights = self._weights()
            if weights:
                from safetensors.torch import save_file

                save_file({k: v.detach().cpu().contiguous() for k, v in weights.items()}, tmp / WEIGHTS_NAME)
        return path

    @classmethod
    def load(cls, path: StrPath, kg: KnowledgeGraph) -> Self:
        """A teacher saved by :meth:`save`, bound to ``kg``; raises TeacherError if ``kg`` is another graph."""
        meta = read_teacher_meta(path)
        if meta["teacher"] != cls.name:
            raise TeacherError(f"{path}: holds a '{meta['teacher']}' teacher, not '{cls.name}'")
        if meta.get("kg_sha256") != kg.sha256:
            raise TeacherError(
                f"{path}: the teacher was fitted on another knowledge graph (sha256 {str(meta.get('kg_sha256'))[:12]}, "
                f"this graph {kg.sha256[:12]}); refit it with `kgpeft teacher fit`"
            )
        config = dict(meta.get("config", {}))
        # Folders written before the run owned them kept max_hops and seed in the teacher config
        context = {name: meta.get(name, config.pop(name, default)) for name, default in (("max_hops", 3), ("seed", 0))}
        try:
            config = cls.config_class.from_dict(config)
        except (TypeError, ValueError) as err:
            raise TeacherError(f"{path}: invalid teacher config: {err}") from err
        weights: dict[str, torch.Tensor] = {}
        if (Path(path) / WEIGHTS_NAME).is_file():
            from safetensors.torch import load_file

            weights = load_file(Path(path) / WEIGHTS_NAME)
        teacher = cls(config, **context)
        teacher._restore(kg, meta.get("state", {}), weights)
        teacher.metrics = dict(meta.get("metrics", {}))
        teacher.info = dict(meta.get("info", {}))
        return teacher

    def fingerprint(self) -> str:
        """A hash of what this teacher predicts from: its name, config, graph and weights.

        Caches of its outputs (soft targets) are keyed by it, so refitting invalidates them.
        """
        digest = hashlib.sha256()
        kg_sha256 = self.kg.sha256 if self.kg is not None else None
        head = {
            "teacher": self.name,
            "config": self.config.to_dict(),
            "max_hops": self.max_hops,
            "seed": self.seed,
            "kg": kg_sha256,
            "state": self._extra_state(),
        }
        digest.update(json.dumps(head, sort_keys=True, default=str).encode())
        for key, tensor in sorted(self._weights().items()):
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()

    # ---- hooks and helpers for subclasses ---------------------------------------------------

    def _weights(self) -> dict[str, torch.Tensor]:
        """Tensors to save in ``model.safetensors`` (none by default)."""
        return {}

    def _extra_state(self) -> dict[str, Any]:
        """JSON-serialisable state besides the config (e.g. a vocabulary)."""
        return {}

    def _restore(self, kg: KnowledgeGraph, state: Mapping[str, Any], weights: Mapping[str, torch.Tensor]) -> None:
        """Rebuild from what :meth:`save` wrote; the default only binds the graph."""
        self.kg = kg

    def require_kg(self) -> KnowledgeGraph:
        """The graph this teacher was fitted on or loaded with."""
        if self.kg is None:
            raise TeacherError(f"the {self.name or type(self).__name__} teacher is not fitted: call fit() or load()")
        return self.kg

    def require_topic(self, question: Question) -> EntityId:
        """The question's topic entity, checked to be in the graph; a teacher cannot predict without one."""
        if question.topic is None:
            raise TeacherError(
                f"question {question.id!r} has no topic entity: link it first (kgpeft.data.EntityLinker)"
            )
        topic = int(question.topic)
        if self.kg is not None and not 0 <= topic < self.kg.num_entities:
            raise TeacherError(f"question {question.id!r}: topic {topic} is not an entity of the graph")
        return topic


def read_teacher_meta(path: StrPath) -> dict[str, Any]:
    """The ``teacher.json`` of a saved teacher folder, checked to name a teacher."""
    file = Path(path) / CONFIG_NAME
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TeacherError(
            f"{path}: not a teacher folder (no {CONFIG_NAME}); create one with `kgpeft teacher fit`"
        ) from None
    except (OSError, json.JSONDecodeError) as err:
        raise TeacherError(f"{file}: unreadable ({err})") from err
    if not isinstance(meta, dict) or not isinstance(meta.get("teacher"), str):
        raise TeacherError(f"{file}: does not name a teacher")
    return meta


def _version() -> str:
    from kgpeft import __version__

    return __version__
