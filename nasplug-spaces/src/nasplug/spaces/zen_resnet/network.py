"""The Zen-NAS ResNet-like network in torch, written from the Zen-NAS block definitions.

``conv-BN-ReLU`` stem; each SuperRes block a chain of residual units (``KXKX``: kxk conv-BN-ReLU,
kxk conv-BN; ``K1KXK1``: two bottleneck units per sub-layer, 1x1-kxk-1x1 with BN and ReLU between);
the block's first unit carries the stride and a 1x1 conv-BN projection shortcut, the others an
identity shortcut; a ReLU after every sum; ``1x1 conv-BN-ReLU`` output layer; global average
pooling and a linear classifier. Convolutions have no bias (BN follows each), padding ``k // 2``.
"""

from __future__ import annotations

import torch
from torch import nn

from nasplug.spaces.zen_resnet.structure import ResBlock, ZenArch


def conv_bn(c_in: int, c_out: int, k: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(c_out)]


class ConvBNReLU(nn.Sequential):
    """The stem (3x3) and output layer (1x1)."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int) -> None:
        super().__init__(*conv_bn(c_in, c_out, k, stride), nn.ReLU())


class ResUnit(nn.Module):
    """``relu(body(x) + shortcut(x))`` with a projection shortcut where asked."""

    def __init__(self, body: list[nn.Module], c_in: int, c_out: int, stride: int, project: bool) -> None:
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = nn.Sequential(*conv_bn(c_in, c_out, 1, stride)) if project else nn.Identity()
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


def _units(c_in: int, b: ResBlock) -> list[nn.Module]:
    units: list[nn.Module] = []
    k, m, o = b.kernel, b.bottleneck, b.out
    for i in range(b.sub_layers):
        first_in, stride = (c_in, b.stride) if i == 0 else (o, 1)
        if b.kind == "KXKX":
            body = [*conv_bn(first_in, m, k, stride), nn.ReLU(), *conv_bn(m, o, k)]
            units.append(ResUnit(body, first_in, o, stride, project=(i == 0)))
        else:
            body = [*conv_bn(first_in, m, 1), nn.ReLU(), *conv_bn(m, m, k, stride), nn.ReLU(), *conv_bn(m, o, 1)]
            units.append(ResUnit(body, first_in, o, stride, project=(i == 0)))
            body = [*conv_bn(o, m, 1), nn.ReLU(), *conv_bn(m, m, k), nn.ReLU(), *conv_bn(m, o, 1)]
            units.append(ResUnit(body, o, o, 1, project=False))
    return units


class ZenResNet(nn.Module):
    """The network of one :class:`ZenArch`; returns logits for NCHW images."""

    def __init__(self, arch: ZenArch, num_classes: int = 10) -> None:
        super().__init__()
        blocks: list[nn.Module] = [ConvBNReLU(3, arch.stem_out, 3, arch.stem_stride)]
        strides = [arch.stem_stride]
        for c_in, b in zip(arch.in_channels(), arch.blocks):
            blocks.append(nn.Sequential(*_units(c_in, b)))
            strides.append(b.stride)
        blocks.append(ConvBNReLU(arch.blocks[-1].out, arch.head_out, 1, arch.head_stride))
        strides.append(arch.head_stride)
        self.blocks = nn.ModuleList(blocks)
        # a stage ends where the next block downsamples, and at the last block
        self.stage_ends = tuple(i for i in range(len(blocks)) if i == len(blocks) - 1 or strides[i + 1] == 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(arch.head_out, num_classes)

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature map at the end of each resolution stage; the last is the output layer's."""
        out = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.stage_ends:
                out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.classifier(torch.flatten(self.pool(x), 1))
