"""Gradient norm (Abdelfattah et al. 2021): the sum over conv/linear layers of the Euclidean
norm of ``dL/dW``, cross-entropy on one labelled batch, untrained network. Higher is better."""

from __future__ import annotations

from typing import Any, Hashable

from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.proxies.zero_cost._common import ZeroCostProxy, sum_over_layers
from nasplug.proxies.zero_cost.snip import GradientProxyConfig, loss_backward


class GradNormProxy(ZeroCostProxy):
    """grad_norm: sum over layers of ||dL/dW||_2 on a labelled batch (higher is better)."""

    Config = GradientProxyConfig
    direction = "max"
    needs_data = True
    needs_labels = True
    cost = "cheap"

    def compute(self, arch: Hashable, ctx: ProxyContext, device: Any) -> float:
        module = loss_backward(self, arch, ctx, device)
        return sum_over_layers(module, lambda m: m.weight.grad.double().norm())
