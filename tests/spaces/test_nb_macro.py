"""Tests of the NAS-Bench-Macro space plugin: membership, moves, metric, positional form, graph,
the network against the table's params and FLOPs, and the complete CIFAR-10 table."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from importlib.metadata import entry_points

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasplug.core.errors import ArchitectureError, BenchmarkError, ConfigError
from nasplug.core.testing import SearchSpaceConformance
from nasplug.spaces.nb_macro import MACRO_OPS, NBMacroSpace, representative
from nasplug.spaces.nb_macro.benchmark import METRICS
from nasplug.spaces.nb_macro.network import count_flops, count_parameters

SPACE = NBMacroSpace()
seeds = st.integers(min_value=0, max_value=2**32 - 1)
archs = seeds.map(lambda s: SPACE.sample(np.random.default_rng(s)))
fast = settings(max_examples=50, deadline=None)


class TestNBMacroConformance(SearchSpaceConformance):
    @pytest.fixture
    def space(self):
        return NBMacroSpace()


@pytest.fixture(scope="module")
def bench(benchmarks):
    return SPACE.load_benchmark(str(benchmarks))


@pytest.fixture(scope="module")
def raw(benchmarks):
    return json.loads((benchmarks / "macro" / "nas_bench_macro_cifar10.json").read_text())


def test_registered_as_entry_point():
    (ep,) = [e for e in entry_points(group="nasplug.spaces") if e.name == "nb_macro"]
    assert ep.load() is NBMacroSpace
    assert NBMacroSpace.summary().startswith("NAS-Bench-Macro")


def test_canonical_is_the_benchmark_key():
    assert SPACE.canonical((2, 2, 2, 1, 2, 2, 2, 0)) == "22212220"
    assert SPACE.parse("22212220") == (2, 2, 2, 1, 2, 2, 2, 0)
    assert SPACE.parse(["ir_5x5_t6", "id", "ir_3x3_t3", "id", "id", "id", "id", "id"]) == (2, 0, 1, 0, 0, 0, 0, 0)


@pytest.mark.parametrize("bad", ["", "2221222", "222122203", "22212223", "2221222a", (0,) * 7, (0,) * 7 + (3,),
                                 (0,) * 7 + (False,), ("conv",) * 8, 22212220, None])
def test_rejects_non_members_on_one_line(bad):
    with pytest.raises(ArchitectureError) as info:
        SPACE.parse(bad)
    assert "\n" not in str(info.value) and "8 digits" in str(info.value)
    assert not SPACE.contains(bad)


@fast
@given(archs, seeds)
def test_mutate_changes_one_layer(arch, seed):
    child = SPACE.mutate(arch, np.random.default_rng(seed))
    assert SPACE.contains(child) and SPACE.distance(arch, child) == 1 and child in SPACE.neighbours(arch)
    assert SPACE.parse(SPACE.canonical(arch)) == arch


@fast
@given(archs)
def test_neighbours_are_the_16_at_distance_1(arch):
    nbrs = SPACE.neighbours(arch)
    assert len(nbrs) == len(set(nbrs)) == 16 and all(SPACE.distance(arch, n) == 1 for n in nbrs)
    assert SPACE.from_positions(SPACE.to_positions(arch)) == arch


def test_neighbours_cover_every_distance_1_arch():
    arch = (2, 0, 1, 0, 2, 1, 1, 0)
    assert set(SPACE.neighbours(arch)) == {a for a in SPACE.enumerate() if SPACE.distance(a, arch) == 1}


@fast
@given(archs, archs, archs)
def test_distance_is_a_metric(a, b, c):
    assert SPACE.distance(a, a) == 0 and (SPACE.distance(a, b) == 0) == (a == b)
    assert SPACE.distance(a, b) == SPACE.distance(b, a)
    assert SPACE.distance(a, c) <= SPACE.distance(a, b) + SPACE.distance(b, c)


def test_enumeration_order_and_size():
    assert list(itertools.islice(SPACE.enumerate(), 2)) == [(0,) * 8, (0,) * 7 + (1,)]
    assert SPACE.size() == len(set(SPACE.enumerate())) == 3 ** 8


def test_positional_form_and_graph():
    assert SPACE.position_choices() == (3,) * 8
    with pytest.raises(ArchitectureError):
        SPACE.from_positions((0,) * 7 + (3,))
    g = SPACE.graph((2, 0, 1, 0, 2, 1, 1, 0))
    assert g.ops == ("input", "ir_5x5_t6", "id", "ir_3x3_t3", "id", "ir_5x5_t6", "ir_3x3_t3", "ir_3x3_t3", "id", "output")
    assert np.array_equal(g.adjacency, np.eye(10, k=1, dtype=np.int8))
    assert SPACE.op_vocabulary == ("input", "output", *MACRO_OPS) and SPACE.max_nodes == 10


def test_representative_moves_identities_to_the_stage_end():
    assert representative((0, 2, 0, 1, 2, 1, 0, 0)) == (0, 2, 0, 1, 2, 1, 0, 0)
    assert representative((0, 2, 0, 0, 2, 1, 0, 2)) == (0, 2, 0, 2, 0, 1, 2, 0)
    assert representative((1, 0, 2, 0, 0, 0, 0, 1)) == (1, 0, 2, 0, 0, 0, 1, 0)


# --- network -------------------------------------------------------------------------------
def test_network_params_and_flops_equal_the_table(bench):
    """Every one of 24 random networks (plus the extremes) has exactly the table's params and FLOPs."""
    picks = SPACE.sample_many(24, np.random.default_rng(0)) + [(0,) * 8, (2,) * 8]
    for arch in picks:
        net = SPACE.to_module(arch)
        assert count_parameters(net) == bench.query(arch, "params"), SPACE.canonical(arch)
        assert count_flops(net) == bench.query(arch, "flops"), SPACE.canonical(arch)


