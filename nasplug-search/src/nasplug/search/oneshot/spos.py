"""SPOS (Guo et al., ECCV 2020): single-path one-shot training with uniform path sampling, then an
evolutionary search over the trained supernet. See ``docs/methods/spos_fairnas.md``."""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.oneshot.method import OneShotMethod
from nasplug.core.options import number_in, positive_int


@attrs.frozen
class SPOSConfig:
    """Evolutionary search of the paper (section 3.3): ``population`` 50 for ``generations`` 20;
    each generation keeps the ``parents`` 10 best seen so far and makes ``mutations`` 25 children
    (each decision resampled with probability ``mutation_prob`` 0.1) and ``crossovers`` 25
    (uniform crossover of two parents). Every candidate is scored by validation accuracy with
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

    def paths(self, decisions: Sequence[int], rng: np.random.Generator) -> list[tuple[int, ...]]:
        return [tuple(int(rng.integers(d)) for d in decisions)]

    # --- evolutionary search ----------------------------------------------------------------
    def derive(self, evaluator: Any, rng: np.random.Generator) -> Hashable | None:
        c, supernet = self.config, evaluator.supernet
        decisions = supernet.decisions
        scores: dict[tuple[int, ...], float] = {}

        def score(path: tuple[int, ...]) -> float:
            if path not in scores:
                scores[path] = evaluator.accuracy(supernet.arch_of(path))
            return scores[path]

        def fresh(candidates: list[tuple[int, ...]], want: int, make: Any) -> None:
            for _ in range(20 * max(want, 1)):
                if want <= 0:
                    return
                path = make()
                if path is not None and path not in scores and path not in candidates:
                    candidates.append(path)
                    want -= 1

        population: list[tuple[int, ...]] = []
        fresh(population, c.population, lambda: tuple(int(rng.integers(d)) for d in decisions))
        for generation in range(c.generations):
            for path in population:
                score(path)
            if generation == c.generations - 1:
                break
            parents = sorted(scores, key=lambda p: (-scores[p], p))[:c.parents]

            def mutate() -> tuple[int, ...]:
                parent = parents[int(rng.integers(len(parents)))]
                return tuple(int(rng.integers(d)) if rng.random() < c.mutation_prob else g for g, d in zip(parent, decisions))

            def crossover() -> tuple[int, ...] | None:
                if len(parents) < 2:
                    return None
                i, j = rng.choice(len(parents), 2, replace=False)
                return tuple(a if rng.random() < 0.5 else b for a, b in zip(parents[i], parents[j]))

            population = []
            fresh(population, c.mutations, mutate)
            fresh(population, c.crossovers, crossover)
            fresh(population, c.population - len(population), lambda: tuple(int(rng.integers(d)) for d in decisions))
        best = max(scores, key=lambda p: (scores[p], tuple(-g for g in p)))
        self.search_trace = dict(scores)
        return supernet.arch_of(best)
