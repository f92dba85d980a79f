"""The stacked DARTS network in torch, written from the DARTS paper (Liu et al., ICLR 2019).

Skeleton: a 3x3 conv + BN stem at ``stem_multiplier * channels``; ``layers`` cells, where the
cells at 1/3 and 2/3 of the depth (indices ``layers // 3`` and ``2 * layers // 3``) are reduction
cells that halve the resolution and double the channels; global average pooling; a linear
classifier. For training a derived genotype from scratch (DARTS' evaluation protocol,
:mod:`.training`) the network takes ``auxiliary=True`` (an auxiliary classifier on the output of
the cell at 2/3 of the depth, used only in training) and a ``drop_path_prob`` attribute (each op
output other than an identity is zeroed per image with that probability during training and
rescaled by ``1 / (1 - p)``); both are off by default, so proxies and inherited-weight evaluation
see the plain network.

A cell at ``C`` channels reads the outputs of the two previous cells through preprocessing:
ReLU-conv1x1-BN for the previous cell's output, and the same for the one before, unless the
previous cell was a reduction, in which case that input is twice as large and goes through a
:class:`FactorizedReduce`. Node ``j`` sums its two ops; the output concatenates nodes 2..5 (4C).
In a reduction cell the ops reading the cell inputs have stride 2 (``skip_connect`` then is a
FactorizedReduce). Convs carry no bias and BNs are affine, as in DARTS' evaluation networks.

``affine=False`` switches the cell ops to DARTS' *search-phase* convention (non-affine BN in the
ops, and a non-affine BN after each pooling op, as DARTS' MixedOp does); stem, preprocessing and
classifier keep affine BN. That is the network NASLib builds for NAS-Bench-301, on which the
NAS-Bench-Suite-Zero subset's ``params`` were measured: with ``channels=32, layers=8,
affine=False`` our parameter count equals that column for all 725 cells.
"""

from __future__ import annotations

import torch
from torch import nn

from nasplug.core.errors import ConfigError
from nasplug.spaces.darts.genotype import CellGenes, DartsArch
from nasplug.spaces.pooling import AvgPool3x3


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv (no bias) -> BN."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 affine: bool = True) -> None:
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
                         nn.BatchNorm2d(c_out, affine=affine))


class DilConv(nn.Sequential):
    """ReLU -> dilated depthwise conv -> pointwise conv -> BN."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int, dilation: int,
                 affine: bool = True) -> None:
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_in, kernel_size, stride=stride, padding=padding, dilation=dilation,
                                   groups=c_in, bias=False),
                         nn.Conv2d(c_in, c_out, 1, bias=False),
                         nn.BatchNorm2d(c_out, affine=affine))


class SepConv(nn.Sequential):
    """Two stacked (ReLU, depthwise conv, pointwise conv, BN) blocks; only the first is strided."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int,
                 affine: bool = True) -> None:
        super().__init__(DilConv(c_in, c_in, kernel_size, stride, padding, 1, affine),
                         DilConv(c_in, c_out, kernel_size, 1, padding, 1, affine))


class Zero(nn.Module):
    """The ``none`` op: zeros shaped like the (strided) input."""

    #: A mixture leaves it out (its term is zero whatever its weight; see ``MixedOp``).
    outputs_zeros = True

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, ::self.stride, ::self.stride].mul(0.0)


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset 1x1 stride-2 convs, concatenated, then BN (an odd
    ``c_out`` gives the second conv the extra channel, as NAS-Bench-201's code does)."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_a = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_b = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        if x.shape[-1] % 2 or x.shape[-2] % 2:  # odd sizes: pad so both halves come out equal
            shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        else:
            shifted = x[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))


def make_op(name: str, channels: int, stride: int, affine: bool = True) -> nn.Module:
    """The module of genotype op ``name`` at ``channels`` channels and ``stride``; ``affine=False``
    is DARTS' search-phase form (non-affine BNs, BN after pooling)."""
    if name == "none":
        return Zero(stride)
    if name in ("avg_pool_3x3", "max_pool_3x3"):
        pool = (AvgPool3x3(stride) if name == "avg_pool_3x3"
                else nn.MaxPool2d(3, stride=stride, padding=1))
        return pool if affine else nn.Sequential(pool, nn.BatchNorm2d(channels, affine=False))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(channels, channels, affine)
    if name == "sep_conv_3x3":
        return SepConv(channels, channels, 3, stride, 1, affine)
    if name == "sep_conv_5x5":
        return SepConv(channels, channels, 5, stride, 2, affine)
    if name == "dil_conv_3x3":
        return DilConv(channels, channels, 3, stride, 2, 2, affine)
    if name == "dil_conv_5x5":
        return DilConv(channels, channels, 5, stride, 4, 2, affine)
    raise ValueError(f"unknown DARTS op {name!r}")


