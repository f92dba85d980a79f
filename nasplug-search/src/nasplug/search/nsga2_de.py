"""NSGA-II with differential-evolution operators: FT-ScoreNet's search (paper III-E, IV-A3;
``docs/methods/ftscorenet.md`` 1.6), on any space with a positional form.

Two objectives, both maximised: the run's objective (its fitness) and a secondary one, by default
the space's ``model_size`` (FT-ScoreNet's search maximises the size under a budget, so the front
runs from small to large networks). A gene vector that is not a member of the space
(``from_positions`` raises, e.g. outside zen_resnet's parameter budget) is never evaluated: it gets
``(-p, -p)`` with ``p = space.penalty(positions)`` where the space offers one (zen_resnet: the
vector's model size, as the reference code does), else ``-inf``, so selection steers back into
the space.

Per generation (``population`` children, all proposed at once so an executor evaluates them in
parallel):

* **GA on categorical positions**: two parents by binary tournament (lower rank, then larger
  crowding distance), per-position uniform swap with probability ``ga_crossover`` (0.5), then a
  per-position random reset with probability ``ga_mutation`` (0.8) for each child;
* **DE on ordered positions** (``space.ordered_positions()``; none where the space does not say):
  for each child, three other distinct children a, b, c; with probability ``de_crossover`` (0.8)
  per position the value becomes ``a + de_weight (b - c)`` (``de_weight`` 0.8) on the position's
  value grid (``space.position_values()``, else the indices), clipped to its ends and, between two
  grid values, set to one of the two at random (no forced position);
* **survivors**: parents and children merged, non-dominated sorting (pymoo's), crowding distance
  from raw objective differences (not range-normalised, as in the reference), ``population`` kept
  by (rank, -crowding).

The reported ``best`` is the highest-scoring member of the final first front whose secondary
value is at least ``min_size_fraction`` of the space's ``max_params`` (the paper's "at least
900,000 parameters"), or the highest-scoring front member. Defaults: population 512,
100 generations (the paper; the reference code defaults to 2,048). Repeated proposals are
answered from the run's record, as the reference caches scores per structure.
"""

from __future__ import annotations

import math
from typing import Any, Hashable, Protocol, Sequence, runtime_checkable

import attrs
import numpy as np

from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.core.interfaces.capabilities import Positional
from nasplug.core.interfaces.strategy import Strategy, Told
from nasplug.core.options import number_in, positive_int, string
from nasplug.search._positions import position_choices


@runtime_checkable
class Penalised(Protocol):
    """A positional space that says how far a non-member gene vector lies outside it."""

    def penalty(self, positions: Sequence[int]) -> float: ...


@attrs.frozen
class NSGA2DEConfig:
    """NSGA-II-DE settings (FT-ScoreNet paper IV-A3); ``secondary``: ``"model_size"`` (the
    space's) or a key of the objective's evaluation info."""

    population: int = attrs.field(default=512, validator=positive_int)
    generations: int = attrs.field(default=100, validator=positive_int)
    ga_crossover: float = attrs.field(default=0.5, validator=number_in(0.0, 1.0))
    ga_mutation: float = attrs.field(default=0.8, validator=number_in(0.0, 1.0))
    de_crossover: float = attrs.field(default=0.8, validator=number_in(0.0, 1.0))
    de_weight: float = attrs.field(default=0.8, validator=number_in(0.0, 2.0))
    min_size_fraction: float = attrs.field(default=0.9, validator=number_in(0.0, 1.0))
    secondary: str = attrs.field(default="model_size", validator=string)


@attrs.define
class Individual:
    positions: tuple[int, ...]
    arch: Any = None
    objectives: tuple[float, float] | None = None
    rank: int = 0
    crowding: float = 0.0


def snap(value: float, grid: Sequence[int], rng: np.random.Generator) -> int:
    """``value`` on ``grid``: clipped to its ends, else one of the two enclosing values at random."""
    if value <= grid[0]:
        return int(grid[0])
    if value >= grid[-1]:
        return int(grid[-1])
    hi = int(np.searchsorted(grid, value))
    if grid[hi] == value:
        return int(grid[hi])
    return int(grid[hi - 1] if rng.random() < 0.5 else grid[hi])


