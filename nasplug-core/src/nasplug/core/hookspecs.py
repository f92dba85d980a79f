"""pluggy hook specifications of nasplug: the run lifecycle and registration from code.

Implement any of these in a module or object and register it with
``nasplug.core.plugins.plugin_manager().register(obj)``, or publish it under the entry-point
group ``nasplug.hooks``. The result store and the progress bars are implemented as plugins of these
hooks like any other. Hooks run in the process that drives the run (never in executor workers),
in pluggy's order (last registered first); an exception raised by a hook stops the run, which is
stored as ``failed`` (``interrupted`` for ``KeyboardInterrupt``) and can be resumed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import pluggy

if TYPE_CHECKING:
    import argparse

    from nasplug.core.runs.base import RunContext
    from nasplug.core.store import EvaluationRecord

hookspec = pluggy.HookspecMarker("nasplug")
hookimpl = pluggy.HookimplMarker("nasplug")


@hookspec(historic=True)
def nasplug_register_parts(register: Callable[[str, str, type], None]) -> None:
    """Register parts from code, without an entry point (a notebook, a conftest).

    Called once for every :class:`~nasplug.core.registry.Registry` built, including those built
    before the plugin was registered (the hook is historic).

    :param register: call ``register(kind, name, cls)``, ``kind`` one of ``space``, ``encoder``,
        ``predictor``, ``sampler``, ``proxy``, ``strategy``, ``objective``, ``executor``, ``run``;
        a name registered from code takes precedence over an entry point of the same name.
    :return: ignored.
    """


@hookspec
def nasplug_run_start(run: RunContext) -> None:
    """A run begins, or resumes (``run.resumed``), after every part was built and checked and
    the run was created in the store, before its first evaluation.

    :param run: the run in progress: id, kind, config, space, store, registry, executor.
    :return: ignored.
    """


@hookspec
def nasplug_before_evaluation(run: RunContext, seq: int, arch: Any) -> None:
    """Evaluation number ``seq`` of ``arch`` is being submitted to the executor.

    Not called for evaluations replayed from the store on resume, nor for repeated proposals
    answered from the run's record.

    :param run: the run in progress.
    :param seq: the evaluation's sequence number in the run (0-based, over proposals).
    :param arch: the architecture (or configuration) as the run's strategy proposed it.
    :return: ignored.
    """


@hookspec
def nasplug_after_evaluation(run: RunContext, record: EvaluationRecord) -> None:
    """An evaluation finished (or failed: ``record.info["failed"]``) and is handed to the store.

    The store's own recorder implements this hook, so the record is committed when every
    implementation has returned; raising stops the run before later evaluations are made.

    :param run: the run in progress.
    :param record: seq, canonical architecture, raw value, fitness, simulated cost, wall time, info.
    :return: ignored.
    """


@hookspec
def nasplug_after_round(run: RunContext, round: int, labelled: list[int], metrics: dict[str, float]) -> None:
    """An active-learning round of a ``predict`` run finished and its predictor was scored.

    :param run: the run in progress.
    :param round: the round number (0 for the initial labels).
    :param labelled: pool indices of every architecture labelled so far, in labelling order.
    :param metrics: the predictor's metrics on the unlabelled pool (``kendall_tau``, ...).
    :return: ignored.
    """


@hookspec
def nasplug_after_epoch(run: RunContext, epoch: int, metrics: dict[str, float]) -> None:
    """A training epoch of a ``oneshot`` run finished and its supernet checkpoint is written.

    The store's own recorder implements this hook to commit the epoch's metrics.

    :param run: the run in progress.
    :param epoch: the epoch number (0 for the first).
    :param metrics: training loss and accuracy, validation accuracy of the run's evaluation
        architectures with inherited weights, their ranking quality against the benchmark when
        one is configured, and seconds.
    :return: ignored.
    """


@hookspec
def nasplug_run_end(run: RunContext, result: dict[str, Any]) -> None:
    """A run completed; ``result`` is the summary just stored with it.

    :param run: the finished run.
    :param result: the summary (best architecture, budget used, metrics, ``run_seconds``).
    :return: ignored.
    """


@hookspec
def nasplug_add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add subcommands to the ``nasplug`` CLI when it builds its parser.

    :param subparsers: argparse's subparsers object; set ``func`` with
        ``set_defaults(func=handler)``, where ``handler(args) -> int`` returns the exit status.
    :return: ignored.
    """
