"""Registries of parts: one stevedore-backed entry-point group per kind, plus parts registered
from code through the ``nasplug_register_parts`` hook.

Loading is lazy: listing names reads entry-point metadata only; a part's module is imported when
a run asks for it by name. A plugin that fails to import is reported by name (``nasplug plugins``
lists it under failures) while the others keep working. An unknown name fails with the known names
and the closest match. ``NASPLUG_PLUGINS`` (comma-separated distribution names) restricts which
installed distributions' parts are visible.
"""

from __future__ import annotations

import difflib
import os
from importlib import metadata
from typing import Any, Iterable, Mapping

import attrs
import stevedore

from nasplug.core.errors import ConfigError, PluginLoadError, UnknownPluginError
from nasplug.core.options import build_config

#: kind -> entry-point group
GROUPS: dict[str, str] = {
    "space": "nasplug.spaces",
    "encoder": "nasplug.encoders",
    "predictor": "nasplug.predictors",
    "sampler": "nasplug.samplers",
    "proxy": "nasplug.proxies",
    "strategy": "nasplug.strategies",
    "objective": "nasplug.objectives",
    "executor": "nasplug.executors",
}


@attrs.frozen
class PluginInfo:
    """One registered part as ``nasplug plugins`` shows it."""

    kind: str
    name: str
    package: str
    summary: str
    error: str | None = None


def _allowed_distributions() -> set[str] | None:
    raw = os.environ.get("NASPLUG_PLUGINS", "").strip()
    if not raw:
        return None
    return {d.strip().lower().replace("_", "-") for d in raw.split(",") if d.strip()}


def _dist_name(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else "?"


class Registry:
    """Lookup and construction of parts by kind and name."""

    def __init__(self, plugin_manager: Any | None = None) -> None:
        self._code: dict[str, dict[str, type]] = {k: {} for k in GROUPS}
        self._loaded: dict[tuple[str, str], type] = {}
        self._failures: dict[tuple[str, str], str] = {}
        if plugin_manager is None:
            from nasplug.core.plugins import plugin_manager as get_pm
            plugin_manager = get_pm()
        plugin_manager.hook.nasplug_register_parts.call_historic(kwargs={"register": self.register})

    # --- registration ---------------------------------------------------------------------
    def register(self, kind: str, name: str, cls: type) -> None:
        """Register ``cls`` as part ``name`` of ``kind`` from code (overrides an entry point)."""
        self._check_kind(kind)
        expected = GROUPS[kind]
        if getattr(cls, "group", expected) != expected:
            raise PluginLoadError(f"{cls.__name__} is a part of group {cls.group}, not {expected}; register it as the right kind")
        self._code[kind][name] = cls

    def unregister(self, kind: str, name: str) -> None:
        self._code[kind].pop(name, None)
        self._loaded.pop((kind, name), None)

    # --- lookup ---------------------------------------------------------------------------
    def _check_kind(self, kind: str) -> None:
        if kind not in GROUPS:
            raise ConfigError(f"unknown part kind '{kind}'; kinds are {', '.join(GROUPS)}")

    def _entry_points(self, kind: str) -> dict[str, metadata.EntryPoint]:
        allowed = _allowed_distributions()
        out: dict[str, metadata.EntryPoint] = {}
        for ep in metadata.entry_points(group=GROUPS[kind]):
            if allowed is not None and _dist_name(ep).lower().replace("_", "-") not in allowed:
                continue
            out.setdefault(ep.name, ep)
        return out

    def names(self, kind: str) -> list[str]:
        """Every registered name of ``kind`` (entry points and code), sorted, without importing."""
        self._check_kind(kind)
        return sorted(set(self._entry_points(kind)) | set(self._code[kind]))

    def load(self, kind: str, name: str) -> type:
        """The class registered as ``name``; imports its module on first use."""
        self._check_kind(kind)
        if name in self._code[kind]:
            return self._code[kind][name]
        if (kind, name) in self._loaded:
            return self._loaded[(kind, name)]
        eps = self._entry_points(kind)
        if name not in eps:
            known = self.names(kind)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UnknownPluginError(
                f"unknown {kind} '{name}'; {hint}known: {', '.join(known) or 'none (install a nasplug plugin package)'}")
        failures: list[str] = []

        def on_failure(_manager: Any, ep: Any, exc: BaseException) -> None:
            failures.append(f"{type(exc).__name__}: {exc}")

        manager = stevedore.NamedExtensionManager(
            namespace=GROUPS[kind], names=[name], invoke_on_load=False,
            on_load_failure_callback=on_failure)
        if failures or not manager.extensions:
            reason = failures[0] if failures else "entry point did not load"
            self._failures[(kind, name)] = reason
            raise PluginLoadError(
                f"{kind} plugin '{name}' from package {_dist_name(eps[name])} failed to load ({reason}); reinstall that package or remove it")
        cls = manager.extensions[0].plugin
        expected = GROUPS[kind]
        if not isinstance(cls, type) or getattr(cls, "group", None) != expected:
            raise PluginLoadError(
                f"{kind} plugin '{name}' ({eps[name].value}) is not a nasplug {kind} class; its package registers the wrong object")
        self._loaded[(kind, name)] = cls
        return cls

    def create(self, kind: str, spec: str | Mapping[str, Any], *, section: str | None = None, **deps: Any) -> Any:
        """Build a part from ``spec``: a name, or a table ``{name = ..., <options>}``."""
        section = section or kind
        if isinstance(spec, str):
            name, options = spec, {}
        elif isinstance(spec, Mapping):
            options = dict(spec)
            name = options.pop("name", None)
            if not isinstance(name, str) or not name:
                raise ConfigError(f"config section '{section}' needs a 'name' naming the {kind}; known: {', '.join(self.names(kind))}")
        else:
            raise ConfigError(f"config key '{section}' must be a {kind} name or a table with 'name', not {spec!r}")
        cls = self.load(kind, name)
        config = build_config(cls.Config, options, section)
        return cls(config, **deps)

    # --- listing --------------------------------------------------------------------------
    def describe(self, kinds: Iterable[str] | None = None) -> list[PluginInfo]:
        """Every part of ``kinds`` (all by default), importing each to read its docstring;
        parts that fail to import are returned with ``error`` set instead of raising."""
        infos: list[PluginInfo] = []
        for kind in kinds or GROUPS:
            eps = self._entry_points(kind)
            for name in self.names(kind):
                package = _dist_name(eps[name]) if name in eps and name not in self._code[kind] else "(registered from code)"
                try:
                    cls = self.load(kind, name)
                except PluginLoadError as exc:
                    infos.append(PluginInfo(kind, name, package, "", str(exc)))
                    continue
                infos.append(PluginInfo(kind, name, package, cls.summary()))
        return infos


_default: Registry | None = None


def registry() -> Registry:
    """The process-wide registry."""
    global _default
    if _default is None:
        _default = Registry()
    return _default
