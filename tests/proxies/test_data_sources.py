"""Image batches for data-hungry proxies: image folders, torch datasets, the built-in sample
photographs, and the ``[data]`` table that selects them in a run."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from nasplug.core.config import DataOptions
from nasplug.core.data import (
    batch_from_dataset, load_batch, load_image_batch, load_image_folder, proxy_context, sample_image_batch,
)
from nasplug.core.errors import ConfigError
from nasplug.core.options import build_config


@pytest.fixture
def cifar(benchmarks):
    archive = np.load(benchmarks / "images" / "cifar10_test_20.npz")
    return archive["x"][:6], archive["y"][:6]


def test_folder_of_class_subfolders_matches_the_npz_loader(tmp_path, cifar):
    from PIL import Image

    pixels, labels = cifar
    for i, (img, label) in enumerate(zip(pixels, labels)):
        folder = tmp_path / f"class_{int(label):02d}"
        folder.mkdir(exist_ok=True)
        Image.fromarray(img).save(folder / f"{i:03d}.png")
    x, y, classes = load_image_folder(tmp_path, batch_size=6)
    assert x.shape == (6, 3, 32, 32) and x.dtype == torch.float32 and classes == len({int(v) for v in labels})
    # classes are taken in turn: first image of each class, then the second ...
    assert y.tolist()[:classes] == list(range(classes))
    np.savez(tmp_path / "same.npz", x=pixels, y=labels)
    reference, _, _ = load_image_batch(tmp_path / "same.npz", 6)
    rows = {tuple(np.round(r.numpy().ravel()[:50], 5)) for r in reference}
    assert all(tuple(np.round(r.numpy().ravel()[:50], 5)) in rows for r in x)  # same pixels, same normalisation


def test_flat_folder_resizes_and_labels_zero(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(tmp_path / f"{i}.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    x, y, classes = load_image_folder(tmp_path, batch_size=8, image_size=16)
    assert x.shape == (3, 3, 16, 16) and y.tolist() == [0, 0, 0] and classes == 1
    with pytest.raises(ConfigError, match="not found"):
        load_image_folder(tmp_path / "missing", 4)


def test_torch_dataset_of_tensors_and_of_pil_images(cifar):
    from PIL import Image
    from torch.utils.data import TensorDataset

    pixels, labels = cifar
    tensors = TensorDataset(torch.randn(10, 3, 8, 8), torch.arange(10) % 4)
    x, y, classes = batch_from_dataset(tensors, 5)
    assert torch.equal(x, tensors.tensors[0][:5]) and y.tolist() == [0, 1, 2, 3, 0] and classes == 4
    pil = [(Image.fromarray(img), int(label)) for img, label in zip(pixels, labels)]
    x, y, _ = batch_from_dataset(pil, 4, num_classes=10)
    assert x.shape == (4, 3, 32, 32) and y.tolist() == labels[:4].tolist()
    with pytest.raises(ConfigError, match="not an \\(image, label\\) pair"):
        batch_from_dataset([torch.zeros(3, 4, 4)], 1)


def test_sample_photographs_need_no_files():
    pytest.importorskip("sklearn")
    x, y, classes = sample_image_batch(12, num_classes=5)
    again, _, _ = sample_image_batch(12, num_classes=5)
    assert x.shape == (12, 3, 32, 32) and torch.isfinite(x).all() and torch.equal(x, again)
    assert y.tolist() == [i % 5 for i in range(12)] and classes == 5
    assert x.std() > 0.3  # real photographs, not a constant


def test_data_table_selects_the_source(tmp_path, benchmarks, monkeypatch):
    pytest.importorskip("sklearn")
    sample = build_config(DataOptions, {"source": "sample", "batch_size": 4}, "data")
    assert load_batch(sample)[0].shape == (4, 3, 32, 32)
    npz = build_config(DataOptions, {"path": str(benchmarks / "images" / "cifar100_test_20.npz"), "batch_size": 3}, "data")
    assert load_batch(npz)[2] == int(np.load(npz.path)["y"][:3].max()) + 1
    from torch.utils.data import TensorDataset

    from nasplug.core import data as data_module
    from nasplug.core.testing.distributions import install_distribution

    # registered from Python ...
    monkeypatch.setattr(data_module, "_DATASETS", {})
    data_module.register_dataset("ones", lambda: TensorDataset(torch.ones(4, 3, 8, 8), torch.tensor([0, 1, 0, 1])))
    dataset = build_config(DataOptions, {"source": "dataset", "path": "ones", "batch_size": 2}, "data")
    x, y, classes = load_batch(dataset)
    assert x.shape == (2, 3, 8, 8) and classes == 2
    # ... or offered by an installed package through the entry-point group
    install_distribution(tmp_path, "my-images", {"nasplug.datasets": {"halves": "my_images:build"}},
                         modules={"my_images": "import torch\nfrom torch.utils.data import TensorDataset\n"
                                               "def build():\n    return TensorDataset(torch.full((4, 3, 8, 8), 0.5), torch.tensor([0, 1, 2, 1]))\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    x, y, classes = load_batch(build_config(DataOptions, {"source": "dataset", "path": "halves", "batch_size": 4}, "data"))
    assert classes == 3 and x.shape == (4, 3, 8, 8)
    sys.modules.pop("my_images", None)
    with pytest.raises(ConfigError, match="source"):
        build_config(DataOptions, {"source": "web"}, "data")
    # a config never imports code by name: "module:attribute" is refused before any import
    sys.modules.pop("json.tool", None)
    with pytest.raises(ConfigError, match="looks like code to import"):
        load_batch(build_config(DataOptions, {"source": "dataset", "path": "json.tool:main"}, "data"))
    assert "json.tool" not in sys.modules
    with pytest.raises(ConfigError, match="names no registered dataset .known: halves, ones"):
        load_batch(build_config(DataOptions, {"source": "dataset", "path": "nothing"}, "data"))


def test_proxy_context_carries_device_and_classes():
    class NeedsData:
        needs_data = True

    class DataFree:
        needs_data = False

    pytest.importorskip("sklearn")
    data = build_config(DataOptions, {"source": "sample", "batch_size": 4, "num_classes": 7, "device": "cuda"}, "data")
    ctx = proxy_context(NeedsData(), data, seed=5, name="x")
    assert ctx.device == "cuda" and ctx.num_classes == 7 and ctx.batch[0].shape == (4, 3, 32, 32) and ctx.seed == 5
    assert proxy_context(DataFree(), data, seed=5, name="x").num_classes == 7
    with pytest.raises(ConfigError, match=r"needs images; add \[data\] path"):
        proxy_context(NeedsData(), build_config(DataOptions, {}, "data"), seed=0, name="x")
