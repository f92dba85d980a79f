"""Multi-seed runs: the same configuration once per seed, each seed stored as its own run.

Write ``seeds = [0, 1, 2]`` or ``seeds = "0-19"`` at the top of a config instead of ``seed``, or
pass ``nasplug run CONFIG --seeds 0-19`` (``--seeds`` wins over the file). The run of seed ``s``
is exactly the run of the config with ``seed = s`` (same config hash, same result), so a seed's
run can be compared with, or resumed as, a single run.

With the ``local`` executor the seeds run one after another in this process and every
evaluation is committed as it finishes. With ``process`` or ``dask`` each seed is one task: a
worker runs the whole seed (with a local executor inside, so workers do not nest pools) and
sends its evaluations back, and this process, the only writer of the store, commits the run in
one transaction when it arrives. A killed multi-seed run resumed with ``--resume`` keeps every
finished seed and reruns the others from their start.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import attrs

from nasplug.core.config import RunConfig, load_config, parse_seeds
from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.executor import TaskFailed
from nasplug.core.registry import Registry
from nasplug.core.registry import registry as default_registry
from nasplug.core.runs.base import RunResult, build_kind, run
from nasplug.core.store import Store
from nasplug.core.tuned import resolve_config_from


@attrs.frozen
class SeedOutcome:
    """What a worker sends back for one seed: the run's summary and everything it stored."""

    kind: str
    result: dict[str, Any]
    evaluations: list[Any]
    rounds: list[Any]


def seed_configs(config: RunConfig, seeds: Sequence[int], registry: Registry | None = None) -> list[RunConfig]:
    """The single-seed configurations of a multi-seed ``config`` (``seeds`` replaced by ``seed``)."""
    base = {k: v for k, v in config.raw.items() if k not in ("seeds", "seed")}
    return [RunConfig.from_dict({**base, "seed": int(s)}, registry=registry) for s in seeds]


class _RunSeed:
    """Picklable task: run one seed's config in a worker against a throwaway store and return
    what it stored (the calling process writes the real store)."""

    def __call__(self, config: RunConfig) -> SeedOutcome:
        from nasplug.core.plugins import plugin_manager

        pm = plugin_manager()
        if pm.has_plugin("nasplug.progress"):  # one bar per worker would garble the terminal
            pm.unregister(name="nasplug.progress")
        local = attrs.evolve(config, parts={**config.parts, "executor": {"name": "local"}})
        with tempfile.TemporaryDirectory(prefix="nasplug-seed-") as folder:
            path = Path(folder) / "seed.db"
            outcome = run(local, store_path=path)
            with Store(path, create=False) as store:
                return SeedOutcome(outcome.kind, outcome.result, store.evaluations(outcome.id), store.rounds(outcome.id))


def run_seeds(config: RunConfig | Mapping[str, Any] | str | Path, seeds: Sequence[int] | str | None = None, *,
              resume: bool = False, store_path: str | Path | None = None,
              registry: Registry | None = None) -> list[RunResult]:
    """Run ``config`` once per seed (``seeds``, else the config's own ``seeds``) through its
    executor; return one :class:`RunResult` per seed, in the order of ``seeds``. With
    ``resume``, seeds whose run is already stored (same config and seed) are taken from the
    store, or continued where they stopped, instead of run again."""
    reg = registry or default_registry()
    if isinstance(config, (str, Path)):
        config = load_config(config, registry=reg)
    elif not isinstance(config, RunConfig):
        config = RunConfig.from_dict(config, registry=reg)
    if seeds is not None:
        seeds = parse_seeds(seeds if isinstance(seeds, str) else list(seeds), "--seeds")
    elif config.seeds is not None:
        seeds = config.seeds
    else:
        raise ConfigError("no seeds to run; add seeds = [0, 1, 2] (or \"0-19\") to the config or pass --seeds 0-19")
    path = Path(store_path or config.store.path)
    # config_from is resolved here, where the store is, before a worker without access to it runs
    configs = [resolve_config_from(c, path) for c in seed_configs(config, seeds, reg)]
    executor = reg.create("executor", config.parts["executor"], section="executor")
    if getattr(executor, "in_process", False):
        executor.close()
        return [_run_here(c, resume, path, reg) for c in configs]
    return _run_in_workers(configs, executor, resume, path, reg)


def _previous(store: Store | None, config: RunConfig) -> Any:
    if store is None:
        return None
    runs = store.runs_with_hash(config.config_hash)
    return runs[-1] if runs else None


def _run_here(config: RunConfig, resume: bool, path: Path, reg: Registry) -> RunResult:
    previous = None
    if resume and path.exists():
        with Store(path, create=False) as store:
            previous = _previous(store, config)
    if previous is None:
        return run(config, store_path=path, registry=reg)
    return run(config, resume=True, run_id=previous.id, store_path=path, registry=reg)


def _run_in_workers(configs: list[RunConfig], executor: Any, resume: bool, path: Path, reg: Registry) -> list[RunResult]:
    # Build every part once here, so a bad option fails before anything is stored or sent.
    build_kind(configs[0], reg)
    results: dict[int, RunResult] = {}
    ids: dict[int, int] = {}
    store = Store(path)
    try:
        for i, config in enumerate(configs):
            previous = _previous(store, config) if resume else None
            if previous is not None and previous.status == "finished":
                results[i] = RunResult(previous.id, previous.kind, str(path), previous.result or {}, resumed=True)
            elif previous is not None:
                ids[i] = previous.id
                store.set_status(previous.id, "running")
            else:
                ids[i] = store.create_run(config.kind, config.name, config.raw, config.config_hash, config.seed)
        todo = sorted(ids)
        try:
            for position, out in executor.imap(_RunSeed(), [configs[i] for i in todo]):
                i = todo[position]
                rid = ids.pop(i)
                if isinstance(out, TaskFailed):
                    store.set_status(rid, "failed", {"error": out.error, "attempts": out.attempts})
                    results[i] = RunResult(rid, configs[i].kind, str(path), {"failed": True, "error": out.error}, resumed=resume)
                    continue
                store.finish_run(rid, out.evaluations, out.rounds, out.result)
                results[i] = RunResult(rid, out.kind, str(path), out.result, resumed=resume)
        except KeyboardInterrupt:
            for rid in ids.values():
                store.set_status(rid, "interrupted")
            raise
        except BaseException:
            for rid in ids.values():
                store.set_status(rid, "failed")
            raise
        finally:
            executor.close()
    finally:
        store.close()
    return [results[i] for i in range(len(configs))]
