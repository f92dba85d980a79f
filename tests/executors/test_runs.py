"""Runs through the executors on the real NAS-Bench-201 space: identical results on every
executor, a worker killed with ``kill -9`` mid-run, failed evaluations, multi-seed runs, and a
separately started dask scheduler with worker processes."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import pytest
from pathlib import Path

from nasplug.core.errors import ConfigError
from nasplug.core.executors.checks import FailsSometimes
from nasplug.core.hookspecs import hookimpl
from nasplug.core.interfaces.executor import TaskError
from nasplug.core.plugins import plugin_manager
from nasplug.core.registry import Registry
from nasplug.core.runs import run, run_seeds
from nasplug.core.store import Store


def score_config(tmp_path, executor, archs=16, name="s.db"):
    return {"kind": "score", "seed": 3, "space": "nb201", "proxy": "params", "executor": executor,
            "score": {"archs": archs, "metrics": ["cifar10_test"]}, "store": {"path": str(tmp_path / name)}}


def stored(path, run_id=1):
    with Store(path) as store:
        return [(e.seq, e.arch, e.value) for e in store.evaluations(run_id)]


class KillAWorker:
    """Hook plugin: after ``after`` stored evaluations, ``kill -9`` one worker of the run's executor."""

    def __init__(self, after, pids=None):
        self.after, self.pids, self.killed = after, pids, None

    @hookimpl
    def nasplug_after_evaluation(self, run, record):
        if self.killed is None and run.store.count_evaluations(run.id) >= self.after:
            pids = self.pids() if self.pids else run.executor.worker_pids()
            if pids:
                self.killed = pids[0]
                os.kill(self.killed, signal.SIGKILL)


def with_hook(hook, fn):
    plugin_manager().register(hook)
    try:
        return fn()
    finally:
        plugin_manager().unregister(hook)


def test_score_run_is_identical_on_every_executor_and_survives_kill_9(benchmarks, tmp_path, dask_cluster):
    local = run(score_config(tmp_path, "local", name="local.db"))
    hook = KillAWorker(after=4)
    killed = with_hook(hook, lambda: run(score_config(tmp_path, {"name": "process", "workers": 2}, name="process.db")))
    assert hook.killed is not None, "no worker was killed"
    dask = run(score_config(tmp_path, {"name": "dask", "address": dask_cluster.scheduler_address}, name="dask.db"))
    expected = stored(tmp_path / "local.db")
    assert len(expected) == 16 and len({seq for seq, _, _ in expected}) == 16
    for path in ("process.db", "dask.db"):
        assert stored(tmp_path / path) == expected  # every architecture exactly once, same values
    assert killed.result["correlations"] == dask.result["correlations"] == local.result["correlations"]
    assert killed.result["failed"] == 0


def test_search_batches_go_through_the_executor(benchmarks, tmp_path, dask_cluster):
    def config(executor, name):
        return {"kind": "search", "seed": 1, "space": "nb201", "strategy": "rea",
                "objective": {"name": "proxy", "proxy": "params"}, "executor": executor,
                "search": {"queries": 12, "batch_size": 4}, "store": {"path": str(tmp_path / name)}}

    local = run(config("local", "local.db"))
    dask = run(config({"name": "dask", "address": dask_cluster.scheduler_address}, "dask.db"))
    assert stored(tmp_path / "dask.db") == stored(tmp_path / "local.db")
    assert dask.result["best_arch"] == local.result["best_arch"] and dask.result["queries"] == 12


