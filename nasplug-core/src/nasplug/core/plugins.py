"""The process-wide pluggy plugin manager for nasplug's hooks.

Hook plugins published under the entry-point group ``nasplug.hooks`` are loaded on first use,
unless ``NASPLUG_DISABLE_PLUGIN_AUTOLOAD`` is set (as pytest's variable of the same idea).
"""

from __future__ import annotations

import os

import pluggy

from nasplug.core import hookspecs

HOOKS_GROUP = "nasplug.hooks"
_manager: pluggy.PluginManager | None = None


def plugin_manager() -> pluggy.PluginManager:
    """The shared plugin manager (created, with hook specs and entry-point hooks, on first use)."""
    global _manager
    if _manager is None:
        pm = pluggy.PluginManager("nasplug")
        pm.add_hookspecs(hookspecs)
        from nasplug.core.progress import ProgressBars

        pm.register(ProgressBars(), name="nasplug.progress")
        if not os.environ.get("NASPLUG_DISABLE_PLUGIN_AUTOLOAD"):
            pm.load_setuptools_entrypoints(HOOKS_GROUP)
        pm.check_pending()
        _manager = pm
    return _manager
