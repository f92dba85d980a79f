"""Image batches for proxies that need data.

Sources (``[data] source``): an ``.npz`` file of images and labels, a folder of image files
(one sub-folder per class, or flat), a torch ``Dataset`` named in the config and registered from
Python (:func:`register_dataset`) or by an installed package (``nasplug.datasets`` entry points;
a config never imports code by name), and ``"sample"``: crops of the two photographs that
scikit-learn ships, a default that needs no files. Every loader returns ``(x, y, num_classes)``
with ``x`` a normalised float NCHW tensor and ``y`` int64 labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.images import IMAGE_SUFFIXES, class_labels

#: Data sources of the ``[data]`` table; ``"auto"`` picks npz or folder from the path.
SOURCES = ("auto", "npz", "folder", "dataset", "sample")

#: Per-channel mean and std of CIFAR-10 (the normalisation the benchmarks trained with).
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def load_image_batch(path: str | Path, batch_size: int, num_classes: int | None = None) -> tuple[Any, Any, int]:
    """``(x, y, num_classes)``: the first ``batch_size`` images of an npz file with arrays ``x``
    (uint8 NHWC or float NCHW) and ``y`` (int labels), as normalised float NCHW tensors."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"data file {path} not found; set data.path to an .npz file with arrays x and y")
    try:
        archive = np.load(path)
        x, y = archive["x"], archive["y"]
    except (KeyError, ValueError, OSError) as exc:
        raise ConfigError(f"data file {path} is not an npz with arrays 'x' and 'y' ({exc}); save it with numpy.savez(path, x=..., y=...)") from None
    if x.ndim != 4 or not np.issubdtype(x.dtype, np.number):
        raise ConfigError(f"data file {path}: x must be 4-D numeric images (N,H,W,C or N,C,H,W), got {x.dtype} shaped {x.shape}")
    y = class_labels(y, len(x), path)
    x = x[:batch_size]
    y = y[:batch_size]
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
        if x.shape[-1] in (1, 3):
            x = np.transpose(x, (0, 3, 1, 2))
        if x.shape[1] == 3:
            mean = np.array(CIFAR_MEAN, dtype=np.float32)[None, :, None, None]
            std = np.array(CIFAR_STD, dtype=np.float32)[None, :, None, None]
            x = (x - mean) / std
    classes = int(num_classes or (int(np.max(y)) + 1))
    return torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32), torch.as_tensor(y, dtype=torch.long), classes


def _normalise(x: np.ndarray) -> Any:
    """uint8 NHWC (or NCHW) images -> float NCHW tensor in CIFAR normalisation, as the npz loader."""
    import torch

    x = x.astype(np.float32) / 255.0
    if x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = np.transpose(x, (0, 3, 1, 2))
    if x.shape[1] == 3:
        mean = np.array(CIFAR_MEAN, dtype=np.float32)[None, :, None, None]
        std = np.array(CIFAR_STD, dtype=np.float32)[None, :, None, None]
        x = (x - mean) / std
    return torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32)


def _square_resize(image: Any, size: int) -> np.ndarray:
    """A PIL image centre-cropped to a square, resized to ``size`` x ``size``, as uint8 HWC RGB."""
    from PIL import Image

    image = image.convert("RGB")
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def load_image_folder(path: str | Path, batch_size: int, num_classes: int | None = None,
                      image_size: int = 32) -> tuple[Any, Any, int]:
    """``(x, y, num_classes)`` from a folder of image files, resized to ``image_size``.

    With sub-folders, each is a class (sorted names give labels 0, 1, ...) and the batch takes
    the classes in turn (first image of each class, then the second, ...); a flat folder gives
    label 0 to every image. Files are read in sorted order, so the batch is deterministic.
    """
    import torch
    from PIL import Image, UnidentifiedImageError

    root = Path(path)
    if not root.is_dir():
        raise ConfigError(f"data folder {root} not found; set data.path to a folder of images (one sub-folder per class)")

    def images_in(folder: Path) -> list[Path]:
        return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)

    classes = sorted(p for p in root.iterdir() if p.is_dir())
    per_class = [images_in(c) for c in classes] if classes else [images_in(root)]
    order: list[tuple[Path, int]] = []
    depth = max((len(files) for files in per_class), default=0)
    for i in range(depth):
        order.extend((files[i], label) for label, files in enumerate(per_class) if i < len(files))
    order = order[:batch_size]
    if not order:
        raise ConfigError(f"data folder {root} holds no images ({', '.join(IMAGE_SUFFIXES)}); add some or point data.path elsewhere")
    pixels, labels = [], []
    for file, label in order:
        try:
            with Image.open(file) as image:
                pixels.append(_square_resize(image, image_size))
        except (UnidentifiedImageError, OSError) as exc:
            raise ConfigError(f"image {file} cannot be read ({exc}); remove it from the data folder") from None
        labels.append(label)
    classes_n = int(num_classes or max(len(per_class), 1))
    return _normalise(np.stack(pixels)), torch.as_tensor(labels, dtype=torch.long), classes_n