def test_failed_evaluations_are_recorded_or_stop_the_run(tmp_path):
    from nasplug.core.testing import ToySpace

    reg = Registry()
    reg.register("space", "toy", ToySpace)
    reg.register("proxy", "fails-sometimes", FailsSometimes)
    config = {"kind": "score", "space": "toy", "proxy": "fails-sometimes", "score": {"archs": 40},
              "executor": {"name": "local", "on_error": "stop"}, "store": {"path": str(tmp_path / "f.db")}}
    with pytest.raises(TaskError, match="cannot score"):
        run(config, registry=reg)
    with Store(tmp_path / "f.db") as store:
        assert store.run(1).status == "failed"
        done_before = store.count_evaluations(1)
    config["executor"]["on_error"] = "record"  # the executor is not part of the config hash
    result = run(config, resume=True, registry=reg).result
    with Store(tmp_path / "f.db") as store:
        failures = store.failures(1)
        evaluations = store.evaluations(1)
    assert done_before < 40 and len(evaluations) == 40
    assert result["failed"] == len(failures) > 0
    for failure in failures:
        assert math.isnan(failure.value) and failure.fitness == -math.inf
        assert failure.info["error"].startswith("ValueError: cannot score") and failure.info["attempts"] == 1
        assert "Traceback" in failure.info["traceback"]


def test_multi_seed_runs_store_one_run_per_seed(benchmarks, tmp_path, dask_cluster):
    config = {"kind": "score", "seeds": "0-2", "space": "nb201", "proxy": "params", "score": {"archs": 6},
              "executor": {"name": "dask", "address": dask_cluster.scheduler_address},
              "store": {"path": str(tmp_path / "m.db")}}
    with pytest.raises(ConfigError, match="run_seeds"):
        run(config)
    results = run_seeds(config)
    assert [r.id for r in results] == [1, 2, 3]
    for seed, result in zip([0, 1, 2], results):
        single = {k: v for k, v in config.items() if k not in ("seeds", "executor")}
        alone = run({**single, "seed": seed, "store": {"path": str(tmp_path / f"one{seed}.db")}})
        assert stored(tmp_path / "m.db", result.id) == stored(tmp_path / f"one{seed}.db")
        assert result.result["correlations"] == alone.result["correlations"]
        with Store(tmp_path / "m.db") as store:
            record = store.run(result.id)
            assert record.seed == seed and record.status == "finished"
            assert record.config_hash == Store(tmp_path / f"one{seed}.db").run(1).config_hash
    again = run_seeds(config, [0, 1, 2, 3], resume=True)  # finished seeds are taken from the store
    assert [r.id for r in again] == [1, 2, 3, 4] and [r.resumed for r in again[:3]] == [True] * 3
    assert again[3].result["archs"] == 6


