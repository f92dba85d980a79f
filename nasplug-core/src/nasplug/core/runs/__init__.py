"""The runner: ``search``, ``predict`` and ``score`` runs over any combination of parts.

Use :func:`nasplug.core.runs.run` from Python (a dict or TOML path) or ``nasplug run`` from the
shell; both validate the whole configuration, build every part and check the benchmark before
writing anything to the store.
"""

from nasplug.core.runs.base import RunContext, RunResult, run

__all__ = ["RunContext", "RunResult", "run"]
