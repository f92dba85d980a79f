"""The GCN predictor of NPNAS / HAAP, and DARE's GCN with a consistency objective (docs/methods/dare.md 4.2-4.3).

Network (``ultmaster/neuralpredictor.pytorch: model.py``, as HAAP uses it): node features are the
one-hot operations; ``A^ = rownorm(A + I)``; three directed graph-convolution layers of width 144,
each ``h' = 1/2 [ReLU(A^ h W1) + ReLU(rownorm(A^T) h W2)]`` followed by dropout 0.1 (xavier-
initialised weights, no bias); mean pooling over the graph's nodes; ``fc1`` 144 -> 128 (no bias),
dropout 0.1, ``fc2`` 128 -> 1 (no bias). There is no nonlinearity between ``fc1`` and ``fc2`` in
that code, so the default head is linear (``head_activation = "relu"`` adds one).

Each propagation is a ``torch_geometric`` :class:`~torch_geometric.nn.GCNConv` (``normalize=False``,
no bias) fed the exact row-normalised edge weights above, self-loops included, so the message
passing is torch_geometric's while the arithmetic is NPNAS's. ``backend = "dense"`` computes the
same layers with batched dense ``(B, n, n)`` matrix products over graphs padded to ``max_nodes``
(same parameters, same outputs up to float rounding), which is faster on CPU for cells of <= ~10
nodes; the default stays torch_geometric (the bench reports both timings).

The input graph is HAAP's "multiple matrices" form by default (``graph = "haap"``: ``none`` nodes
deleted, ``skip`` nodes contracted, dead nodes pruned; see :mod:`nasplug.samplers.encoders.haap`),
as DARE states it follows HAAP; ``graph = "raw"`` feeds ``space.graph`` unchanged.

Training follows DARE's protocol (:mod:`.training`): Adam lr 1e-3, weight decay 1e-5,
CosineAnnealingWarmRestarts(T_0=20, T_mult=2), 300 epochs, no early stopping, batch size = the
number of samples added per active-learning round (10; set ``batch_size`` to match a run's
``per_round``). Targets are z-scored; ``predict`` returns the benchmark's units. ``embed`` returns
the pooled graph embedding (144-d; ``embedding = "fc1"`` gives the 128-d ``fc1`` output), the
vector DARE and CoreSet compute distances on. Training and inference are deterministic under
``fit``'s seed (torch's global RNG is forked and seeded inside ``fit``).
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.options import non_negative_int, number_in, one_of, positive_int, table
from nasplug.samplers.encoders.graphs import GraphTensors, SubBatch
from nasplug.samplers.encoders.haap import HAAPEncoder, simplify
from nasplug.samplers.predictors.training import (TargetScaler, TorchPredictor, TrainingOptions, check_labels, features_field,
                                                  make_encoder, seeded, train)


@attrs.frozen
class GCNPredictorConfig(TrainingOptions):
    """NPNAS's network (``hidden`` 144, ``layers`` 3, ``linear_hidden`` 128, ``dropout`` 0.1) with
    DARE's training protocol (the inherited options). ``graph``: ``"haap"`` (NB101 form, default)
    or ``"raw"``; ``embedding``: ``"pooled"`` or ``"fc1"``; ``backend``: ``"pyg"`` (GCNConv
    message passing, default) or ``"dense"`` (padded batched matmuls, same model). ``features``:
    ``["encoding"]`` (the graph, default), or with zero-cost proxy names (e.g. ``["encoding",
    "synflow", "naswot"]``), whose scores (symlog, standardised on the training set) join the
    pooled graph embedding at ``fc1``'s input; ``feature_data`` is the proxies' ``[data]``."""

    hidden: int = attrs.field(default=144, validator=positive_int)
    layers: int = attrs.field(default=3, validator=positive_int)
    linear_hidden: int = attrs.field(default=128, validator=positive_int)
    dropout: float = attrs.field(default=0.1, validator=number_in(0.0, 0.99))
    head_activation: str = attrs.field(default="none", validator=one_of("none", "relu"))
    graph: str = attrs.field(default="haap", validator=one_of("haap", "raw"))
    embedding: str = attrs.field(default="pooled", validator=one_of("pooled", "fc1"))
    backend: str = attrs.field(default="pyg", validator=one_of("pyg", "dense"))
    features: tuple[str, ...] = features_field()
    feature_data: dict | None = attrs.field(default=None, validator=table(optional=True))


# --- data -----------------------------------------------------------------------------------

class GraphData:
    """Graphs of some architectures with NPNAS's edge weights, ready to batch.

    Edges include one self-loop per node. For an edge ``s -> d`` of ``A + I``,
    ``A^[s, d] = 1 / (outdeg(s) + 1)``; the forward propagation ``A^ h`` sends messages ``d -> s``
    with that weight, the backward one ``rownorm(A^T) h`` sends ``s -> d`` with
    ``A^[s, d] / sum_k A^[k, d]``.
    """

    def __init__(self, tensors: GraphTensors, max_nodes: int) -> None:
        import torch

        self.tensors = tensors
        self.max_nodes = max_nodes
        src, dst = tensors.edge_index
        n = tensors.x.shape[0]
        loop = src == dst
        outdeg = torch.bincount(src[~loop], minlength=n).to(torch.float32)
        self.w_forward = 1.0 / (outdeg[src] + 1.0)
        col = torch.zeros(n).index_add_(0, dst, self.w_forward)
        self.w_backward = self.w_forward / col[dst]
        self._dense: tuple[Any, ...] | None = None
        #: Per-graph features joining the pooled embedding (proxy scores), ``(G, k)``, or none.
        self.extra: Any = None

    def __len__(self) -> int:
        return self.tensors.num_graphs

    def select(self, index: Any = None) -> SubBatch:
        return self.tensors.select(index)

    def dense(self) -> tuple[Any, ...]:
        """Padded ``x (G, n, V)``, forward and backward matrices ``(G, n, n)``, node mask and
        node role ``(G, n)`` (built once)."""
        import torch

        if self._dense is None:
            t = self.tensors
            g, n = t.num_graphs, self.max_nodes
            local = torch.arange(t.x.shape[0]) - t.node_ptr[:-1][t.batch]
            if len(local) and int(local.max()) >= n:
                raise ConfigError(f"a graph has more than max_nodes = {n} nodes; fix the space's max_nodes")
            x = torch.zeros(g, n, t.num_ops)
            x[t.batch, local] = t.x
            mask = torch.zeros(g, n)
            mask[t.batch, local] = 1.0
            src, dst = t.edge_index
            graph = t.batch[src]
            fwd = torch.zeros(g, n, n)
            fwd[graph, local[src], local[dst]] = self.w_forward   # row s, column d: A^[s, d]
            bwd = torch.zeros(g, n, n)
            bwd[graph, local[dst], local[src]] = self.w_backward  # row d, column s
            role = torch.full((g, n), 3, dtype=torch.int8)  # 3 = padding, kept after the sinks
            role[t.batch, local] = t.role
            self._dense = (x, fwd, bwd, mask, role)
        return self._dense

    def dense_view(self, index: Any = None, generator: Any = None) -> tuple[Any, Any, Any, Any]:
        """The padded tensors of graphs ``index``; with ``generator`` each graph's interior slots
        are randomly permuted (sources first, sinks and padding last)."""
        import torch

        x, fwd, bwd, mask, role = self.dense()
        if index is not None:
            x, fwd, bwd, mask, role = x[index], fwd[index], bwd[index], mask[index], role[index]
        if generator is None:
            return x, fwd, bwd, mask
        jitter = torch.rand(role.shape, generator=generator) - 0.5
        key = role.to(torch.float32) + torch.where(role == 1, jitter, torch.zeros(()))
        order = torch.argsort(key, dim=1, stable=True)
        rows = torch.arange(len(order)).unsqueeze(1)
        x, mask = x[rows, order], mask[rows, order]
        fwd = fwd[rows.unsqueeze(2), order.unsqueeze(2), order.unsqueeze(1)]
        bwd = bwd[rows.unsqueeze(2), order.unsqueeze(2), order.unsqueeze(1)]
        return x, fwd, bwd, mask


# --- network --------------------------------------------------------------------------------

def _build_network(num_ops: int, c: GCNPredictorConfig, extra: int = 0) -> Any:
    import torch
    from torch import nn
    from torch_geometric.nn import GCNConv, global_mean_pool

    class DirectedGCN(nn.Module):
        """NPNAS's directed GCN; ``forward`` returns (prediction, pooled embedding, fc1 output, node states)."""

        def __init__(self) -> None:
            super().__init__()
            dims = [num_ops] + [c.hidden] * c.layers
            self.forward_convs = nn.ModuleList(
                GCNConv(dims[i], dims[i + 1], normalize=False, add_self_loops=False, bias=False) for i in range(c.layers))
            self.backward_convs = nn.ModuleList(
                GCNConv(dims[i], dims[i + 1], normalize=False, add_self_loops=False, bias=False) for i in range(c.layers))
            self.dropout = nn.Dropout(c.dropout)
            self.fc1 = nn.Linear(c.hidden + extra, c.linear_hidden, bias=False)
            self.fc2 = nn.Linear(c.linear_hidden, 1, bias=False)

        def nodes_sparse(self, data: GraphData, sub: SubBatch) -> Any:
            h = sub.x
            fwd_index = sub.edge_index.flip(0)
            w_f, w_b = data.w_forward[sub.edge_ids], data.w_backward[sub.edge_ids]
            for conv_f, conv_b in zip(self.forward_convs, self.backward_convs):
                h = 0.5 * (torch.relu(conv_f(h, fwd_index, w_f)) + torch.relu(conv_b(h, sub.edge_index, w_b)))
                h = self.dropout(h)
            return h

        def nodes_dense(self, x: Any, fwd: Any, bwd: Any) -> Any:
            h = x
            for conv_f, conv_b in zip(self.forward_convs, self.backward_convs):
                h = 0.5 * (torch.relu(torch.bmm(fwd, conv_f.lin(h))) + torch.relu(torch.bmm(bwd, conv_b.lin(h))))
                h = self.dropout(h)
            return h

        def head(self, pooled: Any, extra: Any = None) -> tuple[Any, Any]:
            z = self.fc1(pooled if extra is None else torch.cat([pooled, extra], dim=1))
            if c.head_activation == "relu":
                z = torch.relu(z)
            return self.fc2(self.dropout(z)).view(-1), z

        def forward(self, data: GraphData, index: Any = None, generator: Any = None) -> tuple[Any, Any, Any, Any]:
            """Graphs ``index`` of ``data`` (all when ``None``); with ``generator``, a random
            homogeneous-augmentation view of each (interior nodes permuted)."""
            if c.backend == "dense":
                x, fwd, bwd, mask = data.dense_view(index, generator)
                h = self.nodes_dense(x, fwd, bwd)
                pooled = (h * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
                nodes: Any = (h, mask)
            else:
                sub = data.select(index)
                if generator is not None:
                    sub = data.tensors.permute_interior(sub, generator)
                h = self.nodes_sparse(data, sub)
                pooled = global_mean_pool(h, sub.batch, size=sub.num_graphs)
                nodes = (h, sub)
            extra = data.extra if data.extra is None or index is None else data.extra[index]
            pred, fc1 = self.head(pooled, extra)
            return pred, pooled, fc1, nodes

    return DirectedGCN()


# --- predictors -----------------------------------------------------------------------------

class GCNPredictor(TorchPredictor):
    """NPNAS's directed GCN on HAAP's graphs (torch_geometric GCNConv), trained with DARE's protocol."""

    Config = GCNPredictorConfig

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        if not getattr(space, "max_nodes", 0) or not getattr(space, "op_vocabulary", ()):
            raise ConfigError(f"predictor '{type(self).__name__}' needs a space with a graph form; {type(space).__name__} has none")
        self.haap = HAAPEncoder(space=space)
        proxies = [f for f in self.config.features if f != "encoding"]
        if proxies and "encoding" not in self.config.features:
            raise ConfigError(f"predictor '{type(self).__name__}': the graph is this predictor's encoding; "
                              f"features must include \"encoding\" (e.g. [\"encoding\", \"{proxies[0]}\"])")
        #: The proxy columns of ``features`` (``proxy_features`` encoder without a base), or none.
        self.proxy_columns = make_encoder("", proxies, self.config.feature_data, space) if proxies else None
        self._extra_stats: tuple[np.ndarray, np.ndarray] | None = None
        self.model: Any = None
        self.scaler: TargetScaler | None = None
        self.history: list[float] = []

    # graphs
    def _transform(self) -> Any:
        if self.config.graph == "raw":
            return None
        c = self.haap.config
        return lambda g: simplify(g, c.remove_ops, c.contract_ops)

    def graph_data(self, archs: Sequence[Hashable]) -> GraphData:
        """The architectures as :class:`GraphData` (built once per fit / prediction chunk)."""
        import torch

        tensors = GraphTensors.from_space(self.space, archs, self._transform(), self_loops=True)
        data = GraphData(tensors, int(self.space.max_nodes))
        if self.proxy_columns is not None:
            mean, std = self._extra_stats
            data.extra = torch.as_tensor((self._proxy_scores(archs) - mean) / std, dtype=torch.float32)
        return data

    def _proxy_scores(self, archs: Sequence[Hashable]) -> np.ndarray:
        return np.asarray(self.proxy_columns.encode(list(archs)), dtype=np.float64)

    # training
    def _loss(self, data: GraphData, index: Any, target: Any, generator: Any) -> Any:
        import torch

        pred = self.model(data, index=index)[0]
        return torch.nn.functional.mse_loss(pred, target[index])

    def _before_training(self, generator: Any, seed: int) -> None:
        """Hook for subclasses (DARE design B pretrains the encoder here)."""

    def fit(self, archs: Sequence[Hashable], y: np.ndarray, *, seed: int = 0) -> "GCNPredictor":
        import torch

        y = check_labels(archs, y)
        self.scaler = TargetScaler(y, self.config.standardize)
        if self.proxy_columns is not None:  # proxy columns standardised as the training set gives them
            columns = self._proxy_scores(archs)
            std = columns.std(axis=0)
            self._extra_stats = (columns.mean(axis=0), np.where(std > 0, std, 1.0))
        data = self.graph_data(list(archs))
        target = torch.as_tensor(self.scaler.forward(y), dtype=torch.float32)
        extra = 0 if data.extra is None else int(data.extra.shape[1])
        with seeded(seed) as generator:
            self.model = _build_network(len(self.space.op_vocabulary), self.config, extra)
            self._before_training(generator, seed)
            self.history = train(self.model, len(y), self.config,
                                 lambda index: self._loss(data, index, target, generator), generator)
        return self

    def continue_fit(self, archs: Sequence[Hashable], y: np.ndarray, *, seed: int = 0) -> "GCNPredictor":
        """A copy trained further from the current weights (same protocol, targets scaled as the
        first fit scaled them); a predictor not fitted yet is fitted from scratch."""
        import copy

        import torch

        if self.model is None or self.scaler is None:
            return self.clone().fit(archs, y, seed=seed)
        out = copy.deepcopy(self)
        y = check_labels(archs, y)
        data = out.graph_data(list(archs))
        target = torch.as_tensor(out.scaler.forward(y), dtype=torch.float32)
        with seeded(seed) as generator:
            out.history = train(out.model, len(y), out.config, lambda index: out._loss(data, index, target, generator), generator)
        return out

    # inference
    def _forward(self, archs: list[Hashable]) -> tuple[Any, Any]:
        pred, pooled, fc1, _ = self.model(self.graph_data(archs))
        return pred, (fc1 if self.config.embedding == "fc1" else pooled)

    def _embedding_width(self) -> int:
        return self.config.linear_hidden if self.config.embedding == "fc1" else self.config.hidden


@attrs.frozen
class DAREGCNPredictorConfig(GCNPredictorConfig):
    """``consistency_weight``: DARE's lambda (0.3); ``design``: ``"A"`` (embedding consistency
    between homogeneous-augmentation views, default) or ``"B"`` (graph-autoencoder reconstruction +
    NT-Xent between views); ``distance`` (A): ``"mse"`` (squared distance of L2-normalised
    embeddings) or ``"cosine"`` (1 - cosine); ``unlabelled_per_batch``: unlabelled architectures,
    drawn from ``unlabelled_pool`` samples of the space, added to each batch's consistency term
    (A's term needs no labels; 0 = labelled batches only); ``temperature`` (B's NT-Xent, 0.5);
    ``pretrain_archs`` / ``pretrain_epochs`` / ``pretrain_batch_size`` (B's self-supervised
    pretraining on sampled architectures before the supervised phase)."""

    consistency_weight: float = attrs.field(default=0.3, validator=number_in(0.0, 100.0))
    design: str = attrs.field(default="A", validator=one_of("A", "B"))
    distance: str = attrs.field(default="mse", validator=one_of("mse", "cosine"))
    unlabelled_per_batch: int = attrs.field(default=0, validator=non_negative_int)
    unlabelled_pool: int = attrs.field(default=1024, validator=positive_int)
    temperature: float = attrs.field(default=0.5, validator=number_in(1e-6, 100.0))
    pretrain_archs: int = attrs.field(default=2000, validator=positive_int)
    pretrain_epochs: int = attrs.field(default=20, validator=non_negative_int)
    pretrain_batch_size: int = attrs.field(default=64, validator=positive_int)


class DAREGCNPredictor(GCNPredictor):
    """DARE's predictor: the NPNAS GCN trained with MSE + 0.3 x a consistency term (design A by default).

    DARE (Yu et al., IPM 2026, Sec. 3.3) trains its graph encoder "with a consistency-preserving
    objective", ``L = L_MSE + lambda L_cons`` with lambda = 0.3 (its Eq. 2-3). **The page holding
    Eq. 2-3 is missing from every copy of the paper we could find**, so the term follows the two
    designs of docs/methods/dare.md 4.3, both our reconstruction:

    * **A** (default): ``L_cons`` = mean over the batch of ``||z(x) - z(pi(x))||^2``, ``z`` the
      L2-normalised pooled embedding and ``pi`` a random homogeneous-augmentation view (interior
      nodes permuted). Both views run in training mode. Note: the NPNAS GCN with mean pooling is
      permutation invariant, so the two views differ only through their independent dropout masks
      (and float rounding); the term therefore acts as a dropout-consistency regulariser on the
      embedding that DARE's sampler measures distances in. We keep the HA view because it is what
      the design names and it matters for any non-invariant encoder.
    * **B**: a graph-autoencoder loss (BCE on the adjacency from a bilinear decoder of the node
      states, cross-entropy on the operations) plus lambda x NT-Xent (temperature 0.5) between two
      HA views against the other architectures of the batch; the encoder is first pretrained on
      ``pretrain_archs`` architectures sampled from the space (reconstruction + lambda x NT-Xent),
      then trained with MSE + lambda x NT-Xent on the labels.
    """

    Config = DAREGCNPredictorConfig

    def _views(self, data: GraphData, index: Any, generator: Any) -> tuple[Any, Any]:
        """The outputs on the graphs and on one random HA view of each (both in training mode)."""
        return self.model(data, index=index), self.model(data, index=index, generator=generator)

    def _consistency(self, z1: Any, z2: Any) -> Any:
        import torch

        if self.config.design == "B":
            return self._nt_xent(z1, z2)
        a = torch.nn.functional.normalize(z1, dim=1)
        b = torch.nn.functional.normalize(z2, dim=1)
        if self.config.distance == "cosine":
            return (1.0 - (a * b).sum(1)).mean()
        return ((a - b) ** 2).sum(1).mean()

    def _nt_xent(self, z1: Any, z2: Any) -> Any:
        import torch

        z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
        b = z1.shape[0]
        sim = z @ z.T / self.config.temperature
        sim = sim.masked_fill(torch.eye(2 * b, dtype=torch.bool), float("-inf"))
        positives = torch.cat([torch.arange(b, 2 * b), torch.arange(b)])
        return torch.nn.functional.cross_entropy(sim, positives)

    def _reconstruction(self, nodes: Any) -> Any:
        import torch
        from torch_geometric.utils import to_dense_adj, to_dense_batch

        h, sub = nodes
        loops = sub.edge_index[0] == sub.edge_index[1]
        dense_h, mask = to_dense_batch(h, sub.batch, batch_size=sub.num_graphs)
        target = to_dense_adj(sub.edge_index[:, ~loops], sub.batch, batch_size=sub.num_graphs, max_num_nodes=dense_h.shape[1])
        logits = self.decoder_source(dense_h) @ self.decoder_target(dense_h).transpose(1, 2)
        pair = (mask.unsqueeze(2) & mask.unsqueeze(1)).to(torch.float32)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, weight=pair, reduction="sum") / pair.sum()
        ce = torch.nn.functional.cross_entropy(self.op_decoder(h), sub.x.argmax(1))
        return bce + ce

    def _loss(self, data: GraphData, index: Any, target: Any, generator: Any) -> Any:
        import torch

        (pred, z1, _, _), (_, z2, _, _) = self._views(data, index, generator)
        loss = torch.nn.functional.mse_loss(pred, target[index])
        if self._unlabelled is not None and self.config.unlabelled_per_batch:
            extra = torch.randint(len(self._unlabelled), (self.config.unlabelled_per_batch,), generator=generator)
            (_, u1, _, _), (_, u2, _, _) = self._views(self._unlabelled, extra, generator)
            z1, z2 = torch.cat([z1, u1]), torch.cat([z2, u2])
        return loss + self.config.consistency_weight * self._consistency(z1, z2)

    def _sampled(self, count: int, seed: int, label: str) -> GraphData:
        from nasplug.core.seeding import derive_rng

        size = self.space.size()
        count = min(count, size) if size is not None else count
        archs = self.space.sample_many(count, derive_rng(seed, label), unique=True)
        return self.graph_data(archs)

    def _before_training(self, generator: Any, seed: int) -> None:
        import torch

        c = self.config
        self._unlabelled = self._sampled(c.unlabelled_pool, seed, "dare-unlabelled") if c.unlabelled_per_batch else None
        if c.design != "B":
            return
        if c.backend == "dense":
            raise ConfigError("predictor.design = 'B' needs node states from the torch_geometric backend; set predictor.backend = 'pyg'")
        self.decoder_source = torch.nn.Linear(c.hidden, c.hidden, bias=False)
        self.decoder_target = torch.nn.Linear(c.hidden, c.hidden, bias=False)
        self.op_decoder = torch.nn.Linear(c.hidden, len(self.space.op_vocabulary))
        self.model.add_module("decoder_source", self.decoder_source)
        self.model.add_module("decoder_target", self.decoder_target)
        self.model.add_module("op_decoder", self.op_decoder)
        if c.pretrain_epochs:
            pool = self._sampled(c.pretrain_archs, seed, "dare-pretrain")

            def ssl(index: Any) -> Any:
                (_, z1, _, nodes), (_, z2, _, _) = self._views(pool, index, generator)
                return self._reconstruction(nodes) + c.consistency_weight * self._nt_xent(z1, z2)

            options = attrs.evolve(TrainingOptions(), lr=c.lr, weight_decay=c.weight_decay, batch_size=c.pretrain_batch_size)
            train(self.model, len(pool), options, ssl, generator, epochs=c.pretrain_epochs, schedule=False)
            self.model.train()

    _unlabelled: GraphData | None = None
