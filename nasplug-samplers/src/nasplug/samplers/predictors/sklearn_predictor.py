"""scikit-learn regressors on a fixed encoding (the tabular predictors of DARE's Table 8)."""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import attrs
import numpy as np

from nasplug.core.interfaces.predictor import Predictor
from nasplug.core.options import boolean, one_of, positive_int, string, table
from nasplug.samplers.predictors.training import features_field, make_encoder

MODELS = ("linear", "ridge", "random_forest", "extra_trees", "adaboost", "bagging", "gradient_boosting")


@attrs.frozen
class SklearnPredictorConfig:
    """``model``: which regressor; ``encoder``: the registered encoding it reads;
    ``n_estimators``: ensemble size, one value for every ensemble model so that comparisons share
    a setting (our choice; DARE's Table 8 does not state it). Targets are standardised before
    fitting when ``standardize`` (the predict run reports metrics on the original scale).
    ``features``: the encoding and/or zero-cost proxies (e.g. ``["encoding", "synflow"]``;
    ``feature_data`` is the proxies' image batch)."""

    model: str = attrs.field(default="random_forest", validator=one_of(*MODELS))
    encoder: str = attrs.field(default="onehot", validator=string)
    n_estimators: int = attrs.field(default=100, validator=positive_int)
    standardize: bool = attrs.field(default=True, validator=boolean)
    features: tuple[str, ...] = features_field()
    feature_data: dict | None = attrs.field(default=None, validator=table(optional=True))


class SklearnPredictor(Predictor):
    """A scikit-learn regressor (random forest by default) trained on an architecture encoding."""

    Config = SklearnPredictorConfig

    def __init__(self, config: Any = None, *, space: Any) -> None:
        super().__init__(config, space=space)

        self.encoder = make_encoder(self.config.encoder, self.config.features, self.config.feature_data, space)
        self.model: Any = None
        self._mean, self._std = 0.0, 1.0

    def _make(self, seed: int) -> Any:
        from sklearn import ensemble, linear_model

        c = self.config
        return {
            "linear": lambda: linear_model.LinearRegression(),
            "ridge": lambda: linear_model.Ridge(alpha=1.0),
            "random_forest": lambda: ensemble.RandomForestRegressor(n_estimators=c.n_estimators, random_state=seed, n_jobs=1),
            "extra_trees": lambda: ensemble.ExtraTreesRegressor(n_estimators=c.n_estimators, random_state=seed, n_jobs=1),
            "adaboost": lambda: ensemble.AdaBoostRegressor(n_estimators=c.n_estimators, random_state=seed),
            "bagging": lambda: ensemble.BaggingRegressor(n_estimators=c.n_estimators, random_state=seed, n_jobs=1),
            "gradient_boosting": lambda: ensemble.GradientBoostingRegressor(n_estimators=c.n_estimators, random_state=seed),
        }[c.model]()

    def fit(self, archs: Sequence[Hashable], y: np.ndarray, *, seed: int = 0) -> "SklearnPredictor":
        y = np.asarray(y, dtype=float)
        if self.config.standardize:
            self._mean = float(np.mean(y))
            self._std = float(np.std(y)) or 1.0
        self.model = self._make(seed).fit(self.encoder.encode(archs), (y - self._mean) / self._std)
        return self

    def predict(self, archs: Sequence[Hashable]) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("predict called before fit")
        return self.model.predict(self.encoder.encode(archs)) * self._std + self._mean

    def embed(self, archs: Sequence[Hashable]) -> np.ndarray:
        return self.encoder.encode(archs)
