"""Executor: runs batches of independent evaluations, returning results in submission order."""

from __future__ import annotations

import abc
from typing import Any, Callable, ClassVar, Iterator, Sequence, TypeVar

from nasplug.core.interfaces.base import Part

T = TypeVar("T")
R = TypeVar("R")


class Executor(Part, abc.ABC):
    """Maps a function over items. ``imap`` yields ``(index, result)`` as each finishes so the
    runner can commit results as they arrive; the set of results never depends on the executor."""

    group: ClassVar[str] = "nasplug.executors"

    @abc.abstractmethod
    def imap(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Yield ``(position, fn(items[position]))`` for every item, in completion order."""

    def close(self) -> None:
        """Release workers."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
