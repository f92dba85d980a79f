"""V-norm: two-pass variance unitisation of every synthesized convolution (paper III-B2).

One shared kernel bank cannot keep activations at unit scale across multi-branch and residual
networks, so each convolution divides its output by a factor measured on the network itself:

* the first forward of a freshly built layer (the calibration pass) runs under ``no_grad``,
  stores ``c = std(output)`` (over all elements, unbiased; NaN -> 0) and returns
  ``output / (c + eps)``;
* every later forward divides by the stored ``c``, treated as a constant, so gradients flow
  through the convolution but not through the factor.

Scoring needs only the first pass; training runs the calibration pass and then a gradient pass
with the same factors (docs/methods/ftscorenet.md 1.3). ``unit_variance`` is the parameter-free global version
the scorer applies after its first linear map.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

EPS = 1e-5


class VNorm:
    """The v-norm state of one layer: ``None`` until the calibration pass has run."""

    __slots__ = ("factor", "eps")

    def __init__(self, eps: float = EPS) -> None:
        self.factor: torch.Tensor | None = None
        self.eps = eps

    def reset(self) -> None:
        """Forget the factor: the next forward is a calibration pass again."""
        self.factor = None

    def __call__(self, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """``compute()`` divided by this layer's factor, measuring the factor on the first call."""
        if self.factor is None:
            with torch.no_grad():
                out = compute()
                self.factor = torch.nan_to_num(out.std(), nan=0.0, posinf=0.0, neginf=0.0)
            return out / (self.factor + self.eps)
        return compute() / (self.factor + self.eps)


def unit_variance(x: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """``x`` divided by its global (unbiased) standard deviation plus ``eps`` (zero gradient
    through the deviation when ``x`` is constant, as torch's ``std`` has)."""
    centred = x - x.mean()
    var = (centred * centred).sum() / max(x.numel() - 1, 1)
    return x / (var.clamp_min(1e-20).sqrt() + eps)


def vnorm_states(module: nn.Module) -> list[VNorm]:
    """The v-norm states of every synthesized layer in ``module``, in module order."""
    return [m.vnorm for m in module.modules() if isinstance(getattr(m, "vnorm", None), VNorm)]


def reset_vnorm(module: nn.Module) -> None:
    """Reset every v-norm state in ``module`` (the next forward recalibrates)."""
    for state in vnorm_states(module):
        state.reset()
