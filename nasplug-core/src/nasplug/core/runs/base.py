"""Run driver shared by every run kind: validation, store bookkeeping, resume and hooks.

Run kinds are plugins of the ``nasplug.runs`` entry-point group, found through the registry like
any other part (nasplug-core registers ``search``, ``predict``, ``score`` and ``tune``). A new kind
is one module holding a :class:`RunKind` subclass plus one entry-point line::

    [project.entry-points."nasplug.runs"]
    oneshot = "my_package.oneshot:OneShotRun"
"""

from __future__ import annotations

import abc
import time
from pathlib import Path
from typing import Any, ClassVar, Mapping

import attrs

from nasplug.core.config import RunConfig, load_config
from nasplug.core.errors import ConfigError, RunFailedError, StoreError
from nasplug.core.hookspecs import hookimpl
from nasplug.core.interfaces.base import Part
from nasplug.core.interfaces.space import SearchSpace
from nasplug.core.plugins import plugin_manager
from nasplug.core.registry import Registry, using
from nasplug.core.registry import registry as default_registry
from nasplug.core.store import EvaluationRecord, Heartbeat, Store, current_store
from nasplug.core.tuned import resolve_config_from


@attrs.define
class RunContext:
    """What hooks and run kinds see of a run in progress."""

    id: int
    kind: str
    name: str
    config: RunConfig
    space: SearchSpace
    store: Store
    registry: Registry
    executor: Any
    resumed: bool = False
    #: Progress: units done (replayed ones included) out of ``total`` (``None`` if unknown).
    completed: int = 0
    total: int | None = None
    unit: str = "eval"

    @property
    def seed(self) -> int:
        return self.config.seed

    def starting(self, seq: int, arch: Any) -> None:
        """Tell the hooks that evaluation ``seq`` of ``arch`` is being submitted."""
        plugin_manager().hook.nasplug_before_evaluation(run=self, seq=seq, arch=arch)

    def record(self, record: EvaluationRecord) -> None:
        """Hand a finished evaluation to the hooks (the store recorder commits it)."""
        self.completed += 1 if self.unit == "eval" else 0
        plugin_manager().hook.nasplug_after_evaluation(run=self, record=record)

    def finish_epoch(self, epoch: int, metrics: dict[str, Any]) -> None:
        if self.unit == "epoch":
            self.completed = epoch + 1
        plugin_manager().hook.nasplug_after_epoch(run=self, epoch=epoch, metrics=metrics)

    def finish_round(self, round: int, labelled: list[int], metrics: dict[str, float]) -> None:
        if self.unit == "round":
            self.completed += 1
        plugin_manager().hook.nasplug_after_round(run=self, round=round, labelled=labelled, metrics=metrics)


@attrs.frozen
class RunResult:
    """The outcome of a run: its id, kind, store path and summary."""

    id: int
    kind: str
    store: str
    result: dict[str, Any]
    resumed: bool = False


class RunKind(Part, abc.ABC):
    """One kind of run. ``__init__`` builds and checks every part (raising ``NasplugError`` on
    bad input) before the store is touched; ``execute`` does the work, reading what a previous
    attempt stored so that a resumed run ends exactly as an uninterrupted one.

    Declared by the class: ``Config``, the ``attrs`` class of the kind's own table (``[search]``
    for ``kind = "search"``), and ``tables``, the part tables the kind needs besides ``[space]``
    (each a ``{name = ..., <options>}`` table). Parts are built with ``self.registry``."""

    group: ClassVar[str] = "nasplug.runs"
    #: Part tables the run needs besides ``[space]``, e.g. ``("strategy", "objective")``.
    tables: ClassVar[tuple[str, ...]] = ()
    #: What ``RunContext.completed`` counts: ``"eval"`` (evaluations), ``"round"`` or ``"epoch"``.
    unit: ClassVar[str] = "eval"

    def __init__(self, config: RunConfig, registry: Registry, space: SearchSpace) -> None:
        super().__init__(config)
        self.config: RunConfig = config
        self.registry = registry
        self.space = space

    def total(self) -> int | None:
        return None

    @abc.abstractmethod
    def execute(self, run: RunContext) -> dict[str, Any]:
        """Run to completion and return the summary stored with the run."""


