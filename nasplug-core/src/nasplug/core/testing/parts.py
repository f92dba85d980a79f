"""Minimal parts for testing the core and plugins that need a partner of another kind.

They are real (if simple) algorithms, registered only from code, never through entry points.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import attrs

from nasplug.core.interfaces.strategy import Strategy, Told
from nasplug.core.options import positive_int


@attrs.frozen
class HillClimbConfig:
    """``restarts_after``: proposals without improvement before jumping to a random architecture."""

    restarts_after: int = attrs.field(default=20, validator=positive_int)


class HillClimb(Strategy):
    """First-improvement hill climbing with random restarts (a test partner for the runner)."""

    Config = HillClimbConfig

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        self.current: Told | None = None
        self.stale = 0

    def ask(self, n: int) -> list[Hashable]:
        if self.current is None or self.stale >= self.config.restarts_after:
            self.stale = 0
            return [self.space.sample(self.rng) for _ in range(n)]
        return [self.space.mutate(self.current.arch, self.rng) for _ in range(n)]

    def tell(self, results: Sequence[Told]) -> None:
        for told in results:
            if self.current is None or told.fitness > self.current.fitness:
                self.current, self.stale = told, 0
            else:
                self.stale += 1


class UniformRandom(Strategy):
    """Uniform random proposals (with repeats, which the runner answers): the bar that a
    strategy's behavioural conformance test must clear."""

    def ask(self, n: int) -> list[Hashable]:
        return [self.space.sample(self.rng) for _ in range(n)]

    def tell(self, results: Sequence[Told]) -> None:
        """Random search ignores results."""
