"""Real training as an objective, on a tiny real dataset (20 CIFAR-10 test images)."""

from __future__ import annotations

import pytest

from nasplug.core.config import DataOptions
from nasplug.core.errors import ConfigError
from nasplug.core.options import build_config
from nasplug.search.training import TrainingObjective

pytest.importorskip("torch")


def _objective(benchmarks, **options):
    from nasplug.core.registry import registry

    space = registry().create("space", "nb201")
    config = build_config(TrainingObjective.Config, {"epochs": 1, "batch_size": 8,
                                                     "module": {"channels": 4, "cells_per_stage": 1}, **options}, "objective")
    data = DataOptions(path=str(benchmarks / "images" / "cifar10_test_20.npz"))
    return space, TrainingObjective(config, space=space, seed=5, data=data)


def test_trains_and_returns_a_validation_accuracy(benchmarks):
    space, objective = _objective(benchmarks)
    objective.check()
    arch = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
    first = objective.evaluate(arch)
    again = objective.evaluate(arch)
    assert 0.0 <= first.value <= 100.0
    assert first.value % 25.0 == 0.0  # 4 of the 20 images are held out for validation
    assert first.value == again.value, "same seed and architecture must train to the same accuracy"
    assert first.cost > 0 and first.info["train_images"] == 16
    assert objective.charges_cost


def test_needs_images(benchmarks):
    from nasplug.core.registry import registry

    space = registry().create("space", "nb201")
    objective = TrainingObjective(build_config(TrainingObjective.Config, {}, "objective"), space=space, seed=0, data=None)
    with pytest.raises(ConfigError, match=r"\[data\] path"):
        objective.check()


def test_search_run_with_training(benchmarks, tmp_path):
    from nasplug.core.runs import run

    result = run({"kind": "search", "seed": 0, "space": {"name": "nb201"}, "strategy": {"name": "random"},
                  "objective": {"name": "train", "epochs": 1, "batch_size": 8, "module": {"channels": 4, "cells_per_stage": 1}},
                  "data": {"path": str(benchmarks / "images" / "cifar10_test_20.npz")}, "search": {"queries": 2}},
                 store_path=tmp_path / "t.db")
    assert result.result["queries"] == 2 and result.result["simulated_seconds"] > 0


def test_trains_on_a_class_balanced_split_of_a_zip(tiny_zip):
    from nasplug.core.registry import registry

    space = registry().create("space", "nb201")
    config = build_config(TrainingObjective.Config, {"epochs": 1, "batch_size": 32,
                                                     "module": {"channels": 4, "cells_per_stage": 1}}, "objective")
    objective = TrainingObjective(config, space=space, seed=5, data=DataOptions(path=str(tiny_zip), split=[100, 50]))
    objective.check()
    arch = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
    first = objective.evaluate(arch)
    assert first.info["train_images"] == 100 and (first.value * 50 / 100) % 1 == 0  # 50 validation images
    assert objective.evaluate(arch).value == first.value
    x_train, y_train, x_val, y_val, classes = objective._load()
    assert classes == 10 and sorted(set(y_val.tolist())) == list(range(10)) and len(y_val) == 50
    assert sorted(y_val.tolist()).count(0) == 5  # class-balanced
