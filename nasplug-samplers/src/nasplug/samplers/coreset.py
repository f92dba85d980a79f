"""CoreSet (Sener & Savarese, ICLR 2018): greedy k-center selection on predictor embeddings
(docs/methods/coreset.md)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nasplug.core.errors import BudgetError
from nasplug.core.interfaces.sampler import Sampler, SelectionContext

#: Distances computed at once when initialising the k-center radii (floats).
_BLOCK = 2_000_000


def _sq_distances(anchors: np.ndarray, pool: np.ndarray, pool_sq: np.ndarray) -> np.ndarray:
    d = pool_sq[None, :] - 2.0 * (anchors @ pool.T) + np.einsum("ij,ij->i", anchors, anchors)[:, None]
    return np.maximum(d, 0.0)


def k_center_greedy(embeddings: np.ndarray, centres: np.ndarray, k: int, candidates: np.ndarray) -> list[int]:
    """Sener & Savarese's Algorithm 1: repeatedly take the candidate farthest (Euclidean) from its
    nearest centre and make it a centre. ``centres``/``candidates``: row indices of
    ``embeddings``; ties go to the lower index; O(k * N * d) time, O(N * d) memory."""
    x = np.asarray(embeddings, dtype=np.float64)
    pool = x[candidates]
    pool_sq = np.einsum("ij,ij->i", pool, pool)
    delta = np.full(len(candidates), np.inf)
    step = max(1, _BLOCK // max(len(candidates), 1))
    for start in range(0, len(centres), step):
        np.minimum(delta, _sq_distances(x[centres[start:start + step]], pool, pool_sq).min(axis=0), out=delta)
    taken = np.zeros(len(candidates), dtype=bool)
    chosen: list[int] = []
    for _ in range(k):
        if chosen or len(centres):
            u = int(np.argmax(np.where(taken, -np.inf, delta)))
        else:  # no centre yet: start from the candidate nearest the mean (docs/methods/coreset.md 5.2's medoid)
            u = int(np.argmin(_sq_distances(pool.mean(axis=0, keepdims=True), pool, pool_sq)[0]))
        chosen.append(int(candidates[u]))
        taken[u] = True
        np.minimum(delta, _sq_distances(pool[u:u + 1], pool, pool_sq)[0], out=delta)
    return chosen


class CoreSetSampler(Sampler):
    """Greedy k-center (CoreSet) on the current predictor's embeddings of the pool.

    The labelled set seeds the centres; each round takes ``k`` unlabelled architectures, each the
    farthest from every centre so far, recomputing the embeddings from the predictor retrained
    that round. The robust (outlier-budget MIP) variant of the paper is not implemented; docs/methods/coreset.md
    5.2 does not need it for parity.
    """

    needs_predictor = True

    def choose(self, ctx: SelectionContext, k: int) -> Sequence[int]:
        if ctx.predictor is None:
            raise BudgetError("CoreSet measures distances in a trained predictor's embedding; "
                              "label an initial random set first (predict.initial_sampler = \"random\")")
        embeddings = np.asarray(ctx.predictor.embed(list(ctx.pool)), dtype=np.float64)
        return k_center_greedy(embeddings, np.asarray(ctx.labelled, dtype=np.int64), k, ctx.unlabelled)
