"""Small module-level tasks for executor conformance checks and benchmarks. Worker processes
import this module to run them, so it imports nothing heavy."""

from __future__ import annotations

import os
import signal
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from nasplug.core.interfaces.proxy import Proxy
from nasplug.core.seeding import derive_rng


def square(x: int) -> int:
    return x * x


def slow_square(x: int) -> int:
    """``x * x`` after a pause that varies with ``x``, so tasks finish out of submission order."""
    time.sleep(0.002 * ((7 * x) % 5))
    return x * x


def sleepy_square(x: int) -> int:
    """``x * x`` after 20 ms of sleep: a task that needs no CPU, to measure an executor's
    parallelism apart from how much CPU a shared machine gives it."""
    time.sleep(0.02)
    return x * x


def seeded_draw(item: tuple[int, str]) -> float:
    """A random number determined by the item only (run seed, key), never by worker state."""
    seed, key = item
    return float(derive_rng(seed, key).random())


def fail_on(item: tuple[int, bool]) -> int:
    value, fail = item
    if fail:
        raise ValueError(f"bad item {value}")
    return value


def torch_threads(_item: Any) -> int:
    """The worker's torch thread count: torch's own setting once imported, else the OpenMP
    variable torch will read when it is (importing torch here would cost a second per worker)."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else int(os.environ.get("OMP_NUM_THREADS", "0"))


class Flaky:
    """Raises ``OSError`` the first time it sees an item (remembered in files under ``folder``,
    shared by every worker), then succeeds: the shape of a transient failure."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = str(folder)

    def __call__(self, item: int) -> int:
        marker = Path(self.folder) / f"seen-{item}"
        if not marker.exists():
            marker.touch()
            raise OSError(f"transient failure on {item}")
        return item


class KillWorker:
    """Kills its own worker process (``SIGKILL``) on item ``target``: ``times`` times in all
    (counted in files under ``folder``), or on every attempt when ``times`` is ``None``."""

    def __init__(self, folder: str | Path, target: int, times: int | None = 1, pause: float = 0.0) -> None:
        self.folder, self.target, self.times, self.pause = str(folder), target, times, pause

    def __call__(self, item: int) -> int:
        time.sleep(self.pause)
        if item == self.target:
            kills = sorted(Path(self.folder).glob(f"kill-{item}-*"))
            if self.times is None or len(kills) < self.times:
                (Path(self.folder) / f"kill-{item}-{len(kills)}").touch()
                os.kill(os.getpid(), signal.SIGKILL)
        return 2 * item


class HoldsALambda:
    """A task that cannot be pickled (it holds a lambda)."""

    def __init__(self) -> None:
        self.fn = lambda x: x

    def __call__(self, item: Any) -> Any:
        return self.fn(item)


class FailsSometimes(Proxy):
    """A deterministic faulty proxy for testing how runs record failed evaluations: the length
    of the architecture's string, except that it raises ``ValueError`` for every architecture
    whose string hashes to 0 modulo 4. Register it from code; it has no entry point."""

    def score(self, arch: Any, ctx: Any) -> float:
        key = self.space.canonical(arch)
        if zlib.crc32(key.encode()) % 4 == 0:
            raise ValueError(f"cannot score {key}")
        return float(len(key) + zlib.crc32(key.encode()) % 1000)
