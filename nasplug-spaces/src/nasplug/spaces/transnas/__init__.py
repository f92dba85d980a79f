"""TransNAS-Bench-101 search spaces (Duan et al., CVPR 2021).

:class:`TransNASMicroSpace` (entry point ``transnas_micro``): 4,096 cells, benchmark of all cells x
7 tasks. :class:`TransNASMacroSpace` (``transnas_macro``): 3,256 layer-code networks, with the
725-network NAS-Bench-Suite-Zero subset as benchmark. Networks (:mod:`.network`) and tables
(:mod:`.benchmark`) are imported lazily.
"""

from nasplug.spaces.transnas.macro import MACRO_OPS, TransNASMacroSpace
from nasplug.spaces.transnas.micro import MICRO_OPS, TransNASMicroSpace

__all__ = ["TransNASMicroSpace", "TransNASMacroSpace", "MICRO_OPS", "MACRO_OPS"]
