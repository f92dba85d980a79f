"""Executor: runs batches of independent evaluations, yielding results as they finish."""

from __future__ import annotations

import abc
from typing import Any, Callable, ClassVar, Iterator, Literal, Sequence, TypeVar

import attrs

from nasplug.core.errors import NasplugError
from nasplug.core.interfaces.base import Part

T = TypeVar("T")
R = TypeVar("R")

OnError = Literal["record", "stop"]


@attrs.frozen
class TaskFailed:
    """What ``imap`` yields in place of a result when a task raised (after its retries) or its
    worker died too often, and the policy is ``on_error = "record"``. ``error`` is
    ``"ExceptionType: message"``; ``crashed`` says the worker process died instead."""

    error: str
    traceback: str = ""
    attempts: int = 1
    crashed: bool = False
    #: The exception itself where it could be brought back from the worker (not compared).
    exception: BaseException | None = attrs.field(default=None, eq=False, repr=False)

    def as_info(self) -> dict[str, Any]:
        """The JSON-able form a run stores in the failed evaluation's ``info``."""
        return {"failed": True, "error": self.error, "attempts": self.attempts, "crashed": self.crashed,
                "traceback": self.traceback[-4000:]}


class TaskError(NasplugError, RuntimeError):
    """A task failed and the policy is ``on_error = "stop"``; chained to the task's exception."""


class Executor(Part, abc.ABC):
    """Maps a function over items. ``imap`` yields ``(position, result)`` as each finishes so the
    runner can commit results as they arrive; the set of results never depends on the executor.

    A task that raises is retried ``config.retries`` times, then, under the ``on_error`` policy
    (the executor's ``config.on_error`` unless the call overrides it), either yields a
    :class:`TaskFailed` at its position (``"record"``) or raises :class:`TaskError` (``"stop"``).
    Executors that run tasks in other processes need ``fn`` and the items to be picklable
    (module-level classes and functions holding configs, not live torch modules).
    """

    group: ClassVar[str] = "nasplug.executors"

    @abc.abstractmethod
    def imap(self, fn: Callable[[T], R], items: Sequence[T], *,
             on_error: OnError | None = None) -> Iterator[tuple[int, R | TaskFailed]]:
        """Yield ``(position, fn(items[position]))`` for every item exactly once, in completion order."""

    def check(self) -> None:
        """Fail with a one-line error when the executor cannot run tasks at all (e.g. an
        unreachable scheduler). Called before the run is stored, so nothing is left behind."""

    def close(self) -> None:
        """Release workers."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
