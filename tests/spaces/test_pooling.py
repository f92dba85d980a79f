"""The fast 3 x 3 average pooling of the cell spaces, and the mixture that leaves ``none`` out:
both must give exactly what the plain PyTorch forms give, values and gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nasplug.spaces.darts.network import make_op as darts_op
from nasplug.spaces.nb201.network import make_op as nb201_op
from nasplug.spaces.nb201.space import OPS
from nasplug.spaces.pooling import AvgPool3x3
from nasplug.spaces.supernets import MixedOp


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (4, 8, 32, 32), (1, 1, 1, 1), (3, 2, 2, 3), (2, 6, 9, 8)])
def test_same_values_and_gradients_as_pytorch_bit_for_bit(shape, stride):
    torch.manual_seed(0)
    x = torch.randn(*shape, requires_grad=True)
    ours, ref = AvgPool3x3(stride)(x), nn.AvgPool2d(3, stride, 1, count_include_pad=False)(x)
    assert ours.shape == ref.shape
    assert torch.equal(ours, ref)
    g = torch.randn_like(ref)
    assert torch.equal(torch.autograd.grad(ours, x, g)[0], torch.autograd.grad(ref, x, g)[0])


def test_known_answer_at_a_corner_and_in_the_middle():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    y = AvgPool3x3(1)(x)
    assert y[0, 0, 0, 0] == (0 + 1 + 4 + 5) / 4  # padding does not count
    assert y[0, 0, 1, 1] == sum(range(0, 3)) / 9 + sum(range(4, 7)) / 9 + sum(range(8, 11)) / 9


@pytest.mark.parametrize("stride", [1, 2])
def test_second_derivatives_for_hessian_vector_products(stride):
    x = torch.randn(2, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(AvgPool3x3(stride), (x,))
    assert torch.autograd.gradgradcheck(AvgPool3x3(stride), (x,))


def test_other_layouts_fall_back_to_pytorch():
    x = torch.randn(2, 4, 6, 6).contiguous(memory_format=torch.channels_last)
    assert torch.equal(AvgPool3x3(1)(x), nn.AvgPool2d(3, 1, 1, count_include_pad=False)(x))


def test_the_spaces_use_it_and_still_count_as_avgpool():
    assert isinstance(nb201_op("avg_pool_3x3", 4), AvgPool3x3)
    assert isinstance(darts_op("avg_pool_3x3", 4, 2), AvgPool3x3)
    assert isinstance(nb201_op("avg_pool_3x3", 4), nn.AvgPool2d)


def test_a_mixture_without_the_none_term_has_the_same_output_and_gradients():
    torch.manual_seed(0)
    ops = [nb201_op(op, 4) for op in OPS]
    mixed = MixedOp(ops)
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    alpha = torch.randn(len(OPS), requires_grad=True)
    out = mixed(x, weights=torch.softmax(alpha, 0))
    w = torch.softmax(alpha, 0)
    explicit = sum(w[k] * op(x) for k, op in enumerate(ops))  # ``none`` included
    assert torch.equal(out, explicit)
    g = torch.randn_like(out)
    assert all(torch.equal(a, b) for a, b in zip(torch.autograd.grad(out, (x, alpha), g),
                                                 torch.autograd.grad(explicit, (x, alpha), g)))
    # ``none`` alone: still the zero tensor, still connected to its weight
    only_none = torch.zeros(len(OPS))
    only_none[OPS.index("none")] = 1.0
    only_none.requires_grad_(True)
    y = mixed(x.detach(), weights=only_none)
    assert torch.equal(y, torch.zeros_like(y))
    assert torch.autograd.grad(y.sum(), only_none)[0][OPS.index("none")] == 0.0
