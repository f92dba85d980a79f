"""search, predict and score runs end to end on the real NAS-Bench-201 table."""


import numpy as np
import pytest

from nasplug.core.errors import ArchitectureError, BudgetError, StoreError
from nasplug.core.hookspecs import hookimpl
from nasplug.core.plugins import plugin_manager
from nasplug.core.runs import run
from nasplug.core.seeding import derive_rng
from nasplug.core.store import Store


def predict_config(tmp_path, **predict):
    opts = {"metric": "cifar10_valid_val", "initial": 10, "per_round": 10, "rounds": 3, "top_k": [10, 50]}
    opts.update(predict)
    return {"kind": "predict", "seed": 1, "space": {"name": "nb201"},
            "predictor": {"name": "sklearn", "model": "random_forest", "n_estimators": 30},
            "sampler": {"name": "random"}, "predict": opts, "store": {"path": str(tmp_path / "p.db")}}


class _StopAfterRound:
    def __init__(self, round):
        self.round = round

    @hookimpl
    def nasplug_after_round(self, run, round, labelled, metrics):
        if round == self.round:
            raise KeyboardInterrupt


def test_predict_run_records_every_round(benchmarks, tmp_path):
    result = run(predict_config(tmp_path))
    with Store(tmp_path / "p.db") as store:
        rounds = store.rounds(result.id)
        labels = store.evaluations(result.id)
    assert [r.metrics["labels"] for r in rounds] == [10, 20, 30, 40]
    assert len(labels) == 40 and len({e.arch for e in labels}) == 40
    final = rounds[-1].metrics
    # chance over ~15,585 unlabelled cells is 0 +- 0.006; a random forest on 40 labels reaches ~0.2-0.4
    assert 0.1 < final["kendall_tau"] < 1.0
    assert final["mse"] > 0 and 0 <= final["precision@50"] <= 1
    assert result.result["final"]["kendall_tau"] == final["kendall_tau"]


def test_predict_run_resumes_to_the_same_result(benchmarks, tmp_path):
    full = run(predict_config(tmp_path / "a"))
    config = predict_config(tmp_path / "b")
    stop = _StopAfterRound(1)
    plugin_manager().register(stop)
    try:
        with pytest.raises(KeyboardInterrupt):
            run(config)
    finally:
        plugin_manager().unregister(stop)
    with Store(tmp_path / "b" / "p.db") as store:
        assert store.run(1).status == "interrupted"
    resumed = run(config, resume=True)
    assert resumed.result["final"] == full.result["final"]
    with Store(tmp_path / "a" / "p.db") as a, Store(tmp_path / "b" / "p.db") as b:
        assert [e.arch for e in a.evaluations(1)] == [e.arch for e in b.evaluations(1)]


def test_predict_budget_larger_than_the_pool(benchmarks, tmp_path):
    with pytest.raises(BudgetError, match=r"pool has 4\d distinct networks"):  # 50 cells, fewer networks
        run(predict_config(tmp_path, pool_size=50, initial=30, per_round=10, rounds=2))
    with pytest.raises(BudgetError, match="pool has 50 architectures"):
        run(predict_config(tmp_path, pool_size=50, initial=30, per_round=10, rounds=2, dedupe="none"))
    assert not (tmp_path / "p.db").exists()  # nothing written on bad input


def test_score_run_correlates_with_the_benchmark(benchmarks, tmp_path):
    config = {"kind": "score", "seed": 0, "space": "nb201", "proxy": "params",
              "score": {"archs": 60, "metrics": ["cifar10_test", "cifar100_test"]}, "store": {"path": str(tmp_path / "s.db")}}
    result = run(config).result
    assert result["archs"] == 60 and result["non_finite"] == 0
    rho = result["correlations"]["cifar10_test"]["spearman"]
    assert 0.5 < rho < 0.95  # params reaches ~0.75 over the whole space
    again = run(config).result
    assert again["correlations"] == result["correlations"]


