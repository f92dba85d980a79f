"""Zen-NAS ResNet-like architectures: the value type, the structure string, and counts.

An architecture is a stem ``3x3 conv-BN-ReLU``, 1 to 6 SuperRes blocks and a ``1x1 conv-BN-ReLU``
output layer (Lin et al., Zen-NAS, ICCV 2021, ``SearchSpace/search_space_XXBL.py``). A SuperRes
block has a type (``K1KXK1``: bottleneck 1x1-kxk-1x1 units; ``KXKX``: basic kxk-kxk units), a
kernel k in {3, 5, 7}, an output width (8..2048, step 8), a stride (1 or 2, on its first unit), a
bottleneck width (8..256, step 8) and 1..9 sub-layers.

The canonical form is Zen-NAS's own structure string, e.g.::

    SuperConvK3BNRELU(3,64,1,1)SuperResK1K7K1(64,64,1,16,1)SuperResK3K3(64,128,2,32,2)SuperConvK1BNRELU(128,256,1,1)

with ``(in, out, stride, sub_layers)`` for conv blocks and ``(in, out, stride, bottleneck,
sub_layers)`` for SuperRes blocks; input widths must chain.

Counts follow Zen-NAS (``get_model_size`` / ``get_num_layers``), which is what its 1M-parameter
budget refers to: a conv counts ``in*out*k*k``, a BN ``out``, a projection shortcut
``in*out + out``, the classifier ``in*classes + 1``; the layer count is the sum of the blocks'
sub-layers (stem and output layer one each). A ``K1KXK1`` sub-layer is two bottleneck residual
units (the first of the block with a projection shortcut), a ``KXKX`` sub-layer one basic unit.
"""

from __future__ import annotations

import re
from typing import Iterator

import attrs

from nasplug.core.errors import ArchitectureError

BLOCK_TYPES: tuple[str, ...] = ("K1KXK1", "KXKX")
KERNELS: tuple[int, ...] = (3, 5, 7)
STRIDES: tuple[int, ...] = (1, 2)
CHANNEL_STEP = 8
MAX_OUT = 2048
MAX_BOTTLENECK = 256
MAX_SUB_LAYERS = 9
MAX_BLOCKS = 6
#: The stem and output layer as Zen-NAS names them.
STEM, HEAD = "SuperConvK3BNRELU", "SuperConvK1BNRELU"
FORMAT = ("SuperConvK3BNRELU(3,c,s,1) then 1-6 of SuperResK1K<k>K1(in,out,s,bottleneck,n) / "
          "SuperResK<k>K<k>(in,out,s,bottleneck,n) then SuperConvK1BNRELU(in,c,s,1)")


def _fail(problem: str) -> ArchitectureError:
    return ArchitectureError(f"not a Zen-NAS ResNet-like architecture: {problem}; expected {FORMAT}")


def _check_width(value: int, high: int, what: str) -> None:
    if not (CHANNEL_STEP <= value <= high and value % CHANNEL_STEP == 0):
        raise _fail(f"{what} {value} is not a multiple of {CHANNEL_STEP} in {CHANNEL_STEP}..{high}")


@attrs.frozen
class ResBlock:
    """One SuperRes block (its input width is the previous block's output)."""

    kind: str
    kernel: int
    out: int
    stride: int
    bottleneck: int
    sub_layers: int

    def __attrs_post_init__(self) -> None:
        if self.kind not in BLOCK_TYPES:
            raise _fail(f"block type {self.kind!r} is not one of {', '.join(BLOCK_TYPES)}")
        if self.kernel not in KERNELS:
            raise _fail(f"kernel {self.kernel} is not one of {KERNELS}")
        if self.stride not in STRIDES:
            raise _fail(f"stride {self.stride} is not 1 or 2")
        _check_width(self.out, MAX_OUT, "output width")
        _check_width(self.bottleneck, MAX_BOTTLENECK, "bottleneck width")
        if not 1 <= self.sub_layers <= MAX_SUB_LAYERS:
            raise _fail(f"sub-layers {self.sub_layers} not in 1..{MAX_SUB_LAYERS}")

    @property
    def name(self) -> str:
        k = self.kernel
        return f"SuperResK1K{k}K1" if self.kind == "K1KXK1" else f"SuperResK{k}K{k}"


@attrs.frozen
class ZenArch:
    """A whole network: stem width/stride, the SuperRes blocks, output width/stride."""

    stem_out: int
    stem_stride: int
    blocks: tuple[ResBlock, ...]
    head_out: int
    head_stride: int = 1

    def __attrs_post_init__(self) -> None:
        _check_width(self.stem_out, MAX_OUT, "stem width")
        _check_width(self.head_out, MAX_OUT, "output-layer width")
        for s in (self.stem_stride, self.head_stride):
            if s not in STRIDES:
                raise _fail(f"stride {s} is not 1 or 2")
        if not 1 <= len(self.blocks) <= MAX_BLOCKS:
            raise _fail(f"{len(self.blocks)} SuperRes blocks, expected 1..{MAX_BLOCKS}")
        if not all(isinstance(b, ResBlock) for b in self.blocks):
            raise _fail("blocks must be ResBlock values")

    def in_channels(self) -> Iterator[int]:
        """The input width of every SuperRes block, in order."""
        c = self.stem_out
        for b in self.blocks:
            yield c
            c = b.out


