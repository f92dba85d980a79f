"""The NAS-Bench-201 search space: architectures, moves, metric, graph form and network.

An architecture is a tuple of 6 op names, one per edge of the 4-node cell, in the official edge
order :data:`EDGES`. Its canonical id is the official ``arch_str`` so that ids line up with the
benchmark table and with the literature. Every one of the 5**6 = 15,625 tuples is a distinct entry
of NAS-Bench-201 (the benchmark does not merge isomorphic cells), so no further canonicalisation
is done.
"""

from __future__ import annotations

import functools
import itertools
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Sequence

import numpy as np

from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.core.interfaces.space import DISCONNECTED, CellGraph, PositionalSpace
from nasplug.core.options import NoOptions

if TYPE_CHECKING:
    from nasplug.spaces.nb201.benchmark import NB201Benchmark
    from torch import nn

#: The 5 candidate operations, in the order used by NAS-Bench-201.
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: The 6 cell edges as (to_node, from_node), in the official order of ``arch_str``.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
#: How an ``arch_str`` looks; quoted in every parse error.
FORMAT = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"

NB201Arch = tuple[str, str, str, str, str, str]

_OP_SET = frozenset(OPS)
_N_EDGES = len(EDGES)


def _fail(problem: str) -> ArchitectureError:
    return ArchitectureError(
        f"not a NAS-Bench-201 architecture: {problem}; expected '{FORMAT}' or a sequence of 6 op "
        f"names, with op one of {', '.join(OPS)}")


def _check_ops(ops: Sequence[Any]) -> NB201Arch:
    """The ops as a validated 6-tuple; ``ArchitectureError`` naming the first problem."""
    if len(ops) != _N_EDGES:
        raise _fail(f"got {len(ops)} ops instead of {_N_EDGES}")
    for k, op in enumerate(ops):
        if not isinstance(op, str) or op not in _OP_SET:
            to, frm = EDGES[k]
            raise _fail(f"unknown op {op!r} on edge {to}<-{frm}")
    return tuple(ops)  # type: ignore[return-value]


@functools.cache
def _known_arch_strs() -> dict[str, NB201Arch]:
    """Every exact official ``arch_str`` mapped to its tuple (a fast path for parsing tables)."""
    return {arch_str(a): a for a in itertools.product(OPS, repeat=_N_EDGES)}  # type: ignore[misc]


def parse_arch_str(text: str) -> NB201Arch:
    """The 6-tuple written as the official ``arch_str``; strict about shape and input indices."""
    known = _known_arch_strs().get(text)
    if known is not None:
        return known
    shown = text if len(text) <= 120 else text[:117] + "..."
    nodes = text.strip().split("+")
    if len(nodes) != 3:
        raise _fail(f"'{shown}' has {len(nodes)} node groups separated by '+' instead of 3")
    ops: list[str] = []
    for node, group in enumerate(nodes, start=1):
        if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
            raise _fail(f"node {node} group '{group}' in '{shown}' is not enclosed in '|'")
        items = group[1:-1].split("|")
        if len(items) != node:
            raise _fail(f"node {node} in '{shown}' has {len(items)} inputs instead of {node}")
        for source, item in enumerate(items):
            op, sep, index = item.partition("~")
            if not sep or index != str(source):
                raise _fail(f"'{item}' in '{shown}' should read 'op~{source}' (edge {node}<-{source})")
            ops.append(op)
    return _check_ops(ops)


def to_arch(value: Any) -> NB201Arch:
    """An architecture from an ``arch_str`` or a sequence of 6 op names (validated)."""
    if isinstance(value, str):
        return parse_arch_str(value)
    if isinstance(value, (tuple, list)):
        return _check_ops(value)
    raise _fail(f"got an object of type {type(value).__name__}")


def arch_str(arch: Sequence[str]) -> str:
    """The official ``arch_str`` of a validated 6-tuple."""
    a = arch
    return f"|{a[0]}~0|+|{a[1]}~0|{a[2]}~1|+|{a[3]}~0|{a[4]}~1|{a[5]}~2|"


def _template_adjacency() -> np.ndarray:
    """The fixed 8x8 wiring of the op-on-node graph: input (0), edge ops (1..6), output (7).

    The node of edge (j<-i) reads cell node i, i.e. the sum of the edge nodes ending at i (or the
    input when i == 0); the output reads cell node 3.
    """
    n = _N_EDGES + 2
    adj = np.zeros((n, n), dtype=np.int8)
    ending_at: dict[int, list[int]] = {0: [0]}
    for k, (to, frm) in enumerate(EDGES):
        for src in ending_at[frm]:
            adj[src, k + 1] = 1
        ending_at.setdefault(to, []).append(k + 1)
    for src in ending_at[3]:
        adj[src, n - 1] = 1
    adj.setflags(write=False)
    return adj


_ADJACENCY = _template_adjacency()


def cell_function(arch: Sequence[str]) -> str:
    """The function a cell computes, written canonically: each node is the sorted sum of its
    incoming terms, ``op(input)`` per parametrised or pooling edge, the source's own terms for a
    ``skip_connect`` (identity), nothing for ``none`` or for an edge leaving a node that carries
    no signal. Isomorphic cells and cells that differ only in edges reaching no output (or fed by
    nothing) get the same string; :data:`DISCONNECTED` when the output ignores the input.

    Edges fed by nothing are dropped: in the trained network such an edge can only add a
    constant (a BatchNorm shift), the convention of the NAS-Bench-201 paper's unique-cell count.
    Each conv and pool edge stays its own term (its own weights), so the key never merges two
    cells of different capacity.
    """
    value: dict[int, list[str]] = {0: ["x"]}
    for node in (1, 2, 3):
        terms: list[str] = []
        for (to, frm), op in zip(EDGES, arch):
            if to != node or op == "none" or not value[frm]:
                continue
            if op == "skip_connect":
                terms.extend(value[frm])
            else:
                terms.append(f"{op}({'+'.join(value[frm])})")
        value[node] = sorted(terms)
    return "+".join(value[3]) or DISCONNECTED


