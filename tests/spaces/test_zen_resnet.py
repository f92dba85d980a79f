"""The Zen-NAS ResNet-like space: conformance, structure strings, counts, budget and moves."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasplug.core.errors import ArchitectureError, ConfigError
from nasplug.core.options import build_config
from nasplug.core.registry import registry
from nasplug.core.testing import SearchSpaceConformance
from nasplug.spaces.zen_resnet import ZenResNetSpace, model_size, num_layers, parse_string, to_string
from nasplug.spaces.zen_resnet.space import GENE_KINDS, scaled_widths

#: Zen-NAS's own CIFAR starting structure (scripts/Zen_NAS_cifar_params1M.sh).
ZEN_INIT = ("SuperConvK3BNRELU(3,8,1,1)SuperResK3K3(8,16,1,8,1)SuperResK3K3(16,32,2,16,1)"
            "SuperResK3K3(32,64,2,32,1)SuperResK3K3(64,64,2,32,1)SuperConvK1BNRELU(64,128,1,1)")
#: The FT-ScoreNet code's template structure (search.py): 6 blocks with every kind of unit.
FT_TEMPLATE = ("SuperConvK3BNRELU(3,64,1,1)SuperResK1K7K1(64,64,1,16,1)SuperResK1K7K1(64,128,2,16,3)"
               "SuperResK1K5K1(128,256,1,24,4)SuperResK1K5K1(256,256,2,24,2)SuperResK1K3K1(256,128,2,40,3)"
               "SuperResK1K3K1(128,64,1,48,3)SuperConvK1BNRELU(64,64,1,1)")


class TestZenResNetConformance(SearchSpaceConformance):
    n_samples = 12

    @pytest.fixture
    def space(self):
        return ZenResNetSpace()


@pytest.fixture(scope="module")
def space() -> ZenResNetSpace:
    return ZenResNetSpace()


def test_registered_under_its_entry_point():
    assert registry().load("space", "zen_resnet") is ZenResNetSpace


def test_parses_zen_nas_structure_strings(space):
    for text in (ZEN_INIT, FT_TEMPLATE):
        arch = space.parse(text)
        assert space.canonical(arch) == text == to_string(arch)
    arch = space.parse(FT_TEMPLATE)
    assert [b.kind for b in arch.blocks] == ["K1KXK1"] * 6
    assert [b.kernel for b in arch.blocks] == [7, 7, 5, 5, 3, 3]
    assert num_layers(arch) == 2 + 1 + 3 + 4 + 2 + 3 + 3


@pytest.mark.parametrize("text, problem", [
    (ZEN_INIT.replace("SuperResK3K3(16,32", "SuperResK3K3(24,32"), "reads 24 channels"),
    (ZEN_INIT.replace("SuperResK3K3(8,16,1,8,1)", "SuperResK3K5(8,16,1,8,1)"), "one kernel size"),
    (ZEN_INIT.replace("(8,16,1,8,1)", "(8,20,1,8,1)"), "multiple of 8"),
    (ZEN_INIT.replace("(8,16,1,8,1)", "(8,16,3,8,1)"), "stride 3"),
    (ZEN_INIT.replace("(8,16,1,8,1)", "(8,16,1,8,10)"), "sub-layers 10"),
    (ZEN_INIT.replace("SuperConvK1BNRELU(64,128,1,1)", ""), "output layer"),
    ("SuperConvK3BNRELU(3,8,1,1)SuperConvK1BNRELU(8,16,1,1)", "blocks"),
])
def test_rejects_malformed_strings_naming_the_problem(space, text, problem):
    with pytest.raises(ArchitectureError, match=problem):
        space.parse(text)


def test_budget_is_part_of_membership():
    small = ZenResNetSpace(ZenResNetSpace.Config(max_params=200_000))
    assert model_size(parse_string(FT_TEMPLATE)) > 200_000
    with pytest.raises(ArchitectureError, match="max_params"):
        small.parse(FT_TEMPLATE)
    shallow = ZenResNetSpace(ZenResNetSpace.Config(max_layers=10))
    with pytest.raises(ArchitectureError, match="max_layers"):
        shallow.parse(FT_TEMPLATE)
    assert ZenResNetSpace(ZenResNetSpace.Config(max_params=None, max_layers=None)).contains(FT_TEMPLATE)
    with pytest.raises(ConfigError, match="max_params"):
        build_config(ZenResNetSpace.Config, {"max_params": 0}, "space")


def test_model_size_follows_zen_nas_counting(space):
    """Zen-NAS counts one value per BN channel and a single classifier bias; torch counts two
    per BN channel and one bias per class. Everything else must agree exactly."""
    rng = np.random.default_rng(0)
    for arch in [space.parse(ZEN_INIT), space.parse(FT_TEMPLATE)] + [space.sample(rng) for _ in range(3)]:
        net = space.to_module(arch, num_classes=100)
        torch_count = sum(p.numel() for p in net.parameters())
        bn_channels = sum(m.num_features for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
        assert torch_count - space.model_size(arch) == bn_channels + 100 - 1


def test_samples_follow_the_initialisation_prior_inside_the_budget(space):
    rng = np.random.default_rng(3)
    for arch in [space.sample(rng) for _ in range(20)]:
        assert space.model_size(arch) <= 1_000_000 and num_layers(arch) <= 18
        assert len(arch.blocks) == 6 and 48 <= arch.stem_out <= 320 and 48 <= arch.head_out <= 320
        assert all(48 <= b.out <= 320 and 32 <= b.bottleneck <= 80 and b.sub_layers in (1, 2) for b in arch.blocks)


def test_mutation_is_a_zen_nas_block_replacement(space):
    rng = np.random.default_rng(5)
    base = space.parse(FT_TEMPLATE.replace("(128,256,1,24,4)", "(128,256,1,24,1)").replace("(256,256,2,24,2)", "(256,256,2,24,1)"))
    for _ in range(30):
        child = space.mutate(base, rng)
        assert space.feasible(child) and child != base
        changed = [i for i, (a, b) in enumerate(zip(base.blocks, child.blocks)) if a != b]
        changed += ["stem"] * (child.stem_out != base.stem_out) + ["head"] * (child.head_out != base.head_out)
        assert len(changed) == 1, "one block is replaced"
        assert (child.stem_stride, child.head_stride) == (base.stem_stride, base.head_stride)
        for i in (c for c in changed if isinstance(c, int)):
            old, new = base.blocks[i], child.blocks[i]
            assert new.stride == old.stride and abs(new.sub_layers - old.sub_layers) <= 2
            assert new.out in scaled_widths(old.out, 2048) and new.bottleneck in scaled_widths(old.bottleneck, 256)


def test_neighbours_are_the_documented_single_field_changes():
    unlimited = ZenResNetSpace(ZenResNetSpace.Config(max_params=None, max_layers=None))
    arch = unlimited.parse(ZEN_INIT)
    # stem: width +8 only (it is 8) and a stride flip; output: width ±8, stride flip; each block:
    # type 1 + other kernels 2 + width ±8 + stride 1 + bottleneck (+8 only at 8) + sub-layers +1
    per_block = [1 + 2 + 2 + 1 + (1 if b.bottleneck == 8 else 2) + 1 for b in arch.blocks]
    assert len(unlimited.neighbours(arch)) == 2 + sum(per_block) + 3
    for n in unlimited.neighbours(arch):
        assert 0 < unlimited.distance(arch, n) <= 1.0


def test_distance_counts_fields_and_missing_blocks(space):
    a = space.parse(ZEN_INIT)
    wider = space.parse(ZEN_INIT.replace("(32,64,2,32,1)SuperResK3K3(64,64", "(32,80,2,32,1)SuperResK3K3(80,64"))
    assert space.distance(a, wider) == pytest.approx(2.0)
    shorter = space.parse("SuperConvK3BNRELU(3,8,1,1)SuperResK3K3(8,16,1,8,1)SuperResK3K3(16,32,2,16,1)"
                          "SuperResK3K3(32,64,2,32,1)SuperConvK1BNRELU(64,128,1,1)")
    assert space.distance(a, shorter) == pytest.approx(1 + 1.5 + 64 / 8 + 32 / 8 + 1)


def test_genes_round_trip_the_ft_scorenet_template(space):
    arch = space.parse(FT_TEMPLATE)
    genes = space.to_genes(arch)
    assert len(genes) == len(GENE_KINDS) == 40
    assert space.from_genes(genes) == arch
    with pytest.raises(ArchitectureError, match="6 SuperRes blocks"):
        space.to_genes(space.parse(ZEN_INIT))
    with pytest.raises(ArchitectureError, match="gene 0"):
        space.from_genes((12,) + genes[1:])


def test_network_stages_follow_the_strides(space):
    arch = space.parse(ZEN_INIT)
    net = space.to_module(arch, num_classes=10).eval()
    with torch.no_grad():
        stages = net.forward_stages(torch.randn(2, 3, 32, 32))
        logits = net(torch.randn(2, 3, 32, 32))
    assert [tuple(s.shape[1:]) for s in stages] == [(16, 32, 32), (32, 16, 16), (64, 8, 8), (128, 4, 4)]
    assert logits.shape == (2, 10)


def test_graph_is_a_labelled_chain(space):
    g = space.graph(space.parse(FT_TEMPLATE))
    assert g.ops == ("input", "conv3x3", "k1k7k1", "k1k7k1", "k1k5k1", "k1k5k1", "k1k3k1", "k1k3k1", "conv1x1", "output")
    assert int(g.adjacency.sum()) == len(g.ops) - 1 and np.all(np.diag(g.adjacency, 1) == 1)
