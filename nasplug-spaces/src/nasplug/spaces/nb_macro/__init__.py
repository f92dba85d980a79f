"""NAS-Bench-Macro (Su et al., CVPR 2021): 6,561 MobileNet-style CIFAR-10 networks.

:class:`NBMacroSpace` is the plugin (entry point ``nb_macro``); the network (:mod:`.network`) and
the table binding (:mod:`.benchmark`) are imported lazily.
"""

from nasplug.spaces.nb_macro.space import MACRO_OPS, NBMacroSpace, representative

__all__ = ["NBMacroSpace", "MACRO_OPS", "representative"]
