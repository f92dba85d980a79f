"""The executor conformance suite against the three built-in executors; dask on a real
LocalCluster of two worker processes (one thread each), shared by the module."""

from __future__ import annotations

import pytest

from nasplug.core.registry import registry
from nasplug.core.testing import ExecutorConformance


def _factory(name, **fixed):
    made = []

    def make(**options):
        executor = registry().create("executor", {"name": name, **fixed, **options})
        made.append(executor)
        return executor

    return make, made


class TestLocal(ExecutorConformance):
    isolated = False

    @pytest.fixture(scope="class")
    def executor(self):
        with registry().create("executor", "local") as executor:
            yield executor

    @pytest.fixture
    def make_executor(self):
        make, made = _factory("local")
        yield make
        for executor in made:
            executor.close()


class TestProcess(ExecutorConformance):
    @pytest.fixture(scope="class")
    def executor(self):
        with registry().create("executor", {"name": "process", "workers": 2}) as executor:
            yield executor

    @pytest.fixture
    def make_executor(self):
        make, made = _factory("process", workers=2)
        yield make
        for executor in made:
            executor.close()


class TestDask(ExecutorConformance):
    innocent_tasks_may_crash = True
    repeated_kills = False  # the shared LocalCluster must survive the module

    @pytest.fixture(scope="class")
    def executor(self, dask_cluster):
        with registry().create("executor", {"name": "dask", "address": dask_cluster.scheduler_address}) as executor:
            yield executor

    @pytest.fixture
    def make_executor(self, dask_cluster):
        make, made = _factory("dask", address=dask_cluster.scheduler_address)
        yield make
        for executor in made:
            executor.close()


def test_dask_starts_and_stops_its_own_local_cluster():
    pytest.importorskip("distributed")
    from nasplug.core.executors.checks import square

    executor = registry().create("executor", {"name": "dask", "workers": 1})
    try:
        assert dict(executor.imap(square, range(5))) == {i: i * i for i in range(5)}
        cluster = executor._cluster
        assert cluster is not None and len(cluster.workers) == 1
    finally:
        executor.close()
    assert executor._cluster is None and cluster.status.name == "closed"
