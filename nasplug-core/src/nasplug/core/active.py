"""The active-learning rounds loop, shared by predict runs, predictor-guided search and the benches.

Round 0 labels an initial set (uniformly at random, or by the sampler); each later round the
sampler picks from the pool with the predictor trained on every label so far, and the predictor is
refitted. The random streams of round r derive from (seed, "select", r) and (seed, "fit", r), so a
loop restarted at round r (a resumed run) picks and fits exactly as an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Hashable, Sequence

import numpy as np

from nasplug.core.interfaces.sampler import SelectionContext
from nasplug.core.seeding import derive_rng, derive_seed


class ActiveLearning:
    """Labels chosen round by round from ``pool`` by ``sampler``, and the predictor fitted on them.

    The caller supplies the labels (a benchmark lookup, a search's queries): call :meth:`choose`,
    label what it returns with :meth:`add`, then :meth:`fit`, and :meth:`next_round`.
    """

    def __init__(self, *, space: Any, pool: Sequence[Hashable], sampler: Any, new_predictor: Callable[[], Any],
                 seed: int, executor: Any = None) -> None:
        self.space, self.pool, self.sampler = space, pool, sampler
        self.new_predictor, self.seed, self.executor = new_predictor, seed, executor
        self.round = 0
        self.labelled: list[int] = []
        self.labels: list[float] = []
        self.predictor: Any = None

    def choose(self, k: int, *, random: bool = False) -> list[int]:
        """This round's ``k`` pool indices: drawn uniformly (``random``, e.g. round 0's initial
        set, and whenever the sampler declares ``needs_predictor`` but none is trained yet) or
        chosen by the sampler with the current predictor."""
        rng = derive_rng(self.seed, "select", self.round)
        if random or (self.predictor is None and getattr(self.sampler, "needs_predictor", False)):
            return [int(i) for i in rng.choice(len(self.pool), k, replace=False)]
        ctx = SelectionContext(space=self.space, pool=self.pool, labelled=np.asarray(self.labelled, dtype=int),
                               labels=np.asarray(self.labels, dtype=float), predictor=self.predictor, rng=rng,
                               round=self.round, new_predictor=self.new_predictor, executor=self.executor)
        return [int(i) for i in self.sampler.select(ctx, k)]

    def add(self, indices: Sequence[int], labels: Sequence[float]) -> None:
        """Record labels of pool ``indices`` (in labelling order)."""
        self.labelled.extend(int(i) for i in indices)
        self.labels.extend(float(v) for v in labels)

    def fit(self) -> float:
        """Fit a fresh predictor on every label so far (a non-finite label, e.g. a failed
        evaluation, counts as the worst finite one); return the seconds it took."""
        y = np.asarray(self.labels, dtype=float)
        finite = np.isfinite(y)
        if not finite.all():
            y = np.where(finite, y, np.min(y[finite]) if finite.any() else 0.0)
        started = time.perf_counter()
        predictor = self.new_predictor()
        predictor.fit([self.pool[i] for i in self.labelled], y, seed=derive_seed(self.seed, "fit", self.round))
        self.predictor = predictor
        return time.perf_counter() - started

    def next_round(self) -> None:
        self.round += 1

    def ranking(self) -> list[int]:
        """Unlabelled pool indices, best predicted first (stable; non-finite predictions last)."""
        scores = np.asarray(self.predictor.predict(self.pool), dtype=float)
        scores = np.where(np.isfinite(scores), scores, -math.inf)
        taken = set(self.labelled)
        return [int(i) for i in np.argsort(-scores, kind="stable") if int(i) not in taken]
