"""Multi-fidelity search: the objective ladder, successive halving's promotion rule and cost
accounting, Hyperband's textbook schedule, and resume after kill -9."""

from __future__ import annotations

import math

import pytest

from nasplug.core.errors import BudgetError, ConfigError
from nasplug.core.fidelity import AtFidelity
from nasplug.core.interfaces.strategy import Told
from nasplug.core.options import build_config
from nasplug.core.registry import Registry
from nasplug.core.runs import run as run_with
from nasplug.core.store import Store
from nasplug.core.testing.toy import ToySpace
from nasplug.search.halving import SuccessiveHalving, halving_rungs
from nasplug.search.hyperband import hyperband_schedule

#: Toy ladder: latency (lower is better) as the cheap fidelity, accuracy as the top one.
LADDER = {"name": "multi_fidelity", "costs": [1.0, 10.0],
          "fidelities": [{"name": "benchmark", "metric": "latency", "direction": "min"},
                         {"name": "benchmark", "metric": "accuracy"}]}


def run(config, store_path):
    reg = Registry()
    reg.register("space", "toy", ToySpace)
    return run_with(config, store_path=store_path, registry=reg)


def _config(strategy, queries=40, objective=LADDER, seed=3):
    return {"kind": "search", "seed": seed, "space": {"name": "toy"}, "strategy": strategy,
            "objective": objective, "search": {"queries": queries}}


