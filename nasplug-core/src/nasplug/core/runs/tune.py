"""``tune`` runs: search a proxy's own configuration against a few benchmarked architectures
(Discrete Proxy Search, Li et al., ICCV 2023, Sec. 2.2; METHODS.md 2.2).

The run is generic: the proxy class exposes ``tuning_space()``, an object with
``sample(rng) -> dict``, ``mutate(config, rng, probability) -> dict`` and ``encode(config) -> str``
whose configurations are dicts of the proxy's own options (and, for ``tune.include_base``,
``from_options(config) -> dict``: a proxy config object as a configuration of the space). Regularised (aging) evolution: the
first ``population`` configurations are random; after that each child mutates the fittest of
``sample`` configurations drawn from the latest ``population``. A configuration's fitness is the
Spearman correlation between the proxy's direction-adjusted scores and the benchmark ``metric``
on ``archs`` architectures drawn by the run seed (non-finite scores ranked last; a NaN
correlation, e.g. constant scores, counts as -1 before it enters the evolution).

Every (configuration, architecture) pair is one task of the run's executor, so a batch of
configurations is scored in parallel; a configuration is committed to the store as soon as its
last architecture arrives (``arch`` = its encoded form, ``value`` = ``fitness`` = its Spearman,
``info`` = the configuration and its scores), so a killed run resumes where it stopped and ends
as an uninterrupted one. A configuration proposed again is answered from the run's record.

The summary holds ``best_config`` (the tuned options) and ``proxy_table`` (the full proxy table:
the ``[proxy]`` options with the tuned ones over them). A later run reuses it with
``config_from = <tune run id>`` in any proxy table (``[proxy]`` of a score run, ``proxy`` of a
proxy objective), resolved by :func:`resolve_config_from`; keys given next to ``config_from``
override the tuned ones.
"""

from __future__ import annotations

import math
import time
from collections import deque
from pathlib import Path
from typing import Any, Hashable, Mapping

import attrs
import numpy as np

from nasplug.core import metrics
from nasplug.core.errors import ArchitectureError, BenchmarkError, BudgetError, ConfigError, StoreError
from nasplug.core.runs.base import RunContext, RunKind
from nasplug.core.seeding import derive_rng, derive_seed
from nasplug.core.store import EvaluationRecord, Store


class _PairScorer:
    """Picklable: score one architecture with one configured proxy and time it."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def __call__(self, item: tuple[Any, Hashable]) -> tuple[float, float]:
        proxy, arch = item
        start = time.perf_counter()
        value = float(proxy.score(arch, self.ctx))
        return value, time.perf_counter() - start


def ranked_fitness(proxy: Any, values: Any) -> np.ndarray:
    """The proxy's values in higher-is-better form, non-finite ones ranked below every finite one."""
    fitness = np.array([proxy.fitness(v) if math.isfinite(v) else -math.inf for v in values], dtype=float)
    finite = np.isfinite(fitness)
    floor = float(np.min(fitness[finite])) - 1.0 if np.any(finite) else 0.0
    return np.where(finite, fitness, floor)


