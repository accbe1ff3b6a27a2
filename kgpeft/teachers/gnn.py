"""The ``gnn`` teacher (the default): a question-conditioned relational GNN that decodes paths hop by hop.

The GNN reasons over each question's neighbourhood, never over the whole graph (as
GraftNet, NSM and GNN-RAG do): the ``max_hops``-hop subgraph around the topic, bounded by
the hub policy of :mod:`kgpeft.kg.subgraph` (``max_neighbors`` per entity and step, sampled
deterministically, and ``max_nodes`` per question; what is cut is counted in the metrics
and logged). There is no parameter per entity, so cost follows the questions and their
neighbourhoods, not the graph's size, and an unseen topic is read like a seen one.

Training teaches the decoder, by teacher forcing, to follow the gold paths: at each prefix
of a question's gold paths, the target is the share of gold paths taking each next action
(a step existing at the current frontier, or STOP), so several gold paths all receive
mass. Prediction is a beam search over the actions open at each frontier. The open steps
come from the whole graph's adjacency and the chosen paths are executed on the whole
graph, so answers are exact; only the states the network reads come from the subgraph (a
frontier's state is the mean of its entities inside the subgraph, a learned "outside"
vector when it has none there). Training reads the same subgraphs as prediction: the gold
paths' entities are not forced in (``extract_subgraph``'s ``keep``), because a prediction
cannot know them, and a network trained on subgraphs that always hold the answer would meet
other subgraphs at test time.

There is no structure pre-training: the whole-graph link prediction it replaces cost
edges x batches and existed to give every entity's own embedding a meaning; with node
states built from the steps a node has, there is nothing per entity to pre-train.

Questions are read with the topic's name replaced by a ``<topic>`` word, so the
question encoder learns the wording of relations, not entity names: a question about
an unseen topic reads like the training questions.
"""

from __future__ import annotations

import copy
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.nn import functional as F

from kgpeft.data.scoring import score_path_predictions
from kgpeft.errors import TeacherError
from kgpeft.kg.subgraph import Subgraph, extract_subgraph
from kgpeft.teachers.base import PathDistribution, PathTeacher, TeacherConfig, read_teacher_meta
from kgpeft.teachers.gnn_net import DecodeStates, RelationalPathNet, SubgraphBatch
from kgpeft.teachers.registry import register_teacher
from kgpeft.types import RelationPath, StrPath

if TYPE_CHECKING:
    from rich.progress import Progress
    from typing_extensions import Self

    from kgpeft.data import Question
    from kgpeft.kg import KnowledgeGraph

logger = logging.getLogger(__name__)

PAD, UNK, TOPIC = "<pad>", "<unk>", "<topic>"
_WORD_RE = re.compile(r"\x00|\w+|[^\w\s]")
# Saved teachers record it: 2 reasons over question subgraphs; 1 (no "format" key) was the
# whole-graph R-GCN with an embedding per entity, whose weights mean nothing to this network.
GNN_FORMAT = 2
# Question subgraphs kept between predictions (fitting keeps every training and validation topic's).
SUBGRAPH_CACHE = 4096


