"""Registries of parts: one stevedore-backed entry-point group per kind, plus parts registered
from code through the ``nasplug_register_parts`` hook.

Discovery goes through stevedore's public API: listing names reads entry-point metadata only
(``ExtensionManager.list_entry_points``); a part's module is imported when a run asks for it by
name. A name registered by two distributions is announced with a :class:`DuplicatePluginWarning`
naming both and the one that wins (the first found on ``sys.path``). A plugin that fails to import is reported by name (``nasplug plugins``
lists it under failures) while the others keep working. An unknown name fails with the known names
and the closest match. ``NASPLUG_PLUGINS`` (comma-separated distribution names) restricts which
installed distributions' parts are visible.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import os
import warnings
from importlib import metadata
from typing import Any, Iterable, Iterator, Mapping

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
    "run": "nasplug.runs",
    "oneshot": "nasplug.oneshot",
}


class DuplicatePluginWarning(UserWarning):
    """Two installed distributions register the same part name; one of them is hidden."""


@attrs.frozen
class PluginInfo:
    """One registered part as ``nasplug plugins`` shows it."""

    kind: str
    name: str
    package: str
    summary: str
    error: str | None = None
    version: str = ""


def _allowed_distributions() -> set[str] | None:
    raw = os.environ.get("NASPLUG_PLUGINS", "").strip()
    if not raw:
        return None
    return {d.strip().lower().replace("_", "-") for d in raw.split(",") if d.strip()}


@attrs.frozen
class _Listed:
    """An entry point as stevedore lists it, with the distribution that declares it."""

    name: str
    value: str
    dist: str
    version: str


def _listed(group: str) -> list[_Listed]:
    """The entry points of ``group`` as stevedore lists them (nothing is imported). stevedore's
    cached entry points do not carry their distribution, so it is looked up in the metadata."""
    manager = stevedore.NamedExtensionManager(namespace=group, names=[], on_missing_entrypoints_callback=None)
    owners: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        owners.setdefault((ep.name, ep.value), []).append(
            (dist.metadata["Name"], dist.version) if dist is not None else ("?", ""))
    out = []
    for ep in manager.list_entry_points():
        candidates = owners.get((ep.name, ep.value)) or [("?", "")]
        dist, version = candidates.pop(0) if len(candidates) > 1 else candidates[0]
        out.append(_Listed(ep.name, ep.value, dist, version))
    return out


class Registry:
    """Lookup and construction of parts by kind and name."""

    def __init__(self, plugin_manager: Any | None = None) -> None:
        self._code: dict[str, dict[str, type]] = {k: {} for k in GROUPS}
        self._loaded: dict[tuple[str, str], type] = {}
        self._failures: dict[tuple[str, str], str] = {}
        self._warned: set[tuple[str, str]] = set()
        #: Entry points per group, read once per registry: a new registry sees what is installed
        #: now, an existing one keeps what it listed first.
        self._listing: dict[str, list[_Listed]] = {}
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

    def _entry_points(self, kind: str) -> dict[str, _Listed]:
        allowed = _allowed_distributions()
        out: dict[str, _Listed] = {}
        group = GROUPS[kind]
        if group not in self._listing:
            stevedore.ExtensionManager.ENTRY_POINT_CACHE.pop(group, None)
            self._listing[group] = _listed(group)
        for ep in self._listing[group]:
            if allowed is not None and ep.dist.lower().replace("_", "-") not in allowed:
                continue
            first = out.setdefault(ep.name, ep)
            if first is not ep and first.dist != ep.dist and (kind, ep.name) not in self._warned:
                self._warned.add((kind, ep.name))
                warnings.warn(
                    f"{kind} '{ep.name}' is registered by two distributions, {first.dist} {first.version} "
                    f"({first.value}) and {ep.dist} {ep.version} ({ep.value}); using {first.dist}'s, "
                    f"the first on sys.path. Uninstall one, or choose with NASPLUG_PLUGINS", DuplicatePluginWarning, stacklevel=3)
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

        winner = eps[name]

        def pick_winner(_namespace: str, _name: str, extensions: list[Any]) -> Any:
            return next((e for e in extensions if e.entry_point.value == winner.value), extensions[0])

        try:
            manager = stevedore.NamedExtensionManager(
                namespace=GROUPS[kind], names=[name], invoke_on_load=False,
                on_load_failure_callback=on_failure, conflict_resolver=pick_winner)
            loaded = [e for e in manager.extensions if e.entry_point.value == winner.value]
        except (SystemExit, KeyboardInterrupt) as exc:  # stevedore catches Exception only
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"SystemExit({exc.code!r}) raised while importing it")
            loaded = []
        if not loaded:
            reason = failures[0] if failures else "entry point did not load"
            self._failures[(kind, name)] = reason
            raise PluginLoadError(
                f"{kind} plugin '{name}' from package {winner.dist} failed to load ({reason}); reinstall that package or remove it")
        cls = loaded[0].plugin
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
                from_ep = name in eps and name not in self._code[kind]
                package = eps[name].dist if from_ep else "(registered from code)"
                version = eps[name].version if from_ep else ""
                try:
                    cls = self.load(kind, name)
                except PluginLoadError as exc:
                    infos.append(PluginInfo(kind, name, package, "", str(exc), version))
                    continue
                infos.append(PluginInfo(kind, name, package, cls.summary(), None, version))
        return infos


_default: Registry | None = None
_active: contextvars.ContextVar[Registry | None] = contextvars.ContextVar("nasplug_registry", default=None)


def registry() -> Registry:
    """The registry of the run being built (see :func:`using`), else the process-wide one."""
    active = _active.get()
    if active is not None:
        return active
    global _default
    if _default is None:
        _default = Registry()
    return _default


@contextlib.contextmanager
def using(reg: Registry) -> Iterator[Registry]:
    """Make ``reg`` the registry that :func:`registry` and :func:`create_part` return while a run
    builds its parts, so that parts nested in other parts (an ensemble's members, a predictor's
    encoder, a guided strategy's sampler) come from the run's registry too."""
    token = _active.set(reg)
    try:
        yield reg
    finally:
        _active.reset(token)


def create_part(kind: str, spec: str | Mapping[str, Any], section: str, **deps: Any) -> Any:
    """Build a part nested in another part's options (``spec`` checked by
    :func:`nasplug.core.options.part_spec`) through the active registry."""
    return registry().create(kind, spec, section=section, **deps)
