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
