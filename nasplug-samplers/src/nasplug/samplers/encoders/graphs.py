"""Architectures as batched ``torch_geometric`` graphs, built once and sliced without Python loops.

``pack`` flattens many :class:`~nasplug.core.interfaces.space.CellGraph` s into CSR-like numpy
arrays (one op index per node, local edge lists, offsets); :class:`GraphTensors` holds them as torch
tensors and cuts any subset of graphs into one disjoint-union batch with a handful of vectorised
ops, which is what makes per-step batching cheap when a GCN trains on tiny graphs.
:func:`to_batch` is the public one-call form: a ``torch_geometric.data.Batch`` equal to
``Batch.from_data_list([to_graph(space, a) for a in archs])``, built without per-graph ``Data``
objects; :func:`to_graph` is one architecture's ``torch_geometric.data.Data``. ``torch`` and ``torch_geometric`` are imported only when tensors are built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Hashable, NamedTuple, Sequence

import numpy as np

from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.core.interfaces.capabilities import Graphable, require
from nasplug.core.interfaces.space import CellGraph

if TYPE_CHECKING:
    import torch

#: Node roles stored with a packed graph.
SOURCE, INTERIOR, SINK = 0, 1, 2


class PackedGraphs(NamedTuple):
    """``G`` graphs in flat arrays: node ``k`` of graph ``g`` is row ``node_ptr[g] + k``."""

    ops: np.ndarray       # (N,) int64: index into the vocabulary
    role: np.ndarray      # (N,) int8: SOURCE, INTERIOR or SINK
    node_ptr: np.ndarray  # (G + 1,) int64
    edges: np.ndarray     # (2, E) int64: (from, to), local to the graph
    edge_ptr: np.ndarray  # (G + 1,) int64

    @property
    def num_graphs(self) -> int:
        return len(self.node_ptr) - 1


def cell_graphs(space: Any, archs: Sequence[Hashable],
                transform: Callable[[CellGraph], CellGraph] | None = None) -> list[CellGraph]:
    """``space.graph(a)`` for every architecture, passed through ``transform`` when given."""
    if not isinstance(space, Graphable) or not getattr(space, "op_vocabulary", ()):
        raise ConfigError(f"{type(space).__name__} has no graph form (no graph() or an empty op_vocabulary); use a fixed encoder instead")
    graphs = [space.graph(a) for a in archs]
    return [transform(g) for g in graphs] if transform is not None else graphs


def to_graph(space: Any, arch: Hashable) -> Any:
    """``space.graph(arch)`` as a ``torch_geometric.data.Data``: one-hot node features ``x`` over
    the space's ``op_vocabulary`` and ``edge_index`` from the adjacency."""
    import torch
    from torch_geometric.data import Data  # heavy: imported only when graphs are needed

    g = require(space, Graphable, "to_graph").graph(arch)
    index = {op: i for i, op in enumerate(space.op_vocabulary)}
    x = torch.zeros(len(g.ops), len(space.op_vocabulary))
    for node, op in enumerate(g.ops):
        x[node, index[op]] = 1.0
    src, dst = np.nonzero(g.adjacency)
    return Data(x=x, edge_index=torch.as_tensor(np.stack([src, dst]), dtype=torch.long), num_nodes=len(g.ops))


def pack(graphs: Sequence[CellGraph], vocabulary: Sequence[str], *, self_loops: bool = False) -> PackedGraphs:
    """Flatten ``graphs``; node ops are indexed in ``vocabulary``. ``self_loops`` adds an edge
    ``(k, k)`` for every node (roles ignore them). Edges come sorted by (graph, from, to).

    The graphs are stacked into one zero-padded ``(G, n, n)`` array so that edges and roles are
    found by a few whole-array operations instead of per-graph numpy calls.
    """
    count = len(graphs)
    sizes = np.fromiter((len(g.ops) for g in graphs), dtype=np.int64, count=count)
    n = int(sizes.max()) if count else 0
    index = {op: i for i, op in enumerate(vocabulary)}
    try:
        ops = np.fromiter((index[op] for g in graphs for op in g.ops), dtype=np.int64, count=int(sizes.sum()))
    except KeyError as exc:
        raise ArchitectureError(f"graph node op {exc.args[0]!r} is not in the space's op_vocabulary; fix the space's graph()") from None
    adjacency = np.zeros((count, n, n), dtype=bool)
    for k, g in enumerate(graphs):
        m = sizes[k]
        adjacency[k, :m, :m] = g.adjacency
    exists = np.arange(n) < sizes[:, None]
    role = np.full((count, n), INTERIOR, dtype=np.int8)
    role[~adjacency.any(axis=2)] = SINK
    role[~adjacency.any(axis=1)] = SOURCE
    if self_loops:
        diagonal = np.arange(n)
        adjacency[:, diagonal, diagonal] = exists
    graph, src, dst = np.nonzero(adjacency)
    node_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    edge_ptr = np.concatenate([[0], np.cumsum(np.bincount(graph, minlength=count))]).astype(np.int64)
    return PackedGraphs(ops, role[exists], node_ptr, np.stack([src, dst]).astype(np.int64), edge_ptr)


