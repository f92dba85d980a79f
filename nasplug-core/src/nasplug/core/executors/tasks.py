"""What runs inside a worker: the task wrapper, torch thread setup and per-task random state.

Everything here is module-level so that process pools and dask workers can import it by name.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pickle
import random
import sys
import threading
import time
import traceback
from collections import OrderedDict
from typing import Any, Callable, Iterator

from nasplug.core.interfaces.executor import TaskFailed

#: Environment variables that cap the thread pools of BLAS/OpenMP libraries in a worker.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

_threads: int | None = None
_has_torch: bool | None = None


def _torch() -> Any:
    """torch, imported on first use, or ``None`` where it is not installed."""
    global _has_torch
    if _has_torch is None:
        _has_torch = "torch" in sys.modules or importlib.util.find_spec("torch") is not None
    if not _has_torch:
        return None
    import torch

    return torch


def use_threads(n: int | None) -> None:
    """Give this process ``n`` torch intra-op threads (``None`` leaves them alone), so that ``w``
    workers on ``c`` cores use ``c // w`` threads each instead of ``c`` each. torch reads the
    OpenMP variable when it is first imported and is set directly once it is, so a worker whose
    tasks never need torch does not pay for importing it."""
    global _threads
    if n is None:
        return
    if _threads != n:
        for var in THREAD_VARS:
            os.environ[var] = str(n)
        _threads = n
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)


def init_worker(threads: int | None, parent: int | None = None) -> None:
    """Process-pool initializer: thread caps before anything imports torch, Ctrl-C left to the
    main process (which cancels the run's tasks and shuts the pool down), and a watchdog that
    ends the worker when the main process ``parent`` is gone (a pool's workers would otherwise
    wait forever once their parent was killed with ``kill -9``)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    use_threads(threads)
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), name="nasplug-parent-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    stat = f"/proc/{parent}/stat"
    while True:
        time.sleep(1.0)
        try:
            os.kill(parent, 0)
            with open(stat) as f:  # Linux: a killed parent not yet reaped is a zombie ("Z")
                gone = f.read().rsplit(")", 1)[-1].split()[0] == "Z"
        except (ProcessLookupError, PermissionError, FileNotFoundError):
            gone = True
        except OSError:  # no /proc on this platform: the kill() probe is all there is
            gone = False
        if gone:
            os._exit(1)


def failure(exc: BaseException, *, keep: bool) -> TaskFailed:
    """A :class:`TaskFailed` for ``exc`` raised by the current task; ``keep`` the exception
    object only where it survives pickling (it has to cross back from a worker)."""
    if keep:
        try:
            pickle.dumps(exc)
        except Exception:
            keep = False
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    error = f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
    return TaskFailed(error=error, traceback=traceback.format_exc(), exception=exc if keep else None)


#: Tasks seed the process-wide random streams (torch's, numpy's) for their duration, so two tasks
#: must not run at once in one process: a dask worker started with ``--nthreads 4`` runs them one
#: after another (start workers with ``--nthreads 1`` and more ``--nworkers`` instead).
_one_at_a_time = threading.RLock()  # re-entrant: a task may run a local executor inside


class Task:
    """Picklable wrapper run by every executor on a chunk of items: sets the worker's torch
    threads, then calls ``fn`` on each item, turning an exception into a :class:`TaskFailed`
    in that item's place. Returns the outcomes and the seconds the chunk took."""

    def __init__(self, fn: Callable[[Any], Any], threads: int | None = None) -> None:
        self.fn, self.threads = fn, threads

    def __call__(self, items: list[Any]) -> tuple[list[Any], float]:
        with _one_at_a_time:
            use_threads(self.threads)
            start = time.perf_counter()
            outcomes = []
            for item in items:
                try:
                    outcomes.append(self.fn(item))
                except Exception as exc:
                    outcomes.append(failure(exc, keep=True))
            return outcomes, time.perf_counter() - start


_loaded: "OrderedDict[str, Task]" = OrderedDict()


def run_pickled(token: str, payload: bytes, items: list[Any]) -> tuple[list[Any], float]:
    """Process-pool entry: unpickle the task once per worker (cached by ``token``) and run it."""
    task = _loaded.get(token)
    if task is None:
        task = pickle.loads(payload)
        _loaded[token] = task
        while len(_loaded) > 8:
            _loaded.popitem(last=False)
    return task(items)


def load(payload: bytes) -> Task:
    """Dask entry: the task definition as a value workers share (recomputed if its holder dies)."""
    return pickle.loads(payload)


def call(task: Task, items: list[Any]) -> tuple[list[Any], float]:
    """Dask entry: run a chunk of items with the shared task definition."""
    return task(items)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed the global random streams (Python, numpy's legacy one, torch's CPU generator) with
    ``seed`` for the duration of one task and restore them afterwards, so that a part that draws
    from them gets the same numbers whichever worker runs it, and in whatever order."""
    import numpy as np

    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    torch = _torch()
    try:
        if torch is None:
            yield
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
