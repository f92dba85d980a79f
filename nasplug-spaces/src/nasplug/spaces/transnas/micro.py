"""The TransNAS-Bench-101 micro (cell) space: 4 ops on the 6 edges of a 4-node cell, 4,096 cells.

An architecture is a tuple of 6 op digits (0 ``none``/zeroize, 1 ``skip_connect``, 2 conv 1x1,
3 conv 3x3), edge by edge in the official order (node 1 from node 0; node 2 from 0, 1; node 3 from
0, 1, 2), i.e. NASLib's ``op_indices``. Its canonical id is the official TransNAS-Bench string
``64-41414-{0}_{1}{2}_{3}{4}{5}``: 64 base channels, macro skeleton ``41414`` and the cell. As in
the benchmark, isomorphic cells are distinct entries, so no further canonicalisation is done.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Sequence

import numpy as np

from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.core.interfaces.space import CellGraph, PositionalSpace
from nasplug.core.options import NoOptions
from nasplug.spaces.transnas.network import CELL_EDGES

if TYPE_CHECKING:
    from torch import nn

    from nasplug.spaces.transnas.benchmark import TransNASBenchmark

#: Op names by digit; the names follow NAS-Bench-201 so shared encoders see one vocabulary.
MICRO_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
#: The fixed prefix of every micro string: 64 base channels and the ``41414`` macro skeleton.
MICRO_PREFIX = "64-41414"
#: The macro skeleton of the micro space (one layer of 2 cells per digit).
MICRO_MACRO_CODE: tuple[int, ...] = (4, 1, 4, 1, 4)
FORMAT = "64-41414-a_bc_def"

MicroArch = tuple[int, int, int, int, int, int]

_N = len(CELL_EDGES)
_NAME_TO_DIGIT = {name: i for i, name in enumerate(MICRO_OPS)}


def _fail(problem: str) -> ArchitectureError:
    return ArchitectureError(
        f"not a TransNAS-Bench-101 micro cell: {problem}; expected '{FORMAT}' (or 'a_bc_def', or 6 op digits) "
        f"with digits 0 none, 1 skip_connect, 2 conv 1x1, 3 conv 3x3")


def to_micro(value: Any) -> MicroArch:
    """A validated 6-tuple of op digits from a string or a sequence of digits/op names."""
    if isinstance(value, str):
        return parse_micro_str(value)
    if not isinstance(value, (tuple, list)):
        raise _fail(f"got an object of type {type(value).__name__}")
    if len(value) != _N:
        raise _fail(f"got {len(value)} ops instead of {_N}")
    out = []
    for k, item in enumerate(value):
        if isinstance(item, str) and item in _NAME_TO_DIGIT:
            out.append(_NAME_TO_DIGIT[item])
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool) and 0 <= int(item) < len(MICRO_OPS):
            out.append(int(item))
        else:
            to, frm = CELL_EDGES[k]
            raise _fail(f"unknown op {item!r} on edge {to}<-{frm}")
    return tuple(out)  # type: ignore[return-value]


def parse_micro_str(text: str) -> MicroArch:
    """The cell written as ``64-41414-a_bc_def`` (or just ``a_bc_def``)."""
    shown = text if len(text) <= 60 else text[:57] + "..."
    body = text.strip()
    if body.count("-") == 2:
        prefix, _, body = body.rpartition("-")
        if prefix != MICRO_PREFIX:
            raise _fail(f"'{shown}' does not start with '{MICRO_PREFIX}-'")
    groups = body.split("_")
    if [len(g) for g in groups] != [1, 2, 3] or not all(ch in "0123" for ch in "".join(groups)):
        raise _fail(f"'{shown}' has no cell part of the form a_bc_def with digits 0..3")
    return tuple(int(ch) for ch in "".join(groups))  # type: ignore[return-value]


def micro_str(arch: Sequence[int]) -> str:
    """The official string of a validated cell."""
    a = arch
    return f"{MICRO_PREFIX}-{a[0]}_{a[1]}{a[2]}_{a[3]}{a[4]}{a[5]}"


def _template_adjacency() -> np.ndarray:
    """8x8 op-on-node wiring: input (0), the 6 edge ops (1..6), output (7); the node of edge
    (j<-i) reads every edge node ending at cell node i (or the input when i == 0)."""
    adj = np.zeros((_N + 2, _N + 2), dtype=np.int8)
    ending_at: dict[int, list[int]] = {0: [0]}
    for k, (to, frm) in enumerate(CELL_EDGES):
        adj[ending_at[frm], k + 1] = 1
        ending_at.setdefault(to, []).append(k + 1)
    adj[ending_at[3], _N + 1] = 1
    adj.setflags(write=False)
    return adj


_ADJACENCY = _template_adjacency()


class TransNASMicroSpace(PositionalSpace):
    """TransNAS-Bench-101 micro cell space: 6 edges x 4 ops (4,096 cells), 7-task benchmark."""

    Config: ClassVar[type] = NoOptions
    ops: ClassVar[tuple[str, ...]] = MICRO_OPS
    op_vocabulary: ClassVar[tuple[str, ...]] = ("input", "output", *MICRO_OPS)
    max_nodes: ClassVar[int] = _N + 2

    # --- membership -----------------------------------------------------------------------
    def parse(self, text: Any) -> MicroArch:
        """The cell written as the official string, ``a_bc_def``, or given as 6 digits/op names."""
        return to_micro(text)

    def canonical(self, arch: Any) -> str:
        """The official ``64-41414-a_bc_def`` string."""
        return micro_str(to_micro(arch))

    def contains(self, arch: Any) -> bool:
        try:
            to_micro(arch)
        except ArchitectureError:
            return False
        return True

    # --- sampling and moves ---------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> MicroArch:
        """One of the 4,096 cells, uniformly at random."""
        return tuple(int(d) for d in rng.integers(0, len(MICRO_OPS), size=_N))  # type: ignore[return-value]

    def mutate(self, arch: Any, rng: np.random.Generator) -> MicroArch:
        """``arch`` with one uniformly chosen edge set to a different, uniformly chosen op."""
        ops = list(to_micro(arch))
        edge = int(rng.integers(_N))
        ops[edge] = (ops[edge] + 1 + int(rng.integers(len(MICRO_OPS) - 1))) % len(MICRO_OPS)
        return tuple(ops)  # type: ignore[return-value]

    def size(self) -> int:
        return len(MICRO_OPS) ** _N

    def enumerate(self) -> Iterator[MicroArch]:
        """All 4,096 cells in ``itertools.product(range(4), repeat=6)`` order."""
        return itertools.product(range(len(MICRO_OPS)), repeat=_N)  # type: ignore[return-value]

    # --- positional form ------------------------------------------------------------------
    def position_choices(self) -> tuple[int, ...]:
        """Six edges with four ops each."""
        return (len(MICRO_OPS),) * _N

    def to_positions(self, arch: Any) -> tuple[int, ...]:
        """The op digits themselves, edge by edge."""
        return to_micro(arch)

    def from_positions(self, positions: Sequence[int]) -> MicroArch:
        """The cell whose edge ``k`` carries op digit ``positions[k]``."""
        if len(positions) != _N or any(not 0 <= int(p) < len(MICRO_OPS) for p in positions):
            raise ArchitectureError(
                f"TransNAS micro positions must be {_N} integers in 0..{len(MICRO_OPS) - 1}, got {tuple(positions)!r}")
        return tuple(int(p) for p in positions)  # type: ignore[return-value]

    # --- graphs and networks --------------------------------------------------------------
    def graph(self, arch: Any) -> CellGraph:
        """The cell in op-on-node form: input, the 6 edge ops (``none`` kept), output."""
        return CellGraph(adjacency=_ADJACENCY.copy(), ops=("input", *(MICRO_OPS[d] for d in to_micro(arch)), "output"))

    def to_module(self, arch: Any, num_classes: int = 10, **options: Any) -> "nn.Module":
        """The TransNAS-Bench-101 micro encoder for ``arch`` with a classification head.

        Options: ``base_channels`` (64, the benchmark's) and ``blocks_per_layer`` (2). The
        macro skeleton is the benchmark's ``41414``: stem to 1/4 resolution at 64 channels, then
        5 layers of 2 cells (128 ch /8, 128, 256 /16, 256, 512 /32). Parameter counts equal the
        NAS-Bench-Suite-Zero ``params`` of the classification tasks (tested).
        """
        from nasplug.spaces.transnas.network import TransNASNetwork

        known = {"base_channels", "blocks_per_layer"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"to_module option '{unknown[0]}' is not known to transnas_micro; known options: {', '.join(sorted(known))}")
        return TransNASNetwork(MICRO_MACRO_CODE, to_micro(arch), num_classes=num_classes, **options)

    def supernet(self, num_classes: int = 10, **options: Any) -> "nn.Module":
        """The weight-sharing supernet: every edge of the cell holds the four ops; options as
        ``to_module`` (see :class:`nasplug.spaces.transnas.network.TransNASMicroSupernet`)."""
        from nasplug.spaces.transnas.network import TransNASMicroSupernet

        unknown = sorted(set(options) - {"base_channels", "blocks_per_layer"})
        if unknown:
            raise ConfigError(f"supernet option '{unknown[0]}' is not known to transnas_micro; known options: base_channels, blocks_per_layer")
        return TransNASMicroSupernet(MICRO_MACRO_CODE, num_classes=num_classes, **options)

    # --- benchmark ------------------------------------------------------------------------
    def load_benchmark(self, path: str | None = None) -> "TransNASBenchmark":
        """All 4,096 cells x 7 tasks from ``transnas101/micro_zen_all.csv.gz`` (see
        :func:`nasplug.spaces.transnas.benchmark.load_micro_benchmark`)."""
        from nasplug.spaces.transnas.benchmark import load_micro_benchmark

        return load_micro_benchmark(path)
