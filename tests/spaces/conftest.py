"""Fixtures for the search-space plugin tests: the space and the shared benchmark data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nasplug.spaces.nb201 import NB201Space


@pytest.fixture(scope="session")
def nb201_space() -> NB201Space:
    return NB201Space()


@pytest.fixture(scope="session")
def benchmarks_root() -> Path:
    """``$NASPLUG_BENCHMARKS``; the test is skipped when it is unset or lacks the NB201 table."""
    root = os.environ.get("NASPLUG_BENCHMARKS")
    if not root:
        pytest.skip("NASPLUG_BENCHMARKS is not set; point it at shared/benchmarks to run benchmark tests")
    if not (Path(root) / "nb201" / "nb201.csv.gz").is_file():
        pytest.skip(f"{root} has no nb201/nb201.csv.gz")
    return Path(root)


@pytest.fixture(scope="session")
def nb201_bench(nb201_space: NB201Space, benchmarks_root: Path):
    return nb201_space.load_benchmark(str(benchmarks_root))
