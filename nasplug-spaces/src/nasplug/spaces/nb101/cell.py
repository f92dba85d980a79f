"""NAS-Bench-101 cells: validation, the official pruning, an exact canonical form and the id string.

A cell is a DAG of at most 7 vertices in topological order (strictly upper-triangular adjacency):
vertex 0 is the input, the last vertex the output, and every interior vertex carries one of
:data:`OPS`. As in NAS-Bench-101's ``ModelSpec``, vertices that are not on an input -> output path
are pruned first (they cannot affect the network); a cell is valid when the output is still
reachable and the pruned cell has at most 7 vertices and 9 edges.

**Canonical form.** Two cells are the same architecture when their pruned graphs are isomorphic
as labelled DAGs. Instead of a hash (NAS-Bench-101 uses iterated neighbourhood hashing, which can
in principle collide), we compute an exact canonical labelling: among all relabelings of the
interior vertices that keep the adjacency upper triangular (at most 5! = 120), take the smallest
by (adjacency as an integer with edge i -> j at bit ``i + j(j-1)/2``, then the interior op codes
in :data:`OPS` order, first vertex most significant). Isomorphic cells have the same set of such
relabelings, so they get one form; non-isomorphic cells cannot share one, because the form is
isomorphic to the cell. This order is the one NAS-Bench-101's generator walked (bit masks in that
layout, then labelings), so the canonical cell is the very graph the benchmark kept and trained
for each isomorphism class: the parameter counts of our networks over all canonical cells equal
the benchmark's 423,624 ``trainable_parameters`` as a multiset (``bench/spaces_nb101_darts.py``).

The id string is ``<row-major bits of the n x n matrix>:<op>|<op>|...``, e.g.
``0110000100010000:input|conv3x3-bn-relu|maxpool3x3|output`` (input -> conv and pool -> output).
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, NamedTuple, Sequence

import numpy as np

from nasplug.core.errors import ArchitectureError

INPUT = "input"
OUTPUT = "output"
#: The interior operations, in NAS-Bench-101's order.
OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
#: At most this many vertices (input and output included) ...
MAX_VERTICES = 7
#: ... and this many edges in a (pruned) cell.
MAX_EDGES = 9
#: How a cell id looks; quoted in parse errors.
FORMAT = "<n*n adjacency bits, row-major>:input|<op>|...|output"

_OP_CODE = {op: i for i, op in enumerate(OPS)}
_OP_SET = frozenset(OPS)


class NB101Cell(NamedTuple):
    """A pruned NAS-Bench-101 cell: ``matrix`` is the n x n adjacency as a tuple of row tuples
    (``matrix[i][j] = 1`` for i -> j), ``ops`` the n vertex labels, ``'input'`` first and
    ``'output'`` last.

    The vertex order is kept as given, because it matters to the network: NAS-Bench-101 hands the
    rounding remainder of the channel split to the *first* vertices feeding the output, so two
    orderings of one cell can differ by a few parameters (3 of the 292 distinct cells of the
    benchmark subset do). Isomorphic cells therefore need not be ``==``; their canonical ids are
    equal. Cells made by the space (sampled, mutated, parsed from a canonical id) are in canonical
    order, and for those ``==`` does mean isomorphic.
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return sum(map(sum, self.matrix))

    def array(self) -> np.ndarray:
        """The adjacency as a fresh ``int8`` array."""
        return np.array(self.matrix, dtype=np.int8).reshape(len(self.ops), len(self.ops))


def _fail(problem: str) -> ArchitectureError:
    return ArchitectureError(
        f"not a NAS-Bench-101 cell: {problem}; expected '{FORMAT}' (or a matrix and ops) with at most "
        f"{MAX_VERTICES} vertices and {MAX_EDGES} edges after pruning, interior ops from {', '.join(OPS)}")


