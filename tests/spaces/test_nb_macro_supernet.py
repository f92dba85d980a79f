"""The NAS-Bench-Macro supernet: one choice per layer equals the discrete network with the same
weights, a one-hot mixture too, and FairNAS runs on it (three options at every layer)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasplug.core.interfaces.capabilities import HasSupernet
from nasplug.spaces.nb_macro.space import NBMacroSpace


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    space = NBMacroSpace()
    net = space.supernet(channels=8, last_channels=32)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    rng = np.random.default_rng(0)
    for _ in range(4):
        opt.zero_grad()
        x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
        torch.nn.functional.cross_entropy(net(x, path=rng.integers(0, 3, 8)), y).backward()
        opt.step()
    return space, net.eval()


@pytest.mark.parametrize("seed", range(3))
def test_a_single_path_equals_the_discrete_network_with_inherited_weights(trained, seed):
    space, net = trained
    assert isinstance(space, HasSupernet) and net.decisions == (3,) * 8
    arch = space.sample(np.random.default_rng(seed))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    discrete = space.to_module(arch, channels=8, last_channels=32)
    discrete.load_state_dict(net.sub_state_dict(arch))
    with torch.no_grad():
        expected = discrete.eval()(x)
        assert torch.equal(net(x, path=net.path_of(arch)), expected)
        assert torch.equal(net.extract(arch).eval()(x), expected)
        one_hot = torch.zeros(8, 3)
        one_hot[range(8), list(net.path_of(arch))] = 1.0
        assert torch.allclose(net(x, weights=one_hot), expected, atol=1e-5)


def test_fairnas_paths_cover_every_choice_of_every_layer():
    from nasplug.search.oneshot import FairNAS

    paths = FairNAS(space=NBMacroSpace()).paths(NBMacroSpace().supernet(channels=4, last_channels=8), np.random.default_rng(0))
    assert len(paths) == 3 and all(sorted(p[k] for p in paths) == [0, 1, 2] for k in range(8))
