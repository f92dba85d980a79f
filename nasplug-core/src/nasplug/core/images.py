"""What every image source shares: the file types read, and label checking."""

from __future__ import annotations

from typing import Any

import numpy as np

from nasplug.core.errors import ConfigError

#: Image file extensions a folder source reads.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm")


def class_labels(y: Any, n: int, path: Any) -> np.ndarray:
    """``y`` as int64 class indices, checked: one per image, whole numbers (floats like 3.0 are
    accepted, 2.5 is not: it would be truncated), none negative."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ConfigError(f"data file {path}: y must hold one label per image ({n}), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        numeric = np.issubdtype(y.dtype, np.floating) or y.dtype == np.bool_
        bad = np.arange(len(y)) if not numeric else np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))
        if len(bad):
            raise ConfigError(f"data file {path}: y must be whole class indices, got {y.dtype} values such as {y[bad[0]].item()!r} "
                              f"(label {int(bad[0])}); save integer labels")
    y = y.astype(np.int64)
    if n and int(y.min()) < 0:
        raise ConfigError(f"data file {path}: labels must be class indices >= 0, got {int(y.min())}")
    return y
