"""Zen-NAS ResNet-like search space (Lin et al., ICCV 2021), the space FT-ScoreNet searches.

:class:`ZenResNetSpace` is the plugin (entry point ``nasplug.spaces: zen_resnet``); the
architecture type and Zen-NAS structure strings live in :mod:`.structure`, the torch network in
:mod:`.network` (imported lazily).
"""

from nasplug.spaces.zen_resnet.space import ZenResNetSpace
from nasplug.spaces.zen_resnet.structure import ResBlock, ZenArch, model_size, num_layers, parse_string, to_string

__all__ = ["ZenResNetSpace", "ZenArch", "ResBlock", "parse_string", "to_string", "model_size", "num_layers"]
