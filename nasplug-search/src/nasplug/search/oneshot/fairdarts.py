"""Fair DARTS (Chu et al., ECCV 2020): independent sigmoid op weights and the zero-one loss. See
``docs/methods/differentiable.md``."""

from __future__ import annotations

from typing import Any

import attrs

from nasplug.core.options import boolean, number_in
from nasplug.search.oneshot.darts import DARTS, DartsConfig


@attrs.frozen
class FairDartsConfig(DartsConfig):
    """DARTS' settings with a sigmoid per op (no competition between ops) and the zero-one loss
    ``-mean((sigmoid(alpha) - 0.5)^2)`` weighted ``zero_one_weight`` 10 (the paper's w). Fair
    DARTS searches without the ``none`` op, so ``include_none`` is off by default."""

    zero_one_weight: float = attrs.field(default=10.0, validator=number_in(0.0, None))
    include_none: bool = attrs.field(default=False, validator=boolean)


class FairDARTS(DARTS):
    """Fair DARTS: sigmoid op weights and a zero-one loss that pushes each towards 0 or 1."""

    Config = FairDartsConfig

    def mixture(self) -> Any:
        import torch

        return torch.sigmoid(self.alpha) * self.mask

    def regulariser(self) -> Any:
        sig = self.mixture()[self.mask]
        return -self.config.zero_one_weight * ((sig - 0.5) ** 2).mean()
