"""Shared machinery of the built-in executors: options, and ``imap`` implemented once over a
small session protocol that each backend (in-process, process pool, dask) provides.

``imap`` keeps a few chunks of items per worker in flight, sizes chunks from measured task times
(so that a millisecond proxy is not drowned by per-task overhead while a minute-long training
run is still sent alone), retries tasks that raised, isolates tasks whose worker died, and
applies the ``on_error`` policy. None of it changes a result: each item's value is a function of
the item alone.
"""

from __future__ import annotations

import abc
import math
import os
import pickle
import uuid
from collections import Counter, OrderedDict, deque
from typing import Any, Callable, Iterator, Sequence

import attrs

from nasplug.core.errors import ConfigError
from nasplug.core.executors.tasks import Task
from nasplug.core.interfaces.executor import Executor, OnError, TaskError, TaskFailed
from nasplug.core.options import non_negative_int, number_in, one_of, optional_positive_int


@attrs.frozen
class ExecutorOptions:
    """``on_error``: what a task that raised (after ``retries`` more attempts) becomes:
    ``"record"`` stores it as a failed evaluation and the run goes on, ``"stop"`` ends the run
    (a resumed run tries it again). ``retries`` suits flaky tasks (I/O, memory); a deterministic
    error fails every attempt alike."""

    on_error: str = attrs.field(default="record", validator=one_of("record", "stop"))
    retries: int = attrs.field(default=0, validator=non_negative_int)


@attrs.frozen
class WorkerOptions(ExecutorOptions):
    """``workers``: parallel worker processes (default: the CPU count). ``torch_threads``: torch
    intra-op threads per worker (default: CPU count // workers, so workers never oversubscribe
    the cores). ``allowed_failures``: how often a task may take its worker down with it (a
    segfault, the out-of-memory killer, ``kill -9``) and be retried before it is recorded as
    failed (dask's ``distributed.scheduler.allowed-failures``). ``chunk_size``: items sent to a
    worker at once (default: sized from measured task times so that a chunk takes about
    ``chunk_seconds``: millisecond tasks travel in batches, long ones alone)."""

    workers: int | None = attrs.field(default=None, validator=optional_positive_int)
    torch_threads: int | None = attrs.field(default=None, validator=optional_positive_int)
    allowed_failures: int = attrs.field(default=3, validator=non_negative_int)
    chunk_size: int | None = attrs.field(default=None, validator=optional_positive_int)
    chunk_seconds: float = attrs.field(default=1.0, validator=number_in(0, None))


