"""The training protocol shared by the neural predictors (DARE, Sec. 5.1).

Adam (lr 1e-3, weight decay 1e-5), CosineAnnealingWarmRestarts (T_0 = 20, T_mult = 2: cycles of
20, 40, 80, 160 epochs, so 300 epochs end exactly at the end of the fourth cycle), 300 epochs, no
early stopping, mini-batches of the number of samples added per active-learning round (10). The
schedule is stepped after every mini-batch with the fractional epoch, as PyTorch documents for
this scheduler. Targets are z-scored on the training set and predictions mapped back.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Hashable, Iterator, Sequence

import attrs
import numpy as np

from nasplug.core.errors import BenchmarkError, BudgetError
from nasplug.core.interfaces.predictor import Predictor
from nasplug.core.options import boolean, number_in, positive_int


@attrs.frozen
class TrainingOptions:
    """Options of DARE's training protocol, shared by the neural predictors' configs."""

    epochs: int = attrs.field(default=300, validator=positive_int)
    batch_size: int = attrs.field(default=10, validator=positive_int)
    lr: float = attrs.field(default=1e-3, validator=number_in(0.0, 10.0))
    weight_decay: float = attrs.field(default=1e-5, validator=number_in(0.0, 1.0))
    t0: int = attrs.field(default=20, validator=positive_int)
    t_mult: int = attrs.field(default=2, validator=positive_int)
    standardize: bool = attrs.field(default=True, validator=boolean)
    predict_batch_size: int = attrs.field(default=1024, validator=positive_int)


def check_labels(archs: Sequence[Hashable], y: Any) -> np.ndarray:
    """``y`` as a float array matching ``archs``; errors name the problem and the fix."""
    y = np.asarray(y, dtype=float).reshape(-1)
    if len(archs) != len(y):
        raise BudgetError(f"fit got {len(archs)} architectures but {len(y)} labels; pass one label per architecture")
    if len(y) < 2:
        raise BudgetError(f"a neural predictor needs at least 2 labelled architectures, got {len(y)}; label more before fitting")
    if not np.all(np.isfinite(y)):
        raise BenchmarkError(f"{int(np.sum(~np.isfinite(y)))} labels are NaN or infinite (unmeasured architectures); drop them before fitting")
    return y


class TargetScaler:
    """z-scoring of the targets (identity when ``enabled`` is false)."""

    def __init__(self, y: np.ndarray, enabled: bool = True) -> None:
        self.mean = float(np.mean(y)) if enabled else 0.0
        std = float(np.std(y)) if enabled else 1.0
        self.std = std if std > 0 else 1.0

    def forward(self, y: np.ndarray) -> np.ndarray:
        return (np.asarray(y, dtype=float) - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, dtype=float) * self.std + self.mean


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[Any]:
    """A scope with torch's global RNG seeded (and restored afterwards); yields a torch
    ``Generator`` seeded the same way for shuffling and augmentation draws."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield torch.Generator().manual_seed(int(seed))


def train(model: Any, n: int, options: TrainingOptions, step_loss: Callable[[Any], Any], generator: Any,
          *, epochs: int | None = None, schedule: bool = True) -> list[float]:
    """Run the protocol: every epoch a fresh shuffle of ``range(n)`` cut into mini-batches,
    ``step_loss(index_tensor)`` gives the loss of one batch. Returns the mean loss per epoch."""
    import torch

    epochs = options.epochs if epochs is None else epochs
    optimizer = torch.optim.Adam(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=options.t0, T_mult=options.t_mult) if schedule else None
    steps = max(1, math.ceil(n / options.batch_size))
    history: list[float] = []
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for s in range(steps):
            loss = step_loss(order[s * options.batch_size:(s + 1) * options.batch_size])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step(epoch + (s + 1) / steps)
            total += float(loss.detach())
        history.append(total / steps)
    model.eval()
    return history


def chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of ``range(n)`` of at most ``size`` items."""
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


class TorchPredictor(Predictor):
    """Inference shared by the torch predictors: batched, no-grad forward passes over
    ``predict_batch_size`` architectures at a time, predictions mapped back to the benchmark's
    units. A subclass sets ``model`` and ``scaler`` in ``fit`` and says what one batch gives."""

    model: Any = None
    scaler: TargetScaler | None = None

    def _forward(self, archs: list[Hashable]) -> tuple[Any, Any]:
        """``(predictions, embeddings)`` tensors of one batch of architectures."""
        raise NotImplementedError

    def _embedding_width(self) -> int:
        raise NotImplementedError

    def _outputs(self, archs: Sequence[Hashable], which: str) -> np.ndarray:
        import torch

        if self.model is None:
            raise RuntimeError(f"{type(self).__name__}.{which} called before fit")
        archs = list(archs)
        parts: list[np.ndarray] = []
        self.model.eval()
        with torch.no_grad():
            for part in chunks(len(archs), self.config.predict_batch_size):
                pred, embedding = self._forward(archs[part])
                out = pred.reshape(-1) if which == "predict" else embedding
                parts.append(out.numpy().astype(np.float64 if which == "predict" else np.float32))
        if not parts:
            return np.zeros(0) if which == "predict" else np.zeros((0, self._embedding_width()), dtype=np.float32)
        return np.concatenate(parts)

    def predict(self, archs: Sequence[Hashable]) -> np.ndarray:
        out = self._outputs(archs, "predict")
        return self.scaler.inverse(out) if self.scaler is not None else out

    def embed(self, archs: Sequence[Hashable]) -> np.ndarray:
        """The learned representation (see the class docstring) as float32 rows."""
        return self._outputs(archs, "embed")


def _features(_inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, tuple) or not value or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{attribute.name}: expected a non-empty list of \"encoding\" and/or proxy names, got {value!r}")


def features_field() -> Any:
    """The ``features`` option of predictors on a fixed encoding: ``["encoding"]`` (default), or
    proxy names with or without ``"encoding"`` (e.g. ``["encoding", "synflow", "naswot"]``),
    whose scores are appended to the encoding (``proxy_features`` encoder of nasplug-proxies)."""
    return attrs.field(default=("encoding",), converter=lambda v: tuple(v) if isinstance(v, list) else v, validator=_features)


def make_encoder(encoder: Any, features: Sequence[str], feature_data: Any, space: Any) -> Any:
    """The predictor's encoder: ``encoder`` itself, or with the proxy columns of ``features``."""
    from nasplug.core.registry import create_part

    proxies = [f for f in features if f != "encoding"]
    if not proxies:
        return create_part("encoder", encoder, "predictor.encoder", space=space)
    spec = {"name": "proxy_features", "base": encoder if "encoding" in features else "", "proxies": proxies}
    if feature_data is not None:
        spec["data"] = feature_data
    return create_part("encoder", spec, "predictor.features", space=space)

