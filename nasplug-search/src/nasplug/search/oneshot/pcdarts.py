"""PC-DARTS (Xu et al., ICLR 2020): partial channel connections and edge normalisation. See
``docs/methods/differentiable.md``."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.options import number_in, positive_int
from nasplug.search.oneshot.darts import DARTS, DartsConfig


@attrs.frozen
class PcDartsConfig(DartsConfig):
    """DARTS' settings with the paper's ``arch_lr`` 6e-4 and ``partial_channels`` K = 4 (1/K of
    each edge's channels go through its ops, the rest bypass it, then a channel shuffle). The
    paper's weight settings (batch 256, lr 0.1) are the run's ``[oneshot]`` options, not set here."""

    arch_lr: float = attrs.field(default=6e-4, validator=number_in(0.0, None))
    partial_channels: int = attrs.field(default=4, validator=positive_int)


class PCDARTS(DARTS):
    """PC-DARTS: partial channels (K = 4) and edge normalisation (softmax over a node's incoming
    edges of a second set of parameters, beta)."""

    Config = PcDartsConfig

    def supernet_options(self) -> dict[str, Any]:
        return {"partial_channels": self.config.partial_channels}

    def check_supernet(self, supernet: Any) -> None:
        super().check_supernet(supernet)
        if not hasattr(supernet, "decision_nodes"):
            raise ConfigError("PC-DARTS normalises the edges entering each node, but this space's supernet has no decision_nodes; use darts")

    def extra_parameters(self, supernet: Any) -> list[Any]:
        import torch

        nodes = np.asarray(supernet.decision_nodes)
        #: same[i, j]: edges i and j enter the same node.
        self.same_node = torch.as_tensor(nodes[:, None] == nodes[None, :], device=self.device)
        self.beta = torch.nn.Parameter((self.config.init_scale * torch.randn(len(nodes))).to(self.device))
        return [self.beta]

    def edge_weights(self) -> Any:
        """Per edge, the softmax of beta over the edges entering the same node."""
        import torch

        scores = self.beta.unsqueeze(0).expand(len(self.beta), -1).masked_fill(~self.same_node, float("-inf"))
        return torch.softmax(scores, dim=-1).diagonal()

    def mixture(self) -> Any:
        return super().mixture() * self.edge_weights().unsqueeze(-1)
