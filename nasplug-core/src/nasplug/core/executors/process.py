"""The ``process`` executor: a pool of worker processes on this machine (``concurrent.futures``).

A worker that dies (segfault, out-of-memory killer, ``kill -9``) breaks a ``ProcessPoolExecutor``
for every task in it: the session reports the chunks in flight as lost and starts a new pool, and
``imap`` reruns them one task at a time, so that a task which kills its worker again is
identified exactly and recorded as failed after ``allowed_failures`` retries.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import attrs

from nasplug.core.executors.base import LOST, BaseExecutor, PickledTasks, Session, WorkerOptions, cpu_count
from nasplug.core.executors.tasks import Task, init_worker, run_pickled
from nasplug.core.interfaces.executor import TaskError
from nasplug.core.options import one_of


@attrs.frozen
class ProcessOptions(WorkerOptions):
    """``start_method``: how workers start; ``forkserver`` (default) and ``spawn`` are safe with
    torch's thread pools, ``fork`` starts fastest but may hang after torch has used threads."""

    start_method: str = attrs.field(default="forkserver", validator=one_of("forkserver", "spawn", "fork"))


def _preload(context: Any, modules: tuple[str, ...]) -> None:
    """Have the fork server import torch (and the task's module) once, before it forks workers,
    so that each new worker (also each replacement of a dead one) starts in milliseconds
    instead of importing torch again. Only takes effect if the fork server is not running yet."""
    from multiprocessing import forkserver

    wanted = ["__main__", "nasplug.core.executors.tasks", *modules]
    if importlib.util.find_spec("torch") is not None:
        wanted.insert(1, "torch")
    current = list(getattr(forkserver._forkserver, "_preload_modules", []))
    context.set_forkserver_preload(list(dict.fromkeys(current + [m for m in wanted if m and m != "builtins"])))


class _PoolSession(Session):
    def __init__(self, executor: "ProcessExecutor", token: str, payload: bytes) -> None:
        self.executor, self.token, self.payload = executor, token, payload
        self.inflight: dict[Future, int] = {}
        self.ready: deque[tuple[int, Any]] = deque()

    def slots(self) -> int:
        return 2 * self.executor.workers

    def send(self, chunk: int, items: list[Any]) -> None:
        try:
            future = self.executor._ensure_pool().submit(run_pickled, self.token, self.payload, items)
        except BrokenProcessPool:  # broke since the last result: lose this chunk with the others
            future = Future()
            future.set_exception(BrokenProcessPool("pool broken before submission"))
        self.inflight[future] = chunk

    def next_done(self) -> tuple[int, Any]:
        while not self.ready:
            if not self.inflight:
                raise RuntimeError("process executor: next_done() with nothing in flight")
            done, _ = wait(list(self.inflight), return_when=FIRST_COMPLETED)
            if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                self._broken()
                continue
            for future in done:
                chunk = self.inflight.pop(future)
                exc = future.exception()
                if exc is not None:
                    raise TaskError(f"a worker process could not run a task ({type(exc).__name__}: {exc}); tasks and items must be picklable and importable in workers") from exc
                self.ready.append((chunk, future.result()))
        return self.ready.popleft()

    def _broken(self) -> None:
        """Keep what finished before the pool broke; report every other chunk in flight as lost."""
        for future, chunk in sorted(self.inflight.items(), key=lambda pair: pair[1]):
            if future.done() and not future.cancelled() and future.exception() is None:
                self.ready.append((chunk, future.result()))
            else:
                self.ready.append((chunk, LOST))
        self.inflight.clear()
        self.executor._discard_pool()

    def close(self) -> None:
        for future in self.inflight:
            future.cancel()
        self.inflight.clear()
        self.ready.clear()


class ProcessExecutor(BaseExecutor):
    """Runs evaluations in a pool of worker processes on this machine; survives dying workers."""

    Config = ProcessOptions

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._pool: ProcessPoolExecutor | None = None
        self._pickled = PickledTasks("process")
        self._modules: tuple[str, ...] = ()

    @property
    def workers(self) -> int:
        return self.config.workers or cpu_count()

    def threads(self) -> int:
        return self.config.torch_threads or max(1, cpu_count() // self.workers)

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context(self.config.start_method)
            if self.config.start_method == "forkserver":
                _preload(context, self._modules)
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                             initializer=init_worker, initargs=(self.threads(), os.getpid()))
        return self._pool

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for monitoring, and for tests that kill one)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return [p.pid for p in list(processes.values()) if p.is_alive()]

    def _session(self, task: Task) -> Session:
        self._modules = (type(task.fn).__module__,)
        token, payload = self._pickled.get(task)
        return _PoolSession(self, token, payload)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._pickled.clear()
