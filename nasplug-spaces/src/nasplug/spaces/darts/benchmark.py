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
import threading
from pathlib import Path
from typing import Any, Hashable, Sequence

import numpy as np

from nasplug.core.errors import ArchitectureError, BenchmarkError
from nasplug.core.interfaces.benchmark import Benchmark, resolve_benchmark_file
from nasplug.spaces.darts.genotype import PRIMITIVES, DartsArch, genotype_str, parse_genotype, to_arch

#: Where the file lives under ``$NASPLUG_BENCHMARKS``.
RELATIVE_PATH = "nb301/suite_zero_subset.json"
DEFAULT_DATASET = "cifar10"

_CACHE: dict[Path, "NB301Benchmark"] = {}
_LOCK = threading.Lock()


class NB301Benchmark(Benchmark):
    """NAS-Bench-301 surrogate validation accuracy and proxies for the 725 genotypes of the subset."""

    space_name = "darts"

    def __init__(self, archs: list[DartsArch], indices: list[int], columns: dict[str, np.ndarray],
                 path: Path | None = None) -> None:
        self._archs = archs
        self._indices = indices
        self._columns = columns
        self._metrics = tuple(columns)
        self._row = {a: i for i, a in enumerate(archs)}
        self.path = path

    @property
    def metrics(self) -> tuple[str, ...]:
        """``val_accuracy``, the proxies' scores, then ``<proxy>_seconds``."""
        return self._metrics

    def _row_of(self, arch: Any) -> int:
        key = arch if isinstance(arch, DartsArch) and arch in self._row else to_arch(arch, PRIMITIVES)
        try:
            return self._row[key]
        except KeyError:
            raise ArchitectureError(
                f"genotype {genotype_str(key)} is not in the NAS-Bench-301 subset {self.path}; it holds only "
                f"{len(self._archs)} genotypes, so sample from benchmark.architectures()") from None

    def query(self, arch: Hashable, metric: str) -> float:
        """``metric`` of ``arch`` (any form :meth:`DartsSpace.parse` accepts); NaN where not measured."""
        self.check_metric(metric)
        return float(self._columns[metric][self._row_of(arch)])

    def query_many(self, archs: Sequence[Hashable], metric: str) -> np.ndarray:
        self.check_metric(metric)
        rows = np.fromiter((self._row_of(a) for a in archs), dtype=np.intp, count=len(archs))
        return self._columns[metric][rows].copy()

    def architectures(self) -> list[Hashable]:
        """Every genotype, in file order."""
        return list(self._archs)

    def index_of(self, arch: Hashable) -> int:
        """The subset's own ``idx`` of ``arch``."""
        return self._indices[self._row_of(arch)]

    def __len__(self) -> int:
        return len(self._archs)

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
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
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
    resolved = resolve_benchmark_file(path, RELATIVE_PATH, space="darts").resolve()
    with _LOCK:
        cached = _CACHE.get(resolved)
        if cached is None:
            cached = _CACHE[resolved] = read_benchmark(resolved)
    return cached


def clear_cache() -> None:
    """Forget every loaded file (for tests, or after the files changed on disk)."""
    with _LOCK:
        _CACHE.clear()
