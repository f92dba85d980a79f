"""Shared test setup: benchmark data comes from ../shared/benchmarks unless NASPLUG_BENCHMARKS says otherwise."""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path
from typing import Any

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


# --- small real CIFAR-10 subsets for tests that train (one-shot) ---------------------------
@pytest.fixture(autouse=True, scope="session")
def _private_image_cache(tmp_path_factory):
    """Decoded training images are cached under the session's temporary folder, not ~/.cache."""
    previous = os.environ.get("NASPLUG_CACHE")
    os.environ["NASPLUG_CACHE"] = str(tmp_path_factory.getbasetemp() / "nasplug-cache")
    yield
    if previous is None:
        os.environ.pop("NASPLUG_CACHE", None)
    else:
        os.environ["NASPLUG_CACHE"] = previous


def cifar_subset(benchmarks: Path, dest: Path, per_class: int, parts=("train",), wrap: str = "") -> Path:
    """A zip in CIFAR-10's layout holding the first ``per_class`` images of each class."""
    source = benchmarks / "images" / "cifar10_jpeg.zip"
    if not source.is_file():
        pytest.skip("images/cifar10_jpeg.zip not found in the benchmark data")
    counts: dict[tuple[str, str], int] = {}
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(dest, "w") as out:
        for name in sorted(src.namelist()):
            p = Path(name).parts
            if name.endswith("/") or len(p) != 3 or p[0] not in parts:
                continue
            key = (p[0], p[1])
            if counts.get(key, 0) >= per_class:
                continue
            counts[key] = counts.get(key, 0) + 1
            out.writestr(f"{wrap}{name}", src.read(name))
    return dest


@pytest.fixture(scope="session")
def tiny_zip(benchmarks, tmp_path_factory) -> Path:
    """64 train images per class (640) and 8 test images per class, real CIFAR-10 JPEGs."""
    return cifar_subset(benchmarks, tmp_path_factory.mktemp("data") / "cifar_tiny.zip", 64, ("train", "test"))


@pytest.fixture
def kill_after_epochs():
    """``kill(config, store, epochs, pause=0.0)``: start ``nasplug run config --store store`` in a
    subprocess, wait until ``store`` holds ``epochs`` training epochs (then ``pause`` seconds
    more, to land mid-epoch) and kill it with SIGKILL; returns the epochs stored by then."""
    import signal
    import sqlite3
    import subprocess
    import time

    def epochs_done(db: Path) -> int:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
                return con.execute("SELECT COUNT(*) FROM epochs").fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    def kill(config: Path, store: Path, epochs: int, pause: float = 0.0) -> int:
        proc = subprocess.Popen([sys.executable, "-m", "nasplug.core", "run", str(config), "--store", str(store)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 180
        while epochs_done(store) < epochs and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(pause)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return epochs_done(store)

    return kill


@pytest.fixture
def bench_module(monkeypatch, tmp_path):
    """``load(name)``: the bench script ``bench/<name>.py`` as a module whose results and work
    folders are under ``tmp_path`` (``results/`` and ``bench/work/``), so a test can run it."""
    import importlib.util

    bench_dir = Path(__file__).resolve().parents[1] / "bench"
    monkeypatch.syspath_prepend(str(bench_dir))

    def load(name: str) -> Any:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", bench_dir / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        import _common

        monkeypatch.setattr(_common, "RESULTS", tmp_path / "results")
        monkeypatch.setattr(_common, "ROOT", tmp_path)
        for attribute, value in (("RESULTS", tmp_path / "results"), ("ROOT", tmp_path)):
            if hasattr(module, attribute):
                monkeypatch.setattr(module, attribute, value)
        return module

    return load
