"""Real training as an objective: train the candidate network on the user's images and return
its validation accuracy, for searches on one's own data rather than on a benchmark."""

from __future__ import annotations

import time
from typing import Any, Hashable

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.interfaces.objective import Evaluation, Objective
from nasplug.core.options import boolean, number_in, one_of, positive_int, table
from nasplug.core.seeding import derive_seed
from nasplug.core.interfaces.capabilities import Buildable



@attrs.frozen
class TrainingConfig:
    """A short, standard CIFAR-style recipe: SGD (momentum 0.9, Nesterov, weight decay 5e-4)
    with a cosine schedule over ``epochs`` (5), batch size 64, learning rate 0.05; random crops
    with 4-pixel padding and horizontal flips on the training split. ``val_fraction`` of the
    images (a seeded split, identical for every candidate) is held out for validation.
    ``module`` holds ``to_module`` options, e.g. ``{channels = 8, cells_per_stage = 1}`` for a
    fast NB201 network. ``threads`` caps torch's CPU threads during training."""

    epochs: int = attrs.field(default=5, validator=positive_int)
    lr: float = attrs.field(default=0.05, validator=number_in(0.0, 10.0))
    momentum: float = attrs.field(default=0.9, validator=number_in(0.0, 1.0))
    weight_decay: float = attrs.field(default=5e-4, validator=number_in(0.0, 1.0))
    batch_size: int = attrs.field(default=64, validator=positive_int)
    val_fraction: float = attrs.field(default=0.2, validator=number_in(0.0, 1.0))
    augment: bool = attrs.field(default=True, validator=boolean)
    module: dict = attrs.field(factory=dict, validator=table("a table of to_module options"))
    device: str = attrs.field(default="cpu", validator=one_of("cpu", "cuda"))
    threads: int = attrs.field(default=1, validator=positive_int)


class TrainingObjective(Objective):
    """Trains ``space.to_module(arch)`` from scratch on the run's ``[data]`` images and returns
    the validation accuracy in percent: an npz with ``x`` and ``y`` (all of its images, split by
    ``val_fraction``), or with ``[data] split = [train, valid]`` class-balanced splits of an npz,
    an image folder or a zip of one (CIFAR-10's ``cifar10_jpeg.zip``: of its training images).
    The evaluation's cost is the measured training time, so ``search.seconds`` budgets real
    compute. Deterministic for a given seed on CPU (weights, split, shuffling and augmentation
    are all seeded)."""

    requires = (Buildable,)

    Config = TrainingConfig

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        self._data: Any = None

    def check(self) -> None:
        if self.data is None or self.data.path is None:
            raise ConfigError("objective 'train' needs images; add [data] path = \"images.npz\" (arrays x and y), or a zip or "
                              "folder of class folders with split = [train, valid], to the config")
        self._load()
        if self.config.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise ConfigError("objective.device = \"cuda\" but no CUDA device is available; use \"cpu\"")

    @property
    def charges_cost(self) -> bool:
        return True

    def _load(self) -> tuple[Any, Any, Any, Any, int]:
        if self._data is None and self.data.split is not None:
            self._data = self._load_split()
        if self._data is None:
            from nasplug.core.data import load_image_batch

            x, y, classes = load_image_batch(self.data.path, 10**9, self.data.num_classes)
            n = len(y)
            n_val = max(1, int(round(n * self.config.val_fraction)))
            if n - n_val < 1:
                raise ConfigError(f"data file {self.data.path} has {n} images, too few to hold out {n_val} for validation; add images or lower objective.val_fraction")
            order = np.random.default_rng(derive_seed(self.seed, "split")).permutation(n)
            val, train = order[:n_val], order[n_val:]
            self._data = (x[train], y[train], x[val], y[val], classes)
        return self._data

    def _load_split(self) -> tuple[Any, Any, Any, Any, int]:
        """``[data] split = [train, valid]`` of an image folder, a zip of one or an npz: class-balanced
        and seeded (the same for every candidate), normalised by the train split's statistics."""
        from nasplug.core.datasets import training_data

        data = training_data(self.data.path, self.data.split, derive_seed(self.seed, "split"), augment=False)
        x_train, y_train = data.train.batch(range(len(data.train)))
        x_val, y_val = data.valid.batch(range(len(data.valid)))
        return x_train, y_train, x_val, y_val, len(data.classes)

    def evaluate(self, arch: Hashable) -> Evaluation:
        import torch
        from torch import nn

        c = self.config
        x_train, y_train, x_val, y_val, classes = self._load()
        threads = torch.get_num_threads()
        torch.set_num_threads(c.threads)
        started = time.perf_counter()
        try:
            seed = derive_seed(self.seed, "train", self.space.canonical(arch))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = self.space.to_module(arch, num_classes=classes, **c.module).to(c.device)
            gen = torch.Generator().manual_seed(seed)
            steps_per_epoch = max(1, -(-len(y_train) // c.batch_size))
            optimizer = torch.optim.SGD(model.parameters(), lr=c.lr, momentum=c.momentum, nesterov=c.momentum > 0,
                                        weight_decay=c.weight_decay)
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=c.epochs * steps_per_epoch)
            loss_fn = nn.CrossEntropyLoss()
            for _ in range(c.epochs):
                model.train()
                order = torch.randperm(len(y_train), generator=gen)
                for start in range(0, len(order), c.batch_size):
                    idx = order[start:start + c.batch_size]
                    xb = _augment(x_train[idx], gen) if c.augment else x_train[idx]
                    optimizer.zero_grad()
                    loss = loss_fn(model(xb.to(c.device)), y_train[idx].to(c.device))
                    loss.backward()
                    optimizer.step()
                    schedule.step()
            model.eval()
            correct = 0
            with torch.no_grad():
                for start in range(0, len(y_val), 256):
                    logits = model(x_val[start:start + 256].to(c.device))
                    correct += int((logits.argmax(1).cpu() == y_val[start:start + 256]).sum())
        finally:
            torch.set_num_threads(threads)
        seconds = time.perf_counter() - started
        accuracy = 100.0 * correct / len(y_val)
        return Evaluation(value=accuracy, cost=seconds, info={"train_seconds": seconds, "train_images": int(len(y_train))})


def _augment(x: Any, gen: Any) -> Any:
    """Random 4-pixel-padded crops and horizontal flips (the CIFAR recipe), seeded."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    dx = torch.randint(0, 9, (n,), generator=gen)
    dy = torch.randint(0, 9, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        crop = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out[i] = crop.flip(-1) if flip[i] else crop
    return out
