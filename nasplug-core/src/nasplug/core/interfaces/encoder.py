"""Encoder: architectures -> fixed-length feature vectors (one-hot, path encoding, ...)."""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Hashable, Sequence

import numpy as np

from nasplug.core.interfaces.base import Part
from nasplug.core.interfaces.space import SearchSpace


class Encoder(Part, abc.ABC):
    """A fixed (not learned) map from architectures of ``space`` to ``float32`` feature rows."""

    group: ClassVar[str] = "nasplug.encoders"

    def __init__(self, config: Any = None, *, space: SearchSpace) -> None:
        super().__init__(config)
        self.check_space(space)
        self.space = space

    @abc.abstractmethod
    def encode(self, archs: Sequence[Hashable]) -> np.ndarray:
        """A ``(len(archs), dim)`` float32 array; equal architectures get equal rows."""
