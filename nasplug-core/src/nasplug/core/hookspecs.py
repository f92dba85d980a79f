"""pluggy hook specifications of nasplug: the run lifecycle and registration from code.

Implement any of these in a module or object and register it with
``nasplug.core.plugins.plugin_manager().register(obj)``, or publish it under the entry-point
group ``nasplug.hooks``. The result store and the progress bars are implemented as plugins of these
hooks like any other.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("nasplug")
hookimpl = pluggy.HookimplMarker("nasplug")


@hookspec(historic=True)
def nasplug_register_parts(register: Callable[[str, str, type], None]) -> None:
    """Register parts from code, without an entry point (a notebook, a conftest).

    Call ``register(kind, name, cls)`` with ``kind`` one of ``space``, ``encoder``,
    ``predictor``, ``sampler``, ``proxy``, ``strategy``, ``objective``, ``executor``. Historic:
    plugins registered after the registry was built are still asked.
    """


@hookspec
def nasplug_run_start(run: Any) -> None:
    """A run begins (or resumes); ``run`` is the :class:`nasplug.core.runs.base.RunContext`."""


@hookspec
def nasplug_before_evaluation(run: Any, seq: int, arch: Any) -> None:
    """Evaluation number ``seq`` of ``arch`` is being submitted to the executor (not called for
    evaluations replayed from the store on resume, nor for repeats answered from the record)."""


@hookspec
def nasplug_after_evaluation(run: Any, record: Any) -> None:
    """An evaluation finished; ``record`` is a :class:`nasplug.core.store.EvaluationRecord`."""


@hookspec
def nasplug_after_round(run: Any, round: int, labelled: list[int], metrics: dict[str, float]) -> None:
    """An active-learning round of a predict run finished, with its predictor metrics."""


@hookspec
def nasplug_run_end(run: Any, result: dict[str, Any]) -> None:
    """A run completed with its summary ``result``."""


@hookspec
def nasplug_add_commands(subparsers: Any) -> None:
    """Add subcommands to the ``nasplug`` CLI: ``subparsers`` is argparse's; set ``func`` with
    ``set_defaults(func=handler)``, where ``handler(args) -> int`` returns the exit status."""
