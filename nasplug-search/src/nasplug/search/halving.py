"""Successive halving (Jamieson & Talwalkar, AISTATS 2016) over a multi-fidelity objective.

A bracket samples ``n`` architectures, evaluates them all at the lowest rung's fidelity, keeps the
best ``floor(n_i / eta)`` of each rung and evaluates those at the next fidelity, up to the top
one. The objective is a ``multi_fidelity`` ladder (e.g. a zero-cost proxy, then 1, 3 and 9 epochs of
training): each rung is one of its levels, so each architecture is charged once per fidelity it
reaches. When a bracket ends a new one starts with fresh architectures, until the run's budget
ends. :class:`BracketStrategy` is the machinery Hyperband shares.
"""

from __future__ import annotations

import abc
from typing import Any, Hashable, Sequence

import attrs

from nasplug.core.errors import ConfigError
from nasplug.core.fidelity import AtFidelity, unwrap
from nasplug.core.interfaces.strategy import Strategy, Told
from nasplug.core.options import non_negative_int, number_in, optional_positive_int

#: A bracket: its rungs, each ``(architectures evaluated, fidelity level)``.
Rungs = list[tuple[int, int]]


def fresh_samples(space: Any, rng: Any, n: int, seen: set[str]) -> list[Hashable]:
    """Up to ``n`` random architectures whose canonical strings are not in ``seen`` (added to it);
    fewer when a finite space runs out."""
    size = space.size()
    out: list[Hashable] = []
    tries = 0
    while len(out) < n and (size is None or len(seen) < size) and tries < 1000 * n:
        tries += 1
        arch = space.sample(rng)
        key = space.canonical(arch)
        if key not in seen:
            seen.add(key)
            out.append(arch)
    return out


def eta_option() -> Any:
    """The ``eta`` option of the bracket strategies: a number > 1 (3, Hyperband's paper)."""

    def check(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
        number_in(1.0, None)(_inst, attribute, value)
        if value <= 1.0:
            raise ValueError(f"{attribute.name}: expected a number > 1, got {value!r}")

    return attrs.field(default=3.0, validator=check)


def halving_rungs(n: int, eta: float, first_level: int, top_level: int) -> Rungs:
    """The rungs of one successive-halving bracket: ``n`` architectures at ``first_level``, then
    ``floor(n_i / eta)`` (at least one) at each next level up to ``top_level``."""
    rungs, size = [], n
    for level in range(first_level, top_level + 1):
        rungs.append((size, level))
        size = max(1, int(size // eta))
    return rungs


class BracketStrategy(Strategy, abc.ABC):
    """Runs brackets of successive halving one after another; subclasses say what the next
    bracket's rungs are. Proposals of one rung do not depend on each other (``ready``), so a
    batch executor evaluates a whole rung in parallel. Promotion ranks by fitness, ties by the
    architecture's canonical string, so the result does not depend on evaluation order."""

    uses_fidelities = True

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        self.fidelities: list[str] = []
        self.brackets = 0
        self.rungs: Rungs = []
        self.rung = 0
        self.queue: list[Hashable] = []     # architectures of the current rung not yet asked
        self.waiting = 0                    # asked in the current rung, not yet told
        self.scores: list[tuple[float, str, Hashable]] = []  # told results of the current rung
        self.sampled: set[str] = set()
        self.history: list[dict[str, Any]] = []

    @property
    def top(self) -> int:
        return len(self.fidelities) - 1

    @abc.abstractmethod
    def next_rungs(self) -> Rungs:
        """The rungs of bracket number ``self.brackets`` (0-based)."""

    def set_fidelities(self, names: Sequence[str]) -> None:
        super().set_fidelities(names)
        rungs = self.next_rungs()
        outside = [level for _, level in rungs if not 0 <= level <= self.top]
        if outside or not rungs:  # no rungs: the first level is already past the top one
            level = outside[0] if outside else getattr(self.config, "min_level", 0)
            raise ConfigError(f"strategy: a rung at fidelity level {level} is outside the objective's {len(names)} "
                              f"fidelities (levels 0..{self.top}); lower strategy.min_level")

    def _fresh(self, n: int) -> list[Hashable]:
        return fresh_samples(self.space, self.rng, n, self.sampled)

    def _start_bracket(self) -> None:
        self.rungs = self.next_rungs()
        self.brackets += 1
        self.rung = 0
        self.queue = self._fresh(self.rungs[0][0])
        self.scores = []
        self.history.append({"rungs": [[len(self.queue), self.rungs[0][1]]]})

    def _ranked(self) -> list[tuple[float, str, Hashable]]:
        """The current rung's results, best first (ties by canonical string)."""
        return sorted(self.scores, key=lambda s: (-s[0], s[1]))

    def _promote(self) -> None:
        ranked = self._ranked()
        self.rung += 1
        size, level = self.rungs[self.rung]
        self.queue = [arch for _, _, arch in ranked[:size]]
        self.scores = []
        self.history[-1]["rungs"].append([len(self.queue), level])

    def _advance(self) -> None:
        """Move on when the current rung is fully told: promote, or start the next bracket."""
        while not self.queue and not self.waiting:
            if self.rungs and self.scores and self.rung + 1 < len(self.rungs):
                self._promote()
                continue
            if self.rungs and self.scores:
                self.history[-1]["best"] = self._ranked()[0][1]
            self._start_bracket()
            if not self.queue:  # the space is used up
                return

    def ready(self) -> int:
        return len(self.queue)

    def ask(self, n: int) -> list[Hashable]:
        self._advance()
        if not self.queue:
            return []
        level = self.rungs[self.rung][1]
        out, self.queue = self.queue[:n], self.queue[n:]
        self.waiting += len(out)
        return [AtFidelity(arch, level) for arch in out]

    def tell(self, results: Sequence[Told]) -> None:
        for told in results:
            arch = unwrap(told.arch)[0]
            self.scores.append((told.fitness, self.space.canonical(arch), arch))
        self.waiting -= len(results)

    def results(self) -> dict[str, Any]:
        return {"brackets": self.history}


@attrs.frozen
class SuccessiveHalvingConfig:
    """``n`` architectures per bracket (default ``eta`` to the power of the number of rungs
    minus one, so one architecture reaches the top fidelity); ``eta`` (3, as Hyperband's paper):
    one in ``eta`` is promoted; ``min_level``: the fidelity level of the first rung (0, the
    cheapest)."""

    n: int | None = attrs.field(default=None, validator=optional_positive_int)
    eta: float = eta_option()
    min_level: int = attrs.field(default=0, validator=non_negative_int)


class SuccessiveHalving(BracketStrategy):
    """Successive halving, bracket after bracket, each with the same rungs."""

    Config = SuccessiveHalvingConfig

    def next_rungs(self) -> Rungs:
        c = self.config
        n = c.n if c.n is not None else max(1, int(round(c.eta ** (self.top - c.min_level))))
        return halving_rungs(n, c.eta, c.min_level, self.top)
