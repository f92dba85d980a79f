"""The NAS-Bench-201 network in torch, written from the paper's description.

Macro skeleton (Dong & Yang, ICLR 2020): a 3x3 conv + BN stem at ``C`` channels; three stages of
``N`` cells at ``C``, ``2C`` and ``4C`` channels, separated by residual reduction blocks that halve
the resolution and double the channels; BN + ReLU; global average pooling; a linear classifier.
With ``C=16, N=5`` the parameter count equals the benchmark's ``params_<dataset>_m`` column, which
is how this module is checked (BN layers are affine, convs carry no bias).

A cell is a 4-node DAG: node 0 is the cell input and node ``j`` is the sum over ``i < j`` of
``op(j<-i)(node i)``; node 3 is the cell output. Every op keeps shape and channels.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from nasplug.core.errors import ConfigError
from nasplug.spaces.nb201.space import EDGES, OPS
from nasplug.spaces.pooling import AvgPool3x3


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv (no bias) -> affine BN: the conv op of cells and reduction blocks."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The ``none`` op: a zero tensor shaped like the input (keeps the graph connected)."""

    #: A mixture leaves it out (its term is zero whatever its weight; see ``MixedOp``).
    outputs_zeros = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int) -> nn.Module:
    """The module of cell op ``name`` at ``channels`` channels, stride 1."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if name == "avg_pool_3x3":
        return AvgPool3x3(1)
    raise ValueError(f"unknown NAS-Bench-201 op {name!r}; expected one of {', '.join(OPS)}")


class Cell(nn.Module):
    """One NAS-Bench-201 cell: 6 edge ops wired as in :data:`EDGES`."""

    def __init__(self, arch: Sequence[str], channels: int) -> None:
        super().__init__()
        self.edge_ops = nn.ModuleList(make_op(op, channels) for op in arch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for op, (to, frm) in zip(self.edge_ops, EDGES):
            out = op(nodes[frm])
            nodes[to] = out if nodes[to] is None else nodes[to] + out
        return nodes[3]  # type: ignore[return-value]


class ResidualReduction(nn.Module):
    """ResNet basic block with stride 2: halves the resolution, changes ``c_in`` to ``c_out``."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NAS-Bench-201 network for one cell ``arch``; returns logits for NCHW images."""

    def __init__(self, arch: Sequence[str], num_classes: int = 10, channels: int = 16,
                 cells_per_stage: int = 5) -> None:
        super().__init__()
        for key, value in (("num_classes", num_classes), ("channels", channels),
                           ("cells_per_stage", cells_per_stage)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"to_module option '{key}' must be an integer >= 1, got {value!r}")
        self.arch = tuple(arch)
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        layers: list[nn.Module] = []
        c = channels
        for stage in range(3):
            if stage > 0:
                layers.append(ResidualReduction(c, 2 * c))
                c *= 2
            layers.extend(Cell(self.arch, c) for _ in range(cells_per_stage))
        self.cells = nn.Sequential(*layers)
        self.stage_ends = tuple(cells_per_stage * (s + 1) + s - 1 for s in range(3))
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature map at the end of each resolution stage (32, 16, 8 px for CIFAR); the
        last is the pre-pooling feature map the classifier reads (after the final BN-ReLU)."""
        out = []
        x = self.stem(x)
        for i, layer in enumerate(self.cells):
            x = layer(x)
            if i in self.stage_ends:
                out.append(x)
        out[-1] = self.head(out[-1])
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.cells(self.stem(x)))
        return self.classifier(torch.flatten(self.pool(x), 1))


def count_parameters(module: nn.Module) -> int:
    """The number of parameters, as NAS-Bench-201 counts them (weights and biases, incl. BN)."""
    return sum(p.numel() for p in module.parameters())
