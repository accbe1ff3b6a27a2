"""The gnn teacher's network: an R-GCN over the graph, a question encoder and a hop-by-hop path scorer.

Shapes: ``N`` entities, ``S = 2R`` steps (relations and their inverses), ``A = S + 1``
actions (the steps, then STOP), ``d`` hidden size, ``B`` questions, ``T`` words, ``M``
decoding states (a question with a path prefix),
``F`` frontier entries (entity, state) over all states, ``H = max_hops``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from torch_geometric.nn import RGCNConv


@dataclass
class DecodeStates:
    """A batch of decoding states: question, path so far, the entities it reached, the actions open there.

    ``prefix`` holds the steps taken, then the PAD action in the slots not reached yet.
    """

    question: torch.Tensor  # (M,) row of the question in the question batch
    topic: torch.Tensor  # (M,) topic entity
    prefix: torch.Tensor  # (M, H) steps taken, then PAD
    frontier: torch.Tensor  # (F,) entity ids reached by the prefixes
    frontier_state: torch.Tensor  # (F,) state each frontier entity belongs to
    allowed: torch.Tensor  # (M, A) bool: steps existing at the frontier, and STOP when a path may end

    def to(self, device: torch.device | str) -> DecodeStates:
        return DecodeStates(**{k: v.to(device) for k, v in vars(self).items()})


class RelationalPathNet(nn.Module):
    """Entity states from an R-GCN, question states from a GRU, action logits from both.

    Every entity has a learned embedding refined by message passing along both edge
    directions, so entities no training question mentions (test topics) still get a
    representation from their neighbourhood. An action's embedding adds the mean word
    embedding of its relation label to a learned one, tying actions to question words.

    >>> net = RelationalPathNet(num_entities=5, num_steps=2, edge_index=ei, edge_type=et,
    ...                         label_words=lw, vocab_size=20, hidden_dim=16)  # doctest: +SKIP
    >>> net.score(net.encode_entities(), net.encode_questions(words, lengths), states).shape  # doctest: +SKIP
    torch.Size([M, 3])
    """

    def __init__(
        self,
        *,
        num_entities: int,
        num_steps: int,
        edge_index: torch.Tensor,
        edge_type: torch.Tensor,
        label_words: torch.Tensor,
        vocab_size: int,
        max_hops: int,
        hidden_dim: int = 64,
        num_layers: int = 2,
        num_bases: int | None = None,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        d = hidden_dim
        self.num_steps = num_steps
        self.pad = num_steps + 1  # fills the prefix slots past the steps taken; never an output
        # Graph structure is derived from the KG at load time: not saved with the weights.
        self.register_buffer("edge_index", edge_index, persistent=False)  # (2, E)
        self.register_buffer("edge_type", edge_type, persistent=False)  # (E,)
        self.register_buffer("label_words", label_words, persistent=False)  # (A, L) word ids, 0 = pad

        self.entity = nn.Embedding(num_entities, d)
        self.convs = nn.ModuleList(RGCNConv(d, d, num_steps, num_bases=num_bases) for _ in range(num_layers))
        self.relation = nn.Embedding(num_steps, d)  # DistMult diagonals for structure pre-training
        self.words = nn.Embedding(vocab_size, d, padding_idx=0)
        self.question_rnn = nn.GRU(d, d, batch_first=True, bidirectional=True)
        self.question_out = nn.Linear(2 * d, d)
        self.actions = nn.Embedding(num_steps + 2, d)  # steps, STOP, PAD
        # The prefix has at most max_hops slots: one linear map of all of them is cheaper than an RNN.
        self.prefix_out = nn.Linear(max_hops * d, d)
        self.state = nn.Sequential(nn.Linear(4 * d, 2 * d), nn.ReLU(), nn.Dropout(dropout), nn.Linear(2 * d, d))
        self.dropout = nn.Dropout(dropout)
        nn.init.normal_(self.entity.weight, std=0.1)
        nn.init.normal_(self.relation.weight, mean=1.0, std=0.1)

    def encode_entities(self) -> torch.Tensor:
        """Entity states, (N, d): embeddings refined by residual R-GCN layers over the whole graph."""
        x = self.dropout(self.entity.weight)  # (N, d)
        for i, conv in enumerate(self.convs):
            h = conv(x, self.edge_index, self.edge_type)  # (N, d)
            # Residual: an entity keeps its own embedding as well as its neighbourhood's message.
            x = x + (h if i == len(self.convs) - 1 else self.dropout(torch.relu(h)))
        return x

    def encode_questions(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Question states, (B, d), from word ids (B, T) padded with 0 and their lengths (B,)."""
        emb = self.dropout(self.words(words))  # (B, T, d)
        packed = pack_padded_sequence(emb, lengths.cpu().clamp(min=1), batch_first=True, enforce_sorted=False)
        _, last = self.question_rnn(packed)  # (2, B, d): final forward and backward states
        return self.question_out(torch.cat([last[0], last[1]], dim=-1))  # (B, d)

    def action_embeddings(self) -> torch.Tensor:
        """(S + 2, d): learned action embeddings plus the mean word embedding of each step's relation label."""
        label = self.words(self.label_words)  # (A, L, d)
        count = (self.label_words != 0).sum(-1, keepdim=True).clamp(min=1)  # (A, 1)
        words = label.sum(1) / count  # (A, d); STOP has no label words: zeros
        pad = torch.zeros_like(words[:1])  # (1, d)
        return self.actions.weight + torch.cat([words, pad])  # (S + 2, d)

    def score(self, entities: torch.Tensor, questions: torch.Tensor, states: DecodeStates) -> torch.Tensor:
        """Logits of the next action, (M, A), -inf where an action is not allowed.

        ``entities`` (N, d) from :meth:`encode_entities`, ``questions`` (B, d) from :meth:`encode_questions`.
        """
        actions = self.action_embeddings()  # (S + 2, d)
        prefix = self.prefix_out(actions[states.prefix].flatten(1))  # (M, H, d) -> (M, d)
        # Mean entity state of the frontier: what kind of entities the path has reached so far.
        frontier = torch.zeros_like(prefix).index_add_(0, states.frontier_state, entities[states.frontier])
        sizes = torch.bincount(states.frontier_state, minlength=len(prefix)).clamp(min=1)  # (M,)
        frontier = frontier / sizes.unsqueeze(-1)  # (M, d)
        features = torch.cat([questions[states.question], entities[states.topic], prefix, frontier], dim=-1)  # (M, 4d)
        logits = self.state(features) @ actions[: self.num_steps + 1].T  # (M, A)
        return logits.masked_fill(~states.allowed, float("-inf"))

    def link_logits(self, entities: torch.Tensor, heads: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """DistMult scores of every entity as the tail of ``(head, step)``, (B, N), for structure pre-training."""
        query = entities[heads] * self.relation(steps)  # (B, d)
        return query @ entities.T  # (B, N)
