"""The NAS-Bench-201 supernet: every edge of the cell holds all five ops.

The skeleton is :class:`~nasplug.spaces.nb201.network.NB201Network`'s (stem, three stages of
cells with residual reductions, BN-ReLU head, classifier) and every module keeps its name there,
with the edge's candidate ops under ``edge_ops.<e>.candidates.<op index>``, so a sub-network is
the space's own ``to_module(arch)`` with the chosen candidates' weights copied in
(:meth:`NB201Supernet.extract`). All cells share one architecture, as in NAS-Bench-201.

``forward(x, path=...)`` runs one op per edge (``path``: six op indices into
:data:`~nasplug.spaces.nb201.space.OPS`); ``forward(x, weights=...)`` runs the weighted sum of
all ops per edge (a 6 x 5 tensor, e.g. softmax-ed architecture parameters), where an op whose
weight is exactly zero is skipped. ``partial_channels`` > 1 builds PC-DARTS' partial-channel
supernet (no sub-network can be extracted from it; paths and mixtures run as usual); ``stem =
false`` and ``depth = k`` keep only the first ``k`` layers without the stem (the input then has
``channels`` channels): TE-NAS's one-cell network for counting linear regions.

For differentiable methods: :attr:`NB201Supernet.option_names`, :attr:`decision_nodes` (the node
each edge enters, for edge normalisation), :meth:`discretise` (argmax per edge, ``none`` included unless ``include_none`` is off, as
NAS-Bench-201's code keeps it for DARTS) and
:meth:`parameter_free_ops`.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from nasplug.core.errors import ConfigError
from nasplug.spaces.nb201.network import NB201Network, ResidualReduction, make_op
from nasplug.spaces.supernets import ArgmaxDiscretise, MixedOp, check_path_or_weights, inherit, partial_channels_option
from nasplug.spaces.nb201.space import EDGES, OPS, to_arch


class SuperCell(nn.Module):
    def __init__(self, channels: int, partial: int = 1) -> None:
        super().__init__()
        self.edge_ops = nn.ModuleList(MixedOp([make_op(op, channels // partial) for op in OPS], partial=partial) for _ in EDGES)

    def forward(self, x: torch.Tensor, path: Sequence[int] | None, weights: torch.Tensor | None) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for e, (edge, (to, frm)) in enumerate(zip(self.edge_ops, EDGES)):
            out = edge(nodes[frm], None if path is None else path[e], None if weights is None else weights[e])
            nodes[to] = out if nodes[to] is None else nodes[to] + out
        return nodes[3]  # type: ignore[return-value]


class NB201Supernet(ArgmaxDiscretise, nn.Module):
    """Weight-sharing NAS-Bench-201 network (``channels`` 16 and ``cells_per_stage`` 5 are the
    benchmark's sizes)."""

    #: Options per decision: six edges, five ops each.
    decisions: tuple[int, ...] = (len(OPS),) * len(EDGES)
    #: The op name of each option, per decision.
    option_names: tuple[tuple[str, ...], ...] = (OPS,) * len(EDGES)
    #: The node each edge enters (edges into the same node share a number).
    decision_nodes: tuple[int, ...] = tuple(to for to, _ in EDGES)
    #: Ops without weights (a cell of only these is the collapse of DARTS on this space).
    PARAMETER_FREE = frozenset({"none", "skip_connect", "avg_pool_3x3"})

    def __init__(self, num_classes: int = 10, channels: int = 16, cells_per_stage: int = 5,
                 partial_channels: int = 1, stem: bool = True, depth: int | None = None) -> None:
        super().__init__()
        for key, value in (("num_classes", num_classes), ("channels", channels), ("cells_per_stage", cells_per_stage),
                           ("depth", 1 if depth is None else depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"supernet option '{key}' must be an integer >= 1, got {value!r}")
        if not isinstance(stem, bool):
            raise ConfigError(f"supernet option 'stem' must be true or false, got {stem!r}")
        self.partial = partial_channels_option(partial_channels, channels)
        #: A partial-channel or truncated supernet holds no network of the space.
        self.can_extract = self.partial == 1 and stem and depth is None
        self.options = {"channels": channels, "cells_per_stage": cells_per_stage}
        self.num_classes = num_classes
        #: Channels of the input: 3 (images), or ``channels`` without the stem (TE-NAS's thin network).
        self.in_channels = 3 if stem else channels
        self.stem = (nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
                     if stem else nn.Identity())
        layers: list[nn.Module] = []
        widths: list[int] = []
        c = channels
        for stage in range(3):
            if stage > 0:
                layers.append(ResidualReduction(c, 2 * c))
                c *= 2
                widths.append(c)
            layers.extend(SuperCell(c, self.partial) for _ in range(cells_per_stage))
            widths.extend([c] * cells_per_stage)
        if depth is not None:  # only the first ``depth`` layers (cells and reductions), as TE-NAS's thin network
            layers, c = layers[:depth], widths[:depth][-1]
        self.cells = nn.ModuleList(layers)
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor, path: Sequence[int] | None = None, weights: torch.Tensor | None = None) -> torch.Tensor:
        path = check_path_or_weights(path, weights, self.decisions, "edge")
        x = self.stem(x)
        for layer in self.cells:
            x = layer(x, path, weights) if isinstance(layer, SuperCell) else layer(x)
        x = self.head(x)
        return self.classifier(torch.flatten(self.pool(x), 1))

    # --- architectures and paths ---------------------------------------------------------
    @staticmethod
    def path_of(arch: Any) -> tuple[int, ...]:
        return tuple(OPS.index(op) for op in to_arch(arch))

    @staticmethod
    def arch_of(path: Sequence[int]) -> tuple[str, ...]:
        return tuple(OPS[int(p)] for p in path)

    def extract(self, arch: Any) -> NB201Network:
        """``NB201Network(arch)`` (what ``to_module`` builds) holding this supernet's weights for
        ``arch``: parameters and BN statistics are copied, so both give the same output."""
        if not self.can_extract:
            raise ConfigError("a partial-channel (partial_channels > 1) or truncated (stem = false, depth) supernet holds no "
                              "sub-network of the space; evaluate paths with forward(x, path=...)")
        arch = to_arch(arch)
        net = NB201Network(arch, num_classes=self.num_classes, **self.options)
        net.load_state_dict(self.sub_state_dict(arch))
        return net

    def sub_state_dict(self, arch: Any) -> dict[str, torch.Tensor]:
        """The state dict of ``NB201Network(arch)`` taken from this supernet (tensors cloned)."""
        path = self.path_of(arch)

        def rename(parts: list[str]) -> list[str]:
            if len(parts) > 3 and parts[0] == "cells" and parts[2] == "edge_ops":
                return [*parts[:4], "candidates", str(path[int(parts[3])]), *parts[4:]]
            return parts

        return inherit(NB201Network(to_arch(arch), num_classes=self.num_classes, **self.options), self, rename)
