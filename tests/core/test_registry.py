"""Registry: lazy lookup, unknown names, broken plugins, registration from code."""

import warnings

import pytest

from nasplug.core.errors import ConfigError, PluginLoadError, UnknownPluginError
from nasplug.core.hookspecs import hookimpl
from nasplug.core.plugins import plugin_manager
from nasplug.core.registry import DuplicatePluginWarning, Registry
from nasplug.core.testing import HillClimb, ToySpace
from nasplug.core.testing.distributions import install_distribution, uninstall_distribution


@pytest.fixture
def reg():
    registry = Registry()
    registry.register("space", "toy", ToySpace)
    registry.register("strategy", "hill-climb", HillClimb)
    return registry


def test_unknown_name_lists_known_and_closest(reg):
    with pytest.raises(UnknownPluginError) as info:
        reg.load("strategy", "hill-clime")
    message = str(info.value)
    assert "did you mean 'hill-climb'" in message and "known: " in message
    assert "\n" not in message
    with pytest.raises(UnknownPluginError, match="did you mean 'benchmark'"):
        reg.load("objective", "benchmarks")  # an entry point of nasplug-core itself


def test_create_validates_options_naming_the_key(reg):
    with pytest.raises(ConfigError, match=r"strategy\.restarts_after"):
        reg.create("strategy", {"name": "hill-climb", "restarts_after": "ten"}, space=ToySpace(), seed=0)
    with pytest.raises(ConfigError, match=r"strategy\.restart_after.*did you mean 'restarts_after'"):
        reg.create("strategy", {"name": "hill-climb", "restart_after": 10}, space=ToySpace(), seed=0)
    with pytest.raises(ConfigError, match=r"space\.choices"):
        reg.create("space", {"name": "toy", "choices": 0})


def test_register_from_code_through_the_hook():
    class Plugin:
        @hookimpl
        def nasplug_register_parts(self, register):
            register("space", "toy-from-hook", ToySpace)

    plugin = Plugin()
    plugin_manager().register(plugin)
    try:
        reg = Registry()
        assert "toy-from-hook" in reg.names("space")
        assert isinstance(reg.create("space", "toy-from-hook"), ToySpace)
    finally:
        plugin_manager().unregister(plugin)


def test_wrong_kind_is_refused():
    with pytest.raises(PluginLoadError):
        Registry().register("sampler", "toy", ToySpace)


@pytest.fixture
def dist_folder(tmp_path):
    """A folder for throwaway distributions, taken off sys.path after the test."""
    folder = tmp_path / "site"
    yield folder
    uninstall_distribution(folder)


def test_broken_plugin_is_reported_and_others_keep_working(monkeypatch, dist_folder):
    monkeypatch.delenv("NASPLUG_PLUGINS", raising=False)
    install_distribution(dist_folder, "nasplug-broken-example", {"nasplug.objectives": {"broken": "nasplug_no_such_module:Thing"}})
    reg = Registry()
    assert "broken" in reg.names("objective")
    with pytest.raises(PluginLoadError, match="objective plugin 'broken' from package nasplug-broken-example failed to load"):
        reg.load("objective", "broken")
    infos = {i.name: i for i in reg.describe(["objective"])}
    assert infos["broken"].error is not None and infos["broken"].version == "1.0"
    assert infos["benchmark"].error is None and reg.load("objective", "benchmark").__name__ == "BenchmarkObjective"
    assert infos["benchmark"].package == "nasplug-core" and infos["benchmark"].version


def test_a_plugin_that_exits_at_import_is_a_load_failure_not_an_exit(monkeypatch, dist_folder):
    monkeypatch.delenv("NASPLUG_PLUGINS", raising=False)
    install_distribution(dist_folder, "nasplug-exiting-example", {"nasplug.objectives": {"exiting": "nasplug_exiting_example:Thing"}},
                         modules={"nasplug_exiting_example": """
            import sys

            sys.exit(3)
        """})
    reg = Registry()
    with pytest.raises(PluginLoadError, match=r"'exiting' from package nasplug-exiting-example failed to load \(SystemExit\(3\)"):
        reg.load("objective", "exiting")
    assert {i.name: i for i in reg.describe(["objective"])}["exiting"].error is not None


def test_a_name_registered_by_two_distributions_warns_naming_both_and_the_winner(monkeypatch, dist_folder):
    monkeypatch.delenv("NASPLUG_PLUGINS", raising=False)
    install_distribution(
        dist_folder, "nasplug-shadow-example", {"nasplug.objectives": {"benchmark": "nasplug_shadow_example:Shadow"}},
        version="2.5", modules={"nasplug_shadow_example": """
            from nasplug.core.objectives import BenchmarkObjective

            class Shadow(BenchmarkObjective):
                "A copy of the benchmark objective under the same name."
        """})
    reg = Registry()
    with pytest.warns(DuplicatePluginWarning) as caught:
        cls = reg.load("objective", "benchmark")
    message = str(caught[0].message)
    assert "nasplug-shadow-example 2.5" in message and "nasplug-core" in message
    assert "using nasplug-shadow-example's" in message and "\n" not in message
    assert cls.__name__ == "Shadow"  # the winner named in the warning is the one loaded
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per registry, not at every lookup
        reg.names("objective")
    monkeypatch.setenv("NASPLUG_PLUGINS", "nasplug-core")
    assert Registry().load("objective", "benchmark").__name__ == "BenchmarkObjective"


def test_allow_list_hides_other_distributions(monkeypatch):
    monkeypatch.setenv("NASPLUG_PLUGINS", "some-other-distribution")
    reg = Registry()
    assert reg.names("objective") == [] and reg.names("executor") == []
    monkeypatch.setenv("NASPLUG_PLUGINS", "nasplug-core")
    assert "benchmark" in Registry().names("objective")


def test_the_cli_prints_the_duplicate_name_warning_on_one_line(dist_folder):
    import os
    import subprocess
    import sys

    install_distribution(
        dist_folder, "nasplug-shadow-example", {"nasplug.objectives": {"benchmark": "nasplug_shadow_example:Shadow"}},
        version="2.5", modules={"nasplug_shadow_example": """
            from nasplug.core.objectives import BenchmarkObjective

            class Shadow(BenchmarkObjective):
                "A copy of the benchmark objective under the same name."
        """})
    env = {**os.environ, "PYTHONPATH": str(dist_folder), "NASPLUG_PLUGINS": ""}
    out = subprocess.run([sys.executable, "-m", "nasplug.core", "plugins", "--kind", "objective"], env=env,
                         capture_output=True, text=True, check=True)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: objective 'benchmark' is registered by two distributions")
    assert "nasplug-shadow-example 2.5" in out.stdout
