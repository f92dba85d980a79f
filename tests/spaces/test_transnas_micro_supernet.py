"""The TransNAS-Bench-101 micro supernet: one op per edge equals the discrete encoder with the
same weights (the stride/channel-changing first edges included), a one-hot mixture too."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasplug.spaces.transnas.micro import TransNASMicroSpace


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    space = TransNASMicroSpace()
    net = space.supernet(base_channels=8, blocks_per_layer=1)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    rng = np.random.default_rng(0)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.randn(4, 3, 64, 64), path=rng.integers(0, 4, 6)),
                                          torch.randint(0, 10, (4,))).backward()
        opt.step()
    return space, net.eval()


@pytest.mark.parametrize("seed", range(3))
def test_a_single_path_equals_the_discrete_encoder_with_inherited_weights(trained, seed):
    space, net = trained
    assert net.decisions == (4,) * 6
    arch = space.sample(np.random.default_rng(seed))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = net.extract(arch).eval()(x)
        assert torch.equal(net(x, path=net.path_of(arch)), expected)
        discrete = space.to_module(arch, base_channels=8, blocks_per_layer=1)
        assert set(discrete.state_dict()) == set(net.extract(arch).state_dict())
        one_hot = torch.zeros(6, 4)
        one_hot[range(6), list(net.path_of(arch))] = 1.0
        assert torch.allclose(net(x, weights=one_hot), expected, atol=1e-5)
