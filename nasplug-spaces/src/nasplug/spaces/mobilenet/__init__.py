"""The MobileNet-like (OFA MobileNetV3) search space used by DSM-NAS.

:class:`MobileNetSpace` is the plugin (entry point ``mobilenet``); the torch network lives in
:mod:`.network` (imported lazily) and the torch-free layer plan and MAdds count in :mod:`.plan`.
"""

from nasplug.spaces.mobilenet.space import (
    DIGIT_TO_KE, KE_TO_DIGIT, LAYER_OPS, MobileNetSpace, close_gaps, depths, from_ofa, to_ofa,
)

__all__ = ["MobileNetSpace", "DIGIT_TO_KE", "KE_TO_DIGIT", "LAYER_OPS", "close_gaps", "depths", "from_ofa", "to_ofa"]
