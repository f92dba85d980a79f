"""Reference tasks: architectures with known trained accuracy, for checking a proxy's direction.

A proxy declares ``direction = "max"`` or ``"min"``; the declaration is only right if the proxy's
scores correlate with trained accuracy with that sign. :func:`benchmark_reference_task` builds such
a task from any installed space with a benchmark table (NAS-Bench-201 and CIFAR-10 by default):
``n`` architectures spread evenly over the accuracy range above ``floor`` (networks that do not
train at all are left out, since separating them is easy and would flatter any proxy), their
tabulated accuracy, and a batch of real images. The core names the space only by its registry
name, so it still imports no plugin.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Hashable, Mapping

import attrs
import numpy as np

from nasplug.core.errors import ConfigError


@attrs.frozen(eq=False)
class ReferenceTask:
    """``archs`` of ``space`` with their true accuracy ``truth``, an image ``batch`` ``(x, y)``
    and the ``module_options`` that make the networks cheap enough for a test."""

    name: str
    space: Any
    archs: tuple[Hashable, ...]
    truth: np.ndarray
    batch: Any
    num_classes: int
    module_options: Mapping[str, Any] = attrs.field(factory=dict)

    def context(self, seed: int = 0) -> Any:
        from nasplug.core.interfaces.proxy import ProxyContext

        return ProxyContext(seed=seed, batch=self.batch, num_classes=self.num_classes)

    def correlation(self, proxy: Any, seed: int = 0) -> tuple[float, int]:
        """Spearman of ``proxy``'s raw scores with ``truth`` over the finite scores, and how many
        scores were finite."""
        from nasplug.core.metrics import spearman

        scores = np.array([proxy.score(a, self.context(seed)) for a in self.archs], dtype=float)
        finite = np.isfinite(scores)
        if finite.sum() < 3:
            return float("nan"), int(finite.sum())
        return float(spearman(scores[finite], self.truth[finite])), int(finite.sum())


def _benchmarks_root() -> Path:
    root = os.environ.get("NASPLUG_BENCHMARKS")
    if not root:
        raise ConfigError("NASPLUG_BENCHMARKS is not set; point it at the folder of benchmark tables and images")
    return Path(root)


@functools.lru_cache(maxsize=4)
def benchmark_reference_task(space: str = "nb201", metric: str = "cifar10_test", *, n: int = 20,
                             images: str = "images/cifar10_test_20.npz", batch_size: int = 20,
                             num_classes: int = 10, floor: float = 30.0,
                             module_options: tuple[tuple[str, Any], ...] = (("channels", 8), ("cells_per_stage", 5)),
                             ) -> ReferenceTask:
    """The reference task on ``space``'s benchmark: ``n`` architectures at evenly spaced ranks of
    ``metric`` among those above ``floor``, images from ``$NASPLUG_BENCHMARKS/images``.

    Defaults, measured on NAS-Bench-201 (Spearman with ``cifar10_test`` over these 20-24 cells):
    8 channels and 5 cells per stage keep the gradient-based proxies (snip, grasp, grad_norm,
    fisher) on the sign they have at full width (0.41-0.69); with 1 cell per stage they flip.
    Raises :class:`ConfigError` when the space or its data is not installed."""
    from nasplug.core.data import load_image_batch
    from nasplug.core.interfaces.capabilities import Benchmarked
    from nasplug.core.registry import registry

    reg = registry()
    if space not in reg.names("space"):
        raise ConfigError(f"reference task: search space '{space}' is not installed")
    instance = reg.create("space", space)
    if not isinstance(instance, Benchmarked):
        raise ConfigError(f"reference task: space '{space}' has no benchmark table")
    bench = instance.load_benchmark()
    archs = list(bench.architectures())
    acc = np.asarray(bench.query_many(archs, metric), dtype=float)
    usable = np.flatnonzero(np.isfinite(acc) & (acc > floor))
    if len(usable) < n:
        raise ConfigError(f"reference task: only {len(usable)} architectures of '{space}' score above {floor}")
    ranked = usable[np.argsort(acc[usable], kind="stable")]
    picked = ranked[np.linspace(0, len(ranked) - 1, n).round().astype(int)]
    x, y, classes = load_image_batch(_benchmarks_root() / images, batch_size, num_classes)
    return ReferenceTask(name=f"{space}/{metric}", space=instance, archs=tuple(archs[i] for i in picked),
                         truth=acc[picked], batch=(x, y), num_classes=classes, module_options=dict(module_options))
