"""DARE's selection round on embedding arrays: two-stage max-min sampling (section 3.3) with
key-point guided adaptive sampling (section 3.4) in place of the max-distance step when the
distribution is non-uniform.

Everything here works on pool-index arrays and embeddings, so the same code runs inside a predict
run (where :mod:`nasplug.samplers.dare.sampler` supplies the predictor's embeddings and a
pseudo-label retraining callback) and on synthetic or very large embedding pools (tests, the
scaling bench).
"""

from __future__ import annotations

from typing import Callable

import attrs
import numpy as np

from nasplug.samplers.dare import distances as dist
from nasplug.samplers.dare.keypoint import hopkins, key_point, quantile_interval
from nasplug.samplers.dare.neighbours import refined_neighbourhoods


@attrs.frozen
class Settings:
    """Resolved hyperparameters of one selection (see ``DARESampler.Config`` for their meaning)."""

    m: int = 1000
    n: int = 1000
    m_star: int = 1000
    n_star: int = 10
    z: int = 500
    repetitions: int = 10
    alpha: float = 0.4
    beta: float = 0.5
    distribution: str = "auto"
    hopkins_threshold: float = 0.75
    band_ranking: str = "key_point"
    first_stage: bool = True
    second_stage: bool = True
    max_pseudo_labels: int | None = None
    kmeans_max_iter: int = 300
    final_pick: str = "max_min"


@attrs.define
class Trace:
    """What one selection did (for tests, benches and logs)."""

    mode: str = ""
    hopkins: float | None = None
    key_point: int | None = None
    candidates: int = 0
    pseudo_labelled: int = 0
    intersection: int = 0
    filled: int = 0
    chosen: list[int] = attrs.field(factory=list)


#: ``refine(pseudo_pool_indices) -> new (N, d) embedding of the whole pool`` (or ``None`` to keep it).
Refine = Callable[[np.ndarray], "np.ndarray | None"]


def _ranked(indices: np.ndarray, score: np.ndarray) -> np.ndarray:
    """``indices`` (into ``score``) by descending score, ties to the lower index."""
    indices = np.unique(indices)
    return indices[np.lexsort((indices, -score[indices]))]


def _top_with_fill(k: int, score: np.ndarray, *tiers: np.ndarray) -> tuple[np.ndarray, int]:
    """The ``k`` best by ``score`` from the first tier; when it holds fewer, fill from the next
    tiers in order (each ranked by the same score), then from everything. Returns (chosen, filled)."""
    chosen: list[int] = []
    seen: set[int] = set()
    for tier in (*tiers, np.arange(len(score))):
        if len(chosen) == k:
            break
        for i in _ranked(tier, score):
            if len(chosen) == k:
                break
            if int(i) not in seen:
                seen.add(int(i))
                chosen.append(int(i))
    first = len(np.unique(tiers[0])) if tiers else 0
    return np.asarray(chosen, dtype=np.int64), max(0, k - first)


