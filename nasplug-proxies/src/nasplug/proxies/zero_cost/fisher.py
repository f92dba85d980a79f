"""Fisher information (Theis et al. 2018; Turner et al. 2020) as a NAS proxy (Abdelfattah et
al. 2021): for every conv/linear output activation ``a`` (channel ``k``) with loss gradient
``g``, ``0.5 * mean_n (sum_{h,w} a * g)^2``, summed over channels and layers; cross-entropy on
one labelled batch, untrained network in training mode. Higher is better."""

from __future__ import annotations

from typing import Any, Hashable

import torch.nn.functional as F

from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.proxies.zero_cost._common import ZeroCostProxy, logits_of, weight_layers
from nasplug.proxies.zero_cost.snip import GradientProxyConfig


class FisherProxy(ZeroCostProxy):
    """fisher: summed per-channel Fisher information of the layer outputs (higher is better)."""

    Config = GradientProxyConfig
    direction = "max"
    needs_data = True
    needs_labels = True
    cost = "cheap"

    def compute(self, arch: Hashable, ctx: ProxyContext, device: Any) -> float:
        x, y = self.batch(ctx, device)
        module = self.build(arch, ctx, device)
        totals: list[float] = []

        def capture(_layer: Any, _inp: Any, out: Any) -> None:
            if not out.requires_grad:
                return
            act = out.detach().clone()  # kept intact even if a later op works in place

            def on_grad(grad: Any) -> None:
                g = act * grad
                per_sample = (g.sum(dim=tuple(range(2, g.ndim))) if g.ndim > 2 else g).double()
                totals.append(float(0.5 * per_sample.pow(2).mean(0).sum()))

            out.register_hook(on_grad)

        handles = [m.register_forward_hook(capture) for m in weight_layers(module)]
        try:
            F.cross_entropy(logits_of(module(x)), y).backward()
        finally:
            for h in handles:
                h.remove()
        return sum(totals)
