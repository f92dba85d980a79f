"""A small, fully specified search space for testing parts without any plugin package.

``ToySpace``: ``positions`` slots, each one of ``choices`` operations (default 6 x 4 = 4,096
architectures), written as a digit string like ``"013203"``; Hamming distance; a chain graph; a
tiny conv network; and ``ToyBenchmark`` with a deterministic synthetic ``accuracy`` that has real
structure (additive per-slot effects plus pairwise interactions) so predictors and searches have
something learnable, and a simulated ``cost`` of 10 s per query.
"""

from __future__ import annotations

import itertools
from typing import Any, Hashable, Iterator

import attrs
import numpy as np

from nasplug.core.errors import ArchitectureError
from nasplug.core.interfaces.benchmark import Benchmark
from nasplug.core.interfaces.space import CellGraph, SearchSpace
from nasplug.core.options import positive_int


@attrs.frozen
class ToySpaceConfig:
    positions: int = attrs.field(default=6, validator=positive_int)
    choices: int = attrs.field(default=4, validator=positive_int)


class ToySpace(SearchSpace):
    """Test space: digit strings over a few slots, with a synthetic benchmark."""

    Config = ToySpaceConfig
    op_vocabulary = ("input", "output", "op0", "op1", "op2", "op3", "op4", "op5", "op6", "op7", "op8", "op9")

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        if self.config.choices > 10:
            raise ValueError("choices: expected at most 10, got {}".format(self.config.choices))

    @property
    def max_nodes(self) -> int:  # type: ignore[override]
        return self.config.positions + 2

    def parse(self, text: Any) -> str:
        p, c = self.config.positions, self.config.choices
        if isinstance(text, str) and len(text) == p and all(ch.isdigit() and int(ch) < c for ch in text):
            return text
        raise ArchitectureError(f"'{text}' is not a toy architecture; expected {p} digits each below {c}")

    def canonical(self, arch: Hashable) -> str:
        return self.parse(arch)

    def sample(self, rng: np.random.Generator) -> str:
        return "".join(str(d) for d in rng.integers(0, self.config.choices, self.config.positions))

    def mutate(self, arch: Hashable, rng: np.random.Generator) -> str:
        arch = self.parse(arch)
        pos = int(rng.integers(self.config.positions))
        others = [d for d in range(self.config.choices) if d != int(arch[pos])]
        return arch[:pos] + str(others[int(rng.integers(len(others)))]) + arch[pos + 1:]

    def neighbours(self, arch: Hashable) -> list[str]:
        arch = self.parse(arch)
        return [arch[:p] + str(d) + arch[p + 1:] for p in range(self.config.positions)
                for d in range(self.config.choices) if str(d) != arch[p]]

    def distance(self, a: Hashable, b: Hashable) -> float:
        return float(sum(x != y for x, y in zip(self.parse(a), self.parse(b))))

    def size(self) -> int:
        return self.config.choices ** self.config.positions

    def enumerate(self) -> Iterator[str]:
        for digits in itertools.product(range(self.config.choices), repeat=self.config.positions):
            yield "".join(map(str, digits))

    def position_choices(self) -> tuple[int, ...]:
        return (self.config.choices,) * self.config.positions

    def to_positions(self, arch: Hashable) -> tuple[int, ...]:
        return tuple(int(ch) for ch in self.parse(arch))

    def from_positions(self, positions: Any) -> str:
        return self.parse("".join(str(int(p)) if 0 <= int(p) < 10 else "x" for p in positions))

    def graph(self, arch: Hashable) -> CellGraph:
        arch = self.parse(arch)
        n = self.config.positions + 2
        adjacency = np.zeros((n, n), dtype=np.int8)
        for i in range(n - 1):
            adjacency[i, i + 1] = 1
        return CellGraph(adjacency, ("input", *(f"op{d}" for d in arch), "output"))

    def to_module(self, arch: Hashable, num_classes: int = 10, **options: Any) -> Any:
        """A chain of small conv blocks: op d = conv with 4*(d+1) channels (op 0 = identity)."""
        import torch.nn as nn

        arch = self.parse(arch)
        layers: list[nn.Module] = [nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()]
        channels = 8
        for d in map(int, arch):
            if d == 0:
                continue
            width = 4 * (d + 1)
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            channels = width
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)]
        return nn.Sequential(*layers)

    def load_benchmark(self, path: str | None = None) -> "ToyBenchmark":
        return ToyBenchmark(self)


class ToyBenchmark(Benchmark):
    """Synthetic metrics of the toy space: ``accuracy`` (percent), ``latency`` and ``cost``."""

    space_name = "toy"
    has_cost = True

    def __init__(self, space: ToySpace) -> None:
        self.space = space
        rng = np.random.default_rng(12345)
        p, c = space.config.positions, space.config.choices
        self._main = rng.normal(0, 2.0, (p, c))
        self._pair = rng.normal(0, 0.7, (p, c, c))

    @property
    def metrics(self) -> tuple[str, ...]:
        return ("accuracy", "latency")

    def query(self, arch: Hashable, metric: str) -> float:
        self.check_metric(metric)
        digits = [int(ch) for ch in self.space.parse(arch)]
        if metric == "latency":
            return float(1.0 + sum(digits))
        score = sum(self._main[i, d] for i, d in enumerate(digits))
        score += sum(self._pair[i, digits[i - 1], d] for i, d in enumerate(digits) if i > 0)
        return float(70.0 + 2.0 * score)

    def cost(self, arch: Hashable, metric: str) -> float:
        return 10.0

    def architectures(self) -> list[str]:
        return list(self.space.enumerate())