class StoreRecorder:
    """Hook plugin committing every evaluation and round to the run's store as it finishes."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @hookimpl
    def nasplug_after_evaluation(self, run: RunContext, record: EvaluationRecord) -> None:
        self.store.add_evaluation(record)

    @hookimpl
    def nasplug_after_round(self, run: RunContext, round: int, labelled: list[int], metrics: dict[str, float]) -> None:
        self.store.add_round(run.id, round, labelled, metrics)

    @hookimpl
    def nasplug_after_epoch(self, run: RunContext, epoch: int, metrics: dict[str, Any]) -> None:
        self.store.add_epoch(run.id, epoch, metrics)


def build_kind(config: RunConfig, reg: Registry) -> RunKind:
    """The run kind of ``config`` with every part built (through ``reg``) and checked."""
    with using(reg):
        space = reg.create("space", config.parts["space"], section="space")
        return reg.load("run", config.kind)(config, reg, space)


def _too_many_failures(store: Store, rid: int, share: float, result: dict[str, Any]) -> str | None:
    """The error of a run in which at least ``share`` of the evaluations failed (noted in
    ``result`` too), or ``None``."""
    total = store.count_evaluations(rid)
    if not total:
        return None
    failures = store.failures(rid)
    if len(failures) < share * total:
        return None
    first = str(failures[0].info.get("error") or "unknown error").strip().splitlines()
    first_line = first[0] if first else "unknown error"
    result.update(failed=len(failures), error=first_line)
    return (f"run {rid}: {len(failures)} of {total} evaluations failed (fail_share = {share:g}); the first: {first_line}; "
            f"fix the cause and start a new run (the evaluations are kept in the store; 'nasplug show {rid}')")


def run(config: RunConfig | Mapping[str, Any] | str | Path, *, resume: bool = False, run_id: int | None = None,
        store_path: str | Path | None = None, registry: Registry | None = None) -> RunResult:
    """Execute a run described by ``config`` (a ``RunConfig``, a dict, or a TOML file path).

    With ``resume``, continue the store's latest run (or ``run_id``), which must have been made
    from the same configuration; a finished run is returned as stored.
    """
    reg = registry or default_registry()
    with using(reg):
        return _run(config, resume, run_id, store_path, reg)


def _run(config: RunConfig | Mapping[str, Any] | str | Path, resume: bool, run_id: int | None,
         store_path: str | Path | None, reg: Registry) -> RunResult:
    if isinstance(config, (str, Path)):
        config = load_config(config, registry=reg)
    elif not isinstance(config, RunConfig):
        config = RunConfig.from_dict(config, registry=reg)
    if config.seeds is not None:
        raise ConfigError("this config lists seeds (a run per seed); run it with nasplug.core.runs.run_seeds or 'nasplug run', or give one seed")
    if run_id is not None and not resume:
        raise ConfigError(f"--run {run_id} names a run to continue; add --resume (or drop --run to start a new run)")
    config = resolve_config_from(config, Path(store_path or config.store.path))
    token = current_store.set(str(store_path or config.store.path))
    try:
        kind = build_kind(config, reg)
    finally:
        current_store.reset(token)
    space = kind.space
    executor = reg.create("executor", config.parts["executor"], section="executor")
    executor.check()  # an unreachable scheduler fails here, before the run is stored

    path = Path(store_path or config.store.path)
    store = Store(path, create=not resume)
    try:
        if resume:
            target = store.run(run_id) if run_id is not None else store.latest_run()
            if target is None:
                raise StoreError(f"nothing to resume in {path}: it holds no runs; run without --resume")
            if run_id is None and target.config_hash != config.config_hash:
                same = [r.id for r in store.runs() if r.config_hash == config.config_hash]
                if same:
                    raise StoreError(f"the latest run in {path} (run {target.id}) was made from a different config; runs made from this "
                                     f"config: {', '.join(map(str, same[-10:]))}; pass --run ID to say which to continue")
                raise StoreError(f"no run in {path} was made from this config (the latest, run {target.id}, has config hash "
                                 f"{target.config_hash}, this config {config.config_hash}); run without --resume")
            if target.config_hash != config.config_hash:
                raise StoreError(
                    f"run {target.id} in {path} was made from a different config (hash {target.config_hash}, this config {config.config_hash}); resume with the original config or run without --resume")
            if target.status == "finished":
                return RunResult(target.id, target.kind, str(path), target.result or {}, resumed=True)
            rid = target.id
            store.acquire_lease(rid)  # refused while another live process runs it
            store.set_status(rid, "running")
        else:
            rid = store.create_run(config.kind, config.name, config.raw, config.config_hash, config.seed)
            store.acquire_lease(rid)
        heartbeat = Heartbeat(path, rid)
        ctx = RunContext(id=rid, kind=config.kind, name=config.name, config=config, space=space, store=store,
                         registry=reg, executor=executor, resumed=resume, total=kind.total(), unit=kind.unit)
        pm = plugin_manager()
        recorder = StoreRecorder(store)
        pm.register(recorder)
        started = time.perf_counter()
        failure: str | None = None
        try:
            pm.hook.nasplug_run_start(run=ctx)
            result = kind.execute(ctx)
            result["run_seconds"] = round(time.perf_counter() - started, 3)
            failure = _too_many_failures(store, rid, config.fail_share, result)
            store.set_status(rid, "failed" if failure else "finished", result)
            pm.hook.nasplug_run_end(run=ctx, result=result)
        except KeyboardInterrupt:
            store.set_status(rid, "interrupted")
            raise
        except BaseException:
            store.set_status(rid, "failed")
            raise
        finally:
            pm.unregister(recorder)
            executor.close()
            heartbeat.stop()
            store.release_lease(rid)
        if failure:
            raise RunFailedError(failure)
        return RunResult(rid, config.kind, str(path), result, resumed=resume)
    finally:
        store.close()
