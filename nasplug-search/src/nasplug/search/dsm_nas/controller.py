"""The DSM-NAS controller: a 2-layer edge-aware graph network over the subspace graph and an
LSTM that picks a subspace (global search) and then M single-position modifications (local
search). Sizes, attention and logit squashing follow docs/methods/dsm_nas.md 3.3"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

class EdgeSAGELayer(nn.Module):
    """GRAPE-style message passing with edge embeddings (dense: K is small).

    For node i, the message from each other node j is ``MLP([h_j, e_ij or 0, e_ji or 0])``,
    averaged over j; ``h_i' = ReLU(Q [h_i, m_i])``; edges update as ``e' = ReLU(W [e, h_s', h_t'])``.
    docs/methods/dsm_nas.md 3.3 writes the concatenation as ``[h_i, e_ij, e_ji]``; we read the neighbour's
    embedding ``h_j`` there, as GraphSAGE messages carry the neighbour's state.
    """

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.message = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.node = nn.Linear(2 * hidden, hidden)
        self.edge = nn.Linear(3 * hidden, hidden)

    def forward(self, h: torch.Tensor, e: torch.Tensor, adj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k = h.shape[0]
        out_edges = e * adj.unsqueeze(-1)                 # e_ij where i -> j exists
        in_edges = out_edges.transpose(0, 1)              # e_ji where j -> i exists
        neighbours = h.unsqueeze(0).expand(k, k, -1)      # [i, j] -> h_j
        messages = self.message(torch.cat([neighbours, out_edges, in_edges], dim=-1))
        off_diagonal = 1.0 - torch.eye(k, dtype=h.dtype)
        m = (messages * off_diagonal.unsqueeze(-1)).sum(1) / max(k - 1, 1)
        h_new = torch.relu(self.node(torch.cat([h, m], dim=-1)))
        src = h_new.unsqueeze(1).expand(k, k, -1)
        dst = h_new.unsqueeze(0).expand(k, k, -1)
        e_new = torch.relu(self.edge(torch.cat([e, src, dst], dim=-1))) * adj.unsqueeze(-1)
        return h_new, e_new


class Controller(nn.Module):
    """Samples ``(subspace k, [(position, choice)] * M)`` and returns the log-probability and
    entropy of the whole decision for REINFORCE."""

    def __init__(self, feature_dim: int, k: int, n_positions: int, width: int, *, hidden: int = 64,
                 gnn_layers: int = 2, use_graph: bool = True, use_edges: bool = True,
                 tanh_constant: float = 1.5, temperature: float = 2.5, init_range: float = 0.1) -> None:
        super().__init__()
        self.k, self.n_positions, self.width = k, n_positions, width
        self.use_graph, self.use_edges = use_graph, use_edges
        self.tanh_constant, self.temperature = tanh_constant, temperature
        self.node_in = nn.Linear(feature_dim, hidden)
        self.edge_in = nn.Linear(feature_dim, hidden)
        self.layers = nn.ModuleList(EdgeSAGELayer(hidden) for _ in range(gnn_layers))
        self.lstm = nn.LSTMCell(hidden, hidden)
        self.attn_query = nn.Linear(hidden, hidden, bias=False)
        self.attn_key = nn.Linear(hidden, hidden, bias=False)
        self.attn_v = nn.Linear(hidden, 1, bias=False)
        self.subspace_embedding = nn.Embedding(k, hidden)
        self.position_head = nn.Linear(hidden, n_positions)
        self.choice_head = nn.Linear(hidden, width)
        self.position_embedding = nn.Embedding(n_positions, hidden)
        self.choice_embedding = nn.Embedding(width, hidden)
        for p in self.parameters():
            nn.init.uniform_(p, -init_range, init_range)

    def embed_nodes(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        h = self.node_in(x)
        if not self.use_graph:
            return torch.relu(h)
        diff = x.unsqueeze(0) - x.unsqueeze(1)            # [i, j] -> x_j - x_i (end minus start)
        e = self.edge_in(diff) * adj.unsqueeze(-1)
        if not self.use_edges:
            e = torch.zeros_like(e)
        for layer in self.layers:
            h, e = layer(h, e, adj)
        return h

    def _squash(self, logits: torch.Tensor) -> torch.Tensor:
        return (self.tanh_constant / self.temperature) * torch.tanh(logits)

    def sample(self, x: torch.Tensor, adj: torch.Tensor, steps: int, generator: torch.Generator,
               choice_mask: Callable[[int, list[tuple[int, int]], int], torch.Tensor],
               forced_subspace: int | None = None) -> tuple[int, list[tuple[int, int]], torch.Tensor, torch.Tensor]:
        """One decision. ``choice_mask(k, edits, position)`` gives a boolean tensor of the choices
        allowed at ``position`` after ``edits`` to centre ``k``, so every edited architecture is
        valid (choosing the current value, i.e. no change, is allowed as in the authors' code)."""
        h = self.embed_nodes(x, adj)
        hx = torch.zeros(1, h.shape[1])
        cx = torch.zeros(1, h.shape[1])
        hx, cx = self.lstm(h.mean(0, keepdim=True), (hx, cx))
        scores = self.attn_v(torch.tanh(self.attn_key(h) + self.attn_query(hx))).squeeze(-1)
        logp_total = torch.zeros(())
        entropy_total = torch.zeros(())
        dist = torch.distributions.Categorical(logits=self.tanh_constant * torch.tanh(scores))
        if forced_subspace is None:
            k = int(torch.multinomial(dist.probs, 1, generator=generator))
        else:
            k = forced_subspace
        logp_total = logp_total + dist.log_prob(torch.tensor(k))
        entropy_total = entropy_total + dist.entropy()
        inp = self.subspace_embedding(torch.tensor([k]))
        edits: list[tuple[int, int]] = []
        for _ in range(steps):
            hx, cx = self.lstm(inp, (hx, cx))
            logits = self._squash(self.position_head(hx)).squeeze(0)
            d = torch.distributions.Categorical(logits=logits)
            pos = int(torch.multinomial(d.probs, 1, generator=generator))
            logp_total = logp_total + d.log_prob(torch.tensor(pos))
            entropy_total = entropy_total + _entropy(d)
            hx, cx = self.lstm(self.position_embedding(torch.tensor([pos])), (hx, cx))
            logits = self._squash(self.choice_head(hx)).squeeze(0)
            logits = logits.masked_fill(~choice_mask(k, edits, pos), float("-inf"))
            d = torch.distributions.Categorical(logits=logits)
            choice = int(torch.multinomial(d.probs, 1, generator=generator))
            logp_total = logp_total + d.log_prob(torch.tensor(choice))
            entropy_total = entropy_total + _entropy(d)
            inp = self.choice_embedding(torch.tensor([choice]))
            edits.append((pos, choice))
        return k, edits, logp_total, entropy_total


def _entropy(d: torch.distributions.Categorical) -> torch.Tensor:
    """Entropy that ignores masked (zero-probability) choices instead of returning nan."""
    p = d.probs
    logp = torch.where(p > 0, d.logits, torch.zeros_like(p))
    return -(p * logp).sum()


def apply_edits(positions: Sequence[int], edits: Sequence[tuple[int, int]]) -> list[int]:
    """The centre's positions with the edits applied in order (later ones overwrite)."""
    out = list(positions)
    for pos, choice in edits:
        out[pos] = choice
    return out
