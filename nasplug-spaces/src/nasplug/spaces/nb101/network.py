"""The NAS-Bench-101 network in torch, written from the paper's description (Ying et al., 2019).

Skeleton: a 3x3 conv-BN-ReLU stem at ``stem_channels`` (128); ``stacks`` (3) stacks of
``cells_per_stack`` (3) cells; a 2x2 max-pool (stride 2) before every stack but the first, after
which the cells double the channels; global average pooling; a linear classifier.

Inside a cell with ``C`` output channels (the vertex-channel rule of NAS-Bench-101):

- the vertices feeding the output share ``C`` between them (``C // k`` each, the first
  ``C % k`` of them one more), and the outputs of those vertices are concatenated;
- every other interior vertex takes the largest channel count among its interior successors;
- an interior vertex sums its inputs: interior predecessors truncated to its channel count (their
  first channels), and the cell input through a 1x1 conv-BN-ReLU projection when connected to it;
- an input -> output edge adds a projection of the cell input to the concatenation (when the cell
  is just input -> output, the projection is the output).

Convs carry no bias and every BN is affine, as in the benchmark's TensorFlow model (BN momentum
0.997, epsilon 1e-5). :func:`count_parameters` counts the same network analytically; with the
defaults both equal the ``params`` column of the NAS-Bench-Suite-Zero subset for all 500 cells.
"""

from __future__ import annotations


import torch
from torch import nn

from nasplug.core.errors import ConfigError
from nasplug.spaces.nb101.cell import NB101Cell

_BN_MOMENTUM = 1.0 - 0.997  # torch counts momentum the other way round
_BN_EPS = 1e-5


def vertex_channels(cell: NB101Cell, in_channels: int, out_channels: int) -> list[int]:
    """The channel count of every vertex of ``cell`` (input first, output last)."""
    m = cell.matrix
    n = len(cell.ops)
    channels = [0] * n
    channels[0], channels[-1] = in_channels, out_channels
    if n == 2:
        return channels
    feeding = [v for v in range(1, n - 1) if m[v][n - 1]]
    share, extra = divmod(out_channels, len(feeding))
    for rank, v in enumerate(feeding):
        channels[v] = share + (1 if rank < extra else 0)
    for v in range(n - 3, 0, -1):
        if not m[v][n - 1]:
            channels[v] = max(channels[w] for w in range(v + 1, n - 1) if m[v][w])
    return channels


class ConvBNReLU(nn.Sequential):
    """Conv (no bias) -> affine BN -> ReLU: the convolution ops and the 1x1 projections."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(c_out, momentum=_BN_MOMENTUM, eps=_BN_EPS),
            nn.ReLU(inplace=False),
        )


def make_op(name: str, channels: int) -> nn.Module:
    """The module of interior op ``name`` at ``channels`` channels (shape-preserving)."""
    if name == "conv3x3-bn-relu":
        return ConvBNReLU(channels, channels, 3)
    if name == "conv1x1-bn-relu":
        return ConvBNReLU(channels, channels, 1)
    if name == "maxpool3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    raise ValueError(f"unknown NAS-Bench-101 op {name!r}")


class Cell(nn.Module):
    """One NAS-Bench-101 cell (module) from ``in_channels`` to ``out_channels``."""

    def __init__(self, cell: NB101Cell, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.matrix = cell.matrix
        self.n = n = len(cell.ops)
        self.channels = vertex_channels(cell, in_channels, out_channels)
        self.ops = nn.ModuleList(nn.Identity() if v in (0, n - 1) else make_op(cell.ops[v], self.channels[v])
                                 for v in range(n))
        # projections[v]: the cell input projected to vertex v's channels (Identity where unused)
        self.projections = nn.ModuleList(
            ConvBNReLU(in_channels, self.channels[v], 1) if self.matrix[0][v] else nn.Identity()
            for v in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m = self.n, self.matrix
        if n == 2:
            return self.projections[1](x)
        states: list[torch.Tensor] = [x]
        for v in range(1, n - 1):
            c = self.channels[v]
            terms = [states[u][:, :c] for u in range(1, v) if m[u][v]]
            if m[0][v]:
                terms.append(self.projections[v](x))
            total = terms[0]
            for t in terms[1:]:
                total = total + t
            states.append(self.ops[v](total))
        feeding = [states[v] for v in range(1, n - 1) if m[v][n - 1]]
        out = feeding[0] if len(feeding) == 1 else torch.cat(feeding, dim=1)
        if m[0][n - 1]:
            out = out + self.projections[n - 1](x)
        return out


def _check(**values: int) -> None:
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"to_module option '{key}' must be an integer >= 1, got {value!r}")


class NB101Network(nn.Module):
    """The NAS-Bench-101 network for one cell; returns logits for NCHW images."""

    def __init__(self, cell: NB101Cell, num_classes: int = 10, stem_channels: int = 128,
                 stacks: int = 3, cells_per_stack: int = 3) -> None:
        super().__init__()
        _check(num_classes=num_classes, stem_channels=stem_channels, stacks=stacks, cells_per_stack=cells_per_stack)
        self.cell = cell
        self.stem = ConvBNReLU(3, stem_channels, 3)
        self.stacks = nn.ModuleList()
        c_in = c = stem_channels
        for stack in range(stacks):
            layers: list[nn.Module] = []
            if stack > 0:
                layers.append(nn.MaxPool2d(2, stride=2, ceil_mode=True))  # TF 'same' pooling
                c *= 2
            for _ in range(cells_per_stack):
                layers.append(Cell(cell, c_in, c))
                c_in = c
            self.stacks.append(nn.Sequential(*layers))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output of every stack (32, 16, 8 px for CIFAR), the last being what the classifier reads."""
        out = []
        x = self.stem(x)
        for stack in self.stacks:
            x = stack(x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stack in self.stacks:
            x = stack(x)
        return self.classifier(torch.flatten(self.pool(x), 1))


def count_parameters(cell: NB101Cell, num_classes: int = 10, stem_channels: int = 128,
                     stacks: int = 3, cells_per_stack: int = 3) -> int:
    """The parameter count of :class:`NB101Network`, computed without building it."""
    _check(num_classes=num_classes, stem_channels=stem_channels, stacks=stacks, cells_per_stack=cells_per_stack)

    def conv_bn(c_in: int, c_out: int, k: int) -> int:
        return k * k * c_in * c_out + 2 * c_out

    def cell_parameters(c_in: int, c_out: int) -> int:
        channels = vertex_channels(cell, c_in, c_out)
        count = 0
        for v in range(1, n - 1):
            if cell.matrix[0][v]:
                count += conv_bn(c_in, channels[v], 1)
            if cell.ops[v].startswith("conv"):
                count += conv_bn(channels[v], channels[v], 3 if cell.ops[v].startswith("conv3x3") else 1)
        if n == 2 or cell.matrix[0][n - 1]:
            count += conv_bn(c_in, c_out, 1)
        return count

    n = len(cell.ops)
    total = conv_bn(3, stem_channels, 3)
    c = stem_channels
    for stack in range(stacks):
        c_in = c
        if stack > 0:
            c *= 2
        # the first cell of a stack changes the channels; the others repeat one count
        total += cell_parameters(c_in, c) + (cells_per_stack - 1) * cell_parameters(c, c)
    return total + c * num_classes + num_classes
