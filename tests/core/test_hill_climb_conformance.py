"""The core's own test strategy passes the strategy suite (exercising the suite and the runner)."""

import pytest

from nasplug.core.testing import HillClimb, StrategyConformance


class TestHillClimb(StrategyConformance):
    @pytest.fixture
    def strategy_cls(self):
        return HillClimb
