"""Errors that reach a user: each says what is wrong and how to fix it, on one line.

The CLI turns any :class:`NasplugError` into ``error: <message>`` and exit status 2; anything else
is a bug in nasplug or a plugin and keeps its traceback.
"""

from __future__ import annotations


class NasplugError(Exception):
    """A problem with the user's input or environment, with a one-line message naming the fix."""


class ConfigError(NasplugError, ValueError):
    """A run configuration (TOML file or dict) is malformed or has an invalid option."""


class UnknownPluginError(NasplugError, LookupError):
    """A configuration names a plugin that no installed package registers."""


class PluginLoadError(NasplugError, ImportError):
    """A plugin is registered but its module could not be imported or its object is unusable."""


class BenchmarkError(NasplugError, FileNotFoundError):
    """A benchmark file is missing, unreadable or lacks the requested metric."""


class ArchitectureError(NasplugError, ValueError):
    """An architecture (string or object) is not a member of the search space."""


class BudgetError(NasplugError, ValueError):
    """A budget cannot be met, e.g. more labels are requested than the pool holds."""


class StoreError(NasplugError, RuntimeError):
    """The result store cannot serve the request: unknown run id, foreign database, bad resume."""


class RunFailedError(NasplugError, RuntimeError):
    """A run finished, but too many of its evaluations failed (``fail_share``) to trust it."""
