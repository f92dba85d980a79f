"""A multilayer perceptron on a fixed architecture encoding (the MLP baseline of DARE's Table 1).

The encoding is any registered encoder (``adjacency`` by default; ``path`` is White et al.'s best
for MLPs; ``haap`` is HAAP's flat matrices). With an encoder that offers homogeneous augmentation
(``haap``), ``augment = k`` adds k random HA views of every labelled architecture to the training
set with its label, which is how HAAP trains its non-graph predictors. Training follows DARE's
protocol (:mod:`.training`). The width and depth (three hidden layers of 128, ReLU, dropout 0.1)
are our choice: DARE cites Wang et al. (AlphaX) for its MLP without giving its shape.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.errors import ConfigError
from nasplug.core.options import non_negative_int, number_in, one_of, string, table
from nasplug.samplers.predictors.training import (TargetScaler, TorchPredictor, TrainingOptions, check_labels, features_field,
                                                  make_encoder, seeded, train)


def _widths(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    ok = isinstance(value, tuple) and value and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    if not ok:
        raise ValueError(f"{attribute.name}: expected a non-empty list of positive integers, got {value!r}")


@attrs.frozen
class MLPPredictorConfig(TrainingOptions):
    """``encoder``: registered encoder name; ``hidden``: layer widths; ``dropout``; ``augment``:
    HA views added per labelled architecture (needs an encoder with ``augment_encode``); ``loss``:
    ``"mse"`` (DARE's protocol) or ``"mae"`` (BANANAS' meta neural network); ``features``: the
    encoding and/or zero-cost proxies (e.g. ``["encoding", "synflow"]``; ``feature_data`` is the
    proxies' image batch)."""

    encoder: str = attrs.field(default="adjacency", validator=string)
    hidden: tuple[int, ...] = attrs.field(default=(128, 128, 128), converter=lambda v: tuple(v) if isinstance(v, list) else v,
                                          validator=_widths)
    dropout: float = attrs.field(default=0.1, validator=number_in(0.0, 0.99))
    augment: int = attrs.field(default=0, validator=non_negative_int)
    loss: str = attrs.field(default="mse", validator=one_of("mse", "mae"))
    features: tuple[str, ...] = features_field()
    feature_data: dict | None = attrs.field(default=None, validator=table(optional=True))


class MLPPredictor(TorchPredictor):
    """An MLP on a fixed encoding (adjacency by default), trained with DARE's protocol; its
    embedding is the last hidden layer's activations."""

    Config = MLPPredictorConfig

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)

        self.encoder = make_encoder(self.config.encoder, self.config.features, self.config.feature_data, space)
        if self.config.augment and not hasattr(self.encoder, "augment_encode"):
            raise ConfigError(f"predictor.augment needs an encoder with homogeneous augmentation (e.g. 'haap'), not '{self.config.encoder}'")
        self.model: Any = None
        self.scaler: TargetScaler | None = None
        self.history: list[float] = []

    def _network(self, width: int) -> Any:
        from torch import nn

        layers: list[Any] = []
        for h in self.config.hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(self.config.dropout)]
            width = h
        return nn.ModuleDict({"body": nn.Sequential(*layers), "out": nn.Linear(width, 1)})

    def fit(self, archs: Sequence[Hashable], y: np.ndarray, *, seed: int = 0) -> "MLPPredictor":
        import torch

        from nasplug.core.seeding import derive_rng

        archs = list(archs)
        y = check_labels(archs, y)
        self.scaler = TargetScaler(y, self.config.standardize)
        x = self.encoder.encode(archs)
        targets = self.scaler.forward(y)
        if self.config.augment:
            rng = derive_rng(seed, "mlp-augment")
            views = [self.encoder.augment_encode(archs, rng) for _ in range(self.config.augment)]
            x = np.concatenate([x, *views])
            targets = np.tile(targets, self.config.augment + 1)
        features = torch.as_tensor(x, dtype=torch.float32)
        target = torch.as_tensor(targets, dtype=torch.float32)
        with seeded(seed) as generator:
            self.model = self._network(features.shape[1])

            def loss(index: Any) -> Any:
                pred = self.model["out"](self.model["body"](features[index])).view(-1)
                if self.config.loss == "mae":
                    return torch.nn.functional.l1_loss(pred, target[index])
                return torch.nn.functional.mse_loss(pred, target[index])

            self.history = train(self.model, len(target), self.config, loss, generator)
        return self

    def _forward(self, archs: list[Hashable]) -> tuple[Any, Any]:
        import torch

        z = self.model["body"](torch.as_tensor(self.encoder.encode(archs)))
        return self.model["out"](z), z

    def _embedding_width(self) -> int:
        return self.config.hidden[-1]
