"""Any proxy as a predictor of accuracy: its score mapped to the label scale by an isotonic (or
linear) fit on the labelled architectures (:mod:`nasplug.core.calibration`).

``fit`` scores the labelled architectures with the proxy (each architecture once, through the
``proxy_features`` encoder, whose scores are cached on disk) and fits the map from the proxy's fitness to the labels; ``predict``
scores and maps. The ranking is the proxy's own (isotonic maps never reorder, only tie), so a
calibrated proxy in a predict run reports the proxy's Kendall tau with an MSE on the accuracy
scale. ``data`` is the image batch (as the run's ``[data]``) for proxies that need images.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.calibration import METHODS, Calibration, fit_calibration
from nasplug.core.interfaces.predictor import Predictor
from nasplug.core.options import build_config, non_negative_int, one_of, part_spec, table



@attrs.frozen
class CalibratedProxyConfig:
    """``proxy``: a name or a table; ``method``: ``isotonic`` (default) or ``linear``; ``data``:
    the images for proxies that need them; ``seed``: the proxy context's seed."""

    proxy: Any = attrs.field(default="synflow", validator=part_spec)
    method: str = attrs.field(default="isotonic", validator=one_of(*METHODS))
    data: dict | None = attrs.field(default=None, validator=table(optional=True))
    seed: int = attrs.field(default=0, validator=non_negative_int)


class CalibratedProxy(Predictor):
    """A proxy calibrated to accuracy on the labelled architectures."""

    Config = CalibratedProxyConfig

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        from nasplug.proxies.features import ProxyFeatures

        c = self.config
        #: The proxy's scores, through the proxy-feature encoder (computed once, cached on disk).
        self.features = ProxyFeatures(build_config(ProxyFeatures.Config, {"base": "", "proxies": [c.proxy], "data": c.data,
                                                                          "seed": c.seed}, "predictor"), space=space)
        self.calibration: Calibration | None = None

    def fitness(self, archs: Sequence[Hashable]) -> np.ndarray:
        """The proxy's fitness of each architecture (NaN where the score is not finite)."""
        return self.features.scores(archs)[:, 0]

    def fit(self, archs: Sequence[Hashable], y: np.ndarray, *, seed: int = 0) -> "CalibratedProxy":
        self.calibration = fit_calibration(self.fitness(archs), y, self.config.method)
        return self

    def predict(self, archs: Sequence[Hashable]) -> np.ndarray:
        if self.calibration is None:
            raise RuntimeError("predict before fit: call fit on labelled architectures first")
        scores = self.fitness(archs)
        low = float(self.calibration.predict([-np.inf])[0]) if self.calibration.method == "isotonic" else -np.inf
        return np.where(np.isfinite(scores), self.calibration.predict(np.nan_to_num(scores, nan=-np.inf)), low)

    def embed(self, archs: Sequence[Hashable]) -> np.ndarray:
        return np.nan_to_num(self.fitness(archs), nan=0.0)[:, None]

    def clone(self) -> "CalibratedProxy":
        twin = type(self)(self.config, space=self.space)
        twin.features = self.features  # the proxy's scores do not depend on the labels
        return twin
