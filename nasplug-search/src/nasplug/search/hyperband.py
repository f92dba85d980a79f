"""Hyperband (Li et al., JMLR 2018) over a multi-fidelity objective's ladder.

With ``L`` fidelities (resource ``R = eta^(L-1)`` in units of the cheapest) Hyperband runs
``s_max + 1 = L`` brackets of successive halving, from the most exploratory (many architectures
starting at the cheapest fidelity) to plain random search at the top fidelity:
bracket ``s`` (``s_max`` down to 0) starts ``n = ceil((s_max + 1) / (s + 1) * eta^s)``
architectures at level ``s_max - s``, and rung ``i`` keeps ``floor(n * eta^-i)`` of them at
level ``s_max - s + i``. The schedule repeats with fresh architectures until the budget ends.
"""

from __future__ import annotations

import math

import attrs

from nasplug.search.halving import BracketStrategy, Rungs, eta_option


def hyperband_schedule(eta: float, levels: int) -> list[Rungs]:
    """Every bracket of one Hyperband iteration over ``levels`` fidelities: a list of rungs
    ``(architectures, level)``, the most exploratory bracket first (Li et al., Algorithm 1)."""
    s_max = levels - 1
    brackets = []
    for s in range(s_max, -1, -1):
        n = math.ceil((s_max + 1) / (s + 1) * eta ** s - 1e-9)
        brackets.append([(max(1, int(math.floor(n * eta ** (-i) + 1e-9))), s_max - s + i) for i in range(s + 1)])
    return brackets


@attrs.frozen
class HyperbandConfig:
    """``eta`` (3, the paper's default): the halving rate and the ratio between consecutive
    fidelities' resources."""

    eta: float = eta_option()


class Hyperband(BracketStrategy):
    """Hyperband's brackets in its order, repeated until the budget ends."""

    Config = HyperbandConfig

    def next_rungs(self) -> Rungs:
        schedule = hyperband_schedule(self.config.eta, self.top + 1)
        return schedule[self.brackets % len(schedule)]
