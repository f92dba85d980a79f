"""The store and the runner refuse what would corrupt a run silently."""

from __future__ import annotations

import math
from typing import Any, Hashable, Sequence

import numpy as np
import pytest

from nasplug.core.errors import StoreError
from nasplug.core.interfaces.strategy import Strategy, Told
from nasplug.core.registry import Registry
from nasplug.core.runs import run
from nasplug.core.store import EvaluationRecord, Store
from nasplug.core.testing import ToySpace, interrupt_after


def test_storing_the_same_evaluation_twice_raises(tmp_path):
    with Store(tmp_path / "s.db") as store:
        rid = store.create_run("search", "x", {}, "h", 0)
        record = EvaluationRecord(rid, 0, "000000", 1.0, 1.0, 0.0, 0.0, {})
        store.add_evaluation(record)
        with pytest.raises(StoreError, match="evaluation 0 of run 1 is already stored"):
            store.add_evaluation(EvaluationRecord(rid, 0, "111111", 2.0, 2.0, 0.0, 0.0, {}))
        assert [(e.arch, e.value) for e in store.evaluations(rid)] == [("000000", 1.0)]  # the first one kept


def test_an_evaluation_reads_back_field_for_field(tmp_path):
    with Store(tmp_path / "s.db") as store:
        rid = store.create_run("search", "x", {}, "h", 0)
        rid = store.create_run("search", "y", {}, "h", 0)  # run 2: ids and sequence numbers differ
        records = [EvaluationRecord(rid, 7, "012301", 91.5, -91.5, 12.0, 0.25, {"params": 1.5, "repeat": False}),
                   EvaluationRecord(rid, 8, "333333", float("nan"), float("-inf"), 3.0, 4.0, {})]
        for record in records:
            store.add_evaluation(record)
        back = store.evaluations(rid)
    assert back[0] == records[0]
    assert (back[1].run_id, back[1].seq, back[1].arch, back[1].cost, back[1].wall) == (2, 8, "333333", 3.0, 4.0)
    assert math.isnan(back[1].value) and back[1].fitness == float("-inf")


class Unseeded(Strategy):
    """Draws from a stream that is not derived from the run seed: different on every build."""

    _builds = 0

    def __init__(self, config: Any = None, **deps: Any) -> None:
        super().__init__(config, **deps)
        Unseeded._builds += 1
        self.stream = np.random.default_rng(1000 + Unseeded._builds)

    def ask(self, n: int) -> list[Hashable]:
        return [self.space.sample(self.stream) for _ in range(n)]

    def tell(self, results: Sequence[Told]) -> None:
        """Ignores results."""


def test_a_strategy_that_is_not_deterministic_fails_to_resume_with_the_divergence_error(tmp_path):
    reg = Registry()
    reg.register("space", "toy", ToySpace)
    reg.register("strategy", "unseeded", Unseeded)
    config = {"kind": "search", "seed": 0, "space": "toy", "strategy": "unseeded",
              "objective": {"name": "benchmark", "metric": "accuracy"}, "search": {"queries": 10},
              "store": {"path": str(tmp_path / "d.db")}}
    with interrupt_after(4), pytest.raises(KeyboardInterrupt):
        run(config, registry=reg)
    with pytest.raises(StoreError, match="resume diverged at evaluation 0 of run 1.*not deterministic under its seed"):
        run(config, registry=reg, resume=True)


# --- budgets that stop, numbers that are numbers ------------------------------------------------
def _toy_registry():
    """The toy space and the core's own uniform random strategy: no plugin package needed."""
    from nasplug.core.testing.parts import UniformRandom

    reg = Registry()
    reg.register("space", "toy", ToySpace)
    reg.register("strategy", "random", UniformRandom)
    return reg


def test_a_query_budget_larger_than_a_finite_space_is_refused_before_anything_is_stored(tmp_path):
    from nasplug.core.errors import BudgetError

    config = {"kind": "search", "seed": 0, "space": {"name": "toy", "positions": 2, "choices": 3},
              "strategy": "random", "objective": {"name": "benchmark", "metric": "accuracy"},
              "search": {"queries": 10}, "store": {"path": str(tmp_path / "s.db")}}
    with pytest.raises(BudgetError, match="search.queries = 10 exceeds the 9 architectures of the space; set it to at most 9"):
        run(config, registry=_toy_registry())
    assert not (tmp_path / "s.db").exists() or Store(tmp_path / "s.db").runs() == []


def test_a_time_budget_ends_when_the_finite_space_is_exhausted(tmp_path):
    config = {"kind": "search", "seed": 0, "space": {"name": "toy", "positions": 2, "choices": 2},
              "strategy": "random", "objective": {"name": "benchmark", "metric": "accuracy"},
              "search": {"queries": None, "seconds": 1e9}, "store": {"path": str(tmp_path / "s.db")}}
    result = run(config, registry=_toy_registry()).result
    assert result["queries"] == 4 and result["proposals"] < 100


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_number_options_reject_nan_and_infinity(bad, tmp_path):
    from nasplug.core.errors import ConfigError

    config = {"kind": "score", "seed": 0, "space": "toy", "proxy": "params",
              "score": {"archs": 3, "metrics": ["accuracy"], "top_percent": bad}, "store": {"path": str(tmp_path / "s.db")}}
    with pytest.raises(ConfigError, match="top_percent.*a finite number"):
        run(config, registry=_toy_registry())
    with pytest.raises(ConfigError, match="wall_seconds.*a finite number"):
        run({"kind": "search", "seed": 0, "space": "toy", "strategy": "random", "objective": "benchmark",
             "search": {"queries": 3, "wall_seconds": bad}}, registry=_toy_registry())


def _float_options():
    import attrs

    from nasplug.core.config import BenchmarkOptions, DataOptions, StoreOptions
    from nasplug.core.registry import GROUPS, Registry

    reg = Registry()
    configs = {"data": DataOptions, "benchmark": BenchmarkOptions, "store": StoreOptions}
    for kind in GROUPS:
        for name in reg.names(kind):
            config = getattr(reg.load(kind, name), "Config", None)
            if config is not None and attrs.has(config):
                configs[f"{kind}.{name}"] = config
    for where, config in sorted(configs.items()):
        for field in attrs.fields(config):
            if "float" in str(field.type) and "list" not in str(field.type):
                yield pytest.param(where, config, field.name, id=f"{where}.{field.name}")


@pytest.mark.parametrize(("where", "config", "option"), list(_float_options()))
def test_every_float_option_rejects_non_finite_values(where, config, option):
    """NaN and infinity pass a plain ``value < 0`` check; every float option must refuse them
    (one-line ConfigError naming the key), whatever part declares it."""
    import math

    from nasplug.core.errors import ConfigError
    from nasplug.core.options import build_config

    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ConfigError, match=option):
            build_config(config, {option: bad}, where)
