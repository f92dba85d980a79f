"""Binding of the NAS-Bench-201 table (``nb201/nb201.csv.gz``) to :class:`NB201Space`.

The table is read with the stdlib ``csv`` + ``gzip`` modules (pandas is not a dependency) into one
float array per numeric column, rows sorted by the official index. If ``latency_ms.csv.gz`` lies
next to the table, its device columns are merged by ``arch_str`` as ``latency_<device>`` metrics.
Loaded tables are cached per resolved path, so repeated loads (one per run or objective) are free.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Hashable

import numpy as np

from nasplug.core.errors import ArchitectureError, BenchmarkError
from nasplug.core.interfaces.benchmark import BENCHMARKS_ENV
from nasplug.core.tables import TableBenchmark, TableCache, float_column, read_text
from nasplug.spaces.nb201.space import NB201Arch, arch_str, parse_arch_str, to_arch

#: Where the table lives under ``$NASPLUG_BENCHMARKS``.
RELATIVE_PATH = "nb201/nb201.csv.gz"
#: The optional latency table, looked for next to the main table.
LATENCY_FILE = "latency_ms.csv.gz"
#: Columns that identify a row rather than measure it.
KEY_COLUMNS = ("index", "arch_str")

_TABLES = TableCache()


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV file, gzip-compressed or plain (sniffed from the magic bytes)."""
    text = read_text(path, "NAS-Bench-201 table", "point benchmark.path at a valid nb201.csv.gz")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise BenchmarkError(f"{path} is empty; point benchmark.path at a valid nb201.csv.gz")
    return [h.strip() for h in rows[0]], [r for r in rows[1:] if r]


def _numeric_columns(path: Path, header: list[str], rows: list[list[str]]) -> tuple[list[str], dict[str, np.ndarray]]:
    """The ``arch_str`` column and every numeric non-key column of a table."""
    if "arch_str" not in header:
        raise BenchmarkError(
            f"{path} is not a NAS-Bench-201 table (its header has no 'arch_str' column); "
            f"point benchmark.path at nb201.csv.gz")
    width = len(header)
    bad = next((i for i, r in enumerate(rows) if len(r) != width), None)
    if bad is not None:
        raise BenchmarkError(f"{path} row {bad + 2} has {len(rows[bad])} fields instead of {width}; the file is damaged")
    columns = list(zip(*rows)) if rows else [() for _ in header]
    keys = list(columns[header.index("arch_str")])
    numeric: dict[str, np.ndarray] = {}
    for name, values in zip(header, columns):
        if name in KEY_COLUMNS:
            continue
        array = float_column(values)
        if array is not None:
            numeric[name] = array
    return keys, numeric


class NB201Benchmark(TableBenchmark):
    """NAS-Bench-201 metrics for all 15,625 cells (accuracies in percent, params in millions).

    ``metrics``: every numeric column except ``index``/``arch_str``, then ``latency_<device>``
    columns. Architectures are 6-tuples or ``arch_str`` strings; table order is ascending
    official index. Queries charge no simulated time (the table has no training-time column)."""

    space_name = "nb201"
    #: Whether this is the compact table shipped with the package (see ``load_benchmark``).
    embedded = False

    def __init__(self, archs: list[NB201Arch], indices: np.ndarray, columns: dict[str, np.ndarray],
                 path: Path | None = None) -> None:
        super().__init__(archs, columns, path)
        self._indices = indices

    def key_of(self, arch: Hashable) -> NB201Arch:
        return to_arch(arch)

    def missing(self, key: Hashable) -> str:
        return f"architecture {arch_str(key)} is not in the NAS-Bench-201 table {self.path}; the file may be incomplete"

    def index_of(self, arch: Hashable) -> int:
        """The official NAS-Bench-201 index of ``arch``."""
        return int(self._indices[self.row_of(arch)])


def read_benchmark(path: Path) -> NB201Benchmark:
    """Read the table at ``path`` (and ``latency_ms.csv.gz`` beside it, if any); no caching."""
    header, rows = _read_csv(path)
    keys, columns = _numeric_columns(path, header, rows)
    if not keys:
        raise BenchmarkError(f"{path} has no rows; point benchmark.path at a valid nb201.csv.gz")
    try:
        archs = [parse_arch_str(k) for k in keys]
    except ArchitectureError as exc:
        raise BenchmarkError(f"{path} holds an invalid arch_str ({exc})") from None
    if "index" in header:
        index_values = float_column([r[header.index("index")] for r in rows])
        if index_values is None or np.isnan(index_values).any():
            raise BenchmarkError(f"{path} has a non-numeric 'index' column; the file is damaged")
        indices = index_values.astype(np.int64)
    else:
        indices = np.arange(len(rows), dtype=np.int64)
    order = np.argsort(indices, kind="stable")
    if not np.array_equal(order, np.arange(len(order))):
        archs = [archs[i] for i in order]
        keys = [keys[i] for i in order]
        indices = indices[order]
        columns = {name: col[order] for name, col in columns.items()}

    latency = path.parent / LATENCY_FILE
    if latency.is_file():
        columns.update(_read_latency(latency, keys))
    return NB201Benchmark(archs, indices, columns, path)


def _read_latency(path: Path, keys: list[str]) -> dict[str, np.ndarray]:
    """The latency columns as ``latency_<device>``, aligned with ``keys`` (NaN where absent)."""
    header, rows = _read_csv(path)
    lat_keys, lat_columns = _numeric_columns(path, header, rows)
    position = {k: i for i, k in enumerate(lat_keys)}
    take = np.array([position.get(k, -1) for k in keys], dtype=np.intp)
    missing = take < 0
    out: dict[str, np.ndarray] = {}
    for name, col in lat_columns.items():
        aligned = col[np.where(missing, 0, take)]
        aligned[missing] = np.nan
        out[f"latency_{name}"] = aligned
    return out


def read_embedded() -> NB201Benchmark:
    """The compact table shipped with the package (see :mod:`nasplug.spaces.nb201.compact`)."""
    from nasplug.spaces.nb201.compact import COMPACT_FILE, read_compact

    archs, indices, columns = read_compact(COMPACT_FILE)
    table = NB201Benchmark(archs, indices, columns, COMPACT_FILE)
    table.embedded = True
    return table


def load_benchmark(path: str | os.PathLike | None = None) -> NB201Benchmark:
    """The NAS-Bench-201 benchmark at ``path`` (file or folder) or ``$NASPLUG_BENCHMARKS``, cached;
    with neither, the compact table shipped with the package (no latency columns; accuracies to
    0.01 points), with a one-line notice saying so."""
    if path is None and not os.environ.get(BENCHMARKS_ENV):
        return _TABLES.load(_embedded_path(), "", "nb201", _read_embedded_noting)
    return _TABLES.load(path, RELATIVE_PATH, "nb201", read_benchmark)


def _embedded_path() -> Path:
    from nasplug.spaces.nb201.compact import COMPACT_FILE

    return COMPACT_FILE


def _read_embedded_noting(_path: Path) -> NB201Benchmark:
    import sys

    print(f"nasplug: NAS-Bench-201 from the compact table shipped with nasplug-spaces ({_path.name}); "
          f"set {BENCHMARKS_ENV} or benchmark.path for the full table", file=sys.stderr)
    return read_embedded()


def clear_cache() -> None:
    """Forget every loaded table (for tests, or after the files changed on disk)."""
    _TABLES.clear()
