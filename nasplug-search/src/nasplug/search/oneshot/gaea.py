"""GAEA (Li et al., ICLR 2021): exponentiated-gradient updates of the op weights on the simplex.
See ``docs/methods/differentiable.md``."""

from __future__ import annotations

from typing import Any

import attrs

from nasplug.core.options import number_in
from nasplug.search.oneshot.darts import DARTS, DartsConfig


@attrs.frozen
class GaeaConfig(DartsConfig):
    """GAEA on DARTS (first order): the op weights live on each edge's simplex and move by
    mirror descent, ``w <- w * exp(-arch_lr * grad)`` renormalised, with ``arch_lr`` 0.1 and no
    weight decay (the paper's NAS-Bench-201 setting). Start: softmax of ``init_scale`` noise."""

    arch_lr: float = attrs.field(default=0.1, validator=number_in(0.0, None))
    arch_weight_decay: float = attrs.field(default=0.0, validator=number_in(0.0, None))


class GAEA(DARTS):
    """GAEA: exponentiated-gradient (mirror-descent) architecture updates on the simplex, which
    reach sparse op weights quickly."""

    Config = GaeaConfig

    def initial_alpha(self, n: int, m: int) -> Any:
        import torch

        return torch.softmax(self.config.init_scale * torch.randn(n, m), dim=-1)

    def setup(self, supernet: Any, device: str) -> None:
        import torch

        super().setup(supernet, device)
        with torch.no_grad():
            self.alpha.mul_(self.mask)
            self.alpha.div_(self.alpha.sum(dim=-1, keepdim=True))

    def make_arch_optimizer(self) -> Any:
        return None

    def mixture(self) -> Any:
        return self.alpha * self.mask

    def arch_update(self) -> None:
        import torch

        c = self.config
        with torch.no_grad():
            grad = self.alpha.grad if self.alpha.grad is not None else torch.zeros_like(self.alpha)
            grad = grad + c.arch_weight_decay * self.alpha
            w = self.alpha * torch.exp(-c.arch_lr * (grad - grad.min(dim=-1, keepdim=True).values)) * self.mask
            self.alpha.copy_(w / w.sum(dim=-1, keepdim=True))
            self.alpha.grad = None
