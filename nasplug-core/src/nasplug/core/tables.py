"""Building blocks for benchmarks that are lookup tables (one float column per metric).

Every tabular benchmark of a space plugin needs the same parts: read a (possibly gzipped) file
with errors that name the fix, turn text columns into floats, look rows up by architecture with a
fast path for the space's own objects, and cache loaded tables per file. They live here once;
a plugin supplies only how its file is parsed and how an architecture becomes a row key.
"""

from __future__ import annotations

import gzip
import os
import threading
import zlib
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence, TypeVar

import numpy as np

from nasplug.core.errors import ArchitectureError, BenchmarkError
from nasplug.core.interfaces.benchmark import Benchmark, resolve_benchmark_file

T = TypeVar("T")


def read_text(path: Path, what: str, fix: str) -> str:
    """The file's text, gunzipped when it starts with the gzip magic bytes. ``what`` names the
    table and ``fix`` says what to do, for the one-line ``BenchmarkError`` on failure."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:  # a damaged gzip raises any of these
        raise BenchmarkError(f"cannot read {what} {path}: {exc}; {fix}") from None


def float_column(values: Sequence[str]) -> np.ndarray | None:
    """A text column as float64 (blank -> NaN), or ``None`` when it is not numeric."""
    try:
        return np.fromiter(map(float, values), dtype=np.float64, count=len(values))
    except ValueError:
        pass  # blanks (unmeasured) or text: take the slow path below
    try:
        return np.array([float(v) if v.strip() else np.nan for v in values], dtype=np.float64)
    except ValueError:
        return None


class TableCache:
    """Loaded tables per resolved file (and kind), so repeated loads (one per run or objective)
    are free; thread-safe."""

    def __init__(self) -> None:
        self._tables: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def load(self, path: str | os.PathLike | None, relative: str, space: str, reader: Callable[[Path], T],
             kind: str = "") -> T:
        """The table at ``path`` (file or folder) or ``$NASPLUG_BENCHMARKS/relative``, read once."""
        resolved = resolve_benchmark_file(path, relative, space=space).resolve()
        with self._lock:
            table = self._tables.get((kind, resolved))
            if table is None:
                table = self._tables[(kind, resolved)] = reader(resolved)
        return table

    def clear(self) -> None:
        """Forget every loaded table (for tests, or after the files changed on disk)."""
        with self._lock:
            self._tables.clear()


class TableBenchmark(Benchmark):
    """A benchmark held as float columns aligned with a list of architectures.

    Subclasses say how any accepted form of an architecture becomes a row key (:meth:`key_of`)
    and how the error for an architecture missing from the table reads (:meth:`missing`).
    Queries never charge simulated cost (the tables carry no training time).
    """

    def __init__(self, archs: list[Hashable], columns: dict[str, np.ndarray], path: Path | None = None,
                 keys: Sequence[Hashable] | None = None) -> None:
        self._archs = archs
        self._columns = columns
        self._metrics = tuple(columns)
        self._row = {k: i for i, k in enumerate(archs if keys is None else keys)}
        self.path = path

    def key_of(self, arch: Any) -> Hashable:
        """The row key of ``arch`` in any form the space accepts (default: ``arch`` itself)."""
        return arch

    def missing(self, key: Hashable) -> str:
        """The message for an architecture that is not in the table."""
        return f"architecture {key} is not in the {self.space_name} table {self.path}; query one of benchmark.architectures()"

    def row_of(self, arch: Any) -> int:
        """The row index of ``arch``; ``ArchitectureError`` when the table does not hold it."""
        try:
            return self._row[arch]  # fast path: the space's own objects
        except (KeyError, TypeError):
            pass
        key = self.key_of(arch)
        try:
            return self._row[key]
        except KeyError:
            raise ArchitectureError(self.missing(key)) from None

    @property
    def metrics(self) -> tuple[str, ...]:
        return self._metrics

    def query(self, arch: Hashable, metric: str) -> float:
        """``metric`` of ``arch``; NaN where it was not measured."""
        self.check_metric(metric)
        return float(self._columns[metric][self.row_of(arch)])

    def query_many(self, archs: Sequence[Hashable], metric: str) -> np.ndarray:
        """``metric`` of many architectures as a float array (one fancy-indexing lookup)."""
        self.check_metric(metric)
        rows = np.fromiter((self.row_of(a) for a in archs), dtype=np.intp, count=len(archs))
        return self._columns[metric][rows].copy()

    def column(self, metric: str) -> np.ndarray:
        """The whole column of ``metric`` in table order (a read-only view)."""
        self.check_metric(metric)
        view = self._columns[metric].view()
        view.setflags(write=False)
        return view

    def architectures(self) -> list[Hashable]:
        """Every architecture, in table order."""
        return list(self._archs)

    def __len__(self) -> int:
        return len(self._archs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._archs)} archs, {len(self._metrics)} metrics, path={str(self.path)!r})"
