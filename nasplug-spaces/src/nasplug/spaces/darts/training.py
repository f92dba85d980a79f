"""Train a DARTS-space genotype from scratch: DARTS' CIFAR-10 evaluation protocol.

What a searched genotype is finally judged by (DARTS, Liu et al., ICLR 2019, section 3.2, and the
papers that follow it, survey 001 Table 2): the genotype stacked into a 20-cell network of 36
initial channels, trained for 600 epochs on all 50,000 CIFAR-10 training images with batch 96,
SGD (learning rate 0.025 annealed by a cosine to 0, momentum 0.9, weight decay 3e-4), Cutout of
16 px, drop-path whose probability grows linearly from 0 to 0.2 over training, an auxiliary
classifier weighted 0.4 and gradient-norm clipping at 5; the reported figure is the test error on
the 10,000 test images after the last epoch. :class:`EvaluationConfig` holds those defaults, each
one overridable.

Choices the paper leaves open: images are normalised by the training set's own per-channel
statistics (DARTS hard-codes CIFAR-10's, which are the same numbers to 3 decimals); the crop, flip
and Cutout draws come from ``(seed, epoch, image)`` and the drop-path masks from a torch seed
derived from ``(seed, epoch)``, so a run resumed from its per-epoch checkpoint follows the same
trajectory as an uninterrupted one (on one device and thread count). The parameter count excludes
the auxiliary head, as DARTS reports it.

Six hundred epochs of this network are GPU work (about a day per genotype on one GPU at DARTS'
size); ``bench/differentiable_gpu.py`` runs it on CUDA, and the tests run a few images for an
epoch on CPU.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import attrs
import numpy as np

from nasplug.core.datasets import ImageSplit, balanced_split, channel_stats, read_images
from nasplug.core.errors import ConfigError
from nasplug.core.oneshot.evaluate import accuracy
from nasplug.core.seeding import derive_seed
from nasplug.spaces.darts.genotype import DartsArch, genotype_str


def _positive(integer: bool) -> Callable[[Any, attrs.Attribute, Any], None]:
    kinds, noun = ((int,), "integer") if integer else ((int, float), "number")

    def check(_: Any, attribute: attrs.Attribute, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
            raise ConfigError(f"evaluation option '{attribute.name}' must be a positive {noun}, got {value!r}")
    return check


def _non_negative(_: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"evaluation option '{attribute.name}' must be a number >= 0, got {value!r}")


def _probability(_: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"evaluation option '{attribute.name}' must be in [0, 1), got {value!r}")


def _optional_count(_: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"evaluation option '{attribute.name}' must be an image count >= 1 or None (all), got {value!r}")


def _count_or_zero(_: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"evaluation option '{attribute.name}' must be an integer >= 0, got {value!r}")


@attrs.frozen
class EvaluationConfig:
    """DARTS' evaluation protocol on CIFAR-10; every default is the paper's.

    ``train_images`` / ``test_images``: ``None`` uses all 50,000 / 10,000; a number takes a
    class-balanced seeded subset (for smoke runs). ``auxiliary_weight = 0`` drops the auxiliary
    head; ``cutout = 0`` and ``drop_path_prob = 0`` switch those off.
    """

    epochs: int = attrs.field(default=600, validator=_positive(True))
    batch_size: int = attrs.field(default=96, validator=_positive(True))
    learning_rate: float = attrs.field(default=0.025, validator=_positive(False))
    momentum: float = attrs.field(default=0.9, validator=_non_negative)
    weight_decay: float = attrs.field(default=3e-4, validator=_non_negative)
    channels: int = attrs.field(default=36, validator=_positive(True))
    layers: int = attrs.field(default=20, validator=_positive(True))
    auxiliary_weight: float = attrs.field(default=0.4, validator=_non_negative)
    drop_path_prob: float = attrs.field(default=0.2, validator=_probability)
    cutout: int = attrs.field(default=16, validator=_count_or_zero)
    grad_clip: float = attrs.field(default=5.0, validator=_non_negative)
    train_images: int | None = attrs.field(default=None, validator=_optional_count)
    test_images: int | None = attrs.field(default=None, validator=_optional_count)
    workers: int = attrs.field(default=0, validator=_count_or_zero)


@attrs.frozen
class EvaluationResult:
    """The trained network's final test accuracy (%), its parameter count (millions, without the
    auxiliary head), and one row per epoch (train loss / accuracy, learning rate, drop-path
    probability, seconds; test accuracy where it was measured)."""

    test_accuracy: float
    params_m: float
    epochs: int
    seconds: float
    history: list[dict[str, Any]]

    @property
    def test_error(self) -> float:
        return 100.0 - self.test_accuracy


def _splits(data: str | os.PathLike, config: EvaluationConfig, seed: int) -> tuple[ImageSplit, ImageSplit]:
    train, test = read_images(data, "train"), read_images(data, "test")
    if train.source == test.source:
        raise ConfigError(f"{data} has no separate train/ and test/ parts; DARTS' evaluation needs CIFAR-10's "
                          "test set (point it at images/cifar10_jpeg.zip of the benchmark data)")
    train_idx = (np.arange(len(train)) if config.train_images is None
                 else balanced_split(train.y, [config.train_images], seed, source=train.source)[0])
    test_idx = (np.arange(len(test)) if config.test_images is None
                else balanced_split(test.y, [config.test_images], seed, source=test.source)[0])
    mean, std = channel_stats(train.x[train_idx])
    return (ImageSplit(train, train_idx, mean, std, augment=True, seed=seed, cutout=int(config.cutout)),
            ImageSplit(test, test_idx, mean, std, augment=False, seed=seed))


def build_network(arch: DartsArch, config: EvaluationConfig, num_classes: int = 10) -> Any:
    """The evaluation network of ``arch`` (auxiliary head when ``auxiliary_weight > 0``)."""
    from nasplug.spaces.darts.network import DartsNetwork

    return DartsNetwork(arch, num_classes=num_classes, channels=config.channels, layers=config.layers,
                        auxiliary=config.auxiliary_weight > 0)


def count_params_m(net: Any) -> float:
    """Parameters in millions, the auxiliary head left out (as DARTS counts them)."""
    return sum(p.numel() for name, p in net.named_parameters() if not name.startswith("auxiliary_head")) / 1e6


def _test_accuracy(net: Any, test: ImageSplit, device: str, batch_size: int = 256) -> float:
    """Top-1 accuracy (%) of ``net`` on ``test`` in eval mode, batches moved to ``device``."""
    return accuracy(net, ((x.to(device), y.to(device)) for x, y in test.batches(batch_size, shuffle=False)))


def train_from_scratch(arch: DartsArch, data: str | os.PathLike, config: EvaluationConfig | None = None, *,
                       seed: int = 0, device: str = "cpu", checkpoint: str | os.PathLike | None = None,
                       eval_every: int = 0, on_epoch: Callable[[dict[str, Any]], None] | None = None,
                       ) -> EvaluationResult:
    """Train ``arch`` by DARTS' evaluation protocol on the CIFAR-10 source ``data`` (a folder, zip
    or npz with ``train/`` and ``test/`` parts) and return its test accuracy.

    With ``checkpoint`` the model, optimiser, schedule and history are saved after every epoch
    (atomically) and a later call with the same path resumes from the last finished epoch.
    ``eval_every = k > 0`` also measures test accuracy every k epochs (the curve; the result is the
    last epoch's in any case). ``on_epoch`` receives each epoch's row.
    """
    import torch
    from torch import nn

    config = config or EvaluationConfig()
    train, test = _splits(data, config, seed)
    if len(train) < config.batch_size:
        raise ConfigError(f"evaluation batch_size {config.batch_size} exceeds the {len(train)} training images; "
                          "lower batch_size or raise train_images")
    torch.manual_seed(derive_seed(seed, "darts-eval-init"))
    net = build_network(arch, config, train.num_classes).to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=config.learning_rate, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, float(config.epochs), eta_min=0.0)
    history: list[dict[str, Any]] = []
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.is_file():
        state = torch.load(path, map_location=device, weights_only=False)
        if state["config"] != attrs.asdict(config) or state["seed"] != seed or state["arch"] != genotype_str(arch):
            raise ConfigError(f"checkpoint {path} was written for another genotype, seed or config; "
                              "delete it or choose another path")
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        history = state["history"]
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(len(history), config.epochs):
        started = time.perf_counter()
        torch.manual_seed(derive_seed(seed, "darts-eval-epoch", epoch))
        net.drop_path_prob = config.drop_path_prob * epoch / config.epochs
        lr = optimizer.param_groups[0]["lr"]
        net.train()
        train.set_epoch(epoch)
        losses, correct, seen = [], 0, 0
        for x, y in train.batches(config.batch_size, shuffle=True, workers=int(config.workers)):
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            logits, aux = net.forward_with_auxiliary(x)
            loss = loss_fn(logits, y)
            if aux is not None:
                loss = loss + config.auxiliary_weight * loss_fn(aux, y)
            loss.backward()
            if config.grad_clip > 0:
                nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
            optimizer.step()
            losses.append(float(loss.detach()))
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        schedule.step()
        row: dict[str, Any] = {"epoch": epoch, "train_loss": float(np.mean(losses)), "train_accuracy": 100.0 * correct / seen,
                               "lr": lr, "drop_path_prob": net.drop_path_prob}
        if not math.isfinite(row["train_loss"]):
            raise FloatingPointError(f"training diverged at epoch {epoch} (loss {row['train_loss']}); "
                                     "lower learning_rate or keep grad_clip")
        if epoch == config.epochs - 1 or (eval_every and (epoch + 1) % eval_every == 0):
            row["test_accuracy"] = _test_accuracy(net, test, device)
        row["seconds"] = time.perf_counter() - started
        history.append(row)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(), "history": history, "seed": seed,
                        "arch": genotype_str(arch), "config": attrs.asdict(config)}, tmp)
            os.replace(tmp, path)
        if on_epoch is not None:
            on_epoch(row)
    final = history[-1]
    accuracy = final["test_accuracy"] if "test_accuracy" in final else _test_accuracy(net, test, device)
    return EvaluationResult(float(accuracy), count_params_m(net), config.epochs,
                            float(sum(r["seconds"] for r in history)), history)
