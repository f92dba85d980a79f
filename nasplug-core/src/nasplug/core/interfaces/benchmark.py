"""Benchmark: a table of measured metrics for architectures of one space (e.g. NAS-Bench-201)."""

from __future__ import annotations

import abc
import os
from pathlib import Path
from typing import Any, Hashable, Sequence

import numpy as np

from nasplug.core.errors import BenchmarkError

#: Environment variable naming the folder laid out like ``shared/benchmarks``.
BENCHMARKS_ENV = "NASPLUG_BENCHMARKS"


def resolve_benchmark_file(path: str | os.PathLike | None, relative: str, *, space: str) -> Path:
    """The benchmark file to read: ``path`` itself (a file, or a folder holding ``relative``), or
    ``$NASPLUG_BENCHMARKS/relative``. Raises ``BenchmarkError`` naming the fix when it is missing."""
    if path is None:
        root = os.environ.get(BENCHMARKS_ENV)
        if not root:
            raise BenchmarkError(
                f"no benchmark data for {space}: set {BENCHMARKS_ENV} to the benchmarks folder or give benchmark.path in the config")
        candidate = Path(root) / relative
    else:
        candidate = Path(path).expanduser()
        if candidate.is_dir():
            nested = candidate / relative
            candidate = nested if nested.exists() else candidate / Path(relative).name
    if not candidate.is_file():
        raise BenchmarkError(
            f"benchmark file for {space} not found at {candidate}; point benchmark.path or {BENCHMARKS_ENV} at a folder holding {relative}")
    return candidate


class Benchmark(abc.ABC):
    """Measured results for architectures of one space; each query may charge simulated cost."""

    #: The space's name, used in messages.
    space_name: str = ""
    #: Whether ``cost`` reports simulated training time (so ``search.seconds`` budgets work).
    has_cost: bool = False

    @property
    @abc.abstractmethod
    def metrics(self) -> tuple[str, ...]:
        """The metric names ``query`` accepts."""

    @abc.abstractmethod
    def query(self, arch: Hashable, metric: str) -> float:
        """The metric of one architecture; ``BenchmarkError`` for an unknown metric, NaN if unmeasured."""

    def query_many(self, archs: Sequence[Hashable], metric: str) -> np.ndarray:
        """The metric of many architectures as a float array."""
        return np.array([self.query(a, metric) for a in archs], dtype=float)

    def cost(self, arch: Hashable, metric: str) -> float:
        """Simulated seconds that obtaining ``metric`` for ``arch`` would take (0 when unknown)."""
        return 0.0

    @abc.abstractmethod
    def architectures(self) -> list[Hashable]:
        """Every architecture the table covers, in the table's order."""

    def check_metric(self, metric: str) -> None:
        """Raise ``BenchmarkError`` naming the available metrics if ``metric`` is unknown."""
        if metric not in self.metrics:
            import difflib
            close = difflib.get_close_matches(metric, self.metrics, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "available: " + ", ".join(self.metrics)
            raise BenchmarkError(f"benchmark {self.space_name} has no metric '{metric}'; {hint}")

    def describe(self) -> dict[str, Any]:
        return {"space": self.space_name, "metrics": list(self.metrics), "size": len(self.architectures())}