def test_network_forward_and_stages():
    torch.manual_seed(0)
    net = SPACE.to_module((2, 0, 1, 0, 2, 1, 1, 0), num_classes=100).eval()
    with torch.no_grad():
        x = torch.randn(2, 3, 32, 32)
        out = net(x)
        stages = net.forward_stages(x)
    assert out.shape == (2, 100) and torch.isfinite(out).all()
    assert [tuple(s.shape[1:]) for s in stages] == [(32, 32, 32), (64, 16, 16), (128, 8, 8), (1280, 4, 4)]
    with pytest.raises(ConfigError):
        SPACE.to_module((0,) * 8, depth=3)
    with pytest.raises(ConfigError):
        SPACE.to_module((0,) * 8, num_classes=0)
    assert count_parameters(SPACE.to_module((0,) * 8, channels=8, last_channels=64)) < 20_000


# --- benchmark -----------------------------------------------------------------------------
def test_table_is_complete_and_matches_raw(bench, raw):
    assert len(bench) == len(raw) == SPACE.size() == 6561
    assert {SPACE.canonical(a) for a in bench.architectures()} == set(raw) == {SPACE.canonical(a) for a in SPACE.enumerate()}
    assert bench.metrics == METRICS
    rng = np.random.default_rng(1)
    keys = list(raw)
    for key in [keys[i] for i in rng.choice(len(keys), 40, replace=False)]:
        r = raw[key]
        assert [bench.query(key, f"test_acc_{i}") for i in range(3)] == r["test_acc"]
        assert bench.query(SPACE.parse(key), "mean_acc") == r["mean_acc"]
        for metric in ("std", "params", "flops"):
            assert bench.query(key, metric) == r[metric]
    assert np.allclose(bench.column("mean_acc"), np.mean([bench.column(f"test_acc_{i}") for i in range(3)], axis=0))


def test_best_mean_accuracy_is_93_13(bench):
    column = bench.column("mean_acc")
    assert round(float(column.max()), 2) == 93.13
    best = {SPACE.canonical(bench.architectures()[i]) for i in np.flatnonzero(column == column.max())}
    assert "22212220" in best and all(SPACE.canonical(representative(b)) == "22212220" for b in best)


def test_rows_are_shared_within_equivalence_classes(bench):
    rows = defaultdict(set)
    for arch in bench.architectures():
        rows[representative(arch)].add(tuple(bench.query(arch, m) for m in METRICS))
    assert len(rows) == 3969 and all(len(v) == 1 for v in rows.values())


def test_benchmark_errors(bench, tmp_path):
    with pytest.raises(BenchmarkError, match="did you mean 'mean_acc'"):
        bench.query((0,) * 8, "mean_ac")
    path = tmp_path / "nas_bench_macro_cifar10.json"
    path.write_text(json.dumps({"0000000": {"test_acc": [1, 2, 3], "mean_acc": 2, "std": 1, "params": 1, "flops": 1}}))
    with pytest.raises(BenchmarkError, match="is not a NAS-Bench-Macro record") as info:
        SPACE.load_benchmark(str(path))
    assert "\n" not in str(info.value)
    path.write_text("not json")
    with pytest.raises(BenchmarkError, match="cannot read"):
        SPACE.load_benchmark(str(path))
    assert SPACE.load_benchmark() is bench  # NASPLUG_BENCHMARKS names the same, cached file
