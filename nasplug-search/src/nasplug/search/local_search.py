"""Local search with restarts (White et al., "Local search is state of the art for NAS", 2021)."""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import attrs

from nasplug.core.interfaces.strategy import Strategy, Told
from nasplug.core.options import boolean, positive_int


@attrs.frozen
class LocalSearchConfig:
    """``initial``: random architectures evaluated before the first climb (its start is the
    best of them). ``first_improvement``: move as soon as a neighbour improves instead of
    evaluating the whole neighbourhood (the paper's default is the full neighbourhood)."""

    initial: int = attrs.field(default=1, validator=positive_int)
    first_improvement: bool = attrs.field(default=False, validator=boolean)


class LocalSearch(Strategy):
    """Hill climbing over full neighbourhoods, restarting at local optima.

    Evaluate the neighbours of the current architecture (in the space's
    order, shuffled by the seed), move to the best one if it improves, and restart from a
    random architecture at a local optimum. Works on every space with ``neighbours``."""

    Config = LocalSearchConfig

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        self.current: Told | None = None
        self.queue: list[Hashable] = []
        self.best_neighbour: Told | None = None
        self._initial_left = self.config.initial
        self._restart_pending = False

    def _open(self, centre: Told) -> None:
        self.current = centre
        neighbours = list(self.space.neighbours(centre.arch))
        order = self.rng.permutation(len(neighbours))
        self.queue = [neighbours[i] for i in order]
        self.best_neighbour = None

    def ask(self, n: int) -> list[Hashable]:
        if self._initial_left > 0 or self._restart_pending:
            k = min(n, self._initial_left) if self._initial_left > 0 else 1
            return [self.space.sample(self.rng) for _ in range(k)]
        out, self.queue = self.queue[:n], self.queue[n:]
        return out

    def _climb(self) -> None:
        """Called when the neighbourhood is exhausted (or an improvement is found)."""
        assert self.current is not None
        if self.best_neighbour is not None and self.best_neighbour.fitness > self.current.fitness:
            self._open(self.best_neighbour)
        else:
            self._restart_pending = True

    def tell(self, results: Sequence[Told]) -> None:
        if self._initial_left > 0 or self._restart_pending:
            if self._initial_left > 0:
                self._initial_left -= len(results)
                self._starts = getattr(self, "_starts", []) + list(results)
                if self._initial_left > 0:
                    return
                start = max(self._starts, key=lambda t: t.fitness)
                self._starts = []
            else:
                self._restart_pending = False
                start = results[0]
            self._open(start)
            return
        for told in results:
            if self.best_neighbour is None or told.fitness > self.best_neighbour.fitness:
                self.best_neighbour = told
        improved = self.best_neighbour is not None and self.current is not None and self.best_neighbour.fitness > self.current.fitness
        if not self.queue or (self.config.first_improvement and improved):
            self._climb()
