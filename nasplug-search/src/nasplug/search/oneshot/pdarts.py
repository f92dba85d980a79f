"""P-DARTS (Chen, Xie, Wu & Tian, ICCV 2019): progressive DARTS, growing the supernet's depth in
stages while pruning the op set. See ``docs/methods/differentiable.md``."""

from __future__ import annotations

import math
from typing import Any, Hashable

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.options import non_negative_int, number_in
from nasplug.search.oneshot.darts import DARTS, DartsConfig

#: Supernet options that set the depth, and P-DARTS' depths for them: the paper's 5 -> 11 -> 17
#: cells on the DARTS space; on NAS-Bench-201 the analogue over cells per stage, up to its 5.
DEPTHS = {"layers": (5, 11, 17), "cells_per_stage": (1, 3, 5)}


def _int_list(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and (not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)):
        raise ValueError(f"{attribute.name}: expected a list of integers >= 1, got {value!r}")


def _rate_list(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v < 1.0 for v in value):
        raise ValueError(f"{attribute.name}: expected a list of rates in [0, 1), got {value!r}")


@attrs.frozen
class PDartsConfig(DartsConfig):
    """DARTS' settings plus the paper's progression (CIFAR-10, section 3-4):

    - ``depths``: the supernet's depth per stage (default: 5, 11, 17 cells on the DARTS space;
      1, 3, 5 cells per stage on NAS-Bench-201); the run's epochs are split evenly over them and
      each stage trains a fresh supernet with a fresh cosine schedule.
    - ``ops_kept``: options kept per decision after each stage but the last (default: the
      paper's 8 -> 5 -> 3 scaled to the space, round(m * 5/8), round(m * 3/8); on NB201 3, 2);
      the weakest by the stage's final op weights are dropped.
    - ``skip_dropout`` 0.0, 0.4, 0.7: dropout on skip connections per stage, decayed as
      ``rate * exp(-dropout_decay * (epoch - warm-up))`` after the warm-up, ``dropout_decay`` 0.2.
    - ``warmup_fraction`` 0.4: the first 10 of each stage's 25 epochs train the weights only.
    - ``max_skip`` 2: the derived normal cell keeps at most this many skip connections (the
      weakest extra ones give way to their edge's next op).
    """

    depths: list[int] | None = attrs.field(default=None, validator=_int_list)
    ops_kept: list[int] | None = attrs.field(default=None, validator=_int_list)
    skip_dropout: list[float] = attrs.field(factory=lambda: [0.0, 0.4, 0.7], validator=_rate_list)
    dropout_decay: float = attrs.field(default=0.2, validator=number_in(0.0, None))
    warmup_fraction: float = attrs.field(default=0.4, validator=number_in(0.0, 1.0))
    max_skip: int = attrs.field(default=2, validator=non_negative_int)


