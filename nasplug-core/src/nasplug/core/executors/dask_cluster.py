"""The ``dask`` executor: dask.distributed, on a LocalCluster it starts or on an existing
scheduler (``address`` or ``scheduler_file``), so the same run goes from a laptop to a cluster of
many machines, including clusters that dask-jobqueue starts on SLURM or PBS.

dask is imported only when the executor first runs tasks (``pip install "nasplug-core[dask]"``).
The scheduler reruns a task whose worker died on another worker (up to its
``distributed.scheduler.allowed-failures``), so a lost worker costs time, not results.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter, OrderedDict
from typing import Any

import attrs

from nasplug.core.errors import ConfigError
from nasplug.core.executors.base import LOST, BaseExecutor, PickledTasks, Session, WorkerOptions, cpu_count
from nasplug.core.executors.tasks import Task, call, load
from nasplug.core.interfaces.executor import TaskError, TaskFailed
from nasplug.core.options import number_in, optional_string


@attrs.frozen
class DaskOptions(WorkerOptions):
    """``address`` (``"tcp://host:8786"``) or ``scheduler_file``: an existing scheduler to send
    tasks to; without either, a LocalCluster of ``workers`` processes with one task thread each is
    started for the run and stopped after it. ``allowed_failures`` configures that LocalCluster;
    an existing scheduler keeps its own setting. ``timeout``: seconds to wait for the scheduler."""

    address: str | None = attrs.field(default=None, validator=optional_string)
    scheduler_file: str | None = attrs.field(default=None, validator=optional_string)
    timeout: float = attrs.field(default=30.0, validator=number_in(0.1, None))

    def __attrs_post_init__(self) -> None:
        if self.address and self.scheduler_file:
            raise ValueError(f"address: give either executor.address or executor.scheduler_file, got both ({self.address!r}, {self.scheduler_file!r})")
        if (self.address or self.scheduler_file) and self.workers is not None:
            raise ValueError(f"workers: an existing scheduler's workers are started with 'dask worker'; remove executor.workers (got {self.workers}) or executor.address")


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError('executor "dask" needs dask.distributed; pip install "nasplug-core[dask]"') from None
    return distributed


class _DaskSession(Session):
    def __init__(self, executor: "DaskExecutor", definition: Any) -> None:
        distributed = _import_distributed()
        self.executor = executor
        self.client = executor._get_client()
        self.definition = definition
        self.completed = distributed.as_completed(loop=self.client.loop)
        self.killed_worker = distributed.KilledWorker
        self.prefix = f"nasplug-{uuid.uuid4().hex[:12]}"
        self.chunks: dict[str, int] = {}
        self.sizes: dict[str, int] = {}
        self.pending: dict[str, Any] = {}

    def slots(self) -> int:
        return 2 * self.executor.parallelism()

    def send(self, chunk: int, items: list[Any]) -> None:
        key = f"{self.prefix}-{chunk}"
        future = self.client.submit(call, self.definition, items, key=key, pure=False)
        self.chunks[key] = chunk
        self.sizes[key] = len(items)
        self.pending[key] = future
        self.completed.add(future)

    def next_done(self) -> tuple[int, Any]:
        future = next(self.completed)
        chunk = self.chunks.pop(future.key)
        size = self.sizes.pop(future.key)
        self.pending.pop(future.key, None)
        try:
            if future.status == "error":
                exc = future.exception()
                if isinstance(exc, self.killed_worker):
                    # The scheduler gave up on the chunk; which of its items kills workers is
                    # found by rerunning them one by one (LOST), a single item is given up on.
                    return chunk, LOST if size > 1 else TaskFailed(error=f"WorkerDied: {exc}", attempts=1, crashed=True)
                raise TaskError(f"dask could not run a task ({type(exc).__name__}: {exc}); tasks and items must be picklable and nasplug installed on every worker") from exc
            if future.status == "cancelled":
                raise TaskError("dask cancelled a task (the scheduler or client went away); check the cluster and resume the run")
            return chunk, future.result()
        finally:
            future.release()

    def close(self) -> None:
        futures = list(self.pending.values())
        self.pending.clear()
        self.completed.clear()
        if futures:
            try:
                self.client.cancel(futures)
            except Exception:  # the client may already be gone; nothing left to cancel then
                pass


class DaskExecutor(BaseExecutor):
    """Runs evaluations on a dask.distributed cluster (a LocalCluster, or an existing scheduler)."""

    Config = DaskOptions

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._client: Any = None
        self._cluster: Any = None
        self._threads: int | None = None
        self._slots: tuple[int, float] | None = None
        self._pickled = PickledTasks("dask")
        self._definitions: "OrderedDict[str, Any]" = OrderedDict()

    @property
    def workers(self) -> int:
        return self.config.workers or cpu_count()

    def parallelism(self) -> int:
        """Task threads in the cluster now (refreshed at most every 2 s: clusters grow and shrink)."""
        now = time.monotonic()
        if self._slots is None or now - self._slots[1] > 2.0:
            try:
                total = sum(self._get_client().nthreads().values())
            except Exception:
                total = self._slots[0] if self._slots else 1
            self._slots = (max(1, total), now)
        return self._slots[0]

    @property
    def external(self) -> bool:
        return bool(self.config.address or self.config.scheduler_file)

    def check(self) -> None:
        """An external scheduler must answer now (a local cluster starts with the first task)."""
        if self.external:
            self._get_client()

    def _get_client(self) -> Any:
        if self._client is not None:
            return self._client
        distributed = _import_distributed()
        import dask

        c = self.config
        if self.external:
            where = c.address or f"scheduler file {c.scheduler_file}"
            try:
                if c.address:
                    client = distributed.Client(c.address, timeout=c.timeout, set_as_default=False)
                else:
                    client = distributed.Client(scheduler_file=c.scheduler_file, timeout=c.timeout, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ConfigError(f"cannot reach the dask scheduler at {where} ({type(exc).__name__}: {exc}); start it with 'dask scheduler' and check executor.address") from None
        else:
            settings = {"distributed.scheduler.allowed-failures": c.allowed_failures,
                        "distributed.scheduler.worker-saturation": 1.0}
            with dask.config.set(settings):
                self._cluster = distributed.LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                    silence_logs=logging.ERROR)
            client = distributed.Client(self._cluster, set_as_default=False)
        self._client = client
        return client

    def threads(self) -> int:
        if self.config.torch_threads:
            return self.config.torch_threads
        if self._threads is None:
            self._threads = self._threads_from_cluster() if self.external else max(1, cpu_count() // self.workers)
        return self._threads

    def _threads_from_cluster(self) -> int:
        """CPU count // task threads on the same host, the smallest over the cluster's hosts (1 if
        no worker has joined yet)."""
        import os

        client = self._get_client()
        workers = client.scheduler_info(n_workers=-1).get("workers", {})
        if not workers:
            return 1
        per_host: Counter[str] = Counter()
        for info in workers.values():
            per_host[info.get("host", "?")] += int(info.get("nthreads", 1))
        cpus = client.run(os.cpu_count)
        shares = [max(1, int(cpus.get(addr) or 1) // per_host[info.get("host", "?")]) for addr, info in workers.items()]
        return min(shares)

    def _session(self, task: Task) -> Session:
        client = self._get_client()
        token, payload = self._pickled.get(task)
        definition = self._definitions.get(token)
        if definition is None:
            definition = client.submit(load, payload, key=f"nasplug-task-{token}", pure=False)
            self._definitions[token] = definition
            while len(self._definitions) > 8:
                self._definitions.popitem(last=False)[1].release()
        return _DaskSession(self, definition)

    def close(self) -> None:
        for future in self._definitions.values():
            try:
                future.release()
            except Exception:
                pass
        self._definitions.clear()
        self._pickled.clear()
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
