"""Built-in objectives: a benchmark metric (tabular lookup) and a proxy."""

from __future__ import annotations

from typing import Any, Hashable

import attrs

from nasplug.core.interfaces.objective import Evaluation, Objective
from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.core.options import one_of, part_spec, spec_name, string, string_list
from nasplug.core.seeding import derive_seed
from nasplug.core.interfaces.capabilities import Benchmarked, require


@attrs.frozen
class BenchmarkObjectiveConfig:
    metric: str = attrs.field(default="cifar10_val_12ep", validator=string)
    direction: str = attrs.field(default="max", validator=one_of("max", "min"))
    #: Other benchmark columns stored in each evaluation's ``info`` (e.g. a latency column for
    #: multi-objective search); they are looked up, not charged.
    extra_metrics: tuple[str, ...] = attrs.field(default=(), converter=lambda v: tuple(v) if isinstance(v, list) else v,
                                               validator=string_list)


class BenchmarkObjective(Objective):
    """A metric looked up in the space's tabular benchmark; charges the table's simulated cost."""

    Config = BenchmarkObjectiveConfig

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        self.direction = self.config.direction
        self._benchmark = None

    @property
    def benchmark(self) -> Any:
        if self._benchmark is None:
            self._benchmark = require(self.space, Benchmarked, "objective 'benchmark'").load_benchmark(self.benchmark_path)
        return self._benchmark

    def check(self) -> None:
        for metric in (self.config.metric, *self.config.extra_metrics):
            self.benchmark.check_metric(metric)

    @property
    def charges_cost(self) -> bool:
        return bool(self.benchmark.has_cost)

    def evaluate(self, arch: Hashable) -> Evaluation:
        value = self.benchmark.query(arch, self.config.metric)
        info = {m: float(self.benchmark.query(arch, m)) for m in self.config.extra_metrics}
        return Evaluation(value=float(value), cost=float(self.benchmark.cost(arch, self.config.metric)), info=info)


@attrs.frozen
class ProxyObjectiveConfig:
    proxy: Any = attrs.field(default="params", validator=part_spec)


class ProxyObjective(Objective):
    """A zero-cost proxy as the objective: no benchmark queries, direction taken from the proxy."""

    Config = ProxyObjectiveConfig

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        from nasplug.core.registry import create_part

        self.proxy = create_part("proxy", self.config.proxy, "objective.proxy", space=self.space)
        self.direction = self.proxy.direction
        self._context: ProxyContext | None = None

    def context(self) -> ProxyContext:
        if self._context is None:
            from nasplug.core.data import proxy_context

            self._context = proxy_context(self.proxy, self.data, derive_seed(self.seed, "proxy"), spec_name(self.config.proxy))
        return self._context

    def check(self) -> None:
        self.context()

    def evaluate(self, arch: Hashable) -> Evaluation:
        return Evaluation(value=float(self.proxy.score(arch, self.context())))
