"""SPOS (Guo et al., ECCV 2020): single-path one-shot training with uniform path sampling, then an
evolutionary search over the trained supernet. See ``docs/methods/spos_fairnas.md``."""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ArchitectureError
from nasplug.core.interfaces.capabilities import HasSupernet, Positional
from nasplug.core.oneshot.method import OneShotMethod
from nasplug.core.options import number_in, positive_int


@attrs.frozen
class SPOSConfig:
    """Evolutionary search of the paper (section 3.3): ``population`` 50 for ``generations`` 20;
    each generation keeps the ``parents`` 10 best seen so far and makes ``mutations`` 25 children
    (each position of the space's positional form resampled with probability ``mutation_prob``
    0.1) and ``crossovers`` 25 (uniform crossover of two parents); children that are not members
    of the space are drawn again. Every candidate is scored by validation accuracy with
    inherited weights after BN recalibration (the run's evaluator)."""

    population: int = attrs.field(default=50, validator=positive_int)
    generations: int = attrs.field(default=20, validator=positive_int)
    parents: int = attrs.field(default=10, validator=positive_int)
    mutations: int = attrs.field(default=25, validator=number_in(0, None))
    crossovers: int = attrs.field(default=25, validator=number_in(0, None))
    mutation_prob: float = attrs.field(default=0.1, validator=number_in(0.0, 1.0))


class SPOS(OneShotMethod):
    """SPOS: one uniformly sampled path per step; evolutionary search over the supernet."""

    Config = SPOSConfig
    requires = (HasSupernet, Positional)

    def paths(self, supernet: Any, rng: np.random.Generator) -> list[tuple[int, ...]]:
        """One architecture drawn uniformly from the space (on NB201 and the other spaces whose
        every path is a member, each decision's option uniformly and independently)."""
        return [tuple(supernet.path_of(self.space.sample(rng)))]

    # --- evolutionary search over the space's positional form ------------------------------
    def derive(self, evaluator: Any, rng: np.random.Generator) -> Hashable | None:
        c, space = self.config, self.space
        choices = space.position_choices()
        scores: dict[tuple[int, ...], float] = {}

        def member(genes: Sequence[int]) -> tuple[int, ...] | None:
            try:
                return tuple(space.to_positions(space.from_positions(genes)))
            except ArchitectureError:
                return None

        def score(genes: tuple[int, ...]) -> float:
            if genes not in scores:
                scores[genes] = evaluator.accuracy(space.from_positions(genes))
            return scores[genes]

        def fresh(candidates: list[tuple[int, ...]], want: int, make: Any) -> None:
            for _ in range(20 * max(want, 1)):
                if want <= 0:
                    return
                genes = make()
                genes = None if genes is None else member(genes)
                if genes is not None and genes not in scores and genes not in candidates:
                    candidates.append(genes)
                    want -= 1

        def random_genes() -> tuple[int, ...]:
            return tuple(space.to_positions(space.sample(rng)))

        population: list[tuple[int, ...]] = []
        fresh(population, c.population, random_genes)
        for generation in range(c.generations):
            for genes in population:
                score(genes)
            if generation == c.generations - 1:
                break
            parents = sorted(scores, key=lambda g: (-scores[g], g))[:c.parents]

            def mutate() -> tuple[int, ...]:
                parent = parents[int(rng.integers(len(parents)))]
                return tuple(int(rng.integers(n)) if rng.random() < c.mutation_prob else g for g, n in zip(parent, choices))

            def crossover() -> tuple[int, ...] | None:
                if len(parents) < 2:
                    return None
                i, j = rng.choice(len(parents), 2, replace=False)
                return tuple(a if rng.random() < 0.5 else b for a, b in zip(parents[i], parents[j]))

            population = []
            fresh(population, c.mutations, mutate)
            fresh(population, c.crossovers, crossover)
            fresh(population, c.population - len(population), random_genes)
        best = max(scores, key=lambda g: (scores[g], tuple(-x for x in g)))
        self.search_trace = {space.canonical(space.from_positions(g)): v for g, v in scores.items()}
        return space.from_positions(best)
