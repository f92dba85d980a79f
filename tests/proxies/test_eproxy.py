"""Eproxy: frozen barrier, determinism, the DPS configuration space, synthetic targets."""

import math

import numpy as np
import pytest
import torch

from nasplug.core.data import load_image_batch
from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.core.interfaces.proxy import ProxyContext
from nasplug.core.options import build_config
from nasplug.core.registry import registry
from nasplug.core.testing import ProxyConformance
from nasplug.core.testing.toy import ToySpace
from nasplug.proxies.eproxy import EProxy, EproxyTuningSpace
from nasplug.proxies.eproxy.config_space import CHANNELS, KERNELS
from nasplug.proxies.eproxy.targets import BAND_LIMITS, BANDS, FEATURES, feature_banks, wave_maps

#: A 4-channel, 1-cell-per-stage NAS-Bench-201 network: the same stages, ~100x cheaper.
TINY = {"module_options": {"channels": 4, "cells_per_stage": 1}, "images": 8}
LARGEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def nb201_space():
    """NAS-Bench-201 (from nasplug-spaces; tests needing real networks skip without it)."""
    return pytest.importorskip("nasplug.spaces.nb201").NB201Space()


@pytest.fixture(scope="module")
def space():
    return nb201_space()


@pytest.fixture(scope="module")
def images(benchmarks):
    x, y, _ = load_image_batch(benchmarks / "images" / "cifar10_test_20.npz", 16)
    return x, y


def make(space, **options):
    return EProxy(build_config(EProxy.Config, {**TINY, **options}, "proxy"), space=space)


def ctx(images, seed=0):
    return ProxyContext(seed=seed, batch=images, num_classes=10)


class TestConformance(ProxyConformance):
    @pytest.fixture
    def proxy_cls(self):
        return EProxy

    @pytest.fixture
    def proxy_options(self):
        return {**TINY, "iterations": 3, "transform_channels": [32], "barrier_channels": [16]}

    @pytest.fixture
    def direction_options(self):
        return dict(TINY)  # the paper's iterations and widths; Spearman -0.86 on the reference task

    @pytest.fixture
    def space(self):
        return nb201_space()


def test_a_network_that_ignores_its_input_scores_nan_so_it_ranks_last(space, images):
    """Every edge into the output node is ``none``: the cell outputs zeros, every stage output
    is the same for any image, and regressing onto a constant would otherwise undercut the
    loss of working networks (a proxy-guided REA converged on such cells)."""
    from nasplug.core.runs.tune import ranked_fitness

    proxy = make(space, iterations=3)
    dead = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|")
    through_skip = space.parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    scores = [proxy.score(a, ctx(images)) for a in (dead, through_skip, space.parse(LARGEST))]
    assert math.isnan(scores[0]) and all(math.isfinite(v) for v in scores[1:])
    assert np.argmin(ranked_fitness(proxy, scores)) == 0


def test_barrier_weights_never_change_while_the_rest_trains(space, images):
    proxy = make(space, iterations=4)
    arch = space.parse(LARGEST)
    x = images[0][:8]
    model, barrier = proxy.build(arch, x, ctx(images))
    barrier_before = {k: v.clone() for k, v in barrier.state_dict().items()}
    model_before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = proxy.regress(model, barrier, x, proxy.targets(x))
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses)
    assert all(not p.requires_grad and p.grad is None for p in barrier.parameters())
    for key, value in barrier.state_dict().items():
        assert torch.equal(value, barrier_before[key]), key
    changed = [k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.equal(v, model_before[k])]
    assert any(k.startswith("transforms.") for k in changed) and any(k.startswith("network.") for k in changed)


def test_score_is_deterministic_under_a_seed(space, images):
    proxy = make(space, transform_channels=[64], barrier_channels=[32])
    arch = space.sample(np.random.default_rng(3))
    a, b = proxy.score(arch, ctx(images, 5)), proxy.score(arch, ctx(images, 5))
    assert isinstance(a, float) and math.isfinite(a) and a == b
    assert proxy.score(arch, ctx(images, 6)) != a
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    proxy.score(arch, ctx(images, 5))
    assert torch.equal(torch.rand(1), expected)  # the caller's torch stream is untouched


