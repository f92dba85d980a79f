"""Built-in samplers, encoders and predictors against the core conformance suites."""

import pytest

from nasplug.core.testing import EncoderConformance, PredictorConformance, SamplerConformance
from nasplug.samplers.encoders.onehot import OneHotEncoder
from nasplug.samplers.predictors.sklearn_predictor import SklearnPredictor
from nasplug.samplers.random_sampler import RandomSampler


class TestRandomSampler(SamplerConformance):
    @pytest.fixture
    def sampler_cls(self):
        return RandomSampler


class TestOneHotEncoder(EncoderConformance):
    @pytest.fixture
    def encoder_cls(self):
        return OneHotEncoder


@pytest.mark.parametrize("model", ["random_forest", "linear", "extra_trees", "gradient_boosting"])
class TestSklearnPredictor(PredictorConformance):
    @pytest.fixture
    def predictor_cls(self):
        return SklearnPredictor

    @pytest.fixture
    def predictor_options(self, model):
        return {"model": model, "n_estimators": 50}
