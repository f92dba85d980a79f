"""NASWOT (Mellor et al., ICML 2021): each input of a batch gets a binary code, the on/off state
of every ReLU unit of the untrained network; ``K_H[i, j] = N_A - hamming(c_i, c_j)`` (the number
of units on which inputs ``i`` and ``j`` agree) and the score is ``log |det K_H|``. Higher is
better; a singular kernel (two inputs with identical codes) gives ``-inf``.

``K_H = C C^T + (1 - C)(1 - C)^T`` is accumulated ReLU by ReLU in float64, so the codes are
never stored whole.
"""

from __future__ import annotations

from typing import Any, Hashable

import attrs
import numpy as np
import torch

from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.proxies.zero_cost._common import ZeroCostProxy, init_option, logits_of, module_options_field
from nasplug.proxies.zero_cost._hooks import on_relu_outputs


@attrs.frozen
class NaswotConfig:
    """``init``: weight init (Mellor et al.: PyTorch's default). The batch is ``[data]``'s
    (Mellor et al. use 128 images; the batch size bounds the kernel's size)."""

    init: str = init_option("default")
    module_options: Any = module_options_field()


def hamming_kernel_logdet(kernel: np.ndarray) -> float:
    """``log |det K|`` (``-inf`` when singular)."""
    _sign, logdet = np.linalg.slogdet(np.asarray(kernel, dtype=np.float64))
    return float(logdet)


class NaswotProxy(ZeroCostProxy):
    """naswot: log-determinant of the ReLU activation-pattern Hamming kernel (higher is better)."""

    Config = NaswotConfig
    direction = "max"
    needs_data = True
    needs_labels = False
    cost = "cheap"

    def compute(self, arch: Hashable, ctx: ProxyContext, device: Any) -> float:
        x, _ = self.batch(ctx, device)
        module = self.build(arch, ctx, device)
        n = len(x)
        kernel = torch.zeros((n, n), dtype=torch.float64, device=device)

        def accumulate(out: Any) -> None:
            code = (out.detach().reshape(n, -1) > 0).double()
            kernel.add_(code @ code.T).add_((1.0 - code) @ (1.0 - code).T)

        with torch.no_grad(), on_relu_outputs(module, accumulate) as relus:
            logits_of(module(x))
        if relus == 0:
            return float("nan")
        return hamming_kernel_logdet(kernel.cpu().numpy())
