"""Registry: lazy lookup, unknown names, broken plugins, registration from code."""

from importlib import metadata

import pytest

from nasplug.core.errors import ConfigError, PluginLoadError, UnknownPluginError
from nasplug.core.hookspecs import hookimpl
from nasplug.core.plugins import plugin_manager
from nasplug.core.registry import Registry
from nasplug.core.testing import HillClimb, ToySpace


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


class _FakeEntryPoints:
    """Adds a broken entry point to a real group, as an installed-but-broken package would."""

    def __init__(self, monkeypatch, group, name, value):
        real = metadata.entry_points
        broken = metadata.EntryPoint(name=name, value=value, group=group)

        def entry_points(**kw):
            eps = real(**kw)
            if kw.get("group") == group:
                return metadata.EntryPoints(list(eps) + [broken])
            return eps

        monkeypatch.setattr(metadata, "entry_points", entry_points)
        import stevedore._cache as cache

        original = cache._c.get_group_all

        def get_group_all(g, path=None):
            eps = original(g, path)
            return eps + [broken] if g == group else eps

        monkeypatch.setattr(cache._c, "get_group_all", get_group_all)


def test_broken_plugin_is_reported_and_others_keep_working(monkeypatch):
    monkeypatch.delenv("NASPLUG_PLUGINS", raising=False)
    _FakeEntryPoints(monkeypatch, "nasplug.objectives", "broken", "nasplug_no_such_module:Thing")
    reg = Registry()
    assert "broken" in reg.names("objective")
    with pytest.raises(PluginLoadError, match="objective plugin 'broken'.*failed to load"):
        reg.load("objective", "broken")
    infos = {i.name: i for i in reg.describe(["objective"])}
    assert infos["broken"].error is not None
    assert infos["benchmark"].error is None and reg.load("objective", "benchmark").__name__ == "BenchmarkObjective"


def test_allow_list_hides_other_distributions(monkeypatch):
    monkeypatch.setenv("NASPLUG_PLUGINS", "some-other-distribution")
    reg = Registry()
    assert reg.names("objective") == [] and reg.names("executor") == []
    monkeypatch.setenv("NASPLUG_PLUGINS", "nasplug-core")
    assert "benchmark" in Registry().names("objective")
