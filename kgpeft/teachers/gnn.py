"""The ``gnn`` teacher (the default): a question-conditioned relational GNN that decodes paths hop by hop.

Fitting has two stages. Structure pre-training teaches the R-GCN entity states to
predict the graph's own edges (DistMult link prediction over all entities), so every
entity, including topics no training question mentions, gets a meaningful state. Then
path training teaches the decoder, by teacher forcing, to follow the gold paths: at each
prefix of a question's gold paths, the target is the share of gold paths taking each
next action (a step existing at the current frontier, or STOP), so several gold paths
all receive mass. Prediction is a beam search over the actions open at each frontier.

Questions are read with the topic's name replaced by a ``<topic>`` word, so the
question encoder learns the wording of relations, not entity names: a question about
an unseen topic reads like the training questions.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.nn import functional as F

from kgpeft.data.scoring import score_path_predictions
from kgpeft.errors import TeacherError
from kgpeft.teachers.base import PathDistribution, PathTeacher, TeacherConfig
from kgpeft.teachers.gnn_net import DecodeStates, RelationalPathNet
from kgpeft.teachers.registry import register_teacher
from kgpeft.types import EntityId, RelationPath

if TYPE_CHECKING:
    from rich.progress import Progress

    from kgpeft.data import Question
    from kgpeft.kg import KnowledgeGraph

logger = logging.getLogger(__name__)

PAD, UNK, TOPIC = "<pad>", "<unk>", "<topic>"
_WORD_RE = re.compile(r"\x00|\w+|[^\w\s]")


@dataclass
class GNNTeacherConfig(TeacherConfig):
    """Settings of the gnn teacher.

    >>> GNNTeacherConfig(hidden_dim=32, epochs=10).hidden_dim
    32
    """

    hidden_dim: int = field(default=64, metadata={"help": "Size of entity, word and decoder states."})
    num_layers: int = field(default=2, metadata={"help": "R-GCN layers (message-passing hops over the graph)."})
    num_bases: int | None = field(
        default=None,
        metadata={"help": "R-GCN basis decomposition size; set it for graphs with many relations (None: full)."},
    )
    dropout: float = field(default=0.1, metadata={"help": "Dropout in [0, 1) on embeddings and the decoder."})
    pretrain_epochs: int = field(
        default=20, metadata={"help": "Epochs of link-prediction pre-training on the graph's edges (>= 0)."}
    )
    epochs: int = field(default=30, metadata={"help": "Most epochs of path training on the questions (>= 1)."})
    patience: int = field(
        default=4, metadata={"help": "Epochs without a better validation Hits@1 before stopping early (>= 1)."}
    )
    batch_size: int = field(default=32, metadata={"help": "Questions per path-training batch (>= 1)."})
    pretrain_batch_size: int = field(default=1024, metadata={"help": "Edges per pre-training batch (>= 1)."})
    learning_rate: float = field(default=3e-3, metadata={"help": "Adam learning rate (> 0)."})
    beam_size: int = field(default=8, metadata={"help": "Beam width of path decoding (>= 1)."})
    device: str = field(default="auto", metadata={"help": "Torch device; 'auto' takes CUDA when available."})
    cpu_threads: int = field(
        default=1,
        metadata={
            "help": "Torch CPU threads while fitting and predicting (0 keeps torch's setting): the gnn's tensors are "
            "small, so more threads add synchronisation cost, badly so on a busy machine."
        },
    )
    progress: bool = field(default=True, metadata={"help": "Show progress bars while fitting."})

    def __post_init__(self) -> None:
        super().__post_init__()
        positive = ("hidden_dim", "num_layers", "epochs", "patience", "batch_size", "pretrain_batch_size", "beam_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_bases is not None and self.num_bases < 1:
            raise ValueError(f"num_bases must be >= 1 or None, got {self.num_bases}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.cpu_threads < 0:
            raise ValueError(f"cpu_threads must be >= 0, got {self.cpu_threads}")
        if self.pretrain_epochs < 0:
            raise ValueError(f"pretrain_epochs must be >= 0, got {self.pretrain_epochs}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")


def question_words(kg: KnowledgeGraph, question: Question) -> list[str]:
    """Lower-cased words of a question with every name of its topic replaced by ``<topic>``.

    >>> question_words(kg, Question("q", "What is Germany located in?", germany, (), (), "test"))  # doctest: +SKIP
    ['what', 'is', '<topic>', 'located', 'in', '?']
    """
    text = question.question
    if question.topic is not None:
        names = {kg.entity_label(question.topic), *kg.entity_aliases(question.topic)}
        for name in sorted((n for n in names if n.strip()), key=len, reverse=True):
            text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "\x00", text, flags=re.IGNORECASE)
    return [TOPIC if w == "\x00" else w for w in _WORD_RE.findall(text.lower())]


class Vocabulary:
    """Word ids for the question encoder: the words of the training questions and relation labels.

    >>> Vocabulary(["what", "is"]).encode(["what", "zebra"])
    [3, 1]
    """

    def __init__(self, words: Sequence[str]) -> None:
        self.words = [PAD, UNK, TOPIC, *sorted(set(words) - {PAD, UNK, TOPIC})]
        self.ids = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, words: Sequence[str]) -> list[int]:
        return [self.ids.get(w, 1) for w in words]


@dataclass
class _Node:
    """One decoding state of a training question: a gold-path prefix and the target over the next action."""

    prefix: RelationPath
    frontier: np.ndarray  # entity ids reached by the prefix
    allowed: np.ndarray  # (A,) bool
    target: np.ndarray  # (A,) share of gold paths through this prefix taking each action
    weight: float  # share of gold paths through this prefix


@register_teacher("gnn")
class GNNTeacher(PathTeacher):
    """An R-GCN over the KG with a question encoder, decoding relation paths by beam search.

    >>> teacher = GNNTeacher(GNNTeacherConfig(epochs=20))  # doctest: +SKIP
    >>> teacher.fit(kg, qs.split("train"), validation=qs.split("validation"))  # doctest: +SKIP
    {'validation_hits@1': 0.96, ...}
    >>> teacher.predict(qs.split("test")[0]).paths[0]  # doctest: +SKIP
    (0, 0)
    """

    config_class = GNNTeacherConfig
    config: GNNTeacherConfig

    def __init__(self, config: GNNTeacherConfig | None = None, **context: int) -> None:
        super().__init__(config, **context)
        self.vocab: Vocabulary | None = None
        self.net: RelationalPathNet | None = None
        self._entity_cache: torch.Tensor | None = None
        self._edges: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (heads, steps, tails)
        self._has_step: np.ndarray | None = None  # (N, S) bool: entity has a neighbour along step

    # ---- fitting ---------------------------------------------------------------------------

    def fit(
        self, kg: KnowledgeGraph, questions: Sequence[Question], validation: Sequence[Question] | None = None
    ) -> dict[str, float]:
        """Pre-train on the graph's edges, then train on the questions' gold paths; keep the best epoch.

        Questions without a topic or a gold path of at most ``max_hops`` steps are skipped.
        Returns the kept epoch's metrics (validation Hits@1 and F1 when ``validation`` is given).
        """
        cfg = self.config
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self._bind(kg)
        examples = [(q, nodes) for q in questions if q.topic is not None and (nodes := self._gold_nodes(q))]
        if not examples:
            raise TeacherError(
                f"no training question has a topic entity and a valid gold path of at most {self.max_hops} hops"
            )
        label_words = [w for r in range(kg.num_relations) for w in _WORD_RE.findall(kg.relation_label(r).lower())]
        self.vocab = Vocabulary([w for q, _ in examples for w in question_words(kg, q)] + label_words)
        self.net = self._build_net()
        validation = [q for q in validation or () if q.topic is not None and q.answers]
        start = time.perf_counter()
        with _cpu_threads(cfg.cpu_threads), _progress(cfg.progress) as progress:
            pretrain_loss = self._pretrain(rng, progress)
            metrics = self._train_paths(examples, validation, rng, progress)
        if pretrain_loss is not None:
            metrics["pretrain_loss"] = pretrain_loss
        metrics["fit_seconds"] = time.perf_counter() - start
        self.metrics = metrics
        return metrics

    def _gold_nodes(self, question: Question) -> list[_Node]:
        """The trie of a question's gold paths as decoding states with their next-action targets."""
        kg = self.require_kg()
        topic = int(question.topic)
        paths = [tuple(p) for p in question.gold_paths if 0 < len(p) <= self.max_hops]
        paths = [p for p in dict.fromkeys(paths) if len(kg.execute(topic, p))]
        if not paths:
            return []
        stop = kg.num_steps
        # Every prefix (the empty one included) with the share of gold paths taking each next action.
        shares: dict[RelationPath, dict[int, float]] = {}
        for path in paths:
            for depth in range(len(path) + 1):
                action = path[depth] if depth < len(path) else stop
                row = shares.setdefault(path[:depth], {})
                row[action] = row.get(action, 0.0) + 1.0 / len(paths)
        nodes = []
        for prefix, row in shares.items():
            frontier = kg.execute(topic, prefix)
            target = np.zeros(stop + 1, dtype=np.float32)
            for action, share in row.items():
                target[action] = share
            weight = float(target.sum())
            nodes.append(_Node(prefix, frontier, self._allowed(frontier, len(prefix)), target / weight, weight))
        return nodes

    def _allowed(self, frontier: np.ndarray, depth: int) -> np.ndarray:
        """(A,) bool: the steps existing at ``frontier``, and STOP once a path has a step; only STOP at max_hops."""
        assert self._has_step is not None
        if depth < self.max_hops:
            steps = self._has_step[frontier].any(axis=0)  # (S,)
        else:
            steps = np.zeros(self._has_step.shape[1], dtype=bool)
        return np.append(steps, depth > 0)

    def _bind(self, kg: KnowledgeGraph) -> None:
        """Attach the graph and index its edges: both directions, and which steps each entity has."""
        self.kg = kg
        self._edges = kg_edges(kg)
        heads, steps, _ = self._edges
        # Dense (N, S) booleans make the open steps of a frontier one vectorised lookup.
        self._has_step = np.zeros((kg.num_entities, kg.num_steps), dtype=bool)
        self._has_step[heads, steps] = True

    def _build_net(self) -> RelationalPathNet:
        kg, cfg, vocab = self.require_kg(), self.config, self.vocab
        assert vocab is not None and self._edges is not None
        heads, steps, tails = self._edges
        labels = [
            vocab.encode(_WORD_RE.findall(kg.relation_label(kg.base_relation(s)).lower())) for s in range(kg.num_steps)
        ]
        width = max((len(ws) for ws in labels), default=1)
        label_words = torch.zeros(kg.num_steps + 1, max(width, 1), dtype=torch.long)  # (A, L); STOP row empty
        for s, ids in enumerate(labels):
            label_words[s, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        net = RelationalPathNet(
            num_entities=kg.num_entities,
            num_steps=kg.num_steps,
            # A message flows from the head to the tail of every step, inverse steps included.
            edge_index=torch.from_numpy(np.stack([heads, tails])),
            edge_type=torch.from_numpy(steps),
            label_words=label_words,
            vocab_size=len(vocab),
            max_hops=self.max_hops,
            hidden_dim=cfg.hidden_dim,
            num_layers=cfg.num_layers,
            num_bases=cfg.num_bases,
            dropout=cfg.dropout,
        )
        return net.to(self._device())

    def _device(self) -> torch.device:
        if self.config.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.config.device)

    def _pretrain(self, rng: np.random.Generator, progress: Progress) -> float | None:
        """Link prediction on every edge (both directions) with a DistMult decoder; the last epoch's loss, if any."""
        net, cfg = self._require_net(), self.config
        assert self._edges is not None
        heads, steps, tails = (torch.from_numpy(a).to(self._device()) for a in self._edges)
        optimizer = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
        task = progress.add_task("pre-training on the graph", total=cfg.pretrain_epochs)
        loss_value = None
        net.train()
        for _ in range(cfg.pretrain_epochs):
            order = torch.from_numpy(rng.permutation(len(heads))).to(self._device())
            total = 0.0
            for batch in order.split(cfg.pretrain_batch_size):
                logits = net.link_logits(net.encode_entities(), heads[batch], steps[batch])  # (b, N)
                loss = F.cross_entropy(logits, tails[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            loss_value = total / len(heads)
            progress.update(task, advance=1, description=f"pre-training on the graph  loss {loss_value:.3f}")
        return loss_value

    def _train_paths(
        self,
        examples: list[tuple[Question, list[_Node]]],
        validation: Sequence[Question],
        rng: np.random.Generator,
        progress: Progress,
    ) -> dict[str, float]:
        """Teacher-forced path training with early stopping on validation Hits@1; keeps the best weights."""
        net, cfg = self._require_net(), self.config
        optimizer = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
        task = progress.add_task("path training", total=cfg.epochs)
        # The kept epoch's record and weights: the best validation Hits@1 so far (the last epoch without validation).
        best: tuple[dict[str, float], dict[str, torch.Tensor]] | None = None
        epoch = 0
        for epoch in range(1, cfg.epochs + 1):
            net.train()
            self._entity_cache = None
            total = 0.0
            for batch in np.array_split(rng.permutation(len(examples)), max(1, len(examples) // cfg.batch_size)):
                loss = self._path_loss([examples[i] for i in batch])
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                optimizer.step()
                total += loss.item() * len(batch)
            record = {"best_epoch": epoch, "train_loss": total / len(examples)}
            description = f"path training  loss {record['train_loss']:.3f}"
            if validation:
                net.eval()
                self._entity_cache = None
                scores = score_path_predictions(self.require_kg(), validation, self.predict_batch(validation))
                record.update({"validation_hits@1": scores["hits@1"], "validation_f1": scores["f1"]})
                description += f"  validation Hits@1 {scores['hits@1']:.3f}"
            if best is None or not validation or record["validation_hits@1"] > best[0]["validation_hits@1"]:
                best = (record, copy.deepcopy(net.state_dict()))
            progress.update(task, advance=1, description=description)
            logger.info("epoch %d: %s", epoch, record)
            # Hits@1 cannot beat 1.0: later epochs could never be kept, so stop as patience would.
            kept = best[0]
            if validation and (epoch - kept["best_epoch"] >= cfg.patience or kept["validation_hits@1"] >= 1.0):
                break
        assert best is not None
        net.load_state_dict(best[1])
        metrics = {"epochs": epoch, **best[0]}
        net.eval()
        self._entity_cache = None
        return metrics

    def _path_loss(self, batch: list[tuple[Question, list[_Node]]]) -> torch.Tensor:
        """Cross-entropy against each gold-trie node's next-action shares, weighted by the node's share; per question."""
        net = self._require_net()
        words, lengths = self._encode_words([q for q, _ in batch])
        items = [
            (i, int(q.topic), n.prefix, n.frontier, n.allowed) for i, (q, nodes) in enumerate(batch) for n in nodes
        ]
        nodes = [n for _, ns in batch for n in ns]
        device = self._device()
        target = torch.from_numpy(np.stack([n.target for n in nodes])).to(device)  # (M, A)
        weight = torch.tensor([n.weight for n in nodes], device=device)  # (M,)
        states = self._states(items)
        logits = net.score(net.encode_entities(), net.encode_questions(words, lengths), states)  # (M, A)
        # Disallowed actions have -inf logits and zero target: leave them out rather than compute 0 * -inf.
        log_probs = F.log_softmax(logits, dim=-1).masked_fill(~states.allowed, 0.0)  # (M, A)
        per_node = -(target * log_probs).sum(-1)  # (M,)
        return (weight * per_node).sum() / len(batch)

    # ---- prediction ------------------------------------------------------------------------

    def predict(self, question: Question) -> PathDistribution:
        """The top ``top_n`` paths of a beam search from the question's topic."""
        return self.predict_batch([question])[0]

    @torch.no_grad()
    def predict_batch(self, questions: Sequence[Question]) -> list[PathDistribution]:
        """Beam search, many questions per forward pass: one pass per hop for the whole batch."""
        chunk = 4 * self.config.batch_size
        with _cpu_threads(self.config.cpu_threads):
            return [d for i in range(0, len(questions), chunk) for d in self._beam_search(questions[i : i + chunk])]

    def _beam_search(self, questions: Sequence[Question]) -> list[PathDistribution]:
        kg, net, cfg = self.require_kg(), self._require_net(), self.config
        net.eval()
        topics = [self.require_topic(q) for q in questions]
        if self._entity_cache is None:
            self._entity_cache = net.encode_entities()
        entities = self._entity_cache  # (N, d)
        encoded = net.encode_questions(*self._encode_words(questions))  # (B, d)
        # Per question: open beams (prefix, log-prob, frontier) and finished paths (prefix, log-prob).
        beams: list[list[tuple[RelationPath, float, np.ndarray]]] = [
            [((), 0.0, np.array([t], dtype=np.int64))] for t in topics
        ]
        finished: list[list[tuple[RelationPath, float]]] = [[] for _ in questions]
        for depth in range(self.max_hops + 1):
            items = [
                (i, topics[i], prefix, frontier, self._allowed(frontier, depth), log_prob)
                for i, open_beams in enumerate(beams)
                for prefix, log_prob, frontier in open_beams
            ]
            if not items:
                break
            states = self._states([item[:5] for item in items])
            log_probs = F.log_softmax(net.score(entities, encoded, states), dim=-1).cpu().numpy()  # (M, A)
            grown: list[list[tuple[float, RelationPath, np.ndarray]]] = [[] for _ in questions]
            for m, (i, _, prefix, frontier, allowed, log_prob) in enumerate(items):
                for action in np.flatnonzero(allowed).tolist():
                    score = log_prob + float(log_probs[m, action])
                    if action == kg.num_steps:
                        finished[i].append((prefix, score))
                    else:
                        grown[i].append((score, (*prefix, action), frontier))
            beams = []
            for options in grown:
                options.sort(key=lambda o: -o[0])
                beams.append([(p, s, kg.follow(f, p[-1])) for s, p, f in options[: cfg.beam_size]])
        results = []
        for topic, done in zip(topics, finished, strict=True):
            done.sort(key=lambda d: -d[1])
            best = done[: cfg.top_n]
            results.append(PathDistribution.from_scores(kg, topic, [p for p, _ in best], [s for _, s in best]))
        return results

    # ---- batching helpers ------------------------------------------------------------------

    def _encode_words(self, questions: Sequence[Question]) -> tuple[torch.Tensor, torch.Tensor]:
        """Word ids (B, T) padded with 0 and lengths (B,)."""
        kg, vocab = self.require_kg(), self.vocab
        assert vocab is not None
        ids = [vocab.encode(question_words(kg, q)) or [1] for q in questions]
        words = torch.zeros(len(ids), max(len(x) for x in ids), dtype=torch.long)
        for row, x in enumerate(ids):
            words[row, : len(x)] = torch.tensor(x, dtype=torch.long)
        device = self._device()
        return words.to(device), torch.tensor([len(x) for x in ids], device=device)

    def _states(self, items: Sequence[tuple[int, EntityId, RelationPath, np.ndarray, np.ndarray]]) -> DecodeStates:
        """Tensors of decoding states given as (question row, topic, prefix, frontier, allowed)."""
        net = self._require_net()
        prefix = torch.full((len(items), self.max_hops), net.pad, dtype=torch.long)  # (M, H)
        for m, (_, _, steps, _, _) in enumerate(items):
            prefix[m, : len(steps)] = torch.tensor(steps, dtype=torch.long)
        sizes = [len(f) for _, _, _, f, _ in items]
        return DecodeStates(
            question=torch.tensor([i for i, *_ in items]),
            topic=torch.tensor([t for _, t, *_ in items]),
            prefix=prefix,
            frontier=torch.from_numpy(np.concatenate([f for _, _, _, f, _ in items]).astype(np.int64)),
            frontier_state=torch.repeat_interleave(torch.arange(len(items)), torch.tensor(sizes)),
            allowed=torch.from_numpy(np.stack([a for *_, a in items])),
        ).to(self._device())

    def _require_net(self) -> RelationalPathNet:
        if self.net is None:
            raise TeacherError("the gnn teacher is not fitted: call fit() or load()")
        return self.net

    # ---- persistence hooks -----------------------------------------------------------------

    def _weights(self) -> dict[str, torch.Tensor]:
        return dict(self._require_net().state_dict())

    def _extra_state(self) -> dict[str, Any]:
        return {"vocabulary": self.vocab.words if self.vocab else []}

    def _restore(self, kg: KnowledgeGraph, state: Mapping[str, Any], weights: Mapping[str, torch.Tensor]) -> None:
        self._bind(kg)
        self.vocab = Vocabulary(state.get("vocabulary", []))
        self.net = self._build_net()
        try:
            self.net.load_state_dict(dict(weights))
        except RuntimeError as err:
            raise TeacherError(
                f"gnn teacher weights do not fit this graph and config: {str(err).splitlines()[0]}"
            ) from err
        self.net.eval()


def kg_edges(kg: KnowledgeGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every edge of the graph in both directions as (heads, steps, tails), each (2 * num_triples,) int64."""
    heads, steps, tails = [], [], []
    for entity in range(kg.num_entities):
        for step in kg.steps_from(entity).tolist():
            ends = kg.neighbors(entity, step)
            heads.append(np.full(len(ends), entity, dtype=np.int64))
            steps.append(np.full(len(ends), step, dtype=np.int64))
            tails.append(np.asarray(ends, dtype=np.int64))
    if not heads:
        raise TeacherError("the knowledge graph has no entity-to-entity edges: nothing to learn paths over")
    return np.concatenate(heads), np.concatenate(steps), np.concatenate(tails)


@contextmanager
def _cpu_threads(count: int) -> Iterator[None]:
    """Run a block with ``count`` torch CPU threads (0: unchanged), restoring the previous setting after."""
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    """A rich progress display on stderr (a no-op when ``enabled`` is False)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), disable=not enabled) as progress:
        yield progress
