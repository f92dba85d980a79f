"""Constructed networks: a space's own network with every layer swapped for its representation.

:func:`construct` asks the space for ``to_module(arch)`` and performs module surgery: each
``nn.Conv2d`` becomes a :class:`~.layers.SynthConv2d` (kernel and bias from the shared bank, the
layer's own stride / padding / dilation / groups, then v-norm), each BatchNorm a
:class:`~.layers.PseudoBatchNorm`, each inner ``nn.Linear`` a :class:`~.layers.SynthLinear`.
Everything else (ReLU, pooling, identity, zero ops, additions and concatenations in ``forward``)
is kept as the space wrote it. The features the scorer reads are the global average of the last
map of ``forward_stages(x)`` (the map global pooling + classifier read); a network without
``forward_stages`` is read at the input of its final ``nn.Linear``; that classifier is replaced
by an identity in both cases.

This differs from the reference code, which keeps one hand-written copy per benchmark: ours
works for any space that builds networks, and follows each space's own network exactly (e.g.
NAS-Bench-201's final BN-ReLU is kept; the reference drops it and uses a 3x3 shortcut in the
second reduction block).
"""

from __future__ import annotations

from typing import Any, Hashable

import torch
import torch.nn.functional as F
from torch import nn

from nasplug.core.errors import ArchitectureError
from nasplug.core.interfaces.capabilities import Buildable, require
from nasplug.proxies.ftscorenet.kernels import FrequencyBank
from nasplug.proxies.ftscorenet.layers import PseudoBatchNorm, SynthConv2d, SynthLinear

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def _last_linear(module: nn.Module) -> str | None:
    name = None
    for n, m in module.named_modules():
        if isinstance(m, nn.Linear):
            name = n
    return name


def replace_layers(module: nn.Module, bank: FrequencyBank, *, vnorm: bool = True, skip: str | None = None) -> int:
    """Swap, in place, every conv / BN / linear of ``module`` for its representation; returns the
    number of convolutions replaced. The linear layer named ``skip`` becomes an identity."""
    count = 0
    for parent_name, parent in list(module.named_modules()):
        for name, child in list(parent.named_children()):
            full = f"{parent_name}.{name}" if parent_name else name
            if isinstance(child, nn.Conv2d):
                setattr(parent, name, SynthConv2d(bank, child, vnorm=vnorm))
                count += 1
            elif isinstance(child, _BATCH_NORMS):
                setattr(parent, name, PseudoBatchNorm())
            elif isinstance(child, nn.Linear):
                new = nn.Identity() if full == skip else SynthLinear(bank, child.in_features, child.out_features, vnorm=vnorm)
                setattr(parent, name, new)
    return count


class ConstructedNetwork(nn.Module):
    """The constructed network of one architecture; ``features(x)`` gives ``(N, C)`` pooled features."""

    def __init__(self, net: nn.Module, bank: FrequencyBank, *, vnorm: bool = True) -> None:
        super().__init__()
        self.staged = callable(getattr(net, "forward_stages", None))
        skip = _last_linear(net)  # the classifier: unused (staged) or bypassed
        if not self.staged and skip is None:
            raise ArchitectureError(
                f"{type(net).__name__} has neither forward_stages nor a final nn.Linear; FT-ScoreNet cannot read its features")
        self.convolutions = replace_layers(net, bank, vnorm=vnorm, skip=skip)
        self.net = net.eval()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.staged:
            last = self.net.forward_stages(x)[-1]
            return F.adaptive_avg_pool2d(last, 1).flatten(1)
        out = self.net(x)
        return out.flatten(1) if out.ndim > 2 else out

    forward = features


def _has_meta(module: nn.Module) -> bool:
    return any(t.is_meta for t in module.parameters()) or any(t.is_meta for t in module.buffers())


def construct(space: Any, arch: Hashable, bank: FrequencyBank, *, vnorm: bool = True) -> ConstructedNetwork:
    """The constructed network of ``arch`` in ``space``.

    The space's network is first built on the ``meta`` device (no weight allocation or
    initialisation, which dominates building time); if a parameter or buffer survives the
    surgery there, it is rebuilt on the CPU, leaving the caller's RNG state untouched.
    """
    require(space, Buildable, "FT-ScoreNet")
    try:
        with torch.device("meta"):
            built = ConstructedNetwork(space.to_module(arch, num_classes=10), bank, vnorm=vnorm)
        if not _has_meta(built):
            return built
    except (RuntimeError, TypeError, ValueError):
        pass  # a network that cannot be built on meta is built on the CPU below
    with torch.random.fork_rng(devices=[]):
        net = space.to_module(arch, num_classes=10)
    return ConstructedNetwork(net, bank, vnorm=vnorm)
