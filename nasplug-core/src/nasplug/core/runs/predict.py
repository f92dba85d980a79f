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


def _int_list(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        raise ValueError(f"{attribute.name}: expected a list of integers >= 1, got {value!r}")


@attrs.frozen
class PredictOptions:
    """A predict run labels ``initial`` architectures (uniformly at random, or by the sampler
    when ``initial_sampler = "sampler"``), then ``rounds`` rounds of ``per_round`` labels chosen
    by the sampler, retraining the predictor and scoring it on every unlabelled pool member after
    each round. ``pool_size`` draws a random pool from the benchmark (default: all of it)."""

    metric: str = attrs.field(default="cifar10_valid_val", validator=optional_string)
    initial: int = attrs.field(default=10, validator=positive_int)
    per_round: int = attrs.field(default=10, validator=positive_int)
    rounds: int = attrs.field(default=5, validator=non_negative_int)
    top_k: list[int] = attrs.field(factory=lambda: [10, 50], validator=_int_list)
    pool_size: int | None = attrs.field(default=None, validator=optional_positive_int)
    initial_sampler: str = attrs.field(default="random", validator=one_of("random", "sampler"))

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
        if o.total_labels >= len(pool):
            raise BudgetError(
                f"the run labels {o.total_labels} architectures (initial + per_round x rounds) but the pool has {len(pool)}; lower the budget so some remain to evaluate on")
        self.pool = pool
        self.y = self.benchmark.query_many(pool, o.metric)

    def new_predictor(self) -> Any:
        return self.registry.create("predictor", self.config.parts["predictor"], section="predictor", space=self.space)

    def total(self) -> int:
        return self.options.rounds + 1

    def _evaluate(self, predictor: Any, labelled: list[int]) -> dict[str, float]:
        mask = np.ones(len(self.pool), dtype=bool)
        mask[labelled] = False
        rest = np.flatnonzero(mask)
        pred = np.asarray(predictor.predict([self.pool[i] for i in rest]), dtype=float)
        true = self.y[rest]
        out = {"labels": float(len(labelled)), "kendall_tau": metrics.kendall_tau(pred, true),
               "spearman": metrics.spearman(pred, true), "mse": metrics.mse(pred, true)}
        for k in self.options.top_k:
            out[f"precision@{k}"] = metrics.precision_at_k(pred, true, k)
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
        return {"rounds": len(history), "labels": len(loop.labelled), "pool": len(self.pool), "metric": o.metric,
                "final": {k: v for k, v in final.items() if not k.endswith("_seconds")}}
