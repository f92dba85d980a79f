"""Proxy: a cheap estimate of an architecture's quality, with a declared direction."""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Hashable, Literal

import attrs

from nasplug.core.interfaces.base import Part
from nasplug.core.interfaces.space import SearchSpace


@attrs.define
class ProxyContext:
    """What a proxy may use besides the architecture: an image batch ``(x, y)`` as tensors
    (NCHW float, int labels) when the proxy needs data, the number of classes, the device, and a
    seed from which every random draw of the proxy (weight initialisation, noise) is made."""

    seed: int = 0
    batch: Any = None
    num_classes: int = 10
    device: str = "cpu"


class Proxy(Part, abc.ABC):
    """Scores one architecture; ``direction`` says whether higher (``"max"``) or lower
    (``"min"``) is better, so users never have to guess (synflow spans 1e32..1e61)."""

    group: ClassVar[str] = "nasplug.proxies"
    direction: ClassVar[Literal["max", "min"]] = "max"
    needs_data: ClassVar[bool] = False
    needs_labels: ClassVar[bool] = False
    #: ``"cheap"`` (no training, milliseconds) or ``"expensive"`` (trains or backpropagates a lot).
    cost: ClassVar[Literal["cheap", "expensive"]] = "cheap"

    def __init__(self, config: Any = None, *, space: SearchSpace) -> None:
        super().__init__(config)
        self.check_space(space)
        self.space = space

    @abc.abstractmethod
    def score(self, arch: Hashable, ctx: ProxyContext) -> float:
        """The proxy value of ``arch`` (may be non-finite; the runner ranks such values last)."""

    def fitness(self, value: float) -> float:
        """``value`` turned into higher-is-better form."""
        return value if self.direction == "max" else -value
