"""DARTS' evaluation protocol: drop-path, the auxiliary head, the from-scratch training loop on real
CIFAR-10 JPEGs (learning-rate and drop-path schedules, resume from a checkpoint), and one-line
errors for bad options."""

from __future__ import annotations

import math

import pytest
import torch

from nasplug.core.errors import ConfigError

darts = pytest.importorskip("nasplug.spaces.darts")
from nasplug.spaces.darts.genotype import make_arch  # noqa: E402
from nasplug.spaces.darts.network import Cell, DartsNetwork, drop_path  # noqa: E402
from nasplug.spaces.darts.training import EvaluationConfig, build_network, count_params_m, train_from_scratch  # noqa: E402

V2 = make_arch([("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
                ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
               [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
                ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)])
TINY = {"epochs": 2, "batch_size": 16, "channels": 4, "layers": 5, "train_images": 64, "test_images": 40}


def test_drop_path_zeroes_whole_images_and_rescales_the_rest():
    torch.manual_seed(0)
    x = torch.ones(4000, 2, 3, 3)
    out = drop_path(x, 0.3)
    per_image = out.flatten(1)
    assert torch.all(per_image.min(1).values == per_image.max(1).values)  # all of an image, or none
    kept = per_image[:, 0] > 0
    assert torch.allclose(per_image[kept], torch.full_like(per_image[kept], 1 / 0.7))
    assert abs(kept.float().mean().item() - 0.7) < 0.03
    assert abs(out.mean().item() - 1.0) < 0.05  # the expectation is unchanged


def test_drop_path_spares_identity_ops_and_is_off_in_eval_mode():
    genes = tuple(("skip_connect", s) for s in (0, 1, 0, 1, 2, 3, 0, 4))
    skip_cell = Cell(genes, 8, 8, 8, reduction=False, reduction_prev=False).train()
    x0, x1 = torch.randn(6, 8, 4, 4), torch.randn(6, 8, 4, 4)
    torch.manual_seed(1)
    assert torch.equal(skip_cell(x0, x1, 0.9), skip_cell(x0, x1, 0.0))
    conv_cell = Cell(tuple(("sep_conv_3x3", s) for s in (0, 1, 0, 1, 2, 3, 0, 4)), 8, 8, 8, False, False).train()
    torch.manual_seed(1)
    dropped = conv_cell(x0, x1, 0.9)
    node2 = dropped[:, :8].flatten(1)
    assert (node2.abs().sum(1) == 0).any()  # both ops of node 2 dropped for some image (p = 0.81 each)
    conv_cell.eval()
    assert torch.equal(conv_cell(x0, x1, 0.9), conv_cell(x0, x1, 0.0))


def test_the_auxiliary_head_reads_the_second_reduction_and_is_left_out_of_the_parameter_count():
    net = build_network(V2, EvaluationConfig())
    assert net.auxiliary_head is not None and net.auxiliary_at == 13
    # DARTS-V2 at 36 channels x 20 cells: the paper's 3.3M parameters (auxiliary head excluded)
    assert count_params_m(net) == pytest.approx(3.349, abs=0.001)
    plain = DartsNetwork(V2, channels=36, layers=20)
    assert count_params_m(net) == sum(p.numel() for p in plain.parameters()) / 1e6
    small = build_network(V2, EvaluationConfig(**TINY)).train()
    logits, aux = small.forward_with_auxiliary(torch.randn(2, 3, 32, 32))
    assert logits.shape == aux.shape == (2, 10)
    small.eval()
    assert small.forward_with_auxiliary(torch.randn(2, 3, 32, 32))[1] is None
    assert build_network(V2, EvaluationConfig(auxiliary_weight=0)).auxiliary_head is None


def test_training_follows_the_cosine_and_drop_path_schedules_and_resumes_identically(tiny_zip, tmp_path):
    torch.set_num_threads(1)
    config = EvaluationConfig(**TINY)
    full = train_from_scratch(V2, tiny_zip, config, seed=2, checkpoint=tmp_path / "full.pt")
    lrs = [r["lr"] for r in full.history]
    assert lrs == pytest.approx([0.025, 0.025 * (1 + math.cos(math.pi / 2)) / 2])
    assert [r["drop_path_prob"] for r in full.history] == pytest.approx([0.0, 0.1])
    assert 0 <= full.test_accuracy <= 100 and "test_accuracy" in full.history[-1]
    assert all(math.isfinite(r["train_loss"]) for r in full.history)

    class Stop(Exception):
        pass

    def stop_after_first(row):
        raise Stop

    with pytest.raises(Stop):
        train_from_scratch(V2, tiny_zip, config, seed=2, checkpoint=tmp_path / "cut.pt", on_epoch=stop_after_first)
    resumed = train_from_scratch(V2, tiny_zip, config, seed=2, checkpoint=tmp_path / "cut.pt")
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in full.history]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in resumed.history] == strip
    assert resumed.test_accuracy == full.test_accuracy
    a, b = torch.load(tmp_path / "full.pt", weights_only=False), torch.load(tmp_path / "cut.pt", weights_only=False)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    # a checkpoint of another genotype or config is refused, not silently continued
    with pytest.raises(ConfigError, match="another genotype, seed or config"):
        train_from_scratch(V2, tiny_zip, EvaluationConfig(**{**TINY, "epochs": 3}), seed=2, checkpoint=tmp_path / "full.pt")


@pytest.mark.parametrize("options, needle", [({"epochs": 0}, "epochs"), ({"drop_path_prob": 1.0}, "drop_path_prob"),
                                             ({"train_images": 0}, "train_images"), ({"cutout": -2}, "cutout"),
                                             ({"learning_rate": "0.1"}, "learning_rate")])
def test_bad_evaluation_options_get_one_line_errors(options, needle):
    with pytest.raises(ConfigError, match=needle):
        EvaluationConfig(**options)


def test_a_source_without_a_test_part_is_refused(tiny_zip, tmp_path):
    import zipfile

    only_train = tmp_path / "train_only.zip"
    with zipfile.ZipFile(tiny_zip) as src, zipfile.ZipFile(only_train, "w") as out:
        for name in src.namelist():
            if name.startswith("train/"):
                out.writestr(name, src.read(name))
    with pytest.raises(ConfigError, match="no separate train/ and test/ parts"):
        train_from_scratch(V2, only_train, EvaluationConfig(**TINY))
