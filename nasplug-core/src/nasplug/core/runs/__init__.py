"""The runner: ``search``, ``predict`` and ``score`` runs over any combination of parts.

Use :func:`nasplug.core.runs.run` from Python (a dict or TOML path) or ``nasplug run`` from the
shell; both validate the whole configuration, build every part and check the benchmark before
writing anything to the store. :func:`nasplug.core.runs.run_seeds` runs a config once per seed.
"""

from nasplug.core.runs.base import RunContext, RunResult, run
from nasplug.core.runs.seeds import run_seeds

__all__ = ["RunContext", "RunResult", "run", "run_seeds"]
