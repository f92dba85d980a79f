"""The combination matrix generated from the registry: every installed strategy x objective x
space (search runs), sampler x predictor x encoder (predict runs on NAS-Bench-201) and proxy x
space (score runs), each at a tiny budget through the real runner and store.

A combination is skipped only when a part declares it incompatible: its ``requires`` capabilities
(``Part.supports``), or a one-line ``ConfigError`` / ``BenchmarkError`` naming the missing
capability when the run builds its parts (e.g. ``nsga2_de`` on a space without ``model_size``, a
benchmark objective on a space without a table). Every other combination must run and keep the
run's invariants: the budget is spent on distinct evaluations, the same seed gives the same
stored sequence, and the result is finite. An installed third-party plugin enters the matrix
automatically (with its default options).

The quick tier (``-m quick``, ``nox -s combos``, and the default test run) is NAS-Bench-201 with the benchmark objective,
every sampler with a ridge predictor and two proxies; the rest is ``matrix_full``
(``NASPLUG_FULL_COMBOS=1``, ``nox -s combos-full``), whose last summary is committed in
``tests/combos/matrix_full.json``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from nasplug.core.errors import ArchitectureError, BenchmarkError, ConfigError
from nasplug.core.interfaces.capabilities import Benchmarked
from nasplug.core.registry import Registry
from nasplug.core.runs import run
from nasplug.core.runs.base import build_kind
from nasplug.core.config import RunConfig
from nasplug.core.store import Store

REG = Registry()
QUICK_SPACE = "nb201"
QUERIES = 6

#: Options that keep each in-tree part's run to a second or two; other parts use their defaults.
SMALL: dict[str, dict[str, dict[str, Any]]] = {
    "strategy": {
        "rea": {"population_size": 4, "sample_size": 2},
        "proxy_rea": {"proxy": "params", "cycles": 12},
        "predictor_guided": {"sampler": "random", "predictor": {"name": "sklearn", "model": "ridge"}, "initial": 3,
                             "per_round": 2, "rounds": 1, "pool_size": 300},
        "nsga2": {"population": 4},
        "nsga2_de": {"population": 4, "generations": 1},
        "dsm_nas": {"subspaces": 3},
    },
    "predictor": {"gcn": {"epochs": 5}, "dare_gcn": {"epochs": 5}, "mlp": {"epochs": 5},
                  "ftscorenet": {"steps": 3, "images": 8, "input_size": 16}},
    "sampler": {"dare": {"m": 60, "n": 60, "m_star": 60, "z": 20}, "bal": {"members": 2}, "uncertainty": {"members": 2}},
    "oneshot": {"spos": {"population": 4, "generations": 2, "parents": 2, "mutations": 2, "crossovers": 2},
                "fairnas": {"population": 4, "generations": 2, "parents": 2, "mutations": 2, "crossovers": 2}},
    "proxy": {"eproxy": {"module_options": {}, "images": 4, "iterations": 2, "target_size": 4},
              "vote": {"proxies": ["params", "synflow"], "reference": 4},
              "weighted": {"proxies": ["params", "synflow"], "labelled": 4}},
}
#: Strategies whose second objective is a key of the evaluation info (the benchmark objective
#: reports it through ``extra_metrics``; the proxy objective reports none).
INFO_SECONDARY = {"nsga2"}


def _spec(kind: str, name: str) -> dict[str, Any]:
    return {"name": name, **SMALL.get(kind, {}).get(name, {})}


def _benchmark_metrics(space_name: str) -> tuple[list[str] | None, str]:
    """The benchmark's metrics when its table covers the whole space (a search samples anywhere),
    else ``None`` and why."""
    space = REG.create("space", space_name)
    if not isinstance(space, Benchmarked):
        return None, f"space '{space_name}' has no tabular benchmark"
    try:
        bench = space.load_benchmark()
    except BenchmarkError as exc:
        return None, str(exc)
    size, covered = space.size(), len(bench.architectures())
    if size is None or covered < size:
        return None, f"the {space_name} table covers {covered} architectures of {size or 'infinitely many'}; searches use the proxy objective"
    return list(bench.metrics), ""


def _stored(store_path: Any, run_id: int) -> list[tuple[int, str, Any]]:
    with Store(store_path) as store:
        return [(e.seq, e.arch, e.value if math.isfinite(e.value) else repr(e.value)) for e in store.evaluations(run_id)]


def _build_or_skip(config: dict[str, Any]) -> None:
    """Skip when a part declares the combination incompatible while the run builds."""
    try:
        build_kind(RunConfig.from_dict(config, registry=REG), REG)
    except (ConfigError, BenchmarkError, ArchitectureError) as exc:
        pytest.skip(f"declared incompatible: {exc}")


def _twice(config: dict[str, Any], tmp_path: Any, request: Any) -> tuple[Any, list]:
    """Run ``config``; in the quick tier run it again and require the same stored sequence (the
    full tier runs each combination once: determinism is the quick tier's and each part's own)."""
    first = run({**config, "store": {"path": str(tmp_path / "a.db")}}, registry=REG)
    a = _stored(tmp_path / "a.db", first.id)
    if request.node.get_closest_marker("quick") is not None:
        second = run({**config, "store": {"path": str(tmp_path / "b.db")}}, registry=REG)
        assert _stored(tmp_path / "b.db", second.id) == a, "the same config and seed must give the same stored sequence"
    return first, a


# --- search: strategy x objective x space ----------------------------------------------------------
def _search_params() -> list[Any]:
    out = []
    for space in REG.names("space"):
        for strategy in REG.names("strategy"):
            for objective in ("benchmark", "proxy"):
                quick = space == QUICK_SPACE and objective == "benchmark"
                out.append(pytest.param(strategy, objective, space, id=f"{strategy}-{objective}-{space}",
                                        marks=pytest.mark.quick if quick else pytest.mark.matrix_full))
    return out


@pytest.mark.parametrize(("strategy", "objective", "space"), _search_params())
def test_search(strategy: str, objective: str, space: str, benchmarks, tmp_path, request) -> None:
    space_obj = REG.create("space", space)
    if not REG.load("strategy", strategy).supports(space_obj):
        pytest.skip(f"strategy '{strategy}' requires {REG.load('strategy', strategy).requires}")
    strategy_spec = _spec("strategy", strategy)
    if objective == "benchmark":
        metrics, why = _benchmark_metrics(space)
        if metrics is None:
            pytest.skip(f"declared incompatible: {why}")
        objective_spec: dict[str, Any] = {"name": "benchmark", "metric": metrics[0]}
        if strategy in INFO_SECONDARY:
            if len(metrics) < 2:
                pytest.skip(f"'{strategy}' needs a second benchmark metric; '{space}' has one")
            objective_spec["extra_metrics"] = [metrics[1]]
            strategy_spec["secondary"] = metrics[1]
    else:
        if strategy in INFO_SECONDARY:
            pytest.skip(f"declared incompatible: '{strategy}' reads its second objective from the evaluation info, "
                        "which the proxy objective does not report")
        objective_spec = {"name": "proxy", "proxy": "params"}
    config = {"kind": "search", "seed": 2, "space": space, "strategy": strategy_spec, "objective": objective_spec,
              "search": {"queries": QUERIES}}
    _build_or_skip(config)
    result, stored = _twice(config, tmp_path, request)
    summary = result.result
    charged = [s for s in stored if not isinstance(s[2], str)]
    assert summary["queries"] <= QUERIES and len(stored) == summary["proposals"]
    with Store(tmp_path / "a.db") as store:
        evaluated = [e for e in store.evaluations(result.id) if not e.info.get("repeat")]
    assert len(evaluated) == summary["queries"] and len({e.arch for e in evaluated}) == len(evaluated)
    assert summary["queries"] == QUERIES or summary["proposals"] < 20 * QUERIES + 100  # spent, or the strategy ended
    assert charged and math.isfinite(summary["best_value"])


# --- predict: sampler x predictor (x encoder) on NAS-Bench-201 ---------------------------------
def _predictor_specs() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name in REG.names("predictor"):
        fields = {a.name for a in __import__("attrs").fields(REG.load("predictor", name).Config)}
        if "encoder" in fields:
            out += [(f"{name}+{enc}", {**_spec("predictor", name), "encoder": enc}) for enc in REG.names("encoder")]
        else:
            out.append((name, _spec("predictor", name)))
    return out


def _predict_params() -> list[Any]:
    out = []
    for sampler in REG.names("sampler"):
        for label, spec in _predictor_specs():
            quick = label == "sklearn+onehot"
            out.append(pytest.param(sampler, spec, id=f"{sampler}-{label}",
                                    marks=pytest.mark.quick if quick else pytest.mark.matrix_full))
    return out


@pytest.mark.parametrize(("sampler", "predictor"), _predict_params())
def test_predict(sampler: str, predictor: dict[str, Any], benchmarks, tmp_path, request) -> None:
    if predictor["name"] == "sklearn":
        predictor = {**predictor, "model": "ridge"}
    config = {"kind": "predict", "seed": 1, "space": "nb201", "sampler": _spec("sampler", sampler), "predictor": predictor,
              "predict": {"initial": 8, "per_round": 4, "rounds": 1, "pool_size": 200, "top_k": [5]}}
    _build_or_skip(config)
    result, stored = _twice(config, tmp_path, request)
    assert result.result["labels"] == 12 and len({s[1] for s in stored}) == 12
    assert math.isfinite(result.result["final"]["kendall_tau"])


# --- score: proxy x space -------------------------------------------------------------------------
def _score_params() -> list[Any]:
    return [pytest.param(proxy, space, id=f"{proxy}-{space}",
                         marks=pytest.mark.quick if space == QUICK_SPACE and proxy in ("params", "synflow")
                         else pytest.mark.matrix_full)
            for space in REG.names("space") for proxy in REG.names("proxy")]


@pytest.mark.parametrize(("proxy", "space"), _score_params())
def test_score(proxy: str, space: str, benchmarks, tmp_path, request) -> None:
    space_obj = REG.create("space", space)
    if not REG.load("proxy", proxy).supports(space_obj):
        pytest.skip(f"proxy '{proxy}' requires {REG.load('proxy', proxy).requires}")
    config = {"kind": "score", "seed": 0, "space": space, "proxy": _spec("proxy", proxy), "score": {"archs": 2},
              "data": {"path": str(benchmarks / "images" / "cifar10_test_20.npz")}}
    _build_or_skip(config)
    result, stored = _twice(config, tmp_path, request)
    assert result.result["archs"] == 2 and len({s[1] for s in stored}) == 2
    values = [s[2] for s in stored]
    assert all(isinstance(v, float) and np.isfinite(v) for v in values) or result.result.get("non_finite", 0) < 2


# --- oneshot: method x space (every space that offers a supernet) ---------------------------------
#: Supernet options that make one epoch take a second; other spaces use their defaults.
SMALL_SUPERNETS: dict[str, dict[str, Any]] = {
    "nb201": {"channels": 4, "cells_per_stage": 1}, "nb_macro": {"channels": 4, "last_channels": 8},
    "transnas_micro": {"base_channels": 4, "blocks_per_layer": 1}, "darts": {"channels": 4, "layers": 3},
}


def _oneshot_params() -> list[Any]:
    return [pytest.param(method, space, id=f"{method}-{space}",
                         marks=pytest.mark.quick if (method, space) == ("spos", QUICK_SPACE) else pytest.mark.matrix_full)
            for space in REG.names("space") for method in REG.names("oneshot")]


@pytest.mark.parametrize(("method", "space"), _oneshot_params())
def test_oneshot(method: str, space: str, tiny_zip, tmp_path, request) -> None:
    space_obj = REG.create("space", space)
    if not REG.load("oneshot", method).supports(space_obj):
        pytest.skip(f"oneshot method '{method}' requires {REG.load('oneshot', method).requires}")
    config = {"kind": "oneshot", "seed": 3, "space": space, "data": {"path": str(tiny_zip), "split": [20, 20]},
              "oneshot": {"method": _spec("oneshot", method), "epochs": 1, "batch_size": 10, "eval_archs": 2,
                          "bn_batches": 1, "eval_batch_size": 20, "supernet": SMALL_SUPERNETS.get(space, {}), "threads": 1}}
    _build_or_skip(config)
    first = run({**config, "store": {"path": str(tmp_path / "a.db")}}, registry=REG)
    with Store(tmp_path / "a.db") as store:
        epochs = store.epochs(first.id)
    assert len(epochs) == 1 and epochs[0]["steps"] == 2 and math.isfinite(epochs[0]["train_loss"])
    assert space_obj.contains(space_obj.parse(first.result["derived"]["arch"]))
    if request.node.get_closest_marker("quick") is not None:
        second = run({**config, "store": {"path": str(tmp_path / "b.db")}}, registry=REG)
        with Store(tmp_path / "b.db") as store:
            again = store.epochs(second.id)
        drop = ("seconds", "train_seconds")
        assert [{k: v for k, v in e.items() if k not in drop} for e in again] == \
               [{k: v for k, v in e.items() if k not in drop} for e in epochs]
        assert second.result["derived"] == first.result["derived"]
