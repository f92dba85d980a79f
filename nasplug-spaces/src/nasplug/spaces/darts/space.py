"""The DARTS / NAS-Bench-301 search space: genotypes, moves, metric, graph form, network, benchmark."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.core.interfaces.space import CellGraph, SearchSpace
from nasplug.core.options import boolean, positive_int
from nasplug.spaces.darts.genotype import (
    CELLS, EDGES_PER_CELL, NODES, NONE, OPS, PRIMITIVES, CellGenes, DartsArch, genotype_str, input_pairs, to_arch,
)

if TYPE_CHECKING:
    from torch import nn

    from nasplug.spaces.darts.benchmark import NB301Benchmark


@attrs.frozen
class DartsConfig:
    """Options of the DARTS space.

    ``include_none``: allow DARTS' ``none`` (zero) op in genotypes; off by default because
    NAS-Bench-301's configuration space and every derived DARTS genotype use only the other 7.
    ``channels``, ``layers``, ``stem_multiplier``, ``affine``: the network ``to_module`` builds.
    The defaults (16 channels, 8 cells) are a small proxy network; NAS-Bench-301 trained 32
    channels and 8 cells, DARTS' CIFAR-10 evaluation 36 and 20. ``affine=False`` gives the cell
    ops DARTS' search-phase BN convention (see :mod:`.network`).
    """

    include_none: bool = attrs.field(default=False, validator=boolean)
    channels: int = attrs.field(default=16, validator=positive_int)
    layers: int = attrs.field(default=8, validator=positive_int)
    stem_multiplier: int = attrs.field(default=3, validator=positive_int)
    affine: bool = attrs.field(default=True, validator=boolean)

    def __attrs_post_init__(self) -> None:
        if self.layers < 3:
            raise ValueError(f"layers: expected an integer >= 3 (two reduction cells and a normal one), got {self.layers!r}")


#: Node layout of :meth:`DartsSpace.graph`.
_IN0, _IN1, _NORMAL0, _NORMAL_OUT, _REDUCE0, _REDUCE_OUT = 0, 1, 2, 10, 11, 19


class DartsSpace(SearchSpace):
    """DARTS / NAS-Bench-301 space: normal + reduction cells, 4 nodes of 2 ops each (~1.08e18 genotypes).

    Architectures are :class:`~.genotype.DartsArch` values; the canonical id is the genotype in
    DARTS notation with each node's two inputs in ascending order. ``parse`` also reads
    NAS-Bench-301's compact form and DARTS' ``Genotype`` objects (see :mod:`.genotype`).
    """

    Config: ClassVar[type] = DartsConfig
    op_vocabulary: ClassVar[tuple[str, ...]] = ("input", "output", *PRIMITIVES)
    max_nodes: ClassVar[int] = _REDUCE_OUT + 1

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.ops: tuple[str, ...] = PRIMITIVES if self.config.include_none else OPS

    # --- membership -----------------------------------------------------------------------
    def parse(self, text: Any) -> DartsArch:
        """The genotype written in DARTS notation or NB301's compact form (or given as an object)."""
        return to_arch(text, self.ops)

    def canonical(self, arch: Any) -> str:
        """The genotype in DARTS notation, each node's pairs by ascending input."""
        return genotype_str(to_arch(arch, self.ops))

    def contains(self, arch: Any) -> bool:
        try:
            to_arch(arch, self.ops)
        except ArchitectureError:
            return False
        return True

    # --- positional form ------------------------------------------------------------------
    def position_choices(self) -> tuple[int, ...]:
        """Per cell and node: the input pair (1, 3, 6, 10 choices), then the op on the lower and
        on the higher input."""
        k = len(self.ops)
        return tuple(c for _ in CELLS for node in range(NODES) for c in (len(input_pairs(node)), k, k))

    def to_positions(self, arch: Any) -> tuple[int, ...]:
        a = to_arch(arch, self.ops)
        out: list[int] = []
        for genes in a:
            for node in range(NODES):
                (op_a, i), (op_b, j) = genes[2 * node], genes[2 * node + 1]
                out += [input_pairs(node).index((i, j)), self.ops.index(op_a), self.ops.index(op_b)]
        return tuple(out)

    def from_positions(self, positions: Sequence[int]) -> DartsArch:
        choices = self.position_choices()
        if len(positions) != len(choices) or any(not 0 <= int(p) < c for p, c in zip(positions, choices)):
            raise ArchitectureError(
                f"DARTS positions must be {len(choices)} integers below {choices}, got {tuple(positions)!r}")
        cells = []
        for c in range(len(CELLS)):
            genes = []
            for node in range(NODES):
                pair, op_a, op_b = (int(p) for p in positions[3 * (NODES * c + node): 3 * (NODES * c + node) + 3])
                i, j = input_pairs(node)[pair]
                genes += [(self.ops[op_a], i), (self.ops[op_b], j)]
            cells.append(tuple(genes))
        return DartsArch(*cells)

    # --- sampling and moves ---------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> DartsArch:
        """Uniform over genotypes: per cell and node, a uniform pair of distinct inputs and two
        uniform ops (NAS-Bench-301/NASLib's random sampler, which is uniform over canonical ids)."""
        return self.from_positions(tuple(int(rng.integers(c)) for c in self.position_choices()))

    def _changes(self, arch: DartsArch) -> list[tuple[int, int, Any]]:
        """Every elementary change as (cell, slot, new op name or new input index), fixed order."""
        out: list[tuple[int, int, Any]] = []
        for c, genes in enumerate(arch):
            for slot, (op, source) in enumerate(genes):
                out += [(c, slot, other) for other in self.ops if other != op]
                node = slot // 2
                sibling = genes[slot ^ 1][1]
                out += [(c, slot, k) for k in range(node + 2) if k not in (source, sibling)]
        return out

    def _apply(self, arch: DartsArch, change: tuple[int, int, Any]) -> DartsArch:
        c, slot, value = change
        genes = list(arch[c])
        op, source = genes[slot]
        genes[slot] = (value, source) if isinstance(value, str) else (op, value)
        node = slot // 2
        pair = sorted(genes[2 * node: 2 * node + 2], key=lambda edge: edge[1])
        genes[2 * node: 2 * node + 2] = pair
        cells = list(arch)
        cells[c] = tuple(genes)
        return DartsArch(*cells)

    def mutate(self, arch: Any, rng: np.random.Generator) -> DartsArch:
        """One elementary change drawn uniformly: a different op on one edge, or a different input
        for one edge (never the input of the node's other edge)."""
        a = to_arch(arch, self.ops)
        changes = self._changes(a)
        return self._apply(a, changes[int(rng.integers(len(changes)))])

    def neighbours(self, arch: Any) -> list[DartsArch]:
        """Every genotype one op change or one input change away (120 with the 7 NB301 ops)."""
        a = to_arch(arch, self.ops)
        return [self._apply(a, change) for change in self._changes(a)]

    def distance(self, a: Any, b: Any) -> float:
        """The number of (input, op) edges of ``a`` not in ``b``, node by node (0..16).

        Per node this is half the symmetric difference of the two edge sets, a metric; the sum
        over the 8 nodes is one too. One op or input change is distance 1.
        """
        x, y = to_arch(a, self.ops), to_arch(b, self.ops)
        differ = 0
        for gx, gy in zip(x, y):
            for node in range(NODES):
                mine = set(gx[2 * node: 2 * node + 2])
                differ += 2 - len(mine.intersection(gy[2 * node: 2 * node + 2]))
        return float(differ)

    def size(self) -> int:
        """The number of canonical genotypes: (1*3*6*10 input pairs x ops^8)^2, i.e.
        (180 * 7^8)^2 = 1,076,746,950,455,072,400 (~1.08e18) with the 7 NB301 ops."""
        return math.prod(self.position_choices())

    # --- graphs and networks --------------------------------------------------------------
    def graph(self, arch: Any) -> CellGraph:
        """A normal cell followed by a reduction cell, in op-on-node form (20 nodes).

        Nodes: 0, 1 the normal cell's inputs (``input``); 2..9 its 8 ops; 10 its output
        (``output``, the concatenation); 11..18 the reduction cell's ops; 19 its output. An op node
        reads a cell input, or the two op nodes of the intermediate node it reads (their sum). The
        reduction cell reads node 1 and node 10 (the two previous cells' outputs), as it does in
        the network. ``none`` ops are kept as nodes.
        """
        a = to_arch(arch, self.ops)
        adj = np.zeros((self.max_nodes, self.max_nodes), dtype=np.int8)
        labels = ["input", "input"]
        for genes, first, out, inputs in ((a.normal, _NORMAL0, _NORMAL_OUT, (_IN0, _IN1)),
                                          (a.reduce, _REDUCE0, _REDUCE_OUT, (_IN1, _NORMAL_OUT))):
            for slot, (op, source) in enumerate(genes):
                node = first + slot
                if source < 2:
                    adj[inputs[source], node] = 1
                else:
                    adj[first + 2 * (source - 2), node] = adj[first + 2 * (source - 2) + 1, node] = 1
                adj[node, out] = 1
                labels.append(op)
            labels.append("output")
        return CellGraph(adjacency=adj, ops=tuple(labels))

    def to_module(self, arch: Any, num_classes: int = 10, **options: Any) -> "nn.Module":
        """The stacked DARTS network (:mod:`.network`); options ``channels``, ``layers``,
        ``stem_multiplier`` and ``affine`` override the space's config."""
        from nasplug.spaces.darts.network import DartsNetwork

        known = ("channels", "layers", "stem_multiplier", "affine")
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(
                f"to_module option '{unknown[0]}' is not known to darts; known options: {', '.join(known)}")
        settings = {key: options.get(key, getattr(self.config, key)) for key in known}
        return DartsNetwork(to_arch(arch, self.ops), num_classes=num_classes, **settings)

    def supernet(self, num_classes: int = 10, **options: Any) -> "nn.Module":
        """The weight-sharing DARTS supernet (:mod:`.supernet`); options ``channels`` (16),
        ``layers`` (8), ``stem_multiplier`` (3), ``affine`` (false: the search phase's ops),
        ``partial_channels`` (1; PC-DARTS uses 4), and for TE-NAS' small measuring networks
        ``stem`` (true), ``depth`` (all cells) and ``head`` (false)."""
        from nasplug.spaces.darts.supernet import DartsSupernet

        known = ("affine", "channels", "depth", "head", "layers", "partial_channels", "stem", "stem_multiplier")
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(f"supernet option '{unknown[0]}' is not known to darts; known options: {', '.join(known)}")
        return DartsSupernet(num_classes=num_classes, **options)

    # --- benchmark ------------------------------------------------------------------------
    def load_benchmark(self, path: str | None = None) -> "NB301Benchmark":
        """The NAS-Bench-Suite-Zero NB301 subset from ``path`` (file or folder) or ``$NASPLUG_BENCHMARKS``."""
        from nasplug.spaces.darts.benchmark import load_benchmark

        return load_benchmark(path)


__all__ = ["DartsSpace", "DartsConfig", "DartsArch", "CellGenes", "EDGES_PER_CELL", "NONE"]
