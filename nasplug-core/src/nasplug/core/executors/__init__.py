"""The built-in executors: ``local`` (in this process, the default), ``process`` (a pool of worker
processes on this machine) and ``dask`` (dask.distributed: a LocalCluster or an existing
scheduler, imported only when used). Every one yields each item's result exactly once, retries
tasks as configured, and turns a failing task into a :class:`TaskFailed` or a :class:`TaskError`
by the same ``on_error`` policy, so a run's results do not depend on where it ran.
"""

from nasplug.core.executors.base import BaseExecutor, ExecutorOptions, WorkerOptions
from nasplug.core.executors.dask_cluster import DaskExecutor
from nasplug.core.executors.local import LocalExecutor
from nasplug.core.executors.process import ProcessExecutor
from nasplug.core.executors.tasks import seeded
from nasplug.core.interfaces.executor import TaskError, TaskFailed

__all__ = ["BaseExecutor", "DaskExecutor", "ExecutorOptions", "LocalExecutor", "ProcessExecutor", "TaskError",
           "TaskFailed", "WorkerOptions", "seeded"]
