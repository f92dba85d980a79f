"""Training data for runs that train networks (supernets): image folders, zips of them, npz files.

An image source is read once into uint8 arrays (``N x H x W x 3``) and cached as an ``.npz`` under
``$NASPLUG_CACHE`` (default ``~/.cache/nasplug``), keyed by the file's path, size and modification
time, so a second run does not decode again. Layouts: a folder (or a zip of one) with one
sub-folder per class, or with ``train/`` and ``test/`` sub-folders that each hold the class
folders (CIFAR-10's layout in ``images/cifar10_jpeg.zip``); labels are the sorted class names'
indices. Splits are class-balanced and seeded; augmentation (random crop with zero padding 4,
horizontal flip) is drawn from ``(seed, epoch, image)`` alone, so a batch is the same whatever
the number of loader workers, and a resumed run sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import attrs
import numpy as np

from nasplug.core.images import IMAGE_SUFFIXES, class_labels
from nasplug.core.errors import ConfigError

#: Format version of the decode cache (bump when the cached arrays change meaning).
CACHE_VERSION = 1


@attrs.frozen(eq=False)
class ImageArrays:
    """Decoded images ``x`` (uint8 NHWC), labels ``y`` (int64) and the class names."""

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.y)


def cache_dir() -> Path:
    return Path(os.environ.get("NASPLUG_CACHE") or Path.home() / ".cache" / "nasplug")


def _entries_in_folder(root: Path, part: str | None) -> tuple[list[tuple[str, str]], str]:
    base = root / part if part and (root / part).is_dir() else root
    classes = sorted(p.name for p in base.iterdir() if p.is_dir())
    entries = [(c, str(f)) for c in classes for f in sorted((base / c).iterdir())
               if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
    return entries, str(base)


def _entries_in_zip(archive: zipfile.ZipFile, part: str | None) -> tuple[list[tuple[str, str]], str]:
    names = [n for n in archive.namelist() if not n.endswith("/") and Path(n).suffix.lower() in IMAGE_SUFFIXES]
    parts = [Path(n).parts for n in names]
    prefix: tuple[str, ...] = ()
    while parts and all(len(p) > len(prefix) + 2 for p in parts) and len({p[len(prefix)] for p in parts}) == 1:
        prefix = parts[0][:len(prefix) + 1]  # a single top folder wrapping everything
    if part and any(len(p) > len(prefix) + 2 and p[len(prefix)] == part for p in parts):
        prefix = (*prefix, part)
    depth = len(prefix)
    entries = [(p[depth], n) for p, n in zip(parts, names) if p[:depth] == prefix and len(p) == depth + 2]
    return sorted(entries), "/".join(prefix)


def _decode(data: bytes | Path, label: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ConfigError(f"image {label} cannot be decoded ({exc}); remove or replace it") from None


def _stack(images: list[np.ndarray], labels: list[str], source: str) -> np.ndarray:
    shape = images[0].shape
    for image, label in zip(images, labels):
        if image.shape != shape:
            raise ConfigError(f"image {label} is {image.shape[1]}x{image.shape[0]} but {labels[0]} is "
                              f"{shape[1]}x{shape[0]}; every image of {source} must have one size (resize them first)")
    return np.stack(images)


def _decode_all(path: Path, part: str | None) -> ImageArrays:
    if path.is_dir():
        entries, where = _entries_in_folder(path, part)
        read = lambda name: Path(name)  # noqa: E731
        archive = None
    elif zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        entries, where = _entries_in_zip(archive, part)
        read = archive.read
    else:
        raise ConfigError(f"data.path {path} is neither a folder nor a zip of images; point it at an image folder, a zip of one, or an .npz")
    try:
        classes = tuple(sorted({c for c, _ in entries}))
        if len(classes) < 2:
            raise ConfigError(f"data.path {path}: found {len(classes)} class folder(s) of images in '{where or '/'}'; "
                              "expected one sub-folder per class (optionally under train/ and test/)")
        index = {c: i for i, c in enumerate(classes)}
        labels = [f"{path}:{name}" if archive else name for _, name in entries]
        images = [_decode(read(name), label) for (_, name), label in zip(entries, labels)]
    finally:
        if archive is not None:
            archive.close()
    x = _stack(images, labels, str(path))
    y = np.array([index[c] for c, _ in entries], dtype=np.int64)
    return ImageArrays(x, y, classes, f"{path}{'::' + where if where else ''}")


def _read_npz(path: Path) -> ImageArrays:
    try:
        with np.load(path) as archive:
            x, y = archive["x"], archive["y"]
    except (KeyError, ValueError, OSError) as exc:
        raise ConfigError(f"data file {path} is not an npz with arrays 'x' and 'y' ({exc}); save it with numpy.savez(path, x=..., y=...)") from None
    if x.ndim != 4 or x.dtype != np.uint8 or x.shape[-1] != 3:
        raise ConfigError(f"data file {path}: x must be uint8 images shaped N x H x W x 3, got {x.dtype} {x.shape}")

    y = class_labels(y, len(x), path)
    return ImageArrays(x, y, tuple(str(i) for i in range(int(y.max()) + 1)), str(path))


def read_images(path: str | os.PathLike, part: str | None = "train", *, cache: bool = True) -> ImageArrays:
    """The images of ``path`` (folder, zip or npz); ``part`` picks ``train/`` or ``test/`` when
    the source has them. Decoded arrays are cached (see the module docstring)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ConfigError(f"data.path {path} not found; point it at an image folder, a zip of one, or an .npz")
    if path.suffix == ".npz":
        return _read_npz(path)
    stat = path.stat()
    key = hashlib.sha1(f"{CACHE_VERSION}|{path.resolve()}|{part}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:20]
    cached = cache_dir() / "images" / f"{key}.npz"
    if cache and cached.is_file():
        with np.load(cached) as archive:
            return ImageArrays(archive["x"], archive["y"], tuple(archive["classes"].tolist()), str(archive["source"]))
    arrays = _decode_all(path, part if path.is_dir() or zipfile.is_zipfile(path) else None)
    if cache:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, x=arrays.x, y=arrays.y, classes=np.array(arrays.classes), source=np.array(arrays.source))
        os.replace(tmp, cached)
    return arrays


