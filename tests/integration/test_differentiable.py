"""The differentiable methods in ``oneshot`` runs on real CIFAR-10 images: every method trains and
derives an architecture of the space, the diagnostics are stored per epoch, the report draws them,
and a run killed with -9 mid-epoch resumes to the identical alpha trajectory."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from nasplug.core.errors import NasplugError
from nasplug.core.oneshot.checkpoints import checkpoint_path
from nasplug.core.runs import run
from nasplug.core.store import Store

nb201 = pytest.importorskip("nasplug.spaces.nb201")

METHODS = [{"name": "darts"}, {"name": "darts", "order": 2}, {"name": "gdas"}, {"name": "drnas"}, {"name": "pc_darts"},
           {"name": "fair_darts"}, {"name": "darts_minus"}, {"name": "sdarts_rs"}, {"name": "sdarts_adv"},
           {"name": "gaea"}]


def config(data, store, method, space="nb201", epochs=2, supernet=None, **extra):
    return {"kind": "oneshot", "seed": 3, "space": space, "store": {"path": str(store)},
            "data": {"path": str(data), "split": [64, 64]},
            "oneshot": {"method": {"hessian_images": 16, "hessian_iterations": 3, "hessian_every": 2, **method},
                        "epochs": epochs, "batch_size": 32,
                        "supernet": supernet or {"channels": 8, "cells_per_stage": 1}, "eval_archs": 0, "bn_batches": 1,
                        "eval_batch_size": 64, "threads": 1, **extra}}


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m["name"] + ("2" if m.get("order") == 2 else ""))
def test_every_method_searches_two_epochs_and_derives_a_member_of_the_space(method, tiny_zip, tmp_path):
    result = run(config(tiny_zip, tmp_path / "runs.db", method, report=["cifar10_test"]))
    space = nb201.NB201Space()
    derived = result.result["derived"]
    arch = space.parse(derived["arch"])
    assert space.contains(arch)
    with Store(tmp_path / "runs.db") as s:
        epochs = s.epochs(result.id)
    assert [e["epoch"] for e in epochs] == [0, 1]
    assert "hessian_eigenvalue" not in epochs[0] and np.isfinite(epochs[1]["hessian_eigenvalue"])  # every 2nd epoch
    for e in epochs:
        alpha = np.array(e["alpha"])
        assert alpha.shape == (6, 5) and np.isfinite(alpha).all()
        assert 0 <= e["derived_parameter_free"] <= 6
        assert e["derived_cifar10_test"] == space.load_benchmark().query(space.parse(e["derived_arch"]), "cifar10_test")
        assert e["discretisation_gap"] == pytest.approx(e["supernet_valid_accuracy"] - e["derived_valid_accuracy"])
        assert e["steps"] == 2 and np.isfinite(e["train_arch_loss"])
    # the derived architecture is what the final op distribution discretises to
    final = np.array(epochs[-1]["alpha"])
    include_none = method["name"] != "fair_darts"
    assert space.canonical(nb201.NB201Space().supernet(channels=4, cells_per_stage=1).discretise(final, include_none)) \
        == derived["arch"] == epochs[-1]["derived_arch"]
    assert derived["cifar10_test"] == epochs[-1]["derived_cifar10_test"]
    # alpha moved away from its near-uniform start
    assert np.abs(np.array(epochs[0]["alpha"]) - final).max() > 0


@pytest.mark.parametrize("method, channels", [({"name": "darts"}, 4), ({"name": "pc_darts"}, 8)], ids=["darts", "pc_darts"])
def test_the_darts_space_search_derives_a_genotype(method, channels, tiny_zip, tmp_path):
    pytest.importorskip("nasplug.spaces.darts")
    from nasplug.spaces.darts import DartsSpace

    result = run(config(tiny_zip, tmp_path / "runs.db", {**method, "hessian_every": 0}, space="darts", epochs=1,
                        supernet={"channels": channels, "layers": 3}))
    arch = DartsSpace().parse(result.result["derived"]["arch"])
    assert DartsSpace().contains(arch)
    assert all(op != "none" for op, _ in (*arch.normal, *arch.reduce))
    with Store(tmp_path / "runs.db") as s:
        assert np.array(s.epochs(result.id)[0]["alpha"]).shape == (28, 8)


def test_report_draws_the_differentiable_diagnostics(tiny_zip, tmp_path):
    from nasplug.core.report import write_report

    result = run(config(tiny_zip, tmp_path / "runs.db", {"name": "gdas"}, report=["cifar10_test"]))
    with Store(tmp_path / "runs.db") as s:
        written = {p.name for p in write_report(s, [result.id], tmp_path / "report")}
    assert {"oneshot_training.png", f"oneshot_architecture_run{result.id}.png"} <= written


def test_bad_method_options_fail_before_anything_is_stored(tiny_zip, tmp_path):
    with pytest.raises(NasplugError, match=r"oneshot.method.order.*1, 2"):
        run(config(tiny_zip, tmp_path / "runs.db", {"name": "darts", "order": 3}))
    with pytest.raises(NasplugError, match="partial_channels"):
        run(config(tiny_zip, tmp_path / "runs.db", {"name": "pc_darts"}, supernet={"channels": 6, "cells_per_stage": 1}))
    with pytest.raises(NasplugError, match="fewer than batch_size"):
        run({**config(tiny_zip, tmp_path / "runs.db", {"name": "darts"}),
             "data": {"path": str(tiny_zip), "split": [64, 16]}})
    assert not (tmp_path / "runs.db").exists() or Store(tmp_path / "runs.db").latest_run() is None


def test_kill_9_mid_epoch_then_resume_gives_the_identical_alpha_trajectory(tiny_zip, tmp_path, kill_after_epochs):
    full, cut = tmp_path / "full.db", tmp_path / "cut.db"
    toml = tmp_path / "run.toml"
    toml.write_text(f"""kind = "oneshot"
