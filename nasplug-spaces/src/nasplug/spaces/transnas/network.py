"""The TransNAS-Bench-101 encoder network (micro cells or ResNet basic blocks) with a
classification head.

TransNAS-Bench-101 (Duan et al., CVPR 2021) trains one encoder per architecture: a stem that
divides the resolution by 4 (3x3 conv to ``C/2`` with stride 2, BN, then ReLU-conv-BN to ``C``
with stride 2), then one *layer* of two blocks per character of the macro code, where code ``c``
doubles the channels when it is even (2, 4) and halves the resolution when it is above 2 (3, 4).
The micro space fixes the macro code to ``41414`` and the blocks to one searched cell; the macro
space searches the code and uses ResNet basic blocks. The published encoders feed task-specific
decoders; for ``to_module`` we attach the classification head of the two classification tasks
(global average pooling + linear), which is what proxies and FLOPs counts need.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from nasplug.core.errors import ConfigError
from nasplug.spaces.supernets import ArgmaxDiscretise

#: Edge order of the micro cell, as (to_node, from_node), matching the official string.
CELL_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv (no bias, 'same' padding) -> BN: the conv ops of cells and basic blocks."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class FactorizedReduce(nn.Module):
    """The skip op where shape changes: two 1x1 convs on offset grids, concatenated, then BN."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        half = c_out // 2
        self.relu = nn.ReLU(inplace=False)
        self.conv_a = nn.Conv2d(c_in, half, 1, stride=stride, bias=False)
        self.conv_b = nn.Conv2d(c_in, c_out - half, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))


