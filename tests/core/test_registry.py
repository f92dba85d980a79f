"""Registry: lazy lookup, unknown names, broken plugins, registration from code."""

from importlib import metadata

import pytest

from nasplug.core.errors import ConfigError, PluginLoadError, UnknownPluginError
from nasplug.core.hookspecs import hookimpl
from nasplug.core.plugins import plugin_manager
from nasplug.core.registry import Registry
from nasplug.core.testing import ToySpace


def test_unknown_name_lists_known_and_closest():
    with pytest.raises(UnknownPluginError) as info:
        Registry().load("strategy", "reaa")
    message = str(info.value)
    assert "did you mean 'rea'" in message and "random" in message
    assert "\n" not in message


def test_create_validates_options_naming_the_key():
    with pytest.raises(ConfigError, match=r"strategy\.population_size"):
        Registry().create("strategy", {"name": "rea", "population_size": "ten"}, space=ToySpace(), seed=0)
    with pytest.raises(ConfigError, match=r"strategy\.populaton_size.*did you mean 'population_size'"):
        Registry().create("strategy", {"name": "rea", "populaton_size": 10}, space=ToySpace(), seed=0)


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
    _FakeEntryPoints(monkeypatch, "nasplug.strategies", "broken", "nasplug_no_such_module:Thing")
    reg = Registry()
    assert "broken" in reg.names("strategy")
    with pytest.raises(PluginLoadError, match="strategy plugin 'broken'.*failed to load"):
        reg.load("strategy", "broken")
    infos = {i.name: i for i in reg.describe(["strategy"])}
    assert infos["broken"].error is not None
    assert infos["rea"].error is None and reg.load("strategy", "rea").__name__ == "RegularizedEvolution"


def test_allow_list_hides_other_distributions(monkeypatch):
    monkeypatch.setenv("NASPLUG_PLUGINS", "nasplug-core")
    reg = Registry()
    assert reg.names("strategy") == []
    assert "benchmark" in reg.names("objective")
