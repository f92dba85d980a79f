"""Binding of the NAS-Bench-Suite-Zero NB301 subset (``nb301/suite_zero_subset.json``) to :class:`DartsSpace`.

The file maps a dataset name (``cifar10``) to entries keyed by the compact genotype
``[[(input, op_index) x 8], [...]]``, each with ``idx``, ``val_accuracy`` (percent, predicted by
the NAS-Bench-301 surrogate) and zero-cost proxies as ``{"score": s, "time": t}``.

Metrics: ``val_accuracy``, every proxy's score under its own name (``params`` is in millions,
``flops`` in MFLOPs), and its measuring time as ``<proxy>_seconds``. Datasets other than
``cifar10`` (none in the shipped file) get their metrics prefixed with ``<dataset>_``.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any, Hashable

import numpy as np

from nasplug.core.errors import ArchitectureError, BenchmarkError
from nasplug.core.tables import TableBenchmark, TableCache
from nasplug.spaces.darts.genotype import PRIMITIVES, DartsArch, genotype_str, parse_genotype, to_arch

#: Where the file lives under ``$NASPLUG_BENCHMARKS``.
RELATIVE_PATH = "nb301/suite_zero_subset.json"
DEFAULT_DATASET = "cifar10"

_TABLES = TableCache()


class NB301Benchmark(TableBenchmark):
    """NAS-Bench-301 surrogate validation accuracy and proxies for the 725 genotypes of the subset.

    ``metrics``: ``val_accuracy``, the proxies' scores, then ``<proxy>_seconds``; architectures
    in any form :meth:`DartsSpace.parse` accepts, in file order."""

    space_name = "darts"

    def __init__(self, archs: list[DartsArch], indices: list[int], columns: dict[str, np.ndarray],
                 path: Path | None = None) -> None:
        super().__init__(archs, columns, path)
        self._indices = indices

    def key_of(self, arch: Hashable) -> DartsArch:
        return to_arch(arch, PRIMITIVES)

    def missing(self, key: Hashable) -> str:
        return (f"genotype {genotype_str(key)} is not in the NAS-Bench-301 subset {self.path}; it holds only "
                f"{len(self._archs)} genotypes, so sample from benchmark.architectures()")

    def index_of(self, arch: Hashable) -> int:
        """The subset's own ``idx`` of ``arch``."""
        return self._indices[self.row_of(arch)]

    def __repr__(self) -> str:
        return f"NB301Benchmark({len(self._archs)} genotypes, {len(self._metrics)} metrics, path={str(self.path)!r})"


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return np.nan
    return float(value)


def read_benchmark(path: Path) -> NB301Benchmark:
    """Read the JSON file at ``path``; no caching."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchmarkError(f"cannot read NAS-Bench-301 subset {path}: {exc}; point benchmark.path at suite_zero_subset.json") from None
    if not isinstance(data, dict) or not data or not all(isinstance(v, dict) for v in data.values()):
        raise BenchmarkError(
            f"{path} is not a NAS-Bench-Suite-Zero NB301 file (expected {{dataset: {{compact genotype: entry}}}}); "
            f"point benchmark.path at nb301/suite_zero_subset.json")
    archs: list[DartsArch] = []
    row: dict[DartsArch, int] = {}
    values: dict[str, dict[int, float]] = {}
    indices: dict[int, int] = {}
    for dataset, entries in data.items():
        prefix = "" if dataset == DEFAULT_DATASET else f"{dataset}_"
        for key, entry in entries.items():
            try:
                arch = parse_genotype(key)
            except ArchitectureError as exc:
                raise BenchmarkError(f"{path} holds an invalid genotype key in '{dataset}' ({exc})") from None
            if arch not in row:
                row[arch] = len(archs)
                archs.append(arch)
            r = row[arch]
            if not isinstance(entry, dict):
                raise BenchmarkError(f"{path}: the entry of {key} in '{dataset}' is not an object; the file is damaged")
            if "idx" in entry and r not in indices:
                try:
                    indices[r] = int(entry["idx"])
                except (TypeError, ValueError):
                    pass
            for name, value in entry.items():
                if isinstance(value, dict):
                    values.setdefault(prefix + name, {})[r] = _number(value.get("score"))
                    values.setdefault(f"{prefix}{name}_seconds", {})[r] = _number(value.get("time"))
                elif name not in ("idx", "arch") and isinstance(value, (int, float)) and not isinstance(value, bool):
                    values.setdefault(prefix + name, {})[r] = float(value)
    if not archs:
        raise BenchmarkError(f"{path} holds no genotypes; point benchmark.path at nb301/suite_zero_subset.json")
    order = sorted(values, key=lambda m: (m.endswith("_seconds"), m != "val_accuracy" and not m.endswith("val_accuracy")))
    columns = {}
    for name in order:
        column = np.full(len(archs), np.nan)
        for r, v in values[name].items():
            column[r] = v
        columns[name] = column
    return NB301Benchmark(archs, [indices.get(r, -1) for r in range(len(archs))], columns, path)


def load_benchmark(path: str | os.PathLike | None = None) -> NB301Benchmark:
    """The NB301 subset at ``path`` (file or folder) or ``$NASPLUG_BENCHMARKS``, cached per file."""
    return _TABLES.load(path, RELATIVE_PATH, "darts", read_benchmark)


def clear_cache() -> None:
    """Forget every loaded file (for tests, or after the files changed on disk)."""
    _TABLES.clear()