def test_score_run_with_explicit_architectures(benchmarks, tmp_path):
    archs = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
             "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]
    config = {"kind": "score", "space": "nb201", "proxy": "params", "score": {"archs": archs},
              "store": {"path": str(tmp_path / "s.db")}}
    result = run(config)
    with Store(tmp_path / "s.db") as store:
        values = [e.value for e in store.evaluations(result.id)]
    assert values[0] > values[1] > 0
    config["score"]["archs"] = archs + ["|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"]
    with pytest.raises(ArchitectureError, match=r"score\.archs\[2\]"):
        run(config)


def test_search_run_reports_benchmark_metrics_and_regret(benchmarks, tmp_path):
    config = {"kind": "search", "seed": 3, "space": "nb201", "strategy": "rea",
              "objective": {"name": "benchmark", "metric": "cifar10_val_12ep"},
              "search": {"queries": 50, "report": ["cifar10_test"]}, "store": {"path": str(tmp_path / "r.db")}}
    result = run(config).result
    report = result["report"]
    assert result["queries"] == 50
    assert report["cifar10_test_optimum"] == pytest.approx(94.37, abs=0.01)
    assert report["cifar10_test_regret"] == pytest.approx(report["cifar10_test_optimum"] - report["cifar10_test"])
    with Store(tmp_path / "r.db") as store:
        evaluated = [e for e in store.evaluations(1) if not e.info.get("repeat")]
    assert len(evaluated) == 50
    assert result["best_value"] == max(e.value for e in evaluated)


def test_resume_refuses_a_different_config(benchmarks, tmp_path):
    config = {"kind": "search", "space": "nb201", "strategy": "random", "objective": {"name": "proxy", "proxy": "params"},
              "search": {"queries": 3}, "store": {"path": str(tmp_path / "r.db")}}
    run(config)
    config["seed"] = 9
    with pytest.raises(StoreError, match="no run in .* was made from this config"):
        run(config, resume=True)
    with Store(tmp_path / "r.db") as store:
        assert len(store.runs()) == 1


def test_simulated_time_budget(tmp_path):
    from nasplug.core.registry import Registry
    from nasplug.core.testing import ToySpace

    reg = Registry()
    reg.register("space", "toy", ToySpace)
    config = {"kind": "search", "space": "toy", "strategy": "random", "objective": {"name": "benchmark", "metric": "accuracy"},
              "search": {"queries": None, "seconds": 95.0}, "store": {"path": str(tmp_path / "t.db")}}
    result = run(config, registry=reg).result
    assert result["queries"] == 10 and result["simulated_seconds"] == pytest.approx(100.0)  # 10 s per toy query


def test_simulated_time_budget_needs_an_objective_with_costs(benchmarks, tmp_path):
    config = {"kind": "search", "space": "nb201", "strategy": "rea", "objective": {"name": "benchmark", "metric": "cifar10_val_12ep"},
              "search": {"queries": None, "seconds": 1000.0}, "store": {"path": str(tmp_path / "t.db")}}
    with pytest.raises(BudgetError, match="search.seconds.*search.queries"):
        run(config)
    assert not (tmp_path / "t.db").exists()


def test_predict_labels_one_architecture_per_network(benchmarks, tmp_path):
    from nasplug.core.registry import registry

    space = registry().create("space", "nb201")
    result = run(predict_config(tmp_path, pool_size=400, initial=20, per_round=20, rounds=2)).result
    with Store(tmp_path / "p.db") as store:
        labelled = [space.parse(e.arch) for e in store.evaluations(1)]
        rounds = store.rounds(1)
    keys = [space.graph_key(a) for a in labelled]
    assert len(labelled) == 60 and len(set(keys)) == 60
    # the sampler's pool holds exactly one architecture per network of the 400 drawn
    bench = space.load_benchmark(str(benchmarks))
    pool = list(bench.architectures())
    keep = np.sort(derive_rng(1, "pool").choice(len(pool), 400, replace=False))
    assert result["pool"] == len({space.graph_key(pool[i]) for i in keep}) < 400 == result["evaluated_on"]
    assert rounds[-1].metrics["distinct_graphs"] == 60
    assert 0.0 <= rounds[-1].metrics["label_histogram_distance"] < 0.5


