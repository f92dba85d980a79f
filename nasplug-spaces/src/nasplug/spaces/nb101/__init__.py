"""NAS-Bench-101 search space: cells of up to 7 vertices and 9 edges over 3 operations (423,624 cells).

:class:`NB101Space` is the plugin (entry point ``nasplug.spaces: nb101``). :mod:`.cell` holds the
cell type, the official pruning and the exact canonical form; :mod:`.enumeration` counts,
enumerates and uniformly samples all cells; :mod:`.moves` the local moves and the metric;
:mod:`.network` (torch) and :mod:`.benchmark` are imported lazily.
"""

from nasplug.spaces.nb101.cell import OPS, NB101Cell
from nasplug.spaces.nb101.space import NUM_CELLS, NB101Config, NB101Space

__all__ = ["NB101Space", "NB101Config", "NB101Cell", "OPS", "NUM_CELLS"]
