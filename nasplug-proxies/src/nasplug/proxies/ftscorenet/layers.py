"""The representations that replace a network's layers (paper III-B; docs/methods/ftscorenet.md 1.3).

* :class:`SynthConv2d` replaces ``nn.Conv2d``: ``F.conv2d`` with a kernel and bias synthesized
  from the shared :class:`~.kernels.FrequencyBank`, the layer's own stride, padding, dilation
  and groups, then v-norm (when on).
* :class:`SynthLinear` replaces an ``nn.Linear`` inside a network the same way (a 1x1 kernel).
* :class:`PseudoBatchNorm` replaces BatchNorm: per-element standardisation over the batch axis
  (mean and biased std over dim 0, ``+1e-5`` on the std), no affine map, no running statistics.
* :class:`SymLog` is the scorer's activation.

ReLU, pooling, identity (skip) and zero (none) stay the modules the network already uses: they
are their own representation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nasplug.proxies.ftscorenet.kernels import FrequencyBank
from nasplug.proxies.ftscorenet.vnorm import VNorm


class SynthConv2d(nn.Module):
    """A convolution whose weights come from the kernel bank (no parameters of its own)."""

    def __init__(self, bank: FrequencyBank, conv: nn.Conv2d, *, vnorm: bool = True) -> None:
        super().__init__()
        self.bank = [bank]  # a list keeps the bank out of this module's parameters
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size = tuple(conv.kernel_size)
        self.stride, self.dilation, self.groups = conv.stride, conv.dilation, conv.groups
        self.padding = conv.padding
        self.pre_pad: tuple[int, ...] | None = None
        self.pad_mode = conv.padding_mode
        if conv.padding_mode != "zeros":
            self.pre_pad = tuple(conv._reversed_padding_repeated_twice)
            self.padding = 0
        self.vnorm = VNorm() if vnorm else None

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        bank = self.bank[0]
        w = bank.kernel(self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        b = bank.bias(self.out_channels)
        if self.pre_pad is not None:
            x = F.pad(x, self.pre_pad, mode=self.pad_mode)
        return F.conv2d(x, w, b, stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.vnorm is None:
            return self._conv(x)
        return self.vnorm(lambda: self._conv(x))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"groups={self.groups}, vnorm={self.vnorm is not None}")


class SynthLinear(nn.Module):
    """A linear map whose weights are a synthesized 1x1 kernel (used for ``nn.Linear`` layers)."""

    def __init__(self, bank: FrequencyBank, in_features: int, out_features: int, *, vnorm: bool = True) -> None:
        super().__init__()
        self.bank = [bank]
        self.in_features, self.out_features = in_features, out_features
        self.vnorm = VNorm() if vnorm else None

    def _linear(self, x: torch.Tensor) -> torch.Tensor:
        bank = self.bank[0]
        w = bank.kernel(self.out_features, self.in_features, 1, 1).reshape(self.out_features, self.in_features)
        return F.linear(x, w, bank.bias(self.out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.vnorm is None:
            return self._linear(x)
        return self.vnorm(lambda: self._linear(x))


class PseudoBatchNorm(nn.Module):
    """Standardise every element over the batch axis: ``(x - mean_0) / (std_0 + eps)``."""

    def __init__(self, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # by hand: torch's std over dim 0 is ~3x slower on CPU. The clamp keeps the gradient at
        # zero (as torch's std does) where an element is constant over the batch.
        centred = x - x.mean(dim=0, keepdim=True)
        std = (centred * centred).mean(dim=0, keepdim=True).clamp_min(1e-20).sqrt()
        return centred / (std + self.eps)


class SymLog(nn.Module):
    """``sign(x) * log2(1 + |x|)`` with the sign smoothed linearly inside ``±eps``.

    This is the reference code's form (``hardtanh(x, -eps, eps) / eps * log2(1 + |x|)``), which
    equals the paper's Eq. 3 up to the log base outside ``±eps`` and is differentiable at 0.
    """

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.hardtanh(x, -self.eps, self.eps) / self.eps * torch.log2(1.0 + x.abs())
