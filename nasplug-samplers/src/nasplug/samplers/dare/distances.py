"""Batched cosine distances between a few anchors and a large pool, never materialising N x N.

Every function walks the anchors in row blocks sized so that one block of distances holds at most
``block_floats`` numbers (default 2M: with the partition workspace about 32 MB), keeping only
per-anchor top sets or running minima. Peak memory is therefore the ``(N, d)`` embedding plus one block: O(N * d) for any number
of anchors, as DARE's space-complexity analysis (section 3.5) requires.
"""

from __future__ import annotations

import numpy as np

#: Distances held at once per block of anchors (floats).
BLOCK_FLOATS = 2_000_000


def normalise(embeddings: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm as float32; an all-zero row stays zero (cosine distance 1 to all)."""
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0).astype(np.float32)


def _rows_per_block(n_pool: int, block_floats: int) -> int:
    return max(1, block_floats // max(n_pool, 1))


def cosine_block(anchors: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Cosine distances ``1 - cos`` between unit rows, shape (len(anchors), len(pool)), in [0, 2]."""
    d = 1.0 - anchors @ pool.T
    np.clip(d, 0.0, 2.0, out=d)
    return d


def _top(d: np.ndarray, count: int, largest: bool) -> np.ndarray:
    """Per row, the column indices of the ``count`` largest (or smallest) values, best first;
    ties, also at the cut, go to the lower column index so that the result does not depend on
    the partition algorithm."""
    n = d.shape[1]
    out = np.empty((d.shape[0], min(count, n)), dtype=np.int64)
    for r in range(d.shape[0]):
        key = -d[r] if largest else d[r]
        if count >= n:
            idx = np.arange(n)
        else:
            cut = key[np.argpartition(key, count - 1)[count - 1]]
            better = np.flatnonzero(key < cut)
            idx = np.concatenate([better, np.flatnonzero(key == cut)[:count - len(better)]])
        out[r] = idx[np.lexsort((idx, key[idx]))]
    return out


def farthest_and_nearest(anchors: np.ndarray, pool: np.ndarray, m: int, n: int,
                         block_floats: int = BLOCK_FLOATS) -> tuple[np.ndarray, np.ndarray]:
    """For every anchor, the ``m`` farthest and the ``n`` nearest pool rows by cosine distance.

    ``anchors`` and ``pool`` are unit rows (see :func:`normalise`). Returns two int arrays of
    shapes ``(len(anchors), min(m, N))`` and ``(len(anchors), min(n, N))``, each row ordered from
    the most extreme outwards (farthest first, resp. nearest first).
    """
    size = len(pool)
    m, n = min(m, size), min(n, size)
    far = np.empty((len(anchors), m), dtype=np.int64)
    near = np.empty((len(anchors), n), dtype=np.int64)
    step = _rows_per_block(size, block_floats)
    for start in range(0, len(anchors), step):
        stop = start + step
        d = cosine_block(anchors[start:stop], pool)
        if m:
            far[start:stop] = _top(d, m, largest=True)
        if n:
            near[start:stop] = _top(d, n, largest=False)
    return far, near


def min_distance(anchors: np.ndarray, pool: np.ndarray, block_floats: int = BLOCK_FLOATS) -> np.ndarray:
    """For every pool row, its cosine distance to the nearest anchor (the max-min criterion); +inf
    when there are no anchors."""
    out = np.full(len(pool), np.inf, dtype=np.float32)
    step = _rows_per_block(len(pool), block_floats)
    for start in range(0, len(anchors), step):
        np.minimum(out, cosine_block(anchors[start:start + step], pool).min(axis=0), out=out)
    return out


def distances_from(anchor: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Cosine distances from one unit vector to every pool row, shape (N,)."""
    return cosine_block(anchor[None, :], pool)[0]


def mean_distances(anchors: np.ndarray, pool: np.ndarray, block_floats: int = BLOCK_FLOATS) -> np.ndarray:
    """For every anchor, its mean cosine distance to the pool rows, shape (len(anchors),)."""
    out = np.empty(len(anchors), dtype=np.float64)
    step = _rows_per_block(len(pool), block_floats)
    for start in range(0, len(anchors), step):
        out[start:start + step] = cosine_block(anchors[start:start + step], pool).mean(axis=1)
    return out
