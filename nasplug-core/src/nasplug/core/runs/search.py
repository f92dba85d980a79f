"""``search`` runs: a strategy optimises an objective under a query / simulated-time / wall budget."""

from __future__ import annotations

import math
import time
from typing import Any, Hashable, Iterator

import attrs
import numpy as np

from nasplug.core.drive import proposal_cap
from nasplug.core.errors import BudgetError, ConfigError, StoreError
from nasplug.core.fidelity import LEVEL_MARK, fidelity_levels, level_of, proposal_key, unwrap
from nasplug.core.executors.tasks import seeded
from nasplug.core.interfaces.executor import TaskFailed
from nasplug.core.interfaces.strategy import Told
from nasplug.core.options import number_in, one_of, optional_positive_int, positive_int, string_list
from nasplug.core.runs.base import RunContext, RunKind
from nasplug.core.seeding import derive_seed
from nasplug.core.store import EvaluationRecord
from nasplug.core.interfaces.capabilities import Benchmarked, require


def _fitness(objective: Any, proposal: Any, value: float) -> float:
    fitness = objective.fitness_of(proposal, value)
    return -math.inf if math.isnan(fitness) else fitness


class _Timed:
    """Picklable wrapper timing one objective evaluation, or one subtask of it (executors ship it
    to workers). Items are ``(arch, seed, subtask)``, ``subtask`` None for a whole evaluation:
    the global random streams are seeded from (run seed, architecture) for the call, so the value
    never depends on which worker ran it, or when."""

    def __init__(self, objective: Any) -> None:
        self.objective = objective

    def __call__(self, item: tuple[Hashable, int, int | None]) -> tuple[Any, float]:
        arch, seed, subtask = item
        with seeded(seed):
            start = time.perf_counter()
            if subtask is None:
                out = self.objective.evaluate(arch)
            else:
                out = self.objective.evaluate_subtask(arch, subtask)
            return out, time.perf_counter() - start


@attrs.frozen
class SearchOptions:
    """Budget and reporting of a search run. A query is one new evaluation of the objective;
    proposing an architecture already evaluated in the run costs nothing and is answered from the
    run's own record. ``report`` names benchmark metrics looked up for the best architecture.
    ``dedupe = "graph"`` extends that to the same network: a proposal whose ``graph_key``
    (e.g. an isomorphic NAS-Bench-201 cell) was evaluated is answered from that evaluation, so
    the query budget counts distinct networks (default ``"none"``: distinct architectures)."""

    queries: int | None = attrs.field(default=100, validator=optional_positive_int)
    seconds: float | None = attrs.field(default=None, validator=number_in(0, None, optional=True))
    wall_seconds: float | None = attrs.field(default=None, validator=number_in(0, None, optional=True))
    batch_size: int = attrs.field(default=1, validator=positive_int)
    report: list[str] = attrs.field(factory=list, validator=string_list)
    max_proposals: int | None = attrs.field(default=None, validator=optional_positive_int)
    dedupe: str = attrs.field(default="none", validator=one_of("none", "graph"))

    def __attrs_post_init__(self) -> None:
        if self.queries is None and self.seconds is None and self.wall_seconds is None:
            raise ValueError("queries: expected a budget; set search.queries, search.seconds or search.wall_seconds, got none")


