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


class ChoiceLayer(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(IdentityLayer(c_in, c_out, stride) if spec is None else
                                        InvertedResidual(c_in, c_out, stride, *spec) for spec in OP_SPECS)

    def forward(self, x: torch.Tensor, choice: int | None, weights: torch.Tensor | None) -> torch.Tensor:
        if choice is not None:
            return self.candidates[choice](x)
        out = None
        for w, op in zip(weights, self.candidates):  # type: ignore[arg-type]
            if w.detach().item() == 0.0 and not w.requires_grad:
                continue
            term = w * op(x)
            out = term if out is None else out + term
        return out if out is not None else self.candidates[0](x).mul(0.0)


class NBMacroSupernet(nn.Module):
    """Weight-sharing NAS-Bench-Macro network (``channels`` 32 and ``last_channels`` 1280 are the
    benchmark's)."""

    decisions: tuple[int, ...] = (len(OP_SPECS),) * N_LAYERS

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
                layers.append(ChoiceLayer(c, c_out, stride))
                c = c_out
            stages.append(nn.ModuleList(layers))
        self.stages = nn.ModuleList(stages)
        self.head = nn.Sequential(nn.Conv2d(c, last_channels, 1, bias=False), nn.BatchNorm2d(last_channels),
                                  nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(last_channels, num_classes)

    def forward(self, x: torch.Tensor, path: Sequence[int] | None = None, weights: torch.Tensor | None = None) -> torch.Tensor:
        if (path is None) == (weights is None):
            raise ValueError("give the supernet exactly one of path (one op per layer) or weights (per-layer op weights)")
        if path is not None:
            path = [int(p) for p in path]
            if len(path) != N_LAYERS or not all(0 <= p < len(OP_SPECS) for p in path):
                raise ValueError(f"path must be {N_LAYERS} op digits below {len(OP_SPECS)}, got {path}")
        elif tuple(weights.shape) != (N_LAYERS, len(OP_SPECS)):  # type: ignore[union-attr]
            raise ValueError(f"weights must be shaped ({N_LAYERS}, {len(OP_SPECS)}), got {tuple(weights.shape)}")  # type: ignore[union-attr]
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
        own = self.state_dict()
        firsts = [sum(STAGES[:s]) for s in range(len(STAGES))]
        out = {}
        for name in NBMacroNetwork(digits, num_classes=self.num_classes, **self.options).state_dict():
            parts = name.split(".")
            if parts[0] == "stages":
                layer = firsts[int(parts[1])] + int(parts[2])
                parts = [*parts[:3], "candidates", str(digits[layer]), *parts[3:]]
            out[name] = own[".".join(parts)].clone()
        return out

    def extract(self, arch: Any) -> NBMacroNetwork:
        net = NBMacroNetwork(self.path_of(arch), num_classes=self.num_classes, **self.options)
        net.load_state_dict(self.sub_state_dict(arch))
        return net
