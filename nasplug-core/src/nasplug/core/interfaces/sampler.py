"""Sampler: active-learning selection of which pool architectures to label next."""

from __future__ import annotations

import abc
from typing import Any, Callable, ClassVar, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.errors import BudgetError
from nasplug.core.interfaces.base import Part
from nasplug.core.interfaces.predictor import Predictor
from nasplug.core.interfaces.space import SearchSpace


@attrs.define
class SelectionContext:
    """What a sampler sees in one round.

    ``labelled`` holds pool indices already labelled (in labelling order) and ``labels`` their
    targets; ``predictor`` is trained on them (``None`` before the first round). ``new_predictor``
    returns a fresh unfitted predictor of the run's kind, for samplers that retrain (DARE's
    pseudo-labelling). ``rng`` is derived from (run seed, round) so that a resumed run selects the
    same indices as an uninterrupted one.
    """

    space: SearchSpace
    pool: Sequence[Hashable]
    labelled: np.ndarray
    labels: np.ndarray
    predictor: Predictor | None
    rng: np.random.Generator
    round: int = 0
    new_predictor: Callable[[], Predictor] | None = None
    executor: Any = None

    @property
    def unlabelled(self) -> np.ndarray:
        """Pool indices not yet labelled, ascending."""
        mask = np.ones(len(self.pool), dtype=bool)
        mask[np.asarray(self.labelled, dtype=int)] = False
        return np.flatnonzero(mask)


class Sampler(Part, abc.ABC):
    """Chooses ``k`` unlabelled pool indices to label next.

    Subclasses implement ``choose``; the public ``select`` checks the contract (exactly ``k``
    distinct, unlabelled, in-range indices) so that every sampler fails loudly rather than
    silently corrupting a run. Samplers keep no state between rounds that they cannot recompute
    from the context: that is what makes predict runs resumable.
    """

    group: ClassVar[str] = "nasplug.samplers"
    #: Whether ``choose`` needs a trained predictor. The runner never calls such a sampler
    #: without one: a round with no predictor yet (round 0, even with ``initial_sampler =
    #: "sampler"``) draws uniformly at random instead.
    needs_predictor: ClassVar[bool] = False

    def __init__(self, config: Any = None, *, space: SearchSpace) -> None:
        super().__init__(config)
        self.space = space

    def select(self, ctx: SelectionContext, k: int) -> list[int]:
        """``k`` pool indices to label next, validated."""
        available = len(ctx.pool) - len(ctx.labelled)
        if k < 1:
            raise BudgetError(f"a sampler must select at least 1 architecture, not {k}")
        if k > available:
            raise BudgetError(
                f"asked to label {k} architectures but only {available} of the pool are unlabelled; lower the labels per round or enlarge the pool")
        chosen = [int(i) for i in self.choose(ctx, k)]
        labelled = set(int(i) for i in ctx.labelled)
        if len(chosen) != k or len(set(chosen)) != k:
            raise RuntimeError(f"sampler {type(self).__name__} returned {len(set(chosen))} distinct indices, expected {k}")
        bad = [i for i in chosen if i < 0 or i >= len(ctx.pool) or i in labelled]
        if bad:
            raise RuntimeError(f"sampler {type(self).__name__} returned labelled or out-of-range indices {bad[:5]}")
        return chosen

    @abc.abstractmethod
    def choose(self, ctx: SelectionContext, k: int) -> Sequence[int]:
        """The ``k`` pool indices to label (``select`` validates them)."""