class Cell(nn.Module):
    """One DARTS cell: two preprocessed inputs, 4 nodes of two ops each, concat of nodes 2..5."""

    def __init__(self, genes: CellGenes, c_prev_prev: int, c_prev: int, channels: int,
                 reduction: bool, reduction_prev: bool, affine: bool = True) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = (FactorizedReduce(c_prev_prev, channels) if reduction_prev
                            else ReLUConvBN(c_prev_prev, channels, 1))
        self.preprocess1 = ReLUConvBN(c_prev, channels, 1)
        self.sources = tuple(source for _, source in genes)
        self.edge_ops = nn.ModuleList(
            make_op(op, channels, 2 if reduction and source < 2 else 1, affine) for op, source in genes)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(len(self.sources) // 2):
            outs = []
            for e in (2 * node, 2 * node + 1):
                h = self.edge_ops[e](states[self.sources[e]])
                if drop_prob > 0.0 and self.training and not isinstance(self.edge_ops[e], nn.Identity):
                    h = drop_path(h, drop_prob)
                outs.append(h)
            states.append(outs[0] + outs[1])
        return torch.cat(states[2:], dim=1)


def drop_path(x: torch.Tensor, prob: float) -> torch.Tensor:
    """Zero each image's ``x`` with probability ``prob`` and scale the kept ones by ``1 / (1 - prob)``
    (the expectation is unchanged); the masks come from torch's global generator."""
    keep = 1.0 - prob
    mask = torch.bernoulli(torch.full((x.shape[0], 1, 1, 1), keep, dtype=x.dtype, device=x.device))
    return x * mask / keep


class AuxiliaryHead(nn.Sequential):
    """DARTS' auxiliary CIFAR classifier on an 8x8 feature map: ReLU, 5x5 average pooling of
    stride 3 (to 2x2), 1x1 conv to 128 + BN + ReLU, 2x2 conv to 768 + BN + ReLU, linear."""

    def __init__(self, c_in: int, num_classes: int) -> None:
        super().__init__(
            nn.ReLU(), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(c_in, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(),
            nn.Flatten(), nn.Linear(768, num_classes))


def reduction_indices(layers: int) -> tuple[int, int]:
    """The cells that reduce: at 1/3 and 2/3 of the depth, as in DARTS."""
    return layers // 3, 2 * layers // 3


class DartsNetwork(nn.Module):
    """The DARTS network of one genotype; returns logits for NCHW images."""

    def __init__(self, arch: DartsArch, num_classes: int = 10, channels: int = 16, layers: int = 8,
                 stem_multiplier: int = 3, affine: bool = True, auxiliary: bool = False) -> None:
        super().__init__()
        for key, value, low in (("num_classes", num_classes, 1), ("channels", channels, 1), ("layers", layers, 3),
                                ("stem_multiplier", stem_multiplier, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"to_module option '{key}' must be an integer >= {low}, got {value!r}")
        for key, flag in (("affine", affine), ("auxiliary", auxiliary)):
            if not isinstance(flag, bool):
                raise ConfigError(f"to_module option '{key}' must be true or false, got {flag!r}")
        self.arch = arch
        c_stem = stem_multiplier * channels
        self.stem = nn.Sequential(nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem))
        reductions = reduction_indices(layers)
        c_prev_prev, c_prev, c = c_stem, c_stem, channels
        reduction_prev = False
        self.cells = nn.ModuleList()
        self.drop_path_prob = 0.0
        self.auxiliary_at = 2 * layers // 3
        self.auxiliary_head: nn.Module | None = None
        for i in range(layers):
            reduction = i in reductions
            if reduction:
                c *= 2
            self.cells.append(Cell(arch.reduce if reduction else arch.normal, c_prev_prev, c_prev, c,
                                   reduction, reduction_prev, affine))
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, 4 * c
            if auxiliary and i == self.auxiliary_at:
                self.auxiliary_head = AuxiliaryHead(c_prev, num_classes)
        # the last cell of each resolution: just before each reduction cell, and the final cell
        self.stage_ends = tuple(r - 1 for r in reductions) + (layers - 1,)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature map at the end of each resolution (32, 16, 8 px for CIFAR); the last is
        what the classifier pools. A stage with no normal cell ends at the stem."""
        s0 = s1 = self.stem(x)
        out = [s1] * sum(1 for e in self.stage_ends if e < 0)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i in self.stage_ends:
                out.append(s1)
        return out

    def forward_with_auxiliary(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits and, in training with ``auxiliary=True``, the auxiliary head's logits (else None)."""
        s0 = s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.auxiliary_at and self.auxiliary_head is not None and self.training:
                aux = self.auxiliary_head(s1)
        return self.classifier(torch.flatten(self.pool(s1), 1)), aux

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_auxiliary(x)[0]