class NB201Space(PositionalSpace):
    """NAS-Bench-201 cell space: 6 edges x 5 ops (15,625 cells) with its tabular benchmark."""

    Config: ClassVar[type] = NoOptions
    ops: ClassVar[tuple[str, ...]] = OPS
    edges: ClassVar[tuple[tuple[int, int], ...]] = EDGES
    op_vocabulary: ClassVar[tuple[str, ...]] = ("input", "output", *OPS)
    max_nodes: ClassVar[int] = _N_EDGES + 2

    # --- membership -----------------------------------------------------------------------
    def parse(self, text: str | Sequence[str]) -> NB201Arch:
        """The architecture written as an ``arch_str`` (or given as 6 op names)."""
        return to_arch(text)

    def canonical(self, arch: Any) -> str:
        """The official ``arch_str``; ``ArchitectureError`` if ``arch`` is not a member."""
        return arch_str(to_arch(arch))

    def graph_key(self, arch: Any) -> str:
        """The cell's function (see :func:`cell_function`): one key per distinct network."""
        return cell_function(to_arch(arch))

    def contains(self, arch: Any) -> bool:
        """Whether ``arch`` is a 6-tuple (or list) of known op names, or a valid ``arch_str``."""
        try:
            to_arch(arch)
        except ArchitectureError:
            return False
        return True

    # --- sampling and moves ---------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> NB201Arch:
        """One of the 15,625 cells, uniformly at random."""
        idx = rng.integers(0, len(OPS), size=_N_EDGES)
        return tuple(OPS[i] for i in idx)  # type: ignore[return-value]

    def mutate(self, arch: Any, rng: np.random.Generator) -> NB201Arch:
        """``arch`` with one uniformly chosen edge set to a different, uniformly chosen op."""
        ops = list(to_arch(arch))
        edge = int(rng.integers(_N_EDGES))
        choices = [op for op in OPS if op != ops[edge]]
        ops[edge] = choices[int(rng.integers(len(choices)))]
        return tuple(ops)  # type: ignore[return-value]

    def size(self) -> int:
        return len(OPS) ** _N_EDGES

    def enumerate(self) -> Iterator[NB201Arch]:
        """All 15,625 cells in ``itertools.product(OPS, repeat=6)`` order (not the table order)."""
        return itertools.product(OPS, repeat=_N_EDGES)  # type: ignore[return-value]

    # --- positional form ------------------------------------------------------------------
    def position_choices(self) -> tuple[int, ...]:
        """Six edges with five ops each."""
        return (len(OPS),) * _N_EDGES

    def to_positions(self, arch: Any) -> tuple[int, ...]:
        """Op indices (in :data:`OPS` order) edge by edge."""
        return tuple(OPS.index(op) for op in to_arch(arch))

    def from_positions(self, positions: Sequence[int]) -> NB201Arch:
        """The cell whose edge ``k`` carries ``OPS[positions[k]]``."""
        if len(positions) != _N_EDGES or any(not 0 <= int(p) < len(OPS) for p in positions):
            raise ArchitectureError(f"NB201 positions must be {_N_EDGES} integers in 0..{len(OPS) - 1}, got {tuple(positions)!r}")
        return tuple(OPS[int(p)] for p in positions)  # type: ignore[return-value]

    # --- graphs and networks --------------------------------------------------------------
    def graph(self, arch: Any) -> CellGraph:
        """The cell in op-on-node form: 8 nodes (input, the 6 edge ops, output), fixed wiring.

        ``none`` edges are kept as nodes so every cell has the same shape (encoders see the op).
        """
        return CellGraph(adjacency=_ADJACENCY.copy(), ops=("input", *to_arch(arch), "output"))

    def to_module(self, arch: Any, num_classes: int = 10, **options: Any) -> "nn.Module":
        """The NAS-Bench-201 network for ``arch`` (see :mod:`nasplug.spaces.nb201.network`).

        Options: ``channels`` (16) and ``cells_per_stage`` (5), the benchmark's values.
        """
        from nasplug.spaces.nb201.network import NB201Network

        known = {"channels", "cells_per_stage"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"to_module option '{unknown[0]}' is not known to nb201; known options: {', '.join(sorted(known))}")
        return NB201Network(to_arch(arch), num_classes=num_classes, **options)

    def supernet(self, num_classes: int = 10, **options: Any) -> "nn.Module":
        """The weight-sharing supernet (all five ops on every edge); options as ``to_module``
        plus ``partial_channels``, and ``stem`` / ``depth`` for a truncated network (TE-NAS's
        linear-region network); see :mod:`nasplug.spaces.nb201.supernet`."""
        from nasplug.spaces.nb201.supernet import NB201Supernet

        unknown = sorted(set(options) - {"channels", "cells_per_stage", "partial_channels", "stem", "depth"})
        if unknown:
            raise ConfigError(f"supernet option '{unknown[0]}' is not known to nb201; known options: cells_per_stage, "
                              "channels, depth, partial_channels, stem")
        return NB201Supernet(num_classes=num_classes, **options)

    # --- benchmark ------------------------------------------------------------------------
    def load_benchmark(self, path: str | None = None) -> "NB201Benchmark":
        """The NAS-Bench-201 table from ``path`` (file or folder) or ``$NASPLUG_BENCHMARKS``."""
        from nasplug.spaces.nb201.benchmark import load_benchmark

        return load_benchmark(path)
