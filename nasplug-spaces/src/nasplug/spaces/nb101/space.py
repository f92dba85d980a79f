"""The NAS-Bench-101 search space: cells, moves, metric, graph form, network and benchmark."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Iterator

import attrs
import numpy as np

from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.core.interfaces.space import CellGraph, SearchSpace
from nasplug.core.options import one_of, positive_int
from nasplug.spaces.nb101 import moves
from nasplug.spaces.nb101.cell import (
    INPUT, MAX_EDGES, MAX_VERTICES, OPS, OUTPUT, NB101Cell, canonical_cell, cell_id, make_cell, to_cell,
)
from nasplug.spaces.nb101.enumeration import enumerate_cells, sample_uniform

if TYPE_CHECKING:
    from torch import nn

    from nasplug.spaces.nb101.benchmark import NB101Benchmark

#: The number of distinct cells NAS-Bench-101 reports; :func:`.enumeration.num_cells` recounts it.
NUM_CELLS = 423_624


@attrs.frozen
class NB101Config:
    """Options of the NAS-Bench-101 space.

    ``sampling``: ``"uniform"`` draws uniformly from the 423,624 distinct cells (exact, see
    :func:`.enumeration.sample_uniform`); ``"nasbench"`` is the official API's ``random_spec``:
    a uniformly random 7x7 upper-triangular matrix and 5 uniformly random interior ops, redrawn
    until valid (uniform over valid 7-vertex specs, hence not over cells: small cells that many
    specs prune to are drawn more often). ``stem_channels``, ``stacks`` and ``cells_per_stack``
    set the network ``to_module`` builds (defaults: the benchmark's 128, 3, 3).
    """

    sampling: str = attrs.field(default="uniform", validator=one_of("uniform", "nasbench"))
    stem_channels: int = attrs.field(default=128, validator=positive_int)
    stacks: int = attrs.field(default=3, validator=positive_int)
    cells_per_stack: int = attrs.field(default=3, validator=positive_int)


class NB101Space(SearchSpace):
    """NAS-Bench-101 cell space: DAGs of up to 7 vertices and 9 edges over 3 ops (423,624 cells).

    Architectures are :class:`~.cell.NB101Cell` values (pruned adjacency + ops). ``canonical``
    is an exact, isomorphism-invariant id (see :mod:`.cell`); ``parse`` accepts it, a raw spec in
    the same ``bits:ops`` form (any vertex count up to 7, pruned on reading), a ``(matrix, ops)``
    pair, a ``{"matrix", "ops"}`` mapping or an official ``ModelSpec``. Moves and the metric are
    described in :mod:`.moves`.
    """

    Config: ClassVar[type] = NB101Config
    ops: ClassVar[tuple[str, ...]] = OPS
    op_vocabulary: ClassVar[tuple[str, ...]] = (INPUT, OUTPUT, *OPS)
    max_nodes: ClassVar[int] = MAX_VERTICES

    # --- membership -----------------------------------------------------------------------
    def parse(self, text: Any) -> NB101Cell:
        """The cell written as ``bits:op|...`` (or given in another form, see the class doc),
        pruned, with its vertex order kept."""
        return to_cell(text)

    def canonical(self, arch: Any) -> str:
        """The id of the canonical relabelling: equal for exactly the isomorphic cells."""
        return cell_id(canonical_cell(to_cell(arch)))

    def contains(self, arch: Any) -> bool:
        try:
            to_cell(arch)
        except ArchitectureError:
            return False
        return True

    # --- sampling and moves ---------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> NB101Cell:
        """One cell in canonical order, drawn as ``config.sampling`` says."""
        if self.config.sampling == "uniform":
            return sample_uniform(rng)
        while True:
            matrix = np.triu(rng.integers(0, 2, size=(MAX_VERTICES, MAX_VERTICES)), 1)
            ops = [INPUT, *(OPS[i] for i in rng.integers(0, len(OPS), size=MAX_VERTICES - 2)), OUTPUT]
            try:
                return canonical_cell(make_cell(matrix, ops))
            except ArchitectureError:
                continue

    def mutate(self, arch: Any, rng: np.random.Generator) -> NB101Cell:
        """A random different cell one elementary change away (see :func:`.moves.mutate`)."""
        return moves.mutate(canonical_cell(to_cell(arch)), rng)

    def neighbours(self, arch: Any) -> list[NB101Cell]:
        """The distinct cells one edge flip, op change or added vertex away, in canonical order."""
        return moves.neighbours(canonical_cell(to_cell(arch)))

    def distance(self, a: Any, b: Any) -> float:
        """Graph edit distance (edge and label differences under the best vertex matching)."""
        return float(moves.distance(to_cell(a), to_cell(b)))

    def size(self) -> int:
        """423,624: the published count, which :meth:`enumerate` reproduces."""
        return NUM_CELLS

    def enumerate(self) -> Iterator[NB101Cell]:
        """Every distinct cell once, in canonical order (by vertex count, matrix, labels; ~2 s)."""
        return enumerate_cells()

    # --- graphs and networks --------------------------------------------------------------
    def graph(self, arch: Any) -> CellGraph:
        """The pruned cell itself (already op-on-node and upper triangular), 2 to 7 nodes."""
        cell = to_cell(arch)
        return CellGraph(adjacency=cell.array(), ops=cell.ops)

    def to_module(self, arch: Any, num_classes: int = 10, **options: Any) -> "nn.Module":
        """The NAS-Bench-101 network of ``arch`` in its own vertex order (:mod:`.network`).

        Options ``stem_channels``, ``stacks``, ``cells_per_stack`` override the space's config.
        """
        from nasplug.spaces.nb101.network import NB101Network

        known = ("stem_channels", "stacks", "cells_per_stack")
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(
                f"to_module option '{unknown[0]}' is not known to nb101; known options: {', '.join(known)}")
        settings = {key: options.get(key, getattr(self.config, key)) for key in known}
        return NB101Network(to_cell(arch), num_classes=num_classes, **settings)

    # --- benchmark ------------------------------------------------------------------------
    def load_benchmark(self, path: str | None = None) -> "NB101Benchmark":
        """The NAS-Bench-Suite-Zero NB101 subset from ``path`` (file or folder) or ``$NASPLUG_BENCHMARKS``."""
        from nasplug.spaces.nb101.benchmark import load_benchmark

        return load_benchmark(path)


__all__ = ["NB101Space", "NB101Config", "NUM_CELLS", "MAX_EDGES"]
