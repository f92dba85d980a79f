"""FT-ScoreNet as nasplug parts: a proxy (a trained scorer read from a checkpoint) and a
predictor (trained from labelled architectures of one space by ``fit``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.interfaces.predictor import Predictor
from nasplug.core.interfaces.proxy import Proxy, ProxyContext
from nasplug.core.options import boolean, non_negative_int, number_in, one_of, optional_string, positive_int
from nasplug.core.seeding import derive_seed
from nasplug.core.interfaces.capabilities import Buildable
from nasplug.proxies.ftscorenet.kernels import GAINS
from nasplug.proxies.ftscorenet.scorer import FTScoreNet, ModelConfig
from nasplug.proxies.ftscorenet.train import LabelledSet, StepRecord, TrainConfig, train


@attrs.frozen
class ProxyConfig:
    """``checkpoint``: a file saved by ``FTScoreNet.save`` / ``ScoreEnsemble.save`` (or by the
    predictor's ``save``). Without one the proxy scores with an untrained FT-ScoreNet initialised
    from ``init_seed`` — deterministic, but only a baseline: train one first for real use."""

    checkpoint: str | None = attrs.field(default=None, validator=optional_string)
    init_seed: int = attrs.field(default=0, validator=non_negative_int)


class FTScoreNetProxy(Proxy):
    """FT-ScoreNet: a learned zero-shot score from Fourier-synthesized kernels (higher is better)."""

    requires = (Buildable,)

    Config = ProxyConfig
    direction = "max"
    cost = "cheap"

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        self._model: Any = None

    def model(self) -> Any:
        """The scorer (or ensemble), loaded on first use."""
        if self._model is None:
            if self.config.checkpoint is None:
                self._model = FTScoreNet(seed=self.config.init_seed).eval()
            else:
                from nasplug.proxies.ftscorenet.ensemble import load_checkpoint

                self._model = load_checkpoint(self.config.checkpoint)
        return self._model

    def score(self, arch: Hashable, ctx: ProxyContext) -> float:
        return float(self.model().score(self.space, arch))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_model"] = None  # workers reload the checkpoint
        return state


@attrs.frozen
class PredictorConfig:
    """The model shape (see :class:`~.scorer.ModelConfig`), the optimisation (see
    :class:`~.train.TrainConfig`; 200 steps of 7 architectures by default, ``archs_per_step = 0``
    for the paper's full-batch Table VI run) and ``calibrate``: after training, map scores to
    the targets' scale by least squares on the training set (so ``predict`` returns
    accuracy-like values; the ranking is the scorer's unless the fit's slope is negative).

    Cost at the paper's size on one CPU thread: about 1.3 s per scored and 4 s per trained
    NAS-Bench-201 architecture (a step of 7 about 30 s); ``images = 16, input_size = 16`` is
    about 6x cheaper."""

    kernel: int = attrs.field(default=7, validator=positive_int)
    bank_channels: int = attrs.field(default=64, validator=positive_int)
    images: int = attrs.field(default=64, validator=positive_int)
    input_size: int = attrs.field(default=32, validator=positive_int)
    classes: int = attrs.field(default=100, validator=positive_int)
    mlp_width: int = attrs.field(default=64, validator=positive_int)
    vnorm: bool = attrs.field(default=True, validator=boolean)
    nonlinearity: str = attrs.field(default="relu", validator=one_of(*GAINS))
    symlog_eps: float = attrs.field(default=1e-3, validator=number_in(1e-12, 1.0))
    steps: int = attrs.field(default=200, validator=non_negative_int)
    archs_per_step: int = attrs.field(default=7, validator=non_negative_int)
    lr: float = attrs.field(default=1e-3, validator=number_in(0.0, 10.0))
    beta1: float = attrs.field(default=0.9, validator=number_in(0.0, 1.0))
    beta2: float = attrs.field(default=0.95, validator=number_in(0.0, 1.0))
    regularization_strength: float = attrs.field(default=3.0, validator=number_in(1e-12, None))
    calibrate: bool = attrs.field(default=True, validator=boolean)

    def model_config(self) -> ModelConfig:
        return ModelConfig(**{f.name: getattr(self, f.name) for f in attrs.fields(ModelConfig)})

    def train_config(self) -> TrainConfig:
        return TrainConfig(**{f.name: getattr(self, f.name) for f in attrs.fields(TrainConfig)})


class FTScoreNetPredictor(Predictor):
    """FT-ScoreNet trained on labelled architectures (the paper's prediction-based setting)."""

    Config = PredictorConfig

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)
        self.model: FTScoreNet | None = None
        self.history: list[StepRecord] = []
        self.slope, self.intercept = 1.0, 0.0

    def fit(self, archs: Sequence[Hashable], y: np.ndarray, *, seed: int = 0) -> "FTScoreNetPredictor":
        y = np.asarray(y, dtype=float)
        self.model = FTScoreNet(self.config.model_config(), seed=derive_seed(seed, "ftscorenet", "init"))
        self.history = train(self.model, [LabelledSet("train", self.space, list(archs), y)], self.config.train_config(),
                             seed=derive_seed(seed, "ftscorenet", "train"))
        self.slope, self.intercept = 1.0, 0.0
        if self.config.calibrate:
            s = self.model.score_many(self.space, archs)
            if np.ptp(s) > 0 and np.ptp(y) > 0:
                self.slope, self.intercept = (float(v) for v in np.polyfit(s, y, 1))
            else:
                self.slope, self.intercept = 0.0, float(np.mean(y))
        return self

    def _fitted(self) -> FTScoreNet:
        if self.model is None:
            raise RuntimeError("predict/embed called before fit")
        return self.model

    def scores(self, archs: Sequence[Hashable]) -> np.ndarray:
        """The raw FT-ScoreNet scores (uncalibrated)."""
        return self._fitted().score_many(self.space, archs)

    def predict(self, archs: Sequence[Hashable]) -> np.ndarray:
        return self.scores(archs) * self.slope + self.intercept

    def embed(self, archs: Sequence[Hashable]) -> np.ndarray:
        """The per-image scores the batch-wise MLP reads (``images`` values per architecture)."""
        return self._fitted().embed_many(self.space, archs)

    def save(self, path: str | Path) -> Path:
        """The trained scorer as a checkpoint the ``ftscorenet`` proxy reads."""
        return self._fitted().save(path)
