"""Predictor: a trainable model of architecture performance (scikit-learn conventions)."""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Hashable, Sequence

import numpy as np

from nasplug.core.interfaces.base import Part
from nasplug.core.interfaces.space import SearchSpace


class Predictor(Part, abc.ABC):
    """``fit`` on labelled architectures, ``predict`` scores, ``embed`` to the representation
    that distance-based samplers (CoreSet, DARE) work on. ``fit`` takes the seed, so a predictor's
    result depends only on its data, its config and that seed."""

    group: ClassVar[str] = "nasplug.predictors"

    def __init__(self, config: Any = None, *, space: SearchSpace) -> None:
        super().__init__(config)
        self.space = space

    @abc.abstractmethod
    def fit(self, archs: Sequence[Hashable], y: np.ndarray, *, seed: int = 0) -> "Predictor":
        """Train from scratch on ``archs`` with targets ``y``; returns ``self``."""

    @abc.abstractmethod
    def predict(self, archs: Sequence[Hashable]) -> np.ndarray:
        """Predicted targets, shape ``(len(archs),)``, higher = better where targets are accuracies."""

    @abc.abstractmethod
    def embed(self, archs: Sequence[Hashable]) -> np.ndarray:
        """The representation the predictor scores from, shape ``(len(archs), d)``."""

    def continue_fit(self, archs: Sequence[Hashable], y: np.ndarray, *, seed: int = 0) -> "Predictor":
        """A copy of this fitted predictor trained further on ``archs`` / ``y`` (``self`` is left
        as it is). DARE's second stage refines the current predictor this way. The default, for
        predictors that cannot continue training, fits a fresh clone."""
        return self.clone().fit(archs, y, seed=seed)

    def clone(self) -> "Predictor":
        """A fresh, unfitted predictor with the same configuration."""
        return type(self)(self.config, space=self.space)
