"""DrNAS (Chen et al., ICLR 2021): a Dirichlet distribution over each edge's op weights. See
``docs/methods/differentiable.md``."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.options import number_in, one_of
from nasplug.search.oneshot.darts import DARTS, DartsConfig


@attrs.frozen
class DrNasConfig(DartsConfig):
    """DARTS' settings, with the op weights of every step drawn from ``Dirichlet(elu(alpha) + 1)``
    by the reparameterised (pathwise) sampler, and the anchor regulariser of the authors' code:
    ``reg_scale`` 1e-3 times the squared norm of the concentrations (``reg_type`` "l2", the
    default of their NAS-Bench-201 search scripts, for which 1e-3 is tuned) or the KL divergence
    to the flat ``Dirichlet(1)`` (``reg_type`` "kl"). Their NAS-Bench-201 search runs 100 epochs."""

    reg_type: str = attrs.field(default="l2", validator=one_of("kl", "l2"))
    reg_scale: float = attrs.field(default=1e-3, validator=number_in(0.0, None))


class DrNAS(DARTS):
    """DrNAS: per-edge Dirichlet over ops (concentration elu(alpha) + 1), sampled with pathwise
    gradients, anchor regulariser; derives from the Dirichlet mean."""

    Config = DrNasConfig

    def check_supernet(self, supernet: Any) -> None:
        super().check_supernet(supernet)
        if len(set(supernet.decisions)) != 1:
            raise ConfigError("DrNAS needs the same number of options at every decision (one Dirichlet per edge); use darts or gdas on this space")

    masks_options = False  # one Dirichlet over all of an edge's ops

    def concentration(self) -> Any:
        from torch.nn import functional as F

        return F.elu(self.alpha) + 1.0

    def mixture(self) -> Any:
        """The Dirichlet mean (the continuous model shown in diagnostics and discretised)."""
        conc = self.concentration()
        return conc / conc.sum(dim=-1, keepdim=True)

    def _sample(self, rng: np.random.Generator) -> Any:
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2**62)))
            return torch.distributions.Dirichlet(self.concentration()).rsample()

    def arch_weights(self, rng: np.random.Generator) -> Any:
        return self._sample(rng)

    def train_weights(self, rng: np.random.Generator) -> Any:
        return self._sample(rng).detach()

    def regulariser(self) -> Any:
        import torch

        conc = self.concentration()
        if self.config.reg_type == "l2":
            return self.config.reg_scale * (conc ** 2).sum()
        prior = torch.distributions.Dirichlet(torch.ones_like(conc))
        return self.config.reg_scale * torch.distributions.kl_divergence(torch.distributions.Dirichlet(conc), prior).sum()
