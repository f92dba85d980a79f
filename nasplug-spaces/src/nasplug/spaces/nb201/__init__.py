"""NAS-Bench-201 search space: 15,625 cells of 6 edges, each one of 5 operations.

:class:`NB201Space` is the plugin (entry point ``nasplug.spaces: nb201``); the network builder
lives in :mod:`.network` and the tabular benchmark binding in :mod:`.benchmark`, both imported
lazily so that using the space for sampling alone does not import torch.
"""

from nasplug.spaces.nb201.space import EDGES, OPS, NB201Space

__all__ = ["NB201Space", "OPS", "EDGES"]
