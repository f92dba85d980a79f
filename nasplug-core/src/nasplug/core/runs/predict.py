"""``predict`` runs: a sampler chooses which architectures to label, a predictor learns from them,
and after every round the predictor is scored on every unlabelled architecture of the pool."""

from __future__ import annotations

import time
from typing import Any

import attrs
import numpy as np

from nasplug.core import metrics
from nasplug.core.active import ActiveLearning
from nasplug.core.errors import BudgetError, StoreError
from nasplug.core.options import non_negative_int, one_of, optional_positive_int, optional_string, positive_int
from nasplug.core.runs.base import RunContext, RunKind
from nasplug.core.seeding import derive_rng
from nasplug.core.store import EvaluationRecord
from nasplug.core.interfaces.capabilities import Benchmarked, require
from nasplug.core.interfaces.space import DISCONNECTED


def _int_list(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        raise ValueError(f"{attribute.name}: expected a list of integers >= 1, got {value!r}")


@attrs.frozen
class PredictOptions:
    """A predict run labels ``initial`` architectures (uniformly at random, or by the sampler
    when ``initial_sampler = "sampler"``), then ``rounds`` rounds of ``per_round`` labels chosen
    by the sampler, retraining the predictor and scoring it on every unlabelled pool member after
    each round. ``pool_size`` draws a random pool from the benchmark (default: all of it).

    ``dedupe = "graph"`` (default) lets the sampler see one architecture per network (the
    space's ``graph_key``; the first in benchmark order), so no two labels are the same network;
    ``"none"`` offers every architecture. ``protocol``: ``"unlabelled"`` scores the predictor on
    every pool architecture not labelled; ``"haap"`` (the HAAP / DARE papers' protocol) first
    removes networks that ignore their input (all at chance accuracy) from the pool and holds
    out ``holdout`` random architectures that are never labelled, reporting ``holdout_*``
    metrics on them next to the all-unlabelled ones."""

    metric: str = attrs.field(default="cifar10_valid_val", validator=optional_string)
    initial: int = attrs.field(default=10, validator=positive_int)
    per_round: int = attrs.field(default=10, validator=positive_int)
    rounds: int = attrs.field(default=5, validator=non_negative_int)
    top_k: list[int] = attrs.field(factory=lambda: [10, 50], validator=_int_list)
    pool_size: int | None = attrs.field(default=None, validator=optional_positive_int)
    initial_sampler: str = attrs.field(default="random", validator=one_of("random", "sampler"))
    dedupe: str = attrs.field(default="graph", validator=one_of("graph", "none"))
    protocol: str = attrs.field(default="unlabelled", validator=one_of("unlabelled", "haap"))
    holdout: int = attrs.field(default=5000, validator=positive_int)

    @property
    def total_labels(self) -> int:
        return self.initial + self.per_round * self.rounds


class PredictRun(RunKind):
    """predict: a sampler picks labels round by round; the predictor trained on them is scored.

    Round 0 labels ``initial`` architectures, rounds 1..R add ``per_round`` each. The random
    streams of round r derive from (seed, r) and a round is stored with its labelled set once its
    metrics are known, so a resumed run continues from its last stored round."""

    Config = PredictOptions
    tables = ("sampler", "predictor")

    unit = "round"

    def __init__(self, config, registry, space) -> None:
        super().__init__(config, registry, space)
        o = self.options = config.options
        self.benchmark = require(space, Benchmarked, "a predict run").load_benchmark(config.benchmark.path)
        self.benchmark.check_metric(o.metric)
        self.sampler = registry.create("sampler", config.parts["sampler"], section="sampler", space=space)
        self.new_predictor()  # option errors surface now
        pool = list(self.benchmark.architectures())
        if o.pool_size is not None:
            if o.pool_size > len(pool):
                raise BudgetError(f"predict.pool_size = {o.pool_size} exceeds the {len(pool)} architectures of the benchmark; lower it")
            keep = np.sort(derive_rng(config.seed, "pool").choice(len(pool), o.pool_size, replace=False))
            pool = [pool[i] for i in keep]
        self.holdout: list[Any] = []
        if o.protocol == "haap":
            pool = [a for a in pool if space.graph_key(a) != DISCONNECTED]
            if o.holdout >= len(pool):
                raise BudgetError(f"predict.holdout = {o.holdout} leaves no pool: only {len(pool)} connected architectures; lower it")
            held = np.zeros(len(pool), dtype=bool)
            held[derive_rng(config.seed, "holdout").choice(len(pool), o.holdout, replace=False)] = True
            self.holdout = [a for a, h in zip(pool, held) if h]
            pool = [a for a, h in zip(pool, held) if not h]
        #: Every architecture the predictor is scored on (less the labelled ones), and its labels.
        self.eval_pool = pool
        self.eval_y = self.benchmark.query_many(pool, o.metric)
        #: The architectures the sampler chooses from (``pool``) as indices into ``eval_pool``.
        self.eval_index = np.arange(len(pool))
        if o.dedupe == "graph":
            first: dict[str, int] = {}
            for i, arch in enumerate(pool):
                first.setdefault(space.graph_key(arch), i)
            self.eval_index = np.array(sorted(first.values()), dtype=int)
        self.pool = [pool[i] for i in self.eval_index]
        self.y = self.eval_y[self.eval_index]
        self.holdout_y = self.benchmark.query_many(self.holdout, o.metric) if self.holdout else np.zeros(0)
        if o.total_labels >= len(self.pool):
            what = "distinct networks" if o.dedupe == "graph" else "architectures"
            raise BudgetError(
                f"the run labels {o.total_labels} architectures (initial + per_round x rounds) but the pool has {len(self.pool)} {what}; lower the budget so some remain to evaluate on")

    def new_predictor(self) -> Any:
        return self.registry.create("predictor", self.config.parts["predictor"], section="predictor", space=self.space)

    def total(self) -> int:
        return self.options.rounds + 1

    def _scores(self, predictor: Any, archs: list[Any], true: np.ndarray, prefix: str = "") -> dict[str, float]:
        pred = np.asarray(predictor.predict(archs), dtype=float)
        out = {f"{prefix}kendall_tau": metrics.kendall_tau(pred, true), f"{prefix}spearman": metrics.spearman(pred, true),
               f"{prefix}mse": metrics.mse(pred, true)}
        for k in self.options.top_k:
            out[f"{prefix}precision@{k}"] = metrics.precision_at_k(pred, true, k)
        return out

    def _evaluate(self, predictor: Any, labelled: list[int]) -> dict[str, float]:
        mask = np.ones(len(self.eval_pool), dtype=bool)
        mask[self.eval_index[labelled]] = False
        rest = np.flatnonzero(mask)
        labels = self.y[labelled]
        out = {"labels": float(len(labelled)),
               "distinct_graphs": float(len({self.space.graph_key(self.pool[i]) for i in labelled})),
               "label_histogram_distance": metrics.histogram_distance(labels, self.eval_y)}
        out.update(self._scores(predictor, [self.eval_pool[i] for i in rest], self.eval_y[rest]))
        if self.holdout:
            out.update(self._scores(predictor, self.holdout, self.holdout_y, "holdout_"))
        return out

    def _label(self, run: RunContext, chosen: list[int], loop: ActiveLearning, stored: dict[int, EvaluationRecord],
               round: int) -> None:
        for index in chosen:
            seq = len(loop.labelled)
            key = self.space.canonical(self.pool[index])
            if seq in stored:
                if stored[seq].arch != key:
                    raise StoreError(f"resume diverged at label {seq} of run {run.id}; the sampler is not deterministic under its seed")
            else:
                value = float(self.y[index])
                run.record(EvaluationRecord(run.id, seq, key, value, value, float(self.benchmark.cost(self.pool[index], self.options.metric)),
                                            0.0, {"round": round, "index": int(index)}))
            loop.add([index], [self.y[index]])

    def execute(self, run: RunContext) -> dict[str, Any]:
        o = self.options
        stored = {r.seq: r for r in run.store.evaluations(run.id)}
        rounds = run.store.rounds(run.id)
        history = [r.metrics for r in rounds]
        run.completed = len(rounds)
        loop = ActiveLearning(space=self.space, pool=self.pool, sampler=self.sampler, new_predictor=self.new_predictor,
                              seed=self.config.seed, executor=run.executor)
        if rounds:  # continue after the last stored round, with its predictor refitted
            last = rounds[-1]
            loop.add(last.labelled, self.y[last.labelled])
            loop.round = last.round
            if loop.round < o.rounds:
                loop.fit()
            loop.next_round()
        for r in range(loop.round, o.rounds + 1):
            k = o.initial if r == 0 else o.per_round
            round_started = time.perf_counter()
            chosen = loop.choose(k, random=r == 0 and o.initial_sampler == "random")
            select_seconds = time.perf_counter() - round_started
            self._label(run, chosen, loop, stored, r)
            fit_seconds = loop.fit()
            scores = self._evaluate(loop.predictor, loop.labelled)
            scores.update(select_seconds=select_seconds, fit_seconds=fit_seconds,
                          round_seconds=time.perf_counter() - round_started)
            history.append(scores)
            run.finish_round(r, list(loop.labelled), scores)
            loop.next_round()
        final = history[-1]
        return {"rounds": len(history), "labels": len(loop.labelled), "pool": len(self.pool),
                "evaluated_on": len(self.eval_pool), "holdout": len(self.holdout), "metric": o.metric,
                "final": {k: v for k, v in final.items() if not k.endswith("_seconds")}}
