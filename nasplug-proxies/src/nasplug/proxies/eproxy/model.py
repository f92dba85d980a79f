"""The networks Eproxy trains: the architecture without its head, a trainable transform layer per
branch, and a frozen, randomly initialised barrier layer (paper Eq. 1, Fig. 4; docs/methods/eproxy.md 2.1).

Branch ``i`` reads stage output ``i`` counted from the deepest (the final stage first, then the
one before the last down-sampling, then the one before the first), resized to the target grid
by nearest interpolation, as the authors' backbones do. The network's ``forward_stages`` gives
the stage outputs (see ``SearchSpace.to_module``); the classifier is never executed.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasplug.core.errors import ArchitectureError

#: The four initialisation schemes of the DPS space; ``default`` keeps torch's own init (what the
#: authors' code does when no scheme is configured, i.e. Eproxy without DPS).
INITS: tuple[str, ...] = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")


def initialise(module: nn.Module, scheme: str) -> None:
    """Re-initialise every conv / linear layer of ``module`` with ``scheme`` (Xavier: bias 0.01;
    Kaiming: fan-out, ReLU gain, bias 0) and reset affine BN to weight 1, bias 0. Affine-less BN
    is skipped (docs/methods/eproxy.md 2.3: the authors' init stops at the first one; we apply it to all conv
    and linear layers instead)."""
    if scheme == "default":
        return
    if scheme not in INITS:
        raise ValueError(f"unknown initialisation {scheme!r}; expected default or one of {', '.join(INITS)}")
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if scheme == "xavier_uniform":
                nn.init.xavier_uniform_(m.weight)
            elif scheme == "xavier_normal":
                nn.init.xavier_normal_(m.weight)
            elif scheme == "kaiming_uniform":
                nn.init.kaiming_uniform_(m.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0.01 if scheme.startswith("xavier") else 0.0)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def stage_outputs(network: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The network's stage outputs, deepest first; ``ArchitectureError`` if it has none."""
    forward_stages = getattr(network, "forward_stages", None)
    if forward_stages is None:
        raise ArchitectureError(
            f"{type(network).__name__} has no forward_stages(x); Eproxy needs the stage outputs of the network (see SearchSpace.to_module)")
    return list(forward_stages(x))[::-1]


class Transform(nn.Sequential):
    """The trainable transform layer of one branch: conv (same padding, bias) -> ReLU -> BN."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), nn.ReLU(), nn.BatchNorm2d(c_out))


class EproxyModel(nn.Module):
    """Network without head + one transform layer per branch; returns one map per branch."""

    def __init__(self, network: nn.Module, tap_channels: Sequence[int], out_channels: Sequence[int],
                 kernels: Sequence[int], size: int) -> None:
        super().__init__()
        self.network = network
        self.size = size
        self.transforms = nn.ModuleList(Transform(c, o, k) for c, o, k in zip(tap_channels, out_channels, kernels))

    @staticmethod
    def probe(network: nn.Module, x: torch.Tensor) -> tuple[list[int], list[bool]]:
        """Channels of the stage outputs (deepest first) and whether each depends on the input,
        from an eval-mode pass on two images (eval mode leaves the BN statistics untouched).

        A stage output that is the same for two different images carries nothing of the input:
        e.g. a NAS-Bench-201 cell whose every edge into the output node is ``none``."""
        was = network.training
        network.eval()
        with torch.no_grad():
            taps = stage_outputs(network, x[:2])
        network.train(was)
        varies = [t.shape[0] < 2 or bool((t[0] - t[1]).abs().max() > 1e-6 * (t.abs().max() + 1e-12)) for t in taps]
        return [int(t.shape[1]) for t in taps], varies

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = stage_outputs(self.network, x)
        out = []
        for transform, tap in zip(self.transforms, taps):
            if tap.shape[-2:] != (self.size, self.size):
                tap = F.interpolate(tap, size=(self.size, self.size), mode="nearest")
            out.append(transform(tap))
        return out


class Barrier(nn.Module):
    """The frozen barrier layer: per branch a conv (same padding, bias) whose weights keep their
    random initialisation; gradients flow through it to the transform, never into it."""

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int], kernels: Sequence[int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(c, o, k, padding=k // 2) for c, o, k in zip(in_channels, out_channels, kernels))

    def freeze(self) -> "Barrier":
        for p in self.parameters():
            p.requires_grad_(False)
        return self

    def forward(self, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [conv(x) for conv, x in zip(self.convs, xs)]


def parameter_groups(module: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Trainable parameters split as the authors do: weight decay on >= 2-D ``weight`` tensors
    (conv / linear kernels) only, none on biases and BN parameters."""
    decay, plain = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 and name.endswith("weight") else plain).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


class SGD:
    """SGD with momentum over parameter groups, performed by torch's own update
    (``torch.optim.sgd.sgd``, the function ``torch.optim.SGD.step`` calls). Building
    ``torch.optim.SGD`` imports ``torch._dynamo`` (7-10 s per process on a loaded 2-core
    machine), which would dominate short test runs and every fresh worker process."""

    def __init__(self, groups: list[dict[str, Any]], lr: float, momentum: float) -> None:
        self.groups = [dict(g, params=list(g["params"])) for g in groups]
        self.lr, self.momentum = lr, momentum
        self.buffers: dict[int, torch.Tensor | None] = {}

    def zero_grad(self) -> None:
        for group in self.groups:
            for p in group["params"]:
                p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        from torch.optim.sgd import sgd

        for group in self.groups:
            params = [p for p in group["params"] if p.grad is not None]
            buffers = [self.buffers.get(id(p)) for p in params]
            sgd(params, [p.grad for p in params], buffers, foreach=False, weight_decay=group["weight_decay"],
                momentum=self.momentum, lr=self.lr, dampening=0.0, nesterov=False, maximize=False)
            self.buffers.update((id(p), b) for p, b in zip(params, buffers))
