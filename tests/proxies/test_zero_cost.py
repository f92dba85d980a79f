"""Zero-cost proxies: known answers on hand-built networks, robustness, determinism, the core
conformance suite, and a run on small NAS-Bench-201 networks with real CIFAR images."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.core.options import build_config
from nasplug.core.registry import Registry, registry
from nasplug.core.runs import run
from nasplug.core.testing import ProxyConformance
from nasplug.core.testing.toy import ToySpace, ToySpaceConfig
from nasplug.proxies.zero_cost import (
    FisherProxy, GradNormProxy, GraspProxy, JacovProxy, LinearRegionsProxy, LogSynflowProxy, NaswotProxy,
    NTKProxy, SnipProxy, SynflowProxy, ZenProxy,
)
from nasplug.proxies.zero_cost.jacov import jacobian_covariance_score

ALL = [SynflowProxy, LogSynflowProxy, SnipProxy, GraspProxy, GradNormProxy, FisherProxy, JacovProxy,
       NaswotProxy, ZenProxy, LinearRegionsProxy, NTKProxy]

W_CHAIN_1 = [[1.0, -2.0, 0.0], [3.0, 4.0, -1.0]]
W_CHAIN_2 = [[-1.0, 2.0]]


class Mul0(nn.Module):
    def forward(self, x):
        return x * 0.0


class KnownSpace(ToySpace):
    """One-slot toy space whose networks are fixed by hand (inputs are N x 3 x 1 x 1):
    0 chain Linear-ReLU-Linear, 1 the same with BatchNorm, 2 a linear classifier,
    3 ReLU then linear classifier, 4 a network blind to its input, 5 a linear map (no ReLU)."""

    def __init__(self, config=None) -> None:
        super().__init__(ToySpaceConfig(positions=1, choices=6))

    def to_module(self, arch, num_classes=10, **options):
        kind = int(self.parse(arch))
        w_cls = torch.arange(3 * num_classes, dtype=torch.float32).reshape(num_classes, 3).sin()
        if kind in (0, 1):
            first, last = nn.Linear(3, 2, bias=False), nn.Linear(2, 1, bias=False)
            with torch.no_grad():
                first.weight.copy_(torch.tensor(W_CHAIN_1))
                last.weight.copy_(torch.tensor(W_CHAIN_2))
            middle = [nn.BatchNorm1d(2)] if kind == 1 else []
            return nn.Sequential(nn.Flatten(), first, *middle, nn.ReLU(), last)
        head = nn.Linear(3, num_classes, bias=False)
        with torch.no_grad():
            head.weight.copy_(w_cls)
        if kind == 2:
            return nn.Sequential(nn.Flatten(), head)
        if kind == 3:
            return nn.Sequential(nn.Flatten(), nn.ReLU(), head)
        if kind == 4:
            return nn.Sequential(nn.Flatten(), Mul0(), nn.ReLU(), head)
        square = nn.Linear(3, 3, bias=False)
        with torch.no_grad():
            square.weight.copy_(torch.tensor([[1.0, 0.5, 0.0], [0.0, -2.0, 1.0], [0.3, 0.0, 1.0]]))
        return nn.Sequential(nn.Flatten(), square)


X = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-0.2, 0.8, 0.1], [1.0, -1.2, -0.4]])
Y = torch.tensor([1, 0, 2, 1])


def make(cls, **options):
    return cls(build_config(cls.Config, {"init": "default", **options}, cls.__name__), space=KnownSpace())


def ctx(seed=0, n=4, classes=3):
    return ProxyContext(seed=seed, batch=(X[:n].reshape(n, 3, 1, 1), Y[:n]), num_classes=classes)


# --- known answers ------------------------------------------------------------------------------
def test_synflow_of_a_linear_chain_by_hand():
    # |W1| = [[1,2,0],[3,4,1]], input 1s: h = [3, 8]; |W2| = [1, 2]: R = 3 + 16 = 19. Each layer's
    # sum |theta * dR/dtheta| equals R (synaptic flow is conserved), so synflow = 2 R = 38.
    proxy = make(SynflowProxy, input_size=1)
    assert proxy.score("0", ctx()) == pytest.approx(38.0, rel=1e-12)
    assert proxy.score("1", ctx()) == pytest.approx(38.0, rel=1e-12)  # BatchNorm is removed


def test_logsynflow_of_a_linear_chain_by_hand():
    # dR/dW2 = h = [3, 8]; dR/dW1[i, j] = |W2_i| = [[1,1,1],[2,2,2]]:
    # 1 log 4 + 2 log 9 + (1 + 2 + 0) log 2 + (3 + 4 + 1) log 3 = 5 log 2 + 12 log 3.
    proxy = make(LogSynflowProxy, input_size=1)
    assert proxy.score("0", ctx()) == pytest.approx(5 * math.log(2) + 12 * math.log(3), rel=1e-12)


def _linear_classifier_terms(classes=3):
    w = torch.arange(3 * classes, dtype=torch.float64).reshape(classes, 3).sin()
    x, y = X.double(), Y
    logits = x @ w.T
    delta = (torch.softmax(logits, 1) - nn.functional.one_hot(y, classes)) / len(x)  # dL/dlogits
    return w, x, logits, delta, delta.T @ x  # last: dL/dW


def test_snip_grad_norm_and_fisher_of_a_linear_classifier_in_closed_form():
    w, _x, logits, delta, grad = _linear_classifier_terms()
    assert make(SnipProxy).score("2", ctx()) == pytest.approx(float((w * grad).abs().sum()), rel=1e-5)
    assert make(GradNormProxy).score("2", ctx()) == pytest.approx(float(grad.norm()), rel=1e-5)
    fisher = 0.5 * ((logits * delta) ** 2).mean(0).sum()
    # The reference code broadcasts each output unit's value over its 3 incoming weights.
    assert make(FisherProxy).score("2", ctx()) == pytest.approx(3 * float(fisher), rel=1e-5)
    assert make(FisherProxy, reduction="channel").score("2", ctx()) == pytest.approx(float(fisher), rel=1e-5)


class TwoLayerSpace(ToySpace):
    """Conv2d(3 -> 2, 1x1) - ReLU - Linear(2 -> 3): layers of different fan-in (3 and 2)."""

    W_CONV = [[0.7, -0.4, 1.1], [-0.9, 0.5, 0.3]]
    W_HEAD = [[0.2, -1.3], [1.0, 0.6], [-0.5, 0.8]]

    def __init__(self, config=None) -> None:
        super().__init__(ToySpaceConfig(positions=1, choices=1))

    def to_module(self, arch, num_classes=3, **options):
        conv, head = nn.Conv2d(3, 2, 1, bias=False), nn.Linear(2, num_classes, bias=False)
        with torch.no_grad():
            conv.weight.copy_(torch.tensor(self.W_CONV).reshape(2, 3, 1, 1))
            head.weight.copy_(torch.tensor(self.W_HEAD))
        return nn.Sequential(conv, nn.ReLU(), nn.Flatten(), head)


def test_fisher_weights_each_layer_by_its_fan_in_as_the_reference_code():
    x = X.double()
    a1 = (x @ torch.tensor(TwoLayerSpace.W_CONV, dtype=torch.float64).T).requires_grad_(True)
    a2 = a1.relu() @ torch.tensor(TwoLayerSpace.W_HEAD, dtype=torch.float64).T
    a2.retain_grad()
    nn.functional.cross_entropy(a2, Y).backward()
    f1 = 0.5 * ((a1.detach() * a1.grad) ** 2).mean(0)  # per channel of the conv (spatial size 1)
    f2 = 0.5 * ((a2.detach() * a2.grad) ** 2).mean(0)  # per output unit of the head
    reference = float(3 * f1.sum() + 2 * f2.sum())
    plain = float(f1.sum() + f2.sum())

    def proxy(**options):
        return FisherProxy(build_config(FisherProxy.Config, {"init": "default", **options}, "fisher"),
                           space=TwoLayerSpace())

    assert proxy().score("0", ctx()) == pytest.approx(reference, rel=1e-5)
    assert proxy(reduction="channel").score("0", ctx()) == pytest.approx(plain, rel=1e-5)
    assert reference / plain not in (pytest.approx(2.0), pytest.approx(3.0))  # not one constant factor
    with pytest.raises(ConfigError, match="reduction"):
        build_config(FisherProxy.Config, {"reduction": "fanin"}, "fisher")


def test_grasp_matches_an_explicit_hessian():
    w0, x, _, _, _ = _linear_classifier_terms()

    def loss(flat):
        return nn.functional.cross_entropy(x @ flat.reshape(3, 3).T, Y)

    flat = w0.reshape(-1).clone()
    g = torch.autograd.grad(loss(flat.requires_grad_(True)), flat)[0]
    hessian = torch.autograd.functional.hessian(loss, flat.detach())
    expected = float(-(flat.detach() * (hessian @ g)).sum())
    assert make(GraspProxy).score("2", ctx()) == pytest.approx(expected, rel=1e-4, abs=1e-9)


def test_jacov_of_a_linear_network_has_identical_jacobians():
    # d(sum of logits)/dx = W^T 1 for every image: the correlation matrix is all ones, with
    # eigenvalues N and 0 (N - 1 times).
    n, k = 4, 1e-5
    expected = -((math.log(n + k) + 1 / (n + k)) + (n - 1) * (math.log(k) + 1 / k))
    assert make(JacovProxy).score("2", ctx()) == pytest.approx(expected, rel=1e-6)
    assert math.isnan(jacobian_covariance_score(np.zeros((3, 5)), k))


def test_naswot_kernel_by_hand():
    # ReLU codes of the first three images: [1,0,1], [1,1,0], [0,1,1]; K[i,j] = units that agree:
    # [[3,1,1],[1,3,1],[1,1,3]], det = 20.
    assert make(NaswotProxy).score("3", ctx(n=3)) == pytest.approx(math.log(20.0), rel=1e-12)


def test_linear_regions_of_a_single_relu_layer_are_the_orthants():
    # Codes of x -> relu(x) in 3 dimensions: the 8 orthants, all hit by 300 Gaussian inputs.
    proxy = make(LinearRegionsProxy, input_size=1, batch_size=100, batches=3)
    assert proxy.score("3", ctx()) == 8.0


def test_ntk_condition_number_of_a_linear_classifier():
    # g_n = d(sum_c (W x_n)_c)/dW = 1 x_n^T, so the NTK is C * X X^T.
    gram = 3 * (X[:3].double() @ X[:3].double().T)
    eig = np.linalg.eigvalsh(gram.numpy())
    proxy = make(NTKProxy, repeats=1, module_options={})
    assert proxy.score("2", ctx(n=3)) == pytest.approx(eig[-1] / eig[0], rel=1e-5)
    assert proxy.direction == "min"


def test_zen_is_log_linear_in_the_perturbation_for_a_linear_map():
    # Without ReLU or BN, f(x) - f(x + g e) = -g W e, so log delta moves by log 2 when g doubles.
    base = make(ZenProxy, batch_size=8, input_size=1).score("5", ctx())
    doubled = make(ZenProxy, batch_size=8, input_size=1, gamma=0.02).score("5", ctx())
    assert doubled - base == pytest.approx(math.log(2), rel=1e-5)  # float32 forward


# --- robustness, direction, determinism ----------------------------------------------------------
def test_degenerate_network_gives_non_finite_scores_ranked_last():
    jacov, naswot = make(JacovProxy), make(NaswotProxy)
    assert math.isnan(jacov.score("4", ctx()))
    assert naswot.score("4", ctx()) == -math.inf
    assert jacov.fitness(math.nan) == -math.inf and naswot.fitness(-math.inf) == -math.inf
    assert make(NTKProxy, module_options={}).fitness(math.inf) == -math.inf


def test_a_score_run_survives_non_finite_scores(tmp_path):
    reg = Registry()
    reg.register("space", "known", KnownSpace)
    # the built-in sample photographs, shrunk to the 3 x 1 x 1 inputs these networks take
    cfg = {"kind": "score", "space": "known", "proxy": {"name": "jacov", "init": "default"},
           "score": {"archs": ["2", "4"]}, "store": {"path": str(tmp_path / "s.db")},
           "data": {"source": "sample", "batch_size": 4, "image_size": 1}}
    result = run(cfg, registry=reg)
    assert result.result["archs"] == 2 and result.result["non_finite"] == 1


def test_directions_and_needs_match_the_references():
    needs = {cls: (cls.direction, cls.needs_data, cls.needs_labels) for cls in ALL}
    assert needs[NTKProxy] == ("min", True, False)
    assert all(needs[c] == ("max", True, True) for c in (SnipProxy, GraspProxy, GradNormProxy, FisherProxy))
    assert all(needs[c] == ("max", True, False) for c in (JacovProxy, NaswotProxy))
    assert all(needs[c] == ("max", False, False) for c in (SynflowProxy, LogSynflowProxy, ZenProxy, LinearRegionsProxy))


@pytest.mark.parametrize("cls,options", [(SynflowProxy, {}), (SnipProxy, {}), (ZenProxy, {"batch_size": 8})])
def test_seed_decides_the_weights_and_the_global_rng_is_untouched(cls, options):
    space = ToySpace()
    proxy = cls(build_config(cls.Config, options, cls.__name__), space=space)
    context = ProxyContext(seed=3, batch=(torch.randn(6, 3, 32, 32, generator=torch.Generator().manual_seed(1)),
                                          torch.tensor([0, 1, 2, 3, 4, 5])), num_classes=10)
    torch.manual_seed(123)
    a = proxy.score("123123", context)
    after = torch.rand(1)
    torch.manual_seed(999)
    b = proxy.score("123123", context)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(1), after)  # scoring consumed nothing from the caller's RNG
    assert a == b
    other = proxy.score("123123", ProxyContext(seed=4, batch=context.batch, num_classes=10))
    assert other != a


def test_cuda_request_falls_back_to_the_cpu_when_unavailable():
    if torch.cuda.is_available():
        pytest.skip("CUDA present: the fallback path is not taken")
    proxy = make(SnipProxy)
    wanted = ProxyContext(seed=0, batch=ctx().batch, num_classes=3, device="cuda")
    with pytest.warns(RuntimeWarning, match="CUDA is not available"):
        assert proxy.score("2", wanted) == proxy.score("2", ctx())


def test_missing_batch_and_bad_labels_name_the_fix():
    with pytest.raises(ConfigError, match=r"needs an image batch; add \[data\]"):
        make(SnipProxy).score("2", ProxyContext(seed=0, num_classes=3))
    with pytest.raises(ConfigError, match="num_classes"):
        make(SnipProxy).score("2", ctx(classes=2))
    with pytest.raises(ConfigError, match="init"):
        build_config(SynflowProxy.Config, {"init": "orthogonal"}, "proxy")


# --- the core conformance suite ------------------------------------------------------------------
class _Conformance(ProxyConformance):
    cls = None

    @pytest.fixture
    def proxy_cls(self):
        return self.cls


OPTIONS = {ZenProxy: {"batch_size": 8}, LinearRegionsProxy: {"batch_size": 100, "batches": 1},
           NTKProxy: {"batch_size": 4, "repeats": 1}}
#: For the direction check on the NAS-Bench-201 reference task: with 100 patterns every network
#: of the task cuts them into the same number of regions (a constant score).
DIRECTION_OPTIONS = {LinearRegionsProxy: {"batch_size": 256, "batches": 1}, NTKProxy: {"batch_size": 8, "repeats": 1}}
for _cls in ALL:
    _options = OPTIONS.get(_cls, {})
    _direction = DIRECTION_OPTIONS.get(_cls, _options)
    globals()[f"Test{_cls.__name__}Conformance"] = type(
        f"Test{_cls.__name__}Conformance", (_Conformance,),
        {"cls": _cls, "proxy_options": pytest.fixture(lambda self, _o=_options: dict(_o)),
         "direction_options": pytest.fixture(lambda self, _o=_direction: dict(_o))})


# --- real NAS-Bench-201 networks (narrow) on real CIFAR images -----------------------------------
def test_every_proxy_scores_narrow_nb201_networks_on_cifar(benchmarks):
    from nasplug.core.data import load_image_batch

    space = pytest.importorskip("nasplug.spaces.nb201").NB201Space()  # from nasplug-spaces
    x, y, classes = load_image_batch(benchmarks / "images" / "cifar10_test_20.npz", 8, 10)
    context = ProxyContext(seed=0, batch=(x, y), num_classes=classes)
    small = {"channels": 4, "cells_per_stage": 1}
    archs = [space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"),
             space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")]
    for name in ["synflow", "logsynflow", "snip", "grasp", "grad_norm", "fisher", "jacov", "naswot", "zen", "nregions", "ntk"]:
        extra = {"batch_size": 8} if name == "zen" else {"batch_size": 100, "batches": 1} if name == "nregions" else {}
        if name == "ntk":
            extra = {"repeats": 1, "batch_size": 4}
        proxy = registry().create("proxy", {"name": name, "module_options": small, **extra}, space=space)
        good, empty = (proxy.score(a, context) for a in archs)
        assert isinstance(good, float) and math.isfinite(good), name
        # a cell of 'none' edges disconnects the cells: every proxy must rank it no better
        if math.isfinite(empty):
            assert proxy.fitness(good) >= proxy.fitness(empty), name
