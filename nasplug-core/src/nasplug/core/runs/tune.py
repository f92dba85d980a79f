"""``tune`` runs: search a proxy's own configuration against a few benchmarked architectures
(Discrete Proxy Search, Li et al., ICCV 2023, Sec. 2.2; see ``docs/methods/eproxy.md``).

Tuning is a search: the proxy class exposes ``tuning_space()``, an object with
``sample(rng) -> dict``, ``mutate(config, rng, probability) -> dict``, ``encode(config) -> str``
and ``decode(str) -> dict`` whose configurations are dicts of the proxy's own options (and, for
``tune.include_base``, ``from_options(config) -> dict``: a proxy config object as a configuration
of the space). :class:`ConfigurationSpace` makes it a search space whose architectures are the
encoded configurations, :class:`TuningObjective` scores one by the Spearman correlation between
the proxy's direction-adjusted scores and the benchmark ``metric`` on ``archs`` architectures
drawn by the run seed (non-finite scores ranked last; a NaN correlation, e.g. constant scores,
counts as fitness -1), and the core's aging evolution drives the ordinary search loop: the first
``population`` configurations are random, after that each child mutates the fittest of
``sample`` configurations drawn from the latest ``population``. Budgets, hooks, executors, repeats
and resume are the search loop's.

Every (configuration, architecture) pair is one task of the run's executor (the objective's
subtasks), so a batch of configurations is scored in parallel; a configuration is committed to the
store as soon as its last architecture arrives (``arch`` = its encoded form, ``value`` = its
Spearman, ``info`` = the configuration and its scores).

The summary holds ``best_config`` (the tuned options) and ``proxy_table`` (the full proxy table:
the ``[proxy]`` options with the tuned ones over them). A later run reuses it with
``config_from = <tune run id>`` in any proxy table, resolved by
:func:`nasplug.core.tuned.resolve_config_from`; keys given next to ``config_from`` override the
tuned ones.
"""

from __future__ import annotations

import math
from typing import Any, Hashable, Mapping

import attrs
import numpy as np

from nasplug.core import metrics
from nasplug.core.errors import ArchitectureError, BenchmarkError, BudgetError, ConfigError
from nasplug.core.evolution import AgingEvolution
from nasplug.core.interfaces.executor import TaskFailed
from nasplug.core.interfaces.objective import Evaluation, Objective
from nasplug.core.interfaces.space import SearchSpace
from nasplug.core.options import boolean, number_in, optional_string, positive_int
from nasplug.core.registry import registry
from nasplug.core.runs.search import SearchOptions, SearchRun
from nasplug.core.seeding import derive_rng, derive_seed
from nasplug.core.store import EvaluationRecord
from nasplug.core.interfaces.capabilities import Benchmarked, require


def ranked_fitness(proxy: Any, values: Any) -> np.ndarray:
    """The proxy's values in higher-is-better form, non-finite ones ranked below every finite one."""
    fitness = np.array([proxy.fitness(v) if math.isfinite(v) else -math.inf for v in values], dtype=float)
    finite = np.isfinite(fitness)
    floor = float(np.min(fitness[finite])) - 1.0 if np.any(finite) else 0.0
    return np.where(finite, fitness, floor)


