"""FT-ScoreNet: kernel synthesis, v-norm, soft ranking, constructed networks, training, the
proxy/predictor plugins, the ensemble and the NSGA-II-DE search."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from nasplug.core.errors import ConfigError
from nasplug.core.registry import registry
from nasplug.core.testing import ProxyConformance
from nasplug.core.testing.toy import ToySpace
from nasplug.proxies.ftscorenet import FTScoreNet, FTScoreNetPredictor, FTScoreNetProxy, ModelConfig
from nasplug.proxies.ftscorenet.construct import construct
from nasplug.proxies.ftscorenet.ensemble import ScoreEnsemble, load_checkpoint, mean_spearman
from nasplug.proxies.ftscorenet.kernels import GAINS, FrequencyBank, synthesize_bias, synthesize_kernel
from nasplug.proxies.ftscorenet.layers import PseudoBatchNorm, SymLog, SynthConv2d
from nasplug.proxies.ftscorenet.softrank import pav_blocks, soft_rank, soft_spearman
from nasplug.proxies.ftscorenet.train import LabelledSet, TrainConfig, train
from nasplug.proxies.ftscorenet.vnorm import vnorm_states
from nasplug.spaces.nb201 import NB201Space
from nasplug.spaces.zen_resnet import ZenResNetSpace

#: A small model for tests: the paper's bank and kernel, 8 synthetic 16x16 images.
SMALL = ModelConfig(images=8, input_size=16, mlp_width=8)
ZEN_INIT = ("SuperConvK3BNRELU(3,8,1,1)SuperResK3K3(8,16,1,8,1)SuperResK3K3(16,32,2,16,1)"
            "SuperResK3K3(32,64,2,32,1)SuperResK3K3(64,64,2,32,1)SuperConvK1BNRELU(64,128,1,1)")


def test_registered_as_proxy_and_predictor():
    assert registry().load("proxy", "ftscorenet") is FTScoreNetProxy
    assert registry().load("predictor", "ftscorenet") is FTScoreNetPredictor


# --- kernel synthesis ------------------------------------------------------------------------
def numpy_kernel(maps: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """docs/methods/ftscorenet.md 1.2 step by step in numpy: an independent check of the torch version."""
    c_out, c_in, kh, kw = shape
    m, k, _ = maps.shape
    x = np.fft.fft2(maps, s=(kh, kw), norm="ortho")
    x = x * (math.sqrt(kh / k) if kh > k else 1.0) * (math.sqrt(kw / k) if kw > k else 1.0)
    n = c_out * c_in
    x = np.abs(np.fft.fft(x, n=n, axis=0, norm="ortho")) * (math.sqrt(n / m) if n > m else 1.0)
    return x.reshape(c_out, c_in, kh, kw) * math.sqrt(2) / math.sqrt(c_in * kh * kw)


@pytest.mark.parametrize("shape", [
    (16, 16, 3, 3),     # trims the 7x7 maps and the 4096 maps
    (1, 1, 1, 1),
    (70, 70, 9, 9),     # pads both: 4900 > 4096 maps, 9 > 7
    (128, 64, 7, 5),    # pads the map axis, trims one side
    (2, 3, 1, 11),      # asymmetric: trims one side, pads the other
])
def test_kernel_synthesis_returns_the_requested_shape(shape):
    bank = FrequencyBank(generator=torch.Generator().manual_seed(0))
    w = bank.kernel(*shape)
    assert tuple(w.shape) == shape and torch.all(w >= 0) and torch.all(torch.isfinite(w))
    np.testing.assert_allclose(w.detach().double().numpy(), numpy_kernel(bank.maps.detach().double().numpy(), shape),
                               rtol=1e-4, atol=1e-6)


def test_padding_up_keeps_the_energy_per_weight():
    """The sqrt(N/K) rule: padded synthesis keeps the mean squared weight of the native size."""
    maps = torch.randn(64 * 64, 7, 7, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    native = synthesize_kernel(maps, (64, 64, 7, 7), gain=1.0) * math.sqrt(64 * 49)
    padded = synthesize_kernel(maps, (64, 64, 14, 14), gain=1.0) * math.sqrt(64 * 196)
    assert padded.pow(2).mean().item() == pytest.approx(native.pow(2).mean().item(), rel=0.05)


def test_bias_synthesis_pads_and_trims():
    values = torch.randn(64, generator=torch.Generator().manual_seed(2))
    for n in (10, 64, 200):
        b = synthesize_bias(values, n)
        assert b.shape == (n,) and torch.all(b >= 0)
    expected = np.abs(np.fft.fft(values.numpy(), n=200, norm="ortho")) * math.sqrt(200 / 64)
    np.testing.assert_allclose(synthesize_bias(values, 200).numpy(), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(2, 2, 2, 2), (5, 3, 5, 3)])  # trim / pad both axes
def test_kernel_synthesis_is_differentiable(shape):
    maps = torch.randn(8, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3), requires_grad=True)
    assert torch.autograd.gradcheck(lambda m: synthesize_kernel(m, shape, GAINS["relu"]), (maps,))
    bias = torch.randn(4, dtype=torch.float64, generator=torch.Generator().manual_seed(4), requires_grad=True)
    assert torch.autograd.gradcheck(lambda b: synthesize_bias(b, 6), (bias,))


def test_deferred_synthesis_gives_the_same_gradients():
    def run(deferred: bool) -> torch.Tensor:
        bank = FrequencyBank(4, 3, generator=torch.Generator().manual_seed(5))
        x = torch.randn(2, 4, 6, 6, generator=torch.Generator().manual_seed(6))
        conv = SynthConv2d(bank, torch.nn.Conv2d(4, 4, 3, padding=1), vnorm=False)
        if deferred:
            with bank.deferred():
                for _ in range(3):
                    conv(x).sum().backward()
        else:
            for _ in range(3):
                conv(x).sum().backward()
        return bank.maps.grad
    torch.testing.assert_close(run(True), run(False))


# --- v-norm and the other representations -------------------------------------------------
def test_vnorm_second_pass_reuses_the_first_pass_factor():
    bank = FrequencyBank(generator=torch.Generator().manual_seed(0))
    conv = SynthConv2d(bank, torch.nn.Conv2d(3, 8, 3, padding=1, bias=False), vnorm=True)
    g = torch.Generator().manual_seed(1)
    x1, x2 = torch.randn(4, 3, 8, 8, generator=g), 5 * torch.randn(4, 3, 8, 8, generator=g)
    raw = lambda x: torch.nn.functional.conv2d(x, bank.kernel(8, 3, 3, 3), bank.bias(8), padding=1)  # noqa: E731
    first = conv(x1)
    assert not first.requires_grad, "the calibration pass runs without gradients"
    factor = conv.vnorm.factor.clone()
    assert factor.item() == pytest.approx(raw(x1).std().item(), rel=1e-6)
    second = conv(x2)  # another input: the factor must not be re-measured
    assert second.requires_grad
    torch.testing.assert_close(conv.vnorm.factor, factor)
    torch.testing.assert_close(second, raw(x2) / (factor + 1e-5))
    torch.testing.assert_close(conv(x1).detach(), first)  # same input: same values as the first pass


def test_vnorm_can_be_switched_off():
    bank = FrequencyBank(generator=torch.Generator().manual_seed(0))
    conv = SynthConv2d(bank, torch.nn.Conv2d(3, 8, 3, padding=1), vnorm=False)
    x = torch.randn(4, 3, 8, 8)
    assert conv.vnorm is None
    torch.testing.assert_close(conv(x), torch.nn.functional.conv2d(x, bank.kernel(8, 3, 3, 3), bank.bias(8), padding=1))
    model = FTScoreNet(ModelConfig(images=8, input_size=16, mlp_width=8, vnorm=False))
    assert vnorm_states(model.build(NB201Space(), ("nor_conv_3x3",) * 6)) == []


def test_pseudo_batch_norm_and_symlog():
    x = torch.randn(16, 3, 4, 4, generator=torch.Generator().manual_seed(0)) * 3 + 1
    expected = (x - x.mean(0, keepdim=True)) / (x.std(0, unbiased=False, keepdim=True) + 1e-5)
    torch.testing.assert_close(PseudoBatchNorm()(x), expected)
    z = torch.tensor([-8.0, -1.0, 0.0, 1e-4, 3.0])
    torch.testing.assert_close(SymLog()(z), torch.tensor([-math.log2(9), -1.0, 0.0, 0.1 * math.log2(1 + 1e-4), 2.0]))


# --- soft ranking -------------------------------------------------------------------------
def test_pav_matches_sklearn_isotonic_regression():
    from sklearn.isotonic import isotonic_regression

    y = np.random.default_rng(0).normal(size=40)
    means = np.repeat([np.mean(b) for b in np.split(y, np.cumsum(pav_blocks(list(y)))[:-1])], pav_blocks(list(y)))
    np.testing.assert_allclose(means, isotonic_regression(y, increasing=False), atol=1e-12)


def test_soft_rank_is_a_projection_onto_the_permutahedron():
    x = torch.tensor([0.3, -1.2, 2.5, 0.31, 0.0], dtype=torch.float64)
    r = soft_rank(x, 1.0)
    assert r.sum().item() == pytest.approx(15.0)  # the permutahedron of (1..5)
    assert torch.equal(torch.argsort(r), torch.argsort(x))
    assert torch.allclose(soft_rank(x, 1e-3), torch.tensor([3.0, 1.0, 5.0, 4.0, 2.0], dtype=torch.float64))
    assert torch.allclose(soft_rank(x, 1e6), torch.full((5,), 3.0, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(soft_rank(x, 1e-3, descending=True), torch.tensor([3.0, 5.0, 1.0, 2.0, 4.0], dtype=torch.float64))


def test_soft_spearman_approaches_exact_spearman_as_regularisation_vanishes():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(3, 30, generator=g, dtype=torch.float64), torch.randn(3, 30, generator=g, dtype=torch.float64)
    exact = np.array([stats.spearmanr(p, t).statistic for p, t in zip(pred.numpy(), target.numpy())])
    errors = [np.abs(soft_spearman(pred, target, eps).numpy() - exact).max() for eps in (3.0, 0.3, 0.03, 1e-3, 1e-7)]
    assert errors[0] > 1e-2 and errors[-1] < 1e-9  # not monotone on the way: soft ranks may cross
    assert max(errors[3:]) < min(errors[:2])


def test_soft_rank_gradients_are_exact():
    x = torch.randn(2, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(3), requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: soft_rank(t, 0.8), (x,))
    y = torch.randn(7, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: soft_spearman(t, y, 3.0), (x,))


def test_soft_rank_matches_torchsort_when_installed():
    torchsort = pytest.importorskip("torchsort")
    x = torch.randn(4, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    expected = torchsort.soft_rank(x, regularization="l2", regularization_strength=3.0)
    torch.testing.assert_close(soft_rank(x, 3.0), expected)


# --- constructed networks and scores ---------------------------------------------------------
@pytest.mark.parametrize("space, arch", [
    (NB201Space(), ("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "none", "nor_conv_3x3")),
    (ZenResNetSpace(), ZEN_INIT),
    (ToySpace(), "012301"),  # no forward_stages: read at the classifier's input
])
def test_constructed_networks_replace_every_conv_and_batch_norm(space, arch):
    model = FTScoreNet(SMALL)
    original = space.to_module(space.parse(arch) if not isinstance(arch, tuple) else arch)
    n_convs = sum(isinstance(m, torch.nn.Conv2d) for m in original.modules())
    net = construct(space, arch, model.bank)
    assert net.convolutions == n_convs == len(vnorm_states(net))
    assert not any(isinstance(m, (torch.nn.Conv2d, torch.nn.BatchNorm2d)) for m in net.modules())
    assert not list(net.parameters()), "a constructed network has no weights of its own"
    with torch.no_grad():
        feats = net.features(model.inputs)
    assert feats.shape[0] == SMALL.images and feats.ndim == 2


def test_identical_architectures_get_identical_scores():
    space = NB201Space()
    model = FTScoreNet(SMALL, seed=3)
    arch = ("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "none", "nor_conv_3x3")
    a = model.score(space, arch)
    b = model.score(space, space.parse(space.canonical(arch)))
    c = FTScoreNet(SMALL, seed=3).score(space, arch)
    assert a == b == c
    other = model.score(space, ("nor_conv_1x1",) + arch[1:])
    assert other != a
    zen = ZenResNetSpace()
    assert model.score(zen, ZEN_INIT) == model.score(zen, zen.parse(ZEN_INIT))


def test_a_short_training_run_raises_the_spearman_on_a_learnable_target():
    """The toy network is a function of the non-zero digits, so latency (1 + digit sum) is
    learnable from it; 8 full-batch steps take the Spearman from about -0.15 to about 0.65."""
    space = ToySpace()
    archs = space.sample_many(12, np.random.default_rng(0))
    y = space.load_benchmark().query_many(archs, "latency")
    model = FTScoreNet(ModelConfig(images=8, input_size=8, mlp_width=8), seed=0)
    before = stats.spearmanr(model.score_many(space, archs), y).statistic
    history = train(model, [LabelledSet("toy", space, archs, y)], TrainConfig(steps=8, archs_per_step=0), seed=0)
    after = stats.spearmanr(model.score_many(space, archs), y).statistic
    assert len(history) == 8 and all(np.isfinite(h.soft_spearman) for h in history)
    assert after > before + 0.3
    assert history[-1].soft_spearman > history[0].soft_spearman


def test_multi_space_training_iterates_over_the_sets():
    toy, nb201 = ToySpace(), NB201Space()
    sets = [LabelledSet("toy", toy, toy.sample_many(6, np.random.default_rng(0)), np.arange(6.0)),
            LabelledSet("nb201", nb201, nb201.sample_many(6, np.random.default_rng(1)), np.arange(6.0))]
    model = FTScoreNet(ModelConfig(images=4, input_size=8, mlp_width=4))
    history = train(model, sets, TrainConfig(steps=4, archs_per_step=3), seed=0)
    assert [h.set_name for h in history] == ["toy", "nb201", "toy", "nb201"]


def test_training_killed_and_resumed_from_its_checkpoint_ends_with_the_same_weights(tmp_path):
    """Two sets, batches of 3 of 5 (so the batch order is reshuffled mid-run) and Adam's moments:
    all of it must come back from the checkpoint for the resumed run to match the straight one."""
    toy, nb201 = ToySpace(), NB201Space()
    sets = [LabelledSet("toy", toy, toy.sample_many(5, np.random.default_rng(0)), np.arange(5.0)),
            LabelledSet("nb201", nb201, nb201.sample_many(5, np.random.default_rng(1)), np.arange(5.0)[::-1])]
    cfg, small = TrainConfig(steps=7, archs_per_step=3), ModelConfig(images=4, input_size=8, mlp_width=4)
    straight = FTScoreNet(small, seed=3)
    expected = train(straight, sets, cfg, seed=5)

    class Killed(Exception):
        pass

    def die_at_step_3(step, model):
        if step == 3:
            raise Killed

    ckpt = tmp_path / "train.pt"
    with pytest.raises(Killed):
        train(FTScoreNet(small, seed=3), sets, cfg, seed=5, callback=die_at_step_3, checkpoint=ckpt, checkpoint_every=2)
    seen = []
    resumed = FTScoreNet(small, seed=3)  # a fresh process: initial weights, the rest from the file
    history = train(resumed, sets, cfg, seed=5, checkpoint=ckpt, checkpoint_every=2,
                    callback=lambda step, m: seen.append(step))
    assert seen == [4, 5, 6]  # the checkpoint held 4 steps (written at step 3, before the callback)
    assert [(h.step, h.set_name, h.soft_spearman) for h in history] == \
        [(h.step, h.set_name, h.soft_spearman) for h in expected]
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="other training settings"):
        train(FTScoreNet(small, seed=3), sets, TrainConfig(steps=8, archs_per_step=3), seed=5, checkpoint=ckpt)


# --- plugins --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return str(FTScoreNet(SMALL, seed=7).save(tmp_path_factory.mktemp("ft") / "scorer.pt"))


class TestFTScoreNetProxyConformance(ProxyConformance):
    direction_check = False
    direction_reason = ("a learned scorer: its sign is whatever training made it; the trained "
                        "scorer's correlation is checked in bench/ftscorenet.py")
    @pytest.fixture
    def proxy_cls(self):
        return FTScoreNetProxy

    @pytest.fixture
    def proxy_options(self, checkpoint):
        return {"checkpoint": checkpoint}


def test_proxy_reads_a_checkpoint_and_reports_a_missing_one(checkpoint, tmp_path):
    space = NB201Space()
    arch = ("nor_conv_3x3",) * 6
    proxy = FTScoreNetProxy(FTScoreNetProxy.Config(checkpoint=checkpoint), space=space)
    assert proxy.score(arch, None) == FTScoreNet(SMALL, seed=7).score(space, arch)
    missing = FTScoreNetProxy(FTScoreNetProxy.Config(checkpoint=str(tmp_path / "nope.pt")), space=space)
    with pytest.raises(ConfigError, match="not found"):
        missing.score(arch, None)


def test_predictor_fits_predicts_and_embeds_deterministically():
    space = ToySpace()
    archs = space.sample_many(10, np.random.default_rng(0))
    y = space.load_benchmark().query_many(archs, "latency")
    options = FTScoreNetPredictor.Config(images=4, input_size=8, mlp_width=4, steps=2, archs_per_step=5)
    a = FTScoreNetPredictor(options, space=space).fit(archs, y, seed=1)
    b = FTScoreNetPredictor(options, space=space).fit(archs, y, seed=1)
    test = space.sample_many(4, np.random.default_rng(1))
    np.testing.assert_array_equal(a.predict(test), b.predict(test))
    assert a.predict(test).shape == (4,) and a.embed(test).shape == (4, 4)
    twin = a.clone()
    assert twin.config == a.config and twin.model is None


# --- ensemble -------------------------------------------------------------------------------
def test_ensemble_weights_maximise_mean_spearman(tmp_path):
    rng = np.random.default_rng(0)
    y1, y2 = rng.normal(size=60), rng.normal(size=60)
    # member 0 knows set 1, member 1 knows set 2, member 2 is noise
    s1 = np.stack([y1 + 0.3 * rng.normal(size=60), rng.normal(size=60), rng.normal(size=60)])
    s2 = np.stack([rng.normal(size=60), y2 + 0.3 * rng.normal(size=60), rng.normal(size=60)])
    ens = ScoreEnsemble([FTScoreNet(SMALL, seed=i) for i in range(3)], ["a", "b", "noise"])
    fitted = ens.fit([s1, s2], [y1, y2], own_set=[0, 1, None], seed=0, maxiter=15, popsize=8)
    assert fitted == pytest.approx(mean_spearman([ens.combine(s1), ens.combine(s2)], [y1, y2]))
    singles = [mean_spearman([s1[i], s2[i]], [y1, y2]) for i in range(3)]
    assert fitted > max(singles) + 0.1
    assert ens.weights[2] < max(ens.weights[:2])
    loaded = load_checkpoint(ens.save(tmp_path / "ens.pt"))
    np.testing.assert_allclose(loaded.combine(s1), ens.combine(s1))
