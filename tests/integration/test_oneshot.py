"""oneshot runs end to end on real CIFAR-10 images: per-epoch metrics in the store, checkpoints,
resume after kill -9 with bit-identical weights, and the trained supernet as an objective of a
search run and as a proxy of a score run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from nasplug.core.runs import run
from nasplug.core.oneshot.checkpoints import checkpoint_path
from nasplug.core.store import Store

pytest.importorskip("nasplug.spaces.nb201")


def oneshot_config(data, store, method="spos", epochs=3, **extra):
    return {"kind": "oneshot", "seed": 4, "space": "nb201", "store": {"path": str(store)},
            "data": {"path": str(data), "split": [192, 96]},
            "oneshot": {"method": method, "epochs": epochs, "batch_size": 32, "supernet": {"channels": 4, "cells_per_stage": 1},
                        "eval_archs": 4, "bn_batches": 1, "eval_batch_size": 80, "derive": False,
                        "rank_metrics": ["cifar10_test"], "threads": 1, **extra}}


def _weights(store, run_id=1):
    return torch.load(checkpoint_path(store, run_id), weights_only=True)


@pytest.fixture(scope="module")
def trained(tiny_zip, tmp_path_factory):
    store = tmp_path_factory.mktemp("oneshot") / "runs.db"
    result = run(oneshot_config(tiny_zip, store, method={"name": "spos", "population": 6, "generations": 2,
                                                          "parents": 3, "mutations": 3, "crossovers": 3},
                                derive=True, report=["cifar10_test"]))
    return store, result


def test_a_oneshot_run_stores_each_epoch_and_a_checkpoint(trained):
    store, result = trained
    with Store(store) as s:
        epochs = s.epochs(result.id)
        assert s.run(result.id).status == "finished"
    assert [e["epoch"] for e in epochs] == [0, 1, 2]
    assert all(e["steps"] == 6 and 0 <= e["valid_accuracy_mean"] <= 100 and -1 <= e["kendall_tau_cifar10_test"] <= 1 for e in epochs)
    assert epochs[0]["lr"] == pytest.approx(0.025) and epochs[2]["lr"] < epochs[1]["lr"] < epochs[0]["lr"]  # cosine
    state = _weights(store, result.id)
    assert state["epoch"] == 2 and [h["epoch"] for h in state["history"]] == [0, 1, 2]
    derived = result.result["derived"]
    assert derived["regret_cifar10_test"] == pytest.approx(94.37333 - derived["cifar10_test"], abs=1e-3)


def test_schedule_epochs_sets_the_cosine_schedule_length(tiny_zip, tmp_path):
    """Two epochs of a four-epoch cosine schedule: lr 0.025, then the schedule's value at 1/4."""
    import math

    result = run(oneshot_config(tiny_zip, tmp_path / "runs.db", epochs=2, schedule_epochs=4, eval_archs=0))
    with Store(tmp_path / "runs.db") as s:
        lrs = [e["lr"] for e in s.epochs(result.id)]
    expected = 0.001 + (0.025 - 0.001) * (1 + math.cos(math.pi / 4)) / 2
    assert lrs == pytest.approx([0.025, expected])


def test_resume_after_an_interruption_ends_with_bit_identical_weights(tiny_zip, tmp_path):
    from nasplug.core.hookspecs import hookimpl
    from nasplug.core.plugins import plugin_manager

    full, cut = tmp_path / "full.db", tmp_path / "cut.db"
    uninterrupted = run(oneshot_config(tiny_zip, full))

    class StopAfterFirstEpoch:
        @hookimpl
        def nasplug_after_epoch(self, run, epoch, metrics):
            if epoch == 0:
                raise KeyboardInterrupt

    stopper = StopAfterFirstEpoch()
    plugin_manager().register(stopper)
    try:
        with pytest.raises(KeyboardInterrupt):
            run(oneshot_config(tiny_zip, cut))
    finally:
        plugin_manager().unregister(stopper)
    assert _weights(cut)["epoch"] == 0
    resumed = run(oneshot_config(tiny_zip, cut), resume=True)
    a, b = _weights(full), _weights(cut)
    assert all(torch.equal(a["supernet"][k], b["supernet"][k]) for k in a["supernet"])
    assert resumed.result["final"]["valid_accuracy_mean"] == uninterrupted.result["final"]["valid_accuracy_mean"]
    with Store(cut) as s:
        assert [e["epoch"] for e in s.epochs(resumed.id)] == [0, 1, 2]