seed = 5
[space]
name = "nb201"
[data]
path = "{tiny_zip}"
split = [192, 192]
[oneshot]
method = {{name = "gdas", hessian_every = 0}}
epochs = 3
batch_size = 32
supernet = {{channels = 4, cells_per_stage = 1}}
eval_archs = 0
bn_batches = 1
eval_batch_size = 64
threads = 1
""")
    cli = [sys.executable, "-m", "nasplug.core", "run", str(toml), "--store"]
    assert subprocess.run([*cli, str(full)], capture_output=True).returncode == 0
    assert 1 <= kill_after_epochs(toml, cut, 1, pause=0.3) < 3  # into the next epoch
    out = subprocess.run([*cli, str(cut), "--resume"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    a = torch.load(checkpoint_path(full, 1), weights_only=True)
    b = torch.load(checkpoint_path(cut, 1), weights_only=True)
    assert all(torch.equal(x, y) for x, y in zip(a["method"]["arch_parameters"], b["method"]["arch_parameters"]))
    with Store(full) as f, Store(cut) as c:
        assert [e["alpha"] for e in f.epochs(1)] == [e["alpha"] for e in c.epochs(1)]
        assert [e["epoch"] for e in c.epochs(1)] == [0, 1, 2]
        assert f.run(1).result["derived"] == c.run(1).result["derived"]


def test_the_differentiable_bench_runs_in_its_tiny_setting(tiny_zip, tmp_path, monkeypatch, bench_module):
    """bench/differentiable.py (whose ``paper`` setting runs on CUDA) in its CPU-sized ``tiny``
    setting: the NB201 search, the DARTS-space search with zero-cost scores, and the cost phase."""
    import json

    bench = bench_module("differentiable")
    monkeypatch.setitem(bench.SETTINGS, "tiny", {**bench.SETTINGS["tiny"], "split": [64, 64], "proxy_cells": 4,
                                                 "darts_split": [32, 32]})
    monkeypatch.setattr(bench, "EVAL_NETWORK", {"channels": 4, "layers": 3})
    bench.main(["--setting", "tiny", "--methods", "darts", "--data", str(tiny_zip)])
    payload = json.loads((tmp_path / "results" / "differentiable_tiny.json").read_text())
    row = payload["search"]["darts/s0"]
    assert 0 <= row["parameter_free"] <= 6 and len(row["curve"]) == 2 and row["cifar10_test"] > 0
    assert {"darts", "DARTS paper (V2)"} <= set(payload["darts_space"])
    assert 0 <= payload["darts_space"]["darts"]["synflow_percentile"] <= 100
    assert payload["cost"]["darts"]["vs_darts"] == 1.0 and payload["cost"]["_plain_seconds_per_step"] > 0
    assert (tmp_path / "results" / "differentiable_tiny_collapse.png").is_file()
    # a fresh checkout has the committed results but no work folder: a resumed bench adds to them
    import shutil

    shutil.rmtree(tmp_path / "bench" / "work")
    bench.main(["--setting", "tiny", "--phase", "report", "--data", str(tiny_zip)])
    again = json.loads((tmp_path / "results" / "differentiable_tiny.json").read_text())
    assert again["search"]["darts/s0"] == row and set(again["darts_space"]) == set(payload["darts_space"])


def test_p_darts_stages_rebuild_the_supernet_and_resume_across_a_stage_boundary(tiny_zip, tmp_path):
    from nasplug.core.hookspecs import hookimpl
    from nasplug.core.plugins import plugin_manager

    method = {"name": "p_darts", "depths": [1, 2, 2], "hessian_every": 0, "warmup_fraction": 0.0}
    full = run(config(tiny_zip, tmp_path / "full.db", method, epochs=3, report=["cifar10_test"]))
    assert full.result["stages"] == [[1, {"cells_per_stage": 1}], [1, {"cells_per_stage": 2}], [1, {"cells_per_stage": 2}]]
    assert full.result["parameters"] > run(config(tiny_zip, tmp_path / "flat.db", {"name": "darts"}, epochs=1)).result["parameters"]

    class StopAtTheStageBoundary:
        @hookimpl
        def nasplug_after_epoch(self, run, epoch, metrics):
            if epoch == 0:
                raise KeyboardInterrupt

    stopper = StopAtTheStageBoundary()
    plugin_manager().register(stopper)
    try:
        with pytest.raises(KeyboardInterrupt):
            run(config(tiny_zip, tmp_path / "cut.db", method, epochs=3, report=["cifar10_test"]))
    finally:
        plugin_manager().unregister(stopper)
    resumed = run(config(tiny_zip, tmp_path / "cut.db", method, epochs=3, report=["cifar10_test"]), resume=True)
    with Store(tmp_path / "full.db") as f, Store(tmp_path / "cut.db") as c:
        a, b = f.epochs(full.id), c.epochs(resumed.id)
    assert [e["stage"] for e in a] == [0, 1, 2] and [e["ops_allowed"] for e in a] == [5, 3, 2]
    assert [e["alpha"] for e in a] == [e["alpha"] for e in b]
    assert resumed.result["derived"] == full.result["derived"]


def test_the_bench_searches_each_method_for_its_nas_bench_201_epochs(bench_module):
    """GDAS searches 240 epochs in NAS-Bench-201's config (DARTS 50), DrNAS 100 in its authors'
    script; the variants rerun them at 50; the tiny setting keeps its own epochs for every method."""
    bench = bench_module("differentiable")
    cpu = {m: bench.search_config("cpu", m, 0, "cpu")["oneshot"] for m in ("darts", "gdas", "gdas_50ep")}
    assert [cpu[m]["epochs"] for m in ("darts", "gdas", "gdas_50ep")] == [50, 240, 50]
    assert cpu["gdas_50ep"]["method"]["name"] == "gdas"
    drnas = {m: bench.search_config("cpu", m, 0, "cpu")["oneshot"] for m in ("drnas", "drnas_kl_50ep")}
    assert drnas["drnas"]["epochs"] == 100 and "reg_type" not in drnas["drnas"]["method"]
    assert drnas["drnas_kl_50ep"]["epochs"] == 50 and drnas["drnas_kl_50ep"]["method"]["reg_type"] == "kl"
    assert bench.search_config("tiny", "gdas", 0, "cpu")["oneshot"]["epochs"] == bench.SETTINGS["tiny"]["epochs"]
    sdarts = {m: bench.search_config("cpu", m, 0, "cpu")["oneshot"] for m in ("sdarts_rs", "sdarts_adv", "sdarts_rs_const_50ep")}
    assert [sdarts[m]["epochs"] for m in sdarts] == [100, 100, 50]
    assert sdarts["sdarts_rs_const_50ep"]["method"] | {"hessian_images": 0} == {"name": "sdarts_rs", "epsilon_end": 0.03, "clip": False,
                                                                              "hessian_images": 0}
    # the data variant: GDAS on NAS-Bench-201's 25,000 + 25,000 halves, the others on the setting's split
    big, small = (bench.search_config("cpu", m, 0, "cpu") for m in ("gdas_25k", "gdas"))
    assert big["data"]["split"] == [25000, 25000] and small["data"]["split"] == [5000, 5000]
    assert big["oneshot"]["epochs"] == 240 and big["oneshot"]["method"]["name"] == "gdas"
    assert big["store"]["path"] != small["store"]["path"]
    # GAEA as its NAS-Bench-201 command runs it; the variant and the DARTS-space search with the plugin's defaults
    gaea, bilevel = (bench.search_config("cpu", m, 0, "cpu")["oneshot"] for m in ("gaea", "gaea_bilevel_50ep"))
    assert gaea["method"]["exclude_none"] and gaea["method"]["single_level"] and gaea["epochs"] == 25
    assert gaea["schedule_epochs"] == 50 and gaea["weight_decay"] == 3e-4
    assert "exclude_none" not in bilevel["method"] and "schedule_epochs" not in bilevel and bilevel["epochs"] == 50
    assert "exclude_none" not in bench.method_spec("gaea", "cpu", nb201=False)


def test_the_gpu_bench_trains_derived_genotypes_by_the_evaluation_protocol(tiny_zip, tmp_path, bench_module):
    """bench/differentiable_gpu.py (600-epoch DARTS evaluation on CUDA) in its ``tiny`` setting on
    CPU: every genotype of a differentiable results file and DARTS' published one are trained and
    tested, the report names the published errors, and a fresh checkout's report keeps the rows."""
    import json
    import shutil

    bench = bench_module("differentiable_gpu")
    searched = {"darts_space": {"fair_darts": {"normal": [["sep_conv_3x3", 0], ["dil_conv_3x3", 1]] * 4,
                                               "reduce": [["max_pool_3x3", 0], ["skip_connect", 1]] * 4},
                                "DARTS paper (V2)": {"normal": [], "reduce": []}, "_reference_cells": 4}}
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "differentiable_tiny.json").write_text(json.dumps(searched))
    bench.main(["--setting", "tiny", "--phase", "evaluate", "--device", "cpu", "--data", str(tiny_zip)])
    payload = json.loads((tmp_path / "results" / "differentiable_gpu_tiny.json").read_text())
    assert set(payload["evaluate"]) == {"fair_darts/s0", "darts_v2_paper/s0"}
    row = payload["evaluate"]["fair_darts/s0"]
    assert row["genotype"].startswith("Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_3x3', 1)")
    assert 0 <= row["test_error"] <= 100 and row["test_error"] == pytest.approx(100 - row["test_accuracy"])
    markdown = (tmp_path / "results" / "differentiable_gpu_tiny.md").read_text()
    assert "| fair_darts | tiny | 1 |" in markdown and "2.54 ± 0.05" in markdown and "2.76 ± 0.09" in markdown
    shutil.rmtree(tmp_path / "bench" / "work")
    bench.main(["--setting", "tiny", "--phase", "report", "--device", "cpu"])
    again = json.loads((tmp_path / "results" / "differentiable_gpu_tiny.json").read_text())
    assert again["evaluate"] == payload["evaluate"]
    with pytest.raises(SystemExit, match="no genotype named 'nope'"):
        bench.main(["--setting", "tiny", "--phase", "evaluate", "--methods", "nope", "--device", "cpu"])
