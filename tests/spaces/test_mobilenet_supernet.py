"""The MobileNet-like supernet: a single path (one MBConv, or ``absent``, per slot) equals the
space's own network with the inherited weights, a one-hot mixture too; paths round-trip to
architectures (a gap maps to the member without it); SPOS trains it, FairNAS refuses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.capabilities import HasSupernet
from nasplug.spaces.mobilenet.space import MobileNetSpace

SPACE = MobileNetSpace(MobileNetSpace.Config(width_mult=0.25))


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    net = SPACE.supernet()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    rng = np.random.default_rng(0)
    for _ in range(3):
        opt.zero_grad()
        x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
        torch.nn.functional.cross_entropy(net(x, path=net.path_of(SPACE.sample(rng))), y).backward()
        opt.step()
    return net.eval()


@pytest.mark.parametrize("seed", range(3))
def test_a_single_path_equals_the_space_network_with_inherited_weights(trained, seed):
    net = trained
    assert isinstance(SPACE, HasSupernet) and net.decisions == (9, 9, 10, 10) * 5
    arch = SPACE.sample(np.random.default_rng(seed))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    discrete = SPACE.to_module(arch)
    discrete.load_state_dict(net.sub_state_dict(arch))
    with torch.no_grad():
        expected = discrete.eval()(x)
        assert torch.equal(net(x, path=net.path_of(arch)), expected)
        assert torch.equal(net.extract(arch).eval()(x), expected)
        one_hot = torch.zeros(20, 10)
        one_hot[range(20), list(net.path_of(arch))] = 1.0
        assert torch.allclose(net(x, weights=one_hot), expected, atol=1e-5)


def test_paths_and_architectures_correspond():
    net = SPACE.supernet()
    arch = SPACE.parse("5,7,5,0,9,9,9,3,2,6,3,9,7,5,4,0,9,7,4,0")
    path = net.path_of(arch)
    # slots 1-2: digit - 1 (no 'absent' option); slots 3-4: the digit itself (0 = absent)
    assert path[:4] == (4, 6, 5, 0) and path[4:8] == (8, 8, 9, 3)
    assert net.arch_of(path) == tuple(arch)
    assert net.option_names[0][path[0]] == "mb_k5_e4" and net.option_names[2][0] == "identity"
    gap = list(path)
    gap[2], gap[3] = 0, 5  # slot 3 absent, slot 4 present: not a member
    assert net.arch_of(gap)[:4] == (5, 7, 0, 0)
    weights = np.zeros((20, 10))
    weights[np.arange(20), list(path)] = 1.0
    assert net.discretise(weights) == tuple(arch)
    assert net.parameter_free_ops(arch) == (3, 20)  # its three absent slots


def test_spos_samples_members_and_fairnas_refuses_unequal_decisions():
    from nasplug.search.oneshot import FairNAS, SPOS

    net = SPACE.supernet()
    paths = SPOS(space=SPACE).paths(net, np.random.default_rng(0))
    assert SPACE.contains(net.arch_of(paths[0])) and net.arch_of(paths[0]) == SPACE.parse(
        SPACE.canonical(net.arch_of(paths[0])))
    with pytest.raises(ConfigError, match="same number of options"):
        FairNAS(space=SPACE).paths(net, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="supernet option 'depth'"):
        SPACE.supernet(depth=3)
