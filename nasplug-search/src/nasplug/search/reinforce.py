"""REINFORCE over a factorised categorical policy (the NAS-Bench-201 RL baseline)."""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.interfaces.strategy import Strategy, Told
from nasplug.core.options import number_in, positive_int
from nasplug.core.interfaces.capabilities import Positional
from nasplug.search._positions import position_choices, try_build


@attrs.frozen
class ReinforceConfig:
    """Defaults follow NAS-Bench-201's REINFORCE script (Dong & Yang, ICLR 2020): Adam with
    learning rate 0.001 on per-position logits initialised at 1e-3 x N(0, 1), an exponential
    moving-average reward baseline with momentum 0.9. NATS-Bench later used lr 0.01."""

    lr: float = attrs.field(default=1e-3, validator=number_in(0.0, 10.0))
    baseline_decay: float = attrs.field(default=0.9, validator=number_in(0.0, 1.0))
    init_scale: float = attrs.field(default=1e-3, validator=number_in(0.0, 10.0))
    max_resample: int = attrs.field(default=100, validator=positive_int)


class Reinforce(Strategy):
    """REINFORCE over a factorised categorical policy (NAS-Bench-201's RL baseline).

    Samples each position independently from softmax(logits); after each evaluation the
    logits move along ``(reward - baseline) * grad log p``. Works on any positional space;
    combinations that are not members (e.g. a MobileNet unit with a gap) are resampled."""

    requires = (Positional,)

    Config = ReinforceConfig

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        import torch

        self.choices = position_choices(self.space)
        width = max(self.choices)
        gen = torch.Generator().manual_seed(self.seed)
        logits = self.config.init_scale * torch.randn(len(self.choices), width, generator=gen)
        self.logits = torch.nn.Parameter(logits)
        self.mask = torch.tensor([[j < c for j in range(width)] for c in self.choices])
        self.optimizer = torch.optim.Adam([self.logits], lr=self.config.lr)
        self.generator = gen
        self.baseline: float | None = None
        self._pending: list[tuple[int, ...]] = []

    def _distribution(self) -> Any:
        import torch

        return torch.distributions.Categorical(logits=self.logits.masked_fill(~self.mask, float("-inf")))

    def ask(self, n: int) -> list[Hashable]:
        import torch

        out, self._pending = [], []
        with torch.no_grad():
            probs = self._distribution().probs
        for _ in range(n):
            for _ in range(self.config.max_resample):
                pos = tuple(int(i) for i in torch.multinomial(probs, 1, generator=self.generator).squeeze(1))
                arch = try_build(self.space, pos)
                if arch is not None:
                    break
            else:
                arch = self.space.sample(self.rng)
                pos = tuple(self.space.to_positions(arch))
            out.append(arch)
            self._pending.append(pos)
        return out

    def tell(self, results: Sequence[Told]) -> None:
        import torch

        for pos, told in zip(self._pending, results):
            reward = told.fitness if np.isfinite(told.fitness) else (self.baseline or 0.0)
            if self.baseline is None:
                self.baseline = reward
            else:
                self.baseline = self.config.baseline_decay * self.baseline + (1 - self.config.baseline_decay) * reward
            logp = self._distribution().log_prob(torch.tensor(pos)).sum()
            loss = -logp * (reward - self.baseline)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self._pending = []