class Zero(nn.Module):
    """The ``none`` op: zeros shaped like the edge's output (keeps the cell's graph intact)."""

    def __init__(self, c_out: int, stride: int) -> None:
        super().__init__()
        self.c_out = c_out
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        s = self.stride
        return x.new_zeros(n, self.c_out, (h + s - 1) // s, (w + s - 1) // s)


def make_cell_op(digit: int, c_in: int, c_out: int, stride: int) -> nn.Module:
    """Micro op ``digit`` (0 none, 1 skip, 2 conv 1x1, 3 conv 3x3) from ``c_in`` to ``c_out``."""
    if digit == 0:
        return Zero(c_out, stride)
    if digit == 1:
        if stride == 1 and c_in == c_out:
            return nn.Identity()
        return FactorizedReduce(c_in, c_out, stride)
    if digit == 2:
        return ReLUConvBN(c_in, c_out, 1, stride)
    if digit == 3:
        return ReLUConvBN(c_in, c_out, 3, stride)
    raise ValueError(f"unknown TransNAS micro op digit {digit!r}; expected 0..3")


class MicroCell(nn.Module):
    """A 4-node micro cell; the edges leaving the input node carry the stride/channel change."""

    def __init__(self, cell: Sequence[int], c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.edge_ops = nn.ModuleList(
            make_cell_op(d, c_in, c_out, stride) if frm == 0 else make_cell_op(d, c_out, c_out, 1)
            for d, (_, frm) in zip(cell, CELL_EDGES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for op, (to, frm) in zip(self.edge_ops, CELL_EDGES):
            out = op(nodes[frm])
            nodes[to] = out if nodes[to] is None else nodes[to] + out
        return nodes[3]  # type: ignore[return-value]


class BasicBlock(nn.Module):
    """ResNet basic block (two ReLU-conv3x3-BN) with a 1x1 conv + BN shortcut where shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


def _check_int(name: str, value: object, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"to_module option '{name}' must be an integer >= {low}, got {value!r}")
    return value


class TransNASNetwork(nn.Module):
    """A TransNAS-Bench-101 encoder for ``macro_code`` (e.g. ``(4, 1, 4, 1, 4)``) built from micro
    ``cell`` blocks (6 op digits) or, when ``cell`` is ``None``, ResNet basic blocks; plus a
    global-pooling + linear classifier. ``blocks_per_layer`` is 2 in the benchmark."""

    def __init__(self, macro_code: Sequence[int], cell: Sequence[int] | None = None, num_classes: int = 10,
                 base_channels: int = 64, blocks_per_layer: int = 2) -> None:
        super().__init__()
        _check_int("num_classes", num_classes)
        _check_int("blocks_per_layer", blocks_per_layer)
        if _check_int("base_channels", base_channels, 2) % 2:
            raise ConfigError(f"to_module option 'base_channels' must be even (the stem uses half of it), got {base_channels}")
        self.macro_code = tuple(int(c) for c in macro_code)
        self.cell = None if cell is None else tuple(int(d) for d in cell)
        c = base_channels
        self.stem = nn.Sequential(
            nn.Conv2d(3, c // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(c // 2),
            ReLUConvBN(c // 2, c, 3, stride=2),
        )
        layers = []
        self.strides: list[int] = []
        for code in self.macro_code:
            c_out = 2 * c if code % 2 == 0 else c
            stride = 2 if code > 2 else 1
            blocks = [self._block(c, c_out, stride)] + [self._block(c_out, c_out, 1) for _ in range(blocks_per_layer - 1)]
            layers.append(nn.Sequential(*blocks))
            self.strides.append(stride)
            c = c_out
        self.layers = nn.ModuleList(layers)
        self.out_channels = c
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)
        self._init_weights()

    def _block(self, c_in: int, c_out: int, stride: int) -> nn.Module:
        if self.cell is None:
            return BasicBlock(c_in, c_out, stride)
        return MicroCell(self.cell, c_in, c_out, stride)

    def _init_weights(self) -> None:
        """Kaiming-normal (fan_out) convolutions and unit BN, as the benchmark's code does."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature map at the end of each resolution stage: the stem's output if the next
        layer downsamples, the output before every later downsampling layer, and the last layer's
        output (what pooling + classifier read)."""
        x = self.stem(x)
        out = []
        for layer, stride in zip(self.layers, self.strides):
            if stride == 2:
                out.append(x)
            x = layer(x)
        out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
        return self.classifier(torch.flatten(self.pool(x), 1))


class SuperMicroCell(nn.Module):
    """A micro cell whose every edge holds the four ops (see :class:`TransNASMicroSupernet`)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        from nasplug.spaces.supernets import MixedOp

        self.edge_ops = nn.ModuleList(
            MixedOp([make_cell_op(d, c_in, c_out, stride) if frm == 0 else make_cell_op(d, c_out, c_out, 1) for d in range(4)])
            for _, frm in CELL_EDGES)

    def forward(self, x: torch.Tensor, path: Sequence[int] | None, weights: torch.Tensor | None) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for e, (edge, (to, frm)) in enumerate(zip(self.edge_ops, CELL_EDGES)):
            out = edge(nodes[frm], None if path is None else path[e], None if weights is None else weights[e])
            nodes[to] = out if nodes[to] is None else nodes[to] + out
        return nodes[3]  # type: ignore[return-value]


class TransNASMicroSupernet(ArgmaxDiscretise, TransNASNetwork):
    """The TransNAS-Bench-101 micro supernet: the ``41414`` skeleton with every edge of the (shared)
    cell holding the four ops (none, skip, conv 1x1, conv 3x3); names as in
    :class:`TransNASNetwork` with ``edge_ops.<e>.candidates.<digit>``, so ``extract(arch)`` is the
    space's ``to_module(arch)`` with inherited weights."""

    decisions: tuple[int, ...] = (4,) * len(CELL_EDGES)
    #: The op names per edge, and the node each edge enters (for edge normalisation).
    option_names: tuple[tuple[str, ...], ...] = (("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3"),) * len(CELL_EDGES)
    decision_nodes: tuple[int, ...] = tuple(to for to, _ in CELL_EDGES)

    def __init__(self, macro_code: Sequence[int], num_classes: int = 10, base_channels: int = 64,
                 blocks_per_layer: int = 2) -> None:
        super().__init__(macro_code, (0,) * len(CELL_EDGES), num_classes=num_classes, base_channels=base_channels,
                         blocks_per_layer=blocks_per_layer)
        self.cell = None
        self.num_classes = num_classes
        self.options = {"base_channels": base_channels, "blocks_per_layer": blocks_per_layer}

    def _block(self, c_in: int, c_out: int, stride: int) -> nn.Module:
        return SuperMicroCell(c_in, c_out, stride)

    def forward(self, x: torch.Tensor, path: Sequence[int] | None = None, weights: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        from nasplug.spaces.supernets import check_path_or_weights

        path = check_path_or_weights(path, weights, self.decisions, "edge")
        x = self.stem(x)
        for layer in self.layers:
            for block in layer:
                x = block(x, path, weights)
        return self.classifier(torch.flatten(self.pool(x), 1))

    @staticmethod
    def path_of(arch: Sequence[int]) -> tuple[int, ...]:
        from nasplug.spaces.transnas.micro import to_micro

        return tuple(int(d) for d in to_micro(arch))

    @staticmethod
    def arch_of(path: Sequence[int]) -> tuple[int, ...]:
        from nasplug.spaces.transnas.micro import to_micro

        return to_micro(tuple(int(p) for p in path))

    def extract(self, arch: Sequence[int]) -> TransNASNetwork:
        from nasplug.spaces.supernets import inherit

        digits = self.path_of(arch)
        net = TransNASNetwork(self.macro_code, digits, num_classes=self.num_classes, **self.options)

        def rename(parts: list[str]) -> list[str]:
            if parts[0] == "layers" and len(parts) > 4 and parts[3] == "edge_ops":
                return [*parts[:5], "candidates", str(digits[int(parts[4])]), *parts[5:]]
            return parts

        net.load_state_dict(inherit(net, self, rename))
        return net
