"""Conformance suite for executors. The tasks it sends through them live in
:mod:`nasplug.core.executors.checks`, a light module that worker processes import quickly.

Subclass :class:`ExecutorConformance` and provide two fixtures: ``executor`` (an instance with
default options, which may be shared by the tests of the class) and ``make_executor`` (a factory
``make_executor(**options)`` returning a new instance; it must honour ``retries`` and
``allowed_failures`` and close what it made). Set ``isolated = False`` for an executor that runs
tasks in the calling process: the tests that kill workers or need pickling are then skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nasplug.core.errors import ConfigError
from nasplug.core.executors.checks import (
    Flaky, HoldsALambda, KillWorker, fail_on, seeded_draw, slow_square, square, torch_threads,
)
from nasplug.core.interfaces.executor import TaskError, TaskFailed


# --- suite ----------------------------------------------------------------------------------
class ExecutorConformance:
    """The contract the runner relies on: every position exactly once with its own value,
    values independent of the executor, failures recorded in place or stopping the run, retries,
    and (for executors with worker processes) survival of a worker killed mid-task."""

    #: Whether tasks run in other processes (pickling and worker-death tests apply).
    isolated = True
    #: dask counts a worker death against every task running on that worker, so an innocent task
    #: sharing the killed worker can be given up on too (``distributed``'s allowed-failures rule).
    innocent_tasks_may_crash = False
    #: Whether to run the test that kills workers four times in a row (a dask LocalCluster whose
    #: workers all die within a second may close their nannies instead of restarting them).
    repeated_kills = True

    def _collect(self, stream: Any) -> dict[int, Any]:
        out: dict[int, Any] = {}
        for position, value in stream:
            assert position not in out, f"position {position} yielded twice"
            out[position] = value
        return out

    def test_every_position_once_with_its_own_value(self, executor: Any) -> None:
        items = list(range(30))
        out = self._collect(executor.imap(slow_square, items))
        assert sorted(out) == items
        assert [out[i] for i in items] == [x * x for x in items]

    def test_empty_batch_yields_nothing(self, executor: Any) -> None:
        assert list(executor.imap(square, [])) == []

    def test_values_do_not_depend_on_the_executor(self, executor: Any) -> None:
        items = [(7, f"arch-{i}") for i in range(20)]
        out = self._collect(executor.imap(seeded_draw, items))
        assert [out[i] for i in range(len(items))] == [seeded_draw(item) for item in items]
        again = self._collect(executor.imap(seeded_draw, items))
        assert again == out

    def test_a_failing_task_is_recorded_in_place(self, executor: Any) -> None:
        items = [(i, i in (2, 5)) for i in range(8)]
        out = self._collect(executor.imap(fail_on, items, on_error="record"))
        assert sorted(out) == list(range(8))
        for i in (2, 5):
            failed = out[i]
            assert isinstance(failed, TaskFailed) and not failed.crashed and failed.attempts == 1
            assert failed.error == f"ValueError: bad item {i}" and "ValueError" in failed.traceback
        assert [out[i] for i in (0, 1, 3, 4, 6, 7)] == [0, 1, 3, 4, 6, 7]

    def test_stop_policy_raises_and_the_executor_stays_usable(self, executor: Any) -> None:
        items = [(i, i == 3) for i in range(6)]
        with pytest.raises(TaskError, match="bad item 3") as info:
            list(executor.imap(fail_on, items, on_error="stop"))
        assert isinstance(info.value.__cause__, ValueError)
        out = self._collect(executor.imap(square, range(5)))
        assert out == {i: i * i for i in range(5)}

    def test_abandoned_iteration_leaves_the_executor_usable(self, executor: Any) -> None:
        stream = executor.imap(slow_square, list(range(20)))
        next(stream)
        stream.close()
        assert self._collect(executor.imap(square, range(4))) == {i: i * i for i in range(4)}

    def test_retries_rerun_a_transient_failure(self, make_executor: Any, tmp_path: Path) -> None:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        out = self._collect(make_executor(retries=1).imap(Flaky(tmp_path / "a"), list(range(6))))
        assert out == {i: i for i in range(6)}
        out = self._collect(make_executor(retries=0).imap(Flaky(tmp_path / "b"), [0, 1]))
        assert all(isinstance(v, TaskFailed) and v.error.startswith("OSError") and v.attempts == 1 for v in out.values())

    def test_workers_get_their_torch_threads(self, executor: Any) -> None:
        pytest.importorskip("torch")
        threads = executor.threads()
        if threads is None:
            pytest.skip("this executor leaves torch's threads alone")
        out = self._collect(executor.imap(torch_threads, list(range(4))))
        assert set(out.values()) == {threads}

    def test_an_unpicklable_task_is_a_config_error(self, executor: Any) -> None:
        if not self.isolated:
            pytest.skip("tasks run in this process")
        with pytest.raises(ConfigError, match="cannot be pickled"):
            list(executor.imap(HoldsALambda(), [1, 2]))

    def test_a_killed_worker_costs_time_not_results(self, make_executor: Any, tmp_path: Path) -> None:
        if not self.isolated:
            pytest.skip("tasks run in this process")
        executor = make_executor()
        items = list(range(12))
        out = self._collect(executor.imap(KillWorker(tmp_path, target=3, times=1, pause=0.02), items))
        assert out == {i: 2 * i for i in items}
        assert len(list(tmp_path.glob("kill-3-*"))) == 1  # it really died once

    def test_a_task_that_always_kills_its_worker_is_recorded(self, make_executor: Any, tmp_path: Path) -> None:
        if not self.isolated:
            pytest.skip("tasks run in this process")
        executor = make_executor(allowed_failures=1)
        out = self._collect(executor.imap(KillWorker(tmp_path, target=1, times=None), [0, 1, 2, 3]))
        assert isinstance(out[1], TaskFailed) and out[1].crashed
        for i in (0, 2, 3):
            if self.innocent_tasks_may_crash and isinstance(out[i], TaskFailed):
                assert out[i].crashed
            else:
                assert out[i] == 2 * i
        assert len(list(tmp_path.glob("kill-1-*"))) >= 2  # it was retried before being given up on

    def test_a_worker_killer_does_not_take_its_chunk_with_it(self, make_executor: Any, tmp_path: Path) -> None:
        if not self.isolated or not self.repeated_kills:
            pytest.skip("tasks run in this process" if not self.isolated else "repeated worker kills disabled")
        executor = make_executor(allowed_failures=1, chunk_size=4)
        out = self._collect(executor.imap(KillWorker(tmp_path, target=1, times=None), [0, 1, 2, 3]))
        assert isinstance(out[1], TaskFailed) and out[1].crashed
        assert {i: out[i] for i in (0, 2, 3)} == {0: 0, 2: 4, 3: 6}  # rerun alone, they all finish

    def test_one_task_failing_stops_with_stop_policy_but_not_earlier_results(self, executor: Any) -> None:
        items = [(i, i == 9) for i in range(10)]
        seen = []
        with pytest.raises(TaskError):
            for position, value in executor.imap(fail_on, items, on_error="stop"):
                seen.append(position)
        assert set(seen) <= set(range(9))
