"""The position-wise and guided strategies against the core strategy conformance suite, and
their own promises (DSM-NAS edits stay within M of the centre, NSGA-II returns a front)."""

from __future__ import annotations

import numpy as np
import pytest

from nasplug.core.interfaces.strategy import Told
from nasplug.core.options import build_config
from nasplug.core.testing import StrategyConformance
from nasplug.core.testing.toy import ToySpace
from nasplug.search.dsm_nas import DSMNAS
from nasplug.search.local_search import LocalSearch
from nasplug.search.nsga2 import NSGA2
from nasplug.search.reinforce import Reinforce


class TestDSMNAS(StrategyConformance):
    @pytest.fixture
    def strategy_cls(self):
        return DSMNAS


class TestDSMNASAblation(StrategyConformance):
    @pytest.fixture
    def strategy_cls(self):
        return DSMNAS

    @pytest.fixture
    def strategy_options(self):
        return {"preset": "code", "use_graph": False, "reward": "absolute", "greedy_subspace": True}


class TestReinforce(StrategyConformance):
    @pytest.fixture
    def strategy_cls(self):
        return Reinforce

    @pytest.fixture
    def strategy_options(self):
        return {"lr": 0.05}


class TestLocalSearch(StrategyConformance):
    behaviour_queries = 150  # a full 18-neighbour scan per step: 50 queries are barely two moves

    @pytest.fixture
    def strategy_cls(self):
        return LocalSearch


class TestNSGA2(StrategyConformance):
    objective_options = {"extra_metrics": ["latency"]}

    @pytest.fixture
    def strategy_cls(self):
        return NSGA2

    @pytest.fixture
    def strategy_options(self):
        return {"secondary": "latency", "population": 8}


class TestPredictorGuided(StrategyConformance):
    @pytest.fixture
    def strategy_cls(self):
        pytest.importorskip("nasplug.samplers")
        from nasplug.search.guided import PredictorGuidedSearch
        return PredictorGuidedSearch

    @pytest.fixture
    def strategy_options(self):
        return {"sampler": "random", "predictor": {"name": "sklearn", "model": "ridge"}, "initial": 5,
                "per_round": 5, "rounds": 2}


class TestProxyGuidedREA(StrategyConformance):
    beats_random = False
    beats_random_reason = "its ranking is the proxy's, and params does not track the toy benchmark"

    @pytest.fixture
    def strategy_cls(self):
        pytest.importorskip("nasplug.proxies")
        from nasplug.search.guided import ProxyGuidedREA
        return ProxyGuidedREA

    @pytest.fixture
    def strategy_options(self):
        return {"proxy": "params", "cycles": 60}


def _toy_told(bench, archs):
    return [Told(a, bench.query(a, "accuracy"), bench.query(a, "accuracy"), {"latency": bench.query(a, "latency")})
            for a in archs]


@pytest.mark.parametrize("steps", [1, 2, 4])
def test_dsm_nas_children_stay_within_m_of_their_centre(steps):
    space = ToySpace()
    bench = space.load_benchmark()
    strategy = DSMNAS(build_config(DSMNAS.Config, {"steps": steps}, "strategy"), space=space, seed=3)
    strategy.tell(_toy_told(bench, strategy.ask(10)))
    for _ in range(40):
        centres = [c.arch for c in strategy.centres]
        (child,) = strategy.ask(1)
        k = strategy._pending[0]
        assert space.distance(centres[k], child) <= steps
        strategy.tell(_toy_told(bench, [child]))
    # centres are replaced only by better children, and never edited in place
    for centre in strategy.centres:
        assert centre.value == bench.query(centre.arch, "accuracy")


def test_dsm_nas_rejects_a_space_without_positions(benchmarks):
    from nasplug.core.errors import ConfigError

    from nasplug.core.interfaces.capabilities import Positional
    from nasplug.core.interfaces.space import SearchSpace

    toy = ToySpace()

    class NoPositions(SearchSpace):  # the toy space's required core only
        parse, canonical, sample = staticmethod(toy.parse), staticmethod(toy.canonical), staticmethod(toy.sample)
        mutate, neighbours, distance = staticmethod(toy.mutate), staticmethod(toy.neighbours), staticmethod(toy.distance)

    assert isinstance(toy, Positional) and not isinstance(NoPositions(), Positional)
    with pytest.raises(ConfigError, match="strategy DSMNAS needs a space with a positional form"):
        DSMNAS(build_config(DSMNAS.Config, {}, "strategy"), space=NoPositions(), seed=0)


def test_dsm_nas_plus_starts_from_the_given_centres():
    space = ToySpace()
    strategy = DSMNAS(build_config(DSMNAS.Config, {"initial_centres": ["000000", "123123"]}, "strategy"), space=space, seed=0)
    first = strategy.ask(4)
    assert first[:2] == ["000000", "123123"] and len(set(first)) == 4


def test_nsga2_front_is_non_dominated(tmp_path):
    from nasplug.core.registry import Registry
    from nasplug.core.runs import run

    reg = Registry()
    reg.register("space", "toy", ToySpace)
    reg.register("strategy", "nsga2", NSGA2)
    result = run({"kind": "search", "seed": 1, "space": {"name": "toy"},
                  "strategy": {"name": "nsga2", "secondary": "latency", "population": 10},
                  "objective": {"name": "benchmark", "metric": "accuracy", "extra_metrics": ["latency"]},
                  "search": {"queries": 80}}, store_path=tmp_path / "s.db", registry=reg)
    front = result.result["strategy"]["front"]
    assert len(front) >= 2
    points = np.array([[f["value"], f["latency"]] for f in front])
    for i, (acc, lat) in enumerate(points):
        others = np.delete(points, i, axis=0)
        dominated = (others[:, 0] >= acc) & (others[:, 1] <= lat) & ((others[:, 0] > acc) | (others[:, 1] < lat))
        assert not dominated.any()
    assert np.all(np.diff(points[:, 1]) > 0) and np.all(np.diff(points[:, 0]) > 0)


def test_nsga2_names_the_missing_secondary_metric():
    from nasplug.core.errors import ConfigError

    space = ToySpace()
    bench = space.load_benchmark()
    strategy = NSGA2(build_config(NSGA2.Config, {"secondary": "latency", "population": 4}, "strategy"), space=space, seed=0)
    archs = strategy.ask(4)
    with pytest.raises(ConfigError, match="extra_metrics"):
        strategy.tell([Told(a, bench.query(a, "accuracy"), 0.0) for a in archs])
