"""Binding of the NAS-Bench-Macro table (``macro/nas_bench_macro_cifar10.json``) to
:class:`~nasplug.spaces.nb_macro.NBMacroSpace`.

The JSON maps every 8-digit key to ``test_acc`` (3 CIFAR-10 runs, %), ``mean_acc``, ``std``,
``params`` and ``flops`` (multiply-accumulates at 32x32). Metrics: ``mean_acc``, ``std``,
``test_acc_0``..``test_acc_2``, ``params``, ``flops``. Rows follow the space's enumeration order.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Hashable, Sequence

import numpy as np

from nasplug.core.errors import ArchitectureError, BenchmarkError
from nasplug.core.interfaces.benchmark import Benchmark, resolve_benchmark_file
from nasplug.spaces.nb_macro.space import N_LAYERS, to_nb_macro

RELATIVE_PATH = "macro/nas_bench_macro_cifar10.json"
METRICS: tuple[str, ...] = ("mean_acc", "std", "test_acc_0", "test_acc_1", "test_acc_2", "params", "flops")

_CACHE: dict[Path, "NBMacroBenchmark"] = {}
_LOCK = threading.Lock()


class NBMacroBenchmark(Benchmark):
    """NAS-Bench-Macro CIFAR-10 results for all 6,561 architectures."""

    space_name = "nb_macro"

    def __init__(self, archs: list[tuple[int, ...]], columns: dict[str, np.ndarray], path: Path | None = None) -> None:
        self._archs = archs
        self._columns = columns
        self._row = {a: i for i, a in enumerate(archs)}
        self.path = path

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self._columns)

    def _row_of(self, arch: Any) -> int:
        row = self._row.get(arch) if isinstance(arch, tuple) else None
        if row is not None:
            return row
        key = to_nb_macro(arch)
        try:
            return self._row[key]
        except KeyError:
            raise ArchitectureError(
                f"architecture {''.join(map(str, key))} is not in the NAS-Bench-Macro table {self.path}; "
                f"the file may be incomplete") from None

    def query(self, arch: Hashable, metric: str) -> float:
        """``metric`` of ``arch`` (an 8-tuple or its 8-digit key)."""
        self.check_metric(metric)
        return float(self._columns[metric][self._row_of(arch)])

    def query_many(self, archs: Sequence[Hashable], metric: str) -> np.ndarray:
        self.check_metric(metric)
        rows = np.fromiter((self._row_of(a) for a in archs), dtype=np.intp, count=len(archs))
        return self._columns[metric][rows].copy()

    def column(self, metric: str) -> np.ndarray:
        """The whole column of ``metric`` in table order (a read-only view)."""
        self.check_metric(metric)
        view = self._columns[metric].view()
        view.setflags(write=False)
        return view

    def cost(self, arch: Hashable, metric: str) -> float:
        """Always 0.0: the table has no training-time column."""
        return 0.0

    def architectures(self) -> list[Hashable]:
        return list(self._archs)

    def __len__(self) -> int:
        return len(self._archs)

    def __repr__(self) -> str:
        return f"NBMacroBenchmark({len(self._archs)} archs, {len(self._columns)} metrics, path={str(self.path)!r})"


def read_benchmark(path: Path) -> NBMacroBenchmark:
    """Read the JSON table; no caching."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchmarkError(
            f"cannot read NAS-Bench-Macro table {path}: {exc}; point benchmark.path at nas_bench_macro_cifar10.json") from None
    if not isinstance(data, dict) or not data:
        raise BenchmarkError(f"{path} is not a NAS-Bench-Macro table (a JSON object keyed by 8-digit strings); "
                             f"point benchmark.path at nas_bench_macro_cifar10.json")
    rows: list[tuple[tuple[int, ...], list[float]]] = []
    for key, record in data.items():
        try:
            arch = to_nb_macro(key)
            runs = [float(v) for v in record["test_acc"]]
            if len(runs) != 3:
                raise ValueError(f"{len(runs)} runs instead of 3")
            values = [float(record["mean_acc"]), float(record["std"]), *runs, float(record["params"]), float(record["flops"])]
        except (ArchitectureError, KeyError, TypeError, ValueError) as exc:
            raise BenchmarkError(
                f"{path} entry {str(key)[:20]!r} is not a NAS-Bench-Macro record ({exc}); the file is damaged") from None
        rows.append((arch, values))
    rows.sort(key=lambda r: r[0])
    archs = [a for a, _ in rows]
    matrix = np.array([v for _, v in rows], dtype=np.float64).reshape(len(rows), len(METRICS))
    return NBMacroBenchmark(archs, {m: matrix[:, i].copy() for i, m in enumerate(METRICS)}, path)


def load_benchmark(path: str | os.PathLike | None = None) -> NBMacroBenchmark:
    """The table at ``path`` (file or folder) or under ``$NASPLUG_BENCHMARKS``, cached."""
    resolved = resolve_benchmark_file(path, RELATIVE_PATH, space="nb_macro").resolve()
    with _LOCK:
        cached = _CACHE.get(resolved)
        if cached is None:
            cached = _CACHE[resolved] = read_benchmark(resolved)
    return cached


def clear_cache() -> None:
    """Forget every loaded table."""
    with _LOCK:
        _CACHE.clear()


__all__ = ["NBMacroBenchmark", "load_benchmark", "read_benchmark", "clear_cache", "METRICS", "N_LAYERS"]
