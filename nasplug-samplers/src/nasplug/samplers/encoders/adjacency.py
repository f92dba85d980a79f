"""One-hot adjacency + operation matrices, flattened (the "adjacency encoding" of White et al.)."""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.encoder import Encoder
from nasplug.core.interfaces.space import CellGraph
from nasplug.core.options import boolean, string_list
from nasplug.core.interfaces.capabilities import Graphable
from nasplug.samplers.encoders.haap import CONTRACT_OPS, REMOVE_OPS, _tuple_of_str, padded_layout, simplify


@attrs.frozen
class AdjacencyEncoderConfig:
    """``simplify``: put the graph in NB101 form first (delete ``remove_ops`` nodes, contract
    ``contract_ops`` nodes, prune; see :mod:`.haap`), off by default so that every operation of the
    space stays visible; ``output_last``: move sink nodes to the last padded index (NPNAS's
    padding; with it, graphs of different sizes share the output's slot)."""

    simplify: bool = attrs.field(default=False, validator=boolean)
    output_last: bool = attrs.field(default=True, validator=boolean)
    remove_ops: tuple[str, ...] = attrs.field(default=REMOVE_OPS, converter=_tuple_of_str, validator=string_list)
    contract_ops: tuple[str, ...] = attrs.field(default=CONTRACT_OPS, converter=_tuple_of_str, validator=string_list)


class AdjacencyEncoder(Encoder):
    """Upper-triangle adjacency bits + one-hot op per node over ``op_vocabulary``, padded to ``max_nodes``.

    Works for every space with ``graph``; graphs smaller than ``max_nodes`` are zero-padded (a
    padded node has an all-zero op row). Dimension ``n(n-1)/2 + n * len(op_vocabulary)``.
    """

    requires = (Graphable,)

    Config = AdjacencyEncoderConfig

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        if not getattr(space, "max_nodes", 0) or not getattr(space, "op_vocabulary", ()):
            raise ConfigError(f"encoder 'adjacency' needs a space with a graph form; {type(space).__name__} has none")
        self._ops = {op: i for i, op in enumerate(space.op_vocabulary)}
        self._rows, self._cols = np.triu_indices(int(space.max_nodes), k=1)

    @property
    def dim(self) -> int:
        n = int(self.space.max_nodes)
        return len(self._rows) + n * len(self._ops)

    def graph(self, arch: Hashable) -> CellGraph:
        g = self.space.graph(arch)
        if self.config.simplify:
            g = simplify(g, self.config.remove_ops, self.config.contract_ops)
        return g

    def encode(self, archs: Sequence[Hashable]) -> np.ndarray:
        n, v = int(self.space.max_nodes), len(self._ops)
        cut = len(self._rows)
        out = np.zeros((len(archs), self.dim), dtype=np.float32)
        for row, arch in enumerate(archs):
            g = self.graph(arch)
            a = np.asarray(g.adjacency)
            m = a.shape[0]
            if m > n:
                raise ConfigError(f"a graph has {m} nodes but the space declares max_nodes = {n}; fix the space's max_nodes")
            pos = padded_layout(a, n) if self.config.output_last else np.arange(m)
            adj = np.zeros((n, n), dtype=np.float32)
            adj[np.ix_(pos, pos)] = a
            out[row, :cut] = adj[self._rows, self._cols]
            ops = np.zeros((n, v), dtype=np.float32)
            ops[pos, [self._ops[o] for o in g.ops]] = 1.0
            out[row, cut:] = ops.ravel()
        return out
