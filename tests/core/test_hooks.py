"""Lifecycle hooks fire in order, and a plugin can observe a whole run."""

from nasplug.core.hookspecs import hookimpl
from nasplug.core.plugins import plugin_manager
from nasplug.core.registry import Registry
from nasplug.core.runs import run
from nasplug.core.testing import HillClimb, ToySpace


class Recorder:
    def __init__(self):
        self.events = []

    @hookimpl
    def nasplug_run_start(self, run):
        self.events.append(("start", run.kind))

    @hookimpl
    def nasplug_before_evaluation(self, run, seq, arch):
        self.events.append(("before", seq))

    @hookimpl
    def nasplug_after_evaluation(self, run, record):
        self.events.append(("after", record.seq))

    @hookimpl
    def nasplug_run_end(self, run, result):
        self.events.append(("end", result["queries"]))


def test_hooks_see_the_whole_run(tmp_path):
    reg = Registry()
    reg.register("space", "toy", ToySpace)
    reg.register("strategy", "hill-climb", HillClimb)
    recorder = Recorder()
    plugin_manager().register(recorder)
    try:
        run({"kind": "search", "space": "toy", "strategy": "hill-climb", "objective": {"name": "benchmark", "metric": "accuracy"},
             "search": {"queries": 3, "batch_size": 3}, "store": {"path": str(tmp_path / "h.db")}}, registry=reg)
    finally:
        plugin_manager().unregister(recorder)
    assert recorder.events == [("start", "search"), ("before", 0), ("before", 1), ("before", 2),
                               ("after", 0), ("after", 1), ("after", 2), ("end", 3)]


def test_store_and_progress_are_hook_plugins():
    names = [name for name, _ in plugin_manager().list_name_plugin()]
    assert "nasplug.progress" in names
