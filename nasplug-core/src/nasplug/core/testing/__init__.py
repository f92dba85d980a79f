"""Reusable conformance suites for plugin authors, in the manner of Optuna's sampler tests.

Subclass the suite for your kind of part in your own test module and provide its fixture::

    from nasplug.core.testing import SamplerConformance

    class TestMySampler(SamplerConformance):
        @pytest.fixture
        def sampler_cls(self):
            return MySampler

Every test of the suite then runs against your implementation. Samplers, strategies and proxies
are exercised on :class:`~nasplug.core.testing.toy.ToySpace`, a small space with a synthetic
benchmark that ships with the core, so a plugin needs no other nasplug package to be tested.
"""

from nasplug.core.testing.executor_suite import ExecutorConformance
from nasplug.core.testing.suites import (
    EncoderConformance, ObjectiveConformance, OneShotMethodConformance, PredictorConformance, ProxyConformance, SamplerConformance,
    SearchSpaceConformance, StrategyConformance, interrupt_after,
)
from nasplug.core.testing.parts import HillClimb
from nasplug.core.testing.toy import ToyBenchmark, ToySpace

__all__ = [
    "EncoderConformance", "ExecutorConformance", "ObjectiveConformance", "OneShotMethodConformance", "PredictorConformance", "ProxyConformance", "SamplerConformance",
    "SearchSpaceConformance", "StrategyConformance", "HillClimb", "ToyBenchmark", "ToySpace", "interrupt_after",
]
