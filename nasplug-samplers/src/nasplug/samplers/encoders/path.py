"""Path encoding (White, Neiswanger & Savani, "BANANAS", AAAI 2021; "A study on encodings", NeurIPS 2020).

An architecture is the set of its input -> output paths, each path written as the sequence of
operations it passes through. The encoding has one bit per possible sequence of length 0..L over
the interior operations, ordered by length and then lexicographically (in ``op_vocabulary``
order), so the *truncated* encoding, the first ``truncate`` bits, keeps the shortest paths first as
in White et al.'s truncation study. Isomorphic cells have the same paths and encode alike.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.encoder import Encoder
from nasplug.core.interfaces.space import CellGraph
from nasplug.core.options import boolean, optional_positive_int, positive_int, string_list
from nasplug.core.interfaces.capabilities import Graphable
from nasplug.samplers.encoders.haap import CONTRACT_OPS, IO_OPS, REMOVE_OPS, _tuple_of_str, ends, simplify


def _optional_non_negative(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise ValueError(f"{attribute.name}: expected an integer >= 0 or none, got {value!r}")


@attrs.frozen
class PathEncoderConfig:
    """``max_length``: longest path (in interior operations) with a bit; by default the largest
    ``L <= max_nodes - 2`` whose encoding has at most ``max_dim`` bits (NB101: 5, 364 bits; NB201:
    6, 1093 bits; DARTS: 4, 1555 bits); longer paths are left out. ``truncate``: keep only the
    first ``truncate`` bits (White et al.'s truncated encoding);
    ``simplify``: put the graph in NB101 form first (``none`` nodes deleted, ``skip`` nodes
    contracted, dead nodes pruned), so that only paths that carry data count; our default, since
    a path through a ``none`` edge computes nothing."""

    max_length: int | None = attrs.field(default=None, validator=_optional_non_negative)
    max_dim: int = attrs.field(default=4096, validator=positive_int)
    truncate: int | None = attrs.field(default=None, validator=optional_positive_int)
    simplify: bool = attrs.field(default=True, validator=boolean)
    remove_ops: tuple[str, ...] = attrs.field(default=REMOVE_OPS, converter=_tuple_of_str, validator=string_list)
    contract_ops: tuple[str, ...] = attrs.field(default=CONTRACT_OPS, converter=_tuple_of_str, validator=string_list)
    io_ops: tuple[str, ...] = attrs.field(default=IO_OPS, converter=_tuple_of_str, validator=string_list)


class PathEncoder(Encoder):
    """One bit per input -> output operation sequence present in the cell (White et al.'s path encoding)."""

    requires = (Graphable,)

    Config = PathEncoderConfig

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        if not getattr(space, "max_nodes", 0) or not getattr(space, "op_vocabulary", ()):
            raise ConfigError(f"encoder 'path' needs a space with a graph form; {type(space).__name__} has none")
        c = self.config
        dropped = set(c.io_ops) | (set(c.remove_ops) | set(c.contract_ops) if c.simplify else set())
        self.ops: tuple[str, ...] = tuple(op for op in space.op_vocabulary if op not in dropped)
        self._index = {op: i for i, op in enumerate(self.ops)}
        self._io = frozenset(c.io_ops)
        v = len(self.ops)
        if c.max_length is not None:
            self.max_length = c.max_length
        else:
            self.max_length, total = 0, 1
            while self.max_length < int(space.max_nodes) - 2 and total + v ** (self.max_length + 1) <= c.max_dim:
                self.max_length += 1
                total += v ** self.max_length
        self._offsets = np.cumsum([0] + [v ** k for k in range(self.max_length + 1)])
        full = int(self._offsets[-1])
        self._dim = min(full, c.truncate) if c.truncate else full

    @property
    def dim(self) -> int:
        return self._dim

    def graph(self, arch: Hashable) -> CellGraph:
        g = self.space.graph(arch)
        if self.config.simplify:
            g = simplify(g, self.config.remove_ops, self.config.contract_ops)
        return g

    def paths(self, graph: CellGraph) -> list[tuple[str, ...]]:
        """Every source -> sink path as its interior operation sequence (up to ``max_length``).
        Nodes labelled with an ``io_ops`` name inside a path (a stacked cell's own output, as in
        the DARTS graph) carry no operation and are passed through."""
        a = np.asarray(graph.adjacency) != 0
        source, sink = ends(a)
        succ = [np.flatnonzero(a[i]).tolist() for i in range(a.shape[0])]
        out: list[tuple[str, ...]] = []
        stack = [(s, ()) for s in np.flatnonzero(source & ~sink).tolist()]
        while stack:
            node, seq = stack.pop()
            for nxt in succ[node]:
                if sink[nxt]:
                    out.append(seq)
                elif graph.ops[nxt] in self._io:
                    stack.append((nxt, seq))
                elif len(seq) < self.max_length:
                    stack.append((nxt, seq + (graph.ops[nxt],)))
        return out

    def _feature(self, seq: tuple[str, ...]) -> int:
        v = len(self.ops)
        code = 0
        for op in seq:
            if op not in self._index:
                raise ConfigError(f"path encoder: operation '{op}' is not an interior op of {type(self.space).__name__}; "
                                  f"set encoder.io_ops / remove_ops / contract_ops to match the space")
            code = code * v + self._index[op]
        return int(self._offsets[len(seq)]) + code

    def encode(self, archs: Sequence[Hashable]) -> np.ndarray:
        out = np.zeros((len(archs), self._dim), dtype=np.float32)
        for row, arch in enumerate(archs):
            for seq in self.paths(self.graph(arch)):
                f = self._feature(seq)
                if f < self._dim:
                    out[row, f] = 1.0
        return out
