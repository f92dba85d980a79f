"""DARTS- (Chu et al., ICLR 2021): an auxiliary skip connection with a decaying weight. See
``docs/methods/differentiable.md``."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.options import number_in
from nasplug.search.oneshot.darts import DARTS, DartsConfig


@attrs.frozen
class DartsMinusConfig(DartsConfig):
    """DARTS' settings plus the auxiliary skip connection ``beta * x`` on every edge, ``beta``
    decayed linearly from ``beta_start`` 1 at the first epoch to 0 at the end (the paper's
    default schedule)."""

    beta_start: float = attrs.field(default=1.0, validator=number_in(0.0, None))


class DartsMinus(DARTS):
    """DARTS-: an auxiliary, linearly decaying skip connection on every edge takes the residual
    role that otherwise makes the searched skip connections win."""

    Config = DartsMinusConfig

    def check_supernet(self, supernet: Any) -> None:
        super().check_supernet(supernet)
        if not all("skip_connect" in names for names in supernet.option_names):
            raise ConfigError("DARTS- adds its auxiliary connection through each edge's skip_connect op, which this space lacks; use darts")

    def setup(self, supernet: Any, device: str) -> None:
        import torch

        super().setup(supernet, device)
        self.skip = torch.zeros(self.mask.shape, device=device)
        for e, names in enumerate(supernet.option_names):
            self.skip[e, names.index("skip_connect")] = 1.0

    def beta(self) -> float:
        return self.config.beta_start * (1.0 - self.epoch / max(self.epochs, 1))

    def arch_weights(self, rng: np.random.Generator) -> Any:
        return self.mixture() + self.beta() * self.skip

    def train_weights(self, rng: np.random.Generator) -> Any:
        return (self.mixture() + self.beta() * self.skip).detach()

    def schedule_metrics(self) -> dict[str, float]:
        return {"aux_skip_beta": self.beta()}
