"""Strategy: a search algorithm in ask/tell form; the runner owns the loop and the budget."""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.interfaces.base import Part
from nasplug.core.interfaces.space import SearchSpace


@attrs.frozen
class Told:
    """One evaluated proposal: the architecture and its fitness (higher is better; the runner
    negates minimised objectives). ``value`` is the objective's raw value."""

    arch: Hashable
    fitness: float
    value: float
    #: What the objective reported besides the value (e.g. ``extra_metrics`` for multi-objective
    #: strategies); ``repeat`` answers carry the first evaluation's info.
    info: dict = attrs.field(factory=dict, eq=False)


class Strategy(Part, abc.ABC):
    """``ask(n)`` proposes up to ``n`` architectures; ``tell`` receives their fitness, in the order
    asked. All randomness comes from ``self.rng`` (seeded by the runner), and decisions depend
    only on the seed and what was told: the runner resumes a run by replaying ask/tell with the
    stored results, so a strategy needs no state serialisation of its own."""

    group: ClassVar[str] = "nasplug.strategies"

    def __init__(self, config: Any = None, *, space: SearchSpace, seed: int = 0) -> None:
        super().__init__(config)
        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    @abc.abstractmethod
    def ask(self, n: int) -> list[Hashable]:
        """Between 1 and ``n`` architectures to evaluate next; ``[]`` when the strategy is done."""

    @abc.abstractmethod
    def tell(self, results: Sequence[Told]) -> None:
        """The results of the last ``ask``, in the same order."""

    def results(self) -> dict[str, Any]:
        """Strategy-specific results the runner adds to the run's result (e.g. a Pareto front,
        the final subspace centres); JSON-serialisable."""
        return {}

    def best(self) -> Told | None:
        """The best result told so far (strategies may override with their own notion)."""
        return getattr(self, "_best", None)

    def _track(self, results: Sequence[Told]) -> None:
        """Keep ``best()`` current; subclasses call this from ``tell``."""
        for r in results:
            current = getattr(self, "_best", None)
            if np.isfinite(r.fitness) and (current is None or r.fitness > current.fitness):
                self._best = r
