"""Built-in strategies against the core strategy conformance suite."""

import pytest

from nasplug.core.testing import StrategyConformance
from nasplug.search.random_search import RandomSearch
from nasplug.search.rea import RegularizedEvolution


class TestRandomSearch(StrategyConformance):
    beats_random = False
    beats_random_reason = "it is the random-search baseline"

    @pytest.fixture
    def strategy_cls(self):
        return RandomSearch


class TestREA(StrategyConformance):
    @pytest.fixture
    def strategy_cls(self):
        return RegularizedEvolution

    @pytest.fixture
    def strategy_options(self):
        return {"population_size": 8, "sample_size": 3}


class TestBananas(StrategyConformance):
    @pytest.fixture
    def strategy_cls(self):
        from nasplug.search.bananas import Bananas

        return Bananas

    @pytest.fixture
    def strategy_options(self):
        # a fast ensemble member for the toy space (the paper's MLP on the path encoding needs a cell space)
        return {"initial": 8, "per_iteration": 6, "ensemble": 3, "candidates": 40,
                "predictor": {"name": "sklearn", "model": "random_forest", "n_estimators": 20}}