def _start(*args, log):
    return subprocess.Popen([sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT)


def test_separate_scheduler_and_workers_with_one_worker_killed(benchmarks, tmp_path):
    pytest.importorskip("distributed")
    from distributed import Client

    file = tmp_path / "scheduler.json"
    log = open(tmp_path / "dask.log", "w")
    procs = [_start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(file), log=log)]
    try:
        deadline = time.time() + 60
        while not file.exists() and time.time() < deadline:
            time.sleep(0.1)
        workers = [_start("distributed.cli.dask_worker", "--scheduler-file", str(file), "--nthreads", "1",
                          "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", log=log) for _ in range(2)]
        procs += workers
        with Client(scheduler_file=str(file), timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            address = client.scheduler.address
        hook = KillAWorker(after=4, pids=lambda: [workers[0].pid])
        config = score_config(tmp_path, {"name": "dask", "address": address, "chunk_size": 1}, archs=16, name="ext.db")
        result = with_hook(hook, lambda: run(config))
        assert hook.killed == workers[0].pid and workers[0].wait(timeout=10) == -signal.SIGKILL
        run(score_config(tmp_path, "local", archs=16, name="local.db"))
        assert stored(tmp_path / "ext.db") == stored(tmp_path / "local.db")  # each architecture once
        assert result.result["failed"] == 0
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def test_cli_seeds_runs_the_config_once_per_seed_in_process(benchmarks, tmp_path, capsys):
    from nasplug.core.cli.main import main

    config = tmp_path / "score.toml"
    config.write_text('kind = "score"\n[space]\nname = "nb201"\n[proxy]\nname = "params"\n[score]\narchs = 5\n'
                      'metrics = ["cifar10_test"]\n')
    db = tmp_path / "cli.db"
    assert main(["run", str(config), "--seeds", "3-4", "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "2 runs (score), one per seed" in out and "correlations.cifar10_test.spearman:" in out and "(n=2)" in out
    assert main(["run", str(config), "--seeds", "3-5", "--store", str(db), "--resume"]) == 0
    with Store(db) as store:
        assert [(r.seed, r.status) for r in store.runs()] == [(3, "finished"), (4, "finished"), (5, "finished")]
    single = run({"kind": "score", "seed": 4, "space": "nb201", "proxy": "params",
                  "score": {"archs": 5, "metrics": ["cifar10_test"]}, "store": {"path": str(tmp_path / "one.db")}})
    assert stored(db, 2) == stored(tmp_path / "one.db", single.id)


@pytest.mark.parametrize("table, message", [
    ({"seeds": "0-2", "seed": 1}, "both set"),
    ({"seeds": [1, 1]}, "repeats a seed"),
    ({"seeds": "a-b"}, "ranges like"),
    ({"executor": {"name": "dask", "address": "tcp://127.0.0.1:1", "workers": 2}}, "executor.workers"),
    ({"executor": {"name": "process", "on_error": "ignore"}}, "executor.on_error"),
    ({"executor": {"name": "process", "torch_threads": 0}}, "executor.torch_threads"),
])
def test_bad_seed_and_executor_options_are_config_errors(tmp_path, table, message):
    config = {"kind": "score", "space": "nb201", "proxy": "params", "store": {"path": str(tmp_path / "x.db")}, **table}
    with pytest.raises(ConfigError, match=message):
        run_seeds(config) if "seeds" in table else run(config)
    assert not (tmp_path / "x.db").exists()


def test_unreachable_scheduler_is_a_config_error(benchmarks, tmp_path):
    pytest.importorskip("distributed")
    config = score_config(tmp_path, {"name": "dask", "address": "tcp://127.0.0.1:9", "timeout": 1}, archs=2)
    with pytest.raises(ConfigError, match="cannot reach the dask scheduler"):
        run(config)
    store = Path(config["store"]["path"])
    assert not store.exists()  # checked before the run is stored: no failed run left behind


def test_a_run_whose_evaluations_all_fail_ends_failed_with_the_first_error(tmp_path, capsys):
    from nasplug.core.errors import RunFailedError
    from nasplug.core.interfaces.proxy import Proxy
    from nasplug.core.testing import ToySpace

    class AlwaysFails(Proxy):
        def score(self, arch, ctx):
            raise ValueError(f"image shape does not fit {self.space.canonical(arch)}")

    reg = Registry()
    reg.register("space", "toy", ToySpace)
    reg.register("proxy", "always-fails", AlwaysFails)
    reg.register("proxy", "fails-sometimes", FailsSometimes)
    config = {"kind": "score", "space": "toy", "proxy": "always-fails", "score": {"archs": 8},
              "executor": {"name": "local", "on_error": "record"}, "store": {"path": str(tmp_path / "f.db")}}
    with pytest.raises(RunFailedError, match=r"run 1: 8 of 8 evaluations failed .fail_share = 1.; the first: ValueError: image shape"):
        run(config, registry=reg)
    with Store(tmp_path / "f.db") as store:
        record = store.run(1)
        assert record.status == "failed" and record.result["failed"] == 8 and store.count_evaluations(1) == 8
        assert record.result["error"].startswith("ValueError: image shape does not fit")
    # some failures are fine by default; a stricter share fails the run
    sometimes = {**config, "proxy": "fails-sometimes", "score": {"archs": 40}, "store": {"path": str(tmp_path / "s.db")}}
    result = run(sometimes, registry=reg)
    assert 0 < result.result["failed"] < 40
    with pytest.raises(RunFailedError, match="fail_share = 0.1"):
        run({**sometimes, "fail_share": 0.1, "store": {"path": str(tmp_path / "t.db")}}, registry=reg)
    from nasplug.core.errors import ConfigError

    for bad in (0, 1.5, float("nan"), "all"):
        with pytest.raises(ConfigError, match="fail_share"):
            run({**sometimes, "fail_share": bad}, registry=reg)
