"""The FT-ScoreNet bench's NAS-Bench-201 section, run tiny: scoring one cell per distinct network."""

import sys

import numpy as np
import pytest


@pytest.mark.usefixtures("benchmarks")
def test_scoring_by_graph_key_gives_every_cell_its_networks_score(bench_module, monkeypatch, tmp_path):
    bench = bench_module("ftscorenet")
    monkeypatch.setattr(sys, "argv", ["ftscorenet.py", "--images", "4", "--input-size", "8", "--nb201-steps", "1",
                                      "--nb201-train", "6", "--archs-per-step", "3", "--curve-archs", "4",
                                      "--nb201-eval", "300", "--eval-by-graph", "--graph-check", "20",
                                      "--ckpt-dir", str(tmp_path / "ckpt")])
    args = bench.parse_args()
    space = bench.registry().create("space", "nb201")
    seen: list = []
    original = bench.FTScoreNet.score_many

    def counting(self, sp, archs):
        seen.extend(archs)
        return original(self, sp, archs)

    monkeypatch.setattr(bench.FTScoreNet, "score_many", counting)
    scored: dict = {}

    def given(args_, model, sp, archs, tag):
        reps, scores, check = original_by_graph(args_, model, sp, archs, tag)
        scored.update(archs=archs, scores=scores, reps=reps)
        return reps, scores, check

    original_by_graph = bench.score_by_graph
    monkeypatch.setattr(bench, "score_by_graph", given)
    result = bench.section_nb201(args)

    archs, scores, reps = scored["archs"], scored["scores"], scored["reps"]
    keys = [space.graph_key(a) for a in archs]
    assert len(archs) == 300 and result["scored_networks"] == len(set(keys)) == len(reps) < 300
    for k in set(keys):  # one score per network
        assert len({scores[i] for i in range(300) if keys[i] == k}) == 1
    assert {space.graph_key(r) for r in reps} == set(keys)
    check = result["graph_check"]
    assert check["cells"] == 20 and check["spearman_direct_vs_given"] > 0.99
    assert check["max_abs_diff_over_score_std"] < 0.05
    # the check scored cells that are not representatives, directly
    assert sum(1 for a in seen if a in archs and a not in reps) >= 20
    assert np.isfinite(result["datasets"]["cifar100_test"]["spearman"])
