"""Local moves and the metric of the NAS-Bench-101 space.

**Elementary changes** of a cell (taken on its canonical form, results pruned and re-canonicalised):

- ``flip``: add or remove one edge i -> j (i < j); removing an edge may prune vertices that lose
  their last path, adding one is refused above 9 edges;
- ``op``: give one interior vertex another op;
- ``grow``: add one vertex with a given op on a new path u -> w -> v between two existing vertices
  u < v (two new edges), refused at 7 vertices or above 9 edges.

``grow`` is needed because cells are kept pruned: a single edge flip can never connect a new
vertex, so without it flips and pruning would only ever shrink cells. (NAS-Bench-101's own
evolution flips edges of the raw 7-vertex matrix, whose dangling vertices play that role.)

**Distance**: the graph edit distance with fixed costs, i.e. the smallest number of differing
adjacency entries plus differing vertex labels over all ways of matching the two cells' vertices.
Both cells are padded to 7 vertices (output last, padding vertices labelled ``null`` with no
edges) and the minimum is taken over the 5! relabelings of the interior of one of them. The group
of relabelings acts by isometries of the Hamming distance, so the minimum is a metric on
isomorphism classes: symmetric, zero exactly for isomorphic cells, and obeying the triangle
inequality. An edge flip that prunes nothing is at distance 1, an op change at distance 1.
"""

from __future__ import annotations

import functools
import itertools
from typing import NamedTuple

import numpy as np

from nasplug.core.errors import ArchitectureError
from nasplug.spaces.nb101.cell import (
    MAX_EDGES, MAX_VERTICES, OPS, NB101Cell, canonical_cell, make_cell,
)

MOVE_KINDS = ("flip", "op", "grow")


class Move(NamedTuple):
    """One elementary change: ``kind`` and its arguments (vertex indices, op name)."""

    kind: str
    a: int
    b: int = -1
    op: str = ""


def moves(cell: NB101Cell) -> dict[str, list[Move]]:
    """Every elementary change of a canonical ``cell``, grouped by kind, in a fixed order."""
    n = cell.num_vertices
    edges = cell.num_edges
    out: dict[str, list[Move]] = {kind: [] for kind in MOVE_KINDS}
    for i, j in itertools.combinations(range(n), 2):
        if cell.matrix[i][j] or edges < MAX_EDGES:
            out["flip"].append(Move("flip", i, j))
    for v in range(1, n - 1):
        out["op"].extend(Move("op", v, op=op) for op in OPS if op != cell.ops[v])
    if n < MAX_VERTICES and edges + 2 <= MAX_EDGES:
        for u, v in itertools.combinations(range(n), 2):
            out["grow"].extend(Move("grow", u, v, op) for op in OPS)
    return out


def apply(cell: NB101Cell, move: Move) -> NB101Cell | None:
    """The canonical cell after ``move``, or ``None`` where the result is not a valid cell."""
    matrix = cell.array()
    ops = list(cell.ops)
    if move.kind == "flip":
        matrix[move.a, move.b] ^= 1
    elif move.kind == "op":
        ops[move.a] = move.op
    elif move.kind == "grow":
        w = move.a + 1  # the new vertex goes right after u, keeping the order topological
        matrix = np.insert(np.insert(matrix, w, 0, axis=0), w, 0, axis=1)
        ops.insert(w, move.op)
        matrix[move.a, w] = 1
        matrix[w, move.b + 1] = 1
    else:
        raise ValueError(f"unknown move kind {move.kind!r}")
    try:
        return canonical_cell(make_cell(matrix, ops))
    except ArchitectureError:
        return None


def neighbours(cell: NB101Cell) -> list[NB101Cell]:
    """The distinct valid cells one elementary change away, in move order (flips, ops, grows)."""
    seen = {cell}
    out = []
    for kind in MOVE_KINDS:
        for move in moves(cell)[kind]:
            child = apply(cell, move)
            if child is not None and child not in seen:
                seen.add(child)
                out.append(child)
    return out


def mutate(cell: NB101Cell, rng: np.random.Generator) -> NB101Cell:
    """A random different cell one change away: a kind drawn uniformly among the kinds that
    have moves, then a move of that kind uniformly; repeated until the result is valid and new."""
    pending = {kind: list(ms) for kind, ms in moves(cell).items() if ms}
    while pending:
        kinds = sorted(pending, key=MOVE_KINDS.index)
        kind = kinds[int(rng.integers(len(kinds)))]
        options = pending[kind]
        move = options.pop(int(rng.integers(len(options))))
        if not options:
            del pending[kind]
        child = apply(cell, move)
        if child is not None and child != cell:
            return child
    raise ArchitectureError(f"cell {cell!r} has no valid neighbour; it cannot be mutated")


# --- distance --------------------------------------------------------------------------------
_NULL = 0
_CODES = {"input": -1, "output": -2, **{op: i + 1 for i, op in enumerate(OPS)}}


class _Padded(NamedTuple):
    flat: np.ndarray  # (49,) padded adjacency
    ops: np.ndarray   # (5,) interior op codes, 0 = null


@functools.cache
def _perms() -> tuple[np.ndarray, np.ndarray]:
    interior = np.array(list(itertools.permutations(range(1, MAX_VERTICES - 1))), dtype=np.intp)
    n = MAX_VERTICES
    full = np.concatenate([np.zeros((len(interior), 1), np.intp), interior,
                           np.full((len(interior), 1), n - 1, np.intp)], axis=1)
    gather = (full[:, :, None] * n + full[:, None, :]).reshape(len(full), n * n)
    return gather, interior - 1


@functools.lru_cache(maxsize=1 << 16)
def _padded(cell: NB101Cell) -> _Padded:
    n = cell.num_vertices
    slots = list(range(n - 1)) + [MAX_VERTICES - 1]  # output moves to the last slot
    padded = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.int8)
    padded[np.ix_(slots, slots)] = cell.array()
    ops = np.full(MAX_VERTICES - 2, _NULL, dtype=np.int8)
    ops[: n - 2] = [_CODES[o] for o in cell.ops[1:-1]]
    return _Padded(padded.ravel(), ops)


def distance(a: NB101Cell, b: NB101Cell) -> int:
    """The graph edit distance of two valid cells (see the module docstring)."""
    pa, pb = _padded(a), _padded(b)
    gather, op_index = _perms()
    edges = (pb.flat[gather] != pa.flat).sum(axis=1)
    labels = (pb.ops[op_index] != pa.ops).sum(axis=1)
    return int((edges + labels).min())