def crowding_distance(objectives: np.ndarray) -> np.ndarray:
    """Crowding distance of one front from raw objective differences; boundaries get inf."""
    n, m = objectives.shape
    if n <= 2:
        return np.full(n, np.inf)
    dist = np.zeros(n)
    for j in range(m):
        order = np.argsort(objectives[:, j], kind="stable")
        col = objectives[order, j]
        dist[order[1:-1]] += col[2:] - col[:-2]
        dist[order[0]] = dist[order[-1]] = np.inf
    return dist


def rank_and_crowd(pop: list[Individual]) -> None:
    """Set ``rank`` (non-dominated sorting, both objectives maximised) and ``crowding``."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    f = -np.array([ind.objectives for ind in pop], dtype=float)
    for r, front in enumerate(NonDominatedSorting().do(f)):
        crowd = crowding_distance(-f[front])
        for i, c in zip(front, crowd):
            pop[i].rank, pop[i].crowding = r, float(c)


class NSGA2DE(Strategy):
    """NSGA-II with GA + differential-evolution offspring (FT-ScoreNet's search), any positional space."""

    Config = NSGA2DEConfig
    requires = (Positional,)

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        space, c = self.space, self.config
        if c.secondary == "model_size" and not callable(getattr(space, "model_size", None)):
            raise ConfigError(f"strategy 'nsga2_de' maximises the space's model_size, which '{type(space).__name__}' "
                              "does not report; set strategy.secondary to a key of the objective's info")
        self.choices = position_choices(space)
        self.grids = tuple(tuple(g) for g in space.position_values()) if hasattr(space, "position_values") \
            else tuple(tuple(range(k)) for k in self.choices)
        ordered = tuple(space.ordered_positions()) if hasattr(space, "ordered_positions") else (False,) * len(self.choices)
        self.categorical = [i for i, o in enumerate(ordered) if not o]
        self.ordered = [i for i, o in enumerate(ordered) if o]
        self.population: list[Individual] = []
        self.generation = 0
        self.history: list[dict[str, float]] = []
        self.evaluations = 0
        self.batch = self._individuals(self.space.to_positions(self.space.sample(self.rng)) for _ in range(c.population))
        self._next = 0
        self._asked: list[int] = []

    # --- individuals ---------------------------------------------------------------------
    def _individuals(self, position_lists: Any) -> list[Individual]:
        """Individuals for these positions; non-members get their penalty objectives at once."""
        out = []
        for positions in position_lists:
            ind = Individual(tuple(int(p) for p in positions))
            try:
                ind.arch = self.space.from_positions(ind.positions)
            except ArchitectureError:
                p = self.space.penalty(ind.positions) if isinstance(self.space, Penalised) else math.inf
                ind.objectives = (-p, -p)
            out.append(ind)
        return out

    def _value(self, i: int, index: int) -> int:
        return self.grids[i][index]

    def _index(self, i: int, value: int) -> int:
        return self.grids[i].index(value)

    # --- operators (the reference's order of random draws) ---------------------------------
    def _tournament(self, pop: list[Individual]) -> Individual:
        i, j = self.rng.choice(len(pop), size=2, replace=False)
        a, b = pop[i], pop[j]
        return a if (a.rank < b.rank or (a.rank == b.rank and a.crowding > b.crowding)) else b

    def _ga(self, p1: Individual, p2: Individual) -> tuple[list[int], list[int]]:
        c = self.config
        g1, g2 = list(p1.positions), list(p2.positions)
        for i in self.categorical:
            if self.rng.random() < c.ga_crossover:
                g1[i], g2[i] = g2[i], g1[i]
            if self.rng.random() < c.ga_mutation:
                g1[i] = int(self.rng.integers(self.choices[i]))
            if self.rng.random() < c.ga_mutation:
                g2[i] = int(self.rng.integers(self.choices[i]))
        return g1, g2

    def _de(self, index: int, children: list[list[int]]) -> list[int]:
        c = self.config
        others = [j for j in range(len(children)) if j != index]
        a, b, d = (children[j] for j in self.rng.choice(others, size=3, replace=False))
        out = list(children[index])
        for i in self.ordered:
            if self.rng.random() < c.de_crossover:
                value = self._value(i, a[i]) + c.de_weight * (self._value(i, b[i]) - self._value(i, d[i]))
                out[i] = self._index(i, snap(value, self.grids[i], self.rng))
        return out

    def _offspring(self) -> list[Individual]:
        pop, n = self.population, len(self.population)
        children: list[list[int]] = []
        while len(children) < n:
            children.extend(self._ga(self._tournament(pop), self._tournament(pop)))
        children = children[:n]
        if n >= 4:
            children = [self._de(i, children) for i in range(n)]
        return self._individuals(children)

    # --- ask / tell ----------------------------------------------------------------------
    def _pending(self) -> list[int]:
        return [i for i in range(self._next, len(self.batch)) if self.batch[i].objectives is None]

    def ready(self) -> int:
        """The rest of the current generation: its members depend on no pending result."""
        return len(self._pending())

    def ask(self, n: int) -> list[Hashable]:
        if self.generation > self.config.generations:
            return []
        todo = self._pending()[:n]
        self._next = todo[-1] + 1 if todo else len(self.batch)
        self._asked = todo
        return [self.batch[i].arch for i in todo]

    def _secondary(self, ind: Individual, told: Told) -> float:
        key = self.config.secondary
        if key == "model_size":
            return float(self.space.model_size(ind.arch))
        if key not in told.info:
            raise ConfigError(f"strategy 'nsga2_de' needs '{key}' in each evaluation's info; report it from the "
                              "objective (e.g. objective.extra_metrics) or set strategy.secondary = \"model_size\"")
        return float(told.info[key])

    def tell(self, results: Sequence[Told]) -> None:
        for i, told in zip(self._asked, results):
            ind = self.batch[i]
            ind.objectives = (told.fitness if math.isfinite(told.fitness) else -math.inf, self._secondary(ind, told))
            self.evaluations += 0 if told.info.get("repeat") else 1
        # a generation whose members are all outside the space needs no evaluation: go on
        while self.batch and all(ind.objectives is not None for ind in self.batch):
            self._advance()

    def _advance(self) -> None:
        """Select survivors of the completed batch and breed the next generation."""
        if self.generation == 0:
            self.population = self.batch
            rank_and_crowd(self.population)
        else:
            merged = self.population + self.batch
            rank_and_crowd(merged)
            self.population = sorted(merged, key=lambda ind: (ind.rank, -ind.crowding))[:self.config.population]
            feasible = [ind.objectives[0] for ind in self.population if ind.arch is not None]
            self.history.append({"generation": self.generation, "evaluations": self.evaluations,
                                 "best_score": max(feasible) if feasible else math.nan,
                                 "front_size": sum(ind.rank == 0 for ind in self.population)})
        self.generation += 1
        self.batch, self._next = (self._offspring() if self.generation <= self.config.generations else []), 0

    # --- results -------------------------------------------------------------------------
    def front(self) -> list[dict[str, Any]]:
        """The first front of the current population (members only), largest secondary first."""
        if not self.population:
            return []
        rank_and_crowd(self.population)
        unique = {self.space.canonical(ind.arch): ind for ind in self.population if ind.rank == 0 and ind.arch is not None}
        rows = sorted(unique.items(), key=lambda kv: -kv[1].objectives[1])
        return [{"arch": key, "score": ind.objectives[0], self.config.secondary: ind.objectives[1]} for key, ind in rows]

    def results(self) -> dict[str, Any]:
        rows = self.front()
        budget = getattr(getattr(self.space, "config", None), "max_params", None)
        key = self.config.secondary
        large = [r for r in rows if budget is None or r[key] >= self.config.min_size_fraction * budget]
        best = max(large or rows, key=lambda r: r["score"]) if rows else {}
        return {"front": rows, "best": best, "generations": len(self.history), "history": self.history,
                "evaluations": self.evaluations}