@dataclass
class GNNTeacherConfig(TeacherConfig):
    """Settings of the gnn teacher.

    >>> GNNTeacherConfig(hidden_dim=32, epochs=10).hidden_dim
    32
    """

    hidden_dim: int = field(default=64, metadata={"help": "Size of entity, word and decoder states."})
    num_layers: int = field(
        default=2, metadata={"help": "Relational GNN layers (message-passing hops over a question's subgraph)."}
    )
    dropout: float = field(default=0.1, metadata={"help": "Dropout in [0, 1) on embeddings and the decoder."})
    max_neighbors: int = field(
        default=16,
        metadata={
            "help": "Neighbours per (entity, step) in a question's subgraph: longer lists are sampled "
            "deterministically (the same entities in every list), and counted (0: keep all)."
        },
    )
    max_nodes: int = field(
        default=128,
        metadata={"help": "Entities in a question's subgraph at most, the topic always among them (0: no budget)."},
    )
    epochs: int = field(default=30, metadata={"help": "Most epochs of path training on the questions (>= 1)."})
    patience: int = field(
        default=4, metadata={"help": "Epochs without a better validation Hits@1 before stopping early (>= 1)."}
    )
    batch_size: int = field(default=32, metadata={"help": "Questions per path-training batch (>= 1)."})
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
        for name in ("hidden_dim", "num_layers", "epochs", "patience", "batch_size", "beam_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_neighbors", "max_nodes", "cpu_threads"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
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


class _LRU(OrderedDict):
    """A dict that forgets its least recently used entries past ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def get_or_make(self, key: Any, make: Callable[[], Any]) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        if len(self) > self.limit:
            self.popitem(last=False)
        return value


@dataclass
class _Node:
    """One decoding state of a training question: a gold-path prefix and the target over the next action."""

    prefix: RelationPath
    frontier: np.ndarray  # local ids, in the question's subgraph, of the entities the prefix reaches there
    allowed: np.ndarray  # (A,) bool
    target: np.ndarray  # (A,) share of gold paths through this prefix taking each action
    weight: float  # share of gold paths through this prefix


@dataclass
class _Example:
    """A training question with its subgraph and its gold-path trie."""

    question: Question
    subgraph: Subgraph
    nodes: list[_Node]


@register_teacher("gnn")
class GNNTeacher(PathTeacher):
    """A relational GNN over each question's subgraph with a question encoder, decoding relation paths by beam search.

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
        # Both are read again every epoch while fitting: kept by topic, and by question text and topic.
        self._subgraphs = _LRU(SUBGRAPH_CACHE)
        self._words = _LRU(SUBGRAPH_CACHE)

    # ---- fitting ---------------------------------------------------------------------------

    def fit(
        self, kg: KnowledgeGraph, questions: Sequence[Question], validation: Sequence[Question] | None = None
    ) -> dict[str, float]:
        """Train on the questions' gold paths over their subgraphs; keep the best epoch.

        Questions without a topic or a gold path of at most ``max_hops`` steps are skipped.
        Returns the kept epoch's metrics (validation Hits@1 and F1 when ``validation`` is given)
        and what the hub policy cut from the fit's subgraphs (``subgraph_*``).
        """
        cfg = self.config
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        start = time.perf_counter()
        self._bind(kg)
        validation = [q for q in validation or () if q.topic is not None and q.answers]
        topics = {int(q.topic) for q in [*questions, *validation] if q.topic is not None}
        self._subgraphs.limit = max(SUBGRAPH_CACHE, len(topics))
        self._words.limit = max(SUBGRAPH_CACHE, len(questions) + len(validation))
        examples = [
            _Example(q, sub, nodes)
            for q in questions
            if q.topic is not None and (nodes := self._gold_nodes(q, sub := self._subgraph(int(q.topic))))
        ]
        if not examples:
            raise TeacherError(
                f"no training question has a topic entity and a valid gold path of at most {self.max_hops} hops"
            )
        for q in validation:
            self._subgraph(int(q.topic))
        subgraph_metrics = self._subgraph_metrics(examples)
        label_words = [w for r in range(kg.num_relations) for w in _WORD_RE.findall(kg.relation_label(r).lower())]
        self.vocab = Vocabulary([w for e in examples for w in self._question_words(e.question)] + label_words)
        self.net = self._build_net()
        with _cpu_threads(cfg.cpu_threads), _progress(cfg.progress) as progress:
            metrics = self._train_paths(examples, validation, rng, progress)
        metrics.update(subgraph_metrics)
        metrics["fit_seconds"] = time.perf_counter() - start
        self.metrics = metrics
        return metrics

    def _subgraph(self, topic: int) -> Subgraph:
        """The topic's subgraph under the config's hub policy, from the cache when it holds it."""
        cfg = self.config
        return self._subgraphs.get_or_make(
            topic,
            lambda: extract_subgraph(
                self.require_kg(),
                [topic],
                self.max_hops,
                max_neighbors=cfg.max_neighbors,
                max_nodes=cfg.max_nodes,
                seed=self.seed,
            ),
        )

    def _subgraph_metrics(self, examples: Sequence[_Example]) -> dict[str, float]:
        """What the fit's subgraphs hold and what the hub policy cut from them, logged in one line."""
        subs = list(self._subgraphs.values())
        states = [n for e in examples for n in e.nodes]
        metrics = {
            "subgraph_nodes_mean": float(np.mean([s.num_nodes for s in subs])),
            "subgraph_edges_mean": float(np.mean([s.num_edges for s in subs])),
            "subgraph_capped_lists": float(sum(s.capped_lists for s in subs)),
            "subgraph_dropped_edges": float(sum(s.dropped_edges for s in subs)),
            "subgraph_dropped_nodes": float(sum(s.dropped_nodes for s in subs)),
            # Training states whose entities all lie outside the subgraph (read as the "outside" state).
            "subgraph_frontiers_outside": float(np.mean([n.frontier.size == 0 for n in states])),
        }
        logger.info(
            "gnn subgraphs of %d topics (max_neighbors %d, max_nodes %d): %.0f nodes and %.0f edges on average; "
            "%d neighbour lists capped, %d edges and %d entities left out; %.1f%% of training states reach no "
            "entity inside their subgraph",
            len(subs),
            self.config.max_neighbors,
            self.config.max_nodes,
            metrics["subgraph_nodes_mean"],
            metrics["subgraph_edges_mean"],
            metrics["subgraph_capped_lists"],
            metrics["subgraph_dropped_edges"],
            metrics["subgraph_dropped_nodes"],
            100 * metrics["subgraph_frontiers_outside"],
        )
        return metrics

    def _gold_nodes(self, question: Question, subgraph: Subgraph) -> list[_Node]:
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
            allowed = self._allowed(frontier, len(prefix))
            nodes.append(_Node(prefix, subgraph.local(frontier), allowed, target / weight, weight))
        return nodes

    def _allowed(self, frontier: np.ndarray, depth: int) -> np.ndarray:
        """(A,) bool: the steps existing at ``frontier`` (sorted ids), and STOP once a path has a step.

        Read from the whole graph, not the subgraph: a capped list still has its step, and a
        path the subgraph cut short is still a path of the graph.
        """
        kg = self.require_kg()
        allowed = np.zeros(kg.num_steps + 1, dtype=bool)
        if depth < self.max_hops and frontier.size:
            # The graph's set primitive: one vectorised CSR lookup in memory, batched over a store.
            allowed[kg._step_set(frontier)] = True
        allowed[-1] = depth > 0
        return allowed

    def _bind(self, kg: KnowledgeGraph) -> None:
        """Attach the graph; subgraphs and question words of another graph are forgotten."""
        self.kg = kg
        self._subgraphs.clear()
        self._words.clear()

    def _build_net(self) -> RelationalPathNet:
        kg, cfg, vocab = self.require_kg(), self.config, self.vocab
        assert vocab is not None
        labels = [
            vocab.encode(_WORD_RE.findall(kg.relation_label(kg.base_relation(s)).lower())) for s in range(kg.num_steps)
        ]
        width = max((len(ws) for ws in labels), default=1)
        label_words = torch.zeros(kg.num_steps + 1, max(width, 1), dtype=torch.long)  # (A, L); STOP row empty
        for s, ids in enumerate(labels):
            label_words[s, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        net = RelationalPathNet(
            num_steps=kg.num_steps,
            label_words=label_words,
            vocab_size=len(vocab),
            max_hops=self.max_hops,
            hidden_dim=cfg.hidden_dim,
            num_layers=cfg.num_layers,
            dropout=cfg.dropout,
        )
        return net.to(self._device())

    def _device(self) -> torch.device:
        if self.config.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.config.device)

    def _train_paths(
        self,
        examples: list[_Example],
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
        return metrics

    def _path_loss(self, batch: list[_Example]) -> torch.Tensor:
        """Cross-entropy against each gold-trie node's next-action shares, weighted by the node's share; per question."""
        net = self._require_net()
        words, lengths = self._encode_words([e.question for e in batch])
        graph, offsets = self._batch([e.subgraph for e in batch])
        items = [
            (i, int(e.subgraph.seeds[0]) + offset, n.prefix, n.frontier + offset, n.allowed)
            for i, (e, offset) in enumerate(zip(batch, offsets.tolist(), strict=True))
            for n in e.nodes
        ]
        nodes = [n for e in batch for n in e.nodes]
        device = self._device()
        target = torch.from_numpy(np.stack([n.target for n in nodes])).to(device)  # (M, A)
        weight = torch.tensor([n.weight for n in nodes], device=device)  # (M,)
        states = self._states(items)
        logits = net.score(net.encode_nodes(graph), net.encode_questions(words, lengths), states)  # (M, A)
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
        subgraphs = [self._subgraph(t) for t in topics]
        graph, offsets = self._batch(subgraphs)
        nodes = net.encode_nodes(graph)  # (n, d): every question's subgraph, encoded once for all hops
        encoded = net.encode_questions(*self._encode_words(questions))  # (B, d)
        # Per question: open beams (prefix, log-prob, frontier) and finished paths (prefix, log-prob).
        beams: list[list[tuple[RelationPath, float, np.ndarray]]] = [
            [((), 0.0, np.array([t], dtype=np.int64))] for t in topics
        ]
        finished: list[list[tuple[RelationPath, float]]] = [[] for _ in questions]
        for depth in range(self.max_hops + 1):
            items = [
                (i, prefix, frontier, self._allowed(frontier, depth), log_prob)
                for i, open_beams in enumerate(beams)
                for prefix, log_prob, frontier in open_beams
            ]
            if not items:
                break
            states = self._states(
                [
                    (
                        i,
                        int(subgraphs[i].seeds[0]) + offsets[i],
                        prefix,
                        subgraphs[i].local(frontier) + offsets[i],
                        allowed,
                    )
                    for i, prefix, frontier, allowed, _ in items
                ]
            )
            log_probs = F.log_softmax(net.score(nodes, encoded, states), dim=-1).cpu().numpy()  # (M, A)
            grown: list[list[tuple[float, RelationPath, np.ndarray]]] = [[] for _ in questions]
            for m, (i, prefix, frontier, allowed, log_prob) in enumerate(items):
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

    def _question_words(self, question: Question) -> list[str]:
        """:func:`question_words`, kept: the topic's names make it a regular expression per question."""
        return self._words.get_or_make(
            (question.question, question.topic), lambda: question_words(self.require_kg(), question)
        )

    def _encode_words(self, questions: Sequence[Question]) -> tuple[torch.Tensor, torch.Tensor]:
        """Word ids (B, T) padded with 0 and lengths (B,)."""
        vocab = self.vocab
        assert vocab is not None
        ids = [vocab.encode(self._question_words(q)) or [1] for q in questions]
        words = torch.zeros(len(ids), max(len(x) for x in ids), dtype=torch.long)
        for row, x in enumerate(ids):
            words[row, : len(x)] = torch.tensor(x, dtype=torch.long)
        device = self._device()
        return words.to(device), torch.tensor([len(x) for x in ids], device=device)

    def _batch(self, subgraphs: Sequence[Subgraph]) -> tuple[SubgraphBatch, np.ndarray]:
        """The disjoint union of ``subgraphs`` (as PyG batches graphs) and each one's first node in it, (B,).

        Node states do not depend on the question, so a subgraph given several times (questions
        about one topic share its cached object) is encoded once.
        """
        distinct = list({id(s): s for s in subgraphs}.values())
        sizes = np.array([s.num_nodes for s in distinct], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        pairs = list(zip(distinct, starts.tolist(), strict=True))
        is_seed = torch.zeros(int(sizes.sum()), dtype=torch.bool)
        is_seed[torch.from_numpy(np.concatenate([s.seeds + o for s, o in pairs]))] = True
        batch = SubgraphBatch(
            num_nodes=int(sizes.sum()),
            edge_index=torch.from_numpy(np.concatenate([s.edge_index.astype(np.int64) + o for s, o in pairs], axis=1)),
            edge_type=torch.from_numpy(np.concatenate([s.edge_type for s in distinct]).astype(np.int64)),
            is_seed=is_seed,
        )
        start = {id(s): o for s, o in pairs}
        return batch.to(self._device()), np.array([start[id(s)] for s in subgraphs], dtype=np.int64)

    def _states(self, items: Sequence[tuple[int, int, RelationPath, np.ndarray, np.ndarray]]) -> DecodeStates:
        """Tensors of decoding states given as (question row, topic node, prefix, frontier nodes, allowed)."""
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
        return {"format": GNN_FORMAT, "vocabulary": self.vocab.words if self.vocab else []}

    @classmethod
    def load(cls, path: StrPath, kg: KnowledgeGraph) -> Self:
        """A saved gnn teacher; a folder of the whole-graph gnn (format 1) is refused before anything is read."""
        meta = read_teacher_meta(path)
        state = meta.get("state")
        saved = (
            (state.get("format", 1) if isinstance(state, dict) else 1) if meta["teacher"] == cls.name else GNN_FORMAT
        )
        if saved != GNN_FORMAT:
            raise TeacherError(
                f"{path}: this gnn teacher was saved in format {saved} (the whole-graph network of older kgpeft "
                f"versions), this kgpeft reads format {GNN_FORMAT}; refit it with `kgpeft teacher fit`"
            )
        return super().load(path, kg)

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
