"""HAAP's "multiple matrices" representation and homogeneous augmentation (docs/methods/dare.md 4.2).

Liu, Tang & Sun (ICCV 2021) describe an architecture by an adjacency matrix ``A`` and a one-hot
operation matrix ``X`` in NAS-Bench-101 form: operations on nodes, ``none`` nodes deleted,
``skip_connect`` nodes contracted (their predecessors wired to their successors), dead nodes pruned
the way NB101's ``ModelSpec`` prunes, and the graph zero-padded with the output node moved to the
last index. On NB201 that turns the 8-node template into a pruned DAG whose flat vector is
7x7 + 6x4 = 73-d; on NB101 it is 6x6 + 5x4 = 56-d, as in the HAAP code.

Everything here works from ``space.graph(arch)``, ``space.op_vocabulary`` and ``space.max_nodes``
alone, so every cell space gets the same treatment. Which operations are deleted or contracted is
configurable (the defaults cover the names NB201, TransNAS-Bench micro and DARTS use).

*Homogeneous augmentation* (HA) permutes the interior nodes (neither a source nor a sink) of the
simplified graph, applied to the rows and columns of ``A`` and to the op list: the result is the same
network written differently, which is what HAAP feeds its predictors as extra training data and what
DARE's consistency objective compares (see :mod:`nasplug.samplers.predictors.gcn`).
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, Hashable, Iterator, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.encoder import Encoder
from nasplug.core.interfaces.space import CellGraph
from nasplug.core.options import boolean, positive_int, string_list
from nasplug.core.interfaces.capabilities import Graphable

#: Operations that carry no signal: the node and its edges are deleted.
REMOVE_OPS = ("none", "zero", "zeroize", "noop")
#: Operations that pass their input through: the node is contracted.
CONTRACT_OPS = ("skip_connect", "identity", "skip", "skip-connect")
#: Labels of the cell's own input/output nodes (left out of the interior op one-hot).
IO_OPS = ("input", "output")


def _tuple_of_str(value: Any) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else value


# --- graph simplification -------------------------------------------------------------------

def _bits(adjacency: np.ndarray) -> tuple[list[int], list[int]]:
    """Successor and predecessor bitmasks of a small adjacency matrix."""
    n = adjacency.shape[0]
    succ = [0] * n
    pred = [0] * n
    rows, cols = np.nonzero(adjacency)
    for i, j in zip(rows.tolist(), cols.tolist()):
        succ[i] |= 1 << j
        pred[j] |= 1 << i
    return succ, pred


@functools.lru_cache(maxsize=1 << 14)
def _simplify_cached(n: int, adj_bytes: bytes, ops: tuple[str, ...], remove: frozenset, contract: frozenset) -> CellGraph:
    adjacency = np.frombuffer(adj_bytes, dtype=np.int8).reshape(n, n)
    succ, pred = _bits(adjacency)
    fixed = {i for i in range(n) if not pred[i] or not succ[i]}  # sources and sinks stay
    alive = [True] * n

    def drop(i: int) -> None:
        alive[i] = False
        for j in range(n):
            if succ[i] >> j & 1:
                pred[j] &= ~(1 << i)
            if pred[i] >> j & 1:
                succ[j] &= ~(1 << i)
        succ[i] = pred[i] = 0

    for i in range(n):
        if i not in fixed and ops[i] in remove:
            drop(i)
    for i in range(n):  # topological order: contracting i wires p -> s with p < i < s
        if i not in fixed and alive[i] and ops[i] in contract:
            ps, ss = pred[i], succ[i]
            drop(i)
            for p in range(n):
                if ps >> p & 1:
                    succ[p] |= ss
            for s in range(n):
                if ss >> s & 1:
                    pred[s] |= ps
    # prune: keep nodes on some source -> sink path (NB101 ModelSpec pruning), plus the ends
    sources = [i for i in fixed if not (adjacency[:, i].any())]
    sinks = [i for i in fixed if not (adjacency[i, :].any())]
    forward = 0
    for s in sources:
        forward |= 1 << s
    for i in range(n):
        if forward >> i & 1:
            forward |= succ[i]
    backward = 0
    for s in sinks:
        backward |= 1 << s
    for i in reversed(range(n)):
        if backward >> i & 1:
            backward |= pred[i]
    keep = [i for i in range(n) if i in fixed or (alive[i] and forward >> i & 1 and backward >> i & 1)]
    index = {old: new for new, old in enumerate(keep)}
    out = np.zeros((len(keep), len(keep)), dtype=np.int8)
    for i in keep:
        for j in range(n):
            if succ[i] >> j & 1 and j in index:
                out[index[i], index[j]] = 1
    out.setflags(write=False)
    return CellGraph(out, tuple(ops[i] for i in keep))


def simplify(graph: CellGraph, remove: Sequence[str] = REMOVE_OPS, contract: Sequence[str] = CONTRACT_OPS) -> CellGraph:
    """``graph`` in NB101 form: ``remove`` nodes deleted, ``contract`` nodes contracted, nodes
    off every source -> sink path pruned. Sources and sinks of the input graph always stay."""
    adjacency = np.ascontiguousarray(graph.adjacency, dtype=np.int8)
    n = adjacency.shape[0]
    return _simplify_cached(n, adjacency.tobytes(), tuple(graph.ops), frozenset(remove), frozenset(contract))


def ends(adjacency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the sources (no predecessor) and sinks (no successor) of a DAG."""
    a = np.asarray(adjacency) != 0
    return ~a.any(axis=0), ~a.any(axis=1)