# --- pruning and validity --------------------------------------------------------------------
def prune(matrix: np.ndarray, ops: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """NAS-Bench-101's pruning: keep the vertices on some input -> output path.

    Raises ``ArchitectureError`` when the output is not reachable from the input.
    """
    n = len(ops)
    forward = np.zeros(n, dtype=bool)
    forward[0] = True
    for j in range(1, n):
        forward[j] = bool(matrix[:j, j][forward[:j]].any())
    backward = np.zeros(n, dtype=bool)
    backward[n - 1] = True
    for i in range(n - 2, -1, -1):
        backward[i] = bool(matrix[i, i + 1:][backward[i + 1:]].any())
    if not forward[n - 1]:
        raise _fail("the output is not reachable from the input")
    keep = np.flatnonzero(forward & backward)
    return matrix[np.ix_(keep, keep)], [ops[k] for k in keep]


def check_raw(matrix: Any, ops: Any) -> tuple[np.ndarray, list[str]]:
    """A raw (possibly unpruned) spec as an ``int8`` matrix and op list, checked for shape and labels."""
    if isinstance(ops, str) or not isinstance(ops, Sequence):
        raise _fail(f"ops must be a sequence of names, got {type(ops).__name__}")
    ops = list(ops)
    try:
        m = np.asarray(matrix)
    except Exception:  # noqa: BLE001 - any unconvertible object is simply not a matrix
        raise _fail("the adjacency is not a matrix") from None
    n = len(ops)
    if m.ndim != 2 or m.shape != (n, n):
        raise _fail(f"adjacency of shape {m.shape} does not match {n} ops")
    if not 2 <= n <= MAX_VERTICES:
        raise _fail(f"{n} vertices (allowed: 2..{MAX_VERTICES})")
    if m.dtype == bool:
        m = m.astype(np.int8)
    if not np.issubdtype(m.dtype, np.integer) or not np.isin(m, (0, 1)).all():
        raise _fail("adjacency entries must be 0 or 1")
    m = m.astype(np.int8)
    if np.tril(m).any():
        raise _fail("the adjacency must be strictly upper triangular (vertices in topological order)")
    if ops[0] != INPUT or ops[-1] != OUTPUT:
        raise _fail(f"the first op must be '{INPUT}' and the last '{OUTPUT}', got {ops[0]!r} and {ops[-1]!r}")
    for k, op in enumerate(ops[1:-1], start=1):
        if op not in _OP_SET:
            raise _fail(f"unknown op {op!r} at vertex {k}")
    return m, ops


def make_cell(matrix: Any, ops: Any) -> NB101Cell:
    """The cell of a raw spec: checked, pruned, limits enforced; the vertex order is kept."""
    m, labels = check_raw(matrix, ops)
    m, labels = prune(m, labels)
    edges = int(m.sum())
    if edges > MAX_EDGES:
        raise _fail(f"{edges} edges after pruning")
    return NB101Cell(tuple(tuple(int(v) for v in row) for row in m), tuple(labels))


#: valid pruned cell -> its canonical relabelling; cells the space makes are entered as their own.
_CANONICAL: dict[NB101Cell, NB101Cell] = {}
#: Entries before the memo is cleared: room for every one of the 423,624 cells (about 0.6 KB an
#: entry), so that a pass over the whole space never evicts cells it will see again (a smaller
#: limit made each later ``graph()`` of an evicted cell re-validate it: 2.5x slower per cell).
_MEMO_LIMIT = 1 << 19


def _remember(cell: NB101Cell, canonical: NB101Cell) -> None:
    if len(_CANONICAL) >= _MEMO_LIMIT:
        _CANONICAL.clear()
    _CANONICAL[cell] = canonical
    _CANONICAL[canonical] = canonical


def known_canonical(cell: NB101Cell) -> NB101Cell:
    """Record that ``cell`` (made by the space: valid, pruned, canonical) is its own canonical form."""
    _remember(cell, cell)
    return cell


def canonical_cell(cell: NB101Cell) -> NB101Cell:
    """The canonical relabelling of a valid, pruned cell (memoised)."""
    hit = _CANONICAL.get(cell)
    if hit is None:
        hit = canonicalize(cell.array(), cell.ops)
        _remember(cell, hit)
    return hit


# --- canonical labelling ---------------------------------------------------------------------
class _Layout(NamedTuple):
    """Precomputed relabelings for cells of n vertices."""

    perms: np.ndarray        # (m, n): new vertex i is old vertex perms[:, i]
    upper: tuple[np.ndarray, np.ndarray]
    gather_upper: np.ndarray  # (m, E): flat indices of the old matrix read by each new upper entry
    gather_lower: np.ndarray  # (m, E): the same for the new lower entries (must all be 0)
    bit_weights: np.ndarray  # weight of each upper entry (row-major): 2**(i + j(j-1)/2), NAS-Bench-101's bit order
    op_weights: np.ndarray   # interior op codes, base 3, first vertex most significant


@functools.cache
def _layout(n: int) -> _Layout:
    interior = list(itertools.permutations(range(1, n - 1)))
    perms = np.array([(0, *p, n - 1) for p in interior], dtype=np.intp).reshape(len(interior), n)
    iu, ju = np.triu_indices(n, 1)
    gather_upper = perms[:, iu] * n + perms[:, ju]
    gather_lower = perms[:, ju] * n + perms[:, iu]
    bit_weights = np.left_shift(np.int64(1), (iu + ju * (ju - 1) // 2).astype(np.int64))
    op_weights = np.power(np.int64(len(OPS)), np.arange(n - 3, -1, -1, dtype=np.int64))
    return _Layout(perms, (iu, ju), gather_upper, gather_lower, bit_weights, op_weights)


def canonicalize(matrix: np.ndarray, ops: Sequence[str]) -> NB101Cell:
    """The canonical relabelling of a *pruned* cell (see the module docstring)."""
    n = len(ops)
    if n > 3:  # with at most one interior vertex there is nothing to relabel
        lay = _layout(n)
        flat = np.ascontiguousarray(matrix, dtype=np.int64).ravel()
        key = (flat[lay.gather_upper] @ lay.bit_weights) * 256
        codes = np.array([_OP_CODE[o] for o in ops[1:-1]], dtype=np.int64)
        key += codes[lay.perms[:, 1:-1] - 1] @ lay.op_weights
        key[flat[lay.gather_lower].any(axis=1)] = np.iinfo(np.int64).max
        best = lay.perms[int(np.argmin(key))]
        matrix = matrix[np.ix_(best, best)]
        ops = [ops[k] for k in best]
    return NB101Cell(tuple(tuple(int(v) for v in row) for row in matrix), tuple(ops))


# --- text form -------------------------------------------------------------------------------
def cell_id(cell: NB101Cell) -> str:
    """The id string of a canonical cell."""
    bits = "".join("".join("1" if v else "0" for v in row) for row in cell.matrix)
    return f"{bits}:{'|'.join(cell.ops)}"


def parse_id(text: str) -> tuple[np.ndarray, list[str]]:
    """The raw matrix and ops written as ``bits:op|op|...`` (not yet pruned)."""
    shown = text if len(text) <= 120 else text[:117] + "..."
    bits, sep, ops_text = text.strip().partition(":")
    if not sep:
        raise _fail(f"'{shown}' has no ':' between the adjacency bits and the ops")
    ops = ops_text.split("|")
    n = len(ops)
    if len(bits) != n * n or set(bits) - {"0", "1"}:
        raise _fail(f"'{shown}' needs {n * n} adjacency bits (0/1) for its {n} ops")
    matrix = np.frombuffer(bits.encode(), dtype=np.uint8).reshape(n, n) - ord("0")
    return matrix.astype(np.int8), ops


def to_cell(value: Any) -> NB101Cell:
    """A valid pruned cell (vertex order kept) from an id string, an :class:`NB101Cell`, a ``(matrix, ops)`` pair, a
    mapping with ``matrix`` and ``ops`` keys, or an object with those attributes (e.g. the
    official ``ModelSpec``)."""
    if isinstance(value, str):
        return make_cell(*parse_id(value))
    if isinstance(value, NB101Cell):
        try:
            if value in _CANONICAL:  # a cell we made or checked before
                return value
        except TypeError:  # unhashable contents (lists): not one of ours
            pass
        cell = make_cell(value.matrix, value.ops)
        canonical_cell(cell)
        return cell
    if isinstance(value, dict):
        if "matrix" not in value or "ops" not in value:
            raise _fail("a mapping needs 'matrix' and 'ops' keys")
        return make_cell(value["matrix"], value["ops"])
    if hasattr(value, "matrix") and hasattr(value, "ops") and not isinstance(value, tuple):
        return make_cell(value.matrix, value.ops)
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return make_cell(value[0], value[1])
    raise _fail(f"got an object of type {type(value).__name__}")
