"""Fisher information (Theis et al. 2018; Turner et al. 2020) as a NAS proxy (Abdelfattah et
al. 2021). For every conv/linear output activation ``a`` with loss gradient ``g``, channel ``k``'s
value is ``F_k = 0.5 * mean_n (sum_{h,w} a_nk * g_nk)^2`` (cross-entropy on one labelled batch,
untrained network in training mode). Higher is better.

How the channel values become one number is where implementations differ:

- ``reduction = "fan_in"`` (default, the reference): the zero-cost-proxies code of Abdelfattah
  et al. (also NASLib's, used by the published NAS-Bench-201 tables) broadcasts each channel's
  value to every weight of that output channel before summing, so ``F_k`` counts ``fan_in``
  times (``in_channels / groups * kh * kw``; ``in_features`` for a linear layer);
- ``reduction = "channel"``: the plain sum ``sum_k F_k`` over channels and layers (the paper's
  formula read literally; nasplug's default before the reference was checked).
"""

from __future__ import annotations

import math
from typing import Any, Hashable

import attrs
import torch.nn.functional as F

from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.core.options import one_of
from nasplug.proxies.zero_cost._common import (
    ZeroCostProxy, init_option, logits_of, module_options_field, weight_layers,
)

REDUCTIONS = ("fan_in", "channel")


@attrs.frozen
class FisherConfig:
    """``init``: weight init (Abdelfattah et al.: PyTorch's default); ``reduction``: how channel
    values are summed (``fan_in``: the reference code's weighting; ``channel``: a plain sum)."""

    init: str = init_option("default")
    reduction: str = attrs.field(default="fan_in", validator=one_of(*REDUCTIONS))
    module_options: Any = module_options_field()


class FisherProxy(ZeroCostProxy):
    """fisher: summed per-channel Fisher information of the layer outputs (higher is better)."""

    Config = FisherConfig
    direction = "max"
    needs_data = True
    needs_labels = True
    cost = "cheap"

    def compute(self, arch: Hashable, ctx: ProxyContext, device: Any) -> float:
        x, y = self.batch(ctx, device)
        module = self.build(arch, ctx, device)
        by_fan_in = self.config.reduction == "fan_in"
        totals: list[float] = []

        def capture(layer: Any, _inp: Any, out: Any) -> None:
            if not out.requires_grad:
                return
            act = out.detach().clone()  # kept intact even if a later op works in place
            weight = math.prod(layer.weight.shape[1:]) if by_fan_in else 1

            def on_grad(grad: Any) -> None:
                g = act * grad
                per_sample = (g.sum(dim=tuple(range(2, g.ndim))) if g.ndim > 2 else g).double()
                totals.append(weight * float(0.5 * per_sample.pow(2).mean(0).sum()))

            out.register_hook(on_grad)

        handles = [m.register_forward_hook(capture) for m in weight_layers(module)]
        try:
            F.cross_entropy(logits_of(module(x)), y).backward()
        finally:
            for h in handles:
                h.remove()
        return sum(totals)