def load_image_zip(path: str | Path, batch_size: int, num_classes: int | None = None) -> tuple[Any, Any, int]:
    """``(x, y, num_classes)`` from a zip of an image folder (its ``train/`` part when it has one,
    e.g. CIFAR-10's ``cifar10_jpeg.zip``): the classes in turn, as :func:`load_image_folder`
    takes them, decoded once and cached (:func:`nasplug.core.datasets.read_images`)."""
    import torch

    from nasplug.core.datasets import read_images

    arrays = read_images(path, "train")  # the whole archive when it has no train/ part
    per_class = [np.flatnonzero(arrays.y == label) for label in range(len(arrays.classes))]
    order: list[int] = []
    for i in range(max(len(idx) for idx in per_class)):
        order.extend(int(idx[i]) for idx in per_class if i < len(idx))
        if len(order) >= batch_size:
            break
    order = order[:batch_size]
    labels = torch.as_tensor(arrays.y[order], dtype=torch.long)
    return _normalise(arrays.x[order]), labels, int(num_classes or len(arrays.classes))


def batch_from_dataset(dataset: Any, batch_size: int, num_classes: int | None = None) -> tuple[Any, Any, int]:
    """``(x, y, num_classes)`` from the first ``batch_size`` items of a torch ``Dataset`` (or any
    indexable/iterable of ``(image, label)``): images as CHW float tensors (used as given, e.g.
    already transformed), PIL images or uint8 HWC arrays (normalised like the npz loader)."""
    import torch

    items = []
    if hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__"):
        items = [dataset[i] for i in range(min(batch_size, len(dataset)))]
    else:
        for item in dataset:
            if len(items) >= batch_size:
                break
            items.append(item)
    if not items:
        raise ConfigError("the dataset is empty; give a dataset with at least one (image, label) item")
    images, labels = [], []
    for i, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise ConfigError(f"dataset item {i} is {type(item).__name__}, not an (image, label) pair; wrap the dataset to return pairs")
        image, label = item[0], item[1]
        if hasattr(image, "convert") and hasattr(image, "size"):  # a PIL image
            image = np.asarray(image.convert("RGB"), dtype=np.uint8)
        images.append(image)
        labels.append(int(label))
    if isinstance(images[0], np.ndarray) and images[0].dtype == np.uint8:
        try:
            x = _normalise(np.stack(images))
        except ValueError:
            raise ConfigError("dataset images differ in shape; resize them to one size (e.g. with a transform)") from None
    else:
        try:
            x = torch.stack([torch.as_tensor(im, dtype=torch.float32) for im in images])
        except RuntimeError:
            raise ConfigError("dataset images differ in shape; resize them to one size (e.g. with a transform)") from None
    if x.ndim != 4:
        raise ConfigError(f"dataset images must be CHW (or HWC uint8) arrays, got batch shape {tuple(x.shape)}")
    classes = int(num_classes or (max(labels) + 1))
    return x, torch.as_tensor(labels, dtype=torch.long), classes


def sample_image_batch(batch_size: int = 16, num_classes: int | None = None, image_size: int = 32,
                       seed: int = 0) -> tuple[Any, Any, int]:
    """The embedded default batch: ``batch_size`` square crops (random side 48..256 px, seeded)
    of the two photographs scikit-learn ships (``sklearn.datasets.load_sample_images``),
    resized to ``image_size``; labels cycle ``0..num_classes-1`` (10 by default). Real image
    statistics, no files to download, the same batch on every machine."""
    import torch
    from PIL import Image

    try:
        from sklearn.datasets import load_sample_images
    except ImportError:
        raise ConfigError("data.source = \"sample\" needs scikit-learn (it ships the photographs); pip install scikit-learn, or set data.path") from None
    photos = load_sample_images().images
    rng = np.random.default_rng(seed)
    pixels = []
    for i in range(batch_size):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        side = int(rng.integers(48, min(256, h, w) + 1))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(photo[top:top + side, left:left + side])
        pixels.append(_square_resize(crop, image_size))
    classes = int(num_classes or 10)
    labels = torch.arange(batch_size, dtype=torch.long) % classes
    return _normalise(np.stack(pixels)), labels, classes


