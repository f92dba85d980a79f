"""``tune`` runs (Discrete Proxy Search) end to end, resume, and ``config_from`` reuse."""

import math

import pytest

from nasplug.core.errors import ArchitectureError, ConfigError, StoreError
from nasplug.core.hookspecs import hookimpl
from nasplug.core.plugins import plugin_manager
from nasplug.core.runs import run
from nasplug.core.store import Store

pytest.importorskip("nasplug.proxies.eproxy")
pytest.importorskip("nasplug.spaces.nb201")

#: A tiny Eproxy (4-channel, 1-cell NB201 networks, 4 images, 2 iterations, 4x4 targets).
TINY = {"name": "eproxy", "module_options": {"channels": 4, "cells_per_stage": 1}, "images": 4, "iterations": 2,
        "target_size": 4}


def tune_config(tmp_path, benchmarks, **tune):
    options = {"population": 3, "sample": 2, "configurations": 5, "archs": 4, "metric": "cifar10_valid_val"}
    options.update(tune)
    return {"kind": "tune", "seed": 3, "space": "nb201", "proxy": dict(TINY), "tune": options,
            "data": {"path": str(benchmarks / "images" / "cifar10_test_20.npz")}, "store": {"path": str(tmp_path / "t.db")}}


class _StopAfter:
    def __init__(self, n):
        self.n, self.seen = n, 0

    @hookimpl
    def nasplug_after_evaluation(self, run, record):
        self.seen += 1
        if self.seen >= self.n:
            raise KeyboardInterrupt


def test_tune_run_evolves_configurations_and_resumes_exactly(benchmarks, tmp_path):
    full = run(tune_config(tmp_path / "a", benchmarks))
    result = full.result
    with Store(tmp_path / "a" / "t.db") as store:
        evals = store.evaluations(full.id)
    assert [e.seq for e in evals] == list(range(5))
    assert result["configurations"] == 5 and result["archs"] == 4 and len(result["tuned_archs"]) == 4
    fitness = [e.fitness for e in evals]
    assert all(-1.0 <= f <= 1.0 for f in fitness)
    assert result["best_fitness"] == max(fitness) and result["best_so_far"][-1] == max(fitness)
    for e in evals:
        if not e.info.get("repeat"):
            assert len(e.info["scores"]) == 4 and e.wall > 0
    assert result["proxy_table"] == {**TINY, **result["best_config"]}
    assert {"learning_rate", "flops_coefficient", "branches", "features", "barrier_kernel"} <= set(result["best_config"])

    config = tune_config(tmp_path / "b", benchmarks)
    stop = _StopAfter(2)
    plugin_manager().register(stop)
    try:
        with pytest.raises(KeyboardInterrupt):
            run(config)
    finally:
        plugin_manager().unregister(stop)
    with Store(tmp_path / "b" / "t.db") as store:
        assert store.count_evaluations(1) == 2
    resumed = run(config, resume=True)
    timing = ("run_seconds", "seconds_per_arch")
    assert {k: v for k, v in resumed.result.items() if k not in timing} == {k: v for k, v in result.items() if k not in timing}


def test_include_base_starts_the_population_from_the_untuned_configuration(benchmarks, tmp_path):
    from nasplug.proxies.eproxy.config_space import EproxyTuningSpace
    from nasplug.proxies.eproxy.proxy import EProxyConfig

    plain = run(tune_config(tmp_path / "a", benchmarks))
    based = run(tune_config(tmp_path / "b", benchmarks, include_base=True))
    with Store(tmp_path / "a" / "t.db") as store:
        plain_evals = store.evaluations(plain.id)
    with Store(tmp_path / "b" / "t.db") as store:
        based_evals = store.evaluations(based.id)
    base = EproxyTuningSpace().from_options(EProxyConfig(**{k: v for k, v in TINY.items() if k != "name"}))
    assert based_evals[0].info["config"] == base
    assert base["learning_rate"] == 1.2 and base["features"] == [["net", "wave_h"]] * 3 and base["branches"] == 1
    # the other initial members are the ones a run without the option draws
    assert [e.arch for e in based_evals[1:3]] == [e.arch for e in plain_evals[1:3]]
    assert based.result["best_fitness"] >= based_evals[0].fitness


