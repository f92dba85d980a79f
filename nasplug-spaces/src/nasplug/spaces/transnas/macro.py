"""The TransNAS-Bench-101 macro space: 4 to 6 layers of ResNet basic blocks, 3,256 networks.

An architecture is a tuple of 4 to 6 layer codes, one per layer of two basic blocks, as in the
official code: code ``c`` doubles the channels when even and halves the resolution when above 2:

==== ============================== =========
code meaning                        op label
==== ============================== =========
1    plain (same channels, stride 1) ``plain``
2    double channels                 ``double``
3    downsample (stride 2)           ``down``
4    downsample and double channels  ``down_double``
==== ============================== =========

A member downsamples 1 to 4 times and doubles the channels 1 to 3 times, which gives the
benchmark's 3,256 networks (210 of 4 layers, 750 of 5, 2,296 of 6). The canonical id is the
official string ``64-<codes>-basic`` (e.g. ``64-41414-basic``).
"""

from __future__ import annotations

import functools
import itertools
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Sequence

import numpy as np

from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.core.interfaces.space import CellGraph, SearchSpace
from nasplug.core.options import NoOptions

if TYPE_CHECKING:
    from torch import nn

    from nasplug.spaces.transnas.benchmark import TransNASBenchmark

#: Op labels of the layer codes 1..4 (index = code - 1).
MACRO_OPS: tuple[str, ...] = ("plain", "double", "down", "down_double")
MIN_LAYERS, MAX_LAYERS = 4, 6
#: Bounds on the number of downsampling layers and of channel-doubling layers.
DOWNSAMPLES = (1, 4)
DOUBLINGS = (1, 3)
FORMAT = "64-<4 to 6 codes in 1..4>-basic"

MacroArch = tuple[int, ...]


def _fail(problem: str) -> ArchitectureError:
    return ArchitectureError(
        f"not a TransNAS-Bench-101 macro network: {problem}; expected '{FORMAT}' (e.g. 64-41414-basic) or 4 to 6 "
        f"codes (1 plain, 2 double channels, 3 downsample, 4 both) with 1-4 downsamples and 1-3 doublings")


def _check_codes(codes: Sequence[int], shown: str) -> MacroArch:
    if not MIN_LAYERS <= len(codes) <= MAX_LAYERS:
        raise _fail(f"{shown} has {len(codes)} layers")
    down = sum(c > 2 for c in codes)
    double = sum(c % 2 == 0 for c in codes)
    if not DOWNSAMPLES[0] <= down <= DOWNSAMPLES[1]:
        raise _fail(f"{shown} downsamples {down} times")
    if not DOUBLINGS[0] <= double <= DOUBLINGS[1]:
        raise _fail(f"{shown} doubles the channels {double} times")
    return tuple(codes)


def to_macro(value: Any) -> MacroArch:
    """A validated tuple of layer codes from a string or a sequence of codes (trailing zeros, as in
    NASLib's 6-tuples, are dropped)."""
    if isinstance(value, str):
        return parse_macro_str(value)
    if not isinstance(value, (tuple, list)):
        raise _fail(f"got an object of type {type(value).__name__}")
    codes = list(value)
    while codes and isinstance(codes[-1], (int, np.integer)) and not isinstance(codes[-1], bool) and codes[-1] == 0:
        codes.pop()
    for c in codes:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 1 <= int(c) <= 4:
            raise _fail(f"{tuple(value)!r} holds the code {c!r} (a code is 1..4, 0 only as trailing padding)")
    return _check_codes([int(c) for c in codes], repr(tuple(value)))


def parse_macro_str(text: str) -> MacroArch:
    """The network written as ``64-xxxx-basic`` (or just its codes, ``xxxx``)."""
    shown = text if len(text) <= 60 else text[:57] + "..."
    body = text.strip()
    if "-" in body:
        parts = body.split("-")
        if len(parts) != 3 or parts[0] != "64" or parts[2] != "basic":
            raise _fail(f"'{shown}' is not of the form 64-<codes>-basic")
        body = parts[1]
    if not body or not all(ch in "1234" for ch in body):
        raise _fail(f"'{shown}' has codes outside 1..4")
    return _check_codes([int(ch) for ch in body], f"'{shown}'")


def macro_str(arch: Sequence[int]) -> str:
    """The official string of a validated network."""
    return "64-" + "".join(map(str, arch)) + "-basic"


def is_member(codes: Sequence[int]) -> bool:
    try:
        _check_codes(codes, "")
    except ArchitectureError:
        return False
    return True


@functools.cache
def all_macro_archs() -> tuple[MacroArch, ...]:
    """The 3,256 members: by length, then lexicographically."""
    return tuple(codes for n in range(MIN_LAYERS, MAX_LAYERS + 1)
                 for codes in itertools.product(range(1, 5), repeat=n) if is_member(codes))


def _padded(arch: MacroArch) -> tuple[int, ...]:
    return arch + (0,) * (MAX_LAYERS - len(arch))


#: Choices per position of the positional form: 4 mandatory layers, 2 optional ones.
_CHOICES = (4,) * MIN_LAYERS + (5,) * (MAX_LAYERS - MIN_LAYERS)


