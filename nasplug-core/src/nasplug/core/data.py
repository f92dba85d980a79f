"""Image batches for proxies that need data: read from an ``.npz`` file of images and labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nasplug.core.errors import ConfigError

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
    if x.ndim != 4:
        raise ConfigError(f"data file {path}: x must be 4-D images (N,H,W,C or N,C,H,W), got shape {x.shape}")
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


def proxy_context(proxy: Any, data: Any, seed: int, name: str) -> Any:
    """The :class:`~nasplug.core.interfaces.proxy.ProxyContext` for ``proxy``: the ``[data]``
    batch when the proxy needs images (``ConfigError`` naming the fix when none is configured)."""
    from nasplug.core.interfaces.proxy import ProxyContext

    batch, classes = None, 10
    if proxy.needs_data:
        if data is None or data.path is None:
            raise ConfigError(f"proxy '{name}' needs images; add [data] path = \"batch.npz\" to the config")
        x, y, classes = load_image_batch(data.path, data.batch_size, data.num_classes)
        batch = (x, y)
    return ProxyContext(seed=seed, batch=batch, num_classes=classes)
