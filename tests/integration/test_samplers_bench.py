"""bench/samplers.py keeps a checkpoint's stratified metrics, not its predictions, in the run cache."""

from types import SimpleNamespace

import numpy as np
import pytest


def test_backfill_turns_stored_predictions_into_the_stratified_metrics(bench_module, tmp_path):
    bench = bench_module("samplers")
    y = np.array([10.0, 20, 30, 40, 50, 60, 70, 80])  # median 45, tail below 22.5
    data = SimpleNamespace(pool=list(range(8)), y=y, space=None)
    run = {"labelled": [0, 4], "rounds": [{"labels": 1, "kt_curve": 0.1},
                                          {"labels": 150, "kendall_tau": 0.5, "predictions": [25, 35, 30, 65, 80, 70]}]}
    assert bench.backfill(run, data, predictor_spec={}, seed=0)
    row = run["rounds"][1]
    assert "predictions" not in row and run["rounds"][0] == {"labels": 1, "kt_curve": 0.1}
    # unlabelled truth 20 30 40 60 70 80; top half 60 70 80 (one pair of three reversed),
    # without the tail 30 40 60 70 80 (two of ten pairs reversed); one of the two labelled in the tail
    assert row["kt_top_half"] == pytest.approx(1 / 3)
    assert row["kt_without_tail"] == pytest.approx(0.6)
    assert row["mse_without_tail"] == pytest.approx(0.035 / 5)
    assert row["tail_share"] == pytest.approx(0.5)
    assert not bench.backfill(run, data, predictor_spec={}, seed=0)  # nothing left to do

    cache = bench.Cache(tmp_path / "runs.jsonl")
    cache.get("k", lambda: {"rounds": []})
    cache.update("k", run)
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 2
    cache.compact()
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 1
    assert bench.Cache(tmp_path / "runs.jsonl").runs == {"k": run}
