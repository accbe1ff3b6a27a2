"""``KGReasoner``: a question in, answers backed by verified graph paths out.

The stages, each timed: link the topic entity -> build the prompt (the training format,
with the completion started as ``<path> {topic}``) -> beam search, constrained to paths
that exist in the graph -> parse and verify every hop -> execute each path's relation
sequence from its start entity -> rank answers by the summed probability of the valid
paths reaching them (once per relation sequence when constrained: see :mod:`.decode`).
Beam scores become path probabilities by a softmax over the returned beams.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from kgpeft.data.render import end_of_turn_id, parse_completion, path_to_text, prompt_ids, render_prompt
from kgpeft.inference.answer import Answer, RankedAnswer, ReasoningPath, TopicChoice
from kgpeft.inference.decode import Beam, beam_search
from kgpeft.inference.linking import resolve_topic
from kgpeft.inference.trie import PathAutomaton, PathTries, check_tokenizer, path_prefix
from kgpeft.inference.verify import malformed_path, verify_path
from kgpeft.timing import Stopwatch
from kgpeft.types import EntityId

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from kgpeft.data import EntityLinker
    from kgpeft.kg import KnowledgeGraph

TOKENS_PER_HOP = 32
"""Generation budget per hop; a hop fragment (arrows, relation, label) rarely takes half of it."""
MAX_EVIDENCE = 3
"""Supporting relation paths shown per answer."""
EXPLAINED_ANSWERS = 10
"""Answers that get evidence (as many as `kgpeft ask` shows): grounding costs a walk of the graph per answer."""


class KGReasoner:
    """Answers questions about one graph with a causal LM that writes reasoning paths.

    >>> reasoner = KGReasoner(model, tokenizer, load_graph("kg/countries.ttl"))  # doctest: +SKIP
    >>> answer = reasoner.ask("Which region is Germany in?", num_paths=4)  # doctest: +SKIP
    >>> answer.top.label, answer.top.evidence[0]  # doctest: +SKIP
    ('Western Europe', 'Germany -> located in -> Western Europe')
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        kg: KnowledgeGraph,
        *,
        linker: EntityLinker | None = None,
    ) -> None:
        check_tokenizer(tokenizer)
        self.model = model
        self.tokenizer = tokenizer
        self.kg = kg
        self._linker = linker
        self.tries = PathTries(kg, tokenizer)
        self.end_id = end_of_turn_id(tokenizer)

    @property
    def linker(self) -> EntityLinker:
        """The entity linker, built on first use (it indexes every label and alias)."""
        if self._linker is None:
            from kgpeft.data import EntityLinker

            self._linker = EntityLinker(self.kg)
        return self._linker

    def link(self, question: str, topic: EntityId | str | None = None) -> TopicChoice:
        """The topic entity of ``question`` (see :func:`~kgpeft.inference.linking.resolve_topic`)."""
        return resolve_topic(self.kg, self.linker, question, topic)

    def ask(
        self,
        question: str,
        topic: EntityId | str | None = None,
        *,
        num_paths: int = 4,
        max_hops: int = 3,
        constrained: bool = True,
    ) -> Answer:
        """Answer one question; ``topic`` (entity id, IRI or label) skips entity linking.

        ``num_paths`` is the beam width and the number of paths returned; ``constrained=False``
        decodes freely (same beams and budget) and reports hallucinated hops instead.
        """
        return self.ask_batch([question], [topic], num_paths=num_paths, max_hops=max_hops, constrained=constrained)[0]

    def ask_batch(
        self,
        questions: Sequence[str],
        topics: Sequence[EntityId | str | None] | None = None,
        *,
        num_paths: int = 4,
        max_hops: int = 3,
        constrained: bool = True,
    ) -> list[Answer]:
        """:meth:`ask` for several questions decoded as one batch; stage timings are shared out evenly."""
        if num_paths < 1:
            raise ValueError(f"num_paths must be >= 1, got {num_paths}")
        if max_hops < 1:
            raise ValueError(f"max_hops must be >= 1, got {max_hops}")
        topics = list(topics) if topics is not None else [None] * len(questions)
        timings: dict[str, float] = {}
        lap = Stopwatch(timings)

        choices = [self.link(q, t) for q, t in zip(questions, topics, strict=True)]
        lap("link")

        prefixes = [path_prefix(self.kg, c.entity) for c in choices]
        inputs = [
            prompt_ids(self.tokenizer, render_prompt(q)) + self.tokenizer(p, add_special_tokens=False)["input_ids"]
            for q, p in zip(questions, prefixes, strict=True)
        ]
        automata = [PathAutomaton(self.tries, c.entity, max_hops) for c in choices]
        # A topic without edges has no path at all: nothing to decode for it.
        decodable = [i for i, a in enumerate(automata) if a.start() or not constrained]
        lap("prompt")

        beams: list[list[Beam]] = [[] for _ in questions]
        if decodable:
            decoded = beam_search(
                self.model,
                self.tokenizer,
                [inputs[i] for i in decodable],
                num_beams=num_paths,
                max_new_tokens=TOKENS_PER_HOP * max_hops + len(self.tries.end_ids) + 1,
                end_id=self.end_id,
                automata=[automata[i] for i in decodable] if constrained else None,
            )
            for i, found in zip(decodable, decoded, strict=True):
                beams[i] = found
        lap("generate")

        paths = [self._verify(prefix, found) for prefix, found in zip(prefixes, beams, strict=True)]
        lap("verify")

        ranked = [self._rank(found, per_sequence=constrained) for found in paths]
        lap("rank")

        share = {stage: seconds / len(questions) for stage, seconds in timings.items()}
        share["total"] = sum(share.values())
        return [
            Answer(question=q, topic=c, answers=r, paths=p, constrained=constrained, timings=dict(share))
            for q, c, r, p in zip(questions, choices, ranked, paths, strict=True)
        ]

    def _verify(self, prefix: str, beams: Sequence[Beam]) -> list[ReasoningPath]:
        """Every path the beams wrote, each hop checked; a beam's probability is split over its paths."""
        if not beams:
            return []
        scores = np.array([b.log_prob for b in beams])
        probs = np.exp(scores - np.logaddexp.reduce(scores))
        paths: list[ReasoningPath] = []
        for beam, prob in zip(beams, probs.tolist(), strict=True):
            text = prefix + beam.text
            parsed = parse_completion(text)
            if not parsed:
                paths.append(malformed_path(text, prob))
            paths.extend(verify_path(self.kg, labels, prob / len(parsed)) for labels in parsed)
        return paths

    def _rank(self, paths: Sequence[ReasoningPath], *, per_sequence: bool) -> list[RankedAnswer]:
        """Answers by the summed probability of the valid paths reaching them (the topic last), with grounded evidence.

        With ``per_sequence`` (constrained decoding, whose beam scores charge the choice of
        neighbours little), beams with the same relation sequence are one hypothesis named by
        different neighbours: it counts once, at its best beam's probability.
        """
        weight = [path.probability for path in paths]
        if per_sequence:
            best: dict[tuple, int] = {}
            for index, path in enumerate(paths):
                key = (path.start, path.steps)
                if path.valid and (key not in best or path.probability > paths[best[key]].probability):
                    best[key] = index
            weight = [
                w if not path.valid or best[(path.start, path.steps)] == i else 0.0
                for i, (w, path) in enumerate(zip(weight, paths, strict=True))
            ]
        scores: dict[EntityId, float] = defaultdict(float)
        support: dict[EntityId, list[int]] = defaultdict(list)
        for index, path in enumerate(paths):
            for entity in path.answers:
                scores[entity] += weight[index]
                support[entity].append(index)
        # The topic answers only when nothing else does: a path that only comes back to it ("X <- written by <-
        # M -> written by -> X") is a detour, whatever its probability, not an answer about X
        topics = {path.start for path in paths if path.valid}
        others = any(e not in topics for e in scores)
        order = sorted(scores, key=lambda e: (others and e in topics, -scores[e], self.kg.entity_label(e)))
        ranked = []
        for rank, entity in enumerate(order):
            evidence: list[str] = []
            for index in support[entity] if rank < EXPLAINED_ANSWERS else ():
                path = paths[index]
                text = path_to_text(self.kg, path.start, path.steps, targets=[entity])
                if text not in evidence:
                    evidence.append(text)
                if len(evidence) == MAX_EVIDENCE:
                    break
            ranked.append(
                RankedAnswer(
                    entity=entity,
                    label=self.kg.entity_label(entity),
                    iri=self.kg.entity_iri(entity),
                    score=scores[entity],
                    paths=tuple(support[entity]),
                    evidence=tuple(evidence),
                )
            )
        return ranked
