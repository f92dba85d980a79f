"""The NAS-Bench-Macro search space: 8 layers x 3 choices = 6,561 architectures.

An architecture is a tuple of 8 digits, one per searched layer: 0 identity (``id``), 1 MobileNetV2
block with kernel 3 and expansion 3 (``ir_3x3_t3``), 2 kernel 5 and expansion 6 (``ir_5x5_t6``).
Its canonical id is the benchmark's key, the 8 digits as a string (e.g. ``22212220``).

The benchmark trained one network per *equivalence class*: an identity that is not the first layer
of its stage is a plain pass-through, so moving it to the stage's end builds the same function
(:func:`representative`); all 6,561 keys are listed, sharing the rows of their representative.
We keep the 6,561 keys distinct, as the benchmark and the literature count them.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Sequence

import numpy as np

from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.core.interfaces.space import CellGraph, PositionalSpace
from nasplug.core.options import NoOptions
from nasplug.spaces.nb_macro.network import STAGES

if TYPE_CHECKING:
    from torch import nn

    from nasplug.spaces.nb_macro.benchmark import NBMacroBenchmark

#: Op labels by digit, as the benchmark's code names them.
MACRO_OPS: tuple[str, ...] = ("id", "ir_3x3_t3", "ir_5x5_t6")
N_LAYERS = sum(STAGES)
FORMAT = "8 digits in 0..2, e.g. 22212220"

NBMacroArch = tuple[int, ...]

_NAME_TO_DIGIT = {name: i for i, name in enumerate(MACRO_OPS)}
_KEYS = {"".join(map(str, a)): a for a in itertools.product(range(3), repeat=N_LAYERS)}


def _fail(problem: str) -> ArchitectureError:
    return ArchitectureError(
        f"not a NAS-Bench-Macro architecture: {problem}; expected {FORMAT} (0 identity, 1 MBConv k3 e3, "
        f"2 MBConv k5 e6) or a sequence of 8 such digits / op names")


def to_nb_macro(value: Any) -> NBMacroArch:
    """A validated 8-tuple of digits from the 8-character key or a sequence of digits/op names."""
    if isinstance(value, str):
        arch = _KEYS.get(value.strip())
        if arch is None:
            shown = value if len(value) <= 40 else value[:37] + "..."
            raise _fail(f"'{shown}' is not 8 digits in 0..2")
        return arch
    if not isinstance(value, (tuple, list)):
        raise _fail(f"got an object of type {type(value).__name__}")
    if len(value) != N_LAYERS:
        raise _fail(f"got {len(value)} layers instead of {N_LAYERS}")
    out = []
    for k, item in enumerate(value):
        if isinstance(item, str) and item in _NAME_TO_DIGIT:
            out.append(_NAME_TO_DIGIT[item])
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool) and 0 <= int(item) < 3:
            out.append(int(item))
        else:
            raise _fail(f"unknown op {item!r} at layer {k + 1}")
    return tuple(out)


def representative(arch: Any) -> NBMacroArch:
    """The architecture NAS-Bench-Macro actually trained for ``arch``: in each stage, identities
    after the stage's first layer moved to the stage's end (the same function)."""
    digits = to_nb_macro(arch)
    out: list[int] = []
    start = 0
    for n in STAGES:
        stage = digits[start:start + n]
        rest = [d for d in stage[1:] if d != 0]
        out += [stage[0], *rest, *([0] * (n - 1 - len(rest)))]
        start += n
    return tuple(out)


class NBMacroSpace(PositionalSpace):
    """NAS-Bench-Macro: 8 layers x {identity, MBConv k3 e3, MBConv k5 e6} (6,561), CIFAR-10 table."""

    Config: ClassVar[type] = NoOptions
    ops: ClassVar[tuple[str, ...]] = MACRO_OPS
    op_vocabulary: ClassVar[tuple[str, ...]] = ("input", "output", *MACRO_OPS)
    max_nodes: ClassVar[int] = N_LAYERS + 2

    # --- membership -----------------------------------------------------------------------
    def parse(self, text: Any) -> NBMacroArch:
        """The architecture written as its 8-digit key (or given as 8 digits / op names)."""
        return to_nb_macro(text)

    def canonical(self, arch: Any) -> str:
        """The benchmark's 8-digit key."""
        return "".join(map(str, to_nb_macro(arch)))

    def contains(self, arch: Any) -> bool:
        try:
            to_nb_macro(arch)
        except ArchitectureError:
            return False
        return True

    # --- sampling and moves ---------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> NBMacroArch:
        """One of the 6,561 architectures, uniformly at random."""
        return tuple(int(d) for d in rng.integers(0, 3, size=N_LAYERS))

    def mutate(self, arch: Any, rng: np.random.Generator) -> NBMacroArch:
        """``arch`` with one uniformly chosen layer set to a different, uniformly chosen op."""
        digits = list(to_nb_macro(arch))
        k = int(rng.integers(N_LAYERS))
        digits[k] = (digits[k] + 1 + int(rng.integers(2))) % 3
        return tuple(digits)

    def size(self) -> int:
        return 3 ** N_LAYERS

    def enumerate(self) -> Iterator[NBMacroArch]:
        """All 6,561 architectures in ``itertools.product(range(3), repeat=8)`` order."""
        return itertools.product(range(3), repeat=N_LAYERS)

    # --- positional form ------------------------------------------------------------------
    def position_choices(self) -> tuple[int, ...]:
        """Eight layers with three ops each."""
        return (3,) * N_LAYERS

    def to_positions(self, arch: Any) -> tuple[int, ...]:
        """The op digits themselves."""
        return to_nb_macro(arch)

    def from_positions(self, positions: Sequence[int]) -> NBMacroArch:
        if len(positions) != N_LAYERS or any(not 0 <= int(p) < 3 for p in positions):
            raise ArchitectureError(f"NAS-Bench-Macro positions must be {N_LAYERS} integers in 0..2, got {tuple(positions)!r}")
        return tuple(int(p) for p in positions)

    # --- graphs and networks --------------------------------------------------------------
    def graph(self, arch: Any) -> CellGraph:
        """A chain of 10 nodes: input, the 8 layers (identities kept), output."""
        return CellGraph(adjacency=np.eye(N_LAYERS + 2, k=1, dtype=np.int8),
                         ops=("input", *(MACRO_OPS[d] for d in to_nb_macro(arch)), "output"))

    def to_module(self, arch: Any, num_classes: int = 10, **options: Any) -> "nn.Module":
        """The NAS-Bench-Macro CIFAR network. Options: ``channels`` (32, the stem width) and
        ``last_channels`` (1280). With the defaults and 10 classes, parameter counts and FLOPs
        (conv + linear multiply-accumulates at 32x32) equal the benchmark's columns (tested)."""
        from nasplug.spaces.nb_macro.network import NBMacroNetwork

        known = {"channels", "last_channels"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"to_module option '{unknown[0]}' is not known to nb_macro; known options: {', '.join(sorted(known))}")
        return NBMacroNetwork(to_nb_macro(arch), num_classes=num_classes, **options)

    # --- benchmark ------------------------------------------------------------------------
    def supernet(self, num_classes: int = 10, **options: Any) -> "nn.Module":
        """The weight-sharing supernet (all three choices in every layer); options as
        ``to_module`` (see :mod:`nasplug.spaces.nb_macro.supernet`)."""
        from nasplug.spaces.nb_macro.supernet import NBMacroSupernet

        unknown = sorted(set(options) - {"channels", "last_channels"})
        if unknown:
            raise ConfigError(f"supernet option '{unknown[0]}' is not known to nb_macro; known options: channels, last_channels")
        return NBMacroSupernet(num_classes=num_classes, **options)

    def load_benchmark(self, path: str | None = None) -> "NBMacroBenchmark":
        """The complete CIFAR-10 table ``macro/nas_bench_macro_cifar10.json``."""
        from nasplug.spaces.nb_macro.benchmark import load_benchmark

        return load_benchmark(path)
