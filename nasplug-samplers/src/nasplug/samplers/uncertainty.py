"""Uncertainty sampling for a regression predictor: the spread of a deep ensemble's predictions.

Stands in for the Entropy and BALD baselines of DARE's Fig. 3 (both need class probabilities,
which a performance regressor does not have): the architectures on which predictors trained on
the same labels with different seeds disagree most are labelled next.
"""

from __future__ import annotations

from typing import Any, Sequence

import attrs
import numpy as np

from nasplug.core.errors import BudgetError
from nasplug.core.interfaces.sampler import Sampler, SelectionContext
from nasplug.core.options import positive_int


def ensemble_std(ctx: SelectionContext, archs: Sequence[Any], members: int) -> np.ndarray:
    """Standard deviation over ``members`` predictors of the predictions for ``archs``: the run's
    trained predictor plus ``members - 1`` fresh ones (``ctx.new_predictor()``) fitted on the
    labelled set with seeds drawn from ``ctx.rng``."""
    if ctx.predictor is None or ctx.new_predictor is None or len(ctx.labelled) == 0:
        raise BudgetError("uncertainty needs labelled architectures, a trained predictor and a predictor factory; "
                          "label an initial random set first (predict.initial_sampler = \"random\")")
    labelled = [ctx.pool[i] for i in ctx.labelled]
    preds = [np.asarray(ctx.predictor.predict(archs), dtype=float)]
    for _ in range(members - 1):
        seed = int(ctx.rng.integers(2**31 - 1))
        member = ctx.new_predictor().fit(labelled, np.asarray(ctx.labels, dtype=float), seed=seed)
        preds.append(np.asarray(member.predict(archs), dtype=float))
    return np.std(np.vstack(preds), axis=0)


def top_by(score: np.ndarray, indices: np.ndarray, k: int) -> list[int]:
    """The ``k`` of ``indices`` with the highest ``score`` (aligned), ties to the lower index."""
    order = np.lexsort((indices, -score))
    return [int(i) for i in indices[order[:k]]]


@attrs.frozen
class UncertaintyConfig:
    """``members``: ensemble size, 5 as in docs/methods/bal.md 5.1's deep ensemble (the run's own predictor
    counts as one member, so each round trains ``members - 1`` more)."""

    members: int = attrs.field(default=5, validator=positive_int)

    def __attrs_post_init__(self) -> None:
        if self.members < 2:
            raise ValueError(f"members: expected at least 2 (a spread needs two predictors), got {self.members!r}")


class UncertaintySampler(Sampler):
    """Labels the architectures with the largest ensemble disagreement (prediction std).

    Deep ensemble rather than MC-dropout: the predictor interface has no stochastic forward pass,
    while every predictor can be refitted with another seed, so the ensemble works with any
    predictor (and is the stronger uncertainty estimate of the two).
    """

    Config = UncertaintyConfig
    needs_predictor = True

    def choose(self, ctx: SelectionContext, k: int) -> Sequence[int]:
        unlabelled = ctx.unlabelled
        std = ensemble_std(ctx, [ctx.pool[i] for i in unlabelled], self.config.members)
        return top_by(std, unlabelled, k)
