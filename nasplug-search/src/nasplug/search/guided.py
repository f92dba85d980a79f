"""Search guided by a cheap model: a predictor trained by active learning (DARE's NAS protocol)
or a zero-cost proxy (Eproxy's end-to-end NAS). Both spend the query budget only on labels and
on the candidates the model ranks highest."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.active import ActiveLearning
from nasplug.core.errors import ConfigError
from nasplug.core.executors import LocalExecutor
from nasplug.core.evolution import AgingEvolution
from nasplug.core.interfaces.strategy import Strategy, Told
from nasplug.core.options import non_negative_int, part_spec, positive_int, spec_name, table
from nasplug.core.registry import create_part
from nasplug.core.seeding import derive_seed
from nasplug.core.interfaces.capabilities import Enumerable



def _candidate_pool(space: Any, pool_size: int, rng: np.random.Generator) -> list[Hashable]:
    """The whole space when it is small enough to enumerate, else ``pool_size`` distinct samples."""
    size = space.size()
    if size is not None and size <= pool_size and isinstance(space, Enumerable):
        return list(space.enumerate())
    return space.sample_many(pool_size if size is None else min(pool_size, size), rng)


@attrs.frozen
class PredictorGuidedConfig:
    """DARE's NAS protocol (section 5.3): ``initial`` random labels (5), ``per_round`` labels
    chosen by the sampler each round (10), for ``rounds`` rounds (8, so 85 labels), then the
    predictor ranks the candidate pool and the best-ranked unlabelled architectures are queried
    in order until the budget ends. Every label counts as a query. The pool is the whole space
    when it has at most ``pool_size`` architectures (NB201: all 15,625), else a sample."""

    sampler: Any = attrs.field(default="dare", validator=part_spec)
    predictor: Any = attrs.field(default="dare_gcn", validator=part_spec)
    initial: int = attrs.field(default=5, validator=positive_int)
    per_round: int = attrs.field(default=10, validator=positive_int)
    rounds: int = attrs.field(default=8, validator=non_negative_int)
    pool_size: int = attrs.field(default=100_000, validator=positive_int)


class PredictorGuidedSearch(Strategy):
    """A predictor trained by active learning ranks the space; its best are queried.

    Active learning of a predictor (any sampler + predictor plugins), then exploitation of
    its ranking. The predictor is refitted on every label before each selection round, with a
    seed derived from the run's seed and the round."""

    Config = PredictorGuidedConfig

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        c = self.config
        self.sampler = create_part("sampler", c.sampler, "strategy.sampler", space=self.space)
        create_part("predictor", c.predictor, "strategy.predictor", space=self.space)  # option errors surface now
        self.pool = _candidate_pool(self.space, c.pool_size, self.rng)
        # the core's active-learning loop; its labels are this search's query results (fitness)
        self.learning = ActiveLearning(space=self.space, pool=self.pool, sampler=self.sampler,
                                       new_predictor=self._new_predictor, seed=self.seed, executor=LocalExecutor())
        self.queue: deque[int] = deque(int(i) for i in self.rng.choice(len(self.pool), c.initial, replace=False))
        self.ranking: deque[int] | None = None

    def _new_predictor(self) -> Any:
        return create_part("predictor", self.config.predictor, "strategy.predictor", space=self.space)

    def _next_round(self) -> None:
        c, learning = self.config, self.learning
        learning.fit()
        if learning.round < c.rounds:
            learning.next_round()
            self.queue.extend(learning.choose(min(c.per_round, len(self.pool) - len(learning.labelled))))
            return
        self.ranking = deque(learning.ranking())

    def ask(self, n: int) -> list[Hashable]:
        source = self.queue if self.ranking is None else self.ranking
        out = [source.popleft() for _ in range(min(n, len(source)))]
        self._asked = out
        return [self.pool[i] for i in out]

    def tell(self, results: Sequence[Told]) -> None:
        if self.ranking is not None:
            return
        self.learning.add(self._asked, [told.fitness for told in results])
        if not self.queue:
            self._next_round()

    def results(self) -> dict[str, Any]:
        return {"labels": len(self.learning.labelled), "rounds": self.learning.round}


@attrs.frozen
class ProxyGuidedREAConfig:
    """Eproxy's end-to-end NAS (section 3.5): regularised evolution whose fitness is a proxy
    (``proxy``, a name or a table, e.g. ``{name = "eproxy", config_from = "RUN"}``) for
    ``cycles`` proxy evaluations (population 10 and tournament 3 as NB201's REA; 1,000 cycles),
    then the benchmark is queried for the proxy's best architectures in order, so the query
    budget counts only those. ``data`` is the image batch table (as the run's ``[data]``) for
    proxies that need images."""

    proxy: Any = attrs.field(default="synflow", validator=part_spec)
    cycles: int = attrs.field(default=1000, validator=positive_int)
    population_size: int = attrs.field(default=10, validator=positive_int)
    sample_size: int = attrs.field(default=3, validator=positive_int)
    data: dict | None = attrs.field(default=None, validator=table(optional=True))


class ProxyGuidedREA(Strategy):
    """REA on a proxy, then benchmark queries down the proxy's ranking of everything it saw."""

    Config = ProxyGuidedREAConfig

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        from nasplug.core.config import DataOptions
        from nasplug.core.data import proxy_context
        from nasplug.core.options import build_config

        c = self.config
        if c.sample_size > c.population_size:
            raise ConfigError(f"strategy.sample_size ({c.sample_size}) must not exceed strategy.population_size ({c.population_size})")
        self.proxy = create_part("proxy", c.proxy, "strategy.proxy", space=self.space)
        data = build_config(DataOptions, c.data, "strategy.data")
        self.context = proxy_context(self.proxy, data, derive_seed(self.seed, "proxy"), spec_name(c.proxy))
        self.ranking: list[Hashable] | None = None
        self.proxy_scores: dict[str, float] = {}

    def _proxy_fitness(self, arch: Hashable) -> float:
        key = self.space.canonical(arch)
        if key not in self.proxy_scores:
            score = float(self.proxy.score(arch, self.context))
            self.proxy_scores[key] = self.proxy.fitness(score) if math.isfinite(score) else -math.inf
        return self.proxy_scores[key]

    def _evolve(self) -> list[Hashable]:
        """``cycles`` steps of the core's aging evolution on the proxy, drawing from this
        strategy's random stream; every distinct architecture seen, best proxy score first."""
        c = self.config
        evolution = AgingEvolution(AgingEvolution.Config(c.population_size, c.sample_size), space=self.space)
        evolution.rng = self.rng
        seen: dict[str, Hashable] = {}
        for _ in range(c.cycles):
            arch = evolution.ask(1)[0]
            fitness = self._proxy_fitness(arch)
            evolution.tell([Told(arch, fitness, fitness)])
            seen.setdefault(self.space.canonical(arch), arch)
        return sorted(seen.values(), key=lambda a: (-self.proxy_scores[self.space.canonical(a)], self.space.canonical(a)))

    def ask(self, n: int) -> list[Hashable]:
        if self.ranking is None:
            self.ranking = self._evolve()
        out, self.ranking = self.ranking[:n], self.ranking[n:]
        return out

    def tell(self, results: Sequence[Told]) -> None:
        """Nothing to learn: the queries follow the proxy's ranking fixed by ``_evolve``."""

    def results(self) -> dict[str, Any]:
        return {"proxy_evaluations": len(self.proxy_scores)}
