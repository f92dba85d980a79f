"""The OFA MobileNetV3 subnet for a MobileNet-like architecture, built from a
:class:`~nasplug.spaces.mobilenet.plan.NetworkPlan` (see that module for the widths and layers).

Layout: 3x3 stem conv (stride 2, BN, h-swish); a fixed first block (3x3 depthwise + 1x1
projection, ReLU, residual); the 5 searched units; a 1x1 final expand conv (BN, h-swish); global
average pooling; a 1x1 feature-mix conv (no BN, h-swish); dropout and the linear classifier.
"""

from __future__ import annotations

import torch
from torch import nn

from nasplug.spaces.mobilenet.plan import SE_REDUCTION, LayerSpec, NetworkPlan, make_divisible


def _act(name: str) -> nn.Module:
    return nn.ReLU(inplace=True) if name == "relu" else nn.Hardswish(inplace=True)


class SqueezeExcite(nn.Module):
    """SE with reduction 4: pooled 1x1 conv (bias) -> ReLU -> 1x1 conv (bias) -> h-sigmoid gate."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        mid = make_divisible(channels // SE_REDUCTION)
        self.gate = nn.Sequential(
            nn.Conv2d(channels, mid, 1, bias=True), nn.ReLU(inplace=True),
            nn.Conv2d(mid, channels, 1, bias=True), nn.Hardsigmoid(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x.mean((2, 3), keepdim=True))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand (skipped when ``expand`` is 1), k x k depthwise, SE, 1x1 linear."""

    def __init__(self, spec: LayerSpec) -> None:
        super().__init__()
        mid = spec.mid if spec.expand != 1 else spec.c_in
        layers: list[nn.Module] = []
        if spec.expand != 1:
            layers += [nn.Conv2d(spec.c_in, mid, 1, bias=False), nn.BatchNorm2d(mid), _act(spec.act)]
        layers += [nn.Conv2d(mid, mid, spec.kernel, stride=spec.stride, padding=spec.kernel // 2, groups=mid, bias=False),
                   nn.BatchNorm2d(mid), _act(spec.act)]
        if spec.se:
            layers.append(SqueezeExcite(mid))
        layers += [nn.Conv2d(mid, spec.c_out, 1, bias=False), nn.BatchNorm2d(spec.c_out)]
        self.body = nn.Sequential(*layers)
        self.residual = spec.stride == 1 and spec.c_in == spec.c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return out + x if self.residual else out


class MobileNetV3Subnet(nn.Module):
    """An OFA MobileNetV3 subnet: stem, first block, searched units, head, classifier."""

    def __init__(self, plan: NetworkPlan, num_classes: int = 1000, dropout: float = 0.1) -> None:
        super().__init__()
        self.plan = plan
        self.stem = nn.Sequential(nn.Conv2d(3, plan.stem, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(plan.stem), nn.Hardswish(inplace=True))
        self.first_block = MBConv(LayerSpec(plan.stem, plan.first_block, 3, 1, 1, "relu", False))
        self.units = nn.ModuleList(nn.Sequential(*(MBConv(spec) for spec in unit)) for unit in plan.units)
        c = plan.units[-1][-1].c_out
        self.final_expand = nn.Sequential(nn.Conv2d(c, plan.final_expand, 1, bias=False),
                                          nn.BatchNorm2d(plan.final_expand), nn.Hardswish(inplace=True))
        self.feature_mix = nn.Sequential(nn.Conv2d(plan.final_expand, plan.last, 1, bias=False), nn.Hardswish(inplace=True))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(plan.last, num_classes)
        self.unit_strides = tuple(unit[0].stride for unit in plan.units)

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature map at the end of each resolution (1/2, 1/4, 1/8, 1/16, 1/32 of the input):
        the first block's, then each unit's before the next downsampling unit, and last the final
        expand conv's output, which global pooling reads."""
        x = self.first_block(self.stem(x))
        out = []
        for unit, stride in zip(self.units, self.unit_strides):
            if stride == 2:
                out.append(x)
            x = unit(x)
        out.append(self.final_expand(x))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first_block(self.stem(x))
        for unit in self.units:
            x = unit(x)
        x = self.final_expand(x).mean((2, 3), keepdim=True)
        x = torch.flatten(self.feature_mix(x), 1)
        return self.classifier(self.dropout(x))
