"""The DARTS supernet: a genotype's path (two chosen edges per node, every other edge none) equals
the discrete network with inherited weights, paths and genotypes map both ways, and SPOS trains on
it by sampling genotypes from the space."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasplug.core.errors import ArchitectureError
from nasplug.spaces.darts.space import DartsSpace
from nasplug.spaces.darts.supernet import EDGES


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    space = DartsSpace()
    net = space.supernet(channels=4, layers=3)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    rng = np.random.default_rng(0)
    for _ in range(3):
        opt.zero_grad()
        path = net.path_of(space.sample(rng))
        torch.nn.functional.cross_entropy(net(torch.randn(2, 3, 32, 32), path=path), torch.randint(0, 10, (2,))).backward()
        opt.step()
    return space, net.eval()


@pytest.mark.parametrize("seed", range(3))
def test_a_genotype_path_equals_the_discrete_network_with_inherited_weights(trained, seed):
    space, net = trained
    arch = space.sample(np.random.default_rng(10 + seed))
    path = net.path_of(arch)
    assert len(path) == 28 and sum(p != 0 for p in path) == 16  # two inputs per node, 4 nodes, 2 cells
    assert space.canonical(net.arch_of(path)) == space.canonical(arch)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    discrete = space.to_module(arch, channels=4, layers=3, affine=False)
    discrete.load_state_dict(net.extract(arch).state_dict())
    with torch.no_grad():
        expected = discrete.eval()(x)
        assert torch.equal(net(x, path=path), expected)
        one_hot = torch.zeros(28, 8)
        one_hot[range(28), list(path)] = 1.0
        assert torch.allclose(net(x, weights=one_hot), expected, atol=1e-5)


def test_paths_that_are_not_genotypes_are_named():
    net = DartsSpace().supernet(channels=4, layers=3)
    with pytest.raises(ArchitectureError, match="3 inputs at node 3 of the normal cell"):
        net.arch_of([1] * len(EDGES) + [0] * len(EDGES))


def test_spos_trains_the_darts_supernet_on_genotypes():
    from nasplug.search.oneshot import SPOS

    space = DartsSpace()
    net = space.supernet(channels=4, layers=3)
    spos = SPOS(space=space)
    for seed in range(5):
        (path,) = spos.paths(net, np.random.default_rng(seed))
        net.arch_of(path)  # a member
    metrics = spos.train_step(net, torch.randn(2, 3, 32, 32), torch.randint(0, 10, (2,)),
                              torch.optim.SGD(net.parameters(), lr=0.1), np.random.default_rng(0))
    assert np.isfinite(metrics["loss"])


def test_te_nas_measuring_networks_take_the_first_cells_without_stem_and_a_head():
    """TE-NAS' DARTS networks (NAS-Bench-201 code's NASNetworkDARTS with C=1, N=1, depth 2):
    a normal cell of 1 channel then a reduction cell of 2, output 4 x 2 channels; without the
    stem the input goes straight into the cells (1 channel at stem multiplier 1); the head is BN +
    ReLU before the pooling, so every pooled feature is >= 0."""
    from nasplug.core.errors import ConfigError

    space = DartsSpace()
    thin = space.supernet(channels=1, layers=3, depth=2, stem=False, stem_multiplier=1, affine=True, head=True)
    assert thin.in_channels == 1 and len(thin.cells) == 2
    assert [cell.reduction for cell in thin.cells] == [False, True]
    assert thin.classifier.in_features == 8  # 4 nodes x 2 channels of the reduction cell
    weights = torch.full((28, 8), 1 / 8)
    x = torch.randn(5, 1, 3, 3)  # TE-NAS' 3 x 3 single-channel crops (odd sizes through the reduction)
    assert thin(x, weights=weights).shape == (5, 10)
    pooled = []
    handle = thin.pool.register_forward_hook(lambda m, i, o: pooled.append(o))
    thin(x, weights=weights)
    handle.remove()
    assert (pooled[0] >= 0).all()
    ntk = space.supernet(channels=1, layers=3, depth=2, stem_multiplier=1, affine=True, head=True)
    assert ntk.in_channels == 3 and ntk(torch.randn(2, 3, 32, 32), weights=weights).shape == (2, 10)
    with pytest.raises(ConfigError, match="truncated"):
        thin.extract(space.sample(np.random.default_rng(0)))
    with pytest.raises(ConfigError, match="'depth' must be an integer >= 1"):
        space.supernet(depth=0)
    with pytest.raises(ConfigError, match="'head' must be true or false"):
        space.supernet(head="yes")


def test_an_odd_channel_count_reduces_with_an_uneven_split():
    """FactorizedReduce with 3 output channels: 1 + 2 from the two offset convs (NAS-Bench-201's
    split), so odd widths such as TE-NAS' 3-channel networks build and run."""
    from nasplug.spaces.darts.network import FactorizedReduce

    reduce = FactorizedReduce(4, 3)
    assert (reduce.conv_a.out_channels, reduce.conv_b.out_channels) == (1, 2)
    assert reduce(torch.randn(2, 4, 8, 8)).shape == (2, 3, 4, 4)
    net = DartsSpace().supernet(channels=3, layers=3)
    assert net(torch.randn(1, 3, 16, 16), path=net.path_of(DartsSpace().sample(np.random.default_rng(1)))).shape == (1, 10)
