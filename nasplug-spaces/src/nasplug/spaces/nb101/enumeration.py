"""Every NAS-Bench-101 cell, counted and enumerated exactly, and uniform sampling over them.

NAS-Bench-101 generated its space by listing every upper-triangular adjacency of 2..7 vertices
with at most 9 edges in which every vertex lies on an input -> output path ("full" DAGs), labelling
the interior vertices in every way and merging isomorphic cells: 423,624 cells.

We do the same without touching 510 million labelled graphs: first the *unlabelled* full DAGs are
listed once and reduced to one canonical matrix per isomorphism class (2,494 classes), each with its
automorphism group (relabelings of the interior that map the matrix to itself). The labelled cells
of a class are then the orbits of the 3^k labelings under that group: a labeling is listed when it
is the smallest of its orbit, and counted by Burnside's lemma. Because the canonical form of
:mod:`.cell` compares the matrix first, a (canonical matrix, orbit-minimal labeling) pair is
exactly a canonical cell, so the enumeration and :func:`~.cell.canonicalize` agree by construction;
the bench re-checks it on all 423,624 cells.
"""

from __future__ import annotations

import functools
import itertools
from typing import Iterable, Iterator, NamedTuple

import numpy as np

from nasplug.spaces.nb101.cell import MAX_EDGES, MAX_VERTICES, OPS, NB101Cell, _layout, known_canonical


class MatrixClass(NamedTuple):
    """One isomorphism class of unlabelled full DAGs, in canonical form."""

    matrix: np.ndarray        # (n, n) int8, canonical (smallest upper-triangle bits)
    automorphisms: np.ndarray  # (a, n) relabelings p with matrix[p][:, p] == matrix (identity first)
    labelled: int             # number of labelled cells (orbits of labelings), by Burnside
    rows: tuple[tuple[int, ...], ...]  # ``matrix`` as the tuple form of NB101Cell


@functools.cache
def matrix_classes() -> tuple[MatrixClass, ...]:
    """The 2,494 unlabelled classes, by vertex count then canonical bits (cached; ~0.1 s)."""
    out: list[MatrixClass] = []
    for n in range(2, MAX_VERTICES + 1):
        out.extend(_classes_of_size(n))
    return tuple(out)


def _classes_of_size(n: int) -> list[MatrixClass]:
    lay = _layout(n)
    iu, ju = lay.upper
    e = len(iu)
    codes = np.arange(1 << e, dtype=np.int64)
    bit = {(int(i), int(j)): np.int64(w) for i, j, w in zip(iu, ju, lay.bit_weights)}
    # Full DAG: every vertex but the output has an out-edge, every vertex but the input an in-edge.
    keep = np.ones(len(codes), dtype=bool)
    for v in range(n):
        if v < n - 1:
            keep &= (codes & sum(bit[(v, j)] for j in range(v + 1, n))) != 0
        if v > 0:
            keep &= (codes & sum(bit[(i, v)] for i in range(v))) != 0
    codes = codes[keep]
    codes = codes[_popcount(codes) <= MAX_EDGES]
    bits = ((codes[:, None] & lay.bit_weights) != 0).astype(np.int64)  # (matrices, upper entries), row-major

    # Code of each matrix under each relabeling (max int where the result is not upper triangular).
    big = np.iinfo(np.int64).max
    relabelled = np.empty((len(lay.perms), len(codes)), dtype=np.int64)
    for r, p in enumerate(lay.perms):
        new_index = np.argsort(p)  # old vertex v becomes new vertex new_index[v]
        ni, nj = new_index[iu], new_index[ju]
        upward = ni < nj
        weights = np.where(upward, [bit.get((int(a), int(b)), 0) for a, b in zip(ni, nj)], 0).astype(np.int64)
        code = bits @ weights
        if (~upward).any():
            code[bits[:, ~upward].any(axis=1)] = big
        relabelled[r] = code
    canonical = relabelled.min(axis=0) == codes

    cycles = np.array([_interior_cycles(p) for p in lay.perms])
    classes = []
    for col in np.flatnonzero(canonical):
        autos = np.flatnonzero(relabelled[:, col] == codes[col])
        matrix = np.zeros((n, n), dtype=np.int8)
        matrix[iu, ju] = bits[col]
        count = int(round(np.sum(len(OPS) ** cycles[autos]) / len(autos)))
        rows = tuple(tuple(int(v) for v in row) for row in matrix)
        classes.append(MatrixClass(matrix, lay.perms[autos], count, rows))
    return classes