class TuneRun(RunKind):
    """Regularised evolution over a proxy's configuration space (see the module docstring)."""

    def __init__(self, config, registry, space) -> None:
        super().__init__(config, registry, space)
        o = self.options = config.options
        self.table = dict(config.parts["proxy"])
        self.name = self.table["name"]
        self.base = registry.create("proxy", self.table, section="proxy", space=space)
        factory = getattr(type(self.base), "tuning_space", None)
        if factory is None:
            raise ConfigError(
                f"proxy '{self.name}' has no tuning space; tune runs need a proxy whose class defines tuning_space() (e.g. eproxy)")
        self.tuning = factory()
        if o.include_base and not hasattr(self.tuning, "from_options"):
            raise ConfigError(f"tune.include_base = true needs a tuning space with from_options(); proxy '{self.name}' has none; set it to false")
        self.benchmark = space.load_benchmark(config.benchmark.path)
        self.benchmark.check_metric(o.metric)
        if isinstance(o.archs, list):
            self.archs = []
            for i, text in enumerate(o.archs):
                try:
                    self.archs.append(space.parse(text))
                except ArchitectureError as exc:
                    raise ArchitectureError(f"config key 'tune.archs[{i}]': {exc}") from None
        else:
            size = space.size()
            if size is not None and o.archs > size:
                raise BudgetError(f"tune.archs = {o.archs} exceeds the {size} architectures of the space; lower it")
            self.archs = space.sample_many(o.archs, derive_rng(config.seed, "archs"))
        self.keys = [space.canonical(a) for a in self.archs]
        self.truth = self.benchmark.query_many(self.archs, o.metric)
        missing = [k for k, t in zip(self.keys, self.truth) if not math.isfinite(t)]
        if missing:
            raise BenchmarkError(f"benchmark metric '{o.metric}' has no value for {missing[0]}; choose another metric or other architectures")
        from nasplug.core.data import proxy_context

        self.ctx = proxy_context(self.base, config.data, derive_seed(config.seed, "proxy"), self.name)
        self.build(self.tuning.sample(derive_rng(config.seed, "check")))  # the space's options must be valid here

    def total(self) -> int:
        return self.options.configurations

    def build(self, configuration: Mapping[str, Any]) -> Any:
        """The proxy with ``configuration`` over the ``[proxy]`` table's options."""
        return self.registry.create("proxy", {**self.table, **configuration}, section="proxy", space=self.space)

    # --- evolution ------------------------------------------------------------------------
    def _child(self, population: deque, rng: np.random.Generator) -> dict[str, Any]:
        o = self.options
        members = list(population)
        picks = rng.choice(len(members), size=min(o.sample, len(members)), replace=False)
        parent = max((members[int(i)] for i in picks), key=lambda m: m[1])
        return self.tuning.mutate(parent[0], rng, o.mutation_probability)

    def execute(self, run: RunContext) -> dict[str, Any]:
        o = self.options
        stored = {r.seq: r for r in run.store.evaluations(run.id)}
        run.completed = len(stored)
        rng = derive_rng(self.config.seed, "tune")
        population: deque = deque()
        seen: dict[str, EvaluationRecord] = {}
        history: list[EvaluationRecord] = []
        seq = 0
        while seq < o.configurations:
            if seq < o.population:
                n = min(o.population, o.configurations) - seq
                proposals = [self.tuning.sample(rng) for _ in range(n)]
                if seq == 0 and o.include_base:  # drawn anyway: the other members match a run without it
                    proposals[0] = self.tuning.from_options(self.base.config)
            else:
                n = min(o.batch_size, o.configurations - seq)
                proposals = [self._child(population, rng) for _ in range(n)]
            for configuration, rec in zip(proposals, self._evaluate(run, seq, proposals, stored, seen)):
                population.append((configuration, rec.fitness))
                if len(population) > o.population:
                    population.popleft()
                history.append(rec)
            seq += n
        return self._summary(history)

    def _evaluate(self, run: RunContext, seq0: int, proposals: list[dict[str, Any]], stored: dict[int, EvaluationRecord],
                  seen: dict[str, EvaluationRecord]) -> list[EvaluationRecord]:
        keys = [self.tuning.encode(c) for c in proposals]
        records: list[EvaluationRecord | None] = [None] * len(proposals)
        pending: dict[str, int] = {}
        for i, key in enumerate(keys):
            if seq0 + i in stored:
                rec = stored[seq0 + i]
                if rec.arch != key:
                    raise StoreError(f"resume diverged at configuration {seq0 + i} of run {run.id}; the tuning space is not deterministic under its seed")
                records[i] = rec
                if not rec.info.get("repeat"):
                    seen[key] = rec
            elif key not in seen and key not in pending:
                pending[key] = i
        todo = list(pending.values())
        proxies = {i: self.build(proposals[i]) for i in todo}
        for i in todo:
            run.starting(seq0 + i, keys[i])
        n_archs = len(self.archs)
        values = {i: [math.nan] * n_archs for i in todo}
        errors: dict[int, list[str]] = {i: [] for i in todo}
        walls = {i: 0.0 for i in todo}
        left = {i: n_archs for i in todo}
        items = [(proxies[i], arch) for i in todo for arch in self.archs]
        for position, result in run.executor.imap(_PairScorer(self.ctx), items):
            i, j = todo[position // n_archs], position % n_archs
            if isinstance(result, tuple):
                values[i][j], wall = result
                walls[i] += wall
            else:  # a failed task (the executor's on_error = "record"): ranked last, reason kept
                errors[i].append(f"{self.keys[j]}: {getattr(result, 'error', result)}")
            left[i] -= 1
            if left[i] == 0:
                rec = self._record(run.id, seq0 + i, keys[i], proposals[i], values[i], walls[i], errors[i])
                run.record(rec)
                records[i] = seen[keys[i]] = rec
        for i, key in enumerate(keys):
            if records[i] is None:
                first = seen[key]
                rec = EvaluationRecord(run.id, seq0 + i, key, first.value, first.fitness, 0.0, 0.0,
                                       {"repeat": True, "of": first.seq, "config": proposals[i]})
                run.record(rec)
                records[i] = rec
        return records  # type: ignore[return-value]

    def _record(self, run_id: int, seq: int, key: str, configuration: dict[str, Any], values: list[float],
                wall: float, errors: list[str]) -> EvaluationRecord:
        rho = metrics.spearman(ranked_fitness(self.base, values), self.truth)
        fitness = rho if math.isfinite(rho) else -1.0
        info: dict[str, Any] = {"config": configuration, "scores": [float(v) for v in values],
                                "seconds_per_arch": wall / len(values),
                                "non_finite": int(sum(not math.isfinite(v) for v in values))}
        if errors:
            info["errors"] = errors
        return EvaluationRecord(run_id, seq, key, rho, fitness, 0.0, wall, info)

    def _summary(self, history: list[EvaluationRecord]) -> dict[str, Any]:
        evaluated = [r for r in history if not r.info.get("repeat")]
        best = max(history, key=lambda r: (r.fitness, -r.seq))
        curve = np.maximum.accumulate([r.fitness for r in history]).tolist()
        seconds = [r.info["seconds_per_arch"] for r in evaluated]
        return {
            "proxy": self.name, "metric": self.options.metric, "archs": len(self.archs), "tuned_archs": self.keys,
            "configurations": len(history), "evaluated": len(evaluated),
            "best_seq": best.seq, "best_spearman": best.value, "best_fitness": best.fitness,
            "best_config": best.info["config"], "proxy_table": {**self.table, **best.info["config"]},
            "best_so_far": curve, "seconds_per_arch": float(np.mean(seconds)) if seconds else float("nan"),
        }


# --- config_from ------------------------------------------------------------------------------
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
    with Store(store_path, create=False) as store:
        parts = {key: _resolve(table, store, key) for key, table in config.parts.items()}
    return attrs.evolve(config, parts=parts)