def cpu_count() -> int:
    """CPUs this process may use (the affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


#: What a session returns for a chunk lost with its worker when the backend does not retry it itself.
LOST = object()


class Session(abc.ABC):
    """One ``imap`` call on a backend. ``send`` starts a chunk, ``next_done`` blocks until some
    chunk finishes and returns ``(chunk id, (outcomes, seconds))``, ``(chunk id, LOST)`` when its
    worker died, or ``(chunk id, TaskFailed)`` when the backend gave up on it. ``slots`` is how
    many chunks may be in flight; ``close`` cancels what is left."""

    @abc.abstractmethod
    def slots(self) -> int: ...

    @abc.abstractmethod
    def send(self, chunk: int, items: list[Any]) -> None: ...

    @abc.abstractmethod
    def next_done(self) -> tuple[int, Any]: ...

    def close(self) -> None:
        """Cancel chunks still queued or running."""


class BaseExecutor(Executor):
    """``imap`` over a backend :class:`Session`; subclasses provide ``_session``."""

    Config = ExecutorOptions

    def threads(self) -> int | None:
        """torch threads each worker is given (``None``: leave the process's setting alone)."""
        return None

    @abc.abstractmethod
    def _session(self, task: Task) -> Session: ...

    def imap(self, fn: Callable[[Any], Any], items: Sequence[Any], *,
             on_error: OnError | None = None) -> Iterator[tuple[int, Any]]:
        policy = on_error or self.config.on_error
        if policy not in ("record", "stop"):
            raise ConfigError(f"on_error must be 'record' or 'stop', got {policy!r}")
        items = list(items)
        if not items:
            return
        session = self._session(Task(fn, self.threads()))
        try:
            yield from _Dispatch(self.config, session, items, policy).run()
        finally:
            session.close()


class _Dispatch:
    """The bookkeeping of one ``imap`` call."""

    def __init__(self, config: Any, session: Session, items: list[Any], policy: str) -> None:
        self.config, self.session, self.items, self.policy = config, session, items, policy
        self.queue: deque[int] = deque(range(len(items)))
        self.suspects: deque[int] = deque()  # lost with a worker: rerun alone to find the culprit
        self.chunks: dict[int, list[int]] = {}
        self.solo: int | None = None
        self.next_id = 0
        self.attempts = [1] * len(items)
        self.crashes: Counter[int] = Counter()
        self.item_seconds: float | None = None
        self.fixed: int | None = getattr(config, "chunk_size", 1)  # None: sized from measured times

    def _chunk_size(self) -> int:
        if self.fixed:
            return self.fixed
        if not self.item_seconds:
            return 1
        slots = max(1, self.session.slots())
        wanted = max(1, int(self.config.chunk_seconds / max(self.item_seconds, 1e-6)))
        return max(1, min(wanted, math.ceil(len(self.queue) / slots)))

    def _send(self, positions: list[int]) -> None:
        chunk, self.next_id = self.next_id, self.next_id + 1
        self.chunks[chunk] = positions
        self.session.send(chunk, [self.items[p] for p in positions])

    def _fill(self) -> None:
        if self.suspects:
            if not self.chunks:
                self.solo = self.suspects.popleft()
                self._send([self.solo])
            return
        self.solo = None
        while self.queue and len(self.chunks) < max(1, self.session.slots()):
            size = self._chunk_size()
            self._send([self.queue.popleft() for _ in range(min(size, len(self.queue)))])

    def run(self) -> Iterator[tuple[int, Any]]:
        left = len(self.items)
        while left:
            self._fill()
            chunk, out = self.session.next_done()
            positions = self.chunks.pop(chunk)
            if out is LOST:
                for position, failed in self._lost(positions):
                    if self.policy == "stop":
                        raise TaskError(f"task {position}: {failed.error}; set executor.on_error = \"record\" to record it and go on")
                    left -= 1
                    yield position, failed
                continue
            if isinstance(out, TaskFailed):  # the backend gave up on the chunk
                outcomes = [attrs.evolve(out) for _ in positions]
            else:
                outcomes, seconds = out
                per_item = seconds / max(1, len(positions))
                self.item_seconds = per_item if self.item_seconds is None else 0.8 * self.item_seconds + 0.2 * per_item
            for position, outcome in zip(positions, outcomes):
                if isinstance(outcome, TaskFailed):
                    if not outcome.crashed and self.attempts[position] <= self.config.retries:
                        self.attempts[position] += 1
                        self.queue.appendleft(position)
                        continue
                    if not outcome.crashed:
                        outcome = attrs.evolve(outcome, attempts=self.attempts[position])
                    if self.policy == "stop":
                        raise TaskError(
                            f"task {position} failed after {outcome.attempts} attempt(s): {outcome.error}; set executor.on_error = \"record\" to record failures and go on") from outcome.exception
                left -= 1
                yield position, outcome

    def _lost(self, positions: list[int]) -> list[tuple[int, TaskFailed]]:
        """A chunk died with its worker. Alone, the task is to blame (and given up on after
        ``allowed_failures`` retries); otherwise every task of the chunk is rerun alone first, so
        that only a task that kills its worker is charged."""
        if self.solo is None or positions != [self.solo]:
            self.suspects.extend(sorted(positions))
            return []
        position = self.solo
        self.crashes[position] += 1
        n = self.crashes[position]
        if n <= self.config.allowed_failures:
            self.suspects.appendleft(position)
            return []
        return [(position, TaskFailed(error=f"WorkerDied: the worker process died each of the {n} times it ran this task",
                                      attempts=n, crashed=True))]


class PickledTasks:
    """Pickles each task function once per executor (workers cache it by token), so that a
    function holding a large table is not pickled again for every batch of a search."""

    def __init__(self, executor_name: str, size: int = 8) -> None:
        self.name, self.size = executor_name, size
        self._cache: "OrderedDict[int, tuple[Callable, str, bytes]]" = OrderedDict()

    def get(self, task: Task) -> tuple[str, bytes]:
        key = id(task.fn)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is task.fn:
            self._cache.move_to_end(key)
            return hit[1], hit[2]
        try:
            payload = pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise ConfigError(
                f"executor '{self.name}' runs tasks in other processes but {type(task.fn).__name__} cannot be pickled ({type(exc).__name__}: {exc}); build parts from configs in importable modules, or use executor.name = \"local\"") from None
        token = uuid.uuid4().hex
        self._cache[key] = (task.fn, token, payload)  # holds fn, so its id is not reused
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return token, payload

    def clear(self) -> None:
        self._cache.clear()
