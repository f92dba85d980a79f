"""Zen-score (Lin et al., ICCV 2021): the expressivity of an untrained network measured as the
change of its pre-pooling feature map under a small input perturbation, corrected for the
BatchNorm rescaling.

Per repeat: weights re-drawn N(0, 1) (BN weight 1, bias 0), Gaussian inputs ``x`` and ``e``,
``delta = mean_n sum_{c,h,w} |f(x) - f(x + gamma e)|`` with ``f`` the pre-GAP features
(``forward_stages(x)[-1]``), and ``score = log(delta) + sum_BN log sqrt(mean_c sigma_c^2)``.
The score is the mean over repeats. Higher is better. No data.

``bn_variance``: the authors' code reads ``running_var`` after the two forward passes in
training mode (default, ``"running"``); ``"batch"`` uses the batch variance of the unperturbed
pass, the paper's formula. Running statistics are reset at each repeat (the authors' code lets
them carry over between repeats). Zen-NAS searches with ``repeat = 1`` and batch 64; its
stand-alone scorer averages 32 repeats.
"""

from __future__ import annotations

import math
from typing import Any, Hashable

import attrs
import torch
from torch import nn

from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.core.options import number_in, one_of, positive_int
from nasplug.proxies.zero_cost._common import ZeroCostProxy, apply_init, generator, init_option, module_options_field
from nasplug.proxies.zero_cost._hooks import pre_pool_features


@attrs.frozen
class ZenConfig:
    """Defaults of the Zen-NAS search (``gamma`` 1e-2, batch 64, one repeat, Gaussian init)."""

    gamma: float = attrs.field(default=1e-2, validator=number_in(0, None))
    batch_size: int = attrs.field(default=64, validator=positive_int)
    repeats: int = attrs.field(default=1, validator=positive_int)
    input_size: int = attrs.field(default=32, validator=positive_int)
    channels: int = attrs.field(default=3, validator=positive_int)
    bn_variance: str = attrs.field(default="running", validator=one_of("running", "batch"))
    init: str = init_option("gaussian")
    module_options: Any = module_options_field()


class ZenProxy(ZeroCostProxy):
    """zen: log of the pre-GAP feature change under input noise plus BN scaling (higher is better)."""

    Config = ZenConfig
    direction = "max"
    needs_data = False
    needs_labels = False
    cost = "cheap"

    def compute(self, arch: Hashable, ctx: ProxyContext, device: Any) -> float:
        c = self.config
        module = self.build(arch, ctx, device)
        norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        shape = (c.batch_size, c.channels, c.input_size, c.input_size)
        scores = []
        for r in range(c.repeats):
            if r:
                apply_init(module, c.init)
            for m in norms:
                m.reset_running_stats()
            g = generator(ctx.seed, "zen", r)
            x = torch.randn(shape, generator=g).to(device)
            noise = torch.randn(shape, generator=g).to(device)
            batch_var: dict[int, Any] = {}
            handles = [m.register_forward_pre_hook(self._recorder(batch_var, i)) for i, m in enumerate(norms)]
            try:
                with torch.no_grad():
                    clean = pre_pool_features(module, x)
                    for h in handles:
                        h.remove()
                    handles = []
                    noisy = pre_pool_features(module, x + c.gamma * noise)
            finally:
                for h in handles:
                    h.remove()
            delta = float((clean - noisy).abs().double().flatten(1).sum(1).mean())
            log_bn = 0.0
            for i, m in enumerate(norms):
                running = getattr(m, "running_var", None)
                var = running if c.bn_variance == "running" and running is not None else batch_var.get(i)
                if var is not None:
                    mean_var = float(var.double().mean())
                    log_bn += 0.5 * math.log(mean_var) if mean_var > 0 else -math.inf
            scores.append(math.log(delta) + log_bn if delta > 0 else -math.inf)
        return sum(scores) / len(scores)

    @staticmethod
    def _recorder(store: dict[int, Any], index: int) -> Any:
        def record(_m: Any, inputs: Any) -> None:
            x = inputs[0].detach()
            dims = [0] + list(range(2, x.ndim))
            store[index] = x.double().var(dim=dims, unbiased=False)
        return record