def test_predict_haap_protocol_holds_out_connected_cells(benchmarks, tmp_path):
    from nasplug.core.interfaces.space import DISCONNECTED
    from nasplug.core.registry import registry

    space = registry().create("space", "nb201")
    config = predict_config(tmp_path, pool_size=1000, initial=10, per_round=10, rounds=1, protocol="haap", holdout=300)
    result = run(config).result
    assert result["holdout"] == 300
    final = result["final"]
    assert {"holdout_kendall_tau", "holdout_spearman", "holdout_mse", "kendall_tau"} <= set(final)
    assert -1 <= final["holdout_kendall_tau"] <= 1
    from nasplug.core.runs.predict import PredictRun
    from nasplug.core.config import RunConfig

    kind = PredictRun(RunConfig.from_dict(config), registry(), space)
    assert all(space.graph_key(a) != DISCONNECTED for a in kind.eval_pool + kind.holdout)
    assert not set(map(space.canonical, kind.holdout)) & set(map(space.canonical, kind.eval_pool))
    assert len(kind.eval_pool) + len(kind.holdout) == 1000 - sum(space.graph_key(a) == DISCONNECTED for a in
                                                                   _pool_of(kind, benchmarks, 1000))
    with pytest.raises(BudgetError, match="predict.holdout"):
        run(predict_config(tmp_path / "x", pool_size=100, protocol="haap", holdout=5000))


def _pool_of(kind, benchmarks, size):
    pool = list(kind.benchmark.architectures())
    keep = np.sort(derive_rng(1, "pool").choice(len(pool), size, replace=False))
    return [pool[i] for i in keep]


@pytest.mark.parametrize("dedupe", ["none", "graph"])
def test_search_dedupe_graph_evaluates_one_architecture_per_network(benchmarks, tmp_path, dedupe):
    from nasplug.core.registry import registry

    space = registry().create("space", "nb201")
    config = {"kind": "search", "seed": 0, "space": "nb201", "strategy": "random",
              "objective": {"name": "benchmark", "metric": "cifar10_valid_val"},
              "search": {"queries": 300, "dedupe": dedupe}, "store": {"path": str(tmp_path / "s.db")}}
    result = run(config).result
    with Store(tmp_path / "s.db") as store:
        records = store.evaluations(1)
    evaluated = [r for r in records if not r.info.get("repeat")]
    keys = [space.graph_key(space.parse(r.arch)) for r in evaluated]
    assert result["queries"] == len(evaluated) == 300
    if dedupe == "graph":
        assert len(set(keys)) == 300
        twins = [r for r in records if r.info.get("same_network")]
        assert twins  # proposals of an evaluated network were answered from its record, free
        first = {r.seq: r for r in records}
        assert all(space.graph_key(space.parse(first[t.info["of"]].arch)) == space.graph_key(space.parse(t.arch))
                   and t.value == first[t.info["of"]].value for t in twins)
    else:
        assert len(set(keys)) < 300  # random cells repeat networks: 300 of 15,625 cells hold twins


def test_a_sampler_that_needs_a_predictor_is_never_called_without_one(benchmarks, tmp_path):
    from nasplug.core.interfaces import Sampler
    from nasplug.core.registry import registry

    calls = []

    class Greedy(Sampler):
        """Labels the architectures the current predictor rates highest."""

        needs_predictor = True

        def choose(self, ctx, k):
            calls.append(ctx.round)
            scores = ctx.predictor.predict([ctx.pool[i] for i in ctx.unlabelled])
            return ctx.unlabelled[np.argsort(-scores, kind="stable")[:k]]

    reg = registry()
    reg.register("sampler", "greedy-test", Greedy)
    try:
        config = predict_config(tmp_path, pool_size=300, initial=10, per_round=10, rounds=2, initial_sampler="sampler")
        config["sampler"] = {"name": "greedy-test"}
        run(config)
        baseline = predict_config(tmp_path / "b", pool_size=300, initial=10, per_round=10, rounds=0)
        run(baseline)
    finally:
        reg.unregister("sampler", "greedy-test")
    assert calls == [1, 2]  # round 0 was drawn at random, not asked of the sampler
    with Store(tmp_path / "p.db") as a, Store(tmp_path / "b" / "p.db") as b:
        assert a.rounds(1)[0].labelled == b.rounds(1)[0].labelled  # the same uniform draw as initial_sampler = random