def greedy_max_min(k: int, candidates: np.ndarray, labelled: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``k`` of ``candidates`` (indices into ``pool``, unit rows) taken one at a time, each the
    candidate farthest (cosine) from the labelled rows and from those already taken; ties go to
    the lower index. A batch of near-identical candidates is never taken together."""
    cand = np.unique(np.asarray(candidates, dtype=np.int64))
    d = dist.min_distance(labelled, pool[cand]).astype(np.float64)
    chosen: list[int] = []
    for _ in range(min(k, len(cand))):
        j = int(np.argmax(d))
        chosen.append(int(cand[j]))
        np.minimum(d, dist.distances_from(pool[cand[j]], pool[cand]), out=d)
        d[j] = -np.inf
    return np.asarray(chosen, dtype=np.int64)


def _pick(k: int, score: np.ndarray, tiers: tuple[np.ndarray, ...], settings: Settings, labelled: np.ndarray,
          pool: np.ndarray) -> tuple[np.ndarray, int]:
    """The final batch: the top ``k`` of the first tier by ``score`` (``final_pick = "ranked"``,
    the literal reading), or greedy max-min over the whole first tier (filled to ``k`` by the
    ranking when it is smaller). Returns (chosen, filled)."""
    if settings.final_pick == "ranked":
        return _top_with_fill(k, score, *tiers)
    size = max(k, len(np.unique(tiers[0])))
    candidates, filled = _top_with_fill(size, score, *tiers)
    return greedy_max_min(k, candidates, labelled, pool), max(0, filled - (size - k))


def _pseudo_set(comb_min: list[np.ndarray], cap: int | None) -> np.ndarray:
    """Union of the per-labelled intersections, each listed nearest first; with a cap, taken
    round-robin over the labelled samples so that every neighbourhood contributes."""
    if cap is None:
        return np.unique(np.concatenate(comb_min)) if comb_min else np.empty(0, dtype=np.int64)
    out: list[int] = []
    seen: set[int] = set()
    depth = max((len(c) for c in comb_min), default=0)
    for r in range(depth):
        for c in comb_min:
            if r < len(c) and int(c[r]) not in seen and len(out) < cap:
                seen.add(int(c[r]))
                out.append(int(c[r]))
    return np.sort(np.asarray(out, dtype=np.int64))


def _intersect_rows(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    """Row-wise intersection, keeping ``a``'s order."""
    return [x[np.isin(x, y)] for x, y in zip(a, b)]


def select(embeddings: np.ndarray, labelled: np.ndarray, k: int, settings: Settings, rng: np.random.Generator,
           refine: Refine | None = None) -> tuple[list[int], Trace]:
    """Choose ``k`` unlabelled pool indices. ``embeddings``: the current predictor's ``(N, d)``
    embedding of the pool; ``labelled``: pool indices already labelled (at least one);
    ``refine``: retrains on the labelled set plus pseudo-labelled pool indices and returns the
    refreshed embedding (the second stage); without it the embedding is kept."""
    s = settings
    trace = Trace()
    n_pool = len(embeddings)
    labelled = np.asarray(labelled, dtype=np.int64)
    mask = np.ones(n_pool, dtype=bool)
    mask[labelled] = False
    unl = np.flatnonzero(mask)
    e0 = dist.normalise(embeddings)
    lab0, unl0 = e0[labelled], e0[unl]

    if s.distribution == "auto":
        trace.hopkins = hopkins(unl0, rng, probes=s.z)
        non_uniform = trace.hopkins >= s.hopkins_threshold
    else:
        non_uniform = s.distribution == "non_uniform"
    two_stage = s.first_stage or s.second_stage
    use_key = non_uniform and two_stage
    trace.mode = ("non_uniform" if use_key else "uniform") if two_stage else "max_min_only"

    if not two_stage:  # w/o TMMS: plain max-min distance over the whole pool
        chosen, trace.filled = _pick(k, dist.min_distance(lab0, unl0), (np.arange(len(unl)),), s, lab0, unl0)
        trace.chosen = unl[chosen].tolist()
        return trace.chosen, trace

    key = key_point(lab0, unl0, s.z, s.repetitions, rng) if use_key else None
    trace.key_point = None if key is None else int(labelled[key])

    def farthest(lab: np.ndarray, pool: np.ndarray, count: int) -> tuple[list[np.ndarray], np.ndarray]:
        """Max-distance sets (per labelled sample, or the key point's quantile band) and the score
        that ranks the final choice (max-min distance, or distance from the key point)."""
        if key is not None:
            d = dist.distances_from(lab[key], pool)
            band = [quantile_interval(d, s.alpha, s.beta, at_least=k)]
            return band, (d if s.band_ranking == "key_point" else dist.min_distance(lab, pool))
        far, _ = dist.farthest_and_nearest(lab, pool, count, 0)
        return list(far), dist.min_distance(lab, pool)

    far0 = near0 = None
    if s.first_stage:
        far0, score = farthest(lab0, unl0, s.m)
        near0 = list(dist.farthest_and_nearest(lab0, unl0, 0, s.n)[1])

    if not s.second_stage:  # w/o SS: the first stage's max-distance sets decide
        trace.candidates = int(len(np.unique(np.concatenate(far0))))
        chosen, trace.filled = _pick(k, score, (np.concatenate(far0),), s, lab0, unl0)
        trace.intersection = trace.candidates
        trace.chosen = unl[chosen].tolist()
        return trace.chosen, trace

    cand = np.unique(np.concatenate(near0)) if near0 is not None else np.arange(len(unl))
    trace.candidates = len(cand)
    seed = int(rng.integers(2**31 - 1))
    nbrs = [cand[i] for i in refined_neighbourhoods(unl0[cand], lab0, s.n_star, seed, s.kmeans_max_iter)]
    comb_min = _intersect_rows(nbrs, near0) if near0 is not None else nbrs
    pseudo = _pseudo_set(comb_min, s.max_pseudo_labels)
    trace.pseudo_labelled = len(pseudo)

    e1 = e0
    if refine is not None and len(pseudo):
        new = refine(unl[pseudo])
        if new is not None:
            if new.shape[0] != n_pool:
                raise ValueError(f"refine returned {new.shape[0]} embeddings for a pool of {n_pool}")
            e1 = dist.normalise(new)
    far1, score = farthest(e1[labelled], e1[unl], s.m_star)
    comb_max = _intersect_rows(far0, far1) if far0 is not None else far1
    first_tier = np.concatenate(comb_max) if comb_max else np.empty(0, dtype=np.int64)
    trace.intersection = int(len(np.unique(first_tier)))
    chosen, trace.filled = _pick(k, score, (first_tier, np.concatenate(far1)), s, e1[labelled], e1[unl])
    trace.chosen = unl[chosen].tolist()
    return trace.chosen, trace
