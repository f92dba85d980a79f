"""Synflow (Tanaka et al. 2020, as a NAS proxy by Abdelfattah et al. 2021) and LogSynflow
(Cavagnero et al., FreeREA 2022).

Both feed an all-ones image through the network with every parameter replaced by its absolute
value and BatchNorm removed, take ``R = sum(output)``, and sum over conv/linear weights:

- synflow: ``sum |theta * dR/dtheta|`` (the "synaptic flow"; spans 1e20..1e70 on NAS-Bench-201,
  so the pass runs in float64, where it cannot overflow for networks of this size);
- logsynflow: ``sum |theta * log(dR/dtheta + 1)|``, which tames the gradient's dynamic range.

No data: the input is constant; only the weight init (seeded) makes a difference.
"""

from __future__ import annotations

from typing import Any, Hashable

import attrs

from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.core.options import positive_int
from nasplug.proxies.zero_cost._common import ZeroCostProxy, init_option, module_options_field, sum_over_layers
from nasplug.proxies.zero_cost._hooks import strip_batchnorm


@attrs.frozen
class SynflowConfig:
    """``init``: weight init before taking absolute values (Abdelfattah et al.: PyTorch's
    default); ``input_size``/``channels``: the all-ones input (one image); ``repeats``: average
    over that many independent initialisations (1 in the paper)."""

    init: str = init_option("default")
    input_size: int = attrs.field(default=32, validator=positive_int)
    channels: int = attrs.field(default=3, validator=positive_int)
    repeats: int = attrs.field(default=1, validator=positive_int)
    module_options: Any = module_options_field()


@attrs.frozen
class LogSynflowConfig(SynflowConfig):
    """As synflow; FreeREA initialises with Kaiming-normal (fan-out)."""

    init: str = init_option("kaiming_normal_fan_out")


def _synflow(module: Any, input_shape: tuple[int, ...], device: Any, log: bool) -> float:
    import torch

    strip_batchnorm(module)
    module.double().train()
    with torch.no_grad():
        for p in module.parameters():
            p.abs_()
    module.zero_grad(set_to_none=True)
    out = module(torch.ones((1, *input_shape), dtype=torch.float64, device=device))
    (out[-1] if isinstance(out, (tuple, list)) else out).sum().backward()
    if log:
        return sum_over_layers(module, lambda m: (m.weight * torch.log1p(m.weight.grad)).abs())
    return sum_over_layers(module, lambda m: (m.weight * m.weight.grad).abs())


class SynflowProxy(ZeroCostProxy):
    """Synflow: sum of |theta * dR/dtheta| of the all-positive, BN-free network (higher is better)."""

    Config = SynflowConfig
    direction = "max"
    needs_data = False
    needs_labels = False
    cost = "cheap"
    log = False

    def compute(self, arch: Hashable, ctx: ProxyContext, device: Any) -> float:
        c = self.config
        values = []
        for _ in range(c.repeats):
            module = self.build(arch, ctx, device)
            values.append(_synflow(module, (c.channels, c.input_size, c.input_size), device, self.log))
        return sum(values) / len(values)


class LogSynflowProxy(SynflowProxy):
    """LogSynflow: sum of |theta * log(dR/dtheta + 1)| (FreeREA; higher is better)."""

    Config = LogSynflowConfig
    log = True
