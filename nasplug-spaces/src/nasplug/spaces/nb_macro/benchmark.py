"""Binding of the NAS-Bench-Macro table (``macro/nas_bench_macro_cifar10.json``) to
:class:`~nasplug.spaces.nb_macro.NBMacroSpace`.

The JSON maps every 8-digit key to ``test_acc`` (3 CIFAR-10 runs, %), ``mean_acc``, ``std``,
``params`` and ``flops`` (multiply-accumulates at 32x32). Metrics: ``mean_acc``, ``std``,
``test_acc_0``..``test_acc_2``, ``params``, ``flops``. Rows follow the space's enumeration order.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Hashable

import numpy as np

from nasplug.core.errors import ArchitectureError, BenchmarkError
from nasplug.core.tables import TableBenchmark, TableCache
from nasplug.spaces.nb_macro.space import N_LAYERS, to_nb_macro

RELATIVE_PATH = "macro/nas_bench_macro_cifar10.json"
METRICS: tuple[str, ...] = ("mean_acc", "std", "test_acc_0", "test_acc_1", "test_acc_2", "params", "flops")

_TABLES = TableCache()


class NBMacroBenchmark(TableBenchmark):
    """NAS-Bench-Macro CIFAR-10 results for all 6,561 architectures (8-tuples or 8-digit keys)."""

    space_name = "nb_macro"

    def key_of(self, arch: Hashable) -> tuple[int, ...]:
        return to_nb_macro(arch)

    def missing(self, key: Hashable) -> str:
        return (f"architecture {''.join(map(str, key))} is not in the NAS-Bench-Macro table {self.path}; "
                f"the file may be incomplete")


def read_benchmark(path: Path) -> NBMacroBenchmark:
    """Read the JSON table; no caching."""
    try:
        data = json.loads(path.read_text())
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
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
    return _TABLES.load(path, RELATIVE_PATH, "nb_macro", read_benchmark)


def clear_cache() -> None:
    """Forget every loaded table."""
    _TABLES.clear()


__all__ = ["NBMacroBenchmark", "load_benchmark", "read_benchmark", "clear_cache", "METRICS", "N_LAYERS"]
