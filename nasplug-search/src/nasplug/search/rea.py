"""Regularized evolution (aging evolution; Real et al., AAAI 2019).

The algorithm is the core's :class:`~nasplug.core.evolution.AgingEvolution`, which proxy-guided
REA and Discrete Proxy Search (``tune`` runs) share; this module registers it as ``rea``.
"""

from __future__ import annotations

from nasplug.core.evolution import AgingEvolution, AgingEvolutionConfig

#: REA's options (``population_size`` 10, ``sample_size`` 3: NAS-Bench-201's protocol).
REAConfig = AgingEvolutionConfig


class RegularizedEvolution(AgingEvolution):
    """Aging evolution: tournament-select a parent, mutate it, replace the oldest member."""

    Config = REAConfig