def padded_layout(adjacency: np.ndarray, size: int) -> np.ndarray:
    """Where each node goes in a ``size``-node padded matrix: non-sinks keep their order at the
    front, sinks move to the end (NPNAS's padding: the output node is always the last index)."""
    n = adjacency.shape[0]
    if n > size:
        raise ConfigError(f"a graph has {n} nodes but the space declares max_nodes = {size}; fix the space's max_nodes")
    _, sink = ends(adjacency)
    pos = np.empty(n, dtype=np.int64)
    front = np.flatnonzero(~sink)
    back = np.flatnonzero(sink)
    pos[front] = np.arange(len(front))
    pos[back] = size - len(back) + np.arange(len(back))
    return pos


def interior_permutations(graph: CellGraph, *, upper_triangular_only: bool = False) -> Iterator[np.ndarray]:
    """Every node order of ``graph`` that permutes only its interior nodes (identity first).

    ``upper_triangular_only`` keeps the orders under which the adjacency stays upper triangular
    (topological orders), the filter of HAAP's ``Create_more_metrics.py``.
    """
    a = np.asarray(graph.adjacency)
    source, sink = ends(a)
    interior = np.flatnonzero(~source & ~sink)
    for perm in itertools.permutations(interior.tolist()):
        order = np.arange(a.shape[0])
        order[interior] = perm
        if upper_triangular_only and np.tril(a[np.ix_(order, order)]).any():
            continue
        yield order


def permute(graph: CellGraph, order: np.ndarray) -> CellGraph:
    """The same graph with node ``k`` of the result being node ``order[k]`` of ``graph``."""
    a = np.asarray(graph.adjacency)
    return CellGraph(a[np.ix_(order, order)].astype(np.int8), tuple(graph.ops[i] for i in order))


def random_interior_order(graph: CellGraph, rng: np.random.Generator, *, upper_triangular_only: bool = False,
                          tries: int = 64) -> np.ndarray:
    """One random interior permutation (uniform; with ``upper_triangular_only``, uniform over the
    topological orders by rejection, falling back to the identity after ``tries`` misses)."""
    a = np.asarray(graph.adjacency)
    source, sink = ends(a)
    interior = np.flatnonzero(~source & ~sink)
    for _ in range(tries):
        order = np.arange(a.shape[0])
        order[interior] = rng.permutation(interior)
        if not upper_triangular_only or not np.tril(a[np.ix_(order, order)]).any():
            return order
    return np.arange(a.shape[0])


# --- the encoder ----------------------------------------------------------------------------

@attrs.frozen
class HAAPEncoderConfig:
    """``remove_ops`` / ``contract_ops``: operation names deleted / contracted when the graph is
    put in NB101 form; ``io_ops``: labels of the cell's own input/output nodes, left out of the
    interior op one-hot; ``upper_triangular_only``: augment only with topological orders
    (HAAP's optional filter; off by default, as in HAAP's main experiments)."""

    remove_ops: tuple[str, ...] = attrs.field(default=REMOVE_OPS, converter=_tuple_of_str, validator=string_list)
    contract_ops: tuple[str, ...] = attrs.field(default=CONTRACT_OPS, converter=_tuple_of_str, validator=string_list)
    io_ops: tuple[str, ...] = attrs.field(default=IO_OPS, converter=_tuple_of_str, validator=string_list)
    upper_triangular_only: bool = attrs.field(default=False, validator=boolean)
    max_views: int = attrs.field(default=720, validator=positive_int)


