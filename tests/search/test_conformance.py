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
