"""The Fourier kernel bank: one learnable frequency tensor from which every convolution kernel
and bias of a constructed network is synthesized (FT-ScoreNet, paper III-B1; docs/methods/ftscorenet.md 1.2).

The bank holds ``channels * channels`` maps of ``k x k`` (64 * 64 maps of 7 x 7 by default,
i.i.d. N(0, 1)) and ``channels`` bias values (N(0, 1) / 1000). A kernel of any shape
``(c_out, c_in, kh, kw)`` is made by

1. a 2-D orthonormal FFT of every map to ``(kh, kw)`` (torch's ``s=`` zero-pads or trims),
   times ``sqrt(kh / k)`` and ``sqrt(kw / k)`` where the map was padded up (the paper's
   ``sqrt(N / K)`` energy rule, Eq. 1-2; never applied when trimming);
2. a 1-D orthonormal FFT along the map axis to ``n = c_out * c_in`` maps (padded or trimmed),
   then the magnitude, times ``sqrt(n / channels**2)`` where padded up;
3. a reshape to ``(c_out, c_in, kh, kw)`` (entry ``(o, i)`` is map ``o * c_in + i``) and the
   Kaiming-style factor ``gain / sqrt(c_in * kh * kw)``.

Every weight is therefore non-negative and a smooth, differentiable function of the bank.
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator

import torch
from torch import nn

#: Gains by nonlinearity, as the reference code uses them (``relu`` everywhere by default).
GAINS = {"relu": math.sqrt(2.0), "selu": 0.75, "tanh": 5.0 / 3.0, "linear": 1.0}


def pad_gain(target: int, source: int) -> float:
    """``sqrt(target / source)`` when zero-padding ``source`` up to ``target`` samples, else 1."""
    return math.sqrt(target / source) if target > source else 1.0


def synthesize_kernel(maps: torch.Tensor, shape: tuple[int, int, int, int], gain: float = GAINS["relu"]) -> torch.Tensor:
    """A ``shape = (c_out, c_in, kh, kw)`` kernel from the frequency maps ``maps`` (M, k, k)."""
    c_out, c_in, kh, kw = (int(s) for s in shape)
    if min(c_out, c_in, kh, kw) < 1:
        raise ValueError(f"kernel shape must be positive, got {shape}")
    m, k_h, k_w = maps.shape
    spatial = torch.fft.fft2(maps, s=(kh, kw), norm="ortho")
    spatial = spatial * (pad_gain(kh, k_h) * pad_gain(kw, k_w))
    n = c_out * c_in
    mixed = torch.fft.fft(spatial, n=n, dim=0, norm="ortho").abs() * pad_gain(n, m)
    return mixed.reshape(c_out, c_in, kh, kw) * (gain / math.sqrt(c_in * kh * kw))


def synthesize_bias(values: torch.Tensor, c_out: int) -> torch.Tensor:
    """A length-``c_out`` bias: magnitude of the orthonormal FFT of the bias maps, padded or trimmed."""
    out = torch.fft.fft(values, n=int(c_out), dim=0, norm="ortho").abs()
    return out * pad_gain(int(c_out), values.shape[0])


class FrequencyBank(nn.Module):
    """The learnable frequency tensor (``channels**2`` maps of ``k x k``) and bias maps.

    ``kernel`` and ``bias`` synthesize tensors for a requested shape. Inside ``cached()`` results
    are memoised by shape, so a network with many equal layers synthesizes each shape once per
    forward pass; the cache must not outlive a parameter update.
    """

    def __init__(self, channels: int = 64, kernel_size: int = 7, *, generator: torch.Generator | None = None,
                 nonlinearity: str = "relu") -> None:
        super().__init__()
        if nonlinearity not in GAINS:
            raise ValueError(f"unknown nonlinearity {nonlinearity!r}; expected one of {', '.join(GAINS)}")
        self.channels, self.kernel_size, self.gain = channels, kernel_size, GAINS[nonlinearity]
        self.maps = nn.Parameter(torch.randn(channels * channels, kernel_size, kernel_size, generator=generator))
        self.bias_maps = nn.Parameter(torch.randn(channels, generator=generator) / 1000.0)
        self._cache: dict | None = None
        self._leaves: list | None = None

    @contextlib.contextmanager
    def cached(self) -> Iterator[None]:
        """Memoise synthesized tensors by shape until the block exits (re-entrant)."""
        if self._cache is not None:
            yield
            return
        self._cache = {}
        try:
            yield
        finally:
            self._cache = None

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Synthesize each shape once for several backward passes (one training step).

        Inside the block, a grad-enabled ``kernel``/``bias`` returns a detached leaf copy of the
        synthesized tensor; backward passes accumulate into the leaves, and on exit their
        gradients are sent through the synthesis once. Equivalent to back-propagating every pass
        through the synthesis, at the synthesis cost of a single pass.
        """
        if self._cache is not None:
            raise RuntimeError("deferred() cannot be nested in another synthesis cache")
        self._cache, self._leaves = {}, []
        try:
            yield
            pairs = [(t, leaf.grad) for t, leaf in self._leaves if leaf.grad is not None]
            if pairs:
                torch.autograd.backward([t for t, _ in pairs], [g for _, g in pairs])
        finally:
            self._cache, self._leaves = None, None

    def _memo(self, key: tuple, make) -> torch.Tensor:
        if self._cache is None:
            return make()
        key = key + (torch.is_grad_enabled(),)
        hit = self._cache.get(key)
        if hit is None:
            hit = make()
            if self._leaves is not None and hit.requires_grad:
                leaf = hit.detach().requires_grad_(True)
                self._leaves.append((hit, leaf))
                hit = leaf
            self._cache[key] = hit
        return hit

    def kernel(self, c_out: int, c_in: int, kh: int, kw: int) -> torch.Tensor:
        """The ``(c_out, c_in, kh, kw)`` kernel (for grouped convolutions pass ``c_in / groups``)."""
        shape = (int(c_out), int(c_in), int(kh), int(kw))
        return self._memo(("w",) + shape, lambda: synthesize_kernel(self.maps, shape, self.gain))

    def bias(self, c_out: int) -> torch.Tensor:
        """The length-``c_out`` bias."""
        return self._memo(("b", int(c_out)), lambda: synthesize_bias(self.bias_maps, c_out))
