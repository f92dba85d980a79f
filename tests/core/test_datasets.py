"""Training data: image folders and zips of them (real CIFAR-10 JPEGs), npz, seeded balanced
splits, deterministic augmentation, the decode cache, and one-line errors for bad input."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from nasplug.core import datasets
from nasplug.core.datasets import balanced_split, read_images, training_data
from nasplug.core.errors import ConfigError


def _png(size=(32, 32), colour=(10, 20, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def test_zip_and_folder_read_the_same_cifar_images_with_alphabetical_labels(tiny_zip, tmp_path, benchmarks):
    train = read_images(tiny_zip, "train")
    assert train.x.shape == (640, 32, 32, 3) and train.x.dtype == np.uint8
    assert train.classes[:3] == ("airplane", "automobile", "bird") and len(train.classes) == 10
    assert np.bincount(train.y).tolist() == [64] * 10
    folder = tmp_path / "cifar"
    with zipfile.ZipFile(tiny_zip) as z:
        z.extractall(folder)
    same = read_images(folder, "train", cache=False)
    assert np.array_equal(same.x, train.x) and np.array_equal(same.y, train.y)
    test = read_images(tiny_zip, "test")
    # the first test image of each class is that class's first image in cifar10_test_20.npz
    reference = np.load(benchmarks / "images" / "cifar10_test_20.npz")
    for label in np.unique(reference["y"][:10]):
        first = int(np.flatnonzero(reference["y"] == label)[0])
        decoded = test.x[np.flatnonzero(test.y == label)[0]].astype(int)
        assert np.abs(decoded - reference["x"][first].astype(int)).mean() < 12  # JPEG re-encoding (README: ~6/255)


def test_a_second_read_comes_from_the_cache(tiny_zip, monkeypatch):
    first = read_images(tiny_zip, "train")
    monkeypatch.setattr(datasets, "_decode_all", lambda *a, **k: pytest.fail("decoded again"))
    again = read_images(tiny_zip, "train")
    assert np.array_equal(first.x, again.x) and again.classes == first.classes


def test_balanced_split_is_disjoint_balanced_and_seeded():
    y = np.repeat(np.arange(10), 100)
    a, b = balanced_split(y, [300, 205], seed=1)
    assert len(a) == 300 and len(b) == 205 and not set(a) & set(b)
    assert np.bincount(y[a]).tolist() == [30] * 10
    assert sorted(np.bincount(y[b], minlength=10).tolist()) == [20] * 5 + [21] * 5
    assert all(np.array_equal(u, v) for u, v in zip(balanced_split(y, [300, 205], 1), (a, b)))
    # every prefix is balanced: evaluation subsets and BN batches are prefixes of a split
    assert np.bincount(y[a[:20]]).tolist() == [2] * 10 and np.bincount(y[b[:10]]).tolist() == [1] * 10
    assert not np.array_equal(balanced_split(y, [300, 205], 2)[0], a)
    with pytest.raises(ConfigError, match="data.split asks for 1001 images"):
        balanced_split(y, [1000, 1], 0)


def test_augmentation_depends_only_on_seed_epoch_and_image(tiny_zip):
    data = training_data(tiny_zip, [200, 100], seed=3)
    train = data.train
    train.set_epoch(0)
    a = train.image(5)
    assert np.array_equal(a, train.image(5))
    train.set_epoch(1)
    assert not all(np.array_equal(train.image(i), (train.set_epoch(0), train.image(i))[1]) for i in range(8))
    assert not data.valid.augment and np.array_equal(data.valid.image(0), data.valid.image(0))
    # normalised by the train split's statistics
    train.augment = False
    x = np.stack([train.image(i) for i in range(len(train))])
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05
    train.augment = True


def test_loader_batches_are_the_same_with_worker_processes(tiny_zip):
    data = training_data(tiny_zip, [128, 64], seed=0)
    data.train.set_epoch(2)
    plain = [x for x, _ in data.train.batches(32, shuffle=True, workers=0)]
    workers = [x for x, _ in data.train.batches(32, shuffle=True, workers=2)]
    assert len(plain) == 4 and all(np.array_equal(p.numpy(), w.numpy()) for p, w in zip(plain, workers))


# --- bad input: one error line, exit 2, nothing stored -------------------------------------
def _zip(path, files):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


BAD = {
    "no_classes": ({"a.png": _png(), "b.png": _png()}, [8, 8], "expected one sub-folder per class"),
    "corrupt": ({"train/cat/1.png": _png(), "train/cat/2.png": b"not an image", "train/dog/1.png": _png()}, [2, 1], "2.png cannot be decoded"),
    "mixed": ({"cat/1.png": _png(), "cat/2.png": _png((16, 16)), "dog/1.png": _png()}, [2, 1], "must have one size"),
    "too_big": ({"cat/1.png": _png(), "cat/2.png": _png(), "dog/1.png": _png(), "dog/2.png": _png()}, [3, 3], "data.split asks for 6 images"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_training_data_gets_one_error_line_and_stores_nothing(case, tmp_path):
    files, split, message = BAD[case]
    data = _zip(tmp_path / f"{case}.zip", files)
    config = tmp_path / "run.toml"
    store = tmp_path / "runs.db"
    config.write_text(f'kind = "oneshot"\n[space]\nname = "nb201"\n[data]\npath = "{data}"\nsplit = {split}\n'
                      f'[oneshot]\nepochs = 1\n[store]\npath = "{store}"\n')
    pytest.importorskip("nasplug.spaces.nb201")
    out = subprocess.run([sys.executable, "-m", "nasplug.core", "run", str(config)], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    if store.exists():
        from nasplug.core.store import Store

        with Store(store) as s:
            assert s.runs() == []


def test_cutout_zeroes_one_clipped_square_and_leaves_the_crop_and_flip_draws_alone(tiny_zip):
    from nasplug.core.datasets import ImageSplit, channel_stats

    arrays = read_images(tiny_zip, "train")
    idx = np.arange(64)
    mean, std = channel_stats(arrays.x[idx])
    plain = ImageSplit(arrays, idx, mean, std, augment=True, seed=5)
    cut = ImageSplit(arrays, idx, mean, std, augment=True, seed=5, cutout=16)
    sides = []
    for i in range(64):
        a, b = plain.image(i), cut.image(i)
        changed = np.argwhere((a != b).any(axis=0))
        assert np.all(b[:, (a != b).any(axis=0)] == 0.0)  # the changed pixels are zeros (normalised space)
        if len(changed):
            (top, left), (bottom, right) = changed.min(0), changed.max(0)
            h, w = bottom - top + 1, right - left + 1
            assert h <= 16 and w <= 16
            # a full rectangle: every pixel inside the box is zero in the cut image
            assert np.all(b[:, top:bottom + 1, left:right + 1] == 0.0)
            sides.append((h, w))
        assert np.array_equal(b, cut.image(i))  # same (seed, epoch, image), same hole
    assert (16, 16) in sides and any(min(s) < 16 for s in sides)  # unclipped and clipped squares both occur
    with pytest.raises(ConfigError, match="cutout"):
        ImageSplit(arrays, idx, mean, std, cutout=-1)