def test_kill_9_then_resume_matches_an_uninterrupted_run(tiny_zip, tmp_path, kill_after_epochs):
    full, cut = tmp_path / "full.db", tmp_path / "cut.db"
    config = tmp_path / "run.toml"
    config.write_text(f"""kind = "oneshot"
seed = 4
[space]
name = "nb201"
[data]
path = "{tiny_zip}"
split = [192, 96]
[oneshot]
method = "spos"
epochs = 4
batch_size = 32
supernet = {{channels = 4, cells_per_stage = 1}}
eval_archs = 4
bn_batches = 1
eval_batch_size = 80
derive = false
threads = 1
""")
    cli = [sys.executable, "-m", "nasplug.core", "run", str(config), "--store"]
    assert subprocess.run([*cli, str(full)], capture_output=True).returncode == 0
    kill_after_epochs(config, cut, 1)
    assert 1 <= _weights(cut)["epoch"] + 1 < 4
    out = subprocess.run([*cli, str(cut), "--resume"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    a, b = _weights(full), _weights(cut)
    assert all(torch.equal(a["supernet"][k], b["supernet"][k]) for k in a["supernet"])
    assert all(torch.equal(x, y) for x, y in zip(a["optimizer"]["state"][0].values(), b["optimizer"]["state"][0].values()))
    with Store(full) as f, Store(cut) as c:
        assert f.run(1).result["final"]["valid_accuracy_mean"] == c.run(1).result["final"]["valid_accuracy_mean"]
        assert [e["epoch"] for e in c.epochs(1)] == [0, 1, 2, 3]


def test_the_supernet_is_an_objective_for_search_and_a_proxy_for_score_runs(trained):
    store, result = trained
    from nasplug.core.oneshot.trained import _load

    search = run({"kind": "search", "seed": 0, "space": "nb201", "store": {"path": str(store)},
                  "strategy": "rea", "objective": {"name": "supernet", "from_run": result.id},
                  "search": {"queries": 8, "report": ["cifar10_test"]}})
    best = search.result["best_arch"]
    evaluator = _load(str(store.resolve()), result.id, None, None)
    from nasplug.spaces.nb201 import NB201Space

    assert search.result["best_value"] == evaluator.accuracy(NB201Space().parse(best))
    with Store(store) as s:
        values = [e.value for e in s.evaluations(search.id)]
    assert search.result["best_value"] == max(values) and len(set(values)) > 1
    score = run({"kind": "score", "seed": 0, "space": "nb201", "store": {"path": str(store)},
                 "proxy": {"name": "supernet", "from_run": result.id},
                 "score": {"archs": 6, "metrics": ["cifar10_test"]}})
    assert -1 <= score.result["correlations"]["cifar10_test"]["spearman"] <= 1 and score.result["non_finite"] == 0


def test_supernet_objective_names_what_is_wrong(trained, tmp_path):
    store, result = trained
    from nasplug.core.errors import NasplugError

    base = {"kind": "search", "seed": 0, "space": "nb201", "store": {"path": str(store)}, "strategy": "random",
            "search": {"queries": 2}}
    with pytest.raises(NasplugError, match="is a search run; from_run must name a oneshot run"):
        search = run({**base, "objective": {"name": "supernet", "from_run": result.id}})
        run({**base, "objective": {"name": "supernet", "from_run": search.id}})
    with pytest.raises(NasplugError, match="objective.from_run.: expected the id of a finished oneshot run"):
        run({**base, "objective": {"name": "supernet"}})
    with pytest.raises(NasplugError, match="trained a supernet of space .nb201. .NB201Space., not NBMacroSpace"):
        run({**base, "space": "nb_macro", "objective": {"name": "supernet", "from_run": result.id}})


def test_report_draws_the_training_curves(trained, tmp_path):
    from nasplug.core.report import write_report

    store, result = trained
    with Store(store) as s:
        written = write_report(s, [result.id], tmp_path)
    names = {p.name for p in written}
    assert "oneshot_training.png" in names and f"run{result.id}_epochs.csv" in names
    rows = (tmp_path / f"run{result.id}_epochs.csv").read_text().splitlines()
    assert len(rows) == 4 and "kendall_tau_cifar10_test" in rows[0]


def test_the_oneshot_bench_runs_in_its_tiny_setting(tiny_zip, tmp_path, monkeypatch, bench_module):
    """bench/oneshot.py (whose ``paper`` setting runs on CUDA) in its CPU-sized ``tiny`` setting."""
    bench = bench_module("oneshot")
    monkeypatch.setitem(bench.SETTINGS, "tiny", {**bench.SETTINGS["tiny"], "search_proposals": 3, "rank_archs": 4,
                                                 "split": [96, 48], "epochs": 1})
    bench.main(["--setting", "tiny", "--methods", "spos,spos_x5", "--data", str(tiny_zip)])
    payload = json.loads((tmp_path / "results" / "oneshot_tiny.json").read_text())
    assert len(payload["curves"]["spos"]) == 1 and len(payload["curves"]["spos_x5"]) == 5  # SPOS at FairNAS's work
    assert payload["rank"]["spos"]["archs"] == 4 and payload["search"]["spos/rea"]["queries"] == 3
    assert payload["cost"]["spos"]["plain_seconds_per_step"] > 0
    assert (tmp_path / "results" / "oneshot_tiny_tau.png").is_file()


def test_spos_trains_the_mobilenet_supernet_in_a_oneshot_run(tiny_zip, tmp_path):
    """The MobileNet-like space (no benchmark table) through the same run kind: epochs stored,
    architectures ranked by inherited-weight accuracy, an architecture of the space derived."""
    from nasplug.core.registry import registry

    config = oneshot_config(tiny_zip, tmp_path / "m.db", method={"name": "spos", "population": 4, "generations": 1,
                                                                 "parents": 2, "mutations": 2, "crossovers": 2},
                            epochs=1, derive=True, rank_metrics=[])
    config["space"] = {"name": "mobilenet", "width_mult": 0.25}
    config["oneshot"]["supernet"] = {}
    result = run(config).result
    space = registry().create("space", {"name": "mobilenet", "width_mult": 0.25})
    assert space.contains(space.parse(result["derived"]["arch"])) and 0.0 <= result["derived"]["valid_accuracy"] <= 100.0
    with Store(tmp_path / "m.db") as s:
        epochs = s.epochs(1)
    assert len(epochs) == 1 and 0.0 <= epochs[0]["valid_accuracy_mean"] <= epochs[0]["valid_accuracy_max"] <= 100.0
