"""Aging (regularised) evolution, the one implementation behind REA, proxy-guided REA and DPS.

Real et al., "Regularized Evolution for Image Classifier Architecture Search", AAAI 2019: the
first ``population_size`` proposals are random; after that each child mutates the fittest of
``sample_size`` members drawn without replacement from the population, and the oldest member
dies when a child joins. Every told result joins the population, repeats included (the runner
answers a repeated proposal from its record). Ties between equally fit members go to the one
drawn first. The space decides what a mutation is (``space.mutate(arch, rng)``).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Hashable, Sequence

import attrs

from nasplug.core.interfaces.strategy import Strategy, Told
from nasplug.core.options import positive_int


@attrs.frozen
class AgingEvolutionConfig:
    """``population_size`` and ``sample_size`` default to NAS-Bench-201's REA protocol
    (population 10, tournament 3); Real et al. used larger values on bigger spaces."""

    population_size: int = attrs.field(default=10, validator=positive_int)
    sample_size: int = attrs.field(default=3, validator=positive_int)

    def __attrs_post_init__(self) -> None:
        if self.sample_size > self.population_size:
            raise ValueError(f"sample_size: expected at most population_size ({self.population_size}), got {self.sample_size}")


class AgingEvolution(Strategy):
    """Aging evolution: tournament-select a parent, mutate it, replace the oldest member."""

    Config = AgingEvolutionConfig

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        self.population: deque[Told] = deque()
        self._initial_asked = 0

    def ready(self) -> int:
        """The rest of the random initial population depends on no result: ask it in one batch."""
        return self.config.population_size - self._initial_asked

    def ask(self, n: int) -> list[Hashable]:
        c = self.config
        if self._initial_asked < c.population_size:
            k = min(n, c.population_size - self._initial_asked)
            self._initial_asked += k
            return [self.space.sample(self.rng) for _ in range(k)]
        members = list(self.population)
        children = []
        for _ in range(n):
            picks = self.rng.choice(len(members), size=min(c.sample_size, len(members)), replace=False)
            parent = max((members[i] for i in picks), key=lambda t: t.fitness)
            children.append(self.space.mutate(parent.arch, self.rng))
        return children

    def tell(self, results: Sequence[Told]) -> None:
        for told in results:
            self.population.append(told)
            if len(self.population) > self.config.population_size:
                self.population.popleft()