class SubBatch(NamedTuple):
    """A disjoint union of some graphs: the tensors a message-passing model reads."""

    x: "torch.Tensor"           # (n, V) one-hot ops
    edge_index: "torch.Tensor"  # (2, e) global (from, to) within the batch
    edge_ids: "torch.Tensor"    # (e,) rows of the source tensors' edge arrays (to slice edge weights)
    batch: "torch.Tensor"       # (n,) graph of each node, 0..num_graphs-1
    node_ids: "torch.Tensor"    # (n,) rows of the source tensors' node arrays
    role: "torch.Tensor"        # (n,) SOURCE / INTERIOR / SINK
    num_graphs: int


class GraphTensors:
    """A packed set of graphs as torch tensors, sliceable into batches by graph index."""

    def __init__(self, packed: PackedGraphs, num_ops: int) -> None:
        import torch

        self.packed = packed
        self.num_graphs = packed.num_graphs
        self.num_ops = num_ops
        ops = torch.as_tensor(packed.ops)
        self.x = torch.nn.functional.one_hot(ops, num_ops).to(torch.float32) if len(ops) else torch.zeros(0, num_ops)
        self.role = torch.as_tensor(packed.role)
        self.node_ptr = torch.as_tensor(packed.node_ptr)
        self.edge_ptr = torch.as_tensor(packed.edge_ptr)
        graph_of_edge = torch.repeat_interleave(torch.arange(self.num_graphs), self.edge_ptr.diff())
        #: edges with global node ids (within the whole set)
        self.edge_index = torch.as_tensor(packed.edges) + self.node_ptr[:-1][graph_of_edge]
        self.batch = torch.repeat_interleave(torch.arange(self.num_graphs), self.node_ptr.diff())

    @classmethod
    def from_space(cls, space: Any, archs: Sequence[Hashable], transform: Callable[[CellGraph], CellGraph] | None = None,
                   *, self_loops: bool = False) -> "GraphTensors":
        graphs = cell_graphs(space, archs, transform)
        return cls(pack(graphs, space.op_vocabulary, self_loops=self_loops), len(space.op_vocabulary))

    def select(self, index: "torch.Tensor | None" = None) -> SubBatch:
        """The graphs ``index`` (all, in order, when ``None``) as one batch."""
        import torch

        if index is None:
            return SubBatch(self.x, self.edge_index, torch.arange(self.edge_index.shape[1]), self.batch,
                            torch.arange(self.x.shape[0]), self.role, self.num_graphs)
        index = torch.as_tensor(index, dtype=torch.long)
        b = len(index)
        n_counts = self.node_ptr[index + 1] - self.node_ptr[index]
        e_counts = self.edge_ptr[index + 1] - self.edge_ptr[index]
        new_ptr = torch.cumsum(n_counts, 0) - n_counts  # start of each graph in the batch
        node_shift = torch.repeat_interleave(self.node_ptr[index] - new_ptr, n_counts)
        node_ids = torch.arange(int(n_counts.sum())) + node_shift
        e_start = torch.cumsum(e_counts, 0) - e_counts
        edge_ids = torch.arange(int(e_counts.sum())) + torch.repeat_interleave(self.edge_ptr[index] - e_start, e_counts)
        edge_index = self.edge_index[:, edge_ids] - torch.repeat_interleave(self.node_ptr[index] - new_ptr, e_counts)
        batch = torch.repeat_interleave(torch.arange(b), n_counts)
        return SubBatch(self.x[node_ids], edge_index, edge_ids, batch, node_ids, self.role[node_ids], b)

    def permute_interior(self, sub: SubBatch, generator: "torch.Generator") -> SubBatch:
        """A homogeneous-augmentation view of ``sub``: within every graph the interior nodes get a
        random new order (sources first, sinks last), rows of ``x`` and ``edge_index`` relabelled."""
        import torch

        jitter = torch.rand(len(sub.role), generator=generator, dtype=torch.float64) - 0.5
        key = sub.role.to(torch.float64) + torch.where(sub.role == INTERIOR, jitter, 0.0)
        order = torch.argsort(sub.batch.to(torch.float64) * 4 + key, stable=True)  # new position -> old node
        new_of_old = torch.empty_like(order)
        new_of_old[order] = torch.arange(len(order))
        return SubBatch(sub.x[order], new_of_old[sub.edge_index], sub.edge_ids, sub.batch[order], sub.node_ids[order],
                        sub.role[order], sub.num_graphs)


def to_batch(space: Any, archs: Sequence[Hashable], *, transform: Callable[[CellGraph], CellGraph] | None = None) -> Any:
    """A ``torch_geometric.data.Batch`` of the architectures' graphs: ``x`` one-hot over
    ``space.op_vocabulary``, ``edge_index`` from ``space.graph`` (after ``transform``), ``batch``
    and ``ptr`` as ``Batch.from_data_list`` sets them."""
    from torch_geometric.data import Batch

    tensors = GraphTensors.from_space(space, archs, transform)
    return Batch(x=tensors.x, edge_index=tensors.edge_index, batch=tensors.batch, ptr=tensors.node_ptr.clone())
