"""Proxy calibration: the isotonic and linear maps against hand-worked answers, the calibration
error of score runs, and a proxy calibrated into a predictor."""

from __future__ import annotations

import numpy as np
import pytest

from nasplug.core.calibration import calibration_error, fit_calibration
from nasplug.core.errors import BudgetError


def test_isotonic_fit_pools_adjacent_violators():
    # targets 1, 3, 2, 4 at scores 0..3: the violating pair (3, 2) pools to 2.5
    fitted = fit_calibration([0, 1, 2, 3], [1, 3, 2, 4])
    assert list(fitted.predict([0, 1, 2, 3])) == [1.0, 2.5, 2.5, 4.0]
    assert fitted.predict([-5.0, 0.5, 10.0]).tolist() == [1.0, 1.75, 4.0]  # clipped ends, linear in between
    # equal scores share one value
    assert fit_calibration([1, 1, 2], [0, 2, 5]).predict([1, 2]).tolist() == [1.0, 5.0]


def test_linear_fit_is_least_squares():
    fitted = fit_calibration([0, 1, 2], [1, 3, 5], method="linear")
    assert fitted.predict([3]).tolist() == pytest.approx([7.0])


def test_calibration_needs_two_distinct_scores():
    with pytest.raises(BudgetError, match="two labelled"):
        fit_calibration([1, 1], [2, 3])


def test_calibration_error_of_a_perfect_monotone_proxy_is_small_and_of_noise_large():
    rng = np.random.default_rng(0)
    truth = rng.uniform(80, 95, 500)
    monotone = np.exp(truth / 10)  # same order, other scale
    assert calibration_error(monotone, truth, 100, seed=1) < 0.2
    assert calibration_error(rng.normal(size=500), truth, 100, seed=1) > 2.5
    assert np.isnan(calibration_error(monotone[:10], truth[:10], 20, seed=1))


def test_score_runs_report_the_calibration_error(tmp_path, benchmarks):
    from nasplug.core.runs import run

    result = run({"kind": "score", "seed": 0, "space": "nb201", "proxy": "params",
                  "benchmark": {"path": str(benchmarks / "nb201" / "nb201.csv.gz")},
                  "score": {"archs": 60, "metrics": ["cifar10_test"], "calibration_labels": 20}},
                 store_path=tmp_path / "s.db")
    mae = result.result["correlations"]["cifar10_test"]["calibration_mae"]
    assert 0.0 < mae < 10.0
    few = run({"kind": "score", "seed": 0, "space": "nb201", "proxy": "params",
               "benchmark": {"path": str(benchmarks / "nb201" / "nb201.csv.gz")},
               "score": {"archs": 10, "metrics": ["cifar10_test"], "calibration_labels": 20}}, store_path=tmp_path / "f.db")
    assert few.result["correlations"]["cifar10_test"]["calibration_mae"] is None  # too few to fit and test


def test_a_calibrated_proxy_predicts_on_the_accuracy_scale(benchmarks):
    from nasplug.core.registry import Registry, using

    reg = Registry()
    with using(reg):
        space = reg.create("space", "nb201", section="space")
        bench = space.load_benchmark(str(benchmarks / "nb201" / "nb201.csv.gz"))
        archs = space.sample_many(40, np.random.default_rng(0))
        y = np.array([bench.query(a, "cifar10_test") for a in archs])
        predictor = reg.create("predictor", {"name": "calibrated", "proxy": "params"}, section="predictor", space=space)
        predictor.fit(archs[:30], y[:30])
        pred = predictor.predict(archs[30:])
    params = predictor.fitness(archs[30:])
    assert np.all((pred >= y[:30].min()) & (pred <= y[:30].max()))  # on the labels' scale
    order = np.argsort(params)
    assert np.all(np.diff(pred[order]) >= 0)  # the proxy's order is kept