#: Datasets registered from Python for this process (see :func:`register_dataset`).
_DATASETS: dict[str, Any] = {}
#: The entry-point group through which installed packages offer datasets by name.
DATASET_GROUP = "nasplug.datasets"


def register_dataset(name: str, dataset: Any) -> None:
    """Make ``dataset`` (a torch-style dataset, or a callable returning one) available to runs in
    this process as ``[data] source = "dataset"``, ``path = name``. A config names datasets; it
    never imports code (packages offer datasets through the ``nasplug.datasets`` entry points)."""
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"dataset name must be a non-empty string without ':', got {name!r}")
    _DATASETS[name] = dataset


def _named_dataset(name: str) -> Any:
    """The dataset registered as ``name`` (called when it is a function or class)."""
    from importlib import metadata

    if ":" in name:
        raise ConfigError(f"data.path {name!r} looks like code to import; a config only names registered datasets: register it "
                          "from Python with nasplug.core.data.register_dataset(name, dataset), or offer it from a package "
                          f"through a '{DATASET_GROUP}' entry point")
    if name in _DATASETS:
        obj = _DATASETS[name]
    else:
        found = [ep for ep in metadata.entry_points(group=DATASET_GROUP) if ep.name == name]
        if not found:
            known = sorted({*_DATASETS, *(ep.name for ep in metadata.entry_points(group=DATASET_GROUP))})
            raise ConfigError(f"data.path {name!r} names no registered dataset (known: {', '.join(known) or 'none'}); register it "
                              f"with nasplug.core.data.register_dataset or a '{DATASET_GROUP}' entry point")
        try:
            obj = found[0].load()
        except Exception as exc:  # a broken plugin is a configuration problem, not a crash
            raise ConfigError(f"dataset {name!r} from entry point {found[0].value!r} failed to load ({type(exc).__name__}: {exc})") from None
    is_dataset = hasattr(obj, "__getitem__") or hasattr(obj, "__iter__")
    return obj if is_dataset and not isinstance(obj, type) else obj()


def load_batch(data: Any) -> tuple[Any, Any, int]:
    """``(x, y, num_classes)`` for a ``[data]`` table (:class:`~nasplug.core.config.DataOptions`)."""
    source = getattr(data, "source", "auto")
    size = getattr(data, "image_size", 32)
    if source == "sample":
        return sample_image_batch(data.batch_size, data.num_classes, size)
    if data.path is None:
        raise ConfigError(f"data.source = {source!r} needs data.path; set it, or use source = \"sample\"")
    if source == "dataset":
        return batch_from_dataset(_named_dataset(data.path), data.batch_size, data.num_classes)
    if source == "folder" or (source == "auto" and Path(data.path).is_dir()):
        return load_image_folder(data.path, data.batch_size, data.num_classes, size)
    if source == "auto" and str(data.path).lower().endswith(".zip"):
        return load_image_zip(data.path, data.batch_size, data.num_classes)
    return load_image_batch(data.path, data.batch_size, data.num_classes)


def proxy_context(proxy: Any, data: Any, seed: int, name: str) -> Any:
    """The :class:`~nasplug.core.interfaces.proxy.ProxyContext` for ``proxy``: the ``[data]``
    batch when the proxy needs images (``ConfigError`` naming the fix when none is configured)
    and the ``[data]`` device."""
    from nasplug.core.interfaces.proxy import ProxyContext

    batch, classes = None, 10
    if proxy.needs_data:
        if data is None or (data.path is None and getattr(data, "source", "auto") != "sample"):
            raise ConfigError(f"proxy '{name}' needs images; add [data] path = \"batch.npz\" to the config (or source = \"sample\" for built-in photographs)")
        x, y, classes = load_batch(data)
        batch = (x, y)
    elif data is not None and data.num_classes:
        classes = data.num_classes
    device = getattr(data, "device", "cpu") if data is not None else "cpu"
    return ProxyContext(seed=seed, batch=batch, num_classes=classes, device=device)
