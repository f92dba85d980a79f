"""The NAS-Bench-Macro network (Su et al., CVPR 2021, "Prioritized Architecture Sampling with
Monte-Carlo Tree Search"), written from the description of the benchmark's training code.

CIFAR-10 stem (3x3 conv to 32 channels, BN, ReLU); 8 searched layers in 3 stages of 2, 3 and 3
layers, the first layer of each stage halving the resolution and doubling the channels (64, 128,
256); a 1x1 conv to 1280 channels with BN and ReLU; global average pooling; a linear classifier.
A layer is an identity (a 1x1 conv + BN projection where the shape changes) or a MobileNetV2
inverted residual: 1x1 expansion, k x k depthwise, 1x1 linear projection, each followed by BN,
ReLU after the first two, and a residual connection where the shape is kept.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from nasplug.core.errors import ConfigError

#: Layers per stage; the first layer of a stage has stride 2.
STAGES: tuple[int, ...] = (2, 3, 3)
#: Per op digit: (kernel, expansion), ``None`` for the identity.
OP_SPECS: tuple[tuple[int, int] | None, ...] = (None, (3, 3), (5, 6))


class IdentityLayer(nn.Module):
    """The ``id`` choice: the input itself, or a 1x1 conv + BN projection where shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.project: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.project = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(x)


class InvertedResidual(nn.Module):
    """MobileNetV2 block with kernel ``k`` and expansion ``t``; residual where shape is kept."""

    def __init__(self, c_in: int, c_out: int, stride: int, k: int, t: int) -> None:
        super().__init__()
        hidden = round(c_in * t)
        self.body = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, k, stride=stride, padding=k // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out),
        )
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + x if self.residual else out


class NBMacroNetwork(nn.Module):
    """The NAS-Bench-Macro network for 8 op digits (0 identity, 1 MBConv k3 e3, 2 MBConv k5 e6)."""

    def __init__(self, arch: Sequence[int], num_classes: int = 10, channels: int = 32, last_channels: int = 1280) -> None:
        super().__init__()
        for key, value in (("num_classes", num_classes), ("channels", channels), ("last_channels", last_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"to_module option '{key}' must be an integer >= 1, got {value!r}")
        self.arch = tuple(int(d) for d in arch)
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU(inplace=True))
        stages = []
        c = channels
        digits = iter(self.arch)
        for n_layers in STAGES:
            layers = []
            for i in range(n_layers):
                stride, c_out = (2, 2 * c) if i == 0 else (1, c)
                spec = OP_SPECS[next(digits)]
                layers.append(IdentityLayer(c, c_out, stride) if spec is None else InvertedResidual(c, c_out, stride, *spec))
                c = c_out
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.head = nn.Sequential(nn.Conv2d(c, last_channels, 1, bias=False), nn.BatchNorm2d(last_channels),
                                  nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(last_channels, num_classes)

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature map at the end of each resolution: the stem's (32 px for CIFAR), the first
        two stages' (16, 8 px) and the 1x1-conv head's at 4 px (what pooling reads)."""
        out = [self.stem(x)]
        for stage in self.stages:
            out.append(stage(out[-1]))
        out[-1] = self.head(out[-1])
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.classifier(torch.flatten(self.pool(self.head(x)), 1))


def count_flops(module: nn.Module, resolution: int = 32) -> int:
    """FLOPs as NAS-Bench-Macro's table counts them: multiply-accumulates of every convolution
    and linear layer (no BN, activations or biases) for one ``resolution`` x ``resolution`` image."""
    total = 0

    def conv_hook(layer: nn.Conv2d, _inp: object, out: torch.Tensor) -> None:
        nonlocal total
        total += out[0].numel() * (layer.in_channels // layer.groups) * layer.kernel_size[0] * layer.kernel_size[1]

    def linear_hook(layer: nn.Linear, _inp: object, _out: torch.Tensor) -> None:
        nonlocal total
        total += layer.in_features * layer.out_features

    handles = [m.register_forward_hook(conv_hook) for m in module.modules() if isinstance(m, nn.Conv2d)]
    handles += [m.register_forward_hook(linear_hook) for m in module.modules() if isinstance(m, nn.Linear)]
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(torch.zeros(1, 3, resolution, resolution))
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    return total


def count_parameters(module: nn.Module) -> int:
    """Every parameter (weights, biases, BN affine), as the table's ``params`` counts them."""
    return sum(p.numel() for p in module.parameters())
