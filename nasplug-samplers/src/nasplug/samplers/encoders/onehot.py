"""One-hot adjacency + operation encoding of any space with a graph form."""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.encoder import Encoder
from nasplug.core.interfaces.capabilities import Graphable


class OneHotEncoder(Encoder):
    """Upper-triangular adjacency bits plus a one-hot operation per node, padded to max_nodes.

    Works for every space implementing ``graph``, ``op_vocabulary`` and ``max_nodes``; a space
    with a fixed wiring (NAS-Bench-201) simply contributes constant adjacency bits.
    """

    requires = (Graphable,)

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        if not space.max_nodes or not space.op_vocabulary:
            raise ConfigError(f"encoder 'onehot' needs a space with a graph form; {type(space).__name__} has none")
        self._ops = {op: i for i, op in enumerate(space.op_vocabulary)}
        self._rows, self._cols = np.triu_indices(space.max_nodes, k=1)

    @property
    def dim(self) -> int:
        n = self.space.max_nodes
        return len(self._rows) + n * len(self._ops)

    def encode(self, archs: Sequence[Hashable]) -> np.ndarray:
        n, v = self.space.max_nodes, len(self._ops)
        out = np.zeros((len(archs), self.dim), dtype=np.float32)
        for row, arch in enumerate(archs):
            g = self.space.graph(arch)
            m = len(g.ops)
            adj = np.zeros((n, n), dtype=np.float32)
            adj[:m, :m] = g.adjacency
            out[row, : len(self._rows)] = adj[self._rows, self._cols]
            ops = np.zeros((n, v), dtype=np.float32)
            ops[np.arange(m), [self._ops[o] for o in g.ops]] = 1.0
            out[row, len(self._rows):] = ops.ravel()
        return out
