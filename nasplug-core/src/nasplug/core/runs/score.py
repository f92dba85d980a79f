"""``score`` runs: evaluate a proxy on a set of architectures and correlate it with a benchmark."""

from __future__ import annotations

import math
import time
from typing import Any, Hashable

import attrs
import numpy as np

from nasplug.core.errors import ArchitectureError, BudgetError, ConfigError, StoreError
from nasplug.core.executors.tasks import seeded
from nasplug.core.interfaces.executor import TaskFailed
from nasplug.core.options import non_negative_int, number_in, string_list
from nasplug.core.runs.base import RunContext, RunKind
from nasplug.core.seeding import derive_rng, derive_seed
from nasplug.core.store import EvaluationRecord
from nasplug.core.interfaces.capabilities import Benchmarked, Enumerable, require


class _Scorer:
    """Picklable: score one architecture and time it. Items are ``(arch, seed)``; the global
    random streams are seeded from (run seed, architecture) for the call, so a proxy that draws
    from them scores alike on any worker, in any order, and on resume."""

    def __init__(self, proxy: Any, ctx: Any) -> None:
        self.proxy, self.ctx = proxy, ctx

    def __call__(self, item: tuple[Hashable, int]) -> tuple[float, float]:
        arch, seed = item
        with seeded(seed):
            start = time.perf_counter()
            value = float(self.proxy.score(arch, self.ctx))
            return value, time.perf_counter() - start


def _archs_value(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    ok = value == "all" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
    ok = ok or (isinstance(value, list) and len(value) > 0 and all(isinstance(v, str) for v in value))
    if not ok:
        raise ValueError(f"{attribute.name}: expected an integer >= 1, \"all\" or a list of architecture strings, got {value!r}")


@attrs.frozen
class ScoreOptions:
    """A score run evaluates the proxy on ``archs``: a number of distinct random architectures,
    ``"all"``, or a list of architecture strings; where a benchmark is available it correlates the
    scores with each of ``metrics``, and reports the calibration error: the mean absolute error
    of an isotonic map from score to the metric fitted on ``calibration_labels`` random scored
    architectures (0: none), on the others."""

    archs: int | str | list[str] = attrs.field(default=1000, validator=_archs_value)
    metrics: list[str] = attrs.field(factory=list, validator=string_list)
    top_percent: float = attrs.field(default=10.0, validator=number_in(0.01, 100))
    calibration_labels: int = attrs.field(default=50, validator=non_negative_int)


class ScoreRun(RunKind):
    """score: a proxy on a set of architectures, correlated with benchmark metrics and timed.

    Scores ``archs`` architectures (seeded sample, or the whole space) through the run's
    executor, storing each score as it arrives. Correlations use the proxy's fitness (its
    direction applied), so a useful proxy correlates positively; non-finite scores and failed
    evaluations are ranked last, never dropped silently (their counts are reported)."""

    Config = ScoreOptions
    tables = ("proxy",)

    def __init__(self, config, registry, space) -> None:
        super().__init__(config, registry, space)
        o = self.options = config.options
        self.proxy = registry.create("proxy", config.parts["proxy"], section="proxy", space=space)
        self.benchmark = None
        if o.metrics:
            self.benchmark = require(space, Benchmarked, "score.metrics").load_benchmark(config.benchmark.path)
            for metric in o.metrics:
                self.benchmark.check_metric(metric)
        size = space.size()
        if isinstance(o.archs, list):
            self.archs = []
            for i, text in enumerate(o.archs):
                try:
                    self.archs.append(space.parse(text))
                except ArchitectureError as exc:
                    raise ArchitectureError(f"config key 'score.archs[{i}]': {exc}") from None
        elif o.archs == "all":
            if size is None:
                raise ConfigError("score.archs = \"all\" needs a finite space; give a number of architectures instead")
            self.archs = list(require(space, Enumerable, "score.archs = \"all\"").enumerate())
        else:
            if size is not None and o.archs > size:
                raise BudgetError(f"score.archs = {o.archs} exceeds the {size} architectures of the space; lower it or use \"all\"")
            self.archs = space.sample_many(o.archs, derive_rng(config.seed, "archs"))
        from nasplug.core.data import proxy_context

        self.ctx = proxy_context(self.proxy, config.data, derive_seed(config.seed, "proxy"), config.parts["proxy"]["name"])

    def total(self) -> int:
        return len(self.archs)

    def execute(self, run: RunContext) -> dict[str, Any]:
        stored = {r.seq: r for r in run.store.evaluations(run.id)}
        keys = [self.space.canonical(a) for a in self.archs]
        for seq, rec in stored.items():
            if keys[seq] != rec.arch:
                raise StoreError(f"resume diverged at architecture {seq} of run {run.id}; the space's sampling is not deterministic")
        run.completed = len(stored)
        todo = [i for i in range(len(self.archs)) if i not in stored]
        for i in todo:
            run.starting(i, self.archs[i])
        truth = {m: self.benchmark.query_many(self.archs, m) for m in self.options.metrics} if self.benchmark else {}
        items = [(self.archs[i], derive_seed(self.config.seed, "score", keys[i])) for i in todo]
        for position, out in run.executor.imap(_Scorer(self.proxy, self.ctx), items):
            i = todo[position]
            info = {m: float(t[i]) for m, t in truth.items()}
            if isinstance(out, TaskFailed):
                rec = EvaluationRecord(run.id, i, keys[i], math.nan, -math.inf, 0.0, 0.0, {**info, **out.as_info()})
            else:
                value, wall = out
                fitness = self.proxy.fitness(value) if math.isfinite(value) else -math.inf
                rec = EvaluationRecord(run.id, i, keys[i], value, fitness, 0.0, wall, info)
            run.record(rec)
            stored[i] = rec
        from nasplug.core import metrics  # scipy: imported here, not by workers unpickling _Scorer

        records = [stored[i] for i in range(len(self.archs))]
        failed = np.array([bool(r.info.get("failed")) for r in records], dtype=bool)
        fitness = np.array([r.fitness for r in records])
        walls = np.array([r.wall for r in records])[~failed]
        result: dict[str, Any] = {
            "archs": len(records), "direction": self.proxy.direction,
            "non_finite": int(np.sum(~np.isfinite(fitness) & ~failed)), "failed": int(np.sum(failed)),
            "seconds_per_arch": float(np.mean(walls)) if len(walls) else float("nan"),
            "correlations": {},
        }
        ranked = np.where(np.isfinite(fitness), fitness, -np.inf)
        finite_floor = np.min(ranked[np.isfinite(ranked)]) - 1 if np.any(np.isfinite(ranked)) else 0.0
        ranked = np.where(np.isfinite(ranked), ranked, finite_floor)  # non-finite: ranked last
        for metric, true in truth.items():
            result["correlations"][metric] = {
                "spearman": metrics.spearman(ranked, true), "kendall_tau": metrics.kendall_tau(ranked, true),
                f"top{self.options.top_percent:g}%": metrics.top_percent_retrieval(ranked, true, self.options.top_percent),
            }
            if self.options.calibration_labels:
                from nasplug.core.calibration import calibration_error

                mae = calibration_error(np.where(failed, np.nan, fitness), true, self.options.calibration_labels,
                                        derive_seed(self.config.seed, "calibration", metric))
                # None (JSON null) when too few architectures were scored to fit and test the map
                result["correlations"][metric]["calibration_mae"] = mae if math.isfinite(mae) else None
        return result
