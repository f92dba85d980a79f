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
        self.check_space(space)
        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    @abc.abstractmethod
    def ask(self, n: int) -> list[Hashable]:
        """Between 1 and ``n`` architectures to evaluate next; ``[]`` when the strategy is done."""

    @abc.abstractmethod
    def tell(self, results: Sequence[Told]) -> None:
        """The results of the last ``ask``, in the same order."""

    #: Whether the strategy proposes :class:`~nasplug.core.fidelity.AtFidelity` pairs: the run's
    #: objective must then be a multi-fidelity ladder, whose level names the runner passes to
    #: :meth:`set_fidelities` before the first ``ask``.
    uses_fidelities: ClassVar[bool] = False

    def set_fidelities(self, names: Sequence[str]) -> None:
        """The run objective's fidelity levels, cheapest first (for ``uses_fidelities`` strategies)."""
        self.fidelities = list(names)

    def ready(self) -> int:
        """How many proposals the strategy can make now that depend on no pending result (e.g.
        the rest of a random initial population). The runner asks for up to this many at once
        when it exceeds ``search.batch_size``, so they are evaluated in parallel; proposals and
        results are the same either way. Default 0: batches are ``search.batch_size``."""
        return 0

    def results(self) -> dict[str, Any]:
        """Strategy-specific results the runner adds to the run's result (e.g. a Pareto front,
        the final subspace centres); JSON-serialisable."""
        return {}
