"""SDARTS (Chen & Hsieh, ICML 2020): the supernet's weights are trained under perturbations of the
architecture weights, random (SDARTS-RS) or adversarial (SDARTS-ADV). See
``docs/methods/differentiable.md``."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from nasplug.core.options import boolean, number_in, positive_int
from nasplug.search.oneshot.darts import DARTS, DartsConfig


@attrs.frozen
class SdartsConfig(DartsConfig):
    """DARTS' settings; the weight step runs on the softmax-ed op weights plus uniform noise in
    ``[-epsilon, epsilon]``, clipped back onto each edge's simplex (``clip``).

    ``epsilon`` rises linearly from 0.03 at the first epoch towards ``epsilon_end`` 0.3
    (``0.03 + 0.27 * epoch / epochs``), as the authors' NAS-Bench-201 and CNN search scripts run it;
    ``epsilon_end = 0.03`` keeps it constant. ``clip``: clamp the perturbed weights to [0, 1] and
    renormalise each edge to sum 1 (an all-zero edge keeps its largest entry), as their code does."""

    epsilon: float = attrs.field(default=0.03, validator=number_in(0.0, None))
    epsilon_end: float | None = attrs.field(default=0.3, validator=number_in(0.0, None, optional=True))
    clip: bool = attrs.field(default=True, validator=boolean)


@attrs.frozen
class SdartsAdvConfig(SdartsConfig):
    """SDARTS-RS' settings plus the attack: ``attack_steps`` 7 steps of projected sign-gradient
    ascent of the training loss, step ``2 * epsilon / attack_steps``, from a random start in the
    ``epsilon`` box (``random_start``), as the authors' ``Linf_PGD_alpha``."""

    attack_steps: int = attrs.field(default=7, validator=positive_int)
    random_start: bool = attrs.field(default=True, validator=boolean)


def clip_to_simplex(weights: Any, mask: Any) -> Any:
    """Each row of ``weights`` clamped to [0, 1] and divided by its sum; a row clamped to all
    zeros keeps a 1 at its (pre-clamp) largest entry. Entries outside ``mask`` stay 0."""
    import torch

    w = torch.where(mask, weights, torch.full_like(weights, float("-inf")))
    top = w.argmax(dim=-1, keepdim=True)
    w = w.clamp(0.0, 1.0)
    empty = w.sum(dim=-1, keepdim=True) == 0.0
    w = torch.where(empty, torch.zeros_like(w).scatter(-1, top, 1.0), w)
    return w / w.sum(dim=-1, keepdim=True)


class SDARTS(DARTS):
    """SDARTS-RS: the supernet's weights are trained under random perturbations of the op weights,
    which smooths the validation loss landscape in alpha (lower Hessian eigenvalue)."""

    Config = SdartsConfig

    def epsilon(self) -> float:
        c = self.config
        end = c.epsilon if c.epsilon_end is None else c.epsilon_end
        return c.epsilon + (end - c.epsilon) * self.epoch / max(self.epochs, 1)

    def _uniform(self, rng: np.random.Generator, eps: float) -> Any:
        import torch

        noise = rng.uniform(-eps, eps, size=tuple(self.alpha.shape))
        return torch.as_tensor(noise, dtype=self.alpha.dtype, device=self.alpha.device) * self.mask

    def _project(self, weights: Any) -> Any:
        return clip_to_simplex(weights, self.mask) if self.config.clip else weights * self.mask

    def train_weights(self, rng: np.random.Generator) -> Any:
        return self._project(self.mixture().detach() + self._uniform(rng, self.epsilon()))

    def schedule_metrics(self) -> dict[str, float]:
        return {"epsilon": self.epsilon()}


class SDARTSADV(SDARTS):
    """SDARTS-ADV: the weight step runs on the op weights that (approximately) maximise the
    training loss on the same batch within ``epsilon`` of the current ones: projected
    sign-gradient ascent with the supernet in eval mode; the clean weights are kept when the
    attack did not raise the loss."""

    Config = SdartsAdvConfig

    def weight_step_weights(self, supernet: Any, x: Any, y: Any, rng: np.random.Generator) -> Any:
        import torch
        from torch.nn import functional as F

        from nasplug.spaces.supernets import run_zero_weighted

        c, eps = self.config, self.epsilon()
        clean = self.mixture().detach()
        was_training = supernet.training
        supernet.eval()
        try:
            with torch.no_grad():
                before = float(F.cross_entropy(supernet(x, weights=clean), y))
            w = self._project(clean + self._uniform(rng, eps)) if c.random_start else clean
            step = 2.0 * eps / c.attack_steps
            for _ in range(c.attack_steps):
                w = w.detach().requires_grad_(True)
                with run_zero_weighted():
                    loss = F.cross_entropy(supernet(x, weights=w), y)
                (grad,) = torch.autograd.grad(loss, w)
                w = w.detach() + step * grad.sign()
                w = self._project(clean + (w - clean).clamp(-eps, eps))
            with torch.no_grad():
                after = float(F.cross_entropy(supernet(x, weights=w), y))
        finally:
            supernet.train(was_training)
            supernet.zero_grad(set_to_none=True)
        return clean if before > after else w.detach()