def _popcount(x: np.ndarray) -> np.ndarray:
    count = np.zeros(len(x), dtype=np.int64)
    y = x.copy()
    while y.any():
        count += y & 1
        y >>= 1
    return count


def _interior_cycles(p: np.ndarray) -> int:
    """Number of cycles of relabeling ``p`` on the interior vertices (labelings it fixes: 3^cycles)."""
    seen: set[int] = set()
    cycles = 0
    for start in range(1, len(p) - 1):
        if start in seen:
            continue
        cycles += 1
        v = start
        while v not in seen:
            seen.add(v)
            v = int(p[v])
    return cycles


@functools.cache
def num_cells() -> int:
    """The number of distinct cells (423,624 for NAS-Bench-101's limits)."""
    return sum(c.labelled for c in matrix_classes())


def _labelings(k: int) -> np.ndarray:
    return np.array(list(itertools.product(range(len(OPS)), repeat=k)), dtype=np.int64).reshape(len(OPS) ** k, k)


def _orbit_minimal(cls: MatrixClass, labelings: np.ndarray) -> np.ndarray:
    """Which labelings (rows of op codes on the interior) are the smallest of their orbit."""
    k = labelings.shape[1]
    if k == 0 or len(cls.automorphisms) == 1:
        return np.ones(len(labelings), dtype=bool)
    weights = np.power(np.int64(len(OPS)), np.arange(k - 1, -1, -1, dtype=np.int64))
    own = labelings @ weights
    smallest = own.copy()
    for p in cls.automorphisms[1:]:
        smallest = np.minimum(smallest, labelings[:, p[1:-1] - 1] @ weights)
    return own == smallest


def _cell(cls: MatrixClass, codes: Iterable[int]) -> NB101Cell:
    return NB101Cell(cls.rows, ("input", *(OPS[c] for c in codes), "output"))


def enumerate_cells() -> Iterator[NB101Cell]:
    """Every canonical cell once: by vertex count, canonical matrix, then labeling."""
    for cls in matrix_classes():
        k = len(cls.matrix) - 2
        labelings = _labelings(k)
        for codes in labelings[_orbit_minimal(cls, labelings)].tolist():
            yield _cell(cls, codes)


@functools.cache
def _class_cdf() -> np.ndarray:
    counts = np.array([c.labelled for c in matrix_classes()], dtype=np.float64)
    return np.cumsum(counts) / counts.sum()


def sample_uniform(rng: np.random.Generator) -> NB101Cell:
    """One cell drawn uniformly from all distinct cells (exact, by rejection within a class).

    A class is drawn with probability proportional to its number of labelled cells; a labeling is
    then drawn uniformly and accepted with probability 1/|orbit| (so every orbit is equally likely)
    and replaced by the smallest member of its orbit.
    """
    classes = matrix_classes()
    cls = classes[min(int(np.searchsorted(_class_cdf(), rng.random(), side="right")), len(classes) - 1)]
    k = len(cls.matrix) - 2
    if k == 0:
        return known_canonical(_cell(cls, ()))
    while True:
        codes = rng.integers(0, len(OPS), size=k)
        images = np.array([codes[p[1:-1] - 1] for p in cls.automorphisms]).reshape(len(cls.automorphisms), k)
        orbit = np.unique(images, axis=0)
        if len(orbit) == 1 or rng.random() * len(orbit) < 1.0:
            return known_canonical(_cell(cls, orbit[0].tolist()))  # np.unique sorts rows: orbit[0] is the smallest labeling
