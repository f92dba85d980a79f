"""DARE, distribution-aware active learning for neural predictors, split by stage:
:mod:`.distances` (batched cosine distances), :mod:`.neighbours` (Delaunay + k-means
neighbourhoods), :mod:`.keypoint` (key-point guidance and the uniformity test),
:mod:`.selection` (one round on embedding arrays) and :mod:`.sampler` (the plugin)."""

from nasplug.samplers.dare.sampler import DARESampler

__all__ = ["DARESampler"]