def to_string(arch: ZenArch) -> str:
    """The Zen-NAS structure string of ``arch``."""
    parts = [f"{STEM}(3,{arch.stem_out},{arch.stem_stride},1)"]
    for c_in, b in zip(arch.in_channels(), arch.blocks):
        parts.append(f"{b.name}({c_in},{b.out},{b.stride},{b.bottleneck},{b.sub_layers})")
    last = arch.blocks[-1].out
    parts.append(f"{HEAD}({last},{arch.head_out},{arch.head_stride},1)")
    return "".join(parts)


_TOKEN = re.compile(r"(SuperConvK([13])BNRELU|SuperResK1K([357])K1|SuperResK([357])K([357]))\(([0-9,\s]*)\)")


def parse_string(text: str) -> ZenArch:
    """The architecture written as a Zen-NAS structure string (strict about widths chaining)."""
    if not isinstance(text, str):
        raise _fail(f"got an object of type {type(text).__name__}")
    s = text.strip()
    shown = s if len(s) <= 100 else s[:97] + "..."
    tokens, pos = [], 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if m is None:
            raise _fail(f"cannot read a block at character {pos} of '{shown}'")
        tokens.append(m)
        pos = m.end()
    if len(tokens) < 3:
        raise _fail(f"'{shown}' has {len(tokens)} blocks; a stem, 1-6 SuperRes blocks and an output layer are needed")
    try:
        args = [tuple(int(v) for v in m.group(6).split(",")) for m in tokens]
    except ValueError:
        raise _fail(f"non-integer block arguments in '{shown}'") from None
    stem, head = tokens[0], tokens[-1]
    if stem.group(1) != STEM or len(args[0]) != 4 or args[0][0] != 3 or args[0][3] != 1:
        raise _fail(f"the first block of '{shown}' must be the stem {STEM}(3,c,s,1)")
    if head.group(1) != HEAD or len(args[-1]) != 4 or args[-1][3] != 1:
        raise _fail(f"the last block of '{shown}' must be the output layer {HEAD}(in,c,s,1)")
    blocks = []
    c = args[0][1]
    for m, a in zip(tokens[1:-1], args[1:-1]):
        if not m.group(1).startswith("SuperRes"):
            raise _fail(f"'{m.group(0)}' in '{shown}' is not a SuperRes block")
        if len(a) != 5:
            raise _fail(f"'{m.group(0)}' needs 5 arguments (in,out,stride,bottleneck,sub_layers)")
        if a[0] != c:
            raise _fail(f"'{m.group(0)}' reads {a[0]} channels but the previous block gives {c}")
        if m.group(3):
            kind, kernel = "K1KXK1", int(m.group(3))
        else:
            if m.group(4) != m.group(5):
                raise _fail(f"'{m.group(0)}' must use one kernel size twice")
            kind, kernel = "KXKX", int(m.group(4))
        blocks.append(ResBlock(kind, kernel, a[1], a[2], a[3], a[4]))
        c = a[1]
    if args[-1][0] != c:
        raise _fail(f"the output layer reads {args[-1][0]} channels but the previous block gives {c}")
    return ZenArch(args[0][1], args[0][2], tuple(blocks), args[-1][1], args[-1][2])


# --- Zen-NAS counts ---------------------------------------------------------------------------
def _unit_size(c_in: int, b: ResBlock, proj: bool, first_conv_in: int) -> int:
    """Zen-NAS model size of one residual unit of block ``b`` reading ``first_conv_in`` channels."""
    k2, m, o = b.kernel ** 2, b.bottleneck, b.out
    if b.kind == "KXKX":
        body = first_conv_in * m * k2 + m + m * o * k2 + o
    else:
        body = first_conv_in * m + m + m * m * k2 + m + m * o + o
    return body + (c_in * o + o if proj else 0)


def block_size(c_in: int, b: ResBlock) -> int:
    """Zen-NAS model size of one SuperRes block reading ``c_in`` channels."""
    total = 0
    for i in range(b.sub_layers):
        first_in = c_in if i == 0 else b.out
        total += _unit_size(first_in, b, proj=(i == 0), first_conv_in=first_in)
        if b.kind == "K1KXK1":
            total += _unit_size(b.out, b, proj=False, first_conv_in=b.out)
    return total


def model_size(arch: ZenArch, num_classes: int = 100) -> int:
    """Zen-NAS ``get_model_size`` of the network with a ``num_classes`` classifier."""
    total = 3 * arch.stem_out * 9 + arch.stem_out
    for c_in, b in zip(arch.in_channels(), arch.blocks):
        total += block_size(c_in, b)
    last = arch.blocks[-1].out
    total += last * arch.head_out + arch.head_out
    return total + arch.head_out * num_classes + 1


def num_layers(arch: ZenArch) -> int:
    """Zen-NAS ``get_num_layers``: the sum of sub-layers, the stem and output layer one each."""
    return 2 + sum(b.sub_layers for b in arch.blocks)


def gene_model_size(genes, num_classes: int = 100) -> int:
    """:func:`model_size` of the 40-gene template (stem, 6 x (type, kernel, out, stride,
    bottleneck, sub_layers), output) on plain integers, without building the value."""
    stem_out, head_out = genes[0], genes[-2]
    total = 3 * stem_out * 9 + stem_out
    c_in = stem_out
    for i in range(2, len(genes) - 2, 6):
        kind, k, o, _stride, m, n = genes[i:i + 6]
        k2 = k * k
        for j in range(n):
            first = c_in if j == 0 else o
            if kind == 1:  # KXKX
                total += first * m * k2 + m + m * o * k2 + o
            else:
                total += first * m + m + m * m * k2 + m + m * o + o
                total += o * m + m + m * m * k2 + m + m * o + o
            if j == 0:
                total += first * o + o
        c_in = o
    total += c_in * head_out + head_out
    return total + head_out * num_classes + 1