class TransNASMacroSpace(SearchSpace):
    """TransNAS-Bench-101 macro space: 4-6 layer codes (3,256 networks), subset benchmark."""

    Config: ClassVar[type] = NoOptions
    ops: ClassVar[tuple[str, ...]] = MACRO_OPS
    op_vocabulary: ClassVar[tuple[str, ...]] = ("input", "output", *MACRO_OPS)
    max_nodes: ClassVar[int] = MAX_LAYERS + 2

    # --- membership -----------------------------------------------------------------------
    def parse(self, text: Any) -> MacroArch:
        """The network written as ``64-xxxx-basic`` or ``xxxx``, or given as a code sequence."""
        return to_macro(text)

    def canonical(self, arch: Any) -> str:
        """The official ``64-<codes>-basic`` string."""
        return macro_str(to_macro(arch))

    def contains(self, arch: Any) -> bool:
        try:
            to_macro(arch)
        except ArchitectureError:
            return False
        return True

    # --- sampling and moves ---------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> MacroArch:
        """One of the 3,256 networks, uniformly at random (NASLib instead draws the length, the
        number of downsamples and of doublings uniformly; we sample the space uniformly)."""
        every = all_macro_archs()
        return every[int(rng.integers(len(every)))]

    def mutate(self, arch: Any, rng: np.random.Generator) -> MacroArch:
        """A uniformly chosen member of :meth:`neighbours` (every member has some)."""
        nbrs = self.neighbours(arch)
        return nbrs[int(rng.integers(len(nbrs)))]

    def neighbours(self, arch: Any) -> list[MacroArch]:
        """Every member one position away in the padded 6-slot form: one layer's code changed,
        a layer appended (below 6 layers) or the last layer removed (above 4), in slot order."""
        padded = _padded(to_macro(arch))
        n = len(to_macro(arch))
        out: list[MacroArch] = []
        for k in range(MAX_LAYERS):
            if k < n - 1 or (k == n - 1 and n == MIN_LAYERS):
                values: Sequence[int] = range(1, 5)
            elif k == n - 1:
                values = range(0, 5)   # change the last layer or remove it
            elif k == n:
                values = range(1, 5)   # append a layer
            else:
                continue
            for v in values:
                if v == padded[k]:
                    continue
                codes = [c for c in padded[:k] + (v,) + padded[k + 1:] if c]
                if is_member(codes):
                    out.append(tuple(codes))
        return out

    def distance(self, a: Any, b: Any) -> float:
        """Hamming distance between the 6-slot forms padded with 0 (absent) at the end."""
        return float(sum(x != y for x, y in zip(_padded(to_macro(a)), _padded(to_macro(b)))))

    def size(self) -> int:
        return len(all_macro_archs())

    def enumerate(self) -> Iterator[MacroArch]:
        """All 3,256 networks: 4 layers first, then 5, then 6, each lexicographically."""
        return iter(all_macro_archs())

    # --- positional form ------------------------------------------------------------------
    def position_choices(self) -> tuple[int, ...]:
        """``(4, 4, 4, 4, 5, 5)``: slots 1-4 always hold a layer, slots 5-6 may be absent.

        Slots 1-4 take ``code - 1`` (0..3); slots 5-6 take ``0`` for absent or the code (1..4).
        A present 6th layer after an absent 5th (a gap), or a combination that breaks the
        downsample/doubling bounds, is not a member: ``from_positions`` raises for it.
        """
        return _CHOICES

    def to_positions(self, arch: Any) -> tuple[int, ...]:
        padded = _padded(to_macro(arch))
        return tuple(c - 1 for c in padded[:MIN_LAYERS]) + padded[MIN_LAYERS:]

    def from_positions(self, positions: Sequence[int]) -> MacroArch:
        if len(positions) != MAX_LAYERS or any(not 0 <= int(p) < c for p, c in zip(positions, _CHOICES)):
            raise ArchitectureError(
                f"TransNAS macro positions must be 6 integers, 0..3 in slots 1-4 and 0..4 in slots 5-6, got {tuple(positions)!r}")
        codes = [int(p) + 1 for p in positions[:MIN_LAYERS]]
        optional = [int(p) for p in positions[MIN_LAYERS:]]
        if optional[0] == 0 and optional[1] != 0:
            raise ArchitectureError(f"TransNAS macro positions {tuple(positions)!r} have a gap (slot 5 absent, slot 6 present); "
                                    f"put the layer in slot 5")
        codes += [c for c in optional if c]
        try:
            return _check_codes(codes, repr(tuple(positions)))
        except ArchitectureError as exc:
            raise ArchitectureError(f"TransNAS macro positions {tuple(positions)!r} are not a member: {exc}") from None

    # --- graphs and networks --------------------------------------------------------------
    def graph(self, arch: Any) -> CellGraph:
        """A chain: input, one node per layer (labelled by its code), output."""
        codes = to_macro(arch)
        n = len(codes) + 2
        adjacency = np.eye(n, k=1, dtype=np.int8)
        return CellGraph(adjacency=adjacency, ops=("input", *(MACRO_OPS[c - 1] for c in codes), "output"))

    def to_module(self, arch: Any, num_classes: int = 10, **options: Any) -> "nn.Module":
        """The TransNAS-Bench-101 macro encoder (ResNet basic blocks, 2 per layer) with a
        classification head. Options: ``base_channels`` (64), ``blocks_per_layer`` (2).
        Parameter counts equal the NAS-Bench-Suite-Zero ``params`` of the classification tasks."""
        from nasplug.spaces.transnas.network import TransNASNetwork

        known = {"base_channels", "blocks_per_layer"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"to_module option '{unknown[0]}' is not known to transnas_macro; known options: {', '.join(sorted(known))}")
        return TransNASNetwork(to_macro(arch), None, num_classes=num_classes, **options)

    # --- benchmark ------------------------------------------------------------------------
    def load_benchmark(self, path: str | None = None) -> "TransNASBenchmark":
        """The NAS-Bench-Suite-Zero macro subset (725 networks, 7 tasks, 10 proxies) from
        ``transnas101/suite_zero_macro_subset.json``."""
        from nasplug.spaces.transnas.benchmark import load_macro_benchmark

        return load_macro_benchmark(path)
