"""``config_from = <tune run id>``: reuse a tuned proxy configuration in any proxy table.

A ``tune`` run stores ``proxy_table`` (the ``[proxy]`` options with the tuned ones over them) in
its summary; a later run's proxy table (``[proxy]`` of a score run, ``proxy`` of a proxy objective,
a member of an ensemble, ...) that holds ``config_from`` is replaced by it before the run builds
its parts, with the keys given next to ``config_from`` overriding the tuned ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import attrs

from nasplug.core.errors import ConfigError, StoreError
from nasplug.core.store import Store


def _mentions_config_from(value: Any) -> bool:
    if isinstance(value, Mapping):
        return "config_from" in value or any(_mentions_config_from(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_config_from(v) for v in value)
    return False


def tuned_table(table: Mapping[str, Any], store: Store, where: str) -> dict[str, Any]:
    """``table`` with its ``config_from`` replaced by the proxy table the tune run stored; keys
    given in ``table`` override the tuned ones."""
    ref = table["config_from"]
    if isinstance(ref, bool) or not (isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit())):
        raise ConfigError(f"config key '{where}.config_from' must be the id of a finished tune run, got {ref!r}")
    rid = int(ref)
    rec = store.run(rid)
    if rec.kind != "tune":
        raise StoreError(f"run {rid} in {store.path} is a {rec.kind} run, not a tune run; give {where}.config_from the id of a tune run")
    if rec.status != "finished" or not rec.result or "proxy_table" not in rec.result:
        raise StoreError(f"tune run {rid} in {store.path} has not finished (status {rec.status}); resume it before using its configuration")
    tuned = dict(rec.result["proxy_table"])
    name = table.get("name", tuned.get("name"))
    if name != tuned.get("name"):
        raise ConfigError(f"'{where}' names proxy '{name}' but tune run {rid} tuned '{tuned.get('name')}'; name the same proxy or drop 'name'")
    return {**tuned, **{k: v for k, v in table.items() if k != "config_from"}}


def _resolve(value: Any, store: Store, where: str) -> Any:
    if isinstance(value, Mapping):
        out = {k: _resolve(v, store, f"{where}.{k}") for k, v in value.items()}
        return tuned_table(out, store, where) if "config_from" in out else out
    if isinstance(value, list):
        return [_resolve(v, store, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def resolve_config_from(config: Any, store_path: str | Path) -> Any:
    """``config`` with every part table holding ``config_from = <run id>`` replaced by the proxy
    table that tune run stored in ``store_path`` (the run's own store). The raw config (and so the
    config hash) keeps ``config_from``."""
    if not _mentions_config_from(config.parts):
        return config
    with Store(store_path, read_only=True) as store:
        parts = {key: _resolve(table, store, key) for key, table in config.parts.items()}
    return attrs.evolve(config, parts=parts)
