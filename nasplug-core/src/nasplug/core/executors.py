"""The built-in in-process executor (``local``), the default of every run."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence, TypeVar

from nasplug.core.interfaces.executor import Executor

T = TypeVar("T")
R = TypeVar("R")


class LocalExecutor(Executor):
    """Runs evaluations one after another in this process (no parallelism, no overhead)."""

    def imap(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        for position, item in enumerate(items):
            yield position, fn(item)
