"""A store prepared by real runs (search, predict, score on the toy and NB201 spaces) for the
dashboard's server and browser tests."""

from __future__ import annotations

import pytest

from nasplug.core.registry import registry
from nasplug.core.runs import run
from nasplug.core.store import Store
from nasplug.core.testing import ToySpace


@pytest.fixture(scope="session")
def dashboard_store(tmp_path_factory):
    pytest.importorskip("starlette")
    path = tmp_path_factory.mktemp("dashboard") / "runs.db"
    reg = registry()
    reg.register("space", "toy", ToySpace)
    store = {"path": str(path)}
    for seed in (0, 1):
        run({"kind": "search", "seed": seed, "name": f"rea-{seed}", "space": "toy", "strategy": "rea",
             "objective": {"name": "benchmark", "metric": "accuracy"}, "search": {"queries": 40}, "store": store})
    run({"kind": "search", "seed": 0, "name": "front", "space": "toy", "strategy": {"name": "nsga2", "secondary": "latency", "population": 10},
         "objective": {"name": "benchmark", "metric": "accuracy", "extra_metrics": ["latency"]}, "search": {"queries": 30},
         "store": store})
    run({"kind": "predict", "seed": 0, "name": "forest", "space": "toy", "sampler": "random",
         "predictor": {"name": "sklearn", "model": "random_forest", "n_estimators": 20},
         "predict": {"metric": "accuracy", "initial": 20, "per_round": 20, "rounds": 2}, "store": store})
    run({"kind": "score", "seed": 0, "name": "params", "space": "nb201", "proxy": "params",
         "score": {"archs": 60, "metrics": ["cifar10_test", "cifar100_test"]}, "store": store})
    with Store(path) as s:  # a one-shot run's epochs as the oneshot kind stores them
        rid = s.create_run("oneshot", "supernet", {"kind": "oneshot", "space": {"name": "nb201"}, "oneshot": {"method": "spos", "epochs": 3}},
                           "h", 0)
        for epoch in range(3):
            alpha = [[0.2 + 0.1 * epoch * (op == 3) - 0.025 * epoch * (op != 3) for op in range(5)] for _edge in range(6)]
            s.add_epoch(rid, epoch, {"train_loss": 2.0 - 0.3 * epoch, "valid_accuracy": 30.0 + 10 * epoch,
                                     "kendall_tau": 0.2 + 0.1 * epoch, "parameter_free_share": 0.5 - 0.1 * epoch, "alpha": alpha})
        s.set_status(rid, "finished", {"epochs": 3})
    return path