def test_flops_term_uses_the_largest_architecture_with_a_minus_sign(space, images):
    arch = space.parse(LARGEST)
    plain = make(space, iterations=2, flops_coefficient=0).score(arch, ctx(images))
    scaled = make(space, iterations=2, flops_coefficient=0.5).score(arch, ctx(images))
    assert scaled == pytest.approx(0.5 * plain, rel=1e-9)  # 1 - 0.5 * MACs/MACs_max, MACs = MACs_max
    small = space.parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    ratio = make(space, iterations=2, flops_coefficient=0.5).score(small, ctx(images)) / make(space, iterations=2, flops_coefficient=0).score(small, ctx(images))
    assert 0.5 < ratio < 1.0


def test_every_dps_configuration_builds_and_scores_a_small_network(space, images):
    tuning = EproxyTuningSpace()
    rng = np.random.default_rng(0)
    configs = [tuning.sample(rng) for _ in range(10)]
    configs.append({**tuning.sample(rng), "branches": 3, "transform_kernel": [7] * 3, "barrier_kernel": [7] * 3,
                    "transform_channels": [max(CHANNELS)] * 3, "barrier_channels": [max(CHANNELS)] * 3,
                    "features": [list(FEATURES)] * 3, "learning_rate": 1.5, "levels": [2.0] * 3})
    configs.append({**tuning.sample(rng), "branches": 1, "transform_kernel": [min(KERNELS)] * 3, "barrier_kernel": [1] * 3,
                    "transform_channels": [min(CHANNELS)] * 3, "barrier_channels": [min(CHANNELS)] * 3, "features": [[]] * 3})
    archs = space.sample_many(len(configs), np.random.default_rng(1))
    for config, arch in zip(configs, archs):
        proxy = make(space, **config, images=4, iterations=2, target_size=4)
        value = proxy.score(arch, ctx(images))
        assert isinstance(value, float) and not math.isnan(value), config
        model, barrier = proxy.build(arch, images[0][:4], ctx(images))
        assert len(model.transforms) == config["branches"] == len(barrier.convs)
        for i, conv in enumerate(barrier.convs):
            assert conv.kernel_size == (config["barrier_kernel"][i],) * 2
            assert (conv.in_channels, conv.out_channels) == (config["transform_channels"][i], config["barrier_channels"][i])


def test_tuning_space_mutation_is_per_field_and_seeded():
    tuning = EproxyTuningSpace()
    parent = tuning.sample(np.random.default_rng(0))
    assert tuning.decode(tuning.encode(parent)) == parent
    children = [tuning.mutate(parent, np.random.default_rng(s), 0.2) for s in range(200)]
    assert tuning.mutate(parent, np.random.default_rng(7), 0.2) == children[7]
    changed = np.mean([child["learning_rate"] != parent["learning_rate"] for child in children])
    assert 0.1 < changed < 0.3  # resampled with p = 0.2, same value 1 time in 11
    assert all(tuning.mutate(parent, np.random.default_rng(s), 0.0) == parent for s in range(5))
    build_config(EProxy.Config, children[0], "proxy")  # every mutated configuration is valid


def test_targets_have_the_documented_shapes(images):
    x = images[0]
    proxy = make(ToySpace(), images=16, branches=3, features=[["net"], ["dot", "wave_l"], []], transform_kernel=[3] * 3,
                 barrier_kernel=[3] * 3, transform_channels=[64] * 3, barrier_channels=[64, 16, 32], levels=[1.0, 2.0, 0.5])
    targets = proxy.targets(x)
    assert [tuple(t.shape) for t in targets] == [(16, 64, 8, 8), (16, 16, 8, 8), (16, 32, 8, 8)]
    banks = feature_banks(x, 512, 8, 0)
    assert all(tuple(b.shape) == (16, 512, 8, 8) for b in banks.values())
    assert torch.equal(targets[0], banks["net"][:, :64])
    assert torch.equal(targets[1], 2.0 * (banks["dot"][:, :16] + banks["wave_l"][:, :16]))
    assert torch.count_nonzero(targets[2]) == 0
    assert banks["net"].abs().max() == pytest.approx(1.0)
    assert set(banks["dot"].unique().tolist()) == {-1.0, 1.0}
    assert not torch.equal(banks["dot"][0], banks["dot"][1])
    for band in BANDS:
        assert torch.equal(banks[band][0], banks[band][5])  # waves do not depend on the image
    assert torch.equal(feature_banks(x, 512, 8, 0)["net"], feature_banks(x.clone(), 512, 8, 0)["net"])