def test_hyperband_schedule_is_the_papers_table():
    """Li et al. (2018), Table 1: R = 81, eta = 3 gives these five brackets (n_i, r_i)."""
    resource = [1, 3, 9, 27, 81]
    table = [[(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
             [(34, 3), (11, 9), (3, 27), (1, 81)],
             [(15, 9), (5, 27), (1, 81)],
             [(8, 27), (2, 81)],
             [(5, 81)]]
    got = [[(n, resource[level]) for n, level in bracket] for bracket in hyperband_schedule(3, 5)]
    assert got == table
    # eta = 2 over 3 fidelities (R = 4): n = ceil(3/3 * 4) = 4, ceil(3/2 * 2) = 3, 3
    assert hyperband_schedule(2, 3) == [[(4, 0), (2, 1), (1, 2)], [(3, 1), (1, 2)], [(3, 2)]]


def test_halving_rungs_keep_one_in_eta():
    assert halving_rungs(81, 3, 0, 3) == [(81, 0), (27, 1), (9, 2), (3, 3)]
    assert halving_rungs(10, 3, 1, 3) == [(10, 1), (3, 2), (1, 3)]


def test_successive_halving_promotes_the_top_third_by_the_lower_fidelity():
    space = ToySpace()
    strategy = SuccessiveHalving(build_config(SuccessiveHalving.Config, {"n": 9}, "strategy"), space=space, seed=1)
    strategy.set_fidelities(["cheap", "mid", "top"])
    first = strategy.ask(100)
    assert len(first) == 9 and {p.level for p in first} == {0}
    assert strategy.ask(5) == []  # the next rung waits for every result of this one
    fitness = {space.canonical(p.arch): float(i % 5) * 10 + i for i, p in enumerate(first)}  # known order
    strategy.tell([Told(p, fitness[space.canonical(p.arch)], 0.0) for p in first])
    second = strategy.ask(100)
    expected = sorted(fitness, key=lambda k: -fitness[k])[:3]
    assert [space.canonical(p.arch) for p in second] == expected and {p.level for p in second} == {1}
    strategy.tell([Told(p, -float(i), 0.0) for i, p in enumerate(second)])  # first of the rung is best
    third = strategy.ask(100)
    assert [(space.canonical(p.arch), p.level) for p in third] == [(expected[0], 2)]
    strategy.tell([Told(third[0], 1.0, 1.0)])
    fourth = strategy.ask(100)  # a new bracket with fresh architectures
    assert len(fourth) == 9 and not {space.canonical(p.arch) for p in fourth} & set(fitness)


def test_a_failed_evaluation_is_never_promoted():
    space = ToySpace()
    strategy = SuccessiveHalving(build_config(SuccessiveHalving.Config, {"n": 3}, "strategy"), space=space, seed=1)
    strategy.set_fidelities(["cheap", "top"])
    first = strategy.ask(3)
    strategy.tell([Told(first[0], -math.inf, math.nan), Told(first[1], -5.0, 5.0), Told(first[2], -7.0, 7.0)])
    assert [p.arch for p in strategy.ask(3)] == [first[1].arch]


def test_a_run_charges_each_fidelity_once_per_architecture_and_promotes_from_the_store(tmp_path):
    result = run(_config({"name": "successive_halving", "n": 9}, queries=26), store_path=tmp_path / "s.db")
    with Store(tmp_path / "s.db") as store:
        records = store.evaluations(result.id)
    bench = ToySpace().load_benchmark()
    low = [r for r in records if r.info["fidelity"] == 0]
    top = [r for r in records if r.info["fidelity"] == 1]
    # two brackets of 9 + 3, then 2 of a third bracket's 9 before the budget ends
    assert [len(low), len(top)] == [20, 6] == result.result["fidelity_queries"]
    assert all(r.arch.endswith("@0") for r in low) and not any("@" in r.arch for r in top)
    for r in low:
        assert r.value == bench.query(r.arch.split("@")[0], "latency") and r.fitness == -r.value and r.cost == 1.0
    for r in top:
        assert r.value == bench.query(r.arch, "accuracy") and r.cost == 10.0
    for bracket in range(2):  # each bracket promotes its three lowest latencies
        rung = low[9 * bracket:9 * bracket + 9]
        best3 = [r.arch.split("@")[0] for r in sorted(rung, key=lambda r: (r.value, r.arch))[:3]]
        assert [r.arch for r in top[3 * bracket:3 * bracket + 3]] == best3
    assert result.result["simulated_seconds"] == 20 * 1.0 + 6 * 10.0
    best = max(top, key=lambda r: r.fitness)
    assert result.result["best_arch"] == best.arch and result.result["best_value"] == best.value


def test_hyperband_run_follows_its_brackets(tmp_path):
    result = run(_config({"name": "hyperband", "eta": 3}, queries=8 + 3 + 8), store_path=tmp_path / "h.db")
    brackets = result.result["strategy"]["brackets"]
    # two fidelities: bracket s=1 runs 3 cheap -> 1 top, s=0 runs 2 at the top, then again
    assert hyperband_schedule(3, 2) == [[(3, 0), (1, 1)], [(2, 1)]]
    assert [b["rungs"] for b in brackets[:4]] == [[[3, 0], [1, 1]], [[2, 1]], [[3, 0], [1, 1]], [[2, 1]]]


def test_fidelity_strategies_need_a_fidelity_ladder(tmp_path):
    with pytest.raises(ConfigError, match="multi_fidelity"):
        run(_config({"name": "hyperband"}, objective={"name": "benchmark", "metric": "accuracy"}),
            store_path=tmp_path / "x.db")
    with pytest.raises(ConfigError, match="min_level"):
        run(_config({"name": "successive_halving", "min_level": 4}), store_path=tmp_path / "y.db")
    with pytest.raises(ConfigError, match="eta"):
        run(_config({"name": "hyperband", "eta": 1}), store_path=tmp_path / "z.db")
    with pytest.raises(ConfigError, match="costs"):
        run(_config({"name": "hyperband"}, objective={**LADDER, "costs": [1.0]}), store_path=tmp_path / "w.db")
    assert not (tmp_path / "x.db").exists() and not (tmp_path / "y.db").exists()


def test_the_query_budget_counts_every_fidelity(tmp_path):
    size = ToySpace().size()
    with pytest.raises(BudgetError, match=str(2 * size)):
        run(_config({"name": "hyperband"}, queries=2 * size + 1), store_path=tmp_path / "b.db")


def test_any_strategy_runs_on_the_top_fidelity(tmp_path):
    result = run(_config({"name": "random"}, queries=5), store_path=tmp_path / "r.db")
    with Store(tmp_path / "r.db") as store:
        records = store.evaluations(result.id)
    assert {r.info["fidelity"] for r in records} == {1} and result.result["fidelity_queries"] == [0, 5]
    assert result.result["simulated_seconds"] == 50.0


def test_the_proposal_keeps_its_fidelity():
    assert AtFidelity("012", 1) == AtFidelity("012", 1) != AtFidelity("012", 0)
