"""Size baselines: parameter count and FLOPs of the network an architecture builds.

Simple baselines are strong (ZiCo, ICLR 2023): on NAS-Bench-201 #params alone reaches Spearman
~0.75 with CIFAR-10 accuracy, so every proxy table reports them alongside.
"""

from __future__ import annotations

from typing import Any, Hashable

import attrs

from nasplug.core.interfaces.proxy import Proxy, ProxyContext
from nasplug.core.options import positive_int
from nasplug.core.interfaces.capabilities import Buildable


class ParamsProxy(Proxy):
    """Number of trainable parameters of the network, in millions (higher is better)."""

    requires = (Buildable,)

    def score(self, arch: Hashable, ctx: ProxyContext) -> float:
        module = self.space.to_module(arch, num_classes=ctx.num_classes)
        return sum(p.numel() for p in module.parameters() if p.requires_grad) / 1e6


@attrs.frozen
class FlopsConfig:
    """``input_size``: side of the square input image the FLOPs are counted for."""

    input_size: int = attrs.field(default=32, validator=positive_int)
    channels: int = attrs.field(default=3, validator=positive_int)


def count_macs(module: Any, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass of ``module`` on a zero tensor of ``input_shape``
    (batch 1), counting convolutions and linear layers, the convention NAS-Bench-201 and most
    NAS papers call FLOPs."""
    import torch

    total = 0

    def conv_hook(layer: torch.nn.Conv2d, _inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        per_output = (layer.in_channels // layer.groups) * layer.kernel_size[0] * layer.kernel_size[1]
        total += int(out.numel() // out.shape[0]) * per_output

    def linear_hook(layer: torch.nn.Linear, _inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        total += int(out.numel() // out.shape[0]) * layer.in_features

    handles = []
    for m in module.modules():
        if isinstance(m, torch.nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    try:
        was_training = module.training
        module.eval()
        with torch.no_grad():
            module(torch.zeros(1, *input_shape))
        module.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return total


class FlopsProxy(Proxy):
    """FLOPs (multiply-accumulates) of one forward pass at 32x32, in millions (higher is better)."""

    requires = (Buildable,)

    Config = FlopsConfig

    def score(self, arch: Hashable, ctx: ProxyContext) -> float:
        module = self.space.to_module(arch, num_classes=ctx.num_classes)
        c = self.config
        return count_macs(module, (c.channels, c.input_size, c.input_size)) / 1e6
