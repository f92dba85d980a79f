"""The built-in in-process executor (``local``), the default of every run."""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

import attrs

from nasplug.core.executors.base import BaseExecutor, ExecutorOptions, Session
from nasplug.core.executors.tasks import Task
from nasplug.core.options import optional_positive_int


@attrs.frozen
class LocalOptions(ExecutorOptions):
    """``torch_threads``: set torch's thread count for the run (default: leave it alone)."""

    torch_threads: int | None = attrs.field(default=None, validator=optional_positive_int)


class _Inline(Session):
    def __init__(self, task: Task) -> None:
        self.task = task
        self.queue: deque[tuple[int, list[Any]]] = deque()

    def slots(self) -> int:
        return 1

    def send(self, chunk: int, items: list[Any]) -> None:
        self.queue.append((chunk, items))

    def next_done(self) -> tuple[int, Any]:
        chunk, items = self.queue.popleft()
        return chunk, self.task(items)

    def close(self) -> None:
        self.queue.clear()


class LocalExecutor(BaseExecutor):
    """Runs evaluations one after another in this process (no parallelism, no overhead)."""

    Config = LocalOptions
    #: Tasks run in the calling process (multi-seed runs then write each run's evaluations as they come).
    in_process: ClassVar[bool] = True

    def threads(self) -> int | None:
        return self.config.torch_threads

    def _session(self, task: Task) -> Session:
        return _Inline(task)
