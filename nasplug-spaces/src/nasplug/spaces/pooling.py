"""The 3 x 3 average pooling of the cell spaces (NAS-Bench-201, DARTS), computed faster on CPU.

``nn.AvgPool2d(3, stride, padding=1, count_include_pad=False)`` is the cell op ``avg_pool_3x3``.
PyTorch's CPU kernel for it is slow next to the convolutions around it (on the 8-channel
NAS-Bench-201 supernet it took about a third of a DARTS step, forward and backward). The same
result is the sum of the nine shifted views of the zero-padded input, added in the kernel's own
order (row by row), divided by the number of real (non-padding) inputs under the window: the
output is bit-identical to PyTorch's, and so is the gradient, which adds each window's share back
into a padded buffer in the order PyTorch's backward does. Both are several times faster; double
backward (Hessian-vector products) works too. Other devices and layouts fall back to PyTorch.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


@functools.lru_cache(maxsize=64)
def _window_counts(height: int, width: int, stride: int, dtype: torch.dtype, device: str) -> torch.Tensor:
    """How many real inputs each 3 x 3 window (padding 1) covers, shaped (1, 1, H_out, W_out)."""
    return _window_sums(torch.ones(1, 1, height, width, dtype=dtype, device=device), stride)


def _out_size(size: int, stride: int) -> int:
    return (size - 1) // stride + 1


def _window_sums(x: torch.Tensor, stride: int) -> torch.Tensor:
    """The sum over each 3 x 3 window (zero padding 1), added row by row as PyTorch's kernel does."""
    height, width = x.shape[-2:]
    h_span, w_span = stride * (_out_size(height, stride) - 1) + 1, stride * (_out_size(width, stride) - 1) + 1
    padded = F.pad(x, (1, 1, 1, 1))
    total = None
    for i in range(3):
        for j in range(3):
            view = padded[..., i:i + h_span:stride, j:j + w_span:stride]
            total = view if total is None else total + view
    return total  # type: ignore[return-value]


def _spread(g: torch.Tensor, height: int, width: int, stride: int) -> torch.Tensor:
    """The adjoint of :func:`_window_sums`: each window's value added to the inputs under it, in
    the order PyTorch's backward adds them (output positions in ascending order)."""
    h_out, w_out = g.shape[-2:]
    padded = g.new_zeros((*g.shape[:-2], height + 2, width + 2))
    h_span, w_span = stride * (h_out - 1) + 1, stride * (w_out - 1) + 1
    for i in (2, 1, 0):
        for j in (2, 1, 0):
            padded[..., i:i + h_span:stride, j:j + w_span:stride] += g
    return padded[..., 1:height + 1, 1:width + 1]


class _WindowSums(torch.autograd.Function):
    """:func:`_window_sums` with :func:`_spread` as its backward (and the reverse for double
    backward, which the Hessian diagnostics of the differentiable methods take)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, stride: int) -> torch.Tensor:
        ctx.stride, ctx.size = stride, tuple(x.shape[-2:])
        return _window_sums(x, stride)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        return _Spread.apply(g.contiguous(), ctx.size, ctx.stride), None


class _Spread(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, g: torch.Tensor, size: tuple[int, int], stride: int) -> torch.Tensor:
        ctx.stride = stride
        return _spread(g, size[0], size[1], stride)

    @staticmethod
    def backward(ctx: Any, x: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return _WindowSums.apply(x.contiguous(), ctx.stride), None, None


class AvgPool3x3(nn.AvgPool2d):
    """``nn.AvgPool2d(3, stride, padding=1, count_include_pad=False)`` with the same output and
    a faster CPU path (see the module docstring); a subclass, so code that looks for
    ``nn.AvgPool2d`` (FLOP counters, hooks) still finds it, and the state dict is unchanged."""

    def __init__(self, stride: int = 1) -> None:
        super().__init__(3, stride=stride, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.device.type != "cpu" or not x.is_contiguous():
            return super().forward(x)
        stride = int(self.stride if isinstance(self.stride, int) else self.stride[0])
        height, width = x.shape[-2:]
        counts = _window_counts(int(height), int(width), stride, x.dtype, str(x.device))
        return _WindowSums.apply(x, stride) / counts