def test_config_from_reuses_the_tuned_configuration(benchmarks, tmp_path):
    tuned = run(tune_config(tmp_path, benchmarks, configurations=3))
    base = {"kind": "score", "seed": 1, "space": "nb201", "score": {"archs": 3, "metrics": ["cifar10_test"]},
            "data": {"path": str(benchmarks / "images" / "cifar10_test_20.npz")}, "store": {"path": str(tmp_path / "t.db")}}
    by_id = run({**base, "proxy": {"name": "eproxy", "config_from": tuned.id}})
    explicit = run({**base, "proxy": tuned.result["proxy_table"]})
    with Store(tmp_path / "t.db") as store:
        a = [e.value for e in store.evaluations(by_id.id)]
        b = [e.value for e in store.evaluations(explicit.id)]
        assert store.run(by_id.id).config["proxy"] == {"name": "eproxy", "config_from": tuned.id}
    assert len(a) == 3 and all(math.isfinite(v) for v in a) and a == b
    # keys next to config_from override the tuned ones; a proxy objective resolves it too
    search = run({"kind": "search", "seed": 0, "space": "nb201", "strategy": "random",
                  "objective": {"name": "proxy", "proxy": {"name": "eproxy", "config_from": str(tuned.id), "iterations": 1}},
                  "search": {"queries": 2}, "data": base["data"], "store": base["store"]})
    assert search.result["queries"] == 2 and math.isfinite(search.result["best_value"])

    with pytest.raises(StoreError, match="not a tune run"):
        run({**base, "proxy": {"name": "eproxy", "config_from": by_id.id}})
    with pytest.raises(StoreError, match="no run 99"):
        run({**base, "proxy": {"name": "eproxy", "config_from": 99}})
    with pytest.raises(ConfigError, match="tuned 'eproxy'"):
        run({**base, "proxy": {"name": "params", "config_from": tuned.id}})
    with pytest.raises(ConfigError, match="config_from' must be the id"):
        run({**base, "proxy": {"name": "eproxy", "config_from": "latest"}})


def test_tune_rejects_bad_input_before_writing(benchmarks, tmp_path):
    config = tune_config(tmp_path, benchmarks)
    with pytest.raises(ConfigError, match="has no tuning space"):
        run({**config, "proxy": "params"})
    with pytest.raises(ConfigError, match="tune.sample"):
        run(tune_config(tmp_path, benchmarks, sample=5))
    with pytest.raises(ConfigError, match="tune.archs"):
        run(tune_config(tmp_path, benchmarks, archs=1))
    with pytest.raises(ConfigError, match="needs images"):
        run({k: v for k, v in config.items() if k != "data"})
    assert not (tmp_path / "t.db").exists()


def test_tune_archs_may_be_a_list_of_architectures(benchmarks, tmp_path):
    chosen = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
              "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
              "|skip_connect~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|nor_conv_1x1~2|",
              "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_3x3~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|"]
    result = run(tune_config(tmp_path, benchmarks, archs=chosen, configurations=3, population=3)).result
    assert result["tuned_archs"] == chosen and result["archs"] == 4
    with pytest.raises(ArchitectureError, match=r"tune.archs\[1\]"):
        run(tune_config(tmp_path / "bad", benchmarks, archs=[chosen[0], "|conv_9x9~0|", chosen[1]]))
    with pytest.raises(ConfigError, match="at least 3 architecture strings"):
        run(tune_config(tmp_path / "bad", benchmarks, archs=chosen[:2]))


def test_tune_is_a_search_same_result_under_a_process_pool_and_one_task_per_pair(benchmarks, tmp_path):
    """A tune run goes through the search loop: every (configuration, architecture) pair is one
    executor task, results do not depend on the executor, and hooks see each new configuration
    once (repeats are answered from the record without hooks, as in search runs)."""
    events = []

    class Log:
        @hookimpl
        def nasplug_before_evaluation(self, run, seq, arch):
            events.append(seq)

    log = Log()
    plugin_manager().register(log)
    try:
        local = run(tune_config(tmp_path / "a", benchmarks))
    finally:
        plugin_manager().unregister(log)
    config = tune_config(tmp_path / "b", benchmarks)
    config["executor"] = {"name": "process", "workers": 2, "torch_threads": 1, "start_method": "fork"}
    pooled = run(config)
    timing = ("run_seconds", "seconds_per_arch")
    assert {k: v for k, v in pooled.result.items() if k not in timing} == {k: v for k, v in local.result.items() if k not in timing}
    with Store(tmp_path / "a" / "t.db") as store:
        evals = store.evaluations(local.id)
    new = [e.seq for e in evals if not e.info.get("repeat")]
    assert events == new and local.result["evaluated"] == len(new)
    assert events[:3] == [0, 1, 2]  # the initial population (3) is one batch
