"""SNIP connection sensitivity (Lee et al. 2019) as a NAS proxy (Abdelfattah et al. 2021):
``sum |theta * dL/dtheta|`` over conv/linear weights, ``L`` the cross-entropy of the untrained
network (BatchNorm in training mode) on one labelled batch. Higher is better."""

from __future__ import annotations

from typing import Any, Hashable

import attrs
import torch.nn.functional as F

from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.proxies.zero_cost._common import (
    ZeroCostProxy, init_option, logits_of, module_options_field, sum_over_layers,
)


@attrs.frozen
class GradientProxyConfig:
    """``init``: weight init (Abdelfattah et al.: PyTorch's default)."""

    init: str = init_option("default")
    module_options: Any = module_options_field()


def loss_backward(proxy: ZeroCostProxy, arch: Hashable, ctx: ProxyContext, device: Any) -> Any:
    """Build the network, run the batch in training mode and backpropagate the cross-entropy."""
    x, y = proxy.batch(ctx, device)
    module = proxy.build(arch, ctx, device)
    module.zero_grad(set_to_none=True)
    F.cross_entropy(logits_of(module(x)), y).backward()
    return module


class SnipProxy(ZeroCostProxy):
    """SNIP: sum of |theta * dL/dtheta| on a labelled batch (higher is better)."""

    Config = GradientProxyConfig
    direction = "max"
    needs_data = True
    needs_labels = True
    cost = "cheap"

    def compute(self, arch: Hashable, ctx: ProxyContext, device: Any) -> float:
        module = loss_backward(self, arch, ctx, device)
        return sum_over_layers(module, lambda m: (m.weight * m.weight.grad).abs())
