"""Ranking and regression metrics for predictors, proxies and searches.

Correlations are computed on the finite pairs only; a constant vector gives NaN (scipy's own
convention), never a silently absolute or clipped value.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats


def _pairs(pred: Sequence[float], true: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=float)
    t = np.asarray(true, dtype=float)
    if p.shape != t.shape:
        raise ValueError(f"predictions and targets differ in shape: {p.shape} vs {t.shape}")
    keep = np.isfinite(p) & np.isfinite(t)
    return p[keep], t[keep]


def kendall_tau(pred: Sequence[float], true: Sequence[float]) -> float:
    """Kendall's tau-b between predictions and targets."""
    p, t = _pairs(pred, true)
    if len(p) < 2:
        return float("nan")
    return float(stats.kendalltau(p, t).statistic)


def spearman(pred: Sequence[float], true: Sequence[float]) -> float:
    """Spearman's rank correlation."""
    p, t = _pairs(pred, true)
    if len(p) < 2:
        return float("nan")
    return float(stats.spearmanr(p, t).statistic)


def mse(pred: Sequence[float], true: Sequence[float]) -> float:
    """Mean squared error."""
    p, t = _pairs(pred, true)
    return float(np.mean((p - t) ** 2)) if len(p) else float("nan")


def _ranked(values: np.ndarray) -> np.ndarray:
    """Indices from best to worst (higher is better; non-finite last; ties by index)."""
    key = np.where(np.isfinite(values), values, -np.inf)
    return np.lexsort((np.arange(len(values)), -key))


def precision_at_k(pred: Sequence[float], true: Sequence[float], k: int) -> float:
    """Share of the true top-``k`` (by ``true``) among the predicted top-``k``."""
    p = np.asarray(pred, dtype=float)
    t = np.asarray(true, dtype=float)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    k = min(k, len(p))
    if k == 0:
        return float("nan")
    return len(set(_ranked(p)[:k]) & set(_ranked(t)[:k])) / k


def top_percent_retrieval(pred: Sequence[float], true: Sequence[float], percent: float = 10.0) -> float:
    """Share of the true top ``percent`` % found in the predicted top ``percent`` %."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], got {percent}")
    n = len(pred)
    return precision_at_k(pred, true, max(1, math.ceil(n * percent / 100.0))) if n else float("nan")


def regret(found: float, optimum: float) -> float:
    """How far the found value is below the optimum (``optimum - found``; 0 is perfect)."""
    return float(optimum) - float(found)


def best_so_far(values: Sequence[float]) -> np.ndarray:
    """Running maximum, NaN/non-finite entries skipped (NaN until the first finite value)."""
    out = np.full(len(values), np.nan)
    best = -np.inf
    for i, v in enumerate(values):
        if v is not None and np.isfinite(v) and v > best:
            best = v
        out[i] = best if np.isfinite(best) else np.nan
    return out


def histogram_distance(sample: Sequence[float], population: Sequence[float], bins: int = 20) -> float:
    """Total-variation distance between the histograms of ``sample`` and ``population`` over
    ``bins`` equal bins spanning the population's finite range: 0 when the sample mirrors the
    population's distribution, 1 when they share no bin (DARE's Fig. 5 check on labelled sets)."""
    pop = np.asarray(population, dtype=float)
    pop = pop[np.isfinite(pop)]
    sam = np.asarray(sample, dtype=float)
    sam = sam[np.isfinite(sam)]
    if len(pop) == 0 or len(sam) == 0:
        return math.nan
    lo, hi = float(pop.min()), float(pop.max())
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    p = np.histogram(pop, edges)[0] / len(pop)  # the edges span the population: nothing to clip
    q = np.histogram(np.clip(sam, edges[0], edges[-1]), edges)[0] / len(sam)
    return float(0.5 * np.abs(p - q).sum())
