"""Jacobian covariance (Mellor et al. 2020, first version of "NAS without training"; used by
Abdelfattah et al. 2021 as ``jacob_cov``): the input Jacobians ``J_n = d(sum of logits)/dx_n``
of one batch, their correlation matrix ``Sigma`` (N x N) with eigenvalues ``lambda``, and
``-sum_i (log(lambda_i + k) + 1 / (lambda_i + k))`` with ``k = 1e-5``. Higher is better.
Degenerate Jacobians (e.g. a network whose output ignores its input) give NaN."""

from __future__ import annotations

import math
from typing import Any, Hashable

import attrs
import numpy as np
import torch

from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.core.options import number_in
from nasplug.proxies.zero_cost._common import ZeroCostProxy, init_option, logits_of, module_options_field


@attrs.frozen
class JacovConfig:
    """``k``: the eigenvalue offset of the score (1e-5 in the reference code)."""

    init: str = init_option("default")
    k: float = attrs.field(default=1e-5, validator=number_in(0, None))
    module_options: Any = module_options_field()


def jacobian_covariance_score(jacobians: np.ndarray, k: float) -> float:
    """The score of an (N, D) array of per-sample Jacobians (NaN when it is degenerate)."""
    jac = np.asarray(jacobians, dtype=np.float64).reshape(len(jacobians), -1)
    if not np.all(np.isfinite(jac)) or np.any(jac.std(axis=1) == 0):
        return math.nan
    corr = np.corrcoef(jac)
    eig = np.linalg.eigvalsh(corr)
    return float(-np.sum(np.log(eig + k) + 1.0 / (eig + k)))


class JacovProxy(ZeroCostProxy):
    """jacov: eigen-spectrum score of the correlation of input Jacobians (higher is better)."""

    Config = JacovConfig
    direction = "max"
    needs_data = True
    needs_labels = False
    cost = "cheap"

    def compute(self, arch: Hashable, ctx: ProxyContext, device: Any) -> float:
        x, _ = self.batch(ctx, device)
        module = self.build(arch, ctx, device)
        x = x.clone().requires_grad_(True)
        out = logits_of(module(x))
        (grad,) = torch.autograd.grad(out, x, torch.ones_like(out))
        return jacobian_covariance_score(grad.detach().cpu().numpy(), self.config.k)
