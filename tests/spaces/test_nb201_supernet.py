"""The NAS-Bench-201 supernet: a single path or a one-hot mixture equals the discrete network with
the same weights; extraction copies every parameter and BN statistic; BN recalibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasplug.core.interfaces.capabilities import HasSupernet
from nasplug.core.oneshot.evaluate import recalibrate_bn
from nasplug.spaces.nb201 import NB201Space
from nasplug.spaces.nb201.space import OPS


@pytest.fixture(scope="module")
def trained():
    """A small supernet after a few SGD steps on random single paths, so every weight and BN
    statistic differs from its initial value."""
    torch.manual_seed(0)
    space = NB201Space()
    net = space.supernet(channels=4, cells_per_stage=2)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    rng = np.random.default_rng(0)
    for _ in range(6):
        x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x, path=rng.integers(0, 5, 6)), y).backward()
        opt.step()
    return space, net.eval()


def test_space_offers_a_supernet():
    assert isinstance(NB201Space(), HasSupernet)
    assert NB201Space().supernet(channels=4, cells_per_stage=1).decisions == (5,) * 6


@pytest.mark.parametrize("seed", range(4))
def test_a_single_path_equals_the_spaces_own_network_with_inherited_weights(trained, seed):
    space, net = trained
    arch = space.sample(np.random.default_rng(seed))
    discrete = space.to_module(arch, channels=4, cells_per_stage=2)
    discrete.load_state_dict(net.sub_state_dict(arch))
    discrete.eval()
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    path = net.path_of(arch)
    with torch.no_grad():
        expected = discrete(x)
        assert torch.equal(net(x, path=path), expected)
        assert torch.equal(net.extract(arch).eval()(x), expected)
        one_hot = torch.zeros(6, 5)
        one_hot[range(6), list(path)] = 1.0
        assert torch.allclose(net(x, weights=one_hot), expected, atol=1e-6)


def test_extraction_copies_the_chosen_candidates_weights(trained):
    space, net = trained
    arch = ("nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3", "nor_conv_3x3", "none")
    sub = net.extract(arch)
    conv = sub.cells[0].edge_ops[0][1].weight
    assert torch.equal(conv, net.cells[0].edge_ops[0].candidates[OPS.index("nor_conv_3x3")][1].weight)
    assert not torch.equal(conv, net.cells[1].edge_ops[0].candidates[OPS.index("nor_conv_3x3")][1].weight)
    assert torch.equal(sub.cells[0].edge_ops[1][2].running_mean,
                       net.cells[0].edge_ops[1].candidates[OPS.index("nor_conv_1x1")][2].running_mean)
    sub.cells[0].edge_ops[0][1].weight.data.add_(1.0)  # a copy: the supernet is untouched
    assert not torch.equal(sub.cells[0].edge_ops[0][1].weight, net.cells[0].edge_ops[0].candidates[3][1].weight)


def test_mixture_is_the_weighted_sum_of_the_ops(trained):
    space, net = trained
    x = torch.randn(2, 3, 32, 32)
    # on the first edge only: w * conv3 + (1 - w) * skip, every other edge a fixed op
    w = torch.zeros(6, 5)
    w[1:, 1] = 1.0
    w[0, 3], w[0, 1] = 0.3, 0.7
    cell = net.cells[0]
    with torch.no_grad():
        h = net.stem(x)
        edge0 = cell.edge_ops[0]
        expected = 0.3 * edge0.candidates[3](h) + 0.7 * h
        assert torch.allclose(edge0(h, None, w[0]), expected, atol=1e-6)


def test_bad_path_or_weights_are_rejected():
    net = NB201Space().supernet(channels=4, cells_per_stage=1)
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ValueError, match="exactly one of path"):
        net(x)
    with pytest.raises(ValueError, match=r"6 option indices \(one per edge, each below 5\)"):
        net(x, path=[0, 1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match=r"weights must be shaped \(6, 5\)"):
        net(x, weights=torch.ones(6, 4))


def test_bn_recalibration_sets_running_stats_to_the_batch_average():
    bn_net = torch.nn.Sequential(torch.nn.BatchNorm2d(3))
    batches = [torch.randn(4, 3, 8, 8) + i for i in range(3)]
    recalibrate_bn(bn_net, batches)
    bn = bn_net[0]
    means = torch.stack([b.mean(dim=(0, 2, 3)) for b in batches]).mean(0)
    assert torch.allclose(bn.running_mean, means, atol=1e-5)
    assert bn.momentum == 0.1 and not bn_net.training and int(bn.num_batches_tracked) == 3
