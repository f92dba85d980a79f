"""Uniform random selection: the baseline every active-learning sampler must beat."""

from __future__ import annotations

from typing import Sequence

from nasplug.core.interfaces.sampler import Sampler, SelectionContext


class RandomSampler(Sampler):
    """Labels k unlabelled architectures drawn uniformly at random."""

    def choose(self, ctx: SelectionContext, k: int) -> Sequence[int]:
        return ctx.rng.choice(ctx.unlabelled, size=k, replace=False)