class PDARTS(DARTS):
    """P-DARTS: three stages of growing depth, the op set pruned between them, dropout on skip
    connections, at most two skip connections in the derived cell."""

    Config = PDartsConfig

    def check_supernet(self, supernet: Any) -> None:
        super().check_supernet(supernet)
        options = getattr(supernet, "options", {})
        self.depth_key = next((k for k in DEPTHS if k in options), None)
        if self.depth_key is None:
            raise ConfigError("P-DARTS grows the supernet's depth, but this space's supernet has no depth option (layers or cells_per_stage); use darts")
        if not all("skip_connect" in names for names in supernet.option_names):
            raise ConfigError("P-DARTS regularises skip connections, which this space lacks; use darts")
        c = self.config
        depths = c.depths or DEPTHS[self.depth_key]
        m = max(supernet.decisions)
        kept = c.ops_kept or [max(1, round(m * 5 / 8)), max(1, round(m * 3 / 8))][: len(depths) - 1]
        if len(kept) != len(depths) - 1 or len(c.skip_dropout) != len(depths):
            raise ConfigError(f"P-DARTS has {len(depths)} stages: give {len(depths) - 1} ops_kept and {len(depths)} skip_dropout values")
        if any(k > m for k in kept) or list(kept) != sorted(kept, reverse=True):
            raise ConfigError(f"ops_kept must shrink and stay within the {m} options per decision, got {list(kept)}")
        self.depths, self.kept = list(depths), list(kept)

    def stages(self, epochs: int) -> list[tuple[int, dict[str, Any]]]:
        n = len(self.depths)
        sizes = [epochs // n + (1 if s < epochs % n else 0) for s in range(n)]
        self.plan = sizes
        return [(size, {self.depth_key: depth}) for size, depth in zip(sizes, self.depths)]

    def setup(self, supernet: Any, device: str) -> None:
        super().setup(supernet, device)
        self.supernet, self.stage, self.stage_epoch = supernet, 0, 0
        self.skip = [names.index("skip_connect") for names in supernet.option_names]

    def begin_stage(self, stage: int, supernet: Any) -> None:
        """Keep each decision's ``ops_kept[stage - 1]`` strongest options, then start the new
        stage's architecture parameters and optimiser afresh (the paper re-initialises them)."""
        import torch

        keep = self.kept[stage - 1]
        dist = self.distribution()
        mask = torch.zeros_like(self.mask)
        for d in range(dist.shape[0]):
            allowed = np.flatnonzero(self.mask[d].cpu().numpy())
            best = allowed[np.argsort(-dist[d, allowed], kind="stable")[:keep]]
            mask[d, torch.as_tensor(best, device=mask.device)] = True
        self.mask = mask
        with torch.no_grad():
            self.alpha.copy_(self.initial_alpha(*self.alpha.shape).to(self.alpha.device))
        self.arch_optimizer = self.make_arch_optimizer()
        self.supernet, self.stage = supernet, stage

    def start_epoch(self, epoch: int, epochs: int) -> None:
        from nasplug.spaces.supernets import set_option_dropout

        super().start_epoch(epoch, epochs)
        first = np.cumsum([0, *self.plan])
        self.stage = int(np.searchsorted(first, epoch, side="right")) - 1
        self.stage_epoch = epoch - int(first[self.stage])
        warmup = self.warmup_epochs()
        rate = self.config.skip_dropout[self.stage]
        if self.stage_epoch >= warmup:
            rate *= math.exp(-self.config.dropout_decay * (self.stage_epoch - warmup))
        self.dropout = rate
        set_option_dropout(self.supernet, self.skip[0], rate)

    def warmup_epochs(self) -> int:
        return int(round(self.config.warmup_fraction * self.plan[self.stage]))

    def updates_architecture(self) -> bool:
        return self.stage_epoch >= self.warmup_epochs()

    def train_step(self, supernet: Any, x: Any, y: Any, optimizer: Any, rng: np.random.Generator,
                   grad_clip: float | None = None, valid: tuple[Any, Any] | None = None) -> dict[str, float]:
        import torch

        torch.manual_seed(int(rng.integers(2**62)))  # the step's dropout masks come from its generator
        return super().train_step(supernet, x, y, optimizer, rng, grad_clip, valid)

    def schedule_metrics(self) -> dict[str, float]:
        return {"stage": self.stage, "skip_dropout": self.dropout, "ops_allowed": int(self.mask.sum(-1).max())}

    def derive(self, evaluator: Any, rng: np.random.Generator) -> Hashable | None:
        """The discretised cell with at most ``max_skip`` skip connections in the normal cell:
        while there are more, the weakest chosen skip connection's weight is zeroed and the cell
        discretised again."""
        supernet = evaluator.supernet
        dist = self.distribution().copy()
        nodes = np.asarray(getattr(supernet, "decision_nodes", [0] * dist.shape[0]))
        normal = nodes < 100  # the DARTS space numbers reduction-cell nodes from 102
        for _ in range(dist.size):
            arch = supernet.discretise(dist, include_none=self.config.include_none)
            path = np.asarray(supernet.path_of(arch))
            skips = [d for d in range(len(path)) if normal[d] and path[d] == self.skip[d]]
            if len(skips) <= self.config.max_skip:
                return arch
            weakest = min(skips, key=lambda d: dist[d, self.skip[d]])
            dist[weakest, self.skip[weakest]] = 0.0
        return arch

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "mask": self.mask.clone(), "stage": self.stage}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.mask = state["mask"].to(self.mask.device)
        self.stage = int(state["stage"])
