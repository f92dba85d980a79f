"""DARTS / NAS-Bench-301 search space: a normal and a reduction cell of 4 nodes, each summing two
ops on two earlier nodes (7 ops; ~1.08e18 genotypes).

:class:`DartsSpace` is the plugin (entry point ``nasplug.spaces: darts``). :mod:`.genotype` holds
the genotype type and its text forms (DARTS notation, NB301 compact form); :mod:`.network` (torch)
and :mod:`.benchmark` (the NAS-Bench-Suite-Zero NB301 subset) are imported lazily.
"""

from nasplug.spaces.darts.genotype import OPS, PRIMITIVES, DartsArch
from nasplug.spaces.darts.space import DartsConfig, DartsSpace

__all__ = ["DartsSpace", "DartsConfig", "DartsArch", "OPS", "PRIMITIVES"]
