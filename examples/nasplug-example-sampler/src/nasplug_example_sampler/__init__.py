"""An out-of-tree nasplug sampler: the whole plugin is this file plus one entry-point line.

``GreedyPredictedSampler`` is the pure-exploitation baseline of active learning for performance
predictors: label what the current predictor already believes is best.
"""

from __future__ import annotations

from typing import Sequence

import attrs
import numpy as np

from nasplug.core.interfaces.sampler import Sampler, SelectionContext
from nasplug.core.options import number_in

__all__ = ["GreedyPredictedSampler", "GreedyPredictedSamplerConfig"]
__version__ = "0.1.0"


@attrs.frozen
class GreedyPredictedSamplerConfig:
    """``random_fraction``: share of each round's ``k`` labels drawn uniformly at random from the
    unlabelled pool instead of greedily (0 = pure exploitation, 1 = random sampling)."""

    random_fraction: float = attrs.field(default=0.0, validator=number_in(0.0, 1.0))


class GreedyPredictedSampler(Sampler):
    """Labels the k unlabelled architectures the current predictor rates highest."""

    Config = GreedyPredictedSamplerConfig
    #: The runner draws round 0 (no predictor yet) at random for such a sampler.
    needs_predictor = True

    def choose(self, ctx: SelectionContext, k: int) -> Sequence[int]:
        unlabelled = ctx.unlabelled
        n_random = int(round(self.config.random_fraction * k))
        n_greedy = k - n_random
        scores = np.asarray(ctx.predictor.predict([ctx.pool[i] for i in unlabelled]), dtype=float)
        scores = np.where(np.isfinite(scores), scores, -np.inf)
        # Highest predicted first; ties are broken by a seeded random key so the choice is
        # deterministic under the run seed yet unbiased towards low pool indices.
        tiebreak = ctx.rng.random(len(unlabelled))
        order = np.lexsort((tiebreak, -scores))
        greedy = unlabelled[order[:n_greedy]]
        if n_random == 0:
            return greedy
        rest = unlabelled[order[n_greedy:]]
        return np.concatenate([greedy, ctx.rng.choice(rest, size=n_random, replace=False)])
