"""BAL (J. Li et al., TPAMI 2024: balancing diversity and novelty), adapted to a regression
predictor as docs/methods/bal.md describes.

Original: self-supervised features, k-means, the pool sorted by cluster distance difference
(CDD = distance to the second-nearest centroid minus distance to the nearest, ascending), a
sliding sub-pool over that order per cycle, and uncertainty selection inside the sub-pool.
Adaptation: the features are a fixed architecture encoding (default) or the predictor's
embedding; k is a hyperparameter (no classes); uncertainty is a deep ensemble's spread.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import attrs
import numpy as np

from nasplug.core.errors import BudgetError
from nasplug.core.interfaces.sampler import Sampler, SelectionContext
from nasplug.core.options import non_negative_int, number_in, one_of, positive_int, string
from nasplug.samplers.uncertainty import ensemble_std, top_by


@attrs.frozen
class BALConfig:
    """- ``features``: ``"encoder"`` (default: the registered fixed encoding ``encoder``, standing
      in for BAL's self-supervised features: label-free and identical every round, so the CDD
      order and its sliding windows stay fixed as in BAL) or ``"predictor"`` (the current
      predictor's embedding, recomputed each round).
    - ``clusters``: k-means k, 10 (docs/methods/bal.md 5.1; there are no classes to count).
    - ``expansion``: the window factor beta, 1.2 (BAL's CIFAR-10 base setting).
    - ``members``: ensemble size for the uncertainty step, 5 (docs/methods/bal.md 5.1).
    - ``kmeans_seed``: fixed so that every round sees the same clustering and order.
    """

    features: str = attrs.field(default="encoder", validator=one_of("encoder", "predictor"))
    encoder: str = attrs.field(default="onehot", validator=string)
    clusters: int = attrs.field(default=10, validator=positive_int)
    expansion: float = attrs.field(default=1.2, validator=number_in(1.0, None))
    members: int = attrs.field(default=5, validator=positive_int)
    kmeans_seed: int = attrs.field(default=0, validator=non_negative_int)

    def __attrs_post_init__(self) -> None:
        if self.members < 2:
            raise ValueError(f"members: expected at least 2 (a spread needs two predictors), got {self.members!r}")


def cdd_order(features: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    """Row indices sorted by ascending cluster distance difference (ties to the lower index)."""
    from sklearn.cluster import KMeans

    x = np.asarray(features, dtype=np.float64)
    k = max(2, min(clusters, len(np.unique(x, axis=0))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(x).transform(x)
    two = np.partition(d, 1, axis=1)[:, :2]
    return np.lexsort((np.arange(len(x)), two[:, 1] - two[:, 0]))


def window(cycle: int, per_round: int, expansion: float, size: int) -> tuple[int, int]:
    """BAL's sub-pool [lo, hi) over the sorted list for ``cycle``: the head in cycle 0, then a
    window of ``expansion * per_round`` centred on block ``cycle``, the tail once past the end."""
    span = math.ceil(expansion * per_round)
    if cycle == 0:
        lo, hi = 0, span
    else:
        extra = (expansion - 1.0) * per_round / 2.0
        lo, hi = math.floor(cycle * per_round - extra), math.ceil((cycle + 1) * per_round + extra)
    if hi > size:
        lo, hi = size - span, size
    return max(lo, 0), min(hi, size)


class BALSampler(Sampler):
    """BAL for regression: CDD-ordered sliding sub-pools, ensemble-uncertainty selection inside.

    Cycle c (the run's round) looks at the window of the CDD order described by :func:`window`,
    minus labelled architectures (widened outwards while it holds fewer than ``k``). Without a
    trained predictor (cycle 0) it takes the head of the window, as BAL does; afterwards the
    ``k`` of the window with the largest ensemble spread.
    """

    Config = BALConfig

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        self._encoder: Any = None
        self._fixed: tuple[Any, np.ndarray] | None = None  # (pool object, CDD order) for encoder features

    def _features(self, ctx: SelectionContext) -> np.ndarray:
        pool = list(ctx.pool)
        if self.config.features == "predictor":
            if ctx.predictor is None:
                raise BudgetError("BAL with features = \"predictor\" needs a trained predictor; label an initial random "
                                  "set first or use features = \"encoder\"")
            return np.asarray(ctx.predictor.embed(pool), dtype=np.float64)
        if self._encoder is None:
            from nasplug.core.registry import create_part

            self._encoder = create_part("encoder", self.config.encoder, "sampler.encoder", space=self.space)
        return np.asarray(self._encoder.encode(pool), dtype=np.float64)

    def order(self, ctx: SelectionContext) -> np.ndarray:
        """The pool sorted by CDD. With encoder features it depends on the pool alone, so it is
        computed once per pool object (a cache of a recomputable value: resumed runs agree)."""
        if self.config.features == "encoder" and self._fixed is not None and self._fixed[0] is ctx.pool:
            return self._fixed[1]
        order = cdd_order(self._features(ctx), self.config.clusters, self.config.kmeans_seed)
        if self.config.features == "encoder":
            self._fixed = (ctx.pool, order)
        return order

    def sub_pool(self, ctx: SelectionContext, k: int) -> np.ndarray:
        """Unlabelled pool indices of this cycle's window, in CDD order."""
        order = self.order(ctx)
        free = np.ones(len(order), dtype=bool)
        free[np.asarray(ctx.labelled, dtype=np.int64)] = False
        free_in_order = free[order]
        lo, hi = window(ctx.round, k, self.config.expansion, len(order))
        while free_in_order[lo:hi].sum() < k and (lo > 0 or hi < len(order)):
            hi = min(hi + k, len(order))
            if free_in_order[lo:hi].sum() < k:
                lo = max(lo - k, 0)
        part = order[lo:hi]
        return part[free_in_order[lo:hi]]

    def choose(self, ctx: SelectionContext, k: int) -> Sequence[int]:
        part = self.sub_pool(ctx, k)
        if ctx.predictor is None or len(ctx.labelled) == 0:
            return [int(i) for i in part[:k]]
        std = ensemble_std(ctx, [ctx.pool[i] for i in part], self.config.members)
        return top_by(std, part, k)
