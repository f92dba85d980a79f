"""DARTS and its family: each method's defining rule, checked against a known answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from nasplug.core.errors import ConfigError
from nasplug.core.options import build_config
from nasplug.search.oneshot import DARTS, GAEA, GDAS, PCDARTS, SDARTS, DartsMinus, DrNAS, FairDARTS

nb201 = pytest.importorskip("nasplug.spaces.nb201")
darts_space = pytest.importorskip("nasplug.spaces.darts")
from nasplug.spaces.darts.genotype import PRIMITIVES  # noqa: E402
from nasplug.spaces.nb201.space import OPS  # noqa: E402
from nasplug.spaces.supernets import MixedOp, channel_shuffle  # noqa: E402


def make(cls, supernet, device="cpu", **options):
    method = cls(build_config(cls.Config, options, "oneshot.method"), space=nb201.NB201Space())
    method.check_supernet(supernet)
    method.setup(supernet, device)
    method.start_epoch(0, 10)
    return method


def tiny_nb201(**options):
    torch.manual_seed(0)
    return nb201.NB201Space().supernet(**{"channels": 4, "cells_per_stage": 1, **options})


def batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


# --- the supernets' mixture and discretisation ------------------------------------------------
@pytest.mark.parametrize("space", ["nb201", "darts"])
def test_a_mixture_with_one_hot_weights_is_the_discrete_op(space):
    torch.manual_seed(0)
    if space == "nb201":
        net = nb201.NB201Space().supernet(channels=4, cells_per_stage=1)
        arch = nb201.NB201Space().sample(np.random.default_rng(3))
    else:
        net = darts_space.DartsSpace().supernet(channels=4, layers=3)
        arch = darts_space.DartsSpace().sample(np.random.default_rng(3))
    net.eval()
    path = net.path_of(arch)
    one_hot = F.one_hot(torch.tensor(path), max(net.decisions)).float()
    x, _ = batch(4)
    with torch.no_grad():
        assert torch.allclose(net(x, weights=one_hot), net(x, path=path), atol=1e-6)
        # a soft mixture is something else
        assert not torch.allclose(net(x, weights=torch.full_like(one_hot, 1 / one_hot.shape[1])), net(x, path=path), atol=1e-3)


def test_nb201_discretises_by_argmax_per_edge_with_none_optional():
    w = np.full((6, 5), 0.1)
    for e, k in enumerate([0, 1, 2, 3, 4, 0]):
        w[e, k] = 0.5
    w[0, 3] = 0.4  # runner-up of edge 0
    w[5, 2] = 0.45
    net = tiny_nb201()
    assert net.discretise(w) == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "none")
    assert net.discretise(w, include_none=False) == ("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                                                      "avg_pool_3x3", "nor_conv_1x1")
    assert net.parameter_free_ops(net.discretise(w)) == (4, 6)


def test_darts_space_keeps_the_two_strongest_incoming_edges_per_node_without_none():
    from nasplug.spaces.darts.supernet import EDGE_INDEX

    w = np.full((28, 8), 0.01)
    w[:, 0] = 0.9  # none is strongest everywhere and must never be chosen
    # node 2 (edges from 0, 1): both kept; node 3: sources 0 and 2 beat 1; node 5: sources 4 and 1
    plan = {(2, 0): ("sep_conv_3x3", 0.5), (2, 1): ("skip_connect", 0.3), (3, 0): ("dil_conv_3x3", 0.6),
            (3, 1): ("max_pool_3x3", 0.2), (3, 2): ("sep_conv_5x5", 0.4), (4, 0): ("avg_pool_3x3", 0.3),
            (4, 3): ("sep_conv_3x3", 0.35), (5, 1): ("dil_conv_5x5", 0.5), (5, 4): ("skip_connect", 0.7),
            (5, 2): ("sep_conv_3x3", 0.1)}
    for (node, source), (op, value) in plan.items():
        for cell in (0, 14):
            w[cell + EDGE_INDEX[(node, source)], PRIMITIVES.index(op)] = value
    arch = darts_space.DartsSpace().supernet(channels=4, layers=3).discretise(w)
    assert arch.normal == (("sep_conv_3x3", 0), ("skip_connect", 1), ("dil_conv_3x3", 0), ("sep_conv_5x5", 2),
                           ("avg_pool_3x3", 0), ("sep_conv_3x3", 3), ("dil_conv_5x5", 1), ("skip_connect", 4))
    assert arch.reduce == arch.normal


def test_partial_channels_send_a_quarter_through_the_ops_and_shuffle():
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 4).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    op = MixedOp([torch.nn.Identity(), torch.nn.Identity()], partial=4)
    doubled = op(x, weights=torch.tensor([1.0, 1.0]))  # the first 2 channels doubled, the rest untouched
    assert doubled.flatten().tolist() == [0, 2, 4, 6, 2, 3, 5, 7]  # shuffle of [0, 2 | 2, 3, 4, 5, 6, 7]
    net = tiny_nb201(channels=8, partial_channels=4)
    conv = next(m for m in net.cells[0].edge_ops[0].candidates[2].modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.in_channels == 2  # nor_conv_1x1 sees 8 / 4 channels
    with pytest.raises(ConfigError, match="partial_channels"):
        tiny_nb201(channels=6, partial_channels=4)


# --- DARTS -------------------------------------------------------------------------------------
def test_darts_first_order_steps_alpha_by_adam_on_the_validation_gradient():
    net = tiny_nb201()
    method = make(DARTS, net, arch_weight_decay=0.0)
    alpha0 = method.alpha.detach().clone()
    (x, y), (xv, yv) = batch(8, 1), batch(8, 2)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    loss = F.cross_entropy(net(xv, weights=torch.softmax(alpha0.clone().requires_grad_(True), -1)), yv)
    net.load_state_dict(state)
    a = alpha0.clone().requires_grad_(True)
    grad = torch.autograd.grad(F.cross_entropy(net(xv, weights=torch.softmax(a, -1)), yv), a)[0]
    net.load_state_dict(state)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
    out = method.train_step(net, x, y, optimizer, np.random.default_rng(0), valid=(xv, yv))
    # Adam's first step moves every coordinate by lr * sign(grad)
    expected = alpha0 - 3e-4 * torch.sign(grad)
    assert torch.allclose(method.alpha.detach(), expected, atol=1e-7)
    assert out["arch_loss"] == pytest.approx(float(loss.detach()), rel=1e-5)


def test_single_level_steps_alpha_on_the_training_batch_not_the_validation_batch():
    (x, y), (xv, yv) = batch(8, 1), batch(8, 2)
    outcomes = {}
    for name, single, valid in (("single", True, (xv, yv)), ("bilevel_on_train", False, (x, y)),
                                ("bilevel", False, (xv, yv))):
        net = tiny_nb201()
        method = make(DARTS, net, single_level=single)
        torch.manual_seed(0)
        method.train_step(net, x, y, torch.optim.SGD(net.parameters(), lr=0.0), np.random.default_rng(0), valid=valid)
        outcomes[name] = method.alpha.detach().clone()
    assert torch.equal(outcomes["single"], outcomes["bilevel_on_train"])
    assert not torch.equal(outcomes["single"], outcomes["bilevel"])


@pytest.mark.parametrize("cls", [DARTS, GAEA, GDAS])
def test_exclude_none_leaves_none_out_of_every_mixture_and_the_derived_cell(cls):
    net = tiny_nb201()
    method = make(cls, net, exclude_none=True)
    none = OPS.index("none")
    with torch.no_grad():  # none would be the strongest op everywhere
        if cls is GAEA:
            method.alpha.copy_(torch.full((6, 5), 0.1).index_fill_(1, torch.tensor([none]), 0.6) * method.mask)
            method.alpha.div_(method.alpha.sum(-1, keepdim=True))
        else:
            method.alpha.index_fill_(1, torch.tensor([none]), 5.0)
    for weights in (method.mixture(), method.arch_weights(np.random.default_rng(0)), method.train_weights(np.random.default_rng(1))):
        assert float(weights.detach()[:, none].abs().max()) == 0.0
        assert weights.detach().sum(-1).tolist() == pytest.approx([1.0] * 6)
    assert "none" not in method.current_arch(net)
    assert make(cls, net).mask[:, none].all()  # off by default: none competes


def test_drnas_refuses_exclude_none():
    with pytest.raises(ConfigError, match="exclude_none"):
        make(DrNAS, tiny_nb201(), exclude_none=True)


def _smooth(module):
    """ReLU -> Softplus: a finite difference across ReLU kinks measures the kinks, not the
    second-order machinery (the gradient in alpha jumps where an activation changes sign)."""
    for name, child in module.named_children():
        if isinstance(child, torch.nn.ReLU):
            setattr(module, name, torch.nn.Softplus(beta=4))
        else:
            _smooth(child)


def smooth_double_darts(**options):
    """A tiny smooth (Softplus) float64 NB201 supernet and a DARTS method on it with alpha drawn
    well away from uniform: the setting for checks against exact derivatives."""
    torch.manual_seed(0)
    net = nb201.NB201Space().supernet(channels=2, cells_per_stage=1).double()
    _smooth(net)
    method = make(DARTS, net, **options)
    method.alpha.data = 0.5 * torch.randn(6, 5, dtype=torch.float64)
    return net, method


def test_darts_second_order_gradient_matches_finite_differences():
    from torch.func import functional_call

    net, method = smooth_double_darts(order=2, arch_weight_decay=0.0)
    (x, y), (xv, yv) = batch(6, 1), batch(6, 2)
    x, xv = x.double(), xv.double()
    eta, decay = 0.1, 3e-4
    optimizer = torch.optim.SGD(net.parameters(), lr=eta, momentum=0.9, weight_decay=decay)
    buffers = {n: b.clone() for n, b in net.named_buffers()}
    names = [n for n, _ in net.named_parameters()]
    params = [p.detach().clone() for _, p in net.named_parameters()]

    def call(weights_of_net, inputs, op_weights):
        state = {**dict(zip(names, weights_of_net)), **{k: v.clone() for k, v in buffers.items()}}
        return functional_call(net, state, (inputs,), {"weights": op_weights})

    def objective(alpha):  # L_val(w - eta * (grad_w L_train(w, alpha) + decay * w), alpha), exactly
        w = [p.clone().requires_grad_(True) for p in params]
        op_weights = torch.softmax(alpha, -1)
        g = torch.autograd.grad(F.cross_entropy(call(w, x, op_weights), y), w, allow_unused=True)
        unrolled = [p - eta * ((0 if gi is None else gi) + decay * p) for p, gi in zip(w, g)]
        return float(F.cross_entropy(call(unrolled, xv, op_weights), yv).detach())

    method._unrolled_gradient(net, (x, y), (xv, yv), optimizer, np.random.default_rng(0))
    analytic = method.alpha.grad.clone()
    numeric = torch.zeros_like(analytic)
    h = 1e-5
    base = method.alpha.detach().clone()
    for i in range(6):
        for j in range(5):
            plus, minus = base.clone(), base.clone()
            plus[i, j] += h
            minus[i, j] -= h
            numeric[i, j] = (objective(plus) - objective(minus)) / (2 * h)
    scale = float(numeric.abs().max())
    assert scale > 1e-4
    assert float((analytic - numeric).abs().max()) < 2e-3 * scale, (analytic, numeric)
    # and it is not the first-order gradient: the Hessian term matters here
    a = base.clone().requires_grad_(True)
    first = torch.autograd.grad(F.cross_entropy(call(params, xv, torch.softmax(a, -1)), yv), a)[0]
    assert float((first - numeric).abs().max()) > 10 * float((analytic - numeric).abs().max())


# --- the variants' defining rules -------------------------------------------------------------
def test_gdas_runs_one_op_per_edge_and_its_gradient_reaches_every_alpha():
    from collections import Counter

    net = tiny_nb201()
    method = make(GDAS, net)
    calls: Counter = Counter()
    for cell in net.cells:
        for e, edge in enumerate(getattr(cell, "edge_ops", [])):
            for k, op in enumerate(edge.candidates):
                op.register_forward_hook(lambda *_a, key=(e, k): calls.update([key]))
    rng = np.random.default_rng(0)
    hard = method.train_weights(rng)
    assert torch.equal(hard.sum(-1), torch.ones(6)) and set(hard.flatten().tolist()) == {0.0, 1.0}
    soft = method.arch_weights(rng)
    assert soft.requires_grad and torch.allclose(soft.detach(), F.one_hot(soft.detach().argmax(-1), 5).float())
    x, y = batch(4)
    loss = F.cross_entropy(net(x, weights=soft), y)
    assert sorted(calls) == sorted((e, int(k)) for e, k in enumerate(soft.detach().argmax(-1)))  # one op per edge ran
    loss.backward()
    assert bool((method.alpha.grad != 0).all())  # straight-through: every logit gets a gradient
    # the temperature falls linearly from 10 to 0.1 over the epochs
    method.start_epoch(0, 11)
    assert method.tau() == pytest.approx(10.0)
    method.start_epoch(5, 11)
    assert method.tau() == pytest.approx(5.05)
    method.start_epoch(10, 11)
    assert method.tau() == pytest.approx(0.1)


def test_fair_darts_zero_one_loss_pushes_sigmoids_away_from_one_half():
    net = tiny_nb201()
    method = make(FairDARTS, net)
    with torch.no_grad():
        method.alpha.copy_(torch.linspace(-1, 1, 30).view(6, 5))
    method.alpha.grad = None
    method.regulariser().backward()
    s = torch.sigmoid(method.alpha.detach())
    expected = -10.0 * 2 * (s - 0.5) * s * (1 - s) / 30  # d/dalpha of -w * mean((sigmoid - 0.5)^2)
    assert torch.allclose(method.alpha.grad, expected, atol=1e-7)
    before = (s - 0.5).abs()
    for _ in range(20):
        method.alpha.grad = None
        method.regulariser().backward()
        method.arch_optimizer.step()
    after = (torch.sigmoid(method.alpha.detach()) - 0.5).abs()
    assert bool((after >= before).all()) and float(after.mean()) > float(before.mean()) + 1e-3
    assert method.config.include_none is False


def test_drnas_samples_the_dirichlet_with_pathwise_gradients_and_the_flat_anchor():
    net = tiny_nb201()
    method = make(DrNAS, net)
    w = method.arch_weights(np.random.default_rng(0))
    assert torch.allclose(w.sum(-1), torch.ones(6), atol=1e-6) and bool((w > 0).all())
    (w * torch.arange(5.0)).sum().backward()
    assert bool((method.alpha.grad != 0).all())
    # same generator, same draw; the mean is (elu(alpha) + 1) normalised
    assert torch.equal(method.train_weights(np.random.default_rng(3)), method.train_weights(np.random.default_rng(3)))
    with torch.no_grad():
        method.alpha.zero_()
    assert torch.allclose(method.mixture(), torch.full((6, 5), 0.2))
    # the reference scripts' default anchor: 1e-3 * sum of squared concentrations (elu(alpha) + 1)
    assert method.config.reg_type == "l2"
    assert float(method.regulariser().detach()) == pytest.approx(1e-3 * 30 * 1.0)
    with torch.no_grad():
        method.alpha.fill_(2.0)
    assert float(method.regulariser().detach()) == pytest.approx(1e-3 * 30 * 9.0)
    kl = make(DrNAS, net, reg_type="kl")
    with torch.no_grad():
        kl.alpha.zero_()  # concentration 1 everywhere: the flat anchor itself, KL 0
    assert float(kl.regulariser().detach()) == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        kl.alpha.fill_(2.0)
    assert float(kl.regulariser().detach()) > 0


def test_pc_darts_normalises_the_edges_entering_each_node():
    net = tiny_nb201(channels=8, partial_channels=4)
    method = make(PCDARTS, net)
    with torch.no_grad():
        method.beta.copy_(torch.tensor([0.3, 1.0, -1.0, 0.5, 0.0, 2.0]))
    edge = method.edge_weights().detach()
    # NB201 edges enter nodes 1, 2, 2, 3, 3, 3
    assert edge[0] == pytest.approx(1.0)
    assert edge[1:3].tolist() == pytest.approx(torch.softmax(torch.tensor([1.0, -1.0]), 0).tolist())
    assert edge[3:].tolist() == pytest.approx(torch.softmax(torch.tensor([0.5, 0.0, 2.0]), 0).tolist())
    assert torch.allclose(method.mixture().detach().sum(-1), edge)
    assert method.supernet_options() == {"partial_channels": 4}


def test_darts_minus_adds_a_linearly_decaying_skip_weight():
    net = tiny_nb201()
    method = make(DartsMinus, net)
    skip = OPS.index("skip_connect")
    for epoch, beta in ((0, 1.0), (5, 0.5), (9, 0.1)):
        method.start_epoch(epoch, 10)
        extra = method.arch_weights(np.random.default_rng(0)).detach() - method.mixture().detach()
        assert extra[:, skip].tolist() == pytest.approx([beta] * 6)
        assert float(extra[:, [k for k in range(5) if k != skip]].abs().max()) == 0.0
    assert method.distribution().sum(-1) == pytest.approx([1.0] * 6)  # derived from alpha alone


def test_clip_to_simplex_clamps_renormalises_and_rescues_an_empty_edge():
    from nasplug.search.oneshot.sdarts import clip_to_simplex

    w = torch.tensor([[-0.1, 0.5, 0.7], [-0.2, -0.1, -0.3], [0.3, 2.0, 0.9]])
    mask = torch.tensor([[True, True, True], [True, True, True], [True, True, False]])
    out = clip_to_simplex(w, mask)
    expected = [[0.0, 0.5 / 1.2, 0.7 / 1.2], [0.0, 1.0, 0.0], [0.3 / 1.3, 1.0 / 1.3, 0.0]]
    assert out.numpy() == pytest.approx(np.array(expected), abs=1e-7)


def test_sdarts_rs_perturbs_only_the_weight_step_with_clipped_uniform_noise():
    from nasplug.search.oneshot.sdarts import clip_to_simplex

    net = tiny_nb201()
    method = make(SDARTS, net)
    with torch.no_grad():
        method.alpha.copy_(torch.tensor([-6.0, -5.0, 0.0, 1.0, 4.0]).repeat(6, 1))  # sharp rows: noise pushes some below 0
    clean = method.mixture().detach()
    noise = np.random.default_rng(0).uniform(-0.03, 0.03, size=(6, 5))
    expected = clean.numpy() + noise
    expected = np.clip(expected, 0, 1)
    expected /= expected.sum(-1, keepdims=True)
    got = method.train_weights(np.random.default_rng(0))
    assert got.numpy() == pytest.approx(expected, abs=1e-6)
    assert bool((got == 0).any())  # the clip did act
    assert torch.allclose(clip_to_simplex(got, method.mask), got, atol=1e-7)  # already on the simplex
    assert torch.equal(method.arch_weights(np.random.default_rng(0)), method.mixture())  # the architecture step is DARTS'
    # epsilon: 0.03 + 0.27 * epoch / epochs (the authors' schedule); constant when epsilon_end = epsilon
    for epoch, eps in ((0, 0.03), (5, 0.165), (9, 0.273)):
        method.start_epoch(epoch, 10)
        assert method.epsilon() == pytest.approx(eps)
    constant = make(SDARTS, net, epsilon_end=0.03)
    constant.start_epoch(9, 10)
    assert constant.epsilon() == pytest.approx(0.03)
    unclipped = make(SDARTS, net, clip=False)
    with torch.no_grad():
        unclipped.alpha.copy_(method.alpha)
    assert unclipped.train_weights(np.random.default_rng(0)).numpy() == pytest.approx(clean.numpy() + noise, abs=1e-6)


def test_a_zero_weight_gets_the_plain_mixture_gradient_only_inside_run_zero_weighted():
    from nasplug.spaces.supernets import run_zero_weighted

    class Scale(torch.nn.Module):
        def __init__(self, k):
            super().__init__()
            self.k = k

        def forward(self, x):
            return self.k * x

    op = MixedOp([Scale(1.0), Scale(2.0), Scale(-3.0)])
    x = torch.linspace(-1, 2, 12).view(3, 4)
    target = torch.ones(3, 4)

    def grad(weights_value):
        w = torch.tensor(weights_value, requires_grad=True)
        ((op(x, weights=w) - target) ** 2).sum().backward()
        return w.grad

    w = [0.6, 0.4, 0.0]
    y = 0.6 * x + 0.4 * 2 * x
    upstream = 2 * (y - target)
    straight = grad(w)
    assert float(straight[2]) == pytest.approx(float(upstream.sum()))  # GDAS's straight-through scalar
    with run_zero_weighted():
        plain = grad(w)
    assert float(plain[2]) == pytest.approx(float((upstream * -3.0 * x).sum()))
    assert plain[:2].tolist() == pytest.approx(straight[:2].tolist())


def test_sdarts_adv_takes_the_projected_sign_gradient_ascent_step_on_the_training_loss():
    from nasplug.search.oneshot.sdarts import SDARTSADV, clip_to_simplex

    net = tiny_nb201()
    x, y = batch(8, 3)
    method = make(SDARTSADV, net, attack_steps=1, random_start=False)
    with torch.no_grad():
        method.alpha.copy_(torch.linspace(-1, 1, 30).view(6, 5))
    clean = method.mixture().detach()
    net.eval()
    w = clean.clone().requires_grad_(True)
    g, = torch.autograd.grad(F.cross_entropy(net(x, weights=w), y), w)
    expected = clip_to_simplex(clean + (2 * 0.03 * g.sign()).clamp(-0.03, 0.03), method.mask)
    with torch.no_grad():
        loss_clean = float(F.cross_entropy(net(x, weights=clean), y))
        loss_expected = float(F.cross_entropy(net(x, weights=expected), y))
    net.train()
    got = method.weight_step_weights(net, x, y, np.random.default_rng(0))
    assert net.training  # the attack runs in eval mode and restores the mode
    assert loss_expected > loss_clean  # on this batch the step raises the loss, so it is kept
    assert torch.allclose(got, expected, atol=1e-6)
    # seven steps with a random start: a point of the simplex whose training loss is at least the clean one's
    method = make(SDARTSADV, net)
    with torch.no_grad():
        method.alpha.copy_(torch.linspace(-1, 1, 30).view(6, 5))
    got = method.weight_step_weights(net, x, y, np.random.default_rng(1))
    assert torch.allclose(got.sum(-1), torch.ones(6)) and bool((got >= 0).all())
    net.eval()
    with torch.no_grad():
        assert float(F.cross_entropy(net(x, weights=got), y)) >= loss_clean
    assert not torch.equal(got, clean)  # on this batch the attack finds a worse point


def test_gaea_moves_the_weights_by_exponentiated_gradient_on_the_simplex():
    net = tiny_nb201()
    method = make(GAEA, net)
    w0 = method.alpha.detach().clone()
    assert torch.allclose(w0.sum(-1), torch.ones(6))
    g = torch.linspace(-2, 2, 30).view(6, 5)
    method.alpha.grad = g.clone()
    method.arch_update()
    expected = w0 * torch.exp(-0.1 * g)
    expected = expected / expected.sum(-1, keepdim=True)
    assert torch.allclose(method.alpha.detach(), expected, atol=1e-6)
    assert torch.allclose(method.alpha.sum(-1), torch.ones(6), atol=1e-6) and bool((method.alpha > 0).all())


def test_the_hessian_eigenvalue_is_the_dominant_eigenvalue_of_the_explicit_hessian():
    class Valid:
        valid = [batch(6, 4)]

    net, method = smooth_double_darts(hessian_images=6, hessian_iterations=100)
    x, y = Valid.valid[0]
    Valid.valid = [(x.double(), y)]
    state = {k: v.clone() for k, v in net.state_dict().items()}
    value = method.hessian_eigenvalue(net, Valid, np.random.default_rng(0))
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())  # BN statistics restored
    hessian = torch.autograd.functional.hessian(
        lambda a: F.cross_entropy(net(Valid.valid[0][0], weights=torch.softmax(a, -1)), y), method.alpha.detach().clone())
    eig = torch.linalg.eigvalsh(hessian.reshape(30, 30))
    dominant = float(eig[eig.abs().argmax()])
    assert value == pytest.approx(dominant, rel=1e-3)


def test_a_method_refuses_a_supernet_it_cannot_discretise():
    class NoDiscretise:
        decisions = (3, 3)

    with pytest.raises(ConfigError, match="discretise"):
        DARTS(build_config(DARTS.Config, {}, "m"), space=nb201.NB201Space()).check_supernet(NoDiscretise())


@pytest.mark.parametrize("name, options", [("nb_macro", {"channels": 4, "last_channels": 8}),
                                           ("transnas_micro", {"base_channels": 4, "blocks_per_layer": 1})])
def test_single_path_spaces_discretise_to_the_strongest_option_of_each_decision(name, options):
    from nasplug.core.registry import registry

    space = registry().create("space", name)
    net = space.supernet(**options)
    arch = space.sample(np.random.default_rng(7))
    path = net.path_of(arch)
    w = np.full((len(net.decisions), max(net.decisions)), 0.2)
    for d, k in enumerate(path):
        w[d, k] = 0.5
    assert net.discretise(w) == net.arch_of(path) and space.contains(net.discretise(w))
    free, total = net.parameter_free_ops(arch)
    assert total == len(net.decisions)
    assert free == sum(net.option_names[d][k] in net.PARAMETER_FREE for d, k in enumerate(path))


# --- P-DARTS -------------------------------------------------------------------------------------
def pdarts(net, **options):
    from nasplug.search.oneshot import PDARTS

    method = PDARTS(build_config(PDARTS.Config, options, "oneshot.method"), space=nb201.NB201Space())
    method.check_supernet(net)
    return method


def test_p_darts_grows_depth_over_even_stages_and_prunes_the_weakest_ops():
    net = tiny_nb201()
    method = pdarts(net)
    assert method.stages(50) == [(17, {"cells_per_stage": 1}), (17, {"cells_per_stage": 3}), (16, {"cells_per_stage": 5})]
    assert method.kept == [3, 2]  # the paper's 8 -> 5 -> 3, scaled to 5 ops
    method.setup(net, "cpu")
    with torch.no_grad():
        method.alpha.copy_(torch.tensor([[0.0, 1.0, 2.0, 3.0, 4.0]] * 3 + [[4.0, 3.0, 2.0, 1.0, 0.0]] * 3))
    bigger = tiny_nb201(cells_per_stage=2)
    method.begin_stage(1, bigger)
    assert method.mask[:3].tolist() == [[False, False, True, True, True]] * 3
    assert method.mask[3:].tolist() == [[True, True, True, False, False]] * 3
    assert float(method.alpha.detach().abs().max()) < 0.01  # re-initialised for the new stage
    with torch.no_grad():
        method.alpha.copy_(torch.tensor([[9.0, 9.0, 0.0, 1.0, 2.0]] * 6))  # masked options cannot win
    method.begin_stage(2, bigger)
    assert method.mask[:3].tolist() == [[False, False, False, True, True]] * 3
    assert method.mixture()[0, :3].tolist() == [0.0, 0.0, 0.0]


def test_p_darts_drops_skip_connections_and_warms_up_without_architecture_steps():
    net = tiny_nb201()
    method = pdarts(net)
    method.stages(30)  # 10 epochs per stage, 4 of warm-up
    method.setup(net, "cpu")
    skip = OPS.index("skip_connect")
    method.start_epoch(12, 30)  # stage 1, its 3rd epoch: warm-up at the full rate
    assert method.stage == 1 and not method.updates_architecture()
    assert all(m.drop == {skip: 0.4} for m in net.modules() if isinstance(m, MixedOp))
    method.start_epoch(17, 30)  # 3 epochs after the warm-up
    assert method.updates_architecture()
    assert net.cells[0].edge_ops[0].drop[skip] == pytest.approx(0.4 * np.exp(-0.2 * 3))
    method.start_epoch(2, 30)
    assert all(m.drop == {} for m in net.modules() if isinstance(m, MixedOp))  # stage 0: rate 0


def test_p_darts_keeps_at_most_two_skip_connections():
    class Evaluator:
        supernet = tiny_nb201()

    method = pdarts(Evaluator.supernet)
    method.setup(Evaluator.supernet, "cpu")
    skip = OPS.index("skip_connect")
    logits = torch.zeros(6, 5)
    logits[:, skip] = torch.tensor([5.0, 4.0, 3.0, 2.0, 1.5, 1.0])  # every edge prefers skip
    logits[:, OPS.index("nor_conv_3x3")] = 1.2
    with torch.no_grad():
        method.alpha.copy_(logits)
    arch = method.derive(Evaluator, np.random.default_rng(0))
    assert arch[:2] == ("skip_connect", "skip_connect") and arch[2:] == ("nor_conv_3x3",) * 4
