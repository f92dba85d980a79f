"""The subspace graph: K centre architectures as nodes, edges from worse to better centres.

Node feature (docs/methods/dsm_nas.md 3.2): one one-hot block per position of the space's positional form,
each ``width`` wide (the largest number of choices; NB201: 5), followed by the centre's scaled
accuracy. Edge feature: ``h_end - h_start`` of those input features (accuracy difference
included). For every ordered pair ``(i, j)`` there is an edge ``i -> j`` when ``acc_i <= acc_j``,
unless ``j -> i`` already exists: a complete tournament pointing from worse to better.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def node_features(positions: Sequence[Sequence[int]], accuracies: Sequence[float], width: int,
                  accuracy_scale: float) -> np.ndarray:
    """``(K, P * width + 1)`` float32: per-position one-hots and the scaled accuracy."""
    k = len(positions)
    n_pos = len(positions[0])
    out = np.zeros((k, n_pos * width + 1), dtype=np.float32)
    for i, pos in enumerate(positions):
        for p, choice in enumerate(pos):
            out[i, p * width + int(choice)] = 1.0
        out[i, -1] = float(accuracies[i]) * accuracy_scale
    return out


def tournament(accuracies: Sequence[float]) -> np.ndarray:
    """``adjacency[i, j] = 1`` for an edge i -> j (from the worse centre to the better)."""
    k = len(accuracies)
    adj = np.zeros((k, k), dtype=np.float32)
    for i in range(k):
        for j in range(k):
            if i != j and accuracies[i] <= accuracies[j] and adj[j, i] == 0:
                adj[i, j] = 1.0
    return adj
