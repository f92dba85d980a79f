"""A zip of an image folder as the image batch of data-hungry proxies."""

from __future__ import annotations

import numpy as np

from nasplug.core.config import DataOptions
from nasplug.core.data import load_batch


def test_a_zip_gives_the_classes_in_turn_from_its_training_part(tiny_zip):
    from nasplug.core.datasets import read_images

    x, y, classes = load_batch(DataOptions(path=str(tiny_zip), batch_size=25))
    assert tuple(x.shape) == (25, 3, 32, 32) and classes == 10
    assert y.tolist() == list(range(10)) * 2 + list(range(5))
    arrays = read_images(tiny_zip, "train")
    first_of_class_3 = arrays.x[np.flatnonzero(arrays.y == 3)[0]]
    # the 4th image of the batch is class 3's first training image, CIFAR-normalised
    restored = x[3].numpy().transpose(1, 2, 0) * np.array([0.2470, 0.2435, 0.2616]) + np.array([0.4914, 0.4822, 0.4465])
    assert np.abs(restored * 255 - first_of_class_3).max() < 0.01
