"""An out-of-tree nasplug search space: the whole plugin is this file plus one entry-point line.

``StagedCNNSpace`` is a small macro space: a plain CNN of 3 resolution stages (32, 16, 8 px for
CIFAR), each stage choosing its depth (1..3 conv-BN-ReLU layers), width (16/32/48/64 channels)
and kernel size (3 or 5): 24^3 = 13,824 networks, written like ``2x32k3-1x64k5-3x48k3``.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar, Iterator, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.core.interfaces.space import CellGraph, SearchSpace

__all__ = ["StagedCNNSpace", "StagedCNNConfig", "DEPTHS", "WIDTHS", "KERNELS"]
__version__ = "0.1.0"

DEPTHS = (1, 2, 3)
WIDTHS = (16, 32, 48, 64)
KERNELS = (3, 5)
STAGES = 3
#: Per stage: (depth, width, kernel) index choices; the positional form strategies use.
_CHOICES = (len(DEPTHS), len(WIDTHS), len(KERNELS)) * STAGES

Stage = tuple[int, int, int]            # (depth, width, kernel)
Arch = tuple[Stage, Stage, Stage]


@attrs.frozen
class StagedCNNConfig:
    """``width_multiplier``: scales every stage's width in the built network (not the architecture),
    e.g. 0.5 for a cheaper proxy network."""

    width_multiplier: float = attrs.field(default=1.0)

    @width_multiplier.validator
    def _check(self, attribute: attrs.Attribute, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 4:
            raise ValueError(f"{attribute.name}: expected a number in (0, 4], got {value!r}")


def _fail(text: Any) -> ArchitectureError:
    return ArchitectureError(
        f"{text!r} is not a staged-cnn architecture; expected 3 stages like '2x32k3-1x64k5-3x48k3' "
        f"(depth in {DEPTHS}, width in {WIDTHS}, kernel in {KERNELS})")


class StagedCNNSpace(SearchSpace):
    """Staged CNN macro space: 3 stages x depth {1,2,3} x width {16..64} x kernel {3,5} (13,824 networks)."""

    Config: ClassVar[type] = StagedCNNConfig
    op_vocabulary: ClassVar[tuple[str, ...]] = ("input", "output", "conv3x3", "conv5x5", "downsample")
    max_nodes: ClassVar[int] = 2 + STAGES * max(DEPTHS)

    # --- membership: one canonical string per architecture ------------------------------------
    def parse(self, text: Any) -> Arch:
        if isinstance(text, tuple) and len(text) == STAGES:  # already an architecture
            stages = text
        elif isinstance(text, str):
            try:
                stages = tuple(self._parse_stage(part) for part in text.strip().split("-"))
            except ValueError:
                raise _fail(text) from None
        else:
            raise _fail(text)
        if len(stages) != STAGES or not all(
                isinstance(s, tuple) and len(s) == 3 and s[0] in DEPTHS and s[1] in WIDTHS and s[2] in KERNELS
                for s in stages):
            raise _fail(text)
        return stages  # type: ignore[return-value]

    @staticmethod
    def _parse_stage(part: str) -> Stage:
        depth, rest = part.split("x")
        width, kernel = rest.split("k")
        return int(depth), int(width), int(kernel)

    def canonical(self, arch: Any) -> str:
        return "-".join(f"{d}x{w}k{k}" for d, w, k in self.parse(arch))

    # --- sampling, moves, metric: all through the positional form --------------------------------
    def position_choices(self) -> tuple[int, ...]:
        return _CHOICES

    def to_positions(self, arch: Any) -> tuple[int, ...]:
        return tuple(i for d, w, k in self.parse(arch) for i in (DEPTHS.index(d), WIDTHS.index(w), KERNELS.index(k)))

    def from_positions(self, positions: Sequence[int]) -> Arch:
        if len(positions) != len(_CHOICES) or any(not 0 <= int(p) < c for p, c in zip(positions, _CHOICES)):
            raise ArchitectureError(f"staged-cnn positions must be {len(_CHOICES)} indices below {_CHOICES}, got {tuple(positions)!r}")
        p = [int(x) for x in positions]
        return tuple((DEPTHS[p[i]], WIDTHS[p[i + 1]], KERNELS[p[i + 2]]) for i in range(0, len(p), 3))  # type: ignore[return-value]

    def sample(self, rng: np.random.Generator) -> Arch:
        """Uniform over the 13,824 networks."""
        return self.from_positions([int(rng.integers(c)) for c in _CHOICES])

    def neighbours(self, arch: Any) -> list[Arch]:
        """Every network with one stage's depth, width or kernel changed (18), in position order."""
        pos = self.to_positions(arch)
        return [self.from_positions(pos[:i] + (v,) + pos[i + 1:])
                for i, c in enumerate(_CHOICES) for v in range(c) if v != pos[i]]

    def mutate(self, arch: Any, rng: np.random.Generator) -> Arch:
        """A uniformly drawn neighbour."""
        options = self.neighbours(arch)
        return options[int(rng.integers(len(options)))]

    def distance(self, a: Any, b: Any) -> float:
        """Hamming distance over the 9 positions."""
        return float(sum(x != y for x, y in zip(self.to_positions(a), self.to_positions(b))))

    def size(self) -> int:
        return int(np.prod(_CHOICES))

    def enumerate(self) -> Iterator[Arch]:
        return (self.from_positions(p) for p in itertools.product(*(range(c) for c in _CHOICES)))

    # --- graph and network -------------------------------------------------------------------------
    def graph(self, arch: Any) -> CellGraph:
        """The network as a chain: input, its conv layers (labelled by kernel; the first layer of
        stages 2 and 3 is the strided ``downsample``), output. Widths are not in the graph."""
        labels = ["input"]
        for s, (depth, _, kernel) in enumerate(self.parse(arch)):
            labels += ["downsample" if s and i == 0 else f"conv{kernel}x{kernel}" for i in range(depth)]
        labels.append("output")
        n = len(labels)
        return CellGraph(adjacency=np.eye(n, k=1, dtype=np.int8), ops=tuple(labels))

    def to_module(self, arch: Any, num_classes: int = 10, **options: Any) -> Any:
        """The CNN, with ``forward_stages`` returning each stage's output (nasplug's convention)."""
        import torch
        from torch import nn

        unknown = sorted(set(options) - {"width_multiplier"})
        if unknown:
            raise ConfigError(f"to_module option '{unknown[0]}' is not known to staged-cnn; known: width_multiplier")
        scale = options.get("width_multiplier", self.config.width_multiplier)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(f"num_classes must be an integer >= 1, got {num_classes!r}")

        class StagedCNN(nn.Module):
            def __init__(self, stages: Arch) -> None:
                super().__init__()
                c_in = 3
                self.stages = nn.ModuleList()
                for s, (depth, width, kernel) in enumerate(stages):
                    c = max(1, round(width * scale))
                    layers = []
                    for i in range(depth):
                        stride = 2 if s and i == 0 else 1
                        layers += [nn.Conv2d(c_in, c, kernel, stride=stride, padding=kernel // 2, bias=False),
                                   nn.BatchNorm2d(c), nn.ReLU()]
                        c_in = c
                    self.stages.append(nn.Sequential(*layers))
                self.classifier = nn.Linear(c_in, num_classes)

            def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
                out = []
                for stage in self.stages:
                    x = stage(x)
                    out.append(x)
                return out

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.classifier(self.forward_stages(x)[-1].mean(dim=(2, 3)))

        return StagedCNN(self.parse(arch))