def _tune_archs(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 3
    ok = ok or (isinstance(value, list) and len(value) >= 3 and all(isinstance(v, str) for v in value))
    if not ok:
        raise ValueError(f"{attribute.name}: expected an integer >= 3 or a list of at least 3 architecture strings, got {value!r}")


@attrs.frozen
class TuneOptions:
    """A tune run searches the proxy's own configuration (Discrete Proxy Search, Eproxy paper
    Sec. 2.2) by regularised evolution: ``population`` random configurations, then children of
    the best of ``sample`` drawn from the latest ``population``, each field mutated with
    ``mutation_probability``, until ``configurations`` have been evaluated. A configuration's
    fitness is the Spearman correlation, over ``archs`` benchmarked architectures, between the
    proxy's direction-adjusted scores and ``metric``. ``batch_size`` children are proposed per
    generation (1: the paper's sequential evolution). ``include_base``: the first member of the
    initial population is the ``[proxy]`` table's own configuration instead of a random one, so
    the tuned result never ranks the tuning architectures worse than the untuned proxy (off by
    default: the paper's initial population is all random)."""

    population: int = attrs.field(default=40, validator=positive_int)
    sample: int = attrs.field(default=10, validator=positive_int)
    configurations: int = attrs.field(default=200, validator=positive_int)
    mutation_probability: float = attrs.field(default=0.2, validator=number_in(0, 1))
    archs: int | list[str] = attrs.field(default=20, validator=_tune_archs)
    metric: str = attrs.field(default="cifar10_valid_val", validator=optional_string)
    batch_size: int = attrs.field(default=1, validator=positive_int)
    include_base: bool = attrs.field(default=False, validator=boolean)

    def __attrs_post_init__(self) -> None:
        if self.sample > self.population:
            raise ValueError(f"sample: expected at most population ({self.population}), got {self.sample}")
        if self.metric is None:
            raise ValueError("metric: expected the benchmark metric to correlate with, got None")


class ConfigurationSpace(SearchSpace):
    """A proxy's tuning space as a search space: architectures are encoded configurations."""

    def __init__(self, tuning: Any, mutation_probability: float) -> None:
        super().__init__(None)
        self.tuning = tuning
        self.mutation_probability = mutation_probability

    def parse(self, text: str) -> str:
        try:
            return self.tuning.encode(self.tuning.decode(text))
        except (TypeError, ValueError) as exc:
            raise ArchitectureError(f"'{text}' is not an encoded configuration of this tuning space ({exc})") from None

    def canonical(self, arch: Hashable) -> str:
        return str(arch)

    def sample(self, rng: np.random.Generator) -> str:
        return self.tuning.encode(self.tuning.sample(rng))

    def mutate(self, arch: Hashable, rng: np.random.Generator) -> str:
        """Every field resampled independently with ``tune.mutation_probability`` (DPS's mutation)."""
        return self.tuning.encode(self.tuning.mutate(self.tuning.decode(arch), rng, self.mutation_probability))

    def neighbours(self, arch: Hashable) -> list[str]:
        raise NotImplementedError("a tuning space has no enumerable neighbourhood")

    def distance(self, a: Hashable, b: Hashable) -> float:
        x, y = self.tuning.decode(a), self.tuning.decode(b)
        return float(sum(x.get(k) != y.get(k) for k in set(x) | set(y)))

    def size(self) -> int | None:
        return self.tuning.size() if hasattr(self.tuning, "size") else None


class TuningObjective(Objective):
    """Spearman correlation of a proxy configuration's scores with a benchmark metric; one subtask
    per benchmarked architecture. Built by the tune run, not registered."""

    def __init__(self, *, table: Mapping[str, Any], base: Any, tuning: Any, space: SearchSpace, archs: list[Any],
                 keys: list[str], truth: np.ndarray, context: Any) -> None:
        super().__init__(None, space=space)
        self.table, self.base, self.tuning = dict(table), base, tuning
        self.archs, self.keys, self.truth, self.context = archs, keys, truth, context
        self._proxies: dict[str, Any] = {}
        self.registry = registry()  # the run's, carried to workers so they build from it too

    def build(self, configuration: Mapping[str, Any]) -> Any:
        """The proxy with ``configuration`` over the ``[proxy]`` table's options."""
        return self.registry.create("proxy", {**self.table, **configuration}, section="proxy", space=self.space)

    def _proxy(self, key: str) -> Any:
        if key not in self._proxies:  # a worker builds each configuration's proxy once
            self._proxies = {key: self.build(self.tuning.decode(key))}
        return self._proxies[key]

    def subtasks(self, arch: Hashable) -> int:
        return len(self.archs)

    def evaluate_subtask(self, arch: Hashable, index: int) -> float:
        return float(self._proxy(str(arch)).score(self.archs[index], self.context))

    def evaluate(self, arch: Hashable) -> Evaluation:
        return self.combine(arch, [self.evaluate_subtask(arch, j) for j in range(len(self.archs))])

    def combine(self, arch: Hashable, results: list[Any]) -> Evaluation:
        values = [math.nan if isinstance(r, TaskFailed) else float(r) for r in results]
        errors = [f"{k}: {r.error}" for k, r in zip(self.keys, results) if isinstance(r, TaskFailed)]
        rho = metrics.spearman(ranked_fitness(self.base, values), self.truth)
        info: dict[str, Any] = {"config": self.tuning.decode(arch), "scores": values,
                                "non_finite": int(sum(not math.isfinite(v) for v in values))}
        if errors:
            info["errors"] = errors
        return Evaluation(value=rho, info=info)

    def fitness(self, value: float) -> float:
        return value if math.isfinite(value) else -1.0


class _BaseFirst(AgingEvolution):
    """Aging evolution whose first initial member is the untuned configuration (the random one
    is still drawn, so the other members match a run without ``include_base``)."""

    def __init__(self, config: Any = None, *, first: str, **deps: Any) -> None:
        super().__init__(config, **deps)
        self.first: str | None = first

    def ask(self, n: int) -> list[Hashable]:
        out = super().ask(n)
        if self.first is not None and out:
            out[0], self.first = self.first, None
        return out


class TuneRun(SearchRun):
    """tune: Discrete Proxy Search, evolving a tunable proxy's own options against a benchmark.

    A search run over the ``[proxy]``'s configuration space (see the module docstring): ``tune``
    options map onto the search loop's (``configurations`` proposals, ``batch_size`` children per
    generation) and the aging evolution of ``rea``."""

    Config = TuneOptions
    tables = ("proxy",)

    def search_options(self) -> SearchOptions:
        o = self.config.options
        return SearchOptions(queries=o.configurations, max_proposals=o.configurations, batch_size=o.batch_size)

    def build_search_space(self) -> ConfigurationSpace:
        o, config, space = self.config.options, self.config, self.space
        self.table = dict(config.parts["proxy"])
        self.name = self.table["name"]
        self.base = self.registry.create("proxy", self.table, section="proxy", space=space)
        factory = getattr(type(self.base), "tuning_space", None)
        if factory is None:
            raise ConfigError(
                f"proxy '{self.name}' has no tuning space; tune runs need a proxy whose class defines tuning_space() (e.g. eproxy)")
        self.tuning = factory()
        if o.include_base and not hasattr(self.tuning, "from_options"):
            raise ConfigError(f"tune.include_base = true needs a tuning space with from_options(); proxy '{self.name}' has none; set it to false")
        return ConfigurationSpace(self.tuning, o.mutation_probability)

    def build_objective(self) -> TuningObjective:
        o, config, space = self.config.options, self.config, self.space
        benchmark = require(space, Benchmarked, "a tune run").load_benchmark(config.benchmark.path)
        benchmark.check_metric(o.metric)
        if isinstance(o.archs, list):
            archs = []
            for i, text in enumerate(o.archs):
                try:
                    archs.append(space.parse(text))
                except ArchitectureError as exc:
                    raise ArchitectureError(f"config key 'tune.archs[{i}]': {exc}") from None
        else:
            size = space.size()
            if size is not None and o.archs > size:
                raise BudgetError(f"tune.archs = {o.archs} exceeds the {size} architectures of the space; lower it")
            archs = space.sample_many(o.archs, derive_rng(config.seed, "archs"))
        keys = [space.canonical(a) for a in archs]
        truth = benchmark.query_many(archs, o.metric)
        missing = [k for k, t in zip(keys, truth) if not math.isfinite(t)]
        if missing:
            raise BenchmarkError(f"benchmark metric '{o.metric}' has no value for {missing[0]}; choose another metric or other architectures")
        from nasplug.core.data import proxy_context

        context = proxy_context(self.base, config.data, derive_seed(config.seed, "proxy"), self.name)
        objective = TuningObjective(table=self.table, base=self.base, tuning=self.tuning, space=space, archs=archs,
                                    keys=keys, truth=truth, context=context)
        objective.build(self.tuning.sample(derive_rng(config.seed, "check")))  # the space's options must be valid here
        return objective

    def build_strategy(self) -> AgingEvolution:
        o = self.config.options
        deps = dict(space=self.search_space, seed=derive_seed(self.config.seed, "tune"))
        options = AgingEvolution.Config(population_size=o.population, sample_size=o.sample)
        if o.include_base:
            return _BaseFirst(options, first=self.tuning.encode(self.tuning.from_options(self.base.config)), **deps)
        return AgingEvolution(options, **deps)

    def _summary(self, history: list[EvaluationRecord], queries: int, simulated: float) -> dict[str, Any]:
        evaluated = [r for r in history if not r.info.get("repeat")]
        first = {r.seq: r for r in evaluated}
        best = max(history, key=lambda r: (r.fitness, -r.seq))
        curve = np.maximum.accumulate([r.fitness for r in history]).tolist()
        seconds = [r.wall / len(self.objective.archs) for r in evaluated]
        best_config = first[best.info.get("of", best.seq)].info["config"]
        return {
            "proxy": self.name, "metric": self.config.options.metric, "archs": len(self.objective.archs),
            "tuned_archs": self.objective.keys, "configurations": len(history), "evaluated": len(evaluated),
            "best_seq": best.seq, "best_spearman": best.value, "best_fitness": best.fitness,
            "best_config": best_config, "proxy_table": {**self.table, **best_config},
            "best_so_far": curve, "seconds_per_arch": float(np.mean(seconds)) if seconds else float("nan"),
        }
