"""GDAS (Dong & Yang, CVPR 2019): differentiable sampling of one op per edge with the
Gumbel-softmax. See ``docs/methods/differentiable.md``."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from nasplug.core.options import number_in
from nasplug.search.oneshot.darts import DARTS, DartsConfig


@attrs.frozen
class GdasConfig(DartsConfig):
    """DARTS' settings plus the Gumbel-softmax temperature, annealed linearly from ``tau_max`` 10
    at the first epoch to ``tau_min`` 0.1 at the last (NAS-Bench-201's GDAS configuration)."""

    tau_max: float = attrs.field(default=10.0, validator=number_in(0.0, None))
    tau_min: float = attrs.field(default=0.1, validator=number_in(0.0, None))


def gumbel_hard(logits: Any, tau: float, rng: np.random.Generator) -> Any:
    """A hard one-hot draw per row from the Gumbel-softmax of ``logits``, with the soft sample's
    gradient (straight-through): ``one_hot - soft.detach() + soft``. The unselected entries are
    exactly zero, so the supernet runs only the drawn op of each edge."""
    import torch

    u = np.clip(rng.random(tuple(logits.shape)), 1e-10, 1.0 - 1e-10)
    gumbel = torch.as_tensor(-np.log(-np.log(u)), dtype=logits.dtype, device=logits.device)
    soft = torch.softmax((logits + gumbel) / tau, dim=-1)
    hard = torch.zeros_like(soft).scatter_(-1, soft.argmax(dim=-1, keepdim=True), 1.0)
    return hard - soft.detach() + soft


class GDAS(DARTS):
    """GDAS: each step runs one Gumbel-softmax-sampled op per edge (hard forward, soft
    gradient to alpha); temperature annealed from 10 to 0.1."""

    Config = GdasConfig

    def tau(self) -> float:
        c = self.config
        return c.tau_max - (c.tau_max - c.tau_min) * self.epoch / max(self.epochs - 1, 1)

    def arch_weights(self, rng: np.random.Generator) -> Any:
        return gumbel_hard(self._masked(self.alpha), self.tau(), rng)

    def train_weights(self, rng: np.random.Generator) -> Any:
        return gumbel_hard(self._masked(self.alpha), self.tau(), rng).detach()

    def schedule_metrics(self) -> dict[str, float]:
        return {"tau": self.tau()}
