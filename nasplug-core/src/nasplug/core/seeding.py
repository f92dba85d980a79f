"""Derived seeds: every random stream of a run is a pure function of the run seed and a label,
so results do not depend on the order in which parts were built, on resume, or on workers."""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(seed: int, *labels: object) -> int:
    """A 32-bit seed determined by ``seed`` and ``labels`` (stable across processes and runs)."""
    digest = hashlib.sha256(repr((int(seed),) + tuple(str(x) for x in labels)).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def derive_rng(seed: int, *labels: object) -> np.random.Generator:
    """A numpy Generator seeded by :func:`derive_seed`."""
    return np.random.default_rng(derive_seed(seed, *labels))