@pytest.mark.parametrize("band", sorted(BANDS))
def test_waves_peak_in_their_frequency_band(band):
    size = 256
    maps, freqs, axes = wave_maps(band, 48, size, np.random.default_rng(4))
    low, high = BAND_LIMITS[band]
    assert maps.shape == (48, size, size) and np.all(np.abs(maps) <= 1.0)
    assert np.all((freqs >= low) & (freqs < high))  # the grids include the lower band edge (authors: M from 0.125)
    for c in range(48):
        profile = maps[c, :, 0] if axes[c] == 0 else maps[c, 0, :]
        other = maps[c, 0, :] if axes[c] == 0 else maps[c, :, 0]
        assert np.ptp(other) == 0  # constant along the other axis
        spectrum = np.abs(np.fft.rfft((profile - profile.mean()) * np.hanning(size), n=16 * size))
        peak = np.argmax(spectrum) / (16 * size)
        assert low - 1 / size <= peak <= high + 1 / size, (band, freqs[c], peak)
        assert peak == pytest.approx(freqs[c], abs=1.5 / size)


def test_bad_options_and_inputs_name_the_fix(images):
    with pytest.raises(ConfigError, match="proxy.features"):
        build_config(EProxy.Config, {"features": [["colour"]]}, "proxy")
    with pytest.raises(ConfigError, match="branches = 2"):
        build_config(EProxy.Config, {"branches": 2}, "proxy")
    with pytest.raises(ConfigError, match="proxy.init_net"):
        build_config(EProxy.Config, {"init_net": "orthogonal"}, "proxy")
    with pytest.raises(ConfigError, match="needs an image batch"):
        make(ToySpace()).score("0123", ProxyContext(seed=0))
    toy = ToySpace()
    with pytest.raises(ArchitectureError, match="forward_stages"):
        EProxy(space=toy).score(toy.sample(np.random.default_rng(0)), ctx(images))


#: Each space with ``to_module``, shrunk through ``module_options`` where the space offers them.
SMALL_NETWORKS = {
    "nb101": {"stem_channels": 8, "stacks": 3, "cells_per_stack": 1},
    "darts": {"channels": 8, "layers": 5},
    "transnas_micro": {"base_channels": 8, "blocks_per_layer": 1},
    "transnas_macro": {"base_channels": 8, "blocks_per_layer": 1},
    "nb_macro": {"channels": 8, "last_channels": 32},
    "mobilenet": {"width_mult": 0.5},
    "zen_resnet": {},
}


@pytest.mark.parametrize("name", sorted(SMALL_NETWORKS))
def test_scores_every_space_with_networks_through_its_stage_outputs(name, images):
    """Eproxy needs only ``to_module`` with ``forward_stages``: the three deepest stage outputs
    are regressed, and the score is a finite loss that a second run reproduces."""
    pytest.importorskip("nasplug.spaces")
    space = registry().create("space", name)
    three = {**EproxyTuningSpace().sample(np.random.default_rng(0)), "branches": 3, "transform_channels": [16] * 3,
             "barrier_channels": [16] * 3}
    proxy = make(space, **three, module_options=SMALL_NETWORKS[name], iterations=2, images=4, target_size=4)
    # the first of a few samples whose output depends on the input (a dead cell is skipped: NaN)
    arch, model = next((a, m) for a in space.sample_many(5, np.random.default_rng(3))
                       for m, _ in [proxy.build(a, images[0][:4], ctx(images))] if m is not None)
    network = space.to_module(arch, num_classes=10, **SMALL_NETWORKS[name])
    with torch.no_grad():
        stages = list(network.forward_stages(images[0][:2]))
    assert len(model.transforms) == min(3, len(stages))
    value = proxy.score(arch, ctx(images))
    assert isinstance(value, float) and math.isfinite(value) and value > 0
    assert proxy.score(arch, ctx(images)) == value
