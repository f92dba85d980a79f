"""Random search: uniform samples, each architecture proposed at most once."""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import attrs

from nasplug.core.interfaces.strategy import Strategy, Told
from nasplug.core.options import positive_int


@attrs.frozen
class RandomSearchConfig:
    """``max_tries``: samples drawn per proposal before accepting a repeat (finite spaces run dry)."""

    max_tries: int = attrs.field(default=1000, validator=positive_int)


class RandomSearch(Strategy):
    """Uniformly random architectures without repeats (the baseline of every NAS table)."""

    Config = RandomSearchConfig

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        self._proposed: set[str] = set()

    def ask(self, n: int) -> list[Hashable]:
        size = self.space.size()
        out = []
        for _ in range(n):
            if size is not None and len(self._proposed) >= size:
                break
            for _ in range(self.config.max_tries):
                arch = self.space.sample(self.rng)
                key = self.space.canonical(arch)
                if key not in self._proposed:
                    break
            self._proposed.add(key)
            out.append(arch)
        return out

    def tell(self, results: Sequence[Told]) -> None:
        """Random search ignores results."""
