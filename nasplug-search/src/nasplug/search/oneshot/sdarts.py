"""SDARTS-RS (Chen & Hsieh, ICML 2020): random smoothing of the architecture weights. See
``docs/methods/differentiable.md``."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from nasplug.core.options import number_in
from nasplug.search.oneshot.darts import DARTS, DartsConfig


@attrs.frozen
class SdartsConfig(DartsConfig):
    """DARTS' settings; the weight step runs on the op weights plus uniform noise in
    ``[-epsilon, epsilon]``. ``epsilon`` 0.03 is the paper's; ``epsilon_end`` (default: equal to
    ``epsilon``) ramps it linearly over the search, as the authors' code can."""

    epsilon: float = attrs.field(default=0.03, validator=number_in(0.0, None))
    epsilon_end: float | None = attrs.field(default=None, validator=number_in(0.0, None, optional=True))


class SDARTS(DARTS):
    """SDARTS-RS: the supernet's weights are trained under random perturbations of the op weights,
    which smooths the validation loss landscape in alpha (lower Hessian eigenvalue)."""

    Config = SdartsConfig

    def epsilon(self) -> float:
        c = self.config
        end = c.epsilon if c.epsilon_end is None else c.epsilon_end
        return c.epsilon + (end - c.epsilon) * self.epoch / max(self.epochs - 1, 1)

    def train_weights(self, rng: np.random.Generator) -> Any:
        import torch

        eps = self.epsilon()
        noise = torch.as_tensor(rng.uniform(-eps, eps, size=tuple(self.alpha.shape)), dtype=self.alpha.dtype,
                                device=self.alpha.device)
        return (self.mixture().detach() + noise) * self.mask

    def schedule_metrics(self) -> dict[str, float]:
        return {"epsilon": self.epsilon()}
