"""The NAS-Bench-Macro supernet: a choice block per layer (identity, MBConv k3 e3, MBConv k5 e6).

The skeleton is :class:`~nasplug.spaces.nb_macro.network.NBMacroNetwork`'s, module for module,
with layer ``i`` of stage ``s`` holding its three candidates under
``stages.<s>.<i>.candidates.<digit>``; a sub-network is the space's ``to_module(arch)`` with the
chosen candidates' weights (:meth:`NBMacroSupernet.extract`). ``forward(x, path=...)`` runs one
candidate per layer (eight digits); ``forward(x, weights=...)`` the weighted sum per layer (8 x 3).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from nasplug.core.errors import ConfigError
from nasplug.spaces.nb_macro.network import OP_SPECS, STAGES, IdentityLayer, InvertedResidual, NBMacroNetwork
from nasplug.spaces.nb_macro.space import N_LAYERS, to_nb_macro
from nasplug.spaces.supernets import ArgmaxDiscretise, MixedOp, check_path_or_weights, inherit


class NBMacroSupernet(ArgmaxDiscretise, nn.Module):
    """Weight-sharing NAS-Bench-Macro network (``channels`` 32 and ``last_channels`` 1280 are the
    benchmark's)."""

    decisions: tuple[int, ...] = (len(OP_SPECS),) * N_LAYERS
    #: The option names per layer (``identity`` is a projection where the shape changes).
    option_names: tuple[tuple[str, ...], ...] = (("identity", "mbconv_k3_e3", "mbconv_k5_e6"),) * N_LAYERS

    def __init__(self, num_classes: int = 10, channels: int = 32, last_channels: int = 1280) -> None:
        super().__init__()
        for key, value in (("num_classes", num_classes), ("channels", channels), ("last_channels", last_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"supernet option '{key}' must be an integer >= 1, got {value!r}")
        self.options = {"channels": channels, "last_channels": last_channels}
        self.num_classes = num_classes
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU(inplace=True))
        stages, c = [], channels
        for n_layers in STAGES:
            layers = []
            for i in range(n_layers):
                stride, c_out = (2, 2 * c) if i == 0 else (1, c)
                layers.append(MixedOp([IdentityLayer(c, c_out, stride) if spec is None else
                                       InvertedResidual(c, c_out, stride, *spec) for spec in OP_SPECS]))
                c = c_out
            stages.append(nn.ModuleList(layers))
        self.stages = nn.ModuleList(stages)
        self.head = nn.Sequential(nn.Conv2d(c, last_channels, 1, bias=False), nn.BatchNorm2d(last_channels),
                                  nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(last_channels, num_classes)

    def forward(self, x: torch.Tensor, path: Sequence[int] | None = None, weights: torch.Tensor | None = None) -> torch.Tensor:
        path = check_path_or_weights(path, weights, self.decisions, "layer")
        x = self.stem(x)
        k = 0
        for stage in self.stages:
            for layer in stage:
                x = layer(x, None if path is None else path[k], None if weights is None else weights[k])
                k += 1
        return self.classifier(torch.flatten(self.pool(self.head(x)), 1))

    @staticmethod
    def path_of(arch: Any) -> tuple[int, ...]:
        return tuple(to_nb_macro(arch))

    @staticmethod
    def arch_of(path: Sequence[int]) -> tuple[int, ...]:
        return to_nb_macro(tuple(int(p) for p in path))

    def sub_state_dict(self, arch: Any) -> dict[str, torch.Tensor]:
        """The state dict of ``NBMacroNetwork(arch)`` taken from this supernet (tensors cloned)."""
        digits = self.path_of(arch)
        firsts = [sum(STAGES[:s]) for s in range(len(STAGES))]

        def rename(parts: list[str]) -> list[str]:
            if parts[0] == "stages":
                return [*parts[:3], "candidates", str(digits[firsts[int(parts[1])] + int(parts[2])]), *parts[3:]]
            return parts

        return inherit(NBMacroNetwork(digits, num_classes=self.num_classes, **self.options), self, rename)

    def extract(self, arch: Any) -> NBMacroNetwork:
        net = NBMacroNetwork(self.path_of(arch), num_classes=self.num_classes, **self.options)
        net.load_state_dict(self.sub_state_dict(arch))
        return net
