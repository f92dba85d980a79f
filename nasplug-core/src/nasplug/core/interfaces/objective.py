"""Objective: what a search optimises for one architecture (benchmark metric, proxy, training)."""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar, Hashable, Literal

import attrs

from nasplug.core.interfaces.base import Part
from nasplug.core.interfaces.space import SearchSpace


@attrs.frozen
class Evaluation:
    """The outcome of one evaluation: the raw ``value``, the simulated ``cost`` in seconds that
    the budget is charged, and extra facts worth storing (e.g. other metrics)."""

    value: float
    cost: float = 0.0
    info: dict[str, Any] = attrs.field(factory=dict)


class Objective(Part, abc.ABC):
    """Evaluates one architecture. Built with the space, the run's benchmark path, seed and data options."""

    group: ClassVar[str] = "nasplug.objectives"
    direction: Literal["max", "min"] = "max"

    def __init__(self, config: Any = None, *, space: SearchSpace, benchmark_path: str | None = None,
                 seed: int = 0, data: Any = None) -> None:
        super().__init__(config)
        self.check_space(space)
        self.space = space
        self.benchmark_path = benchmark_path
        self.seed = seed
        self.data = data

    def check(self) -> None:
        """Fail early (before a run writes anything) if the objective cannot work, e.g. a
        missing benchmark file or metric. The default checks nothing."""

    @abc.abstractmethod
    def evaluate(self, arch: Hashable) -> Evaluation:
        """Evaluate ``arch``; must be deterministic for a given seed."""

    @property
    def charges_cost(self) -> bool:
        """Whether evaluations charge simulated seconds (needed by ``search.seconds`` budgets)."""
        return False

    def fitness(self, value: float) -> float:
        """``value`` in higher-is-better form; a non-finite value ranks below everything."""
        if not math.isfinite(value):
            return -math.inf
        return value if self.direction == "max" else -value

    def fitness_of(self, proposal: Hashable, value: float) -> float:
        """The fitness of ``value`` obtained for ``proposal``; objectives whose proposals differ
        in direction (a multi-fidelity ladder) override it. Default: :meth:`fitness`."""
        return self.fitness(value)

    # --- evaluations split into independent tasks (optional) -------------------------------
    def subtasks(self, arch: Hashable) -> int:
        """How many independent tasks one evaluation of ``arch`` splits into, so an executor
        runs them in parallel (e.g. one per benchmarked architecture when the objective scores
        a proxy configuration). 0 (default): one task calling :meth:`evaluate`."""
        return 0

    def evaluate_subtask(self, arch: Hashable, index: int) -> Any:
        """Task ``index`` of the evaluation of ``arch`` (picklable result); see :meth:`subtasks`."""
        raise NotImplementedError(f"{type(self).__name__} declares subtasks but does not evaluate them")

    def combine(self, arch: Hashable, results: list[Any]) -> Evaluation:
        """The evaluation of ``arch`` from its subtasks' results, in index order; a failed
        subtask is a :class:`~nasplug.core.interfaces.executor.TaskFailed`."""
        raise NotImplementedError(f"{type(self).__name__} declares subtasks but does not combine them")
