"""The gnn teacher's network: a relational GNN over question subgraphs, a question encoder and a path scorer.

Shapes: ``n`` nodes of a batch of subgraphs (their disjoint union, as PyG batches graphs),
``E`` their edges, ``S = 2R`` steps (relations and their inverses), ``A = S + 1`` actions
(the steps, then STOP), ``d`` hidden size, ``B`` questions, ``T`` words, ``M`` decoding
states (a question with a path prefix), ``F`` frontier entries (node, state) over all
states, ``H = max_hops``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence
from torch_geometric.nn import MessagePassing


@dataclass
class SubgraphBatch:
    """Several question subgraphs as one graph: node ids offset per subgraph, edges concatenated."""

    num_nodes: int
    edge_index: torch.Tensor  # (2, E) batch node ids: row 0 the source of the message, row 1 its target
    edge_type: torch.Tensor  # (E,) step of each edge
    is_seed: torch.Tensor  # (n,) bool: the node is its subgraph's topic

    def to(self, device: torch.device | str) -> SubgraphBatch:
        return SubgraphBatch(
            self.num_nodes, self.edge_index.to(device), self.edge_type.to(device), self.is_seed.to(device)
        )


@dataclass
class DecodeStates:
    """A batch of decoding states: question, path so far, the entities it reached, the actions open there.

    ``prefix`` holds the steps taken, then the PAD action in the slots not reached yet. A state
    whose entities all lie outside its capped subgraph has no frontier entries.
    """

    question: torch.Tensor  # (M,) row of the question in the question batch
    topic: torch.Tensor  # (M,) batch node of the question's topic
    prefix: torch.Tensor  # (M, H) steps taken, then PAD
    frontier: torch.Tensor  # (F,) batch nodes reached by the prefixes (those inside the question's subgraph)
    frontier_state: torch.Tensor  # (F,) state each frontier entity belongs to
    allowed: torch.Tensor  # (M, A) bool: steps existing at the frontier, and STOP when a path may end

    def to(self, device: torch.device | str) -> DecodeStates:
        return DecodeStates(**{k: v.to(device) for k, v in vars(self).items()})


class RelationalConv(MessagePassing):
    """One CompGCN-style layer (Vashishth et al. 2020, multiplicative composition): ``W_s x_i + W_m mean_j(x_j * r_step)``.

    Why not R-GCN's relation matrices: RGCNConv loops over relation types (or, as FastRGCNConv,
    gathers a d x d matrix per edge) and its parameters grow with relations x d^2; a relation
    vector per step costs O(E d + n d^2) per layer whatever the number of relations (1,000 and more).
    """

    def __init__(self, hidden_dim: int, num_steps: int) -> None:
        super().__init__(aggr="mean")
        self.relation = nn.Embedding(num_steps, hidden_dim)
        self.self_lin = nn.Linear(hidden_dim, hidden_dim)
        self.message_lin = nn.Linear(hidden_dim, hidden_dim, bias=False)
        nn.init.normal_(self.relation.weight, mean=1.0, std=0.1)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_type: torch.Tensor) -> torch.Tensor:
        """(n, d) from node states (n, d): the linear map is applied after the mean (same result, n not E rows)."""
        return self.self_lin(x) + self.message_lin(self.propagate(edge_index, x=x, edge_type=edge_type))

    def message(self, x_j: torch.Tensor, edge_type: torch.Tensor) -> torch.Tensor:
        return x_j * self.relation(edge_type)  # (E, d)

    def propagate(self, edge_index: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        # Defined here only so that PyG keeps its generic propagate: otherwise it renders a
        # specialised one from a template into a file in $TMPDIR that is never deleted (one
        # per process: every fit, ask and eval would leave one behind).
        return super().propagate(edge_index, **kwargs)


class RelationalPathNet(nn.Module):
    """Node states from a relational GNN over question subgraphs, question states from a GRU, action logits from both.

    There is no parameter per entity (the model is inductive, as NSM and GraftNet initialise
    from relations): a node starts as the mean embedding of the steps it has in its subgraph
    plus a topic flag, and message passing along both edge directions refines it, so an
    entity no training question mentions is read like any other. An action's embedding adds
    the mean word embedding of its relation label to a learned one, tying actions to question words.

    >>> net = RelationalPathNet(num_steps=2, label_words=lw, vocab_size=20, max_hops=2, hidden_dim=16)  # doctest: +SKIP
    >>> net.score(net.encode_nodes(batch), net.encode_questions(words, lengths), states).shape  # doctest: +SKIP
    torch.Size([M, 3])
    """

    def __init__(
        self,
        *,
        num_steps: int,
        label_words: torch.Tensor,
        vocab_size: int,
        max_hops: int,
        hidden_dim: int = 64,
        num_layers: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        d = hidden_dim
        self.num_steps = num_steps
        self.pad = num_steps + 1  # fills the prefix slots past the steps taken; never an output
        # Derived from the KG's relation labels at load time: not saved with the weights.
        self.register_buffer("label_words", label_words, persistent=False)  # (A, L) word ids, 0 = pad

        self.convs = nn.ModuleList(RelationalConv(d, num_steps) for _ in range(num_layers))
        self.seed_flag = nn.Embedding(2, d)  # added to a node's first state: is it the question's topic
        # The frontier state of a path whose entities all lie outside the capped subgraph.
        self.outside = nn.Parameter(torch.zeros(d))
        self.words = nn.Embedding(vocab_size, d, padding_idx=0)
        self.question_rnn = nn.GRU(d, d, batch_first=True, bidirectional=True)
        self.question_out = nn.Linear(2 * d, d)
        self.actions = nn.Embedding(num_steps + 2, d)  # steps, STOP, PAD
        # The prefix has at most max_hops slots: one linear map of all of them is cheaper than an RNN.
        self.prefix_out = nn.Linear(max_hops * d, d)
        self.state = nn.Sequential(nn.Linear(4 * d, 2 * d), nn.ReLU(), nn.Dropout(dropout), nn.Linear(2 * d, d))
        self.dropout = nn.Dropout(dropout)

    def encode_nodes(self, batch: SubgraphBatch) -> torch.Tensor:
        """Node states, (n, d): mean embedding of the node's distinct steps plus a topic flag, refined by residual layers."""
        # The set of steps a node has, not their counts: what kind of entity it is, the same whether
        # or not the hub policy sampled its lists.
        pairs = torch.unique(batch.edge_index[0] * self.num_steps + batch.edge_type)  # (P,) node * S + step
        source = pairs // self.num_steps  # (P,)
        steps = self.action_embeddings()[pairs % self.num_steps]  # (P, d)
        x = torch.zeros(batch.num_nodes, steps.shape[1], device=steps.device).index_add_(0, source, steps)  # (n, d)
        degree = torch.bincount(source, minlength=batch.num_nodes).clamp(min=1)  # (n,)
        x = self.dropout(x / degree.unsqueeze(-1) + self.seed_flag(batch.is_seed.long()))  # (n, d)
        for i, conv in enumerate(self.convs):
            h = conv(x, batch.edge_index, batch.edge_type)  # (n, d)
            # Residual: a node keeps its own state as well as its neighbourhood's message.
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

    def score(self, nodes: torch.Tensor, questions: torch.Tensor, states: DecodeStates) -> torch.Tensor:
        """Logits of the next action, (M, A), -inf where an action is not allowed.

        ``nodes`` (n, d) from :meth:`encode_nodes`, ``questions`` (B, d) from :meth:`encode_questions`.
        """
        actions = self.action_embeddings()  # (S + 2, d)
        prefix = self.prefix_out(actions[states.prefix].flatten(1))  # (M, H, d) -> (M, d)
        # Mean state of the frontier's nodes: what kind of entities the path has reached so far.
        frontier = torch.zeros_like(prefix).index_add_(0, states.frontier_state, nodes[states.frontier])  # (M, d)
        sizes = torch.bincount(states.frontier_state, minlength=len(prefix)).unsqueeze(-1)  # (M, 1)
        frontier = torch.where(sizes > 0, frontier / sizes.clamp(min=1), self.outside)  # (M, d)
        features = torch.cat([questions[states.question], nodes[states.topic], prefix, frontier], dim=-1)  # (M, 4d)
        logits = self.state(features) @ actions[: self.num_steps + 1].T  # (M, A)
        return logits.masked_fill(~states.allowed, float("-inf"))
