"""The MobileNet-like (OFA MobileNetV3) supernet: a choice block per searched layer slot.

The skeleton is :class:`~nasplug.spaces.mobilenet.network.MobileNetV3Subnet`'s, module for module.
Each of a unit's 4 slots is a :class:`~nasplug.spaces.supernets.MixedOp` over the 9 MBConv
layers (kernel {3, 5, 7} x expansion {3, 4, 6}); slots 3-4 have a 10th option first, ``absent``
(the identity: a unit of depth 2 or 3), so ``decisions`` is ``(9, 9, 10, 10) x 5``. Option ``j``
of slots 1-2 is digit ``j + 1`` of the space's 20-digit string, option ``j`` of slots 3-4 is digit
``j``. Every candidate has its own weights (a choice block per layer, as SPOS's and FairNAS's
supernets; OFA's elastic kernel sharing is not used). A sub-network is the space's
``to_module(arch)`` with the chosen candidates' weights (:meth:`MobileNetSupernet.extract`).

A path with an absent slot 3 and a present slot 4 (a gap, not a member of the space) runs as
built; :meth:`arch_of` maps it to the member without slot 4, which is also what ``discretise``
derives from per-slot weights.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from nasplug.core.errors import ConfigError
from nasplug.spaces.mobilenet.network import MBConv, MobileNetV3Subnet
from nasplug.spaces.mobilenet.plan import UNIT_ACTS, UNIT_SE, UNIT_STRIDES, LayerSpec, widths
from nasplug.spaces.mobilenet.space import DIGIT_TO_KE, LAYER_OPS, N_UNITS, SLOTS_PER_UNIT, to_mobilenet
from nasplug.spaces.supernets import ArgmaxDiscretise, MixedOp, check_path_or_weights, inherit

#: Slots 1-2 of a unit are always present; slots 3-4 may be absent.
OPTIONAL = (False, False, True, True)


class MobileNetSupernet(ArgmaxDiscretise, nn.Module):
    """Weight-sharing MobileNet-like network (``width_mult`` and ``dropout`` as ``to_module``)."""

    decisions: tuple[int, ...] = tuple(10 if optional else 9 for _ in range(N_UNITS) for optional in OPTIONAL)
    option_names: tuple[tuple[str, ...], ...] = tuple(
        (("identity", *LAYER_OPS) if optional else LAYER_OPS) for _ in range(N_UNITS) for optional in OPTIONAL)

    def __init__(self, num_classes: int = 10, width_mult: float = 1.2, dropout: float = 0.1) -> None:
        super().__init__()
        if isinstance(width_mult, bool) or not isinstance(width_mult, (int, float)) or not 0.1 <= width_mult <= 4.0:
            raise ConfigError(f"supernet option 'width_mult' must be a number in [0.1, 4.0], got {width_mult!r}")
        self.num_classes, self.options = num_classes, {"width_mult": float(width_mult), "dropout": float(dropout)}
        w = widths(float(width_mult))
        self.stem = nn.Sequential(nn.Conv2d(3, w[0], 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w[0]),
                                  nn.Hardswish(inplace=True))
        self.first_block = MBConv(LayerSpec(w[0], w[1], 3, 1, 1, "relu", False))
        units, c = [], w[1]
        for u in range(N_UNITS):
            slots = []
            for i, optional in enumerate(OPTIONAL):
                stride = UNIT_STRIDES[u] if i == 0 else 1
                layers = [MBConv(LayerSpec(c, w[2 + u], k, e, stride, UNIT_ACTS[u], UNIT_SE[u])) for k, e in DIGIT_TO_KE.values()]
                slots.append(MixedOp(([nn.Identity()] if optional else []) + layers))
                c = w[2 + u]
            units.append(nn.ModuleList(slots))
        self.units = nn.ModuleList(units)
        self.final_expand = nn.Sequential(nn.Conv2d(c, w[7], 1, bias=False), nn.BatchNorm2d(w[7]), nn.Hardswish(inplace=True))
        self.feature_mix = nn.Sequential(nn.Conv2d(w[7], w[8], 1, bias=False), nn.Hardswish(inplace=True))
        self.dropout = nn.Dropout(float(dropout))
        self.classifier = nn.Linear(w[8], num_classes)

    def forward(self, x: torch.Tensor, path: Sequence[int] | None = None, weights: torch.Tensor | None = None) -> torch.Tensor:
        path = check_path_or_weights(path, weights, self.decisions, "layer slot")
        x = self.first_block(self.stem(x))
        k = 0
        for unit in self.units:
            for slot in unit:
                x = slot(x, None if path is None else path[k], None if weights is None else weights[k])
                k += 1
        x = self.final_expand(x).mean((2, 3), keepdim=True)
        return self.classifier(self.dropout(torch.flatten(self.feature_mix(x), 1)))

    @staticmethod
    def path_of(arch: Any) -> tuple[int, ...]:
        digits = to_mobilenet(arch)
        return tuple(d if OPTIONAL[i % SLOTS_PER_UNIT] else d - 1 for i, d in enumerate(digits))

    @staticmethod
    def arch_of(path: Sequence[int]) -> tuple[int, ...]:
        digits = [int(p) if OPTIONAL[i % SLOTS_PER_UNIT] else int(p) + 1 for i, p in enumerate(path)]
        for u in range(N_UNITS):
            if digits[SLOTS_PER_UNIT * u + 2] == 0:  # a gap: slot 4 cannot follow an absent slot 3
                digits[SLOTS_PER_UNIT * u + 3] = 0
        return to_mobilenet(tuple(digits))

    def sub_state_dict(self, arch: Any) -> dict[str, torch.Tensor]:
        """The state dict of ``to_module(arch)`` taken from this supernet (tensors cloned)."""
        path = self.path_of(arch)

        def rename(parts: list[str]) -> list[str]:
            if parts[0] == "units":
                u, i = int(parts[1]), int(parts[2])
                return [*parts[:3], "candidates", str(path[SLOTS_PER_UNIT * u + i]), *parts[3:]]
            return parts

        return inherit(self._subnet(arch), self, rename)

    def _subnet(self, arch: Any) -> MobileNetV3Subnet:
        from nasplug.spaces.mobilenet.space import MobileNetSpace

        space = MobileNetSpace(MobileNetSpace.Config(width_mult=self.options["width_mult"], dropout=self.options["dropout"]))
        return space.to_module(arch, num_classes=self.num_classes)

    def extract(self, arch: Any) -> MobileNetV3Subnet:
        net = self._subnet(arch)
        net.load_state_dict(self.sub_state_dict(arch))
        return net
