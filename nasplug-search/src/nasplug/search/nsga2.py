"""NSGA-II (Deb et al., 2002) through pymoo, for two objectives: the run's objective and a second
metric the objective reports in its ``info`` (e.g. a measured latency or parameter count)."""

from __future__ import annotations

import math
from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.strategy import Strategy, Told
from nasplug.core.options import number_in, one_of, positive_int, string
from nasplug.core.interfaces.capabilities import Positional
from nasplug.search._positions import position_choices, try_build


@attrs.frozen
class NSGA2Config:
    """``secondary`` names the second objective: a key of each evaluation's ``info`` (with the
    ``benchmark`` objective, list it in ``objective.extra_metrics``), minimised unless
    ``secondary_direction = "max"``. Variation is pymoo's integer NSGA-II setup: SBX crossover
    (probability 0.9, eta 15) and polynomial mutation (eta 20) on the positional genes, rounded
    to integers, duplicates eliminated; ``population`` 50 (pymoo's default is 100; 50 suits
    budgets of a few hundred queries)."""

    secondary: str = attrs.field(default="params", validator=string)
    secondary_direction: str = attrs.field(default="min", validator=one_of("min", "max"))
    population: int = attrs.field(default=50, validator=positive_int)
    crossover_prob: float = attrs.field(default=0.9, validator=number_in(0.0, 1.0))
    crossover_eta: float = attrs.field(default=15.0, validator=number_in(0.0, 1000.0))
    mutation_eta: float = attrs.field(default=20.0, validator=number_in(0.0, 1000.0))


class NSGA2(Strategy):
    """NSGA-II on two objectives (pymoo); the run's result holds the Pareto front.

    Multi-objective search returning the Pareto front (``results()["front"]``, also stored
    with the run). ``best()`` is the best architecture on the primary objective. Works on any
    space with a positional form; gene vectors that are not members are replaced by random
    members before evaluation."""

    requires = (Positional,)

    Config = NSGA2Config

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
        from pymoo.core.problem import Problem
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.operators.repair.rounding import RoundingRepair
        from pymoo.operators.sampling.rnd import IntegerRandomSampling

        c = self.config
        self.choices = np.array(position_choices(self.space))
        problem = Problem(n_var=len(self.choices), n_obj=2, xl=np.zeros(len(self.choices)), xu=self.choices - 1, vtype=int)
        self.algorithm = PymooNSGA2(
            pop_size=c.population, sampling=IntegerRandomSampling(),
            crossover=SBX(prob=c.crossover_prob, eta=c.crossover_eta, vtype=float, repair=RoundingRepair()),
            mutation=PM(eta=c.mutation_eta, vtype=float, repair=RoundingRepair()), eliminate_duplicates=True)
        self.algorithm.setup(problem, termination=("n_gen", 10**9), seed=int(self.seed % 2**31), verbose=False)
        self._generation: Any = None
        self._archs: list[Hashable] = []
        self._next = 0
        self._objectives: list[list[float] | None] = []
        self.evaluated: list[tuple[Told, float]] = []

    def _new_generation(self) -> None:
        pop = self.algorithm.ask()
        X = pop.get("X").astype(int)
        archs = []
        for row in range(len(X)):
            arch = try_build(self.space, X[row])
            if arch is None:
                arch = self.space.sample(self.rng)
                X[row] = self.space.to_positions(arch)
            archs.append(arch)
        pop.set("X", X)
        self._generation, self._archs, self._next = pop, archs, 0
        self._objectives = [None] * len(archs)

    def ask(self, n: int) -> list[Hashable]:
        if self._generation is None:
            self._new_generation()
        out = self._archs[self._next:self._next + n]
        self._asked = (self._next, len(out))
        self._next += len(out)
        return out

    def _secondary(self, told: Told) -> float:
        key = self.config.secondary
        if key not in told.info:
            raise ConfigError(f"strategy 'nsga2' needs '{key}' in each evaluation's info; with the benchmark objective "
                              f"add objective.extra_metrics = [\"{key}\"], or set strategy.secondary to a reported metric")
        return float(told.info[key])

    def tell(self, results: Sequence[Told]) -> None:
        start, _ = self._asked
        for offset, told in enumerate(results):
            second = self._secondary(told)
            self.evaluated.append((told, second))
            f1 = -told.fitness if math.isfinite(told.fitness) else 1e300
            f2 = second if self.config.secondary_direction == "min" else -second
            self._objectives[start + offset] = [f1, f2 if math.isfinite(f2) else 1e300]
        if all(o is not None for o in self._objectives):
            self._generation.set("F", np.array(self._objectives, dtype=float))
            self.algorithm.tell(infills=self._generation)
            self._generation = None

    def front(self) -> list[dict[str, Any]]:
        """The non-dominated set of everything evaluated so far (duplicates removed)."""
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        unique: dict[str, tuple[Told, float]] = {}
        for told, second in self.evaluated:
            unique.setdefault(self.space.canonical(told.arch), (told, second))
        if not unique:
            return []
        keys = list(unique)
        sign = 1.0 if self.config.secondary_direction == "min" else -1.0
        F = np.array([[-unique[k][0].fitness, sign * unique[k][1]] for k in keys])
        F[~np.isfinite(F)] = 1e300
        first = NonDominatedSorting().do(F, only_non_dominated_front=True)
        rows = sorted(first, key=lambda i: F[i, 1])
        return [{"arch": keys[i], "value": unique[keys[i]][0].value, self.config.secondary: unique[keys[i]][1]} for i in rows]

    def results(self) -> dict[str, Any]:
        return {"front": self.front(), "secondary": self.config.secondary}
