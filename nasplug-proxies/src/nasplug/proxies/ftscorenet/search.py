"""NSGA-II with differential-evolution operators in the Zen-NAS ResNet-like space (paper III-E,
IV-A3; docs/methods/ftscorenet.md 1.6).

Objectives, both maximised: (FT-ScoreNet score, model size); an individual outside the budget
(model size > ``max_params`` or too many layers) gets ``(-size, -size)``, so the search is a
constrained single-objective problem turned bi-objective. Genes are the space's 40-gene
template: categorical (block type, kernel, stride) and ordered (widths, bottlenecks,
sub-layers).

Per generation:

* **GA on categorical genes**: two parents by binary tournament (lower rank, then larger
  crowding distance), per-gene uniform swap with probability 0.5, then per-gene random reset
  with probability 0.8 for each child, until ``population`` children exist;
* **DE on ordered genes**: for each child, three other distinct children a, b, c; with
  probability 0.8 per gene the gene becomes ``a + 0.8 (b - c)``, clipped to the gene's range
  and, between two grid values, set to one of the two at random (no forced gene);
* **survivors**: parents and children merged, non-dominated sorting (pymoo's, standard Pareto
  dominance), crowding distance from raw objective differences (not range-normalised, as in the
  reference), ``population`` kept by (rank, -crowding).

Scores are cached per structure string. The reported architecture is the highest-scoring
member of the final first front with at least ``min_size_fraction`` of the budget (the paper's
"at least 900,000 parameters"), or the highest-scoring front member if none is that large.
Defaults: population 512, 100 generations (the paper; the reference code defaults to 2048).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Hashable

import attrs
import numpy as np

from nasplug.core.options import number_in, positive_int


@attrs.frozen
class SearchConfig:
    """NSGA-II-DE settings (paper IV-A3)."""

    population: int = attrs.field(default=512, validator=positive_int)
    generations: int = attrs.field(default=100, validator=positive_int)
    ga_crossover: float = attrs.field(default=0.5, validator=number_in(0.0, 1.0))
    ga_mutation: float = attrs.field(default=0.8, validator=number_in(0.0, 1.0))
    de_crossover: float = attrs.field(default=0.8, validator=number_in(0.0, 1.0))
    de_weight: float = attrs.field(default=0.8, validator=number_in(0.0, 2.0))
    min_size_fraction: float = attrs.field(default=0.9, validator=number_in(0.0, 1.0))


@attrs.define
class Individual:
    genes: tuple[int, ...]
    objectives: tuple[float, float] = (math.nan, math.nan)
    key: str = ""
    feasible: bool = False
    rank: int = 0
    crowding: float = 0.0


@attrs.frozen
class SearchResult:
    front: list[dict[str, Any]]
    best: dict[str, Any]
    evaluations: int
    history: list[dict[str, float]]


def snap(value: float, grid: tuple[int, ...], rng: np.random.Generator) -> int:
    """``value`` on ``grid``: clipped to its ends, else one of the two enclosing values at random."""
    if value <= grid[0]:
        return grid[0]
    if value >= grid[-1]:
        return grid[-1]
    hi = int(np.searchsorted(grid, value))
    if grid[hi] == value:
        return grid[hi]
    return grid[hi - 1] if rng.random() < 0.5 else grid[hi]


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


class NSGA2DE:
    """The search loop; ``score(arch)`` is the FT-ScoreNet score (higher is better)."""

    def __init__(self, space: Any, score: Callable[[Hashable], float], config: SearchConfig | None = None,
                 *, seed: int = 0) -> None:
        for needed in ("to_genes", "from_genes", "gene_kinds", "gene_values", "ordered_genes", "violation", "model_size"):
            if not hasattr(space, needed):
                from nasplug.core.errors import ConfigError
                raise ConfigError(f"NSGA-II-DE needs a space with a gene template (zen_resnet); {type(space).__name__} lacks {needed}")
        self.space, self.score_fn, self.config = space, score, config or SearchConfig()
        self.rng = np.random.default_rng(seed)
        self.kinds = tuple(space.gene_kinds)
        self.categorical = [i for i, k in enumerate(self.kinds) if k not in space.ordered_genes]
        self.ordered = [i for i, k in enumerate(self.kinds) if k in space.ordered_genes]
        self.cache: dict[str, tuple[tuple[float, float], bool]] = {}
        self.evaluations = 0

    # --- evaluation ------------------------------------------------------------------------
    def evaluate(self, ind: Individual) -> Individual:
        """Fill ``ind``'s objectives (cached per structure)."""
        arch = self.space.from_genes(ind.genes)
        size = float(self.space.model_size(arch))
        feasible = self.space.violation(arch) is None
        key = self.space.canonical(arch) if feasible else "infeasible:" + ",".join(map(str, ind.genes))
        if key not in self.cache:
            if feasible:
                self.cache[key] = ((float(self.score_fn(arch)), size), True)
                self.evaluations += 1
            else:
                self.cache[key] = ((-size, -size), False)
        ind.objectives, ind.feasible = self.cache[key]
        ind.key = key
        return ind

    # --- operators -------------------------------------------------------------------------
    def _random_value(self, i: int) -> int:
        values = self.space.gene_values[self.kinds[i]]
        return int(values[int(self.rng.integers(len(values)))])

    def tournament(self, pop: list[Individual]) -> Individual:
        i, j = self.rng.choice(len(pop), size=2, replace=False)
        a, b = pop[i], pop[j]
        return a if (a.rank < b.rank or (a.rank == b.rank and a.crowding > b.crowding)) else b

    def ga(self, p1: Individual, p2: Individual) -> tuple[list[int], list[int]]:
        c = self.config
        g1, g2 = list(p1.genes), list(p2.genes)
        for i in self.categorical:
            if self.rng.random() < c.ga_crossover:
                g1[i], g2[i] = g2[i], g1[i]
            if self.rng.random() < c.ga_mutation:
                g1[i] = self._random_value(i)
            if self.rng.random() < c.ga_mutation:
                g2[i] = self._random_value(i)
        return g1, g2

    def de(self, index: int, children: list[list[int]]) -> list[int]:
        c = self.config
        others = [j for j in range(len(children)) if j != index]
        a, b, d = (children[j] for j in self.rng.choice(others, size=3, replace=False))
        out = list(children[index])
        for i in self.ordered:
            if self.rng.random() < c.de_crossover:
                grid = self.space.gene_values[self.kinds[i]]
                out[i] = snap(a[i] + c.de_weight * (b[i] - d[i]), grid, self.rng)
        return out

    def offspring(self, pop: list[Individual]) -> list[Individual]:
        n = len(pop)
        children: list[list[int]] = []
        while len(children) < n:
            children.extend(self.ga(self.tournament(pop), self.tournament(pop)))
        children = children[:n]
        if n >= 4:
            children = [self.de(i, children) for i in range(n)]
        return [self.evaluate(Individual(tuple(g))) for g in children]

    # --- loop ------------------------------------------------------------------------------
    def initial(self) -> list[Individual]:
        archs = [self.space.sample(self.rng) for _ in range(self.config.population)]
        return [self.evaluate(Individual(tuple(self.space.to_genes(a)))) for a in archs]

    def run(self, callback: Callable[[int, list[Individual]], None] | None = None) -> SearchResult:
        c = self.config
        pop = self.initial()
        rank_and_crowd(pop)
        history = []
        for gen in range(c.generations):
            merged = pop + self.offspring(pop)
            rank_and_crowd(merged)
            pop = sorted(merged, key=lambda ind: (ind.rank, -ind.crowding))[:c.population]
            feasible = [ind.objectives[0] for ind in pop if ind.feasible]
            history.append({"generation": gen + 1, "evaluations": self.evaluations,
                            "best_score": max(feasible) if feasible else math.nan,
                            "front_size": sum(ind.rank == 0 for ind in pop)})
            if callback is not None:
                callback(gen + 1, pop)
        rank_and_crowd(pop)
        front = sorted({ind.key: ind for ind in pop if ind.rank == 0 and ind.feasible}.values(),
                       key=lambda ind: -ind.objectives[1])
        rows = [{"arch": ind.key, "score": ind.objectives[0], "size": int(ind.objectives[1])} for ind in front]
        budget = getattr(self.space.config, "max_params", None)
        large = [r for r in rows if budget is None or r["size"] >= c.min_size_fraction * budget]
        best = max(large or rows, key=lambda r: r["score"]) if rows else {}
        return SearchResult(rows, best, self.evaluations, history)


def nsga2_de(space: Any, score: Callable[[Hashable], float], config: SearchConfig | None = None, *,
             seed: int = 0) -> SearchResult:
    """Run NSGA-II-DE in ``space`` (a space with a gene template, e.g. ``zen_resnet``)."""
    return NSGA2DE(space, score, config, seed=seed).run()
