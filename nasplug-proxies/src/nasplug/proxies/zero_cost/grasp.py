"""GraSP gradient-signal preservation (Wang et al. 2020) as a NAS proxy (Abdelfattah et al.
2021): ``sum(-theta * H g)`` over conv/linear weights, ``g = dL/dtheta`` and ``H g`` the
Hessian-gradient product of the cross-entropy on one labelled batch (temperature 1), obtained by
double backpropagation. Higher is better, as in the reference implementation's sum."""

from __future__ import annotations

from typing import Any, Hashable

import attrs
import torch
import torch.nn.functional as F

from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.core.options import number_in
from nasplug.proxies.zero_cost._common import ZeroCostProxy, init_option, logits_of, module_options_field, weight_layers


@attrs.frozen
class GraspConfig:
    """``temperature``: logits are divided by it before the loss (1 in the reference code)."""

    init: str = init_option("default")
    temperature: float = attrs.field(default=1.0, validator=number_in(1e-6, None))
    module_options: Any = module_options_field()


class GraspProxy(ZeroCostProxy):
    """GraSP: sum of -theta * (H g) on a labelled batch (higher is better)."""

    Config = GraspConfig
    direction = "max"
    needs_data = True
    needs_labels = True
    cost = "expensive"

    def compute(self, arch: Hashable, ctx: ProxyContext, device: Any) -> float:
        x, y = self.batch(ctx, device)
        module = self.build(arch, ctx, device)
        weights = [m.weight for m in weight_layers(module)]
        loss = F.cross_entropy(logits_of(module(x)) / self.config.temperature, y)
        grads = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
        used = [(w, g) for w, g in zip(weights, grads) if g is not None]
        if not used:
            return float("nan")
        z = sum((g.detach() * g).sum() for _, g in used)
        hg = torch.autograd.grad(z, [w for w, _ in used], allow_unused=True)
        total = 0.0
        for (w, _), h in zip(used, hg):
            if h is not None:
                total += float((-w.detach() * h).double().sum())
        return total
