"""The MobileNet-like (OFA MobileNetV3) search space of DSM-NAS (Chen et al., TCSVT 2024).

5 units of 2 to 4 MBConv layers, each layer with kernel {3, 5, 7} and expansion {3, 4, 6}.
An architecture is DSM-NAS's length-20 string: 4 slots per unit, one digit per slot, with the
digit mapping of DSM-NAS's code (``combine2kernel_expand``), kernel-major:

===== ===== ===== ===== ===== ===== ===== ===== ===== =====
digit   0     1     2     3     4     5     6     7     8     9
k, e  absent 3, 3  3, 4  3, 6  5, 3  5, 4  5, 6  7, 3  7, 4  7, 6
===== ===== ===== ===== ===== ===== ===== ===== ===== =====

(The paper's text says "2 = E3, R4", a typo; the code's table is above.) Slots 1-2 of a unit are
always present; a unit of depth 3 fills slot 3, depth 4 slots 3-4; a present 4th slot after an
absent 3rd (a gap) is not a member. The canonical id is DSM-NAS's ``to_string`` form, the 20
digits joined by commas, e.g. ``5,7,5,0,9,9,9,3,2,6,3,9,7,5,4,0,9,7,4,0``.

Distance is DSM-NAS's architecture distance: the Hamming distance between the two 20-digit
strings, which also compares architectures of different depths (an absent layer is digit 0).
The space holds (9**2 + 9**3 + 9**4)**5 = 7,371**5 ~ 2.2e19 architectures; it has no tabular
benchmark (DSM-NAS ranks its candidates with an OFA accuracy predictor).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ArchitectureError, BenchmarkError, ConfigError
from nasplug.core.interfaces.space import CellGraph, PositionalSpace
from nasplug.core.options import number_in
from nasplug.spaces.mobilenet.plan import NetworkPlan, network_plan, plan_madds

if TYPE_CHECKING:
    from torch import nn

N_UNITS = 5
SLOTS_PER_UNIT = 4
MIN_DEPTH, MAX_DEPTH = 2, 4
N_SLOTS = N_UNITS * SLOTS_PER_UNIT
KERNELS: tuple[int, ...] = (3, 5, 7)
EXPANSIONS: tuple[int, ...] = (3, 4, 6)
#: digit -> (kernel, expansion); digit 0 (absent) is not listed.
DIGIT_TO_KE: dict[int, tuple[int, int]] = {1 + 3 * i + j: (k, e) for i, k in enumerate(KERNELS) for j, e in enumerate(EXPANSIONS)}
KE_TO_DIGIT: dict[tuple[int, int], int] = {ke: d for d, ke in DIGIT_TO_KE.items()}
#: Graph labels: digit d > 0 is ``LAYER_OPS[d - 1]``.
LAYER_OPS: tuple[str, ...] = tuple(f"mb_k{k}_e{e}" for k, e in DIGIT_TO_KE.values())
N_OPS = len(LAYER_OPS)
FORMAT = "20 digits 0..9 joined by commas (4 per unit; 0 = absent layer, only in slots 3-4 of a unit, no gaps)"

MobileNetArch = tuple[int, ...]


def _fail(problem: str) -> ArchitectureError:
    return ArchitectureError(f"not a MobileNet-like (OFA) architecture: {problem}; expected {FORMAT}")


def _check_digits(digits: Sequence[int], shown: str) -> MobileNetArch:
    if len(digits) != N_SLOTS:
        raise _fail(f"{shown} has {len(digits)} slots instead of {N_SLOTS}")
    for u in range(N_UNITS):
        a, b, c, d = digits[SLOTS_PER_UNIT * u:SLOTS_PER_UNIT * (u + 1)]
        if a == 0 or b == 0:
            raise _fail(f"unit {u + 1} of {shown} has fewer than {MIN_DEPTH} layers")
        if c == 0 and d != 0:
            raise _fail(f"unit {u + 1} of {shown} has a gap (slot 3 absent, slot 4 present)")
    return tuple(digits)


def _as_digit(item: Any) -> int | None:
    if isinstance(item, (int, np.integer)) and not isinstance(item, bool) and 0 <= int(item) <= N_OPS:
        return int(item)
    if isinstance(item, str) and item.strip().isdigit() and 0 <= int(item) <= N_OPS:
        return int(item)
    return None


def to_mobilenet(value: Any) -> MobileNetArch:
    """A validated 20-tuple of digits from a string (comma-separated, 20 plain digits, or
    DSM-NAS's legacy ``depths:kernels:expansions``) or a sequence of 20 digits."""
    if isinstance(value, str):
        return parse_mobilenet_str(value)
    if not isinstance(value, (tuple, list)):
        raise _fail(f"got an object of type {type(value).__name__}")
    digits = [_as_digit(v) for v in value]
    if any(d is None for d in digits):
        bad = next(v for v, d in zip(value, digits) if d is None)
        raise _fail(f"{bad!r} is not a digit in 0..9")
    return _check_digits(digits, repr(tuple(value)) if len(value) <= 24 else "the sequence")  # type: ignore[arg-type]


def parse_mobilenet_str(text: str) -> MobileNetArch:
    shown = text if len(text) <= 80 else text[:77] + "..."
    body = text.strip()
    if ":" in body:
        return from_ofa_legacy(body)
    items = body.split(",") if "," in body else list(body)
    digits = [_as_digit(x) for x in items]
    if any(d is None for d in digits) or not digits:
        raise _fail(f"'{shown}' holds something other than digits 0..9")
    return _check_digits(digits, f"'{shown}'")  # type: ignore[arg-type]


def from_ofa_legacy(text: str) -> MobileNetArch:
    """The architecture of DSM-NAS's legacy string ``d1,..,d5:k1,..,k20:e1,..,e20`` (OFA's depth,
    kernel and expansion lists; slots beyond a unit's depth are ignored, as OFA does)."""
    shown = text if len(text) <= 80 else text[:77] + "..."
    try:
        depths, ks, es = ([int(x) for x in part.split(",")] for part in text.strip().split(":"))
    except ValueError:
        raise _fail(f"'{shown}' is not 'depths:kernels:expansions' of comma-separated integers") from None
    return from_ofa(ks, es, depths, shown=f"'{shown}'")


def from_ofa(ks: Sequence[int], es: Sequence[int], depths: Sequence[int], *, shown: str = "the OFA setting") -> MobileNetArch:
    """The architecture with OFA's per-slot kernel sizes ``ks`` and expansions ``es`` (20 each) and
    per-unit ``depths`` (5), as OFA's ``set_active_subnet(ks=..., e=..., d=...)`` takes them."""
    if len(depths) != N_UNITS or len(ks) != N_SLOTS or len(es) != N_SLOTS:
        raise _fail(f"{shown} needs {N_UNITS} depths and {N_SLOTS} kernels and expansions")
    digits = []
    for u, depth in enumerate(depths):
        if not MIN_DEPTH <= depth <= MAX_DEPTH:
            raise _fail(f"{shown} gives unit {u + 1} depth {depth} (allowed {MIN_DEPTH}..{MAX_DEPTH})")
        for i in range(SLOTS_PER_UNIT):
            s = SLOTS_PER_UNIT * u + i
            if i >= depth:
                digits.append(0)
            elif (ks[s], es[s]) in KE_TO_DIGIT:
                digits.append(KE_TO_DIGIT[(ks[s], es[s])])
            else:
                raise _fail(f"{shown} gives slot {s + 1} kernel {ks[s]} and expansion {es[s]} "
                            f"(kernels {KERNELS}, expansions {EXPANSIONS})")
    return tuple(digits)


def to_ofa(arch: Any) -> dict[str, list[int]]:
    """OFA's ``ks``/``e`` (20 each, 0 for absent slots, as DSM-NAS writes them) and ``d`` (5)."""
    digits = to_mobilenet(arch)
    ks = [DIGIT_TO_KE[d][0] if d else 0 for d in digits]
    es = [DIGIT_TO_KE[d][1] if d else 0 for d in digits]
    return {"ks": ks, "e": es, "d": _depths(digits)}


def depths(arch: Any) -> list[int]:
    """The number of layers of each unit."""
    return _depths(to_mobilenet(arch))


def _depths(digits: Sequence[int]) -> list[int]:
    return [sum(1 for d in digits[SLOTS_PER_UNIT * u:SLOTS_PER_UNIT * (u + 1)] if d) for u in range(N_UNITS)]


def close_gaps(digits: Sequence[int]) -> tuple[int, ...]:
    """DSM-NAS's repair (``adjust_ints``): in each unit, a present 4th slot after an absent 3rd is
    moved to the 3rd. Strategies that edit single slots (DSM-NAS) call it before parsing."""
    out = list(digits)
    for u in range(N_UNITS):
        third, fourth = SLOTS_PER_UNIT * u + 2, SLOTS_PER_UNIT * u + 3
        if out[third] == 0 and out[fourth] != 0:
            out[third], out[fourth] = out[fourth], 0
    return tuple(out)


def _unit_options() -> list[tuple[int, ...]]:
    """The 7,371 fillings of one unit: depth 2, then 3, then 4, each in digit order."""
    ops = range(1, N_OPS + 1)
    return [layers + (0,) * (SLOTS_PER_UNIT - n)
            for n in range(MIN_DEPTH, MAX_DEPTH + 1) for layers in itertools.product(ops, repeat=n)]


#: Choices per position in the positional form: slots 1-2 of a unit never absent.
_CHOICES = (N_OPS, N_OPS, N_OPS + 1, N_OPS + 1) * N_UNITS
_MANDATORY = tuple(i % SLOTS_PER_UNIT < MIN_DEPTH for i in range(N_SLOTS))


@attrs.frozen
class MobileNetConfig:
    """``width_mult``: OFA width multiplier of the networks and MAdds counts (1.2, the OFA
    supernet DSM-NAS's final networks come from; OFA also ships 1.0). ``dropout``: before the
    classifier (0.1, OFA's)."""

    width_mult: float = attrs.field(default=1.2, validator=number_in(0.1, 4.0))
    dropout: float = attrs.field(default=0.1, validator=number_in(0.0, 0.99))


class MobileNetSpace(PositionalSpace):
    """MobileNet-like (OFA MobileNetV3) space of DSM-NAS: 5 units x 2-4 MBConv layers, k x e."""

    Config: ClassVar[type] = MobileNetConfig
    op_vocabulary: ClassVar[tuple[str, ...]] = ("input", "output", "absent", *LAYER_OPS)
    max_nodes: ClassVar[int] = N_SLOTS + 2

    # --- membership -----------------------------------------------------------------------
    def parse(self, text: Any) -> MobileNetArch:
        """The architecture written as its 20 digits (comma-separated or not), as DSM-NAS's
        legacy ``depths:kernels:expansions`` string, or given as a sequence of 20 digits."""
        return to_mobilenet(text)

    def canonical(self, arch: Any) -> str:
        """DSM-NAS's string: the 20 digits joined by commas."""
        return ",".join(map(str, to_mobilenet(arch)))

    def contains(self, arch: Any) -> bool:
        try:
            to_mobilenet(arch)
        except ArchitectureError:
            return False
        return True

    # --- sampling and moves ---------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> MobileNetArch:
        """DSM-NAS's (and OFA's) prior: each unit's depth uniform in {2, 3, 4}, then each present
        layer's (kernel, expansion) uniform over the 9 pairs. Not uniform over the space, whose
        members are mostly depth-4 units."""
        digits: list[int] = []
        for depth in rng.integers(MIN_DEPTH, MAX_DEPTH + 1, size=N_UNITS):
            layers = rng.integers(1, N_OPS + 1, size=int(depth))
            digits += [int(d) for d in layers] + [0] * (SLOTS_PER_UNIT - int(depth))
        return tuple(digits)

    def mutate(self, arch: Any, rng: np.random.Generator) -> MobileNetArch:
        """A uniformly chosen member of :meth:`neighbours`."""
        nbrs = self.neighbours(arch)
        return nbrs[int(rng.integers(len(nbrs)))]

    def neighbours(self, arch: Any) -> list[MobileNetArch]:
        """Every member one slot away: a present layer's (kernel, expansion) changed, a layer
        appended to a unit below depth 4, or a unit's last layer removed (above depth 2); slot by
        slot, digits ascending."""
        base = to_mobilenet(arch)
        out: list[MobileNetArch] = []
        for u, depth in enumerate(_depths(base)):
            for i in range(min(depth + 1, SLOTS_PER_UNIT)):
                s = SLOTS_PER_UNIT * u + i
                if i < depth:   # a present layer: another op, or removal if it is the last one above depth 2
                    values = range(0 if i == depth - 1 and depth > MIN_DEPTH else 1, N_OPS + 1)
                else:           # the first absent slot: append a layer
                    values = range(1, N_OPS + 1)
                out += [base[:s] + (d,) + base[s + 1:] for d in values if d != base[s]]
        return out

    def size(self) -> int:
        per_unit = sum(N_OPS ** n for n in range(MIN_DEPTH, MAX_DEPTH + 1))
        return per_unit ** N_UNITS

    def enumerate(self) -> Iterator[MobileNetArch]:
        """Every architecture, lazily (7,371**5 of them), unit 1 varying slowest."""
        options = _unit_options()
        return (sum(units, ()) for units in itertools.product(options, repeat=N_UNITS))

    # --- positional form ------------------------------------------------------------------
    def position_choices(self) -> tuple[int, ...]:
        """``(9, 9, 10, 10) * 5``: per unit, slots 1-2 hold one of the 9 layers, slots 3-4 one
        of the 9 or absent.

        Slots 1-2 take ``digit - 1`` (0..8), slots 3-4 the digit itself (0 absent, 1..9), which is
        how DSM-NAS's controller samples them (it drops the 'absent' logit on slots 1-2 and adds
        1). ``from_positions`` raises for a gap (slot 4 present after an absent slot 3); DSM-NAS
        repairs gaps instead, see :func:`close_gaps`.
        """
        return _CHOICES

    def to_positions(self, arch: Any) -> tuple[int, ...]:
        return tuple(d - 1 if m else d for d, m in zip(to_mobilenet(arch), _MANDATORY))

    def from_positions(self, positions: Sequence[int]) -> MobileNetArch:
        if len(positions) != N_SLOTS or any(not 0 <= int(p) < c for p, c in zip(positions, _CHOICES)):
            raise ArchitectureError(
                f"MobileNet positions must be {N_SLOTS} integers, 0..8 in slots 1-2 and 0..9 in slots 3-4 of each unit, "
                f"got {tuple(positions)!r}")
        digits = [int(p) + 1 if m else int(p) for p, m in zip(positions, _MANDATORY)]
        return _check_digits(digits, f"positions {tuple(positions)!r}")

    # --- graphs and networks --------------------------------------------------------------
    def graph(self, arch: Any) -> CellGraph:
        """A chain of 22 nodes: input, the 20 slots (``absent`` kept, so units stay aligned), output."""
        labels = tuple(LAYER_OPS[d - 1] if d else "absent" for d in to_mobilenet(arch))
        return CellGraph(adjacency=np.eye(N_SLOTS + 2, k=1, dtype=np.int8), ops=("input", *labels, "output"))

    def plan(self, arch: Any, width_mult: float | None = None) -> NetworkPlan:
        """The layer plan (widths, strides, kernels, expansions) of ``arch``'s network."""
        digits = to_mobilenet(arch)
        units = [[DIGIT_TO_KE[d] for d in digits[SLOTS_PER_UNIT * u:SLOTS_PER_UNIT * (u + 1)] if d] for u in range(N_UNITS)]
        return network_plan(units, self.config.width_mult if width_mult is None else width_mult)

    def madds(self, arch: Any, resolution: int = 224, num_classes: int = 1000, width_mult: float | None = None) -> int:
        """Multiply-adds (conv + classifier, OFA's counting) of ``arch``'s network at
        ``resolution`` x ``resolution``, computed from the plan without building the network (~0.1 ms), so a
        strategy can enforce a budget such as 600M at 224 (DSM-NAS's mobile setting)."""
        for key, value in (("resolution", resolution), ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"madds option '{key}' must be an integer >= 1, got {value!r}")
        return plan_madds(self.plan(arch, width_mult), resolution, num_classes)

    def to_module(self, arch: Any, num_classes: int = 10, **options: Any) -> "nn.Module":
        """The OFA MobileNetV3 subnet of ``arch`` (see :mod:`nasplug.spaces.mobilenet.network`);
        any input of at least 32x32 works (224x224 for ImageNet). Options: ``width_mult`` and
        ``dropout`` (default: the space's config)."""
        from nasplug.spaces.mobilenet.network import MobileNetV3Subnet

        known = {"width_mult", "dropout"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"to_module option '{unknown[0]}' is not known to mobilenet; known options: {', '.join(sorted(known))}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(f"to_module option 'num_classes' must be an integer >= 1, got {num_classes!r}")
        width = options.get("width_mult", self.config.width_mult)
        dropout = options.get("dropout", self.config.dropout)
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0.1 <= width <= 4.0:
            raise ConfigError(f"to_module option 'width_mult' must be a number in [0.1, 4.0], got {width!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ConfigError(f"to_module option 'dropout' must be a number in [0, 1), got {dropout!r}")
        return MobileNetV3Subnet(self.plan(arch, float(width)), num_classes=num_classes, dropout=float(dropout))

    def supernet(self, num_classes: int = 10, **options: Any) -> "nn.Module":
        """The weight-sharing supernet (a choice block of the 9 MBConv layers per slot, ``absent``
        too in slots 3-4; see :mod:`nasplug.spaces.mobilenet.supernet`). Options: ``width_mult``
        and ``dropout`` (default: the space's config)."""
        from nasplug.spaces.mobilenet.supernet import MobileNetSupernet

        unknown = sorted(set(options) - {"width_mult", "dropout"})
        if unknown:
            raise ConfigError(f"supernet option '{unknown[0]}' is not known to mobilenet; known options: dropout, width_mult")
        return MobileNetSupernet(num_classes=num_classes, width_mult=options.get("width_mult", self.config.width_mult),
                                 dropout=options.get("dropout", self.config.dropout))

    # --- benchmark ------------------------------------------------------------------------
    def load_benchmark(self, path: str | None = None) -> Any:
        raise BenchmarkError(
            "search space 'mobilenet' has no tabular benchmark (DSM-NAS ranks OFA subnets with a predictor); "
            "use a proxy or predictor objective instead")


