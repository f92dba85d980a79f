"""Condition number of the neural tangent kernel (Chen et al., TE-NAS, ICLR 2021): with
``g_n = d(sum of logits of image n)/d(weights)`` for every image of one batch, the empirical NTK
is ``Theta = G G^T`` (N x N) and the score is ``lambda_max / lambda_min``. Lower is better (a
well-conditioned NTK trains fast). Weights: every parameter named ``weight`` (conv, linear and
BatchNorm), network in training mode, Kaiming-normal (fan-out) init, real images; TE-NAS
averages 3 initialisations (``repeats``). A singular kernel gives ``inf`` (TE-NAS would return
a meaningless negative or NaN ratio).

TE-NAS computes the NTK of a small network (3 channels, one cell per stage): with BatchNorm in
training mode every per-image gradient needs a backward pass through the whole batch, which on
the full-size network costs seconds. ``module_options = None`` (default) asks the space for that
network (``to_module(arch, channels=3, cells_per_stage=1)`` when it accepts those options, as
NAS-Bench-201 does), else uses the network as built; give ``module_options = {}`` for the
full-size network."""

from __future__ import annotations

import math
from typing import Any, Hashable

import attrs
import numpy as np
import torch

from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.core.options import positive_int
from nasplug.proxies.zero_cost._common import ZeroCostProxy, init_option, logits_of, module_options_field


#: TE-NAS's NTK network, asked of spaces that take these ``to_module`` options.
NARROW_OPTIONS = {"channels": 3, "cells_per_stage": 1}


@attrs.frozen
class NTKConfig:
    """``batch_size``: images of the ``[data]`` batch used (TE-NAS: 16); ``repeats``: 3."""

    batch_size: int = attrs.field(default=16, validator=positive_int)
    repeats: int = attrs.field(default=3, validator=positive_int)
    init: str = init_option("kaiming_normal_fan_out")
    module_options: Any = module_options_field()


def condition_number(kernel: np.ndarray) -> float:
    """``lambda_max / lambda_min`` of a symmetric PSD matrix; ``inf`` if singular or not finite."""
    kernel = np.asarray(kernel, dtype=np.float64)
    if not np.all(np.isfinite(kernel)):
        return math.nan
    eig = np.linalg.eigvalsh(kernel)
    if eig[0] <= 0 or eig[-1] <= 0:
        return math.inf
    return float(eig[-1] / eig[0])


def ntk_condition(logits: Any, weights: list[Any]) -> float:
    """:func:`condition_number` of the empirical NTK ``G G^T``, where row ``n`` of ``G`` is the
    gradient of image ``n``'s summed ``logits`` w.r.t. ``weights`` (one backward pass each)."""
    rows = []
    for n in range(len(logits)):
        grads = torch.autograd.grad(logits[n].sum(), weights, retain_graph=n < len(logits) - 1, allow_unused=True)
        rows.append(torch.cat([g.reshape(-1) for g in grads if g is not None]).double())
    jac = torch.stack(rows)
    return condition_number((jac @ jac.T).detach().cpu().numpy())


class NTKProxy(ZeroCostProxy):
    """ntk: condition number of the empirical NTK on a batch (lower is better)."""

    Config = NTKConfig
    direction = "min"
    needs_data = True
    needs_labels = False
    cost = "expensive"

    def compute(self, arch: Hashable, ctx: ProxyContext, device: Any) -> float:
        x, _ = self.batch(ctx, device, limit=self.config.batch_size)
        values = []
        for _ in range(self.config.repeats):
            module = self.build_narrow(arch, ctx, device, NARROW_OPTIONS)
            weights = [p for name, p in module.named_parameters() if name.endswith("weight") and p.requires_grad]
            values.append(ntk_condition(logits_of(module(x)), weights))
        return sum(values) / len(values)
