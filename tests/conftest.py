"""Shared test setup: benchmark data comes from ../shared/benchmarks unless NASPLUG_BENCHMARKS says otherwise."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_default = REPO.parent / "shared" / "benchmarks"
if not os.environ.get("NASPLUG_BENCHMARKS") and _default.is_dir():
    os.environ["NASPLUG_BENCHMARKS"] = str(_default)
os.environ.setdefault("NASPLUG_DISABLE_PLUGIN_AUTOLOAD", "")


@pytest.fixture(scope="session")
def benchmarks() -> Path:
    """The benchmark folder; tests needing real tables skip with a reason when it is absent."""
    root = os.environ.get("NASPLUG_BENCHMARKS")
    if not root or not Path(root).is_dir():
        pytest.skip("benchmark data not found: set NASPLUG_BENCHMARKS to the shared/benchmarks folder")
    return Path(root)


@pytest.fixture(autouse=True)
def _single_thread_torch():
    """Tests build many tiny networks; one torch thread avoids oversubscribing 2 cores. Tests
    that never touch torch do not import it (a focused test run, e.g. per mutant, starts faster);
    in the whole suite, test modules import torch at collection, so every test gets one thread."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