def balanced_split(y: np.ndarray, sizes: Sequence[int], seed: int, *, source: str = "the data") -> list[np.ndarray]:
    """Disjoint index arrays of the given ``sizes``, each with (as nearly as possible) the same
    number of images per class, drawn by a seeded permutation within each class and ordered with
    the classes in turn, so any prefix is balanced as well. A size that does not divide by the
    number of classes gives its remainder to the first classes."""
    classes = np.unique(y)
    per_class = {int(c): np.flatnonzero(y == c) for c in classes}
    if sum(sizes) > len(y):
        raise ConfigError(f"data.split asks for {sum(sizes)} images but {source} has {len(y)}; lower data.split")
    rng = np.random.default_rng([int(seed), 7])
    order = {c: rng.permutation(idx) for c, idx in per_class.items()}
    taken = {c: 0 for c in per_class}
    out = []
    for size in sizes:
        base, extra = divmod(int(size), len(classes))
        chosen = []
        for rank, c in enumerate(sorted(per_class)):
            want = base + (1 if rank < extra else 0)
            if taken[c] + want > len(order[c]):
                raise ConfigError(f"data.split asks for {want} more images of class {c} but {source} has "
                                  f"{len(order[c]) - taken[c]} left; lower data.split")
            chosen.append(order[c][taken[c]:taken[c] + want])
            taken[c] += want
        # classes interleaved (one of each in turn), so every prefix of a split is balanced too:
        # evaluation subsets and BN-recalibration batches are taken as prefixes
        depth = max((len(c) for c in chosen), default=0)
        out.append(np.array([c[i] for i in range(depth) for c in chosen if i < len(c)], dtype=np.int64))
    return out


def channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of uint8 NHWC images, in [0, 1] units."""
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64) / 255.0
    return flat.mean(0).astype(np.float32), flat.std(0).astype(np.float32)


class ImageSplit:
    """A torch ``Dataset`` over some images of an :class:`ImageArrays`, normalised by ``mean`` /
    ``std``; with ``augment`` each item is randomly cropped (zero padding ``pad``) and flipped,
    then, with ``cutout > 0``, a ``cutout x cutout`` square (centre uniform over the image, clipped
    at its border) is set to zero after normalisation (DeVries & Taylor's Cutout, as DARTS'
    evaluation uses it); the draw is fixed by ``(seed, epoch, index)``. Call :meth:`set_epoch`
    before each epoch."""

    def __init__(self, arrays: ImageArrays, indices: np.ndarray, mean: np.ndarray, std: np.ndarray, *,
                 augment: bool = False, pad: int = 4, seed: int = 0, cutout: int = 0) -> None:
        self.x, self.y = arrays.x, arrays.y
        self.indices = np.asarray(indices, dtype=np.int64)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.augment, self.pad, self.seed, self.epoch = augment, pad, int(seed), 0
        if isinstance(cutout, bool) or not isinstance(cutout, (int, np.integer)) or cutout < 0:
            raise ConfigError(f"cutout must be a square side in pixels >= 0 (0 = off), got {cutout!r}")
        self.cutout = int(cutout)
        self.num_classes = len(arrays.classes)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.indices)

    def image(self, i: int) -> np.ndarray:
        """Item ``i`` as a float32 CHW array (augmented when the split augments)."""
        image = self.x[self.indices[i]]
        hole = None
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, int(i)])
            h, w = image.shape[:2]
            padded = np.zeros((h + 2 * self.pad, w + 2 * self.pad, image.shape[2]), dtype=np.uint8)
            padded[self.pad:self.pad + h, self.pad:self.pad + w] = image
            top, left = rng.integers(0, 2 * self.pad + 1, size=2)
            image = padded[top:top + h, left:left + w]
            if rng.random() < 0.5:
                image = image[:, ::-1]
            if self.cutout:
                cy, cx = rng.integers(0, h), rng.integers(0, w)
                half = self.cutout // 2
                hole = (slice(max(cy - half, 0), min(cy + half, h)), slice(max(cx - half, 0), min(cx + half, w)))
        out = (image.astype(np.float32) / 255.0 - self.mean) / self.std
        if hole is not None:
            out[hole] = 0.0
        return np.ascontiguousarray(out.transpose(2, 0, 1))

    def __getitem__(self, i: int) -> tuple[Any, int]:
        import torch

        return torch.from_numpy(self.image(i)), int(self.y[self.indices[i]])

    def batches(self, batch_size: int, *, shuffle: bool, workers: int = 0, drop_last: bool = False) -> Any:
        """A ``DataLoader`` for the current epoch; the order is a permutation seeded by
        ``(seed, epoch)`` (the same for any ``workers``)."""
        from torch.utils.data import DataLoader

        order = np.arange(len(self))
        if shuffle:
            order = np.random.default_rng([self.seed, self.epoch, 1]).permutation(len(self))
        return DataLoader(self, batch_size=batch_size, sampler=order.tolist(), num_workers=workers,
                          drop_last=drop_last, persistent_workers=False)

    def batch(self, positions: Sequence[int]) -> tuple[Any, Any]:
        """Items at ``positions`` stacked into one ``(x, y)`` batch (no loader)."""
        import torch

        x = torch.from_numpy(np.stack([self.image(int(i)) for i in positions]))
        y = torch.as_tensor([int(self.y[self.indices[int(i)]]) for i in positions], dtype=torch.long)
        return x, y


@attrs.frozen
class TrainingData:
    """The ``train`` and ``valid`` splits of a run's ``[data]`` (see :func:`training_data`)."""

    train: ImageSplit
    valid: ImageSplit
    classes: tuple[str, ...]
    source: str

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "train": len(self.train), "valid": len(self.valid),
                "classes": len(self.classes), "image_size": list(self.train.x.shape[1:3]),
                "augment": self.train.augment}


def training_data(path: str | os.PathLike, split: Sequence[int], seed: int, *, augment: bool = True,
                  part: str | None = "train", cache: bool = True) -> TrainingData:
    """Class-balanced, seeded ``split = [train, valid]`` of ``path``'s ``part`` (CIFAR-10: its
    training set, as NAS-Bench-201's ``cifar10-valid`` halves it), normalised by the train split's
    per-channel statistics; the train split augments when ``augment``."""
    if len(split) != 2 or any(int(s) < 1 for s in split):
        raise ConfigError(f"data.split must be [train, valid] image counts >= 1, got {list(split)}")
    arrays = read_images(path, part, cache=cache)
    train_idx, valid_idx = balanced_split(arrays.y, split, seed, source=arrays.source)
    mean, std = channel_stats(arrays.x[train_idx])
    return TrainingData(ImageSplit(arrays, train_idx, mean, std, augment=augment, seed=seed),
                        ImageSplit(arrays, valid_idx, mean, std, augment=False, seed=seed),
                        arrays.classes, arrays.source)


def iterate_epoch(data: ImageSplit, epoch: int, batch_size: int, *, workers: int = 0) -> Iterator[tuple[Any, Any]]:
    """The shuffled (and augmented) batches of ``epoch``; the last partial batch is dropped."""
    data.set_epoch(epoch)
    yield from data.batches(batch_size, shuffle=True, workers=workers, drop_last=True)
