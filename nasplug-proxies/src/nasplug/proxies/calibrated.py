"""Any proxy as a predictor of accuracy: its score mapped to the label scale by an isotonic (or
linear) fit on the labelled architectures (:mod:`nasplug.core.calibration`).

``fit`` scores the labelled architectures with the proxy (each architecture once; scores are
kept for later calls) and fits the map from the proxy's fitness to the labels; ``predict``
scores and maps. The ranking is the proxy's own (isotonic maps never reorder, only tie), so a
calibrated proxy in a predict run reports the proxy's Kendall tau with an MSE on the accuracy
scale. ``data`` is the image batch (as the run's ``[data]``) for proxies that need images.
"""

from __future__ import annotations

import math
from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.calibration import METHODS, Calibration, fit_calibration
from nasplug.core.interfaces.predictor import Predictor
from nasplug.core.options import build_config, non_negative_int, one_of, part_spec, spec_name
from nasplug.core.registry import create_part
from nasplug.core.seeding import derive_seed


def _optional_table(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"{attribute.name}: expected a table, got {value!r}")


@attrs.frozen
class CalibratedProxyConfig:
    """``proxy``: a name or a table; ``method``: ``isotonic`` (default) or ``linear``; ``data``:
    the images for proxies that need them; ``seed``: the proxy context's seed."""

    proxy: Any = attrs.field(default="synflow", validator=part_spec)
    method: str = attrs.field(default="isotonic", validator=one_of(*METHODS))
    data: dict | None = attrs.field(default=None, validator=_optional_table)
    seed: int = attrs.field(default=0, validator=non_negative_int)


class CalibratedProxy(Predictor):
    """A proxy calibrated to accuracy on the labelled architectures."""

    Config = CalibratedProxyConfig

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        from nasplug.core.config import DataOptions
        from nasplug.core.data import proxy_context

        c = self.config
        self.proxy = create_part("proxy", c.proxy, "predictor.proxy", space=space)
        data = build_config(DataOptions, c.data, "predictor.data")
        self.context = proxy_context(self.proxy, data, derive_seed(c.seed, "proxy"), spec_name(c.proxy))
        self.scores: dict[str, float] = {}
        self.calibration: Calibration | None = None

    def fitness(self, archs: Sequence[Hashable]) -> np.ndarray:
        """The proxy's fitness of each architecture (NaN where the score is not finite)."""
        out = []
        for arch in archs:
            key = self.space.canonical(arch)
            if key not in self.scores:
                score = float(self.proxy.score(arch, self.context))
                self.scores[key] = self.proxy.fitness(score) if math.isfinite(score) else math.nan
            out.append(self.scores[key])
        return np.asarray(out, dtype=float)

    def fit(self, archs: Sequence[Hashable], y: np.ndarray, *, seed: int = 0) -> "CalibratedProxy":
        self.calibration = fit_calibration(self.fitness(archs), y, self.config.method)
        return self

    def predict(self, archs: Sequence[Hashable]) -> np.ndarray:
        if self.calibration is None:
            raise RuntimeError("predict before fit: call fit on labelled architectures first")
        scores = self.fitness(archs)
        low = float(np.min(self.calibration.predict([-np.inf]))) if self.calibration.method == "isotonic" else -np.inf
        return np.where(np.isfinite(scores), self.calibration.predict(np.nan_to_num(scores, nan=-np.inf)), low)

    def embed(self, archs: Sequence[Hashable]) -> np.ndarray:
        return np.nan_to_num(self.fitness(archs), nan=0.0)[:, None]

    def clone(self) -> "CalibratedProxy":
        twin = type(self)(self.config, space=self.space)
        twin.scores = self.scores  # the proxy's scores do not depend on the labels
        return twin
