"""The layer plan of an OFA MobileNetV3 subnet and its multiply-add count, without torch.

The plan follows OFA's ``OFAMobileNetV3`` (Cai et al., ICLR 2020), the supernet DSM-NAS searches:
base stage widths 16 (stem), 16 (first block), 24, 40, 80, 112, 160 for the 5 searched units, 960
(final expand) and 1280 (feature mix), each times ``width_mult`` rounded to a multiple of 8; unit
strides 2, 2, 2, 1, 2; ReLU in units 1-2 and h-swish after; squeeze-and-excitation in units 2, 4
and 5. A searched layer is an MBConv: 1x1 expansion to ``make_divisible(round(c_in * e), 8)``
channels, k x k depthwise (stride on a unit's first layer), optional SE (reduction 4), 1x1 linear
projection, each conv followed by BN; a residual where shape is kept.

:func:`madds` counts multiply-accumulates of convolutions and the classifier, the convention of
OFA's ``flops_counter`` (and of most mobile-setting tables, e.g. "600M MAdds at 224x224").
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

#: OFA MobileNetV3 base widths: stem, first block, the 5 units, final expand, feature mix.
BASE_WIDTHS: tuple[int, ...] = (16, 16, 24, 40, 80, 112, 160, 960, 1280)
UNIT_STRIDES: tuple[int, ...] = (2, 2, 2, 1, 2)
UNIT_ACTS: tuple[str, ...] = ("relu", "relu", "h_swish", "h_swish", "h_swish")
UNIT_SE: tuple[bool, ...] = (False, True, False, True, True)
SE_REDUCTION = 4


def make_divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to a multiple of ``divisor`` (at least ``divisor``), never more than 10%
    below ``value`` (the MobileNet/OFA channel rounding)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


class LayerSpec(NamedTuple):
    """One MBConv layer: channels in/out, kernel, expansion ratio, stride, activation, SE."""

    c_in: int
    c_out: int
    kernel: int
    expand: int
    stride: int
    act: str
    se: bool

    @property
    def mid(self) -> int:
        return make_divisible(round(self.c_in * self.expand))


class NetworkPlan(NamedTuple):
    """The widths around the searched layers and the searched layers themselves, by unit."""

    stem: int
    first_block: int
    units: tuple[tuple[LayerSpec, ...], ...]
    final_expand: int
    last: int


def widths(width_mult: float) -> tuple[int, ...]:
    """The 9 OFA widths at ``width_mult`` (1.0: 16 .. 1280; 1.2: 24, 24, 32, 48, 96, 136, 192, 1152, 1536)."""
    return tuple(make_divisible(w * width_mult) for w in BASE_WIDTHS)


def network_plan(units: Sequence[Sequence[tuple[int, int]]], width_mult: float) -> NetworkPlan:
    """The plan for ``units``: per unit, the (kernel, expansion) of each present layer."""
    w = widths(width_mult)
    c = w[1]
    planned = []
    for u, layers in enumerate(units):
        specs = []
        for i, (k, e) in enumerate(layers):
            specs.append(LayerSpec(c, w[2 + u], k, e, UNIT_STRIDES[u] if i == 0 else 1, UNIT_ACTS[u], UNIT_SE[u]))
            c = w[2 + u]
        planned.append(tuple(specs))
    return NetworkPlan(stem=w[0], first_block=w[1], units=tuple(planned), final_expand=w[7], last=w[8])


def _out(size: int, stride: int) -> int:
    return (size + stride - 1) // stride  # 'same' padding: ceil(size / stride)


def plan_madds(plan: NetworkPlan, resolution: int, num_classes: int) -> int:
    """Multiply-accumulates of one forward pass at ``resolution`` x ``resolution`` (batch 1)."""
    h = _out(resolution, 2)
    total = h * h * plan.stem * 3 * 9                      # stem 3x3 conv, stride 2
    total += h * h * plan.stem * 9                         # first block: 3x3 depthwise
    total += h * h * plan.stem * plan.first_block          # first block: 1x1 projection
    for unit in plan.units:
        for layer in unit:
            mid = layer.mid
            h_out = _out(h, layer.stride)
            total += h * h * layer.c_in * mid                          # 1x1 expansion
            total += h_out * h_out * mid * layer.kernel ** 2            # depthwise
            if layer.se:
                se_mid = make_divisible(mid // SE_REDUCTION)
                total += 2 * mid * se_mid                              # SE reduce + expand at 1x1
            total += h_out * h_out * mid * layer.c_out                  # 1x1 projection
            h = h_out
    c = plan.units[-1][-1].c_out if plan.units and plan.units[-1] else plan.first_block
    total += h * h * c * plan.final_expand                 # final expand 1x1
    total += plan.final_expand * plan.last                 # feature mix 1x1 after pooling
    total += plan.last * num_classes                       # classifier
    return total