class HAAPEncoder(Encoder):
    """HAAP's adjacency + operation matrices (NB101 form, output last), with homogeneous augmentation.

    ``encode`` gives the flat vector of HAAP's tabular predictors: the padded adjacency without its
    first column and last row, then one-hot interior operations over ``("null", *ops)`` where
    ``null`` marks a padded slot. ``graph(arch)`` is the simplified graph the GCN reads;
    ``augment(arch, rng)`` one random HA view of it, ``augment_encode`` its flat vector (what
    ``mlp``'s ``augment`` option trains on); ``views(arch)`` all of them. The GCN trainers draw the
    same views batch-wise on tensors with
    :meth:`nasplug.samplers.encoders.graphs.GraphTensors.permute_interior`.

    Flat encodings depend on the vertex order ``space.graph`` returns; spaces whose ``graph`` keeps
    the architecture's own order (NB101) encode isomorphic cells alike after canonicalisation
    (``space.parse(space.canonical(a))``). Test-time averaging over views (an option in HAAP) is
    not provided: the GCN is invariant to the views, and the flat vectors are for tabular models.
    """

    requires = (Graphable,)

    Config = HAAPEncoderConfig

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        if not getattr(space, "max_nodes", 0) or not getattr(space, "op_vocabulary", ()):
            raise ConfigError(f"encoder 'haap' needs a space with a graph form; {type(space).__name__} has none")
        c = self.config
        dropped = set(c.remove_ops) | set(c.contract_ops) | set(c.io_ops)
        self.interior_ops: tuple[str, ...] = tuple(op for op in space.op_vocabulary if op not in dropped)
        self._op_index = {op: i + 1 for i, op in enumerate(self.interior_ops)}  # 0 = null

    @property
    def size(self) -> int:
        return int(self.space.max_nodes)

    @property
    def dim(self) -> int:
        n = self.size
        return (n - 1) ** 2 + (n - 2) * (len(self.interior_ops) + 1)

    def graph(self, arch: Hashable) -> CellGraph:
        """The architecture's simplified (NB101-form) graph."""
        c = self.config
        return simplify(self.space.graph(arch), c.remove_ops, c.contract_ops)

    def matrices(self, graph: CellGraph) -> tuple[np.ndarray, np.ndarray]:
        """Padded ``(size, size)`` adjacency and per-slot interior op index (0 = null/padded,
        -1 = an input/output node) of a (possibly permuted) simplified graph."""
        n = self.size
        a = np.asarray(graph.adjacency)
        pos = padded_layout(a, n)
        adj = np.zeros((n, n), dtype=np.float32)
        adj[np.ix_(pos, pos)] = a
        ops = np.zeros(n, dtype=np.int64)
        for node, op in enumerate(graph.ops):
            ops[pos[node]] = self._op_index.get(op, -1)
        return adj, ops

    def encode_graphs(self, graphs: Sequence[CellGraph]) -> np.ndarray:
        """Flat HAAP vectors of already simplified (and possibly permuted) graphs."""
        n, v = self.size, len(self.interior_ops) + 1
        out = np.zeros((len(graphs), self.dim), dtype=np.float32)
        cut = (n - 1) ** 2
        for row, g in enumerate(graphs):
            adj, ops = self.matrices(g)
            out[row, :cut] = adj[:-1, 1:].ravel()
            interior = ops[1:-1]
            onehot = np.zeros((n - 2, v), dtype=np.float32)
            real = interior >= 0
            onehot[np.flatnonzero(real), interior[real]] = 1.0
            out[row, cut:] = onehot.ravel()
        return out

    def encode(self, archs: Sequence[Hashable]) -> np.ndarray:
        return self.encode_graphs([self.graph(a) for a in archs])

    def augment(self, arch: Hashable, rng: np.random.Generator) -> CellGraph:
        """One random homogeneous-augmentation view: the simplified graph with its interior nodes
        permuted (the same architecture)."""
        g = self.graph(arch)
        return permute(g, random_interior_order(g, rng, upper_triangular_only=self.config.upper_triangular_only))

    def augment_encode(self, archs: Sequence[Hashable], rng: np.random.Generator) -> np.ndarray:
        """Flat vectors of one random HA view per architecture."""
        return self.encode_graphs([self.augment(a, rng) for a in archs])

    def views(self, arch: Hashable, limit: int | None = None) -> list[CellGraph]:
        """HA views of ``arch`` (identity first), at most ``limit`` (default ``max_views``)."""
        g = self.graph(arch)
        orders = interior_permutations(g, upper_triangular_only=self.config.upper_triangular_only)
        return [permute(g, order) for order in itertools.islice(orders, limit or self.config.max_views)]
