"""Binding of the NAS-Bench-Suite-Zero NB101 subset (``nb101/suite_zero_subset.csv``) to :class:`NB101Space`.

Each row holds a raw 7x7 spec (``adjacency_7x7_rowmajor`` + ``ops``), its 108-epoch
``val_accuracy`` (percent; one of NAS-Bench-101's three training runs) and zero-cost proxies,
``params`` (millions) and ``flops`` (millions). Every numeric column is a metric.

The 500 rows hold 292 distinct cells: random specs often prune to the same small cell, and such
repeats carry other training runs and proxy draws. A cell's metric is therefore the mean over its
rows (NaN-aware); :meth:`NB101Benchmark.rows` gives the rows themselves, each with the cell in the
table's own vertex order (whose network has exactly that row's ``params``).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Hashable, NamedTuple

import numpy as np

from nasplug.core.errors import ArchitectureError, BenchmarkError
from nasplug.core.tables import TableBenchmark, TableCache, float_column, read_text
from nasplug.spaces.nb101.cell import NB101Cell, canonical_cell, cell_id, make_cell, to_cell

#: Where the table lives under ``$NASPLUG_BENCHMARKS``.
RELATIVE_PATH = "nb101/suite_zero_subset.csv"
MATRIX_COLUMN = "adjacency_7x7_rowmajor"
OPS_COLUMN = "ops"

_TABLES = TableCache()


class Row(NamedTuple):
    """One table row: the cell in the table's vertex order and the row's own metric values."""

    cell: NB101Cell
    values: dict[str, float]


class NB101Benchmark(TableBenchmark):
    """NAS-Bench-101 validation accuracy and proxies for the cells of the Suite-Zero subset.

    ``metrics``: every numeric column of the table, in table order; a cell's value is the mean
    over its rows. ``architectures()``: the distinct cells, in order of first appearance, each in
    its first row's vertex order; any form :meth:`NB101Space.parse` accepts is looked up by its
    canonical id."""

    space_name = "nb101"

    def __init__(self, cells: list[NB101Cell], columns: dict[str, np.ndarray], path: Path | None = None) -> None:
        self._row_cells = cells
        self._row_columns = columns
        keys = [cell_id(canonical_cell(c)) for c in cells]
        group: dict[str, int] = {}
        archs: list[NB101Cell] = []
        for key, cell in zip(keys, cells):
            if key not in group:
                group[key] = len(archs)
                archs.append(cell)
        group_of_row = np.array([group[k] for k in keys], dtype=np.intp)
        self._members = [np.flatnonzero(group_of_row == g) for g in range(len(archs))]
        means = {name: _group_mean(col, group_of_row, len(archs)) for name, col in columns.items()}
        super().__init__(archs, means, path, keys=list(group))

    def key_of(self, arch: Any) -> str:
        return cell_id(canonical_cell(to_cell(arch)))

    def row_of(self, arch: Any) -> int:
        """The cell's index; always through the canonical id (isomorphic cells share a row)."""
        return super().row_of(self.key_of(arch))

    def missing(self, key: Hashable) -> str:
        return (f"cell {key} is not in the NAS-Bench-101 subset {self.path}; it holds only {len(self._archs)} "
                f"cells, so sample from benchmark.architectures()")

    def rows(self) -> list[Row]:
        """Every table row in file order, with its cell (table vertex order) and its own values."""
        return [Row(cell, {m: float(self._row_columns[m][i]) for m in self._metrics})
                for i, cell in enumerate(self._row_cells)]

    def row_count(self, arch: Hashable) -> int:
        """How many table rows were averaged for ``arch``."""
        return len(self._members[self.row_of(arch)])

    def __repr__(self) -> str:
        return (f"NB101Benchmark({len(self._archs)} cells from {len(self._row_cells)} rows, "
                f"{len(self._metrics)} metrics, path={str(self.path)!r})")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "rows": len(self._row_cells)}


def _group_mean(column: np.ndarray, group_of_row: np.ndarray, groups: int) -> np.ndarray:
    """NaN-aware mean of ``column`` per group."""
    finite = np.isfinite(column)
    sums = np.bincount(group_of_row, weights=np.where(finite, column, 0.0), minlength=groups)
    counts = np.bincount(group_of_row, weights=finite.astype(float), minlength=groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def read_benchmark(path: Path) -> NB101Benchmark:
    """Read the table at ``path`` (plain or gzip CSV); no caching."""
    rows = list(csv.reader(io.StringIO(read_text(
        path, "NAS-Bench-101 table", "point benchmark.path at suite_zero_subset.csv"))))
    if not rows:
        raise BenchmarkError(f"{path} is empty; point benchmark.path at the NB101 suite_zero_subset.csv")
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if r]
    if MATRIX_COLUMN not in header or OPS_COLUMN not in header:
        raise BenchmarkError(
            f"{path} is not a NAS-Bench-101 table (its header lacks the '{MATRIX_COLUMN}' and '{OPS_COLUMN}' columns); "
            "point benchmark.path at nb101/suite_zero_subset.csv")
    if not body:
        raise BenchmarkError(f"{path} has no rows; point benchmark.path at the NB101 suite_zero_subset.csv")
    width = len(header)
    bad = next((i for i, r in enumerate(body) if len(r) != width), None)
    if bad is not None:
        raise BenchmarkError(f"{path} row {bad + 2} has {len(body[bad])} fields instead of {width}; the file is damaged")
    mi, oi = header.index(MATRIX_COLUMN), header.index(OPS_COLUMN)
    cells = []
    for line, r in enumerate(body, start=2):
        ops = r[oi].split("|")
        try:
            cells.append(make_cell(_matrix(r[mi], len(ops)), ops))
        except (ArchitectureError, ValueError) as exc:
            raise BenchmarkError(f"{path} row {line} is not a valid NAS-Bench-101 cell ({exc})") from None
    columns: dict[str, np.ndarray] = {}
    for c, name in enumerate(header):
        if c in (mi, oi):
            continue
        values = float_column([r[c] for r in body])
        if values is not None:
            columns[name] = values
    return NB101Benchmark(cells, columns, path)


def _matrix(bits: str, n: int) -> np.ndarray:
    bits = bits.strip()
    if len(bits) != n * n or set(bits) - {"0", "1"}:
        raise ValueError(f"adjacency '{bits}' is not {n * n} bits for {n} ops")
    return (np.frombuffer(bits.encode(), dtype=np.uint8) - ord("0")).reshape(n, n).astype(np.int8)


def load_benchmark(path: str | os.PathLike | None = None) -> NB101Benchmark:
    """The NB101 subset at ``path`` (file or folder) or ``$NASPLUG_BENCHMARKS``, cached per file."""
    return _TABLES.load(path, RELATIVE_PATH, "nb101", read_benchmark)


def clear_cache() -> None:
    """Forget every loaded table (for tests, or after the files changed on disk)."""
    _TABLES.clear()
