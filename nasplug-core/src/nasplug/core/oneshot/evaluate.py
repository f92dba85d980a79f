"""Evaluating architectures with weights inherited from a supernet.

An architecture's network is taken out of the supernet (``supernet.extract(arch)``: the space's
own ``to_module`` network with the supernet's weights), its batch-norm statistics are
recalibrated on a few fixed training batches (SPOS and FairNAS do this: statistics accumulated
while other paths trained do not fit this one), and its accuracy is measured on fixed validation
images. The supernet itself is never modified. A supernet that cannot hand out sub-networks
(``can_extract`` false, e.g. PC-DARTS' partial channels) is copied and run on the architecture's
path instead.
"""

from __future__ import annotations

import copy
from typing import Any, Hashable, Sequence

import numpy as np


def recalibrate_bn(net: Any, batches: Sequence[Any]) -> None:
    """Reset every BatchNorm's running statistics and re-estimate them as the plain average over
    ``batches`` (forward passes in training mode, no gradients); leaves ``net`` in eval mode."""
    import torch
    from torch import nn

    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch counts equally
    net.train()
    with torch.no_grad():
        for x in batches:
            net(x)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    net.eval()


def accuracy(net: Any, batches: Sequence[tuple[Any, Any]]) -> float:
    """Top-1 accuracy (percent) of ``net`` in eval mode over ``(x, y)`` batches."""
    import torch

    net.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in batches:
            correct += int((net(x).argmax(1) == y).sum())
            total += len(y)
    return 100.0 * correct / max(total, 1)


class SupernetEvaluator:
    """Validation accuracy of architectures with inherited weights.

    ``bn_batches`` batches of ``batch_size`` training images (the first of the train split, not
    augmented) recalibrate BN; the first ``eval_images`` validation images are scored. Both sets
    are fixed, so an architecture always gets the same value from the same supernet."""

    def __init__(self, supernet: Any, data: Any, *, bn_batches: int = 4, batch_size: int = 256,
                 eval_images: int | None = None, device: str = "cpu") -> None:
        self.supernet, self.device = supernet, device
        train, valid = data.train, data.valid
        augment, train.augment = train.augment, False
        try:
            n_bn = min(len(train), bn_batches * batch_size)
            self.bn = [train.batch(range(i, min(i + batch_size, n_bn)))[0].to(device) for i in range(0, n_bn, batch_size)]
        finally:
            train.augment = augment
        n_val = len(valid) if eval_images is None else min(len(valid), eval_images)
        self.valid = [tuple(t.to(device) for t in valid.batch(range(i, min(i + batch_size, n_val))))
                      for i in range(0, n_val, batch_size)]
        self.images = n_val

    def network(self, arch: Hashable) -> Any:
        """The recalibrated sub-network of ``arch`` (eval mode)."""
        if getattr(self.supernet, "can_extract", True):
            net = self.supernet.extract(arch).to(self.device)
        else:
            net = _wrapped(copy.deepcopy(self.supernet), path=tuple(self.supernet.path_of(arch)))
        recalibrate_bn(net, self.bn)
        return net

    def mixture_accuracy(self, weights: Any) -> float:
        """Validation accuracy of the whole supernet run with per-decision option ``weights``
        (eval mode, the supernet's own BN statistics): the continuous model of a differentiable
        method, whose drop to the discretised architecture is the discretisation gap."""
        import torch

        was_training = self.supernet.training
        weights = torch.as_tensor(weights, dtype=torch.float32, device=self.device)
        self.supernet.eval()
        try:
            return accuracy(_wrapped(self.supernet, weights=weights), self.valid)
        finally:
            self.supernet.train(was_training)

    def accuracy(self, arch: Hashable) -> float:
        return accuracy(self.network(arch), self.valid)

    def many(self, archs: Sequence[Hashable]) -> np.ndarray:
        return np.array([self.accuracy(a) for a in archs], dtype=float)


def _wrapped(supernet: Any, **fixed: Any) -> Any:
    """``supernet`` as a one-input module calling ``supernet(x, **fixed)`` (a path or weights)."""
    from torch import nn

    class Fixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.supernet = supernet

        def forward(self, x: Any) -> Any:
            return self.supernet(x, **fixed)

    return Fixed()
