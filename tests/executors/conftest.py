"""One dask LocalCluster (two worker processes, one thread each) for every executor test."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def dask_cluster():
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    # allowed-failures = 1 is what the conformance suite's make_executor(allowed_failures=1) asks for.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                           silence_logs=50)
    yield cluster
    cluster.close()