class SearchRun(RunKind):
    """search: a strategy optimises an objective until a query, simulated-time or wall budget ends.

    Ask/tell loop. Every proposal gets a sequence number; an architecture proposed again in
    the same run is answered from the run's record (stored with ``info.repeat``) and is not
    charged, so a budget of N queries means N distinct evaluations. Each ``ask`` batch
    (``search.batch_size``) is evaluated through the run's executor and stored as results arrive;
    an evaluation that failed is stored as such and told to the strategy as fitness -inf. On
    resume the strategy is rebuilt with the same seed and replayed against the stored results."""

    Config = SearchOptions
    tables = ("strategy", "objective")

    def __init__(self, config, registry, space) -> None:
        super().__init__(config, registry, space)
        self.options = self.search_options()
        #: The space the strategy searches (the architectures; a tune run's configurations).
        self.search_space = self.build_search_space()
        size = self.search_space.size()
        #: A finite space ends the search when every architecture was evaluated (at the top fidelity).
        self.space_size = int(size) if size is not None else None
        self.objective = self.build_objective()
        levels = fidelity_levels(self.objective)
        #: The top fidelity level of a multi-fidelity objective (None for a single fidelity).
        self.top_level = None if levels is None else len(levels) - 1
        evaluations = None if self.space_size is None else self.space_size * (1 if levels is None else len(levels))
        if evaluations is not None and self.options.queries is not None and self.options.queries > evaluations:
            what = (f"{self.space_size} architectures of the space" if levels is None else
                    f"{evaluations} possible evaluations ({self.space_size} architectures x {len(levels)} fidelities)")
            raise BudgetError(f"search.queries = {self.options.queries} exceeds the {what}; set it to at most {evaluations}")
        self.objective.check()
        if self.options.seconds is not None and not self.objective.charges_cost:
            raise BudgetError(
                f"search.seconds is a simulated-time budget but objective '{config.parts['objective']['name']}' charges no simulated time on this space; budget with search.queries or search.wall_seconds")
        # Built before anything is stored, so option errors surface first; a resumed run gets a
        # fresh instance like this one and replays it against the stored results.
        self.strategy = self.build_strategy()
        if getattr(self.strategy, "uses_fidelities", False):
            if levels is None:
                raise ConfigError(f"strategy '{config.parts['strategy']['name']}' evaluates architectures at several "
                                  "fidelities; set [objective] name = \"multi_fidelity\" with fidelities = [...], cheapest first")
            self.strategy.set_fidelities(levels)
        self.benchmark = None
        if self.options.report:
            self.benchmark = require(space, Benchmarked, "search.report").load_benchmark(config.benchmark.path)
            for metric in self.options.report:
                self.benchmark.check_metric(metric)

    # --- what a kind built on the search loop replaces ------------------------------------
    def search_options(self) -> SearchOptions:
        return self.config.options

    def build_search_space(self) -> Any:
        return self.space

    def build_objective(self) -> Any:
        c = self.config
        return self.registry.create("objective", c.parts["objective"], section="objective", space=self.space,
                                    benchmark_path=c.benchmark.path, seed=derive_seed(c.seed, "objective"), data=c.data)

    def build_strategy(self) -> Any:
        return self.registry.create("strategy", self.config.parts["strategy"], section="strategy", space=self.space,
                                    seed=derive_seed(self.config.seed, "strategy"))

    def total(self) -> int | None:
        return self.options.queries

    def _at_top(self, proposal: Any) -> bool:
        level = unwrap(proposal)[1]
        return level is None or level == self.top_level

    def _identity(self, proposal: Any, key: str) -> str:
        """What makes two proposals the same evaluation: the stored key, or with graph dedupe
        the architecture's network (plus the fidelity level below the top)."""
        if self.options.dedupe == "none":
            return key
        level = key[len(self.search_space.canonical(unwrap(proposal)[0])):]
        return self.search_space.graph_key(unwrap(proposal)[0]) + level

    def _exhausted(self, queries: int, simulated: float, wall: float, top_queries: int) -> bool:
        o = self.options
        return ((o.queries is not None and queries >= o.queries)
                or (self.space_size is not None and top_queries >= self.space_size)
                or (o.seconds is not None and simulated >= o.seconds)
                or (o.wall_seconds is not None and wall >= o.wall_seconds))

    def execute(self, run: RunContext) -> dict[str, Any]:
        space, objective, options, strategy = self.search_space, self.objective, self.options, self.strategy
        stored = {r.seq: r for r in run.store.evaluations(run.id)}
        run.completed = sum(1 for r in stored.values() if not r.info.get("repeat"))
        timed = _Timed(objective)
        seen: dict[str, EvaluationRecord] = {}
        history: list[EvaluationRecord] = []
        queries, top_queries, simulated, seq = 0, 0, 0.0, 0
        wall_before = sum(r.wall for r in stored.values())
        started = time.perf_counter()
        max_proposals = proposal_cap(options.queries, options.max_proposals)

        while not self._exhausted(queries, simulated, wall_before + time.perf_counter() - started, top_queries):
            if seq >= max_proposals:
                break
            n = max(options.batch_size, strategy.ready())
            if options.queries is not None:
                n = min(n, options.queries - queries)
            n = min(n, max_proposals - seq)
            proposals = list(strategy.ask(n))[:n]
            if not proposals:
                break
            keys = [proposal_key(space, a, self.top_level) for a in proposals]
            idents = [self._identity(a, k) for a, k in zip(proposals, keys)]
            records: list[EvaluationRecord | None] = [None] * len(proposals)
            pending: dict[str, int] = {}
            for i, (key, ident) in enumerate(zip(keys, idents)):
                s = seq + i
                if s in stored:
                    rec = stored[s]
                    if rec.arch != key:
                        raise StoreError(
                            f"resume diverged at evaluation {s} of run {run.id} (stored {rec.arch}, proposed {key}); the strategy is not deterministic under its seed")
                    records[i] = rec
                    if not rec.info.get("repeat"):
                        seen[ident] = rec
                elif ident not in seen and ident not in pending:
                    pending[ident] = i
            todo = list(pending.values())
            for i in todo:
                run.starting(seq + i, proposals[i])
            for i, rec in self._evaluate(run, timed, seq, todo, proposals, keys):
                run.record(rec)
                records[i] = rec
                seen[idents[i]] = rec
            for i, (key, ident) in enumerate(zip(keys, idents)):
                if records[i] is None:
                    first = seen[ident]
                    info = {"repeat": True, "of": first.seq, **({"same_network": True} if first.arch != key else {})}
                    rec = EvaluationRecord(run.id, seq + i, key, first.value, first.fitness, 0.0, 0.0, info)
                    run.store.add_evaluation(rec)
                    records[i] = rec
            for proposal, rec in zip(proposals, records):
                if not rec.info.get("repeat"):
                    queries += 1
                    top_queries += self._at_top(proposal)
                    simulated += rec.cost
                history.append(rec)
            strategy.tell([Told(a, r.fitness, r.value, dict(seen.get(k, r).info) if r.info.get("repeat") else dict(r.info))
                           for a, k, r in zip(proposals, idents, records)])
            seq += len(proposals)
        return self._summary(history, queries, simulated)

    def _evaluate(self, run: RunContext, timed: _Timed, seq: int, todo: list[int], proposals: list[Any],
                  keys: list[str]) -> Iterator[tuple[int, EvaluationRecord]]:
        """Evaluate proposals ``todo`` through the executor (split into the objective's subtasks
        where it declares any) and yield ``(index, record)`` as each evaluation completes."""
        objective = self.objective
        items: list[tuple[Hashable, int, int | None]] = []
        owner: list[int] = []
        for i in todo:
            seed = derive_seed(self.config.seed, "evaluate", keys[i])
            k = objective.subtasks(proposals[i])
            items.extend([(proposals[i], seed, None)] if k == 0 else [(proposals[i], seed, j) for j in range(k)])
            owner.extend([i] * max(k, 1))
        parts: dict[int, list[Any]] = {i: [] for i in todo}
        left = {i: owner.count(i) for i in todo}
        for position, out in run.executor.imap(timed, items):
            i, subtask = owner[position], items[position][2]
            if subtask is None:
                if isinstance(out, TaskFailed):  # a failed evaluation is a spent query worth -inf
                    yield i, EvaluationRecord(run.id, seq + i, keys[i], math.nan, -math.inf, 0.0, 0.0, out.as_info())
                    continue
                evaluation, wall = out
            else:
                parts[i].append((subtask, out))
                left[i] -= 1
                if left[i]:
                    continue
                ordered = [o for _, o in sorted(parts[i], key=lambda p: p[0])]
                wall = sum(o[1] for o in ordered if not isinstance(o, TaskFailed))
                evaluation = objective.combine(proposals[i], [o if isinstance(o, TaskFailed) else o[0] for o in ordered])
            value = float(evaluation.value)
            yield i, EvaluationRecord(run.id, seq + i, keys[i], value, _fitness(objective, proposals[i], value), float(evaluation.cost),
                                      wall, dict(evaluation.info))

    def _summary(self, history: list[EvaluationRecord], queries: int, simulated: float) -> dict[str, Any]:
        evaluated = [r for r in history if not r.info.get("repeat")]
        result: dict[str, Any] = {"queries": queries, "proposals": len(history), "simulated_seconds": simulated,
                                  "objective_direction": self.objective.direction}
        failed = sum(1 for r in evaluated if r.info.get("failed"))
        if failed:
            result["failed"] = failed
        extra = self.strategy.results()
        if extra:
            result["strategy"] = extra
        if not evaluated:
            return result
        if self.top_level is not None:
            # values of different fidelities do not compare: the best is taken at the highest level reached
            counts = [sum(1 for r in evaluated if level_of(r.info) == level) for level in range(self.top_level + 1)]
            result["fidelity_queries"] = counts
            reached = max((level for level, n in enumerate(counts) if n), default=self.top_level)
            evaluated = [r for r in evaluated if level_of(r.info) in (None, reached)]
            if reached != self.top_level:
                result["best_fidelity"] = reached
        finite = [r for r in evaluated if math.isfinite(r.fitness)]
        best = max(finite or evaluated, key=lambda r: (r.fitness, -r.seq))
        result.update(best_arch=best.arch.split(LEVEL_MARK)[0] if self.top_level is not None else best.arch,
                      best_value=best.value, best_seq=best.seq)
        if self.benchmark is not None:
            arch = self.space.parse(result["best_arch"])
            report: dict[str, float] = {}
            for metric in self.options.report:
                value = float(self.benchmark.query(arch, metric))
                column = self.benchmark.query_many(self.benchmark.architectures(), metric)
                optimum = float(np.nanmax(column))
                report[metric] = value
                report[f"{metric}_optimum"] = optimum
                report[f"{metric}_regret"] = optimum - value
            result["report"] = report
        return result
