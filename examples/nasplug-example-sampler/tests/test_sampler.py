"""The example sampler against nasplug's own sampler conformance suite, plus its specific behaviour.

This is all a third party needs to test a sampler: subclass ``SamplerConformance`` and provide a
``sampler_cls`` fixture; every contract test of the suite then runs on your class.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution, entry_points

import numpy as np
import pytest

from nasplug.core.testing import SamplerConformance
from nasplug_example_sampler import GreedyPredictedSampler


class TestGreedyPredictedSampler(SamplerConformance):
    behaviour_check = False
    behaviour_reason = "greedy labels the predicted best to find good networks, not to train a predictor"
    @pytest.fixture
    def sampler_cls(self):
        return GreedyPredictedSampler


class TestGreedyWithExploration(SamplerConformance):
    @pytest.fixture
    def sampler_cls(self):
        return GreedyPredictedSampler

    @pytest.fixture
    def sampler_options(self):
        return {"random_fraction": 0.5}


class TestGreedyBehaviour(SamplerConformance):
    """Beyond the contract: greedy really exploits the predictor."""

    behaviour_check = False

    @pytest.fixture
    def sampler_cls(self):
        return GreedyPredictedSampler

    def test_picks_the_predicted_best(self, space):
        labelled = list(range(0, 256, 8))
        ctx = self._context(space, labelled)
        chosen = self.build(GreedyPredictedSampler, {}, space=space).select(ctx, 10)
        rest = ctx.unlabelled
        scores = ctx.predictor.predict([ctx.pool[i] for i in rest])
        threshold = np.sort(scores)[-10]
        picked = ctx.predictor.predict([ctx.pool[i] for i in chosen])
        assert np.all(picked >= threshold - 1e-12)

    def test_beats_random_on_the_true_target(self, space):
        labelled = list(range(0, 256, 4))
        ctx = self._context(space, labelled)
        truth = space.load_benchmark().query_many(ctx.pool, "accuracy")
        chosen = self.build(GreedyPredictedSampler, {}, space=space).select(ctx, 10)
        assert truth[chosen].mean() > truth[ctx.unlabelled].mean()


def test_registered_through_its_entry_point():
    try:
        distribution("nasplug-example-sampler")
    except PackageNotFoundError:
        pytest.skip("nasplug-example-sampler is not installed (pip install it to check its entry point)")
    (ep,) = [e for e in entry_points(group="nasplug.samplers") if e.name == "greedy-predicted"]
    assert ep.load() is GreedyPredictedSampler
    assert ep.dist.metadata["Name"] == "nasplug-example-sampler"


def test_rejects_bad_options():
    from nasplug.core.errors import ConfigError
    from nasplug.core.options import build_config

    with pytest.raises(ConfigError):
        build_config(GreedyPredictedSampler.Config, {"random_fraction": 2}, "sampler")
