"""The part-combination matrix: every predictor model with every in-tree sampler (predict runs)
and every strategy with every objective (search runs), on NAS-Bench-201 through the real runner
and store, at small budgets.

Stacked ``parametrize`` gives the Cartesian product. A combination is ``quick`` when its
predictor model / objective is marked quick; the others are ``combos_full``
(``NASPLUG_FULL_COMBOS=0`` skips them, see ``conftest.py``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nasplug.core.runs import run
from nasplug.core.store import Store

QUICK = pytest.mark.quick
FULL = pytest.mark.combos_full

# --- predict runs: sampler x predictor model ------------------------------------------------
INITIAL, PER_ROUND, ROUNDS, POOL = 10, 10, 2, 400
SAMPLERS = [pytest.param("random", id="random")]
MODELS = [
    pytest.param("random_forest", id="random_forest", marks=QUICK),
    pytest.param("ridge", id="ridge", marks=QUICK),
    pytest.param("linear", id="linear", marks=FULL),
    pytest.param("extra_trees", id="extra_trees", marks=FULL),
    pytest.param("adaboost", id="adaboost", marks=FULL),
    pytest.param("bagging", id="bagging", marks=FULL),
    pytest.param("gradient_boosting", id="gradient_boosting", marks=FULL),
]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("sampler", SAMPLERS)
def test_predict_combination(sampler: str, model: str, benchmarks, tmp_path) -> None:
    config = {
        "kind": "predict", "seed": 3, "name": f"predict-{sampler}-{model}",
        "space": {"name": "nb201"},
        "sampler": {"name": sampler},
        "predictor": {"name": "sklearn", "model": model, "n_estimators": 20},
        "benchmark": {"path": str(benchmarks)},
        "predict": {"metric": "cifar10_valid_val", "initial": INITIAL, "per_round": PER_ROUND,
                    "rounds": ROUNDS, "pool_size": POOL, "top_k": [10]},
    }
    store_path = tmp_path / "predict.db"
    result = run(config, store_path=store_path)
    expected_labels = INITIAL + PER_ROUND * ROUNDS
    summary = result.result
    assert summary["labels"] == expected_labels
    assert summary["rounds"] == ROUNDS + 1
    assert summary["evaluated_on"] == POOL and summary["pool"] <= POOL  # one architecture per network
    tau = summary["final"]["kendall_tau"]
    assert math.isfinite(tau) and -1.0 <= tau <= 1.0
    assert summary["final"]["labels"] == expected_labels

    with Store(store_path) as store:
        assert store.run(result.id).status == "finished"
        rounds = store.rounds(result.id)
        evaluations = store.evaluations(result.id)
    assert [r.round for r in rounds] == list(range(ROUNDS + 1))
    assert [len(r.labelled) for r in rounds] == [INITIAL + PER_ROUND * i for i in range(ROUNDS + 1)]
    for r in rounds:
        assert math.isfinite(r.metrics["kendall_tau"]) and r.metrics["labels"] == len(r.labelled)
    labelled = rounds[-1].labelled
    assert len(set(labelled)) == expected_labels and all(0 <= i < POOL for i in labelled)
    # Every label is stored once, and each is the benchmark's value of that architecture.
    assert len(evaluations) == expected_labels
    assert len({e.arch for e in evaluations}) == expected_labels
    from nasplug.core.registry import registry

    space = registry().create("space", "nb201")
    bench = space.load_benchmark(str(benchmarks))
    stored = np.array([e.value for e in evaluations])
    truth = bench.query_many([space.parse(e.arch) for e in evaluations], "cifar10_valid_val")
    np.testing.assert_array_equal(stored, truth)


# --- search runs: strategy x objective ----------------------------------------------------------
QUERIES = 24
STRATEGIES = [
    pytest.param({"name": "random"}, id="random"),
    pytest.param({"name": "rea", "population_size": 8, "sample_size": 3}, id="rea"),
]
OBJECTIVES = [
    pytest.param({"name": "benchmark", "metric": "cifar10_val_12ep"}, id="benchmark-cifar10_val_12ep", marks=QUICK),
    pytest.param({"name": "proxy", "proxy": "flops"}, id="proxy-flops", marks=QUICK),
    pytest.param({"name": "proxy", "proxy": "params"}, id="proxy-params", marks=FULL),
]


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_search_combination(strategy: dict, objective: dict, request, tmp_path) -> None:
    config = {
        "kind": "search", "seed": 5, "name": f"search-{strategy['name']}-{objective['name']}",
        "space": {"name": "nb201"},
        "strategy": dict(strategy),
        "objective": dict(objective),
        "search": {"queries": QUERIES},
    }
    if objective["name"] == "benchmark":
        config["benchmark"] = {"path": str(request.getfixturevalue("benchmarks"))}
    store_path = tmp_path / "search.db"
    result = run(config, store_path=store_path)
    summary = result.result
    assert summary["queries"] == QUERIES
    assert summary["proposals"] >= QUERIES

    with Store(store_path) as store:
        assert store.run(result.id).status == "finished"
        evaluations = store.evaluations(result.id)
    charged = [e for e in evaluations if not e.info.get("repeat")]
    assert len(charged) == QUERIES, "the run must spend exactly its query budget"
    assert len({e.arch for e in charged}) == QUERIES, "a query is one new, distinct evaluation"
    assert len(evaluations) == summary["proposals"]
    values = np.array([e.value for e in charged])
    assert np.all(np.isfinite(values))
    direction = summary["objective_direction"]
    assert direction in ("max", "min")
    best = values.max() if direction == "max" else values.min()
    assert summary["best_value"] == best
    (best_record,) = [e for e in charged if e.seq == summary["best_seq"]]
    assert best_record.arch == summary["best_arch"] and best_record.value == best
    if objective["name"] == "benchmark":
        from nasplug.core.registry import registry

        space = registry().create("space", "nb201")
        bench = space.load_benchmark(config["benchmark"]["path"])
        truth = bench.query_many([space.parse(e.arch) for e in charged], objective["metric"])
        np.testing.assert_array_equal(values, truth)
    else:
        assert np.all(values > 0), f"{objective['proxy']} of a network is positive"
